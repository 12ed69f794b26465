//! Connecting to the database (SQLite embedded, or PostgreSQL), migrating it, and counting
//! the SQL statements it runs (exposed on `/metrics`, and how tests prove batching).

use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::Context as _;
use migration::{Migrator, MigratorTrait as _};
use sea_orm::{ConnectOptions, DatabaseConnection};

/// A pool of connections, and the number of statements run through it.
#[derive(Clone, Debug)]
pub struct Database {
    pub conn: DatabaseConnection,
    statements: Arc<AtomicU64>,
}

impl Database {
    /// Opens a pool. For a SQLite file, its directory is created first, and the database is
    /// put in WAL mode with a busy timeout so that readers and one writer do not block.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        if let Some(dir) = sqlite_file_dir(url) {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let mut opts = ConnectOptions::new(url.to_owned());
        opts.sqlx_logging(false)
            .max_connections(if url.starts_with("sqlite:") { 8 } else { 16 })
            .acquire_timeout(Duration::from_secs(10))
            .map_sqlx_sqlite_opts(|o| {
                o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
            });
        let mut conn = sea_orm::Database::connect(opts).await.context("connecting to the database")?;
        let statements = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&statements);
        conn.set_metric_callback(move |info| {
            counter.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(target: "london_vision::sql", elapsed = ?info.elapsed, failed = info.failed, sql = %info.statement.sql);
        });
        Ok(Self { conn, statements })
    }

    /// Brings the schema up to date (idempotent).
    pub async fn migrate(&self) -> anyhow::Result<()> {
        Migrator::up(&self.conn, None).await.context("running migrations")
    }

    /// How many SQL statements this pool has run since it opened.
    pub fn statements_run(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }
}

/// The directory of a SQLite database file, if the URL names one.
fn sqlite_file_dir(url: &str) -> Option<std::path::PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path.contains(":memory:") {
        return None;
    }
    Path::new(path).parent().filter(|p| !p.as_os_str().is_empty()).map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::sqlite_file_dir;

    #[test]
    fn the_directory_of_an_embedded_database_is_found_from_its_url() {
        assert_eq!(sqlite_file_dir("sqlite://data/london-vision.db?mode=rwc"), Some(PathBuf::from("data")));
        assert_eq!(sqlite_file_dir("sqlite:///tmp/x/lv.db"), Some(PathBuf::from("/tmp/x")));
        assert_eq!(sqlite_file_dir("sqlite://lv.db"), None);
        assert_eq!(sqlite_file_dir("sqlite::memory:"), None);
        assert_eq!(sqlite_file_dir("postgres://postgres@127.0.0.1/test"), None);
    }
}
