//! The query root: look-ups by natural key and the root lists of the catalogue.

use async_graphql::{Context, ID, Object, Result, futures_util::future::join_all};

use super::{
    OrGql,
    audit::AuditEvent,
    case_study::CaseStudy,
    connection::{self, Conn},
    cost,
    geography::Geography,
    guards::{RoleGuard, require_some_role},
    ids, loader,
    loaders::{GeographyByCode, ReturnById},
    measure::Measure,
    node::{self, Node},
    organisation::Organisation,
    picture::Picture,
    priority::{Commitment, Priority},
    request,
    returns::Return,
    scalars::PeriodScalar,
    viewer::Viewer,
};
use crate::{
    audit,
    catalogue::{case_studies, geographies, measures, organisations, priorities},
    error::AppError,
    values::{GeographyLevel, GssCode, OrganisationKind, ReturnStatus, Role, Slug},
};

/// The most IDs `nodes(ids:)` resolves at once.
const MAX_NODES: usize = 100;

pub struct Query;

fn slug(raw: &str) -> Result<Slug> {
    Slug::parse(raw).map_err(|e| AppError::BadUserInput(e.0)).gql()
}

fn gss(raw: &str) -> Result<GssCode> {
    GssCode::parse(raw).map_err(|e| AppError::BadUserInput(e.0)).gql()
}

