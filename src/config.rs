//! One typed configuration, read from the environment (or the same names as flags). Every
//! variable is listed in `.env.example`; each has a safe default for the embedded mode.

use std::{fmt, net::SocketAddr, path::PathBuf};

use clap::Args;
use secrecy::SecretString;

/// How the server finds its database, where it listens and what it allows.
#[derive(Clone, Args)]
pub struct Config {
    /// Database URL: `sqlite://PATH?mode=rwc` (embedded, the default) or `postgres://...`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://data/london-vision.db?mode=rwc",
        hide_env_values = true
    )]
    pub database_url: String,

    /// Address the HTTP server binds to.
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:8080")]
    pub listen_addr: SocketAddr,

    /// Directory for local state: the embedded database and the generated signing key.
    #[arg(long, env = "DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// Deepest nesting of fields a query may use.
    #[arg(long, env = "GRAPHQL_MAX_DEPTH", default_value_t = 15)]
    pub max_depth: usize,

    /// Highest complexity a query may have: each field counts 1, and a list counts its
    /// requested page size times the cost of one item.
    #[arg(long, env = "GRAPHQL_MAX_COMPLEXITY", default_value_t = 20_000)]
    pub max_complexity: usize,

    /// Most field selections a query may hold once its fragments are expanded, counted before
    /// it is validated or run: a short text of nested fragment spreads cannot become millions
    /// of fields.
    #[arg(long, env = "GRAPHQL_MAX_SELECTIONS", default_value_t = 10_000)]
    pub max_selections: usize,

    /// Most subscriptions one WebSocket connection may hold at once.
    #[arg(long, env = "WS_MAX_SUBSCRIPTIONS", default_value_t = 25)]
    pub ws_max_subscriptions: usize,

    /// Most WebSocket connections one principal (one token's organisation and subject, or one
    /// anonymous client address) may hold open at once.
    #[arg(long, env = "WS_MAX_CONNECTIONS_PER_PRINCIPAL", default_value_t = 20)]
    pub ws_max_connections_per_principal: usize,

    /// How long a request waits for a database connection before it is answered 503, in
    /// milliseconds.
    #[arg(long, env = "DATABASE_ACQUIRE_TIMEOUT_MS", default_value_t = 2_000)]
    pub database_acquire_timeout_ms: u64,

    /// How long a DataLoader waits for more keys before it runs a batch, in milliseconds.
    /// Longer windows batch better on a busy machine and add that much latency per level.
    #[arg(long, env = "GRAPHQL_BATCH_WINDOW_MS", default_value_t = 2)]
    pub batch_window_ms: u64,

    /// Largest request body accepted, in bytes.
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = 2 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Largest answer to a query, in bytes; a larger one is refused with QUERY_TOO_COMPLEX.
    #[arg(long, env = "MAX_RESPONSE_BYTES", default_value_t = 8 * 1024 * 1024)]
    pub max_response_bytes: usize,

    /// Memory for answers to anonymous queries, kept while the published data is unchanged,
    /// in bytes (0 keeps none).
    #[arg(long, env = "RESPONSE_CACHE_BYTES", default_value_t = 32 * 1024 * 1024)]
    pub response_cache_bytes: usize,

    /// How long a browser or proxy may reuse an anonymous `GET` answer, in seconds.
    #[arg(long, env = "HTTP_CACHE_MAX_AGE", default_value_t = 30)]
    pub http_cache_max_age: u32,

    /// Query cost a signed-in principal may spend an hour (0: no limit).
    #[arg(long, env = "RATE_LIMIT_POINTS_PER_HOUR", default_value_t = 10_000_000)]
    pub rate_limit_points_per_hour: u32,

    /// Query cost an anonymous client address may spend an hour (0: no limit).
    #[arg(long, env = "RATE_LIMIT_ANONYMOUS_POINTS_PER_HOUR", default_value_t = 5_000_000)]
    pub rate_limit_anonymous_points_per_hour: u32,

    /// Origins browsers may call from, comma-separated (`https://dashboard.example.org`), or
    /// `*` for any. Tokens travel in a header, never in cookies, so any origin is safe.
    #[arg(long, env = "CORS_ALLOWED_ORIGINS", value_delimiter = ',', default_value = "*")]
    pub cors_allowed_origins: Vec<String>,

    /// Request headers browsers may send, comma-separated, or `*` for whatever they ask.
    #[arg(long, env = "CORS_ALLOWED_HEADERS", value_delimiter = ',', default_value = "*")]
    pub cors_allowed_headers: Vec<String>,

    /// How long a browser may keep the answer to a preflight request, in seconds.
    #[arg(long, env = "CORS_MAX_AGE_SECONDS", default_value_t = 7_200)]
    pub cors_max_age_seconds: u64,

    /// The first day of the periods `dueReturns` lists for a measure without a baseline
    /// (YYYY-MM-DD).
    #[arg(long, env = "DUE_SINCE", default_value = "2019-01-01")]
    pub due_since: chrono::NaiveDate,

    /// Days after a period ends by which its values are expected (`dueReturns.deadline`);
    /// unset: no deadline.
    #[arg(long, env = "DUE_DEADLINE_DAYS")]
    pub due_deadline_days: Option<u32>,

    /// How long a webhook waits before its first retry after a failed delivery, in
    /// milliseconds; each later retry waits four times longer, at most six hours.
    #[arg(long, env = "WEBHOOK_RETRY_BASE_MS", default_value_t = 10_000)]
    pub webhook_retry_base_ms: u64,

    /// Attempts made to deliver one webhook event before it is marked `FAILED`.
    #[arg(long, env = "WEBHOOK_MAX_ATTEMPTS", default_value_t = 8)]
    pub webhook_max_attempts: u32,

    /// Allow webhooks to loopback and private addresses (for development, with a receiver on
    /// the same machine). By default they are refused, with every other address that is not
    /// public (see `webhooks::address`); link-local ones are refused even when this is set.
    #[arg(long, env = "WEBHOOK_ALLOW_PRIVATE_ADDRESSES", default_value_t = false)]
    pub webhook_allow_private_addresses: bool,

    /// How long one SQL statement may run (PostgreSQL), in milliseconds.
    #[arg(long, env = "STATEMENT_TIMEOUT_MS", default_value_t = 30_000)]
    pub statement_timeout_ms: u64,

    /// HS256 signing key. When unset, one is generated once and kept in `DATA_DIR/jwt-secret`,
    /// readable by its owner only.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<SecretString>,

    /// The Ed25519 key receipts are signed with: 64 hex digits (32 bytes). When unset, one is
    /// generated once and kept in `DATA_DIR/receipt-key`. Replicas must share it.
    #[arg(long, env = "RECEIPT_SIGNING_KEY", hide_env_values = true)]
    pub receipt_signing_key: Option<SecretString>,

    /// A PEM (one or more public keys) or JWKS file of RS256/ES256/EdDSA keys from an
    /// identity provider.
    #[arg(long, env = "JWT_PUBLIC_KEYS")]
    pub jwt_public_keys: Option<PathBuf>,

    /// The issuer (`iss`) tokens must name.
    #[arg(long, env = "JWT_ISSUER", default_value = "london-vision")]
    pub jwt_issuer: String,

    /// The audience (`aud`) tokens must name.
    #[arg(long, env = "JWT_AUDIENCE", default_value = "london-vision-api")]
    pub jwt_audience: String,

    /// The signing algorithms accepted, comma-separated (HS256, RS256, ES256, EdDSA, ...).
    /// A token's own header never widens this list.
    #[arg(long, env = "JWT_ALGORITHMS", value_delimiter = ',', default_value = "HS256")]
    pub jwt_algorithms: Vec<String>,

    /// A reference data file to seed from instead of the London Vision data built in.
    #[arg(long, env = "SEED_FILE")]
    pub seed_file: Option<PathBuf>,
}

