//! The audit trail: every change is recorded, in the transaction that makes it, with who
//! made it, when, and the record before and after.

use chrono::Utc;
use entity::audit_event;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde::Serialize;

use crate::{
    auth::Principal,
    catalogue::{
        Visibility,
        page::{self, Page, PageArgs},
    },
    error::{AppError, AppResult},
};

/// What kind of record an event is about (the GraphQL type name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityType {
    Priority,
    Commitment,
    Measure,
    Organisation,
    CaseStudy,
    Return,
    PeriodLock,
    IssuedToken,
    Webhook,
    Geography,
}

impl EntityType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Priority => "Priority",
            Self::Commitment => "Commitment",
            Self::Measure => "Measure",
            Self::IssuedToken => "IssuedToken",
            Self::Webhook => "Webhook",
            Self::Geography => "Geography",
            Self::Organisation => "Organisation",
            Self::CaseStudy => "CaseStudy",
            Self::Return => "Return",
            Self::PeriodLock => "PeriodLock",
        }
    }
}

fn json<T: Serialize>(value: Option<&T>) -> AppResult<Option<String>> {
    value
        .map(|v| serde_json::to_string(v).map_err(|e| AppError::Internal(format!("audit: cannot serialise: {e}"))))
        .transpose()
}

/// Records one change. Call it with the transaction the change is made in.
pub async fn record<C: ConnectionTrait, T: Serialize>(
    db: &C,
    actor: &Principal,
    action: &str,
    entity_type: EntityType,
    entity_id: i64,
    before: Option<&T>,
    after: Option<&T>,
) -> AppResult<()> {
    record_key(db, actor, action, entity_type, &entity_id.to_string(), before, after).await
}

/// Records one change to a record keyed by text (an issued token, by its id).
pub async fn record_key<C: ConnectionTrait, T: Serialize>(
    db: &C,
    actor: &Principal,
    action: &str,
    entity_type: EntityType,
    entity_id: &str,
    before: Option<&T>,
    after: Option<&T>,
) -> AppResult<()> {
    let row = audit_event::ActiveModel {
        occurred_at: Set(Utc::now()),
        actor_subject: Set(actor.subject.clone()),
        actor_organisation: Set(Some(actor.organisation.slug.clone())),
        action: Set(action.to_owned()),
        entity_type: Set(entity_type.as_str().to_owned()),
        entity_id: Set(entity_id.to_owned()),
        before: Set(json(before)?),
        after: Set(json(after)?),
        ..Default::default()
    };
    audit_event::Entity::insert(row).exec(db).await?;
    Ok(())
}

/// Filters of the `auditEvents` list.
#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub entity_type: Option<String>,
    pub entity_id: Option<i64>,
    pub organisation: Option<String>,
}

/// One audit event by its id, if the caller may read it (as `list` decides).
pub async fn by_id<C: ConnectionTrait>(
    db: &C,
    id: i64,
    visibility: &Visibility,
) -> AppResult<Option<audit_event::Model>> {
    let within = format!(
        "actor_organisation IN (SELECT slug FROM organisations WHERE id IN ({}))",
        visibility.organisations_in_review_areas()
    );
    Ok(audit_event::Entity::find_by_id(id).filter(sea_orm::sea_query::Expr::cust(within)).one(db).await?)
}

/// Audit events the caller may read: those of organisations based within its area.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    filter: &AuditFilter,
    visibility: &Visibility,
    args: PageArgs,
) -> AppResult<Page<audit_event::Model>> {
    let within = format!(
        "actor_organisation IN (SELECT slug FROM organisations WHERE id IN ({}))",
        visibility.organisations_in_review_areas()
    );
    let mut select = audit_event::Entity::find().filter(sea_orm::sea_query::Expr::cust(within));
    if let Some(t) = &filter.entity_type {
        select = select.filter(audit_event::Column::EntityType.eq(t.as_str()));
    }
    if let Some(id) = filter.entity_id {
        select = select.filter(audit_event::Column::EntityId.eq(id.to_string()));
    }
    if let Some(org) = &filter.organisation {
        select = select.filter(audit_event::Column::ActorOrganisation.eq(org.as_str()));
    }
    page::fetch(db, select, audit_event::Column::Id, |m| m.id, args).await
}
