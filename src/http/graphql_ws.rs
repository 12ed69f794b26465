//! Subscriptions over WebSocket at `/graphql/ws`, with the graphql-transport-ws protocol (and
//! the older graphql-ws one). The token, if any, travels in `connection_init`'s payload as
//! `{"Authorization": "Bearer <token>"}` (browsers cannot set headers on a WebSocket); one
//! that fails any check closes the connection before a subscription starts.

use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::{
    extract::{State, WebSocketUpgrade},
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

pub async fn upgrade(State(state): State<AppState>, protocol: GraphQLProtocol, ws: WebSocketUpgrade) -> Response {
    ws.protocols(ALL_WEBSOCKET_PROTOCOLS).on_upgrade(move |socket| {
        let schema = state.schema.clone();
        GraphQLWebSocket::new(socket, schema, protocol)
            .on_connection_init(move |payload| async move {
                let principal = match token_of(&payload) {
                    Some(token) => Some(
                        authenticate(&state.db.conn, &state.tokens, &token)
                            .await
                            .map_err(|e| async_graphql::Error::new(e.to_string()))?,
                    ),
                    None => None,
                };
                Ok(connection_data(&state.db.conn, principal, state.batch_window, state.events.clone()))
            })
            .serve()
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
