//! The `Node` interface and refetching any object by its global ID.

use async_graphql::{Context, ID, Interface, Result};

use super::{
    OrGql,
    audit::AuditEvent,
    case_study::CaseStudy,
    geography::Geography,
    ids::{self, NodeType},
    loader,
    loaders::{
        CaseStudyById, CommitmentById, GeographyById, MeasureById, ObservationById, OrganisationById, PriorityById,
        ReturnById,
    },
    measure::{Measure, Observation},
    organisation::Organisation,
    priority::{Commitment, Priority},
    returns::Return,
};

/// An object with a global ID, refetchable with `node(id:)`.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "Global ID, opaque: pass it to `node(id:)`."))]
pub enum Node {
    Organisation(Organisation),
    Geography(Geography),
    Priority(Priority),
    Commitment(Commitment),
    Measure(Measure),
    Observation(Observation),
    CaseStudy(CaseStudy),
    Return(Return),
    AuditEvent(AuditEvent),
    Webhook(super::webhooks::Webhook),
}

/// The object a global ID names, if it exists and the caller may see it.
pub async fn resolve(ctx: &Context<'_>, id: &ID) -> Result<Option<Node>> {
    let (node_type, key) = ids::decode(id).gql()?;
    let l = loader(ctx);
    Ok(match node_type {
        NodeType::Organisation => {
            l.load_one(OrganisationById(key)).await.gql()?.map(|m| Node::Organisation(Organisation(m)))
        }
        NodeType::Geography => l.load_one(GeographyById(key)).await.gql()?.map(|m| Node::Geography(Geography(m))),
        NodeType::Priority => l.load_one(PriorityById(key)).await.gql()?.map(|m| Node::Priority(Priority(m))),
        NodeType::Commitment => l.load_one(CommitmentById(key)).await.gql()?.map(|m| Node::Commitment(Commitment(m))),
        NodeType::Measure => l.load_one(MeasureById(key)).await.gql()?.map(|m| Node::Measure(Measure(m))),
        NodeType::Observation => {
            l.load_one(ObservationById(key)).await.gql()?.map(|m| Node::Observation(Observation::from(m)))
        }
        NodeType::CaseStudy => l.load_one(CaseStudyById(key)).await.gql()?.map(|m| Node::CaseStudy(CaseStudy(m))),
        NodeType::Return => l.load_one(ReturnById(key)).await.gql()?.map(|m| Node::Return(Return(m))),
        NodeType::AuditEvent => {
            // The audit trail is for administrators, as `auditEvents` is.
            let r = super::request(ctx);
            if !r.principal.as_ref().is_some_and(|p| p.has_role(crate::values::Role::Admin)) {
                return Ok(None);
            }
            crate::audit::by_id(&r.db, key, &r.visibility).await.gql()?.map(|m| Node::AuditEvent(AuditEvent(m)))
        }
        NodeType::Webhook => super::webhooks::by_id(ctx, id).await?.map(Node::Webhook),
    })
}
