//! Liveness and metrics.

use std::sync::atomic::Ordering;

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use serde_json::json;

use super::AppState;

/// 200 when the database answers, 503 when it does not.
pub async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    match state.db.conn.ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ok", "database": "ok" }))),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "unavailable", "database": "unreachable" })))
        }
    }
}

/// Counters in the Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let body = format!(
        "# HELP london_vision_http_requests_total HTTP requests received.\n\
         # TYPE london_vision_http_requests_total counter\n\
         london_vision_http_requests_total {}\n\
         # HELP london_vision_sql_statements_total SQL statements run against the database.\n\
         # TYPE london_vision_sql_statements_total counter\n\
         london_vision_sql_statements_total {}\n",
        state.requests.load(Ordering::Relaxed),
        state.db.statements_run(),
    );
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}
