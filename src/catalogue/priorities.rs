//! Priorities and the commitments made under them.

mod edits;

pub use edits::*;

use entity::{commitment, priority};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::{
    page::{self, Page, PageArgs},
    rows_where_in,
};
use crate::error::{AppError, AppResult};

pub async fn list<C: ConnectionTrait>(db: &C, args: PageArgs) -> AppResult<Page<priority::Model>> {
    page::fetch(db, priority::Entity::find(), priority::Column::Id, |m| m.id, args).await
}

pub async fn by_slug<C: ConnectionTrait>(db: &C, slug: &str) -> AppResult<Option<priority::Model>> {
    Ok(priority::Entity::find().filter(priority::Column::Slug.eq(slug)).one(db).await?)
}

/// The priority a list filter names, or a NOT_FOUND error naming the slug.
pub async fn require_by_slug<C: ConnectionTrait>(db: &C, slug: &str) -> AppResult<priority::Model> {
    by_slug(db, slug).await?.ok_or_else(|| AppError::NotFound(format!("no priority has the slug '{slug}'")))
}

pub async fn by_ids<C: ConnectionTrait>(db: &C, ids: &[i64]) -> AppResult<Vec<priority::Model>> {
    rows_where_in::<priority::Entity, _>(db, priority::Column::Id, ids).await
}

pub async fn commitments<C: ConnectionTrait>(
    db: &C,
    priority: Option<&str>,
    args: PageArgs,
) -> AppResult<Page<commitment::Model>> {
    let mut select = commitment::Entity::find();
    if let Some(slug) = priority {
        let p = require_by_slug(db, slug).await?;
        select = select.filter(commitment::Column::PriorityId.eq(p.id));
    }
    page::fetch(db, select, commitment::Column::Id, |m| m.id, args).await
}

pub async fn commitments_by_ids<C: ConnectionTrait>(db: &C, ids: &[i64]) -> AppResult<Vec<commitment::Model>> {
    rows_where_in::<commitment::Entity, _>(db, commitment::Column::Id, ids).await
}

pub async fn commitments_of_priorities<C: ConnectionTrait>(db: &C, ids: &[i64]) -> AppResult<Vec<commitment::Model>> {
    rows_where_in::<commitment::Entity, _>(db, commitment::Column::PriorityId, ids).await
}

pub async fn commitments_of_measures<C: ConnectionTrait>(db: &C, ids: &[i64]) -> AppResult<Vec<commitment::Model>> {
    rows_where_in::<commitment::Entity, _>(db, commitment::Column::MeasureId, ids).await
}
