//! Logging: structured `tracing` output, filtered by `RUST_LOG` (default `info`), as text or,
//! with `LOG_FORMAT=json`, one JSON object a line (for a log collector). Every line logged
//! while a request is served carries the request's span: its id (`x-request-id`), method,
//! path, and for GraphQL the operation and the caller's organisation.

use tracing_subscriber::{EnvFilter, fmt};

/// Installs the global subscriber; logs go to standard error so that standard output
/// carries only what a command prints (the schema, a token).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    // A second call (as in tests) keeps the first subscriber.
    if json {
        let _ = fmt()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init();
    } else {
        let _ = fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
    }
}
