//! `Geography`: an ONS area, its place in London's tree and who acts for it.

use async_graphql::{Context, ID, Object, Result};
use entity::geography;

use super::{
    OrGql, connection, cost, ids, loader,
    loaders::{ChildrenOf, GeographyById, OrganisationsIn},
    organisation::Organisation,
};
use crate::values::GeographyLevel;

/// An area of London: the region, one of the five Integrated Care Systems, a borough, or a
/// neighbourhood. Found by its ONS GSS code.
#[derive(Clone)]
pub struct Geography(pub geography::Model);

/// An area of London: the region, one of the five Integrated Care Systems, a borough, or a
/// neighbourhood. Found by its ONS GSS code.
#[Object]
impl Geography {
    /// Global ID, for `node(id:)`.
    pub(crate) async fn id(&self) -> ID {
        ids::encode(ids::NodeType::Geography, self.0.id)
    }

    /// ONS GSS code: `E12000007` London, `E54000027`..`E54000031` the ICSs, `E09000001`..`E09000033` the boroughs.
    async fn code(&self) -> &str {
        &self.0.code
    }

    /// Official name of the area.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Level of the area in London's geography.
    async fn level(&self) -> Result<GeographyLevel> {
        GeographyLevel::parse(&self.0.level).gql()
    }

    /// The area this one lies in; null for London itself.
    async fn parent(&self, ctx: &Context<'_>) -> Result<Option<Geography>> {
        let Some(parent_id) = self.0.parent_id else { return Ok(None) };
        Ok(loader(ctx).load_one(GeographyById(parent_id)).await.gql()?.map(Geography))
    }

    /// The areas directly inside this one, in ONS code order.
    #[graphql(complexity = "cost::list(cost::CHILDREN, child_complexity)")]
    async fn children(&self, ctx: &Context<'_>) -> Result<Vec<Geography>> {
        let mut rows = loader(ctx).load_one(ChildrenOf(self.0.id)).await.gql()?.unwrap_or_default();
        rows.sort_by(|a, b| a.code.cmp(&b.code));
        Ok(rows.into_iter().map(Geography).collect())
    }

    /// Usual resident population (Census 2021, ONS, rounded to the nearest hundred).
    async fn population(&self) -> Option<i64> {
        self.0.population
    }

    /// Year the population figure describes.
    async fn population_year(&self) -> Option<i32> {
        self.0.population_year
    }

    /// Organisations whose home area this is (for a borough, its council and local partnerships).
    #[graphql(complexity = "cost::list(cost::ORGANISATIONS_IN_AREA, child_complexity)")]
    async fn organisations(&self, ctx: &Context<'_>) -> Result<Vec<Organisation>> {
        let rows = loader(ctx).load_one(OrganisationsIn(self.0.id)).await.gql()?.unwrap_or_default();
        Ok(connection::sorted_by_id(rows, |o| o.id).into_iter().map(Organisation).collect())
    }
}