impl Config {
    /// Settings for a test or benchmark: the given database, an OS-assigned port.
    pub fn for_tests(database_url: impl Into<String>, data_dir: PathBuf) -> Self {
        Self {
            database_url: database_url.into(),
            listen_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir,
            max_depth: 15,
            max_complexity: 20_000,
            max_selections: 10_000,
            ws_max_subscriptions: 25,
            ws_max_connections_per_principal: 20,
            database_acquire_timeout_ms: 2_000,
            batch_window_ms: 2,
            max_body_bytes: 2 * 1024 * 1024,
            max_response_bytes: 8 * 1024 * 1024,
            response_cache_bytes: 32 * 1024 * 1024,
            http_cache_max_age: 30,
            rate_limit_points_per_hour: 10_000_000,
            rate_limit_anonymous_points_per_hour: 5_000_000,
            cors_allowed_origins: vec!["*".into()],
            cors_allowed_headers: vec!["*".into()],
            cors_max_age_seconds: 7_200,
            due_since: chrono::NaiveDate::from_ymd_opt(2019, 1, 1).unwrap_or_default(),
            due_deadline_days: None,
            statement_timeout_ms: 30_000,
            webhook_retry_base_ms: 200,
            webhook_max_attempts: 4,
            webhook_allow_private_addresses: false,
            seed_file: None,
            jwt_secret: None,
            jwt_public_keys: None,
            receipt_signing_key: None,
            jwt_issuer: "london-vision".into(),
            jwt_audience: "london-vision-api".into(),
            jwt_algorithms: vec!["HS256".into()],
        }
    }

