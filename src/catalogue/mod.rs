//! The London Vision catalogue: organisations, geographies, priorities, commitments,
//! measures, case studies and observations. Queries and rules only; no GraphQL types.
//! Every "by keys" function answers a whole batch in one statement, for the DataLoaders.

pub mod case_studies;
pub mod checks;
pub mod edits;
pub mod geographies;
pub mod measures;
pub mod observations;
pub mod organisations;
pub mod page;
pub mod priorities;
pub mod seed;

use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::error::AppResult;

/// What the caller may see. Anonymous callers see published case studies and approved
/// values only; partners also see what is still in review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Visibility {
    pub partner: bool,
}

/// Rows of `E` whose `col` is one of `keys`, in one statement.
pub(crate) async fn rows_where_in<E, C>(db: &C, col: E::Column, keys: &[i64]) -> AppResult<Vec<E::Model>>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    Ok(E::find().filter(col.is_in(keys.iter().copied())).all(db).await?)
}

/// Joins (owner, target id) links to the target rows, keeping the links' order.
pub(crate) fn pair_up<T: Clone>(
    links: impl Iterator<Item = (i64, i64)>,
    targets: Vec<T>,
    id: impl Fn(&T) -> i64,
) -> Vec<(i64, T)> {
    let by_id: HashMap<i64, T> = targets.into_iter().map(|t| (id(&t), t)).collect();
    links.filter_map(|(owner, target)| by_id.get(&target).map(|t| (owner, t.clone()))).collect()
}
