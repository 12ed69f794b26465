//! `webhooks`, `webhookDeliveries`, `createWebhook` and `deleteWebhook`: organisations told of
//! their returns' progress (see `crate::webhooks`). An ADMIN, or the organisation's APPROVER.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use entity::{webhook, webhook_delivery};

use super::{
    OrGql,
    connection::{self, Conn},
    cost,
    guards::{RoleGuard, actor},
    ids::{self, NodeType},
    loader,
    loaders::{OrganisationById, ReturnById},
    organisation::Organisation,
    request,
    returns::Return,
    scalars::Timestamp,
    user_error::{self, UserError},
};
use crate::values::{DeliveryStatus, Role, WebhookEvent};

pub(super) const MANAGERS: &[Role] = &[Role::Admin, Role::Approver];

/// An organisation's endpoint, sent a signed POST when a return it can see is submitted,
/// approved, rejected or withdrawn (see the README: headers, signature, retries).
pub struct Webhook(pub webhook::Model);

/// An organisation's endpoint, sent a signed POST when a return it can see is submitted,
/// approved, rejected or withdrawn (see the README: headers, signature, retries).
#[Object]
impl Webhook {
    /// Global ID, for `node(id:)`, `webhookDeliveries(webhook:)` and `deleteWebhook`.
    pub(crate) async fn id(&self) -> ID {
        ids::encode(NodeType::Webhook, self.0.id)
    }

    /// The organisation it belongs to.
    async fn organisation(&self, ctx: &Context<'_>) -> Result<Organisation> {
        loader(ctx)
            .load_one(OrganisationById(self.0.organisation_id))
            .await
            .gql()?
            .map(Organisation)
            .ok_or_else(|| async_graphql::Error::new("BUG: a webhook's organisation was not found"))
    }

    /// Where deliveries are posted.
    async fn url(&self) -> &str {
        &self.0.url
    }

    /// The events it is sent.
    async fn events(&self) -> Vec<WebhookEvent> {
        crate::webhooks::events_of(&self.0)
    }

    /// What it is for, as its registrant wrote.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    /// When it was registered.
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }

    /// Who registered it (the token's subject).
    async fn created_by(&self) -> &str {
        &self.0.created_by
    }

    /// Its deliveries, oldest first (`last` for the newest).
    #[graphql(complexity = "cost::connection(first, last, child_complexity)")]
    async fn deliveries(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only deliveries in this state.")] status: Option<DeliveryStatus>,
        #[graphql(desc = "Page size from the start (at most 100).")] first: Option<i32>,
        #[graphql(desc = "Cursor to continue after.")] after: Option<String>,
        #[graphql(desc = "Page size from the end (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Cursor to continue before.")] before: Option<String>,
    ) -> Result<Conn<WebhookDelivery>> {
        let args = connection::args(ctx, first, after, last, before)?;
        let page = crate::webhooks::deliveries(&request(ctx).db, &self.0, status, args).await.gql()?;
        Ok(connection::connection(page, WebhookDelivery))
    }
}

/// One event sent (or to be sent) to a webhook, and how its attempts went.
pub struct WebhookDelivery(pub webhook_delivery::Model);

/// One event sent (or to be sent) to a webhook, and how its attempts went.
#[Object]
impl WebhookDelivery {
    /// The delivery's id: the `X-London-Vision-Delivery` header, the same on every retry.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// What it tells of.
    async fn event(&self) -> Result<WebhookEvent> {
        WebhookEvent::parse(&self.0.event).map_err(|e| async_graphql::Error::new(format!("BUG: {}", e.0)))
    }

    /// Where it stands.
    async fn status(&self) -> Result<DeliveryStatus> {
        DeliveryStatus::parse(&self.0.status).map_err(|e| async_graphql::Error::new(format!("BUG: {}", e.0)))
    }

    /// The return it tells of; null if the caller may no longer see it.
    #[graphql(name = "return")]
    async fn return_(&self, ctx: &Context<'_>) -> Result<Option<Return>> {
        Ok(loader(ctx).load_one(ReturnById(self.0.return_id)).await.gql()?.map(Return))
    }

    /// The JSON body sent, byte for byte: what the signature covers.
    async fn body(&self) -> &str {
        &self.0.body
    }

    /// Attempts made so far.
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }

    /// When it was queued (in the same transaction as the change it tells of).
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }

    /// When the last attempt was made; null before the first.
    async fn last_attempt_at(&self) -> Option<Timestamp> {
        self.0.last_attempt_at.map(Timestamp)
    }

    /// When the next attempt is due; null once delivered or failed.
    async fn next_attempt_at(&self) -> Option<Timestamp> {
        (self.0.status == DeliveryStatus::Pending.as_str()).then_some(Timestamp(self.0.next_attempt_at))
    }

    /// When the endpoint accepted it (a 2xx answer); null until then.
    async fn delivered_at(&self) -> Option<Timestamp> {
        self.0.delivered_at.map(Timestamp)
    }

    /// The HTTP status of the last answer; null when there was none.
    async fn response_status(&self) -> Option<i32> {
        self.0.response_status
    }

    /// The first 1,000 characters of the last answer's body.
    async fn response_body(&self) -> Option<&str> {
        self.0.response_body.as_deref()
    }

    /// Why the last attempt failed (no answer, or a status outside 2xx); null after success.
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
}