/// The London Vision: its priorities, commitments and outcome measures, London's areas and
/// the organisations that act for them, case studies, the values partners submit and the
/// pan-London picture built from them. Published data needs no token; returns, values in
/// review and the audit trail need one.
#[Object]
impl Query {
    /// Any object by its global ID; null when none exists or the caller may not see it.
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A global ID returned by this API.")] id: ID,
    ) -> Result<Option<Node>> {
        node::resolve(ctx, &id).await
    }

    /// Several objects by global ID, in the order asked (at most 100); null for any not found.
    #[graphql(complexity = "cost::list(ids.len(), child_complexity)")]
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global IDs returned by this API.")] ids: Vec<ID>,
    ) -> Result<Vec<Option<Node>>> {
        if ids.len() > MAX_NODES {
            return Err(AppError::BadUserInput(format!("ask for at most {MAX_NODES} IDs at once, not {}", ids.len())))
                .gql();
        }
        // Resolved together, so that their loader keys batch into one statement per type. An ID
        // that cannot be resolved is null with its own error (its path names its place), and
        // the others are answered.
        let found = join_all(ids.iter().map(|id| node::resolve(ctx, id))).await;
        Ok(found
            .into_iter()
            .enumerate()
            .map(|(i, r)| match r {
                Ok(n) => n,
                Err(e) => {
                    let mut err = ctx.set_error_path(e.into_server_error(ctx.item.pos));
                    err.path.push(async_graphql::PathSegment::Index(i));
                    ctx.add_error(err);
                    None
                }
            })
            .collect())
    }

    /// Tokens this server issued, newest first, optionally of one organisation or subject, or
    /// only those still in force: those of the organisations the ADMIN administers (its own
    /// and those inside its area; every one for a London-wide ADMIN), the tokens it may revoke.
    #[graphql(
        guard = "RoleGuard(&[Role::Admin])",
        complexity = "cost::list(first.unwrap_or(50).max(0) as usize, child_complexity)"
    )]
    async fn issued_tokens(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only tokens of this organisation (its slug).")] organisation: Option<String>,
        #[graphql(desc = "Only tokens for this subject.")] subject: Option<String>,
        #[graphql(desc = "Only tokens neither expired nor revoked (true).")] active: Option<bool>,
        #[graphql(desc = "How many, newest first (at most 100; 50 when not given).")] first: Option<i32>,
    ) -> Result<Vec<super::tokens::IssuedToken>> {
        super::tokens::list(ctx, organisation, subject, active.unwrap_or(false), first).await
    }

    /// Webhooks the caller manages: an ADMIN's of the organisations it administers (its own
    /// and those inside its area; every one for a London-wide ADMIN), an APPROVER's of its own
    /// organisation.
    #[graphql(guard = "RoleGuard(super::webhooks::MANAGERS)")]
    async fn webhooks(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only this organisation's (its slug).")] organisation: Option<String>,
    ) -> Result<Vec<super::webhooks::Webhook>> {
        super::webhooks::list(ctx, organisation).await
    }

    /// A webhook's deliveries, oldest first (`last` for the newest): what was sent, when,
    /// how many attempts, and the endpoint's last answer. An ADMIN, or an APPROVER of the
    /// webhook's organisation.
    #[graphql(
        guard = "RoleGuard(super::webhooks::MANAGERS)",
        complexity = "cost::connection(first, last, child_complexity)"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn webhook_deliveries(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The webhook (its global ID).")] webhook: ID,
        #[graphql(desc = "Only deliveries in this state.")] status: Option<crate::values::DeliveryStatus>,
        #[graphql(desc = "Page size from the start (at most 100).")] first: Option<i32>,
        #[graphql(desc = "Cursor to continue after.")] after: Option<String>,
        #[graphql(desc = "Page size from the end (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Cursor to continue before.")] before: Option<String>,
    ) -> Result<Conn<super::webhooks::WebhookDelivery>> {
        let Some(hook) = super::webhooks::by_id(ctx, &webhook).await? else {
            return Err(crate::error::AppError::NotFound(format!(
                "no webhook you manage has the ID '{}'",
                webhook.as_str()
            )))
            .gql();
        };
        let args = connection::args(ctx, first, after, last, before)?;
        let page = crate::webhooks::deliveries(&request(ctx).db, &hook.0, status, args).await.gql()?;
        Ok(connection::connection(page, super::webhooks::WebhookDelivery))
    }

    /// The authenticated partner; null for an anonymous request.
    async fn viewer(&self, ctx: &Context<'_>) -> Option<Viewer> {
        request(ctx).principal.clone().map(Viewer)
    }

    /// The audit trail of changes, oldest first. ADMIN only.
    #[graphql(guard = "RoleGuard(&[Role::Admin])", complexity = "cost::connection(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn audit_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only changes to objects of this type (e.g. `Priority`).")] entity_type: Option<String>,
        #[graphql(desc = "Only changes to this object (its global ID).")] entity_id: Option<ID>,
        #[graphql(desc = "Only changes made by this organisation (its slug).")] organisation: Option<String>,
        #[graphql(desc = "Page size from the start (at most 100).")] first: Option<i32>,
        #[graphql(desc = "Cursor to continue after.")] after: Option<String>,
        #[graphql(desc = "Page size from the end (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Cursor to continue before.")] before: Option<String>,
    ) -> Result<Conn<AuditEvent>> {
        let args = connection::args(ctx, first, after, last, before)?;
        let entity_id = entity_id.map(|id| ids::decode(&id).map(|(_, key)| key)).transpose().gql()?;
        let filter = audit::AuditFilter { entity_type, entity_id, organisation };
        let page = audit::list(&request(ctx).db, &filter, &request(ctx).visibility, args).await.gql()?;
        Ok(connection::connection(page, AuditEvent))
    }

    /// Returns submitted by partners, oldest first. Partners only.
    #[graphql(complexity = "cost::connection(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn returns(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only returns of this organisation (its slug).")] organisation: Option<String>,
        #[graphql(desc = "Only returns in this status.")] status: Option<ReturnStatus>,
        #[graphql(desc = "Only the returns the caller may decide now (true): in review, submitted by someone else, \
                    every value in the caller's area; the caller must be an APPROVER.")]
        reviewable: Option<bool>,
        #[graphql(desc = "Page size from the start (at most 100).")] first: Option<i32>,
        #[graphql(desc = "Cursor to continue after.")] after: Option<String>,
        #[graphql(desc = "Page size from the end (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Cursor to continue before.")] before: Option<String>,
    ) -> Result<Conn<Return>> {
        let principal = require_some_role(ctx)?;
        let args = connection::args(ctx, first, after, last, before)?;
        let db = &request(ctx).db;
        let reviewable_by = if reviewable == Some(true) {
            principal.require_role(crate::values::Role::Approver).gql()?;
            Some(crate::returns::Reviewer {
                subject: principal.subject.clone(),
                areas: principal.scope.geographies.iter().copied().collect(),
            })
        } else {
            None
        };
        let organisation = match organisation {
            Some(slug) => Some(
                organisations::by_slug(db, &slug)
                    .await
                    .gql()?
                    .ok_or_else(|| AppError::NotFound(format!("no organisation has the slug '{slug}'")))
                    .gql()?
                    .id,
            ),
            None => None,
        };
        let page = crate::returns::list(
            db,
            &crate::returns::ReturnFilter { organisation, status, reviewable_by },
            &request(ctx).visibility,
            args,
        )
        .await
        .gql()?;
        Ok(connection::connection(page, Return))
    }

    /// A return by its ID. Partners only.
    #[graphql(name = "return")]
    async fn return_(&self, ctx: &Context<'_>, #[graphql(desc = "The return's ID.")] id: ID) -> Result<Option<Return>> {
        require_some_role(ctx)?;
        match ids::decode(&id).gql()? {
            (ids::NodeType::Return, key) => Ok(loader(ctx).load_one(ReturnById(key)).await.gql()?.map(Return)),
            _ => Ok(None),
        }
    }

    /// Organisations taking part, optionally of one kind.
    #[graphql(complexity = "cost::connection(first, last, child_complexity)")]
    async fn organisations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only organisations of this kind.")] kind: Option<OrganisationKind>,
        #[graphql(desc = "Page size from the start (at most 100).")] first: Option<i32>,
        #[graphql(desc = "Cursor to continue after.")] after: Option<String>,
        #[graphql(desc = "Page size from the end (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Cursor to continue before.")] before: Option<String>,
    ) -> Result<Conn<Organisation>> {
        let args = connection::args(ctx, first, after, last, before)?;
        let page = organisations::list(&request(ctx).db, kind, args).await.gql()?;
        Ok(connection::connection(page, Organisation))
    }

    /// An organisation by its slug (e.g. `camden`, `north-west-london-ics`, `gla`).
    async fn organisation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The organisation's slug.")] slug: String,
    ) -> Result<Option<Organisation>> {
        let slug = self::slug(&slug)?;
        Ok(organisations::by_slug(&request(ctx).db, slug.as_str()).await.gql()?.map(Organisation))
    }

    /// Areas of London, optionally of one level or inside one parent area.
    #[graphql(complexity = "cost::connection(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn geographies(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only areas of this level.")] level: Option<GeographyLevel>,
        #[graphql(desc = "Only areas directly inside this one (its ONS code).")] parent: Option<String>,
        #[graphql(desc = "Page size from the start (at most 100).")] first: Option<i32>,
        #[graphql(desc = "Cursor to continue after.")] after: Option<String>,
        #[graphql(desc = "Page size from the end (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Cursor to continue before.")] before: Option<String>,
    ) -> Result<Conn<Geography>> {
        let args = connection::args(ctx, first, after, last, before)?;
        if let Some(code) = &parent {
            gss(code)?;
        }
        let filter = geographies::GeographyFilter { level, parent };
        let page = geographies::list(&request(ctx).db, &filter, args).await.gql()?;
        Ok(connection::connection(page, Geography::from))
    }

    /// An area by its ONS GSS code (e.g. `E12000007` London, `E09000007` Camden).
    async fn geography(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The area's ONS GSS code.")] code: String,
    ) -> Result<Option<Geography>> {
        let code = gss(&code)?;
        Ok(loader(ctx).load_one(GeographyByCode(code.to_string())).await.gql()?.map(Geography))
    }

    /// The priorities for pan-London action, in the strategy's order.
    #[graphql(complexity = "cost::connection(first, last, child_complexity)")]
    async fn priorities(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size from the start (at most 100).")] first: Option<i32>,
        #[graphql(desc = "Cursor to continue after.")] after: Option<String>,
        #[graphql(desc = "Page size from the end (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Cursor to continue before.")] before: Option<String>,
    ) -> Result<Conn<Priority>> {
        let args = connection::args(ctx, first, after, last, before)?;
        let page = priorities::list(&request(ctx).db, args).await.gql()?;
        Ok(connection::connection(page, Priority))
    }

    /// A priority by its slug (e.g. `childhood-obesity`).
    async fn priority(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The priority's slug.")] slug: String,
    ) -> Result<Option<Priority>> {
        let slug = self::slug(&slug)?;
        Ok(priorities::by_slug(&request(ctx).db, slug.as_str()).await.gql()?.map(Priority))
    }

    /// Commitments, optionally under one priority.
    #[graphql(complexity = "cost::connection(first, last, child_complexity)")]
    async fn commitments(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only commitments under this priority (its slug).")] priority: Option<String>,
        #[graphql(desc = "Page size from the start (at most 100).")] first: Option<i32>,
        #[graphql(desc = "Cursor to continue after.")] after: Option<String>,
        #[graphql(desc = "Page size from the end (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Cursor to continue before.")] before: Option<String>,
    ) -> Result<Conn<Commitment>> {
        let args = connection::args(ctx, first, after, last, before)?;
        let priority = priority.map(|p| slug(&p)).transpose()?;
        let page = priorities::commitments(&request(ctx).db, priority.as_ref().map(Slug::as_str), args).await.gql()?;
        Ok(connection::connection(page, Commitment))
    }

    /// Outcome measures, optionally of one priority, in the order of Table 1.
    #[graphql(complexity = "cost::connection(first, last, child_complexity)")]
    async fn measures(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only measures of this priority (its slug).")] priority: Option<String>,
        #[graphql(desc = "Page size from the start (at most 100).")] first: Option<i32>,
        #[graphql(desc = "Cursor to continue after.")] after: Option<String>,
        #[graphql(desc = "Page size from the end (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Cursor to continue before.")] before: Option<String>,
    ) -> Result<Conn<Measure>> {
        let args = connection::args(ctx, first, after, last, before)?;
        let priority = priority.map(|p| slug(&p)).transpose()?;
        let page = measures::list(&request(ctx).db, priority.as_ref().map(Slug::as_str), args).await.gql()?;
        Ok(connection::connection(page, Measure))
    }

    /// A measure by its slug (e.g. `reception-overweight`).
    async fn measure(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The measure's slug.")] slug: String,
    ) -> Result<Option<Measure>> {
        let slug = self::slug(&slug)?;
        Ok(measures::by_slug(&request(ctx).db, slug.as_str()).await.gql()?.map(Measure))
    }

    /// The pan-London picture of a measure in a period, from approved values: London, the
    /// five ICSs and the 33 boroughs, with intervals, comparisons with London and with the
    /// ICS, ranks, quintiles, trends and coverage. The latest period with an approved value
    /// when `period` is omitted; as the figures stood at `asOf` when given (only revisions
    /// approved by then count), so a figure published earlier is reproduced exactly.
    #[graphql(complexity = "child_complexity + 10")]
    async fn picture(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The measure's slug.")] measure: String,
        #[graphql(desc = "The period; by default the latest with an approved value.")] period: Option<PeriodScalar>,
        #[graphql(desc = "The moment to picture the figures as of; by default now.")] as_of: Option<
            super::scalars::Timestamp,
        >,
    ) -> Result<Picture> {
        let slug = self::slug(&measure)?;
        let Some(found) = measures::by_slug(&request(ctx).db, slug.as_str()).await.gql()? else {
            return Err(AppError::NotFound(format!("no measure has the slug '{slug}'"))).gql();
        };
        super::picture::load(ctx, found, period.map(|p| p.0), as_of.map(|t| t.0)).await
    }

    /// Case studies, optionally of one priority, in one area (or inside it), or matching words.
    #[graphql(complexity = "cost::connection(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn case_studies(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only case studies of this priority (its slug).")] priority: Option<String>,
        #[graphql(desc = "Only case studies in this area or an area inside it (its ONS code).")] geography: Option<
            String,
        >,
        #[graphql(desc = "Words to find in the title, summary or body, ignoring case.")] search: Option<String>,
        #[graphql(desc = "Page size from the start (at most 100).")] first: Option<i32>,
        #[graphql(desc = "Cursor to continue after.")] after: Option<String>,
        #[graphql(desc = "Page size from the end (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Cursor to continue before.")] before: Option<String>,
    ) -> Result<Conn<CaseStudy>> {
        let args = connection::args(ctx, first, after, last, before)?;
        if let Some(p) = &priority {
            slug(p)?;
        }
        if let Some(g) = &geography {
            gss(g)?;
        }
        let req = request(ctx);
        let filter = case_studies::CaseStudyFilter { priority, geography, search };
        let page = case_studies::list(&req.db, &filter, &req.visibility, args).await.gql()?;
        Ok(connection::connection(page, CaseStudy))
    }

    /// A case study by its slug (e.g. `one-croydon`).
    async fn case_study(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The case study's slug.")] slug: String,
    ) -> Result<Option<CaseStudy>> {
        let slug = self::slug(&slug)?;
        let req = request(ctx);
        Ok(case_studies::by_slug(&req.db, slug.as_str(), &req.visibility).await.gql()?.map(CaseStudy))
    }
}
