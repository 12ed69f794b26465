//! The HTTP surface: `POST`/`GET /graphql`, GraphiQL for browsers, `/healthz`, `/metrics`.

mod exports;
mod graphiql;
mod graphql;
mod graphql_ws;
mod health;
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
    http::{HeaderName, Method, header},
    middleware::{self, Next},
    response::Response,
    routing::{get, post},
};
use tower_http::{
    cors::{AllowHeaders, Any, CorsLayer},
    limit::RequestBodyLimitLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    timeout::TimeoutLayer,
    trace::TraceLayer,
};

use crate::{auth::TokenService, db::Database, graphql::AppSchema};

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
}

/// How many CSV returns are processed at once; more are answered 429.
pub const MAX_CONCURRENT_UPLOADS: usize = 4;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The largest CSV return accepted, in bytes (about 400,000 rows).
pub const MAX_CSV_BYTES: usize = 64 * 1024 * 1024;

pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    // Any origin may call (tokens travel in a header, never in cookies); a browser may send
    // whatever request headers its client needs, keep the answer to its preflight for two
    // hours, and read the headers that tell it what happened.
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers(AllowHeaders::mirror_request())
        .max_age(Duration::from_secs(2 * 60 * 60))
        .expose_headers([
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
        .route("/metrics", get(health::metrics))
        .layer(RequestBodyLimitLayer::new(max_body_bytes));
    api.merge(csv)
        .layer(middleware::from_fn_with_state(state.clone(), count_requests))
        .layer(TimeoutLayer::with_status_code(axum::http::StatusCode::REQUEST_TIMEOUT, Duration::from_secs(60)))
        .layer(cors)
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http())
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

async fn count_requests(State(state): State<AppState>, request: Request, next: Next) -> Response {
    state.requests.fetch_add(1, Ordering::Relaxed);
    next.run(request).await
}
