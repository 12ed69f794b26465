//! Observations: append-only revisions of a measure's value for an area and period. The
//! current value of an (area, period) is its highest revision the caller may see: approved
//! revisions for everyone, and those still in review for partners too. Rejected revisions
//! are never current.

use std::collections::HashMap;

use entity::{geography, observation, return_};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, ExprTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
    sea_query::{Expr, Query, SimpleExpr},
};

use super::{
    Visibility,
    page::{self, Page, PageArgs},
    rows_where_in,
};
use crate::{
    error::{AppError, AppResult},
    values::{GeographyLevel, ReturnStatus},
};

/// SQL: whether the return `r` (an alias of `returns`) carrying a value for area `area` (a
/// column) makes that value visible to the caller: approved, or in review in its areas.
fn shown(visibility: &Visibility, r: &str, area: &str) -> String {
    format!(
        "({r}.status = '{approved}' OR ({r}.status = '{submitted}' AND {area} IN ({areas})))",
        approved = ReturnStatus::Approved.as_str(),
        submitted = ReturnStatus::Submitted.as_str(),
        areas = visibility.review_area_list()
    )
}

/// Rows of `observations` the caller may see, and current for the caller: for a caller who
/// sees no work in review, the approved revision `current_values` names (kept at each
/// approval), found by that table's key; otherwise visible and not superseded.
fn visible_current(visibility: &Visibility) -> SimpleExpr {
    if visibility.sees_any_review() {
        return visible(visibility).and(current(visibility));
    }
    Expr::cust(
        "EXISTS (SELECT 1 FROM current_values cv WHERE cv.measure_id = observations.measure_id \
         AND cv.period = observations.period AND cv.geography_id = observations.geography_id \
         AND cv.observation_id = observations.id)",
    )
}

/// Rows of `observations` the caller may see.
fn visible(visibility: &Visibility) -> SimpleExpr {
    // Built only from this module's constants and ids from the database, never caller input.
    Expr::cust(format!(
        "EXISTS (SELECT 1 FROM returns r1 WHERE r1.id = observations.return_id AND {})",
        shown(visibility, "r1", "observations.geography_id")
    ))
}

/// Rows that no revision the caller may see supersedes.
fn current(visibility: &Visibility) -> SimpleExpr {
    Expr::cust(format!(
        "NOT EXISTS (SELECT 1 FROM observations o2 JOIN returns r2 ON r2.id = o2.return_id \
         WHERE o2.measure_id = observations.measure_id AND o2.geography_id = observations.geography_id \
         AND o2.period = observations.period AND o2.revision > observations.revision AND {})",
        shown(visibility, "r2", "o2.geography_id")
    ))
}

/// Every current value of one measure the caller may see, optionally of one area and
/// between two period ends (inclusive), oldest period first and by area within a period.
pub async fn current_between<C: ConnectionTrait>(
    db: &C,
    measure_id: i64,
    geography_id: Option<i64>,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
    visibility: &Visibility,
) -> AppResult<Vec<observation::Model>> {
    let mut select = observation::Entity::find()
        .filter(observation::Column::MeasureId.eq(measure_id))
        .filter(visible_current(visibility));
    if let Some(id) = geography_id {
        select = select.filter(observation::Column::GeographyId.eq(id));
    }
    if let Some(from) = from {
        select = select.filter(observation::Column::PeriodEnd.gte(from));
    }
    if let Some(to) = to {
        select = select.filter(observation::Column::PeriodEnd.lte(to));
    }
    Ok(select
        .order_by_asc(observation::Column::PeriodEnd)
        .order_by_asc(observation::Column::GeographyId)
        .all(db)
        .await?)
}

/// The pages of current values of many measures at once, each with the same filters and
/// page arguments, in a fixed number of statements whatever the number of measures (see
/// `page::fetch_many`). What `Measure.observations` reads, batched across a list's measures.
/// What a page of current values is limited to: one area, one period, areas of one level.
#[derive(Debug, Clone, Copy, Default)]
pub struct Only<'a> {
    pub geography_id: Option<i64>,
    pub period: Option<&'a str>,
    pub level: Option<GeographyLevel>,
}

pub async fn current_pages<C: ConnectionTrait>(
    db: &C,
    measure_ids: &[i64],
    only: Only<'_>,
    visibility: &Visibility,
    args: PageArgs,
) -> AppResult<HashMap<i64, Page<observation::Model>>> {
    if !visibility.sees_any_review() && db.get_database_backend() == DbBackend::Postgres {
        return public_pages(db, measure_ids, only, args).await;
    }
    let mut select = observation::Entity::find().filter(visible_current(visibility));
    if let Some(id) = only.geography_id {
        select = select.filter(observation::Column::GeographyId.eq(id));
    }
    if let Some(p) = only.period {
        select = select.filter(observation::Column::Period.eq(p));
    }
    if let Some(level) = only.level {
        let of_level = Query::select()
            .column(geography::Column::Id)
            .from(geography::Entity)
            .and_where(geography::Column::Level.eq(level.as_str()))
            .to_owned();
        select = select.filter(observation::Column::GeographyId.in_subquery(of_level));
    }
    page::fetch_many(
        db,
        select,
        page::Parents {
            column: observation::Column::MeasureId,
            ids: measure_ids,
            of: |o: &observation::Model| o.measure_id,
        },
        observation::Column::Id,
        |o| o.id,
        args,
    )
    .await
}

