//! `Organisation`: a council, ICS, regional body or other actor of the strategy.

use async_graphql::{Context, ID, Object, Result};
use entity::organisation;

use super::{
    OrGql, connection, cost,
    geography::Geography,
    ids, loader,
    loaders::{GeographyById, MembersOf},
};
use crate::values::OrganisationKind;

/// A body that takes part in the London Vision: the 33 borough councils and five ICSs that
/// submit local data, the regional partners, and the partnerships and services the
/// strategy names. Found by its slug.
#[derive(Clone)]
pub struct Organisation(pub organisation::Model);

/// A body that takes part in the London Vision: the 33 borough councils and five ICSs that
/// submit local data, the regional partners, and the partnerships and services the
/// strategy names. Found by its slug.
#[Object]
impl Organisation {
    /// Global ID, for `node(id:)`.
    pub(crate) async fn id(&self) -> ID {
        ids::encode(ids::NodeType::Organisation, self.0.id)
    }

    /// Stable key, e.g. `camden` or `north-west-london-ics`; the `org` claim of a partner's token.
    async fn slug(&self) -> &str {
        &self.0.slug
    }

    /// Full name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// What kind of body this is.
    async fn kind(&self) -> Result<OrganisationKind> {
        OrganisationKind::parse(&self.0.kind).gql()
    }

    /// What the organisation does in the partnership.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    /// Website, where known.
    async fn website(&self) -> Option<&str> {
        self.0.website.as_deref()
    }

    /// The area the organisation acts for; a partner's data scope is this area and everything inside it.
    async fn geography(&self, ctx: &Context<'_>) -> Result<Geography> {
        loader(ctx)
            .load_one(GeographyById(self.0.geography_id))
            .await
            .gql()?
            .map(Geography)
            .ok_or_else(|| async_graphql::Error::new("BUG: organisation without its geography"))
    }

    /// Member organisations, for a partnership or federation (London Councils' members are
    /// the borough councils; an ICS's, its councils and trusts).
    #[graphql(complexity = "cost::list(cost::MEMBERS, child_complexity)")]
    async fn members(&self, ctx: &Context<'_>) -> Result<Vec<Organisation>> {
        let rows = loader(ctx).load_one(MembersOf(self.0.id)).await.gql()?.unwrap_or_default();
        Ok(connection::sorted_by_id(rows, |o| o.id).into_iter().map(Organisation).collect())
    }
}
