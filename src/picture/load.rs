//! Loading what the picture of one measure and period needs, in a fixed number of
//! statements whatever the number of areas or revisions: the areas (one), the measure's
//! series breaks (one), the latest period with approved data when none is asked for (one),
//! and the approved values of the five periods a trend needs (one). The current value of an
//! (area, period) is its highest approved revision; as of a moment, its highest revision
//! approved by then, so a figure published then is reproduced exactly.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{current_value, geography, measure, observation, return_, series_break};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
    sea_query::Query,
};

use super::build::{self, Area, AreaFigure, Figure, MeasureRules, Periods, Tree};
use crate::{
    catalogue::Visibility,
    error::{AppError, AppResult},
    values::{AggregationMethod, GeographyLevel, Period, PeriodType, Polarity, ReturnStatus, Unit, ValueType},
};

/// The rules of a stored measure.
pub fn rules(m: &measure::Model) -> AppResult<MeasureRules> {
    let bad = |e: crate::values::ParseError| AppError::Internal(format!("measure {} is malformed: {e}", m.slug));
    let unit = Unit::parse(&m.unit).map_err(bad)?;
    Ok(MeasureRules {
        value_type: ValueType::parse(&m.value_type).map_err(bad)?,
        polarity: Polarity::parse(&m.polarity).map_err(bad)?,
        multiplier: unit.multiplier(),
        suppress_up_to: m.suppress_up_to.map(f64::from),
    })
}

/// The picture of one measure and period, as a viewer sees it.
#[derive(Debug, Clone)]
pub struct Picture {
    pub measure: measure::Model,
    pub rules: MeasureRules,
    /// The period shown; none when the measure has no approved value (as of the moment).
    pub period: Option<String>,
    pub as_of: Option<DateTime<Utc>>,
    pub areas: Vec<AreaFigure>,
    pub geographies: HashMap<i64, geography::Model>,
    /// The break the period's series starts at, if any.
    pub series_break: Option<series_break::Model>,
}

impl Picture {
    pub fn aggregation(&self) -> AggregationMethod {
        self.rules.aggregation()
    }

    pub fn of_level(&self, level: GeographyLevel) -> impl Iterator<Item = &AreaFigure> {
        self.areas.iter().filter(move |a| a.level == level)
    }

    pub fn area(&self, geography_id: i64) -> Option<&AreaFigure> {
        self.areas.iter().find(|a| a.geography_id == geography_id)
    }
}

/// London, the ICSs, the boroughs and the neighbourhoods imported under them.
pub async fn tree<C: ConnectionTrait>(db: &C) -> AppResult<(Tree, HashMap<i64, geography::Model>)> {
    let levels = [GeographyLevel::Region, GeographyLevel::Ics, GeographyLevel::Borough, GeographyLevel::Neighbourhood]
        .map(|l| l.as_str());
    let rows = geography::Entity::find()
        .filter(geography::Column::Level.is_in(levels))
        .order_by_asc(geography::Column::Code)
        .all(db)
        .await?;
    let mut areas = Vec::with_capacity(rows.len());
    for g in &rows {
        let level = GeographyLevel::parse(&g.level).map_err(|e| AppError::Internal(e.to_string()))?;
        areas.push(Area { id: g.id, level, parent: g.parent_id });
    }
    // London first, then the ICSs, the boroughs and the neighbourhoods, each by code.
    areas.sort_by_key(|a| match a.level {
        GeographyLevel::Region => 0,
        GeographyLevel::Ics => 1,
        GeographyLevel::Borough => 2,
        GeographyLevel::Neighbourhood => 3,
    });
    Ok((Tree { areas }, rows.into_iter().map(|g| (g.id, g)).collect()))
}

/// The approved returns (by a moment, when one is given), as a subquery.
fn approved(as_of: Option<DateTime<Utc>>) -> sea_orm::sea_query::SelectStatement {
    let mut q = Query::select();
    q.column(return_::Column::Id)
        .from(return_::Entity)
        .and_where(return_::Column::Status.eq(ReturnStatus::Approved.as_str()));
    if let Some(t) = as_of {
        q.and_where(return_::Column::ReviewedAt.lte(t));
    }
    q.to_owned()
}

