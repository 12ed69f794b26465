//! Subscriptions over WebSocket at `/graphql/ws`, with the graphql-transport-ws protocol (and
//! the older graphql-ws one). The token, if any, travels in `connection_init`'s payload as
//! `{"Authorization": "Bearer <token>"}` (browsers cannot set headers on a WebSocket); one
//! that fails any check closes the connection before a subscription starts.

use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use std::sync::atomic::Ordering;

use async_graphql::futures_util::{SinkExt as _, StreamExt as _};
use axum::{
    extract::{
        State, WebSocketUpgrade,
        ws::{CloseFrame, Message, close_code},
    },
    response::Response,
};

use super::AppState;
use crate::{auth::authenticate, graphql::connection_data};

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

pub async fn upgrade(State(state): State<AppState>, protocol: GraphQLProtocol, ws: WebSocketUpgrade) -> Response {
    if state.sockets.load(Ordering::SeqCst) >= MAX_SOCKETS {
        return super::graphql::error(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            crate::error::AppError::Busy(format!(
                "this server holds {MAX_SOCKETS} live connections already: try again later, or another replica"
            )),
        );
    }
    ws.protocols(ALL_WEBSOCKET_PROTOCOLS).on_upgrade(move |socket| async move {
        state.sockets.fetch_add(1, Ordering::SeqCst);
        let _open = Open(state.sockets.clone());
        let schema = state.schema.clone();
        let (mut sink, stream) = socket.split();
        // When the server starts to stop, the connection reads no more: its subscriptions
        // complete and it is closed as going away.
        let mut stopping = state.stopping.clone();
        let stop = async move {
            let _ = stopping.wait_for(|s| *s).await;
        };
        let input = stream.take_until(stop);
        let stopping = state.stopping.clone();
        let db = state.db.conn.clone();
        let tokens = state.tokens.clone();
        let events = state.events.clone();
        let batch_window = state.batch_window;
        GraphQLWebSocket::new_with_pair(&mut sink, input, schema, protocol)
            .on_connection_init(move |payload| async move {
                let principal = match token_of(&payload) {
                    Some(token) => Some(
                        authenticate(&db, &tokens, &token)
                            .await
                            .map_err(|e| async_graphql::Error::new(e.to_string()))?,
                    ),
                    None => None,
                };
                Ok(connection_data(&db, principal, batch_window, events))
            })
            .serve()
            .await;
        if *stopping.borrow() {
            let frame = CloseFrame { code: close_code::AWAY, reason: "the server is stopping".into() };
            let _ = sink.send(Message::Close(Some(frame))).await;
        }
        let _ = sink.close().await;
    })
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
