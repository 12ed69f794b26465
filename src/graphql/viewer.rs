//! `viewer`: the partner a request is authenticated as.

use async_graphql::{Object, Result};

use super::{cost, geography::Geography, organisation::Organisation};
use crate::{auth::Principal, values::Role};

/// The authenticated partner: who, for which organisation, with which roles.
pub struct Viewer(pub Principal);

/// The authenticated partner: who, for which organisation, with which roles.
#[Object]
impl Viewer {
    /// The token's subject (a person or a partner system).
    async fn subject(&self) -> &str {
        &self.0.subject
    }

    /// The organisation the token acts for.
    async fn organisation(&self) -> Organisation {
        Organisation(self.0.organisation.clone())
    }

    /// Roles beside reading.
    async fn roles(&self) -> &[Role] {
        &self.0.roles
    }

    /// The area the viewer may write for: its organisation's area, and every area inside it.
    async fn scope(&self, ctx: &async_graphql::Context<'_>) -> Result<Geography> {
        use super::{OrGql, loader, loaders::GeographyById};
        loader(ctx)
            .load_one(GeographyById(self.0.scope.root))
            .await
            .gql()?
            .map(Geography)
            .ok_or_else(|| async_graphql::Error::new("BUG: scope without its geography"))
    }

    /// The values the viewer's organisation has yet to submit: each measure x area in its
    /// scope with no value for a period that has ended since the measure's baseline (the
    /// earliest baseline of its commitments) or the configured start (`DUE_SINCE`), less the
    /// periods an ADMIN has locked; oldest period first, with its deadline when one is
    /// configured.
    #[graphql(complexity = "cost::list(cost::DUE, child_complexity)")]
    async fn due_returns(
        &self,
        ctx: &async_graphql::Context<'_>,
        #[graphql(desc = "Only this measure (its slug).")] measure: Option<String>,
    ) -> Result<Vec<DueReturn>> {
        use super::{OrGql, request};
        let today = chrono::Utc::now().date_naive();
        let rules = ctx.data_opt::<crate::returns::due::DueRules>().copied().unwrap_or_default();
        let due = crate::returns::due::due(&request(ctx).db, &self.0, today, measure.as_deref(), rules).await.gql()?;
        Ok(due.into_iter().map(DueReturn).collect())
    }

    /// The returns waiting for this viewer's decision, oldest first: in review, submitted by
    /// someone else, with every value in the viewer's area (as `approveReturn` requires).
    /// Empty unless the viewer is an APPROVER.
    #[graphql(complexity = "cost::connection(first, last, child_complexity)")]
    async fn returns_to_review(
        &self,
        ctx: &async_graphql::Context<'_>,
        #[graphql(desc = "Page size from the start (at most 100).")] first: Option<i32>,
        #[graphql(desc = "Cursor to continue after.")] after: Option<String>,
        #[graphql(desc = "Page size from the end (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Cursor to continue before.")] before: Option<String>,
    ) -> Result<super::connection::Conn<super::returns::Return>> {
        use super::{OrGql, connection, request};
        let args = connection::args(ctx, first, after, last, before)?;
        let reviewer = crate::returns::Reviewer {
            subject: self.0.subject.clone(),
            // Someone who may not approve has nothing to review.
            areas: if self.0.has_role(Role::Approver) {
                self.0.scope.geographies.iter().copied().collect()
            } else {
                Vec::new()
            },
        };
        let filter = crate::returns::ReturnFilter { reviewable_by: Some(reviewer), ..Default::default() };
        let page = crate::returns::list(&request(ctx).db, &filter, &request(ctx).visibility, args).await.gql()?;
        Ok(connection::connection(page, super::returns::Return))
    }

    /// The id (`jti`) of the token in use, for revoking it.
    async fn token_id(&self) -> &str {
        &self.0.token_id
    }
}

/// A value an organisation has yet to submit.
pub struct DueReturn(pub crate::returns::due::Due);

/// A value an organisation has yet to submit: a measure, an area in its scope and a period
/// that has ended without a value.
#[Object]
impl DueReturn {
    /// The measure.
    async fn measure(&self) -> super::measure::Measure {
        super::measure::Measure(self.0.measure.clone())
    }

    /// The area.
    async fn geography(&self) -> Geography {
        Geography::from(self.0.geography.clone())
    }

    /// The period a value is expected for: one that has ended, since the measure's baseline
    /// (or the configured start), and is not locked.
    async fn period(&self) -> super::scalars::PeriodScalar {
        super::scalars::PeriodScalar(self.0.period.clone())
    }

    /// The day by which the value is expected (`DUE_DEADLINE_DAYS` after the period ends),
    /// as an ISO 8601 date; null when no deadline is configured.
    async fn deadline(&self) -> Option<chrono::NaiveDate> {
        self.0.deadline
    }
}
