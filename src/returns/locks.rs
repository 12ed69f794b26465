//! Period locks: an administrator closes a measure's period to further values (once its
//! figures are final), and may open it again. Submissions into a locked period are refused.

use chrono::Utc;
use entity::{measure, period_lock};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, TransactionTrait,
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

/// Locks `period` of the measure `slug`. Locking a locked period changes nothing.
pub async fn lock(
    db: &DatabaseConnection,
    actor: &Principal,
    slug: &str,
    period: &Period,
) -> AppResult<Outcome<measure::Model>> {
    let tx = db.begin().await?;
    let m = match checked(&tx, slug, period).await? {
        Ok(m) => m,
        Err(e) => return Ok(Err(e)),
    };
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
    let tx = db.begin().await?;
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