/// The latest period of a measure with an approved value.
pub async fn latest_period<C: ConnectionTrait>(
    db: &C,
    measure_id: i64,
    as_of: Option<DateTime<Utc>>,
) -> AppResult<Option<String>> {
    if as_of.is_none() {
        return Ok(current_value::Entity::find()
            .select_only()
            .column(current_value::Column::Period)
            .filter(current_value::Column::MeasureId.eq(measure_id))
            .order_by_desc(current_value::Column::PeriodEnd)
            .limit(1)
            .into_tuple::<String>()
            .one(db)
            .await?);
    }
    Ok(observation::Entity::find()
        .select_only()
        .column(observation::Column::Period)
        .filter(observation::Column::MeasureId.eq(measure_id))
        .filter(observation::Column::ReturnId.in_subquery(approved(as_of)))
        .order_by_desc(observation::Column::PeriodEnd)
        .limit(1)
        .into_tuple::<String>()
        .one(db)
        .await?)
}

/// The current approved figures of a measure in some periods: (period, area) → figure: from
/// `current_values` (kept at each approval) for now, and as of a moment from the revisions,
/// the database keeping the highest approved by then of each (area, period) (a window
/// function, on both databases). Only the columns the picture reads are sent.
pub async fn figures<C: ConnectionTrait>(
    db: &C,
    measure_id: i64,
    periods: &[String],
    as_of: Option<DateTime<Utc>>,
) -> AppResult<HashMap<(String, i64), Figure>> {
    if periods.is_empty() {
        return Ok(HashMap::new());
    }
    let backend = db.get_database_backend();
    let mut values: Vec<sea_orm::Value> = Vec::with_capacity(periods.len() + 2);
    let mut slot = |v: sea_orm::Value| {
        values.push(v);
        match backend {
            DbBackend::Postgres => format!("${}", values.len()),
            _ => "?".to_owned(),
        }
    };
    let measure = slot(measure_id.into());
    let list: Vec<String> = periods.iter().map(|p| slot(p.clone().into())).collect();
    let approved_by = match as_of {
        Some(t) => format!(" AND r.reviewed_at <= {}", slot(t.into())),
        None => String::new(),
    };
    let sql = if as_of.is_none() {
        format!(
            "SELECT period, geography_id, value, numerator, denominator, lower_ci, upper_ci FROM current_values \
             WHERE measure_id = {measure} AND period IN ({})",
            list.join(", ")
        )
    } else {
        format!(
            "SELECT period, geography_id, value, numerator, denominator, lower_ci, upper_ci FROM (\
           SELECT o.period, o.geography_id, o.value, o.numerator, o.denominator, o.lower_ci, o.upper_ci, \
             ROW_NUMBER() OVER (PARTITION BY o.geography_id, o.period ORDER BY o.revision DESC) AS newest \
           FROM observations o JOIN returns r ON r.id = o.return_id \
           WHERE o.measure_id = {measure} AND o.period IN ({}) AND r.status = '{}'{approved_by}\
         ) current WHERE newest = 1",
            list.join(", "),
            ReturnStatus::Approved.as_str(),
        )
    };
    let rows = db.query_all_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
    let mut out = HashMap::with_capacity(rows.len());
    for row in rows {
        let period: String = row.try_get_by_index(0)?;
        let area: i64 = row.try_get_by_index(1)?;
        let value: f64 = row.try_get_by_index(2)?;
        let numerator: Option<f64> = row.try_get_by_index(3)?;
        let denominator: Option<f64> = row.try_get_by_index(4)?;
        let lower: Option<f64> = row.try_get_by_index(5)?;
        let upper: Option<f64> = row.try_get_by_index(6)?;
        out.insert((period, area), Figure { value, numerator, denominator, interval: lower.zip(upper) });
    }
    Ok(out)
}

