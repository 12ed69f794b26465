//! Liveness, readiness and metrics.

use std::sync::atomic::Ordering;

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use migration::MigratorTrait as _;
use serde_json::json;

use super::AppState;

/// How long the health checks wait for the database.
const READY_WITHIN: std::time::Duration = std::time::Duration::from_millis(500);

/// Alive: 200 when the process serves and the database answers, 503 when it does not.
pub async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    match tokio::time::timeout(READY_WITHIN, state.db.conn.ping())
        .await
        .unwrap_or(Err(sea_orm::DbErr::Custom("no answer in time".into())))
    {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ok", "database": "ok" }))),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "unavailable", "database": "unreachable" })))
        }
    }
}

/// Ready to take traffic: the database answers, its schema has every migration this build
/// knows, and the server is not stopping. A load balancer sends requests only while this is
/// 200.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    if *state.stopping.borrow() {
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "stopping" })));
    }
    // Answered at once: a balancer asks often, and a database that does not answer in half
    // a second is not one to send traffic to.
    let ping = tokio::time::timeout(READY_WITHIN, state.db.conn.ping()).await;
    if !matches!(ping, Ok(Ok(()))) {
        tracing::error!(error = ?ping.ok().and_then(Result::err), "readiness: database unreachable");
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "unavailable", "database": "unreachable" })));
    }
    match migration::Migrator::get_pending_migrations(&state.db.conn).await {
        Ok(pending) if pending.is_empty() => {
            (StatusCode::OK, Json(json!({ "status": "ok", "database": "ok", "migrations": "current" })))
        }
        Ok(pending) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(
                json!({ "status": "unavailable", "database": "ok", "migrations": format!("{} pending", pending.len()) }),
            ),
        ),
        Err(e) => {
            tracing::error!(error = %e, "readiness: reading the migrations");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "database": "ok", "migrations": "unknown" })),
            )
        }
    }
}

/// Prometheus metrics in the text format.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let body =
        state.metrics.render(state.db.pool_state(), state.requests.load(Ordering::Relaxed), state.db.statements_run());
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body)
}
