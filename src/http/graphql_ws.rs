//! Subscriptions over WebSocket at `/graphql/ws`, with the graphql-transport-ws protocol (and
//! the older graphql-ws one). The token, if any, travels in `connection_init`'s payload as
//! `{"Authorization": "Bearer <token>"}` (browsers cannot set headers on a WebSocket); one
//! that fails any check closes the connection before a subscription starts.
//!
//! Every operation on the socket is held to what HTTP holds it to: its token is checked again
//! before each one (expired or revoked: `UNAUTHENTICATED`), it spends the caller's allowance of
//! query cost (shared with HTTP) under the same cost and size limits, and a message is at most
//! `MAX_BODY_BYTES`. The connection closes with 4401 when its token expires and 4403 when it
//! is revoked (at once on every replica through the revocation's notification; on SQLite, a
//! revocation made by the command line is found within `REVOCATION_LOOK`). A connection holds
//! at most `WS_MAX_SUBSCRIPTIONS` operations at once, and a principal (a token's organisation
//! and subject, or an anonymous client address) at most `WS_MAX_CONNECTIONS_PER_PRINCIPAL`
//! connections.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex, atomic::Ordering},
    time::Duration,
};

use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};

use async_graphql::futures_util::{SinkExt as _, StreamExt as _};
use axum::{
    extract::{
        ConnectInfo, State, WebSocketUpgrade,
        ws::{CloseFrame, Message, close_code},
    },
    response::Response,
};

use super::{
    AppState,
    rate_limit::{Caller, RateSlot},
};
use crate::{
    auth::{
        Principal,
        session::{self, Session},
    },
    graphql::connection_data,
};

/// How often a connection looks whether its token was revoked, besides hearing of it.
pub const REVOCATION_LOOK: Duration = Duration::from_secs(15);

/// The bearer token in a `connection_init` payload: `Authorization` (any case) or `token`.
fn token_of(payload: &serde_json::Value) -> Option<String> {
    let object = payload.as_object()?;
    let value = object.iter().find(|(k, _)| k.eq_ignore_ascii_case("authorization") || *k == "token")?.1.as_str()?;
    let value = value.trim();
    let token = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ if value.eq_ignore_ascii_case("bearer") => "",
        _ => value,
    };
    (!token.is_empty()).then(|| token.to_owned())
}

/// Counts an open connection for as long as it lives.
struct Open(std::sync::Arc<std::sync::atomic::AtomicU64>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The most WebSocket connections one server process keeps open; more are answered 503.
pub const MAX_SOCKETS: u64 = 2_000;

/// The limits of WebSocket connections, and the connections each principal holds.
#[derive(Clone)]
pub struct SocketLimits {
    pub max_operations: usize,
    pub max_per_principal: usize,
    pub max_message_bytes: usize,
    held: Arc<Mutex<HashMap<Caller, usize>>>,
}

impl SocketLimits {
    pub fn new(max_operations: usize, max_per_principal: usize, max_message_bytes: usize) -> Self {
        Self { max_operations, max_per_principal, max_message_bytes, held: Arc::default() }
    }

    /// A place for one more connection of `caller`, or none when it holds its most.
    fn take(&self, caller: &Caller) -> Option<Held> {
        let mut held = self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = held.entry(caller.clone()).or_default();
        if *n >= self.max_per_principal {
            return None;
        }
        *n += 1;
        Some(Held { limits: self.clone(), caller: caller.clone() })
    }
}

/// A principal's place for one connection, given back when the connection closes.
struct Held {
    limits: SocketLimits,
    caller: Caller,
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut held = self.limits.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = held.get_mut(&self.caller) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                held.remove(&self.caller);
            }
        }
    }
}

/// Who a connection counts against: the same key as the HTTP rate limits use.
fn caller_of(principal: Option<&Principal>, address: &str) -> Caller {
    match principal {
        Some(p) => Caller::Principal(format!("{}/{}", p.organisation.slug, p.subject)),
        None => Caller::Anonymous(address.to_owned()),
    }
}