/// The picture of `measure` in `period` (the latest with approved data when none), as it
/// stood at `as_of` (now when none), for a viewer who sees its own areas' small numbers.
pub async fn picture<C: ConnectionTrait>(
    db: &C,
    measure: measure::Model,
    period: Option<Period>,
    as_of: Option<DateTime<Utc>>,
    visibility: &Visibility,
) -> AppResult<Picture> {
    let rules = rules(&measure)?;
    let period_type = PeriodType::parse(&measure.period_type).map_err(|e| AppError::Internal(e.to_string()))?;
    let (tree, geographies) = tree(db).await?;
    let breaks = series_break::Entity::find()
        .filter(series_break::Column::MeasureId.eq(measure.id))
        .order_by_asc(series_break::Column::PeriodStart)
        .all(db)
        .await?;
    let period = match period {
        Some(p) => Some(p),
        None => match latest_period(db, measure.id, as_of).await? {
            Some(text) => Some(Period::parse(&text).map_err(|e| AppError::Internal(e.to_string()))?),
            None => None,
        },
    };
    let Some(period) = period else {
        return Ok(Picture { measure, rules, period: None, as_of, areas: Vec::new(), geographies, series_break: None });
    };
    let start = |p: &Period| p.bounds(period_type).map(|b| b.start);
    let series_break = breaks.iter().rev().find(|b| Some(b.period_start) <= start(&period)).cloned();
    // The five consecutive periods ending at this one, none before the series' break.
    let mut wanted = vec![period.clone()];
    let mut cut_short = None;
    while wanted.len() < super::trend::POINTS {
        let Some(before) = wanted.last().and_then(|p| p.previous(period_type)) else { break };
        if let Some(b) = &series_break
            && start(&before) < Some(b.period_start)
        {
            cut_short = Some(format!("the series breaks at {} ({})", b.period, b.note));
            break;
        }
        wanted.push(before);
    }
    wanted.reverse();
    let texts: Vec<String> = wanted.iter().map(|p| p.as_str().to_owned()).collect();
    let mut found = figures(db, measure.id, &texts, as_of).await?;
    let series = texts
        .iter()
        .map(|p| {
            let figures: HashMap<i64, Figure> =
                tree.areas.iter().filter_map(|a| Some((a.id, found.remove(&(p.clone(), a.id))?))).collect();
            (p.clone(), figures)
        })
        .collect();
    let periods = Periods { series, cut_short: cut_short.as_deref() };
    let own = |id: i64| visibility.sees_review_in(id);
    let areas = build::build(&rules, &tree, &periods, &own);
    Ok(Picture { measure, rules, period: Some(period.as_str().to_owned()), as_of, areas, geographies, series_break })
}

/// London's figure for one period of a measure, from the picture.
#[derive(Debug, Clone, PartialEq)]
pub struct LondonValue {
    pub period: String,
    pub period_end: chrono::NaiveDate,
    pub value: f64,
    pub source: crate::values::ValueSource,
}

/// London's figures of each measure in every period with approved values, oldest first, as
/// the picture gives them (submitted for London, or added up from the boroughs): what
/// commitments are judged on. A period whose London figure the picture hides from the viewer
/// (small numbers) is left out, so that neither the figure nor a judgement made on it gives
/// it away. Three statements for any number of measures.
pub async fn london_series<C: ConnectionTrait>(
    db: &C,
    measure_ids: &[i64],
    visibility: &Visibility,
) -> AppResult<HashMap<i64, Vec<LondonValue>>> {
    if measure_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let measures =
        measure::Entity::find().filter(measure::Column::Id.is_in(measure_ids.iter().copied())).all(db).await?;
    let (tree, _) = tree(db).await?;
    let Some(london) = tree.london() else { return Ok(HashMap::new()) };
    // London, the ICSs and the boroughs: what London's figure is made of, and what the
    // disclosure rule weighs to decide whether it may be shown, as in the picture.
    let counted: Vec<i64> =
        tree.areas.iter().filter(|a| a.level != GeographyLevel::Neighbourhood).map(|a| a.id).collect();
    let own = |id: i64| visibility.sees_review_in(id);
    let rows = current_value::Entity::find()
        .filter(current_value::Column::MeasureId.is_in(measure_ids.iter().copied()))
        .filter(current_value::Column::GeographyId.is_in(counted))
        .all(db)
        .await?;
    let mut by_period: HashMap<(i64, String), (chrono::NaiveDate, HashMap<i64, Figure>)> = HashMap::new();
    for o in rows {
        let area = o.geography_id;
        let entry = by_period.entry((o.measure_id, o.period.clone())).or_insert_with(|| (o.period_end, HashMap::new()));
        let interval = o.lower_ci.zip(o.upper_ci);
        entry.1.insert(area, Figure { value: o.value, numerator: o.numerator, denominator: o.denominator, interval });
    }
    let mut out: HashMap<i64, Vec<LondonValue>> = HashMap::new();
    for m in &measures {
        let rules = rules(m)?;
        let mut series: Vec<LondonValue> = by_period
            .iter()
            .filter(|((id, _), _)| *id == m.id)
            .filter_map(|((_, period), (end, figures))| {
                let computed = build::compute(&rules, &tree, figures);
                if build::hidden(&rules, &tree, &computed, &own).contains(&london) {
                    return None;
                }
                let c = computed.get(&london)?;
                Some(LondonValue { period: period.clone(), period_end: *end, value: c.value?, source: c.source? })
            })
            .collect();
        series.sort_by_key(|v| v.period_end);
        out.insert(m.id, series);
    }
    Ok(out)
}

