//! What is due: for each measure, every period that has ended by a given day since the
//! measure's baseline (or a configured start), and the measures x areas of an organisation
//! with no value for it yet, less the periods an ADMIN has locked.

use std::collections::{HashMap, HashSet};

use chrono::{Datelike, NaiveDate};
use entity::{commitment, geography, measure, observation, period_lock, return_};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::{
    auth::Principal,
    error::AppResult,
    values::{Period, PeriodType, ReturnStatus},
};

/// The latest period of `period_type` that has ended before `today`.
pub fn latest_ended(period_type: PeriodType, today: NaiveDate) -> Period {
    let (y, m) = (today.year(), today.month());
    let split = |start: i32| format!("{start}/{:02}", (start + 1).rem_euclid(100));
    let text = match period_type {
        PeriodType::CalendarYear => (y - 1).to_string(),
        // Financial years end on 31 March, academic years on 31 August.
        PeriodType::FinancialYear => split(if m >= 4 { y - 1 } else { y - 2 }),
        PeriodType::AcademicYear => split(if m >= 9 { y - 1 } else { y - 2 }),
        PeriodType::Quarter => {
            let q = (m - 1) / 3 + 1;
            if q == 1 { format!("{}-Q4", y - 1) } else { format!("{y}-Q{}", q - 1) }
        }
        PeriodType::Month => {
            if m == 1 {
                format!("{}-12", y - 1)
            } else {
                format!("{y}-{:02}", m - 1)
            }
        }
        PeriodType::RollingThreeYear => format!("{}-{:02}", y - 3, (y - 1).rem_euclid(100)),
    };
    Period::parse(&text).expect("BUG: a period built from its own grammar parses")
}

/// One value an organisation has yet to submit.
#[derive(Debug, Clone, PartialEq)]
pub struct Due {
    pub measure: measure::Model,
    pub geography: geography::Model,
    pub period: Period,
    /// The day by which it is expected, when a deadline is configured.
    pub deadline: Option<NaiveDate>,
}

/// Which periods are due, from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueRules {
    /// The first day of the periods due for a measure with no baseline (the London Vision
    /// was published in 2019).
    pub since: NaiveDate,
    /// Days after a period ends by which its values are expected; none: no deadline.
    pub deadline_days: Option<u32>,
}

impl Default for DueRules {
    fn default() -> Self {
        Self { since: NaiveDate::from_ymd_opt(2019, 1, 1).unwrap_or_default(), deadline_days: None }
    }
}

/// The most periods of one measure listed as due (ten years of months).
pub const MAX_PERIODS: usize = 120;

/// The ended periods of `period_type` that start on or after `since`, newest first: every
/// one from the latest that has ended by `today` back to `since`, at most `MAX_PERIODS`.
pub fn ended_since(period_type: PeriodType, since: NaiveDate, today: NaiveDate) -> Vec<Period> {
    let mut out = Vec::new();
    let mut p = Some(latest_ended(period_type, today));
    while let Some(period) = p {
        match period.bounds(period_type) {
            Some(b) if b.start >= since && out.len() < MAX_PERIODS => {
                p = period.previous(period_type);
                out.push(period);
            }
            _ => break,
        }
    }
    out
}

/// The first day a commitment's baseline period covers, read as whichever type it is of.
fn baseline_start(period: &str) -> Option<NaiveDate> {
    let p = Period::parse(period).ok()?;
    p.possible_types().into_iter().filter_map(|t| p.bounds(t)).map(|b| b.start).min()
}

