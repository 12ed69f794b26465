//! Webhooks: an organisation registers endpoints that are told when a return it can see is
//! submitted, approved, rejected or withdrawn. Each event is queued as a delivery in the same
//! transaction as the change it tells of (so none is lost, and none is sent for a change
//! rolled back); a background task sends it (see `deliver`), signed with the hook's secret,
//! and retries it with back-off. A slow or failing endpoint never slows a submission.
//!
//! Who is told: the hooks of the organisations that can see the return, which are the
//! submitting organisation and those whose area contains it (the ICS and the pan-London
//! bodies above a borough: the approvers who may decide it).

pub mod address;
pub mod deliver;

use std::collections::HashSet;

use chrono::Utc;
use entity::{geography, organisation, return_, webhook, webhook_delivery};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder,
};

use crate::{
    audit::{self, EntityType},
    auth::{Act, OrgRef, Principal},
    catalogue::page::{self, Page, PageArgs},
    error::{AppError, AppResult, UserError},
    values::{
        DeliveryStatus, Lines, ReturnStatus, Role, UserErrorCode, WebhookEvent, describe_character,
        forbidden_character,
        global_id::{self, NodeType},
    },
};

/// At most this many webhooks an organisation.
pub const MAX_HOOKS: u64 = 20;
/// The longest URL accepted.
const MAX_URL: usize = 2_048;
/// The longest description accepted.
const MAX_DESCRIPTION: usize = 200;

/// Where webhooks may be sent, from configuration.
#[derive(Debug, Clone, Copy, Default)]
pub struct Policy {
    /// Refuse loopback, private, shared and unique-local addresses too.
    pub deny_private: bool,
}

/// What a new webhook is: where, for which events, and a note of what it is for.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    /// The organisation's slug.
    pub organisation: String,
    pub url: String,
    pub events: Vec<WebhookEvent>,
    pub description: Option<String>,
}

/// Whether `actor` manages `organisation`'s webhooks (the one rule: `auth::authority`).
fn manages(actor: &Principal, organisation: &organisation::Model) -> bool {
    actor.may(Act::ManageWebhooks(OrgRef::from(organisation)))
}

/// The organisations whose webhooks `actor` manages.
async fn managed<C: ConnectionTrait>(db: &C, actor: &Principal) -> AppResult<Vec<i64>> {
    Ok(organisation::Entity::find().all(db).await?.into_iter().filter(|o| manages(actor, o)).map(|o| o.id).collect())
}

/// The hook `id`, if `actor` manages its organisation's webhooks.
async fn managed_hook<C: ConnectionTrait>(db: &C, actor: &Principal, id: i64) -> AppResult<Option<webhook::Model>> {
    let Some(hook) = webhook::Entity::find_by_id(id).one(db).await? else { return Ok(None) };
    let owner = organisation::Entity::find_by_id(hook.organisation_id).one(db).await?;
    Ok(owner.is_some_and(|o| manages(actor, &o)).then_some(hook))
}

fn refuse(field: &str, code: UserErrorCode, message: impl Into<String>) -> Vec<UserError> {
    vec![UserError::new(&[field], code, message)]
}

