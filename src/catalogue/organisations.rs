//! Organisations: councils, ICSs, regional bodies and the other actors of the strategy.

mod edits;

pub use edits::*;

use entity::{organisation, organisation_member};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::{
    page::{self, Page, PageArgs},
    pair_up, rows_where_in,
};
use crate::{error::AppResult, values::OrganisationKind};

pub async fn list<C: ConnectionTrait>(
    db: &C,
    kind: Option<OrganisationKind>,
    args: PageArgs,
) -> AppResult<Page<organisation::Model>> {
    let mut select = organisation::Entity::find();
    if let Some(kind) = kind {
        select = select.filter(organisation::Column::Kind.eq(kind.as_str()));
    }
    page::fetch(db, select, organisation::Column::Id, |m| m.id, args).await
}

pub async fn by_slug<C: ConnectionTrait>(db: &C, slug: &str) -> AppResult<Option<organisation::Model>> {
    Ok(organisation::Entity::find().filter(organisation::Column::Slug.eq(slug)).one(db).await?)
}

pub async fn by_ids<C: ConnectionTrait>(db: &C, ids: &[i64]) -> AppResult<Vec<organisation::Model>> {
    rows_where_in::<organisation::Entity, _>(db, organisation::Column::Id, ids).await
}

/// Organisations whose home geography is one of these.
pub async fn in_geographies<C: ConnectionTrait>(db: &C, geography_ids: &[i64]) -> AppResult<Vec<organisation::Model>> {
    rows_where_in::<organisation::Entity, _>(db, organisation::Column::GeographyId, geography_ids).await
}

/// The members of each organisation, as (organisation id, member) pairs.
pub async fn members_of<C: ConnectionTrait>(db: &C, ids: &[i64]) -> AppResult<Vec<(i64, organisation::Model)>> {
    let links =
        rows_where_in::<organisation_member::Entity, _>(db, organisation_member::Column::OrganisationId, ids).await?;
    let members = by_ids(db, &links.iter().map(|l| l.member_id).collect::<Vec<_>>()).await?;
    Ok(pair_up(links.into_iter().map(|l| (l.organisation_id, l.member_id)), members, |m| m.id))
}
