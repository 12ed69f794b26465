//! Period locks: an administrator closes a measure's period to further values (once its
//! figures are final), and may open it again. Submissions into a locked period are refused.
//!
//! A return checks the locks twice: before it writes (every row), and again inside its
//! transaction just before it commits, so that a lock taken while a long return was being
//! written is honoured. On PostgreSQL the two sides also meet on a transaction-scoped
//! advisory lock per measure: a return holds it shared from that last check to its commit,
//! and `lock` takes it exclusive, so a lock either waits for a return already past its check
//! or is seen by it. On SQLite every write transaction holds the database's write lock,
//! which orders them the same way.

use std::collections::BTreeSet;

use chrono::Utc;
use entity::{measure, period_lock};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder,
};

use crate::{
    audit::{self, EntityType},
    auth::Principal,
    error::{AppResult, Outcome, UserError},
    values::{Period, PeriodType, UserErrorCode},
};

async fn checked(db: &impl ConnectionTrait, slug: &str, period: &Period) -> AppResult<Outcome<measure::Model>> {
    let Some(m) = measure::Entity::find().filter(measure::Column::Slug.eq(slug)).one(db).await? else {
        return Ok(Err(vec![UserError::new(
            &["measure"],
            UserErrorCode::NotFound,
            format!("no measure has the slug '{slug}'"),
        )]));
    };
    let period_type = PeriodType::parse(&m.period_type).ok();
    if period_type.is_some_and(|t| !period.fits(t)) {
        return Ok(Err(vec![UserError::new(
            &["period"],
            UserErrorCode::WrongPeriodType,
            format!("{slug} is reported by {} periods, not '{period}'", m.period_type),
        )]));
    }
    Ok(Ok(m))
}

async fn find(db: &impl ConnectionTrait, measure_id: i64, period: &Period) -> AppResult<Option<period_lock::Model>> {
    Ok(period_lock::Entity::find()
        .filter(period_lock::Column::MeasureId.eq(measure_id))
        .filter(period_lock::Column::Period.eq(period.as_str()))
        .one(db)
        .await?)
}

/// Takes the measures' period-lock advisory locks (see `db::advisory_locks`).
async fn hold<C: ConnectionTrait>(db: &C, measure_ids: &BTreeSet<i64>, shared: bool) -> Result<(), DbErr> {
    crate::db::advisory_locks(db, crate::db::LockSpace::PeriodLocks, measure_ids, shared).await
}

/// Of the (measure id, period) pairs a return is about to commit, the locked ones, as
/// (measure slug, period). Run inside the return's transaction; holds the measures'
/// advisory locks (shared) until it ends.
pub async fn locked_among<C: ConnectionTrait>(
    tx: &C,
    pairs: &BTreeSet<(i64, String)>,
) -> Result<Vec<(String, String)>, DbErr> {
    let measures: BTreeSet<i64> = pairs.iter().map(|(m, _)| *m).collect();
    hold(tx, &measures, true).await?;
    let mut found = Vec::new();
    let ids: Vec<i64> = measures.into_iter().collect();
    for chunk in ids.chunks(500) {
        let locks = period_lock::Entity::find()
            .filter(period_lock::Column::MeasureId.is_in(chunk.iter().copied()))
            .all(tx)
            .await?;
        let hit: Vec<i64> =
            locks.iter().filter(|l| pairs.contains(&(l.measure_id, l.period.clone()))).map(|l| l.measure_id).collect();
        if hit.is_empty() {
            continue;
        }
        let slugs: std::collections::HashMap<i64, String> = measure::Entity::find()
            .filter(measure::Column::Id.is_in(hit))
            .all(tx)
            .await?
            .into_iter()
            .map(|m| (m.id, m.slug))
            .collect();
        for l in locks.into_iter().filter(|l| pairs.contains(&(l.measure_id, l.period.clone()))) {
            found.push((slugs.get(&l.measure_id).cloned().unwrap_or_default(), l.period));
        }
    }
    Ok(found)
}

/// Locks `period` of the measure `slug`. Locking a locked period changes nothing.
pub async fn lock(
    db: &DatabaseConnection,
    actor: &Principal,
    slug: &str,
    period: &Period,
) -> AppResult<Outcome<measure::Model>> {
    actor.authorise(crate::auth::Act::EditCatalogue).map_err(crate::auth::Denied::into_error)?;
    let tx = crate::db::begin_write(db).await?;
    let m = match checked(&tx, slug, period).await? {
        Ok(m) => m,
        Err(e) => return Ok(Err(e)),
    };
    // Waits for returns of this measure that are past their last check of the locks.
    hold(&tx, &BTreeSet::from([m.id]), false).await?;
    if find(&tx, m.id, period).await?.is_none() {
        let row = period_lock::ActiveModel {
            measure_id: Set(m.id),
            period: Set(period.to_string()),
            locked_at: Set(Utc::now()),
            locked_by: Set(actor.subject.clone()),
            ..Default::default()
        }
        .insert(&tx)
        .await?;
        audit::record(&tx, actor, "lockPeriod", EntityType::PeriodLock, row.id, None, Some(&row)).await?;
    }
    tx.commit().await?;
    Ok(Ok(m))
}

/// Opens `period` of the measure `slug` again. Unlocking an open period changes nothing.
pub async fn unlock(
    db: &DatabaseConnection,
    actor: &Principal,
    slug: &str,
    period: &Period,
) -> AppResult<Outcome<measure::Model>> {
    actor.authorise(crate::auth::Act::EditCatalogue).map_err(crate::auth::Denied::into_error)?;
    let tx = crate::db::begin_write(db).await?;
    let m = match checked(&tx, slug, period).await? {
        Ok(m) => m,
        Err(e) => return Ok(Err(e)),
    };
    if let Some(row) = find(&tx, m.id, period).await? {
        period_lock::Entity::delete_by_id(row.id).exec(&tx).await?;
        audit::record(&tx, actor, "unlockPeriod", EntityType::PeriodLock, row.id, Some(&row), None).await?;
    }
    tx.commit().await?;
    Ok(Ok(m))
}

/// The locked periods of each measure, as (measure id, period) pairs in the order locked.
pub async fn locked_periods<C: ConnectionTrait>(db: &C, measure_ids: &[i64]) -> AppResult<Vec<(i64, String)>> {
    Ok(period_lock::Entity::find()
        .filter(period_lock::Column::MeasureId.is_in(measure_ids.iter().copied()))
        .order_by_asc(period_lock::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|l| (l.measure_id, l.period))
        .collect())
}
