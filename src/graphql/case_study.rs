//! `CaseStudy`: an initiative or local example the strategy describes.

use async_graphql::{Context, ID, Object, Result};
use entity::case_study;

use super::{
    OrGql, cost,
    geography::Geography,
    ids, loader,
    loaders::{GeographiesOfCaseStudy, OrganisationsOfCaseStudy, PrioritiesOfCaseStudy},
    organisation::Organisation,
    priority::Priority,
};

/// A case study: work under way in London that shows a priority in practice, with the
/// areas and organisations involved. Unpublished case studies are visible to partners only.
#[derive(Clone)]
pub struct CaseStudy(pub case_study::Model);

/// A case study: work under way in London that shows a priority in practice, with the
/// areas and organisations involved. Unpublished case studies are visible to partners only.
#[Object]
impl CaseStudy {
    /// Global ID, for `node(id:)`.
    pub(crate) async fn id(&self) -> ID {
        ids::encode(ids::NodeType::CaseStudy, self.0.id)
    }

    /// Stable key, e.g. `one-croydon`.
    async fn slug(&self) -> &str {
        &self.0.slug
    }

    /// Title.
    async fn title(&self) -> &str {
        &self.0.title
    }

    /// One or two sentences on what was done and what changed.
    async fn summary(&self) -> &str {
        &self.0.summary
    }

    /// The fuller account.
    async fn body(&self) -> &str {
        &self.0.body
    }

    /// Whether the case study is published (visible to everyone).
    async fn published(&self) -> bool {
        self.0.published
    }

    /// When it was published.
    async fn published_at(&self) -> Option<super::scalars::Timestamp> {
        self.0.published_at.map(super::scalars::Timestamp)
    }

    /// Where the account comes from (a section of the strategy, for the seeded case studies).
    async fn source(&self) -> Option<&str> {
        self.0.source.as_deref()
    }

    /// Priorities the case study illustrates.
    #[graphql(complexity = "cost::list(cost::CASE_STUDY_PRIORITIES, child_complexity)")]
    async fn priorities(&self, ctx: &Context<'_>) -> Result<Vec<Priority>> {
        let mut rows = loader(ctx).load_one(PrioritiesOfCaseStudy(self.0.id)).await.gql()?.unwrap_or_default();
        rows.sort_by_key(|p| p.number);
        Ok(rows.into_iter().map(Priority).collect())
    }

    /// Areas where the work takes place.
    #[graphql(complexity = "cost::list(cost::CASE_STUDY_AREAS, child_complexity)")]
    async fn geographies(&self, ctx: &Context<'_>) -> Result<Vec<Geography>> {
        let mut rows = loader(ctx).load_one(GeographiesOfCaseStudy(self.0.id)).await.gql()?.unwrap_or_default();
        rows.sort_by(|a, b| a.code.cmp(&b.code));
        Ok(rows.into_iter().map(Geography::from).collect())
    }

    /// Organisations involved.
    #[graphql(complexity = "cost::list(cost::CASE_STUDY_ORGANISATIONS, child_complexity)")]
    async fn organisations(&self, ctx: &Context<'_>) -> Result<Vec<Organisation>> {
        let mut rows = loader(ctx).load_one(OrganisationsOfCaseStudy(self.0.id)).await.gql()?.unwrap_or_default();
        rows.sort_by(|a, b| a.slug.cmp(&b.slug));
        Ok(rows.into_iter().map(Organisation).collect())
    }
}
