//! Building the application: one way to start it, for production and tests alike.

use std::{net::SocketAddr, sync::Arc};

use anyhow::Context as _;
use tokio::net::TcpListener;

use crate::{
    auth::TokenService,
    catalogue::seed,
    config::Config,
    db::Database,
    graphql,
    http::{self, AppState},
};

/// A migrated, seeded database behind a bound listener, ready to serve.
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    addr: SocketAddr,
    stopping: tokio::sync::watch::Sender<bool>,
    sockets: Arc<std::sync::atomic::AtomicU64>,
}

impl Application {
    /// Connects and migrates the database, loads the reference data if the database is
    /// empty, and binds the listener (port 0 binds a free port).
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        let db = Database::connect_with(
            &config.database_url,
            config.statement_timeout(),
            std::time::Duration::from_millis(config.database_acquire_timeout_ms.max(1)),
        )
        .await?;
        db.migrate().await?;
        if seed::is_empty(&db.conn).await? {
            let report = load_seed(&db, config).await?;
            tracing::info!(?report, "loaded the London Vision reference data into an empty database");
        }
        // The public's hidden flags not yet worked out (after an upgrade): worked out once,
        // under the measures' locks, so replicas starting together agree.
        {
            use sea_orm::TransactionTrait as _;
            let tx = db.conn.begin().await?;
            let ruled = crate::picture::public_hidden::ruled_measures(&tx).await?;
            crate::picture::public_hidden::hold(&tx, &ruled).await?;
            crate::picture::public_hidden::fill(&tx, Some(&ruled)).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            tx.commit().await?;
        }
        let schema = graphql::build_schema(config.max_depth, config.max_complexity, config.max_selections);
        let batch_window = std::time::Duration::from_millis(config.batch_window_ms);
        let tokens = Arc::new(TokenService::from_config(config)?);
        // An identity provider's key file is read again when it changes.
        if config.jwt_public_keys.is_some() {
            let tokens = tokens.clone();
            tokio::spawn(async move {
                let mut every = tokio::time::interval(std::time::Duration::from_secs(KEYS_CHECK_SECONDS));
                loop {
                    every.tick().await;
                    tokens.refresh_public_keys();
                }
            });
        }
        let upload_dir = config.data_dir.join("uploads");
        let swept = http::returns_csv::sweep(&upload_dir);
        if swept > 0 {
            tracing::info!(swept, "removed uploads left behind by a stopped process");
        }
        let events = crate::events::Events::start(&db.conn).await?;
        crate::webhooks::deliver::start(
            db.conn.clone(),
            crate::webhooks::deliver::Retries {
                base: std::time::Duration::from_millis(config.webhook_retry_base_ms),
                max_attempts: config.webhook_max_attempts.max(1),
                deny_private: !config.webhook_allow_private_addresses,
            },
        )?;
        let (stopping, stopping_rx) = tokio::sync::watch::channel(false);
        let sockets = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let state = AppState {
            schema,
            db,
            requests: Arc::default(),
            batch_window,
            tokens,
            upload_dir,
            max_response_bytes: config.max_response_bytes,
            uploads: Arc::new(tokio::sync::Semaphore::new(http::MAX_CONCURRENT_UPLOADS)),
            persisted: Arc::default(),
            responses: Arc::new(http::response_cache::ResponseCache::new(config.response_cache_bytes)),
            http_max_age: config.http_cache_max_age,
            limits: Arc::new(http::rate_limit::RateLimits::new(
                config.rate_limit_points_per_hour,
                config.rate_limit_anonymous_points_per_hour,
            )),
            events,
            stopping: stopping_rx,
            sockets: sockets.clone(),
            metrics: Arc::new(http::metrics::Metrics::new()?),
            webhooks: crate::webhooks::Policy { deny_private: !config.webhook_allow_private_addresses },
            due: crate::returns::due::DueRules { since: config.due_since, deadline_days: config.due_deadline_days },
            receipts: Arc::new(crate::receipts::ReceiptKeys::load(
                config.receipt_signing_key.as_ref().map(secrecy::ExposeSecret::expose_secret),
                &config.data_dir,
            )?),
            directory: Arc::default(),
            sockets_limits: http::graphql_ws::SocketLimits::new(
                config.ws_max_subscriptions,
                config.ws_max_connections_per_principal,
                config.max_body_bytes,
            ),
        };
        // Callers not seen for an hour have a full allowance again: forget them.
        let limits = state.limits.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(600));
            loop {
                every.tick().await;
                limits.forget_idle();
            }
        });
        let router = http::router(state, config.max_body_bytes, config.cors()?);
        let listener =
            TcpListener::bind(config.listen_addr).await.with_context(|| format!("binding {}", config.listen_addr))?;
        let addr = listener.local_addr()?;
        Ok(Self { listener, router, addr, stopping, sockets })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until Ctrl-C or SIGTERM, then stops gracefully: no new connections, requests
    /// in flight answered, WebSocket connections closed with 1001 (going away) after their
    /// subscriptions complete.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let stopping = self.stopping;
        let served = axum::serve(self.listener, self.router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move {
                shutdown_signal().await;
                tracing::info!("stopping: finishing requests in flight and closing subscriptions");
                let _ = stopping.send(true);
            })
            .await;
        // Upgraded connections are not the server's to wait for: give them a moment to close.
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        while self.sockets.load(std::sync::atomic::Ordering::SeqCst) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        tracing::info!("stopped");
        served
    }
}

/// How often the identity provider's key file is checked for changes, in seconds.
const KEYS_CHECK_SECONDS: u64 = 30;

/// Loads the configured reference data (the built-in London Vision data by default).
pub async fn load_seed(db: &Database, config: &Config) -> anyhow::Result<seed::SeedReport> {
    let text = match &config.seed_file {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
        None => seed::LONDON_VISION.to_owned(),
    };
    let data = seed::parse(&text)?;
    seed::load(&db.conn, &data).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
