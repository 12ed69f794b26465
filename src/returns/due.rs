//! What is due: for each measure, the latest period that has ended by a given day, and the
//! measures x areas of an organisation with no value for it yet.

use std::collections::HashSet;

use chrono::{Datelike, NaiveDate};
use entity::{geography, measure, observation, return_};
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
}

/// The measures x areas in the actor's scope with no value submitted (or approved) for the
/// latest period that has ended by `today`; optionally for one measure only.
pub async fn due<C: ConnectionTrait>(
    db: &C,
    actor: &Principal,
    today: NaiveDate,
    measure: Option<&str>,
) -> AppResult<Vec<Due>> {
    let mut measures = measure::Entity::find().order_by_asc(measure::Column::Position);
    if let Some(slug) = measure {
        measures = measures.filter(measure::Column::Slug.eq(slug));
    }
    let measures = measures.all(db).await?;
    let mut areas: Vec<geography::Model> = geography::Entity::find()
        .filter(geography::Column::Id.is_in(actor.scope.geographies.iter().copied()))
        .all(db)
        .await?;
    areas.sort_by(|a, b| a.code.cmp(&b.code));
    let expected: Vec<(measure::Model, Period)> = measures
        .into_iter()
        .filter_map(|m| PeriodType::parse(&m.period_type).ok().map(|t| (latest_ended(t, today), m)))
        .map(|(p, m)| (m, p))
        .collect();
    let rejected: HashSet<i64> = return_::Entity::find()
        .filter(return_::Column::Status.is_in([ReturnStatus::Rejected.as_str(), ReturnStatus::Withdrawn.as_str()]))
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect();
    let periods: HashSet<String> = expected.iter().map(|(_, p)| p.to_string()).collect();
    let have: HashSet<(i64, i64, String)> = observation::Entity::find()
        .filter(observation::Column::Period.is_in(periods))
        .filter(observation::Column::GeographyId.is_in(actor.scope.geographies.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .filter(|o| !rejected.contains(&o.return_id))
        .map(|o| (o.measure_id, o.geography_id, o.period))
        .collect();
    let mut out = Vec::new();
    for (m, period) in &expected {
        for area in &areas {
            if !have.contains(&(m.id, area.id, period.to_string())) {
                out.push(Due { measure: m.clone(), geography: area.clone(), period: period.clone() });
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
