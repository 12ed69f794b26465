//! A long-lived connection's standing (a WebSocket on `/graphql/ws`): the token it was opened
//! with is checked again before every operation, as if each came over HTTP at that moment, and
//! the connection ends when the token expires or is revoked. Whoever notices first (an
//! operation's check, the connection's own watch of expiry and revocations, a subscription
//! about to send an event) ends it for all, with the WebSocket close code that says why.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use sea_orm::ConnectionTrait;
use tokio::sync::watch;

use super::{Directory, Principal};
use crate::error::{AppError, AppResult};

/// The close code of a connection whose token expired (graphql-transport-ws uses 44xx for
/// the client's mistakes; 4401 as in HTTP 401).
pub const EXPIRED: u16 = 4401;
/// The close code of a connection whose token was revoked (4403 as in HTTP 403).
pub const REVOKED: u16 = 4403;

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ending {
    pub code: u16,
    pub reason: String,
}

/// One connection's standing.
#[derive(Debug)]
pub struct Session {
    /// The token's id; none for an anonymous connection.
    pub token_id: Option<String>,
    /// When the token expires (seconds since the epoch).
    pub expires_at: Option<i64>,
    /// The most operations (subscriptions, and queries in flight) the connection may hold.
    pub max_operations: usize,
    /// The kept directory revocations are checked against, as HTTP requests are.
    directory: Arc<Directory>,
    operations: AtomicUsize,
    end: watch::Sender<Option<Ending>>,
}

impl Session {
    /// The standing of a connection opened with `principal`'s token (or none).
    pub fn new(principal: Option<&Principal>, max_operations: usize, directory: Arc<Directory>) -> Arc<Self> {
        let (end, _) = watch::channel(None);
        Arc::new(Self {
            token_id: principal.map(|p| p.token_id.clone()),
            expires_at: principal.and_then(|p| p.expires_at),
            max_operations,
            directory,
            operations: AtomicUsize::new(0),
            end,
        })
    }

    /// Ends the connection (the first reason given stands).
    pub fn end(&self, code: u16, reason: impl Into<String>) {
        let reason = reason.into();
        self.end.send_if_modified(|now| {
            if now.is_some() {
                return false;
            }
            *now = Some(Ending { code, reason });
            true
        });
    }

    /// Why the connection ended, if it has.
    pub fn ended(&self) -> Option<Ending> {
        self.end.borrow().clone()
    }

    /// Resolves when the connection ends.
    pub async fn until_ended(&self) -> Ending {
        let mut rx = self.end.subscribe();
        loop {
            if let Some(e) = rx.borrow_and_update().clone() {
                return e;
            }
            if rx.changed().await.is_err() {
                // The sender lives as long as `self`: unreachable while borrowed.
                return Ending { code: EXPIRED, reason: "the connection ended".into() };
            }
        }
    }

    /// Whether the token has expired at `now` (seconds since the epoch).
    pub fn expired_at(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|exp| now >= exp)
    }

    /// The check of every operation: the connection has not ended, its token has not expired
    /// and is not revoked (one statement). A failure ends the connection too.
    pub async fn check<C: ConnectionTrait>(&self, db: &C) -> AppResult<()> {
        if let Some(e) = self.ended() {
            return Err(AppError::Unauthenticated(e.reason));
        }
        if self.expired_at(chrono::Utc::now().timestamp()) {
            self.end(EXPIRED, "the token has expired: open a new connection with a new token");
            return Err(AppError::Unauthenticated(
                "the token has expired: open a new connection with a new token".into(),
            ));
        }
        if self.revoked(db).await? {
            return Err(AppError::Unauthenticated("the token has been revoked".into()));
        }
        Ok(())
    }

    /// Whether the connection's token is revoked now (see `Directory::revoked`); one that is
    /// ends the connection.
    pub async fn revoked<C: ConnectionTrait>(&self, db: &C) -> AppResult<bool> {
        let Some(jti) = &self.token_id else { return Ok(false) };
        let revoked = self.directory.revoked(db, jti).await?;
        if revoked {
            self.end(REVOKED, "the token has been revoked");
        }
        Ok(revoked)
    }

    /// Takes a place for one more operation, or none when the connection holds its most.
    pub fn begin_operation(self: &Arc<Self>) -> Option<OperationPlace> {
        let taken = self
            .operations
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < self.max_operations).then_some(n + 1));
        taken.ok().map(|_| OperationPlace(self.clone()))
    }
}

/// An operation's place on its connection, given back when the operation ends.
#[derive(Debug)]
pub struct OperationPlace(Arc<Session>);

impl Drop for OperationPlace {
    fn drop(&mut self) {
        self.0.operations.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::{EXPIRED, REVOKED, Session};

    #[test]
    fn the_first_reason_to_end_stands_and_places_are_given_back() {
        let s = Session::new(None, 2, std::sync::Arc::default());
        let a = s.begin_operation().expect("first");
        let _b = s.begin_operation().expect("second");
        assert!(s.begin_operation().is_none(), "a third is refused");
        drop(a);
        assert!(s.begin_operation().is_some(), "a place given back is taken again");
        s.end(REVOKED, "revoked");
        s.end(EXPIRED, "expired");
        assert_eq!(s.ended().map(|e| e.code), Some(REVOKED));
        assert!(!s.expired_at(i64::MAX), "an anonymous connection has no expiry");
    }
}
