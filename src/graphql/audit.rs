//! `AuditEvent`: one recorded change.

use async_graphql::{Context, ID, Json, Object, Result};
use entity::audit_event;

use super::{
    ids::{self, NodeType},
    node::{self, Node},
};

/// A change to the data: who made it, when, to what, and the record before and after.
pub struct AuditEvent(pub audit_event::Model);

impl AuditEvent {
    fn node_type(&self) -> Option<NodeType> {
        match self.0.entity_type.as_str() {
            "Priority" => Some(NodeType::Priority),
            "Commitment" => Some(NodeType::Commitment),
            "Measure" => Some(NodeType::Measure),
            "Organisation" => Some(NodeType::Organisation),
            "CaseStudy" => Some(NodeType::CaseStudy),
            "Return" => Some(NodeType::Return),
            _ => None,
        }
    }

    fn global_id(&self) -> Option<ID> {
        let key = self.0.entity_id.parse().ok()?;
        Some(ids::encode(self.node_type()?, key))
    }
}

fn parse_json(text: &Option<String>) -> Option<Json<serde_json::Value>> {
    text.as_deref().and_then(|t| serde_json::from_str(t).ok()).map(Json)
}

/// A change to the data: who made it, when, to what, and the record before and after.
#[Object]
impl AuditEvent {
    /// Global ID, opaque: pass it to `node(id:)`.
    pub async fn id(&self) -> ID {
        ids::encode(NodeType::AuditEvent, self.0.id)
    }

    /// When the change was made.
    async fn occurred_at(&self) -> super::scalars::Timestamp {
        super::scalars::Timestamp(self.0.occurred_at)
    }

    /// The subject of the token that made it.
    async fn actor_subject(&self) -> &str {
        &self.0.actor_subject
    }

    /// The slug of the organisation the token acted for.
    async fn actor_organisation(&self) -> Option<&str> {
        self.0.actor_organisation.as_deref()
    }

    /// The mutation that made the change, e.g. `updatePriority`.
    async fn action(&self) -> &str {
        &self.0.action
    }

    /// The type of the changed object, e.g. `Priority`.
    async fn entity_type(&self) -> &str {
        &self.0.entity_type
    }

    /// The global ID of the changed object.
    async fn entity_id(&self) -> Option<ID> {
        self.global_id()
    }

    /// The changed object as it is now, if the caller may see it.
    async fn entity(&self, ctx: &Context<'_>) -> Result<Option<Node>> {
        match self.global_id() {
            Some(id) => node::resolve(ctx, &id).await,
            None => Ok(None),
        }
    }

    /// The record before the change (null for a creation).
    async fn before(&self) -> Option<Json<serde_json::Value>> {
        parse_json(&self.0.before)
    }

    /// The record after the change.
    async fn after(&self) -> Option<Json<serde_json::Value>> {
        parse_json(&self.0.after)
    }
}
