//! The London Vision catalogue: organisations, geographies, priorities, commitments,
//! measures, case studies and observations. Queries and rules only; no GraphQL types.
//! Every "by keys" function answers a whole batch in one statement, for the DataLoaders.

pub mod case_studies;
pub mod geographies;
pub mod measures;
pub mod observations;
pub mod organisations;
pub mod page;
pub mod priorities;
pub mod seed;

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
