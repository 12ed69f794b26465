//! Logging: structured `tracing` output, filtered by `RUST_LOG` (default `info`).

use tracing_subscriber::{EnvFilter, fmt};

/// Installs the global subscriber; logs go to standard error so that standard output
/// carries only what a command prints (the schema, a token).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    // A second call (as in tests) keeps the first subscriber.
    let _ = fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