/// Ends `session` when its token expires or is revoked, whichever comes first.
async fn watch_token(state: AppState, session: Arc<Session>) {
    let Some(jti) = session.token_id.clone() else {
        session.until_ended().await;
        return;
    };
    let mut revocations = state.events.revocations();
    let expiry = async {
        match session.expires_at {
            Some(exp) => {
                let left = exp.saturating_sub(chrono::Utc::now().timestamp()).max(0);
                tokio::time::sleep(Duration::from_secs(u64::try_from(left).unwrap_or(0))).await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    let heard = async {
        loop {
            match revocations.recv().await {
                Ok(id) if id == jti => return,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
            }
        }
    };
    let looked = async {
        let mut every = tokio::time::interval(REVOCATION_LOOK);
        every.tick().await;
        loop {
            every.tick().await;
            // The connection's own upkeep, not a request's: not counted as one.
            let revoked = crate::db::in_background(session.revoked(&state.db.conn)).await;
            if revoked.unwrap_or(false) {
                return;
            }
        }
    };
    tokio::select! {
        () = expiry => session.end(session::EXPIRED, "the token has expired: open a new connection with a new token"),
        () = heard => session.end(session::REVOKED, "the token has been revoked"),
        () = looked => session.end(session::REVOKED, "the token has been revoked"),
        _ = session.until_ended() => {}
    }
}

pub async fn upgrade(
    State(state): State<AppState>,
    extensions: axum::http::Extensions,
    protocol: GraphQLProtocol,
    ws: WebSocketUpgrade,
) -> Response {
    if state.sockets.load(Ordering::SeqCst) >= MAX_SOCKETS {
        return super::graphql::error(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            crate::error::AppError::Busy(format!(
                "this server holds {MAX_SOCKETS} live connections already: try again later, or another replica"
            )),
        );
    }
    let address = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |ConnectInfo(a)| a.ip().to_string());
    let max = state.sockets_limits.max_message_bytes;
    ws.protocols(ALL_WEBSOCKET_PROTOCOLS).max_message_size(max).max_frame_size(max).on_upgrade(
        move |socket| async move {
            state.sockets.fetch_add(1, Ordering::SeqCst);
            let _open = Open(state.sockets.clone());
            let schema = state.schema.clone();
            let (mut sink, stream) = socket.split();
            // The connection's standing, once `connection_init` has said who it is.
            let (standing_tx, mut standing_rx) = tokio::sync::watch::channel::<Option<Arc<Session>>>(None);
            let standing_after = standing_tx.subscribe();
            // When the server starts to stop, or the connection's token ends, the connection reads
            // no more: its subscriptions complete and it is closed.
            let mut stopping = state.stopping.clone();
            let watched = state.clone();
            let stop = async move {
                let session = async {
                    let Ok(session) = standing_rx.wait_for(Option::is_some).await.map(|s| s.clone()) else {
                        return std::future::pending::<()>().await;
                    };
                    if let Some(session) = session {
                        watch_token(watched, session).await;
                    }
                };
                tokio::select! {
                    _ = stopping.wait_for(|s| *s) => {}
                    () = session => {}
                }
            };
            // A message that cannot be read (larger than `MAX_BODY_BYTES`, or malformed) ends
            // the connection, as HTTP answers 413 or 400; it is never skipped in silence.
            let unreadable: Arc<Mutex<Option<String>>> = Arc::default();
            let noted = unreadable.clone();
            let input = stream
                .take_while(move |m| {
                    if let Err(e) = m {
                        *noted.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(e.to_string());
                    }
                    std::future::ready(m.is_ok())
                })
                .take_until(stop);
            let stopping = state.stopping.clone();
            let db = state.db.conn.clone();
            let tokens = state.tokens.clone();
            let directory = state.directory.clone();
            let services = crate::graphql::Services {
                directory: directory.clone(),
                events: state.events.clone(),
                due: state.due,
                webhooks: state.webhooks,
                receipts: state.receipts.clone(),
                tokens: state.tokens.clone(),
            };
            let batch_window = state.batch_window;
            let limits = state.limits.clone();
            let sockets_limits = state.sockets_limits.clone();
            let held: Arc<Mutex<Option<Held>>> = Arc::default();
            let holding = held.clone();
            GraphQLWebSocket::new_with_pair(&mut sink, input, schema, protocol)
                .on_connection_init(move |payload| async move {
                    let principal = match token_of(&payload) {
                        Some(token) => {
                            let authenticated = match crate::db::versions(&db).await {
                                Ok(v) => directory.authenticate(&db, v.directory, &tokens, &token).await,
                                Err(e) => Err(crate::error::AppError::from(e)),
                            };
                            Some(authenticated.map_err(|e| async_graphql::Error::new(e.to_string()))?)
                        }
                        None => None,
                    };
                    let caller = caller_of(principal.as_ref(), &address);
                    let place = sockets_limits.take(&caller).ok_or_else(|| {
                        async_graphql::Error::new(format!(
                            "this caller holds {} connections already: close one, or subscribe on one connection",
                            sockets_limits.max_per_principal
                        ))
                    })?;
                    *holding.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(place);
                    let session = Session::new(principal.as_ref(), sockets_limits.max_operations, directory.clone());
                    let slot = Arc::new(RateSlot::new(limits, caller));
                    let _ = standing_tx.send(Some(session.clone()));
                    Ok(connection_data(&db, principal, batch_window, services, session, slot))
                })
                .serve()
                .await;
            drop(held);
            let ended = standing_after.borrow().as_ref().and_then(|s| s.ended());
            let unreadable = unreadable.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
            let frame = if let Some(why) = unreadable {
                let too_big = why.contains("too long") || why.contains("too big");
                Some(if too_big {
                    CloseFrame { code: close_code::SIZE, reason: "a message is larger than MAX_BODY_BYTES".into() }
                } else {
                    CloseFrame { code: close_code::PROTOCOL, reason: "a message could not be read".into() }
                })
            } else if *stopping.borrow() {
                Some(CloseFrame { code: close_code::AWAY, reason: "the server is stopping".into() })
            } else {
                // A close frame's reason holds at most 123 bytes.
                ended.map(|e| CloseFrame { code: e.code, reason: e.reason.chars().take(60).collect::<String>().into() })
            };
            if let Some(frame) = frame {
                let _ = sink.send(Message::Close(Some(frame))).await;
            }
            let _ = sink.close().await;
        },
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::token_of;

    #[test]
    fn the_token_is_read_as_a_header_would_be() {
        assert_eq!(token_of(&json!({"Authorization": "Bearer abc"})).as_deref(), Some("abc"));
        assert_eq!(token_of(&json!({"authorization": "bearer  abc "})).as_deref(), Some("abc"));
        assert_eq!(token_of(&json!({"token": "abc"})).as_deref(), Some("abc"));
        assert_eq!(token_of(&json!({})), None);
        assert_eq!(token_of(&json!({"Authorization": "Bearer "})), None);
        assert_eq!(token_of(&json!(null)), None);
        assert_eq!(token_of(&json!({"Authorization": 7})), None);
    }
}