/// The areas whose figure of a measure in a period the viewer may not see (see
/// `suppress`), from the current approved values: what `Observation` hides as the picture does.
/// For a viewer with no areas of its own, one statement reading the kept flags (see
/// `public_hidden`); otherwise, or for pairs not yet worked out, two (the areas, and the
/// current values of every measure and period asked about) whatever the number of measures.
/// None when no measure asked about has a disclosure rule.
pub async fn hidden_in<C: ConnectionTrait>(
    db: &C,
    wanted: &[(&measure::Model, Vec<String>)],
    visibility: &Visibility,
) -> AppResult<HashMap<(i64, String), std::collections::BTreeSet<i64>>> {
    let mut ruled = Vec::with_capacity(wanted.len());
    for (m, periods) in wanted {
        let rules = rules(m)?;
        if rules.suppress_up_to.is_some() && !periods.is_empty() {
            ruled.push((m.id, rules, periods.clone()));
        }
    }
    if ruled.is_empty() {
        return Ok(HashMap::new());
    }
    if visibility.sees_any_review() {
        return worked_out(db, ruled, visibility).await;
    }
    let pairs: std::collections::BTreeSet<(i64, String)> =
        ruled.iter().flat_map(|(id, _, periods)| periods.iter().map(|p| (*id, p.clone()))).collect();
    let (mut out, unknown) = super::public_hidden::read(db, &pairs).await?;
    if !unknown.is_empty() {
        let rest: Vec<_> = ruled
            .into_iter()
            .filter_map(|(id, rules, periods)| {
                let periods: Vec<String> = periods.into_iter().filter(|p| unknown.contains(&(id, p.clone()))).collect();
                (!periods.is_empty()).then_some((id, rules, periods))
            })
            .collect();
        out.extend(worked_out(db, rest, visibility).await?);
    }
    Ok(out)
}

/// `hidden_in` worked out from the current values.
async fn worked_out<C: ConnectionTrait>(
    db: &C,
    ruled: Vec<(i64, MeasureRules, Vec<String>)>,
    visibility: &Visibility,
) -> AppResult<HashMap<(i64, String), std::collections::BTreeSet<i64>>> {
    let (tree, _) = tree(db).await?;
    let mut ids: Vec<i64> = ruled.iter().map(|(id, _, _)| *id).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut periods: Vec<&String> = ruled.iter().flat_map(|(_, _, p)| p.iter()).collect();
    periods.sort_unstable();
    periods.dedup();
    let rows = current_value::Entity::find()
        .filter(current_value::Column::MeasureId.is_in(ids))
        .filter(current_value::Column::Period.is_in(periods.into_iter().cloned()))
        .all(db)
        .await?;
    let mut found: HashMap<(i64, String), HashMap<i64, Figure>> = HashMap::new();
    for o in rows {
        let interval = o.lower_ci.zip(o.upper_ci);
        let figure = Figure { value: o.value, numerator: o.numerator, denominator: o.denominator, interval };
        found.entry((o.measure_id, o.period)).or_default().insert(o.geography_id, figure);
    }
    let own = |id: i64| visibility.sees_review_in(id);
    let mut out = HashMap::new();
    for (id, rules, periods) in ruled {
        for p in periods {
            let key = (id, p);
            let figures = found.get(&key).cloned().unwrap_or_default();
            let computed = build::compute(&rules, &tree, &figures);
            out.insert(key, build::hidden(&rules, &tree, &computed, &own));
        }
    }
    Ok(out)
}

