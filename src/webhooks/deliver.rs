//! Sending queued deliveries: a background task claims the deliveries that are due (on
//! PostgreSQL with `SKIP LOCKED`, so replicas share the queue without sending one twice),
//! posts each to its hook signed with the hook's secret, and records the answer. A failed
//! attempt (no answer within the timeout, or a status outside 2xx) is tried again after a
//! back-off that grows four-fold each time (at most six hours) until the attempts run out.
//!
//! Each request carries:
//! - `X-London-Vision-Event`: the event (`RETURN_APPROVED`, ...);
//! - `X-London-Vision-Delivery`: the delivery's id (the same on every retry: receivers use it
//!   to ignore a repeat);
//! - `X-London-Vision-Signature-256`: `sha256=` and the hex HMAC-SHA256 of the body, keyed
//!   with the hook's secret (compare it in constant time).
//!
//! Redirects are not followed, and at most 1,000 characters of an answer are kept.

use std::time::Duration;

use chrono::Utc;
use entity::{webhook, webhook_delivery};
use hmac::{Hmac, Mac};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait, sea_query::Expr,
};
use sha2::Sha256;

use crate::values::DeliveryStatus;

/// Deliveries claimed (and sent at once) each round.
const CLAIM: u64 = 16;
/// How long a claimed delivery is held before another worker may take it again (the
/// longest an attempt can take, with room to spare).
const LEASE: Duration = Duration::from_secs(60);
/// How long one attempt waits for an answer.
const TIMEOUT: Duration = Duration::from_secs(10);
/// How often the queue is looked at.
const POLL: Duration = Duration::from_millis(500);
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);
/// How much of an answer's body is kept: a short excerpt to tell one failure from another,
/// never the receiver's whole answer.
const KEEP: usize = 200;

/// The signature header's value for `body` under `secret`: `sha256=` and 64 hex digits.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    format!("sha256={}", digest.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// The wait before the attempt after `attempts` failed ones: `base` × 4^(attempts − 1), at
/// most six hours.
pub fn backoff(base: Duration, attempts: u32) -> Duration {
    let factor = 4u32.saturating_pow(attempts.saturating_sub(1));
    base.saturating_mul(factor).min(MAX_BACKOFF)
}

/// How deliveries are retried.
#[derive(Debug, Clone, Copy)]
pub struct Retries {
    pub base: Duration,
    pub max_attempts: u32,
    /// Refuse private addresses too (see `address`).
    pub deny_private: bool,
}

/// Runs the sender until the process stops.
pub fn start(db: DatabaseConnection, retries: Retries) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        // Straight to the checked address: a proxy would make the connection elsewhere.
        .no_proxy()
        .user_agent(concat!("london-vision-webhooks/", env!("CARGO_PKG_VERSION")))
        .dns_resolver(std::sync::Arc::new(super::address::GuardedResolver { deny_private: retries.deny_private }))
        .build()?;
    Ok(tokio::spawn(crate::db::in_background(async move {
        loop {
            match round(&db, &client, retries).await {
                // A full round: there may be more waiting.
                Ok(n) if n as u64 == CLAIM => continue,
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "webhook deliveries could not be read"),
            }
            tokio::time::sleep(POLL).await;
        }
    })))
}

/// Claims the due deliveries and sends them; returns how many were claimed.
async fn round(db: &DatabaseConnection, client: &reqwest::Client, retries: Retries) -> Result<usize, sea_orm::DbErr> {
    let now = Utc::now();
    // Most rounds find nothing: one light statement then, outside any transaction.
    let any = webhook_delivery::Entity::find()
        .select_only()
        .column(webhook_delivery::Column::Id)
        .filter(webhook_delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
        .filter(webhook_delivery::Column::NextAttemptAt.lte(now))
        .limit(1)
        .into_tuple::<i64>()
        .one(db)
        .await?;
    if any.is_none() {
        return Ok(0);
    }
    let tx = db.begin().await?;
    let mut due = webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
        .filter(webhook_delivery::Column::NextAttemptAt.lte(now))
        .order_by_asc(webhook_delivery::Column::NextAttemptAt)
        .order_by_asc(webhook_delivery::Column::Id)
        .limit(CLAIM);
    if tx.get_database_backend() == DbBackend::Postgres {
        due =
            due.lock_with_behavior(sea_orm::sea_query::LockType::Update, sea_orm::sea_query::LockBehavior::SkipLocked);
    }
    let claimed = due.all(&tx).await?;
    if claimed.is_empty() {
        tx.rollback().await?;
        return Ok(0);
    }
    let lease = now + chrono::Duration::from_std(LEASE).unwrap_or_default();
    webhook_delivery::Entity::update_many()
        .col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(lease))
        .filter(webhook_delivery::Column::Id.is_in(claimed.iter().map(|d| d.id)))
        .exec(&tx)
        .await?;
    tx.commit().await?;
    let hooks =
        webhook::Entity::find().filter(webhook::Column::Id.is_in(claimed.iter().map(|d| d.webhook_id))).all(db).await?;
    let count = claimed.len();
    let mut sends = tokio::task::JoinSet::new();
    for d in claimed {
        // A hook deleted meanwhile takes its deliveries with it.
        let Some(hook) = hooks.iter().find(|h| h.id == d.webhook_id).cloned() else { continue };
        let (db, client) = (db.clone(), client.clone());
        sends.spawn(crate::db::in_background(async move {
            let result = attempt(&client, &hook, &d, retries.deny_private).await;
            record(&db, &d, result, retries).await
        }));
    }
    while let Some(done) = sends.join_next().await {
        done.map_err(|e| sea_orm::DbErr::Custom(format!("a webhook delivery stopped: {e}")))??;
    }
    Ok(count)
}

