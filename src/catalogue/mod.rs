//! The London Vision catalogue: organisations, geographies, priorities, commitments,
//! measures, case studies and observations. Queries and rules only; no GraphQL types.
//! Every "by keys" function answers a whole batch in one statement, for the DataLoaders.

pub mod case_studies;
pub mod checks;
pub mod edit;
pub mod geographies;
pub mod measures;
pub mod neighbourhoods;
pub mod observations;
pub mod organisations;
pub mod page;
pub mod priorities;
pub mod seed;

use std::{
    collections::{BTreeSet, HashMap},
    sync::Arc,
};

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::{auth::Principal, error::AppResult};

/// What the caller may see. Everyone sees published case studies and approved values. A
/// partner acting with a role (SUBMITTER, APPROVER, ADMIN) also sees what is still in review
/// in its own organisation's area and the areas under it (a borough its own, an ICS its
/// boroughs', a pan-London body all), and never a sibling's. A read-only token sees no more
/// than an anonymous caller.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Visibility {
    /// The areas whose work in review the caller may see; none for anonymous or read-only callers.
    review_areas: Option<Arc<BTreeSet<i64>>>,
}

impl Visibility {
    /// What an anonymous caller sees.
    pub fn public() -> Self {
        Self::default()
    }

    /// What a principal sees: work in review within its scope when it holds any role.
    pub fn of(principal: Option<&Principal>) -> Self {
        match principal {
            Some(p) if !p.roles.is_empty() => {
                Self { review_areas: Some(Arc::new(p.scope.geographies.iter().copied().collect())) }
            }
            _ => Self::public(),
        }
    }

    /// Whether the caller sees any work in review.
    pub fn partner(&self) -> bool {
        self.review_areas.is_some()
    }

    /// Whether the caller sees work in review in any area.
    pub fn sees_any_review(&self) -> bool {
        self.review_areas.as_ref().is_some_and(|a| !a.is_empty())
    }

    /// Whether the caller sees work in review in the area `geography_id`.
    pub fn sees_review_in(&self, geography_id: i64) -> bool {
        self.review_areas.as_ref().is_some_and(|a| a.contains(&geography_id))
    }

    /// The areas whose work in review the caller sees, as an SQL list (`NULL` for none, which
    /// matches nothing). They are ids from this database, never caller input.
    pub(crate) fn review_area_list(&self) -> String {
        match &self.review_areas {
            Some(areas) if !areas.is_empty() => areas.iter().map(i64::to_string).collect::<Vec<_>>().join(", "),
            _ => "NULL".to_owned(),
        }
    }

    /// SQL: the organisations based in an area whose work in review the caller sees.
    pub(crate) fn organisations_in_review_areas(&self) -> String {
        format!("SELECT id FROM organisations WHERE geography_id IN ({})", self.review_area_list())
    }
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