/// Keeps `current_values` as a return is approved: each of its values becomes the current one
/// of its (measure, period, area) unless a higher revision is already approved there. Rows
/// are taken in key order, so that two approvals at once lock in the same order. The
/// public's hidden flags of the measures with a disclosure rule are worked out again (see
/// `public_hidden`), under those measures' locks, taken first.
pub async fn approve_into_current<C: ConnectionTrait>(
    db: &C,
    return_id: i64,
    approved_at: DateTime<Utc>,
) -> AppResult<()> {
    let ruled = super::public_hidden::ruled_in_return(db, return_id).await?;
    super::public_hidden::hold(db, &ruled).await?;
    let backend = db.get_database_backend();
    let (id, at) = match backend {
        DbBackend::Postgres => ("$1", "$2"),
        _ => ("?", "?"),
    };
    // `WHERE true` keeps SQLite from reading ON CONFLICT as part of the SELECT.
    // A value of a measure with a rule comes in unknown (NULL), to be worked out below.
    let sql = format!(
        "INSERT INTO current_values (measure_id, period, geography_id, period_end, revision, observation_id, \
           value, numerator, denominator, lower_ci, upper_ci, approved_at, public_hidden) \
         SELECT o.measure_id, o.period, o.geography_id, o.period_end, o.revision, o.id, o.value, o.numerator, \
           o.denominator, o.lower_ci, o.upper_ci, {at}, CASE WHEN m.suppress_up_to IS NULL THEN false END \
           FROM observations o JOIN measures m ON m.id = o.measure_id WHERE o.return_id = {id} AND true \
           ORDER BY o.measure_id, o.period, o.geography_id \
         ON CONFLICT (measure_id, period, geography_id) DO UPDATE SET period_end = excluded.period_end, \
           revision = excluded.revision, observation_id = excluded.observation_id, value = excluded.value, \
           numerator = excluded.numerator, denominator = excluded.denominator, lower_ci = excluded.lower_ci, \
           upper_ci = excluded.upper_ci, approved_at = excluded.approved_at, public_hidden = excluded.public_hidden \
         WHERE excluded.revision > current_values.revision"
    );
    let values: Vec<sea_orm::Value> = match backend {
        DbBackend::Postgres => vec![return_id.into(), approved_at.into()],
        // SQLite numbers its `?` in the order they appear: the time comes first.
        _ => vec![approved_at.into(), return_id.into()],
    };
    db.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
    super::public_hidden::fill(db, Some(&ruled)).await
}

/// Rebuilds `current_values` from the approvals (for data written around the API, such as
/// a benchmark's): the highest approved revision of each (measure, period, area).
pub async fn rebuild_current_values<C: ConnectionTrait>(db: &C) -> AppResult<()> {
    db.execute_unprepared("DELETE FROM current_values").await?;
    db.execute_unprepared(
        "INSERT INTO current_values (measure_id, period, geography_id, period_end, revision, observation_id, \
           value, numerator, denominator, lower_ci, upper_ci, approved_at, public_hidden) \
         SELECT measure_id, period, geography_id, period_end, revision, id, value, numerator, denominator, \
           lower_ci, upper_ci, reviewed_at, \
           CASE WHEN (SELECT suppress_up_to FROM measures m WHERE m.id = approved.measure_id) IS NULL THEN false END \
           FROM ( \
           SELECT o.measure_id, o.period, o.geography_id, o.period_end, o.revision, o.id, o.value, o.numerator, \
             o.denominator, o.lower_ci, o.upper_ci, COALESCE(r.reviewed_at, r.submitted_at) AS reviewed_at, \
             ROW_NUMBER() OVER (PARTITION BY o.measure_id, o.period, o.geography_id ORDER BY o.revision DESC) AS newest \
           FROM observations o JOIN returns r ON r.id = o.return_id \
           WHERE r.status = 'APPROVED') approved WHERE newest = 1",
    )
    .await?;
    super::public_hidden::fill(db, None).await?;
    // Values changed around their returns: answers kept for anonymous callers are stale.
    crate::http::response_cache::bump(db).await?;
    Ok(())
}