/// What one attempt got: the answer's status and the start of its body, or why there was none.
type Attempt = Result<(u16, String), String>;

async fn attempt(
    client: &reqwest::Client,
    hook: &webhook::Model,
    d: &webhook_delivery::Model,
    deny_private: bool,
) -> Attempt {
    // A literal address is not resolved, so it is checked here (the policy may have changed
    // since the hook was registered).
    if let Some(ip) = reqwest::Url::parse(&hook.url).ok().as_ref().and_then(super::literal_ip)
        && let Some(why) = super::address::refused(ip, deny_private)
    {
        return Err(format!("{ip} is {why}: not sent"));
    }
    if deny_private
        && reqwest::Url::parse(&hook.url)
            .ok()
            .as_ref()
            .and_then(reqwest::Url::host_str)
            .is_some_and(super::address::is_local_name)
    {
        return Err("localhost is this server itself: not sent".into());
    }
    let response = client
        .post(&hook.url)
        .header("content-type", "application/json")
        .header("x-london-vision-event", &d.event)
        .header("x-london-vision-delivery", d.id.to_string())
        .header("x-london-vision-signature-256", signature(&hook.secret, d.body.as_bytes()))
        .body(d.body.clone())
        .send()
        .await
        .map_err(describe)?;
    let status = response.status().as_u16();
    let mut kept = Vec::new();
    let mut response = response;
    while kept.len() < KEEP {
        match response.chunk().await {
            Ok(Some(chunk)) => kept.extend_from_slice(&chunk[..chunk.len().min(KEEP - kept.len())]),
            Ok(None) | Err(_) => break,
        }
    }
    let text: String = String::from_utf8_lossy(&kept).chars().filter(|c| !c.is_control() || *c == '\n').collect();
    Ok((status, text))
}

/// A short account of a failed request, without the URL (it is on the hook).
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let kind = if e.is_timeout() {
        "no answer in time"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "the request failed"
    };
    let mut text = format!("{kind}: {e}");
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text.chars().take(KEEP).collect()
}

async fn record(
    db: &DatabaseConnection,
    d: &webhook_delivery::Model,
    result: Attempt,
    retries: Retries,
) -> Result<(), sea_orm::DbErr> {
    let now = Utc::now();
    let attempts = d.attempts + 1;
    let delivered = matches!(&result, Ok((status, _)) if (200..300).contains(status));
    let status = if delivered {
        DeliveryStatus::Delivered
    } else if u32::try_from(attempts).unwrap_or(u32::MAX) >= retries.max_attempts {
        DeliveryStatus::Failed
    } else {
        DeliveryStatus::Pending
    };
    let wait = backoff(retries.base, u32::try_from(attempts).unwrap_or(u32::MAX));
    let next = now + chrono::Duration::from_std(wait).unwrap_or_default();
    let (response_status, response_body, error) = match result {
        Ok((code, body)) => {
            let error = (!delivered).then(|| format!("the endpoint answered {code}"));
            (Some(i32::from(code)), Some(body), error)
        }
        Err(e) => (None, None, Some(e)),
    };
    match status {
        DeliveryStatus::Delivered => {
            tracing::info!(delivery = d.id, hook = d.webhook_id, attempts, "webhook delivered")
        }
        _ => tracing::warn!(
            delivery = d.id,
            hook = d.webhook_id,
            attempts,
            error = error.as_deref(),
            "webhook delivery failed"
        ),
    }
    webhook_delivery::Entity::update_many()
        .col_expr(webhook_delivery::Column::Status, Expr::value(status.as_str()))
        .col_expr(webhook_delivery::Column::Attempts, Expr::value(attempts))
        .col_expr(webhook_delivery::Column::LastAttemptAt, Expr::value(now))
        .col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(next))
        .col_expr(webhook_delivery::Column::ResponseStatus, Expr::value(response_status))
        .col_expr(webhook_delivery::Column::ResponseBody, Expr::value(response_body))
        .col_expr(webhook_delivery::Column::Error, Expr::value(error))
        .col_expr(webhook_delivery::Column::DeliveredAt, Expr::value(delivered.then_some(now)))
        .filter(webhook_delivery::Column::Id.eq(d.id))
        .exec(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{backoff, signature};

    #[test]
    fn the_signature_is_the_hmac_sha256_of_the_body_in_hex() {
        // RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn each_wait_is_four_times_the_last_up_to_six_hours() {
        let base = Duration::from_secs(10);
        assert_eq!(backoff(base, 1), Duration::from_secs(10));
        assert_eq!(backoff(base, 2), Duration::from_secs(40));
        assert_eq!(backoff(base, 3), Duration::from_secs(160));
        assert_eq!(backoff(base, 9), Duration::from_secs(6 * 3600));
        assert_eq!(backoff(base, u32::MAX), Duration::from_secs(6 * 3600));
    }
}