/// The measures x areas in the actor's scope with no value submitted (or approved) for each
/// period that has ended by `today` since the measure's baseline (the earliest baseline of
/// the commitments tracked on it), or since `rules.since` without one; periods an ADMIN has
/// locked are not due. Optionally for one measure only.
pub async fn due<C: ConnectionTrait>(
    db: &C,
    actor: &Principal,
    today: NaiveDate,
    measure: Option<&str>,
    rules: DueRules,
) -> AppResult<Vec<Due>> {
    let mut measures = measure::Entity::find().order_by_asc(measure::Column::Position);
    if let Some(slug) = measure {
        measures = measures.filter(measure::Column::Slug.eq(slug));
    }
    let measures = measures.all(db).await?;
    let ids: Vec<i64> = measures.iter().map(|m| m.id).collect();
    let mut areas: Vec<geography::Model> = geography::Entity::find()
        .filter(geography::Column::Id.is_in(actor.scope.geographies.iter().copied()))
        .all(db)
        .await?;
    areas.sort_by(|a, b| a.code.cmp(&b.code));
    let mut starts: HashMap<i64, NaiveDate> = HashMap::new();
    for c in commitment::Entity::find().filter(commitment::Column::MeasureId.is_in(ids.clone())).all(db).await? {
        if let (Some(m), Some(start)) = (c.measure_id, c.baseline_period.as_deref().and_then(baseline_start)) {
            let e = starts.entry(m).or_insert(start);
            *e = (*e).min(start);
        }
    }
    let locked: HashSet<(i64, String)> = period_lock::Entity::find()
        .filter(period_lock::Column::MeasureId.is_in(ids.clone()))
        .all(db)
        .await?
        .into_iter()
        .map(|l| (l.measure_id, l.period))
        .collect();
    let mut expected: Vec<(measure::Model, Period, Option<NaiveDate>)> = Vec::new();
    for m in measures {
        let Ok(t) = PeriodType::parse(&m.period_type) else { continue };
        let since = starts.get(&m.id).copied().unwrap_or(rules.since);
        // Oldest first, as a team would catch up.
        for p in ended_since(t, since, today).into_iter().rev() {
            if locked.contains(&(m.id, p.to_string())) {
                continue;
            }
            let deadline = rules
                .deadline_days
                .and_then(|d| p.bounds(t).and_then(|b| b.end.checked_add_days(chrono::Days::new(u64::from(d)))));
            expected.push((m.clone(), p, deadline));
        }
    }
    let closed: HashSet<i64> = return_::Entity::find()
        .filter(return_::Column::Status.is_in([ReturnStatus::Rejected.as_str(), ReturnStatus::Withdrawn.as_str()]))
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect();
    let periods: HashSet<String> = expected.iter().map(|(_, p, _)| p.to_string()).collect();
    let have: HashSet<(i64, i64, String)> = observation::Entity::find()
        .filter(observation::Column::MeasureId.is_in(ids))
        .filter(observation::Column::Period.is_in(periods))
        .filter(observation::Column::GeographyId.is_in(actor.scope.geographies.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .filter(|o| !closed.contains(&o.return_id))
        .map(|o| (o.measure_id, o.geography_id, o.period))
        .collect();
    let mut out = Vec::new();
    for (m, period, deadline) in &expected {
        for area in &areas {
            if !have.contains(&(m.id, area.id, period.to_string())) {
                out.push(Due {
                    measure: m.clone(),
                    geography: area.clone(),
                    period: period.clone(),
                    deadline: *deadline,
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::latest_ended;
    use crate::values::PeriodType;

    fn on(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("BUG: test date")
    }

    #[test]
    fn the_latest_ended_period_of_each_type() {
        let today = on(2026, 11, 21);
        let latest = |t| latest_ended(t, today).to_string();
        assert_eq!(latest(PeriodType::CalendarYear), "2025");
        assert_eq!(latest(PeriodType::FinancialYear), "2025/26");
        assert_eq!(latest(PeriodType::AcademicYear), "2025/26");
        assert_eq!(latest(PeriodType::Quarter), "2026-Q3");
        assert_eq!(latest(PeriodType::Month), "2026-10");
        assert_eq!(latest(PeriodType::RollingThreeYear), "2023-25");
    }

    #[test]
    fn every_ended_period_since_the_start_is_listed_newest_first() {
        let since = on(2023, 1, 1);
        let today = on(2026, 5, 10);
        let years: Vec<String> =
            super::ended_since(PeriodType::CalendarYear, since, today).iter().map(ToString::to_string).collect();
        assert_eq!(years, ["2025", "2024", "2023"]);
        let fy: Vec<String> =
            super::ended_since(PeriodType::FinancialYear, since, today).iter().map(ToString::to_string).collect();
        // 2022/23 starts in April 2022, before the start: not due.
        assert_eq!(fy, ["2025/26", "2024/25", "2023/24"]);
        let months = super::ended_since(PeriodType::Month, on(2000, 1, 1), today);
        assert_eq!(months.len(), super::MAX_PERIODS, "bounded");
        assert_eq!(super::baseline_start("2018/19"), Some(on(2018, 4, 1)), "the earlier reading of a split year");
    }

    #[test]
    fn years_turn_over_at_their_own_end() {
        assert_eq!(latest_ended(PeriodType::FinancialYear, on(2026, 3, 31)).to_string(), "2024/25");
        assert_eq!(latest_ended(PeriodType::FinancialYear, on(2026, 4, 1)).to_string(), "2025/26");
        assert_eq!(latest_ended(PeriodType::AcademicYear, on(2026, 8, 31)).to_string(), "2024/25");
        assert_eq!(latest_ended(PeriodType::AcademicYear, on(2026, 9, 1)).to_string(), "2025/26");
        assert_eq!(latest_ended(PeriodType::Quarter, on(2026, 2, 1)).to_string(), "2025-Q4");
        assert_eq!(latest_ended(PeriodType::Month, on(2026, 1, 15)).to_string(), "2025-12");
        assert_eq!(latest_ended(PeriodType::FinancialYear, on(2000, 5, 1)).to_string(), "1999/00");
    }
}