/// The columns of `observations` (as `o`) in the order `by_position` reads them.
const BY_POSITION: &str = "o.id, o.measure_id, o.geography_id, o.period, o.period_start, o.period_end, o.revision, \
     o.value, o.numerator, o.denominator, o.lower_ci, o.upper_ci, o.note, o.return_id, o.submitted_at, \
     o.submitted_by, o.source_row, o.replaced_value";

/// A value read from a row of `BY_POSITION`'s columns, by position: the pages a list of
/// measures reads hold a few thousand rows, and reading each column by its name costs a
/// look-up and an allocation of the name.
fn by_position(row: &sea_orm::QueryResult) -> Result<observation::Model, sea_orm::DbErr> {
    Ok(observation::Model {
        id: row.try_get_by_index(0)?,
        measure_id: row.try_get_by_index(1)?,
        geography_id: row.try_get_by_index(2)?,
        period: row.try_get_by_index(3)?,
        period_start: row.try_get_by_index(4)?,
        period_end: row.try_get_by_index(5)?,
        revision: row.try_get_by_index(6)?,
        value: row.try_get_by_index(7)?,
        numerator: row.try_get_by_index(8)?,
        denominator: row.try_get_by_index(9)?,
        lower_ci: row.try_get_by_index(10)?,
        upper_ci: row.try_get_by_index(11)?,
        note: row.try_get_by_index(12)?,
        return_id: row.try_get_by_index(13)?,
        submitted_at: row.try_get_by_index(14)?,
        submitted_by: row.try_get_by_index(15)?,
        source_row: row.try_get_by_index(16)?,
        replaced_value: row.try_get_by_index(17)?,
    })
}

/// `current_pages` for a caller who sees no work in review, on PostgreSQL: each measure's
/// page is read from `current_values` by its index on (measure, observation id), in a lateral
/// subquery over the measures, then joined to the values themselves; a page reads only its
/// own rows, however many the measure has.
async fn public_pages<C: ConnectionTrait>(
    db: &C,
    measure_ids: &[i64],
    only: Only<'_>,
    args: PageArgs,
) -> AppResult<HashMap<i64, Page<observation::Model>>> {
    let (size, direction) = args.window()?;
    let mut values: Vec<sea_orm::Value> = Vec::new();
    let mut slot = |v: sea_orm::Value| {
        values.push(v);
        format!("${}", values.len())
    };
    let mut filters = Vec::new();
    if let Some(id) = only.geography_id {
        filters.push(format!(" AND cv.geography_id = {}", slot(id.into())));
    }
    if let Some(p) = only.period {
        filters.push(format!(" AND cv.period = {}", slot(p.to_owned().into())));
    }
    if let Some(level) = only.level {
        filters.push(format!(
            " AND cv.geography_id IN (SELECT id FROM geographies WHERE level = {})",
            slot(level.as_str().to_owned().into())
        ));
    }
    let shared = filters.concat();
    // The count reads the shared filters only; the page reads the cursors' bounds too.
    let count_values = values.clone();
    let mut bounds = String::new();
    for (bound, op) in [(args.after, ">"), (args.before, "<")] {
        if let Some(id) = bound {
            values.push(id.into());
            bounds.push_str(&format!(" AND cv.observation_id {op} ${}", values.len()));
        }
    }
    // The measures' ids are numbers from this database, written in as such.
    let ids = measure_ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let mut totals: HashMap<i64, u64> = HashMap::new();
    if !args.skip_count && !measure_ids.is_empty() {
        let sql = format!(
            "SELECT cv.measure_id, COUNT(*) FROM current_values cv WHERE cv.measure_id = ANY(ARRAY[{ids}]::bigint[]){shared} \
             GROUP BY cv.measure_id"
        );
        let rows = db.query_all_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, count_values)).await?;
        for row in rows {
            let (m, n): (i64, i64) = (row.try_get_by_index(0)?, row.try_get_by_index(1)?);
            totals.insert(m, u64::try_from(n).unwrap_or_default());
        }
    }
    let mut rows_of: HashMap<i64, Vec<observation::Model>> = HashMap::new();
    if size > 0 && !measure_ids.is_empty() {
        let order = match direction {
            page::Direction::Forward => "ASC",
            page::Direction::Backward => "DESC",
        };
        let sql = format!(
            "SELECT {BY_POSITION} FROM UNNEST(ARRAY[{ids}]::bigint[]) AS parent(id) CROSS JOIN LATERAL (\
               SELECT cv.observation_id FROM current_values cv WHERE cv.measure_id = parent.id{shared}{bounds} \
               ORDER BY cv.observation_id {order} LIMIT {}) AS page \
             JOIN observations o ON o.id = page.observation_id",
            size.saturating_add(1)
        );
        let statement = Statement::from_sql_and_values(DbBackend::Postgres, sql, values);
        for row in db.query_all_raw(statement).await? {
            let row = by_position(&row)?;
            rows_of.entry(row.measure_id).or_default().push(row);
        }
    }
    Ok(measure_ids
        .iter()
        .map(|&m| {
            let mut rows = rows_of.remove(&m).unwrap_or_default();
            match direction {
                page::Direction::Forward => rows.sort_by_key(|o| o.id),
                page::Direction::Backward => rows.sort_by_key(|o| std::cmp::Reverse(o.id)),
            }
            let total = totals.get(&m).copied().unwrap_or_default();
            (m, page::assemble(rows, |o| o.id, args, size, direction, total))
        })
        .collect())
}