/// A webhook to register.
#[derive(InputObject)]
pub struct CreateWebhookInput {
    /// The organisation it is for (its slug): the caller's own, unless an ADMIN.
    pub organisation: String,
    /// Where to post: an `http` or `https` URL without a user name or password.
    pub url: String,
    /// The events to send (at least one).
    pub events: Vec<WebhookEvent>,
    /// What it is for (at most 200 characters).
    pub description: Option<String>,
}

/// The result of `createWebhook`.
#[derive(SimpleObject)]
pub struct CreateWebhookPayload {
    /// The webhook registered; null when nothing was.
    pub webhook: Option<Webhook>,
    /// The key of the HMAC-SHA256 that signs each delivery (`X-London-Vision-Signature-256`).
    /// Shown this once.
    pub secret: Option<String>,
    /// Why nothing was registered.
    pub user_errors: Vec<UserError>,
}

/// A webhook to delete.
#[derive(InputObject)]
pub struct DeleteWebhookInput {
    /// The webhook's global ID.
    pub id: ID,
}

/// The result of `deleteWebhook`.
#[derive(SimpleObject)]
pub struct DeleteWebhookPayload {
    /// The global ID of the webhook deleted; null when nothing was.
    pub deleted_webhook_id: Option<ID>,
    /// Why nothing was deleted.
    pub user_errors: Vec<UserError>,
}

/// Webhook administration.
#[derive(Default)]
pub struct WebhookMutation;

/// Webhook administration.
#[Object]
impl WebhookMutation {
    /// Registers a webhook for an organisation; its signing secret is in the payload this
    /// once. An ADMIN, or an APPROVER of that organisation; audited.
    #[graphql(guard = "RoleGuard(MANAGERS)")]
    async fn create_webhook(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of `CreateWebhookInput`.")] input: CreateWebhookInput,
    ) -> Result<CreateWebhookPayload> {
        let new = crate::webhooks::NewWebhook {
            organisation: input.organisation,
            url: input.url,
            events: input.events,
            description: input.description,
        };
        let policy = ctx.data_opt::<crate::webhooks::Policy>().copied().unwrap_or_default();
        Ok(match crate::webhooks::create(&request(ctx).db, actor(ctx)?, new, policy.deny_private).await.gql()? {
            Ok(hook) => {
                let secret = hook.secret.clone();
                CreateWebhookPayload { webhook: Some(Webhook(hook)), secret: Some(secret), user_errors: Vec::new() }
            }
            Err(errors) => CreateWebhookPayload { webhook: None, secret: None, user_errors: user_error::all(errors) },
        })
    }

    /// Deletes a webhook and its deliveries. An ADMIN, or an APPROVER of its organisation;
    /// audited.
    #[graphql(guard = "RoleGuard(MANAGERS)")]
    async fn delete_webhook(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: the fields of `DeleteWebhookInput`.")] input: DeleteWebhookInput,
    ) -> Result<DeleteWebhookPayload> {
        let key = match ids::decode(&input.id) {
            Ok((NodeType::Webhook, key)) => key,
            _ => {
                let e = crate::error::UserError::new(
                    &["id"],
                    crate::values::UserErrorCode::NotFound,
                    format!("'{}' is not a webhook's ID", input.id.as_str()),
                );
                return Ok(DeleteWebhookPayload { deleted_webhook_id: None, user_errors: user_error::all(vec![e]) });
            }
        };
        Ok(match crate::webhooks::delete(&request(ctx).db, actor(ctx)?, key).await.gql()? {
            Ok(hook) => DeleteWebhookPayload {
                deleted_webhook_id: Some(ids::encode(NodeType::Webhook, hook.id)),
                user_errors: Vec::new(),
            },
            Err(errors) => DeleteWebhookPayload { deleted_webhook_id: None, user_errors: user_error::all(errors) },
        })
    }
}

/// `webhooks`, for the query root.
pub async fn list(ctx: &Context<'_>, organisation: Option<String>) -> Result<Vec<Webhook>> {
    let r = request(ctx);
    let org = match organisation {
        None => None,
        Some(slug) => {
            let found = entity::organisation::Entity::find()
                .filter(entity::organisation::Column::Slug.eq(slug.as_str()))
                .one(&r.db)
                .await?;
            match found {
                Some(o) => Some(o.id),
                None => return Ok(Vec::new()),
            }
        }
    };
    Ok(crate::webhooks::list(&r.db, actor(ctx)?, org).await.gql()?.into_iter().map(Webhook).collect())
}

/// The webhook a global ID names, if the caller manages it.
pub async fn by_id(ctx: &Context<'_>, id: &ID) -> Result<Option<Webhook>> {
    let Some(principal) = request(ctx).principal.as_ref() else { return Ok(None) };
    let key = match ids::decode(id) {
        Ok((NodeType::Webhook, key)) => key,
        _ => return Ok(None),
    };
    Ok(crate::webhooks::by_id(&request(ctx).db, principal, key).await.gql()?.map(Webhook))
}

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
