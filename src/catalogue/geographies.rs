//! Geographies: the ONS tree of London region, ICSs and boroughs.

use std::collections::{HashMap, HashSet};

use entity::geography;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Select};

use super::{
    page::{self, Page, PageArgs},
    rows_where_in,
};
use crate::{
    error::{AppError, AppResult},
    values::GeographyLevel,
};

/// Filters of the `geographies` list.
#[derive(Debug, Default, Clone)]
pub struct GeographyFilter {
    pub level: Option<GeographyLevel>,
    /// The ONS code of the parent area.
    pub parent: Option<String>,
}

pub async fn list<C: ConnectionTrait>(
    db: &C,
    filter: &GeographyFilter,
    args: PageArgs,
) -> AppResult<Page<geography::Model>> {
    let mut select: Select<geography::Entity> = geography::Entity::find();
    if let Some(level) = filter.level {
        select = select.filter(geography::Column::Level.eq(level.as_str()));
    }
    if let Some(parent) = &filter.parent {
        let parent = by_code(db, parent)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no geography has the code '{parent}'")))?;
        select = select.filter(geography::Column::ParentId.eq(parent.id));
    }
    page::fetch(db, select, geography::Column::Id, |m| m.id, args).await
}

pub async fn by_code<C: ConnectionTrait>(db: &C, code: &str) -> AppResult<Option<geography::Model>> {
    Ok(geography::Entity::find().filter(geography::Column::Code.eq(code)).one(db).await?)
}

pub async fn by_codes<C: ConnectionTrait>(db: &C, codes: &[String]) -> AppResult<Vec<geography::Model>> {
    if codes.is_empty() {
        return Ok(Vec::new());
    }
    Ok(geography::Entity::find().filter(geography::Column::Code.is_in(codes.iter().cloned())).all(db).await?)
}

pub async fn by_ids<C: ConnectionTrait>(db: &C, ids: &[i64]) -> AppResult<Vec<geography::Model>> {
    rows_where_in::<geography::Entity, _>(db, geography::Column::Id, ids).await
}

/// The direct children of each parent.
pub async fn children_of<C: ConnectionTrait>(db: &C, parent_ids: &[i64]) -> AppResult<Vec<geography::Model>> {
    rows_where_in::<geography::Entity, _>(db, geography::Column::ParentId, parent_ids).await
}

/// Every geography, for computing subtrees (the tree is small: London has under a thousand areas).
pub async fn all<C: ConnectionTrait>(db: &C) -> AppResult<Vec<geography::Model>> {
    Ok(geography::Entity::find().all(db).await?)
}

/// The ids of an area and every area below it.
pub fn subtree_ids(all: &[geography::Model], root: i64) -> Vec<i64> {
    let mut children: HashMap<i64, Vec<i64>> = HashMap::new();
    for g in all {
        if let Some(p) = g.parent_id {
            children.entry(p).or_default().push(g.id);
        }
    }
    let mut seen = HashSet::from([root]);
    let mut stack = vec![root];
    while let Some(id) = stack.pop() {
        for &child in children.get(&id).map(Vec::as_slice).unwrap_or_default() {
            if seen.insert(child) {
                stack.push(child);
            }
        }
    }
    let mut ids: Vec<i64> = seen.into_iter().collect();
    ids.sort_unstable();
    ids
}