pub async fn by_ids<C: ConnectionTrait>(
    db: &C,
    ids: &[i64],
    visibility: &Visibility,
) -> AppResult<Vec<observation::Model>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(observation::Entity::find()
        .filter(observation::Column::Id.is_in(ids.iter().copied()))
        .filter(visible(visibility))
        .all(db)
        .await?)
}

/// The values a return carried that the caller may see, optionally only those of one
/// measure and one area, in the order they were written, at most `limit` after the value
/// `after` (by id).
pub async fn of_return<C: ConnectionTrait>(
    db: &C,
    return_id: i64,
    only: (Option<i64>, Option<i64>),
    visibility: &Visibility,
    after: i64,
    limit: u64,
) -> AppResult<Vec<observation::Model>> {
    let mut select = observation::Entity::find()
        .filter(observation::Column::ReturnId.eq(return_id))
        .filter(observation::Column::Id.gt(after))
        .filter(visible(visibility));
    if let Some(m) = only.0 {
        select = select.filter(observation::Column::MeasureId.eq(m));
    }
    if let Some(g) = only.1 {
        select = select.filter(observation::Column::GeographyId.eq(g));
    }
    Ok(select.order_by_asc(observation::Column::Id).limit(limit).all(db).await?)
}

/// The periods of one measure that a return carried values of, in order.
pub async fn periods_of_return<C: ConnectionTrait>(
    db: &C,
    return_id: i64,
    measure_id: i64,
) -> AppResult<Vec<crate::values::Period>> {
    let periods: Vec<String> = observation::Entity::find()
        .select_only()
        .column(observation::Column::Period)
        .distinct()
        .filter(observation::Column::ReturnId.eq(return_id))
        .filter(observation::Column::MeasureId.eq(measure_id))
        .order_by_asc(observation::Column::Period)
        .into_tuple()
        .all(db)
        .await?;
    periods
        .iter()
        .map(|p| crate::values::Period::parse(p).map_err(|e| crate::error::AppError::Internal(e.to_string())))
        .collect()
}

/// Every visible revision of each (measure, area, period), oldest first.
pub async fn history<C: ConnectionTrait>(
    db: &C,
    keys: &[(i64, i64, String)],
    visibility: &Visibility,
) -> AppResult<HashMap<(i64, i64, String), Vec<observation::Model>>> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = observation::Entity::find()
        .filter(observation::Column::MeasureId.is_in(keys.iter().map(|k| k.0)))
        .filter(observation::Column::GeographyId.is_in(keys.iter().map(|k| k.1)))
        .filter(observation::Column::Period.is_in(keys.iter().map(|k| k.2.clone())))
        .filter(visible(visibility))
        .order_by_asc(observation::Column::Revision)
        .all(db)
        .await?;
    let mut out: HashMap<(i64, i64, String), Vec<observation::Model>> = HashMap::new();
    for row in rows {
        let key = (row.measure_id, row.geography_id, row.period.clone());
        if keys.contains(&key) {
            out.entry(key).or_default().push(row);
        }
    }
    Ok(out)
}

/// The review status of each return.
pub async fn return_statuses<C: ConnectionTrait>(db: &C, ids: &[i64]) -> AppResult<HashMap<i64, ReturnStatus>> {
    let rows = rows_where_in::<return_::Entity, _>(db, return_::Column::Id, ids).await?;
    rows.into_iter()
        .map(|r| {
            let status = ReturnStatus::parse(&r.status)
                .map_err(|e| AppError::Internal(format!("return {} has a bad status: {e}", r.id)))?;
            Ok((r.id, status))
        })
        .collect()
}
