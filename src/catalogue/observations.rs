//! Observations: append-only revisions of a measure's value for an area and period. The
//! current value of an (area, period) is its highest revision the caller may see: approved
//! revisions for everyone, and those still in review for partners too. Rejected revisions
//! are never current.

use std::collections::HashMap;

use entity::{observation, return_};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    sea_query::{Expr, Query},
};

use super::{
    Visibility, geographies,
    page::{self, Page, PageArgs},
    rows_where_in,
};
use crate::{
    error::{AppError, AppResult},
    values::{Period, ReturnStatus},
};

impl Visibility {
    /// The return statuses whose values this caller may see.
    pub fn statuses(self) -> &'static [&'static str] {
        if self.partner { &["APPROVED", "SUBMITTED"] } else { &["APPROVED"] }
    }
}

/// Rows of `observations` carried by a return the caller may see.
fn visible(visibility: Visibility) -> sea_orm::sea_query::SimpleExpr {
    let returns = Query::select()
        .column(return_::Column::Id)
        .from(return_::Entity)
        .and_where(return_::Column::Status.is_in(visibility.statuses().iter().copied()))
        .to_owned();
    observation::Column::ReturnId.in_subquery(returns)
}

/// Rows that no visible revision of the same (measure, area, period) supersedes.
fn current(visibility: Visibility) -> sea_orm::sea_query::SimpleExpr {
    let statuses = visibility.statuses().iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(", ");
    // The statuses are this module's own constants, never caller input.
    Expr::cust(format!(
        "NOT EXISTS (SELECT 1 FROM observations o2 JOIN returns r2 ON r2.id = o2.return_id \
         WHERE o2.measure_id = observations.measure_id AND o2.geography_id = observations.geography_id \
         AND o2.period = observations.period AND o2.revision > observations.revision \
         AND r2.status IN ({statuses}))"
    ))
}

/// The current values of one measure, optionally for one area and one period.
pub async fn current_for_measure<C: ConnectionTrait>(
    db: &C,
    measure_id: i64,
    geography: Option<&str>,
    period: Option<&Period>,
    visibility: Visibility,
    args: PageArgs,
) -> AppResult<Page<observation::Model>> {
    let mut select = observation::Entity::find()
        .filter(observation::Column::MeasureId.eq(measure_id))
        .filter(visible(visibility))
        .filter(current(visibility));
    if let Some(code) = geography {
        let area = geographies::by_code(db, code)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no geography has the code '{code}'")))?;
        select = select.filter(observation::Column::GeographyId.eq(area.id));
    }
    if let Some(period) = period {
        select = select.filter(observation::Column::Period.eq(period.as_str()));
    }
    page::fetch(db, select, observation::Column::Id, |m| m.id, args).await
}

pub async fn by_ids<C: ConnectionTrait>(
    db: &C,
    ids: &[i64],
    visibility: Visibility,
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

/// The current values of each (measure, area), oldest period first: the series a
/// commitment is judged on (its first value a baseline, its last the latest).
pub async fn series<C: ConnectionTrait>(
    db: &C,
    keys: &[(i64, i64)],
    visibility: Visibility,
) -> AppResult<HashMap<(i64, i64), Vec<observation::Model>>> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = observation::Entity::find()
        .filter(observation::Column::MeasureId.is_in(keys.iter().map(|k| k.0)))
        .filter(observation::Column::GeographyId.is_in(keys.iter().map(|k| k.1)))
        .filter(visible(visibility))
        .filter(current(visibility))
        .order_by_asc(observation::Column::PeriodEnd)
        .all(db)
        .await?;
    let mut out: HashMap<(i64, i64), Vec<observation::Model>> = HashMap::new();
    for row in rows {
        let key = (row.measure_id, row.geography_id);
        if keys.contains(&key) {
            out.entry(key).or_default().push(row);
        }
    }
    Ok(out)
}

/// Every visible revision of each (measure, area, period), oldest first.
pub async fn history<C: ConnectionTrait>(
    db: &C,
    keys: &[(i64, i64, String)],
    visibility: Visibility,
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
