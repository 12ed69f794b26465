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
pub struct Geography(pub std::sync::Arc<geography::Model>);

impl From<geography::Model> for Geography {
    fn from(m: geography::Model) -> Self {
        Self(std::sync::Arc::new(m))
    }
}

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
        Ok(rows.into_iter().map(Geography::from).collect())
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

/// One neighbourhood to import under its borough.
#[derive(async_graphql::InputObject)]
pub struct NeighbourhoodInput {
    /// An electoral ward's ONS code (`E05` and six digits) or a Primary Care Network's ODS
    /// code (`U` and five digits).
    pub code: String,
    /// Its name.
    pub name: String,
    /// Its borough's ONS code (`E09…`).
    pub parent: String,
    /// Its population, if known.
    pub population: Option<i64>,
    /// The year the population is for.
    pub population_year: Option<i32>,
}

/// Neighbourhoods to import: all of them, or none.
#[derive(async_graphql::InputObject)]
pub struct ImportGeographiesInput {
    /// The neighbourhoods (at most 5,000); one already imported under the same borough is
    /// updated.
    pub geographies: Vec<NeighbourhoodInput>,
}

/// The result of `importGeographies`.
#[derive(async_graphql::SimpleObject)]
pub struct ImportGeographiesPayload {
    /// The neighbourhoods created or updated; empty when nothing was written.
    pub geographies: Vec<Geography>,
    /// How many were new.
    pub created: i32,
    /// How many existed and were changed (their name or population).
    pub updated: i32,
    /// How many existed as given.
    pub unchanged: i32,
    /// Why nothing was written, row by row.
    pub user_errors: Vec<super::user_error::UserError>,
}

/// Importing neighbourhoods.
#[derive(Default)]
pub struct GeographyMutation;

/// Importing neighbourhoods.
#[Object]
impl GeographyMutation {
    /// Imports neighbourhoods (wards or Primary Care Networks) under their boroughs, as the
    /// `london-vision geographies import FILE.csv` command does: whole or not at all; a code
    /// already imported under the same borough is updated. Its borough's partners then submit,
    /// read and compare values for it. An ADMIN, under boroughs in its area; audited.
    #[graphql(guard = "super::guards::RoleGuard(&[crate::values::Role::Admin])")]
    async fn import_geographies(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of `ImportGeographiesInput`.")] input: ImportGeographiesInput,
    ) -> Result<ImportGeographiesPayload> {
        use crate::catalogue::neighbourhoods;
        let rows = input
            .geographies
            .into_iter()
            .enumerate()
            .map(|(i, g)| neighbourhoods::NeighbourhoodRow {
                row: i32::try_from(i).unwrap_or(i32::MAX),
                code: g.code,
                name: g.name,
                parent: g.parent,
                population: g.population,
                population_year: g.population_year,
            })
            .collect();
        let db = &super::request(ctx).db;
        Ok(match neighbourhoods::import(db, super::guards::actor(ctx)?, rows).await.gql()? {
            Ok(done) => {
                let codes: Vec<String> = done.created.iter().chain(&done.updated).cloned().collect();
                let mut found = neighbourhoods::by_codes(db, &codes).await.gql()?;
                found.sort_by(|a, b| a.code.cmp(&b.code));
                ImportGeographiesPayload {
                    geographies: found.into_iter().map(Geography::from).collect(),
                    created: i32::try_from(done.created.len()).unwrap_or(i32::MAX),
                    updated: i32::try_from(done.updated.len()).unwrap_or(i32::MAX),
                    unchanged: i32::try_from(done.unchanged.len()).unwrap_or(i32::MAX),
                    user_errors: Vec::new(),
                }
            }
            Err(errors) => ImportGeographiesPayload {
                geographies: Vec::new(),
                created: 0,
                updated: 0,
                unchanged: 0,
                user_errors: super::user_error::all(errors),
            },
        })
    }
}