    /// The CORS policy: origins, request headers and preflight max-age from configuration.
    /// A malformed origin or header name is an error at start, not a silent omission.
    pub fn cors(&self) -> anyhow::Result<tower_http::cors::CorsLayer> {
        use axum::http::{HeaderName, HeaderValue, Method};
        use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};
        let any = |list: &[String]| list.iter().any(|v| v.trim() == "*");
        let origins = if any(&self.cors_allowed_origins) {
            AllowOrigin::any()
        } else {
            let list = self
                .cors_allowed_origins
                .iter()
                .map(|o| HeaderValue::from_str(o.trim()).map_err(|_| anyhow::anyhow!("CORS_ALLOWED_ORIGINS: '{o}'")))
                .collect::<anyhow::Result<Vec<_>>>()?;
            AllowOrigin::list(list)
        };
        let headers = if any(&self.cors_allowed_headers) {
            AllowHeaders::mirror_request()
        } else {
            let list = self
                .cors_allowed_headers
                .iter()
                .map(|h| {
                    HeaderName::from_bytes(h.trim().as_bytes())
                        .map_err(|_| anyhow::anyhow!("CORS_ALLOWED_HEADERS: '{h}'"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            AllowHeaders::list(list)
        };
        Ok(CorsLayer::new()
            .allow_origin(origins)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers(headers)
            .max_age(std::time::Duration::from_secs(self.cors_max_age_seconds)))
    }

    /// How long one SQL statement may run.
    pub fn statement_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.statement_timeout_ms.max(1))
    }

    /// The database URL with any password replaced, fit for logs.
    pub fn redacted_database_url(&self) -> String {
        redact_url(&self.database_url)
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &self.redacted_database_url())
            .field("listen_addr", &self.listen_addr)
            .field("data_dir", &self.data_dir)
            .field("max_depth", &self.max_depth)
            .field("max_complexity", &self.max_complexity)
            .field("max_selections", &self.max_selections)
            .field("ws_max_subscriptions", &self.ws_max_subscriptions)
            .field("ws_max_connections_per_principal", &self.ws_max_connections_per_principal)
            .field("database_acquire_timeout_ms", &self.database_acquire_timeout_ms)
            .field("batch_window_ms", &self.batch_window_ms)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("response_cache_bytes", &self.response_cache_bytes)
            .field("http_cache_max_age", &self.http_cache_max_age)
            .field("rate_limit_points_per_hour", &self.rate_limit_points_per_hour)
            .field("rate_limit_anonymous_points_per_hour", &self.rate_limit_anonymous_points_per_hour)
            .field("cors_allowed_origins", &self.cors_allowed_origins)
            .field("cors_allowed_headers", &self.cors_allowed_headers)
            .field("cors_max_age_seconds", &self.cors_max_age_seconds)
            .field("due_since", &self.due_since)
            .field("due_deadline_days", &self.due_deadline_days)
            .field("statement_timeout_ms", &self.statement_timeout_ms)
            .field("seed_file", &self.seed_file)
            .field("jwt_secret", &self.jwt_secret.as_ref().map(|_| "[redacted]"))
            .field("jwt_public_keys", &self.jwt_public_keys)
            .field("receipt_signing_key", &self.receipt_signing_key.as_ref().map(|_| "[redacted]"))
            .field("jwt_issuer", &self.jwt_issuer)
            .field("jwt_audience", &self.jwt_audience)
            .field("jwt_algorithms", &self.jwt_algorithms)
            .finish()
    }
}

/// `scheme://user:secret@host/db` becomes `scheme://user:***@host/db`.
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let (authority, tail) = rest.split_once('/').map_or((rest, None), |(a, t)| (a, Some(t)));
    let Some((userinfo, host)) = authority.rsplit_once('@') else { return url.to_owned() };
    let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
    let masked = if userinfo.contains(':') { format!("{user}:***") } else { user.to_owned() };
    match tail {
        Some(t) => format!("{scheme}://{masked}@{host}/{t}"),
        None => format!("{scheme}://{masked}@{host}"),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_never_reach_the_logs() {
        assert_eq!(redact_url("postgres://lv:s3cret@db:5432/lv"), "postgres://lv:***@db:5432/lv");
        assert_eq!(redact_url("postgres://postgres@127.0.0.1/test"), "postgres://postgres@127.0.0.1/test");
        assert_eq!(redact_url("sqlite://data/london-vision.db?mode=rwc"), "sqlite://data/london-vision.db?mode=rwc");
    }
}
