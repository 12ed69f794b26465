//! What happened to returns, told to the live subscriptions of every server process.
//!
//! A write that commits (a return submitted, approved, rejected or withdrawn) is announced
//! once. On PostgreSQL the announcement is a `NOTIFY` on the channel `london_vision_events`;
//! every process (this one too) `LISTEN`s on a connection of its own and passes what it hears
//! to its subscribers, so a client connected to one replica hears of a return approved
//! through another. On SQLite (one process) the announcement goes straight to the
//! subscribers. An event carries ids only: each subscriber reads what it may see.

use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// The PostgreSQL channel events travel on.
pub const CHANNEL: &str = "london_vision_events";
/// The PostgreSQL channel revoked tokens' ids travel on, so that every process closes the
/// connections opened with them at once.
pub const REVOCATIONS: &str = "london_vision_revocations";

/// How many events a slow subscriber may fall behind before it misses some.
const BACKLOG: usize = 1024;

/// A return changed status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The return's database id.
    pub return_id: i64,
    /// Its status now: `SUBMITTED`, `APPROVED`, `REJECTED` or `WITHDRAWN`.
    pub status: String,
}

impl Event {
    /// The event of a submission's outcome: a return written, not a dry run or a replay.
    pub fn of_submission(outcome: &crate::returns::SubmitOutcome) -> Option<Self> {
        let id = outcome.return_id.filter(|_| !outcome.replayed)?;
        Some(Self { return_id: id, status: "SUBMITTED".into() })
    }
}

/// The process's subscribers, and how to reach those of every process.
#[derive(Clone)]
pub struct Events {
    local: broadcast::Sender<Event>,
    revoked: broadcast::Sender<String>,
    db: DatabaseConnection,
}

impl Events {
    /// Starts listening (on PostgreSQL) for events announced by any process.
    pub async fn start(db: &DatabaseConnection) -> anyhow::Result<Self> {
        let (local, _) = broadcast::channel(BACKLOG);
        let (revoked, _) = broadcast::channel(BACKLOG);
        let events = Self { local, revoked, db: db.clone() };
        if db.get_database_backend() == DbBackend::Postgres {
            let pool = db.get_postgres_connection_pool().clone();
            let mut listener = sea_orm::sqlx::postgres::PgListener::connect_with(&pool).await?;
            listener.listen_all([CHANNEL, REVOCATIONS]).await?;
            let local = events.local.clone();
            let revoked = events.revoked.clone();
            tokio::spawn(async move {
                loop {
                    // `recv` reconnects by itself when the connection drops; an event sent
                    // while it was down is missed, as with any live feed.
                    match listener.recv().await {
                        Ok(n) if n.channel() == REVOCATIONS => {
                            let _ = revoked.send(n.payload().to_owned());
                        }
                        Ok(n) => match serde_json::from_str::<Event>(n.payload()) {
                            Ok(event) => {
                                let _ = local.send(event);
                            }
                            Err(e) => tracing::warn!(error = %e, "an event that does not parse"),
                        },
                        Err(e) => {
                            tracing::warn!(error = %e, "listening for events");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                }
            });
        }
        Ok(events)
    }

    /// Tells every process's subscribers of an event, after its write has committed.
    pub async fn announce(&self, event: Event) {
        if self.db.get_database_backend() == DbBackend::Postgres {
            if let Err(e) = notify(&self.db, &event).await {
                tracing::warn!(error = %e, ?event, "announcing an event");
            }
        } else {
            let _ = self.local.send(event);
        }
    }

    /// The events of this process from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.local.subscribe()
    }

    /// Tells every process that the token `jti` is revoked, after the revocation committed.
    pub async fn announce_revocation(&self, jti: &str) {
        if self.db.get_database_backend() == DbBackend::Postgres {
            if let Err(e) = notify_revocation(&self.db, jti).await {
                tracing::warn!(error = %e, "announcing a revocation");
            }
        } else {
            let _ = self.revoked.send(jti.to_owned());
        }
    }

    /// The ids of tokens revoked from now on.
    pub fn revocations(&self) -> broadcast::Receiver<String> {
        self.revoked.subscribe()
    }
}

/// Announces a revocation on PostgreSQL (a no-op elsewhere, where connections find it by
/// looking): for `london-vision token revoke`.
pub async fn notify_revocation<C: ConnectionTrait>(db: &C, jti: &str) -> Result<(), sea_orm::DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_notify($1, $2)",
        [REVOCATIONS.into(), jti.to_owned().into()],
    ))
    .await?;
    Ok(())
}

/// Announces an event on PostgreSQL (a no-op elsewhere): for writers outside the server,
/// such as `london-vision import`.
pub async fn notify<C: ConnectionTrait>(db: &C, event: &Event) -> Result<(), sea_orm::DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let payload = serde_json::to_string(event).unwrap_or_default();
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_notify($1, $2)",
        [CHANNEL.into(), payload.into()],
    ))
    .await?;
    Ok(())
}