/// The problem with a webhook URL, if any: `http` or `https`, a host, no user name or
/// password in it, no control characters, at most 2,048 characters, and not a literal
/// address webhooks may not reach (see `address`).
pub fn url_problem(raw: &str, deny_private: bool) -> Option<String> {
    if raw.len() > MAX_URL {
        return Some(format!("a URL has at most {MAX_URL} characters"));
    }
    if let Some(c) = forbidden_character(raw, Lines::One) {
        return Some(format!("the URL holds the control character {}", describe_character(c)));
    }
    let Ok(url) = reqwest::Url::parse(raw) else {
        return Some(format!("'{raw}' is not an absolute URL"));
    };
    if !matches!(url.scheme(), "http" | "https") {
        return Some(format!("a webhook is called over http or https, not {}", url.scheme()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Some("the URL names no host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Some("the URL may not carry a user name or password: the signature authenticates us".into());
    }
    if let Some(ip) = literal_ip(&url)
        && let Some(why) = address::refused(ip, deny_private)
    {
        return Some(format!("{ip} is {why}: webhooks are not sent there"));
    }
    if deny_private && url.host_str().is_some_and(address::is_local_name) {
        return Some("localhost is this server itself: webhooks are not sent there".into());
    }
    None
}

/// The problem with where a webhook URL's host name leads now, if any: a name that resolves
/// to an address webhooks may not reach is refused at registration (and every delivery checks
/// again). A name that does not resolve yet is accepted: it is checked when it is called.
pub async fn resolved_problem(raw: &str, deny_private: bool) -> Option<String> {
    let url = reqwest::Url::parse(raw).ok()?;
    if literal_ip(&url).is_some() {
        return None;
    }
    let host = url.host_str()?.to_owned();
    let port = url.port_or_known_default().unwrap_or(443);
    let lookup = tokio::net::lookup_host((host.as_str(), port));
    let found: Vec<std::net::SocketAddr> =
        tokio::time::timeout(std::time::Duration::from_secs(2), lookup).await.ok()?.ok()?.collect();
    found.iter().find_map(|a| {
        address::refused(a.ip(), deny_private)
            .map(|why| format!("{host} resolves to {}, {why}: webhooks are not sent there", a.ip()))
    })
}

/// The address a URL names literally, if it names one rather than a host name.
pub fn literal_ip(url: &reqwest::Url) -> Option<std::net::IpAddr> {
    url.host_str()?.trim_start_matches('[').trim_end_matches(']').parse().ok()
}

/// A new signing secret: 32 random bytes, as 64 hex digits.
fn new_secret() -> AppResult<String> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|e| AppError::Internal(format!("no randomness: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Registers a webhook; the secret is in the model, to be shown this once.
pub async fn create(
    db: &DatabaseConnection,
    actor: &Principal,
    new: NewWebhook,
    deny_private: bool,
) -> AppResult<Result<webhook::Model, Vec<UserError>>> {
    if !actor.has_role(Role::Admin) && !actor.has_role(Role::Approver) {
        return Err(AppError::Forbidden("webhooks are registered by an ADMIN or the organisation's APPROVER".into()));
    }
    let Some(org) =
        organisation::Entity::find().filter(organisation::Column::Slug.eq(new.organisation.as_str())).one(db).await?
    else {
        return Ok(Err(refuse(
            "organisation",
            UserErrorCode::NotFound,
            format!("no organisation has the slug '{}'", new.organisation),
        )));
    };
    if let Err(denied) = actor.authorise(Act::ManageWebhooks(OrgRef::from(&org))) {
        return Ok(Err(denied.user_error(&["organisation"])?));
    }
    if let Some(problem) = url_problem(&new.url, deny_private) {
        return Ok(Err(refuse("url", UserErrorCode::Invalid, problem)));
    }
    if let Some(problem) = resolved_problem(&new.url, deny_private).await {
        return Ok(Err(refuse("url", UserErrorCode::Invalid, problem)));
    }
    if new.events.is_empty() {
        return Ok(Err(refuse("events", UserErrorCode::Required, "name at least one event")));
    }
    if let Some(d) = &new.description {
        if d.chars().count() > MAX_DESCRIPTION {
            return Ok(Err(refuse(
                "description",
                UserErrorCode::TooLong,
                format!("a description has at most {MAX_DESCRIPTION} characters"),
            )));
        }
        if let Some(c) = forbidden_character(d, Lines::One) {
            return Ok(Err(refuse(
                "description",
                UserErrorCode::Invalid,
                format!("the description holds the control character {}", describe_character(c)),
            )));
        }
    }
    let tx = crate::db::begin_write(db).await?;
    if tx.get_database_backend() == sea_orm::DbBackend::Postgres {
        // One registration at a time an organisation, so that two at once cannot pass the
        // limit together (SQLite's write lock does this there).
        tx.execute_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT id FROM organisations WHERE id = $1 FOR UPDATE",
            [org.id.into()],
        ))
        .await?;
    }
    let count = webhook::Entity::find().filter(webhook::Column::OrganisationId.eq(org.id)).count(&tx).await?;
    if count >= MAX_HOOKS {
        tx.rollback().await?;
        return Ok(Err(refuse(
            "organisation",
            UserErrorCode::Conflict,
            format!("{} has {MAX_HOOKS} webhooks already: delete one first", org.name),
        )));
    }
    let mut events: Vec<WebhookEvent> = Vec::new();
    for e in new.events {
        if !events.contains(&e) {
            events.push(e);
        }
    }
    let hook = webhook::ActiveModel {
        organisation_id: Set(org.id),
        url: Set(new.url),
        secret: Set(new_secret()?),
        events: Set(events.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(",")),
        description: Set(new.description),
        created_at: Set(Utc::now()),
        created_by: Set(actor.subject.clone()),
        ..Default::default()
    }
    .insert(&tx)
    .await?;
    audit::record(&tx, actor, "createWebhook", EntityType::Webhook, hook.id, None, Some(&public(&hook))).await?;
    tx.commit().await?;
    Ok(Ok(hook))
}

/// What the audit trail keeps of a webhook: never its secret.
fn public(hook: &webhook::Model) -> serde_json::Value {
    serde_json::json!({ "organisation": hook.organisation_id, "url": hook.url, "events": hook.events })
}

/// Deletes a webhook (its deliveries stop; their log stays until the hook's own is gone).
pub async fn delete(
    db: &DatabaseConnection,
    actor: &Principal,
    id: i64,
) -> AppResult<Result<webhook::Model, Vec<UserError>>> {
    let tx = crate::db::begin_write(db).await?;
    let Some(hook) = managed_hook(&tx, actor, id).await? else {
        tx.rollback().await?;
        return Ok(Err(refuse("id", UserErrorCode::NotFound, format!("no webhook of yours has the id {id}"))));
    };
    webhook_delivery::Entity::delete_many().filter(webhook_delivery::Column::WebhookId.eq(id)).exec(&tx).await?;
    webhook::Entity::delete_by_id(id).exec(&tx).await?;
    audit::record(&tx, actor, "deleteWebhook", EntityType::Webhook, id, Some(&public(&hook)), None).await?;
    tx.commit().await?;
    Ok(Ok(hook))
}

/// The webhooks `actor` manages, oldest first: every one for an ADMIN, its organisation's
/// for an APPROVER, optionally of one organisation only.
pub async fn list(
    db: &DatabaseConnection,
    actor: &Principal,
    organisation: Option<i64>,
) -> AppResult<Vec<webhook::Model>> {
    if !actor.has_role(Role::Admin) && !actor.has_role(Role::Approver) {
        return Err(AppError::Forbidden("webhooks are seen by an ADMIN or the organisation's APPROVER".into()));
    }
    let mut select = webhook::Entity::find()
        .order_by_asc(webhook::Column::Id)
        .filter(webhook::Column::OrganisationId.is_in(managed(db, actor).await?));
    if let Some(org) = organisation {
        select = select.filter(webhook::Column::OrganisationId.eq(org));
    }
    Ok(select.all(db).await?)
}

/// One webhook, if `actor` manages it.
pub async fn by_id(db: &DatabaseConnection, actor: &Principal, id: i64) -> AppResult<Option<webhook::Model>> {
    managed_hook(db, actor, id).await
}

/// A page of a webhook's deliveries, newest first is the client's `last`; oldest first here.
pub async fn deliveries(
    db: &DatabaseConnection,
    hook: &webhook::Model,
    status: Option<DeliveryStatus>,
    args: PageArgs,
) -> AppResult<Page<webhook_delivery::Model>> {
    let mut select = webhook_delivery::Entity::find().filter(webhook_delivery::Column::WebhookId.eq(hook.id));
    if let Some(s) = status {
        select = select.filter(webhook_delivery::Column::Status.eq(s.as_str()));
    }
    page::fetch(db, select, webhook_delivery::Column::Id, |d| d.id, args).await
}

/// The events a hook is sent.
pub fn events_of(hook: &webhook::Model) -> Vec<WebhookEvent> {
    hook.events.split(',').filter_map(|e| WebhookEvent::parse(e).ok()).collect()
}

/// The event a return's status tells of.
fn event_for(status: &str) -> Option<WebhookEvent> {
    match ReturnStatus::parse(status).ok()? {
        ReturnStatus::Submitted => Some(WebhookEvent::ReturnSubmitted),
        ReturnStatus::Approved => Some(WebhookEvent::ReturnApproved),
        ReturnStatus::Rejected => Some(WebhookEvent::ReturnRejected),
        ReturnStatus::Withdrawn => Some(WebhookEvent::ReturnWithdrawn),
    }
}

/// The body of a delivery: the event and the return as it now stands (no values: those are
/// read through the API with the receiver's own token).
fn body(event: WebhookEvent, ret: &return_::Model, organisation: &str) -> String {
    #[derive(serde::Deserialize, Default)]
    struct Counts {
        accepted: i32,
        unchanged: i32,
    }
    let counts: Counts = ret.outcome.as_deref().and_then(|o| serde_json::from_str(o).ok()).unwrap_or_default();
    serde_json::json!({
        "event": event.as_str(),
        "occurredAt": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "return": {
            "id": global_id::encode(NodeType::Return, ret.id),
            "organisation": organisation,
            "status": ret.status,
            "submittedAt": ret.submitted_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "submittedBy": ret.submitted_by,
            "note": ret.note,
            "accepted": counts.accepted,
            "unchanged": counts.unchanged,
            "reviewedAt": ret.reviewed_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            "reviewedBy": ret.reviewed_by,
            "reviewNote": ret.review_note,
        },
    })
    .to_string()
}

/// Queues a delivery of the return's present status to every hook that asked for it among
/// the organisations that can see the return. Called inside the transaction that made the
/// change, so the deliveries exist exactly when the change does.
pub async fn enqueue<C: ConnectionTrait>(db: &C, ret: &return_::Model) -> Result<(), DbErr> {
    let Some(event) = event_for(&ret.status) else { return Ok(()) };
    if webhook::Entity::find().count(db).await? == 0 {
        return Ok(());
    }
    let Some(submitter) = organisation::Entity::find_by_id(ret.organisation_id).one(db).await? else {
        return Ok(());
    };
    // The submitter's area and every area above it.
    let areas = geography::Entity::find().all(db).await?;
    let mut above: HashSet<i64> = HashSet::new();
    let mut at = Some(submitter.geography_id);
    while let Some(id) = at {
        if !above.insert(id) {
            break;
        }
        at = areas.iter().find(|g| g.id == id).and_then(|g| g.parent_id);
    }
    let orgs: Vec<i64> = organisation::Entity::find()
        .filter(organisation::Column::GeographyId.is_in(above))
        .all(db)
        .await?
        .into_iter()
        .map(|o| o.id)
        .collect();
    let hooks = webhook::Entity::find().filter(webhook::Column::OrganisationId.is_in(orgs)).all(db).await?;
    let now = Utc::now();
    let text = body(event, ret, &submitter.slug);
    let rows: Vec<webhook_delivery::ActiveModel> = hooks
        .iter()
        .filter(|h| events_of(h).contains(&event))
        .map(|h| webhook_delivery::ActiveModel {
            webhook_id: Set(h.id),
            event: Set(event.as_str().to_owned()),
            return_id: Set(ret.id),
            body: Set(text.clone()),
            status: Set(DeliveryStatus::Pending.as_str().to_owned()),
            attempts: Set(0),
            next_attempt_at: Set(now),
            created_at: Set(now),
            ..Default::default()
        })
        .collect();
    if !rows.is_empty() {
        webhook_delivery::Entity::insert_many(rows).exec_without_returning(db).await?;
    }
    Ok(())
}
