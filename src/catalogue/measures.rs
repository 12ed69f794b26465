//! Outcome measures.

mod edits;

pub use edits::*;

use entity::measure;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::{
    page::{self, Page, PageArgs},
    priorities, rows_where_in,
};
use crate::error::AppResult;

pub async fn list<C: ConnectionTrait>(
    db: &C,
    priority: Option<&str>,
    args: PageArgs,
) -> AppResult<Page<measure::Model>> {
    let mut select = measure::Entity::find();
    if let Some(slug) = priority {
        let p = priorities::require_by_slug(db, slug).await?;
        select = select.filter(measure::Column::PriorityId.eq(p.id));
    }
    page::fetch(db, select, measure::Column::Id, |m| m.id, args).await
}

pub async fn by_slug<C: ConnectionTrait>(db: &C, slug: &str) -> AppResult<Option<measure::Model>> {
    Ok(measure::Entity::find().filter(measure::Column::Slug.eq(slug)).one(db).await?)
}

pub async fn by_ids<C: ConnectionTrait>(db: &C, ids: &[i64]) -> AppResult<Vec<measure::Model>> {
    rows_where_in::<measure::Entity, _>(db, measure::Column::Id, ids).await
}

pub async fn of_priorities<C: ConnectionTrait>(db: &C, ids: &[i64]) -> AppResult<Vec<measure::Model>> {
    rows_where_in::<measure::Entity, _>(db, measure::Column::PriorityId, ids).await
}
