//! The HTTP surface: `POST`/`GET /graphql`, GraphiQL for browsers, `/healthz`, `/metrics`.

mod exports;
mod graphiql;
mod graphql;
pub mod graphql_ws;
mod health;
pub mod metrics;
pub mod persisted;
pub mod rate_limit;
pub mod response_cache;
pub mod returns_csv;

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::{
    Router,
    extract::{Request, State},
    http::{HeaderName, HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse as _, Response},
    routing::{get, post},
};
use tower_http::{
    cors::CorsLayer,
    limit::RequestBodyLimitLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    timeout::TimeoutLayer,
    trace::{DefaultOnResponse, TraceLayer},
};

use crate::{auth::TokenService, db::Database, error::code, graphql::AppSchema};

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub schema: AppSchema,
    pub db: Database,
    pub requests: Arc<AtomicU64>,
    pub batch_window: Duration,
    pub tokens: Arc<TokenService>,
    /// Where CSV uploads are spooled while they are checked and written.
    pub upload_dir: std::path::PathBuf,
    /// The largest answer to a query, in bytes.
    pub max_response_bytes: usize,
    /// Places for CSV uploads being processed at once.
    pub uploads: Arc<tokio::sync::Semaphore>,
    /// Query texts sent with their hash (automatic persisted queries).
    pub persisted: Arc<persisted::PersistedQueries>,
    /// Answers to anonymous queries, kept while the published data is unchanged.
    pub responses: Arc<response_cache::ResponseCache>,
    /// `max-age` of an anonymous `GET` answer, in seconds.
    pub http_max_age: u32,
    /// Each caller's allowance of query cost.
    pub limits: Arc<rate_limit::RateLimits>,
    /// Returns' changes, for live subscriptions on every process.
    pub events: crate::events::Events,
    /// Turns true when the server starts to stop: WebSocket connections close then.
    pub stopping: tokio::sync::watch::Receiver<bool>,
    /// WebSocket connections open now.
    pub sockets: Arc<AtomicU64>,
    /// Prometheus metrics.
    pub metrics: Arc<metrics::Metrics>,
    /// Which periods `dueReturns` lists.
    pub due: crate::returns::due::DueRules,
    /// Where webhooks may be sent.
    pub webhooks: crate::webhooks::Policy,
    /// The key receipts are signed with.
    pub receipts: Arc<crate::receipts::ReceiptKeys>,
    /// Who is who, kept in memory and checked against the database's directory version.
    pub directory: Arc<crate::auth::Directory>,
    /// The limits of WebSocket connections, and who holds how many.
    pub sockets_limits: graphql_ws::SocketLimits,
}

/// How many CSV returns are processed at once; more are answered 429.
pub const MAX_CONCURRENT_UPLOADS: usize = 4;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The largest CSV return accepted, in bytes (about 400,000 rows).
pub const MAX_CSV_BYTES: usize = 64 * 1024 * 1024;

/// The routes and their layers. `cors` says which origins and request headers browsers may
/// use (from configuration); browsers may always read the headers that say what happened.
pub fn router(state: AppState, max_body_bytes: usize, cors: CorsLayer) -> Router {
    let cors = cors.expose_headers([
        REQUEST_ID,
        header::ETAG,
        header::RETRY_AFTER,
        HeaderName::from_static("x-ratelimit-limit"),
        HeaderName::from_static("x-ratelimit-remaining"),
        HeaderName::from_static("x-ratelimit-reset"),
    ]);
    // A CSV return may be far larger than a GraphQL request: the handler counts it against
    // its own limit as it spools it, and answers 413 as JSON.
    let csv = Router::new().route("/returns.csv", post(returns_csv::post));
    let api = Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/graphiql/{file}", get(graphiql::asset))
        .route("/graphql/ws", get(graphql_ws::upgrade))
        .route("/picture.csv", get(exports::picture))
        .route("/observations.csv", get(exports::observations))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route(
            "/.well-known/jwks.json",
            get(|State(state): State<AppState>| async move {
                let mut r = axum::Json(state.receipts.jwks()).into_response();
                r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
                r
            }),
        )
        .route(
            "/scalars/Period",
            get(|| async { ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], crate::values::period::GRAMMAR) }),
        )
        .route("/metrics", get(health::metrics))
        // `MAX_BODY_BYTES` is the one limit: axum's own 2 MiB default for extracted bodies
        // would otherwise refuse a larger body the configuration allows.
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(max_body_bytes));
    api.merge(csv)
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(middleware::from_fn_with_state(state.clone(), count_requests))
        .layer(TimeoutLayer::with_status_code(axum::http::StatusCode::REQUEST_TIMEOUT, Duration::from_secs(60)))
        .layer(middleware::from_fn(json_errors))
        .layer(cors)
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    let id = request.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
                    tracing::info_span!(
                        "request",
                        id = %id,
                        method = %request.method(),
                        path = %request.uri().path(),
                        operation = tracing::field::Empty,
                        org = tracing::field::Empty,
                    )
                })
                .on_request(())
                .on_response(
                    DefaultOnResponse::new().level(tracing::Level::INFO).latency_unit(tower_http::LatencyUnit::Millis),
                ),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

async fn count_requests(State(state): State<AppState>, request: Request, next: Next) -> Response {
    state.requests.fetch_add(1, Ordering::Relaxed);
    next.run(request).await
}

/// Every error leaves as JSON with its `extensions.code`, whichever layer produced it: the
/// body limit's 413, the router's 404 and 405, a timeout's 408, and anything else that is
/// not JSON already. The status is kept; headers such as `Allow` and `Retry-After` too.
async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json =
        response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|ct| {
            ct.starts_with("application/json") || ct.starts_with("application/graphql-response+json")
        });
    if is_json {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let (code, message) = match status {
        StatusCode::NOT_FOUND => (code::NOT_FOUND, "nothing is served at this address: the API is at /graphql".into()),
        StatusCode::METHOD_NOT_ALLOWED => {
            let allow = parts.headers.get(header::ALLOW).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
            (code::BAD_USER_INPUT, format!("this address does not take that method; it takes {allow}"))
        }
        StatusCode::PAYLOAD_TOO_LARGE => (
            code::BAD_USER_INPUT,
            "the request body is larger than the server accepts (MAX_BODY_BYTES; CSV returns go to \
             /returns.csv)"
                .into(),
        ),
        StatusCode::REQUEST_TIMEOUT => {
            (code::SERVICE_UNAVAILABLE, "the request took longer than the server allows".into())
        }
        StatusCode::UNAUTHORIZED => (code::UNAUTHENTICATED, "a valid token is needed".into()),
        StatusCode::FORBIDDEN => (code::FORBIDDEN, "not allowed".into()),
        StatusCode::TOO_MANY_REQUESTS => (code::RATE_LIMITED, "too many requests: try again later".into()),
        s if s.is_server_error() => (code::INTERNAL_SERVER_ERROR, "internal server error".into()),
        s => (code::BAD_USER_INPUT, s.canonical_reason().unwrap_or("bad request").to_lowercase()),
    };
    let body = serde_json::json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(body.to_string()))
}
