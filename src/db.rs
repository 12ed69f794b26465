//! Connecting to the database (SQLite embedded, or PostgreSQL), migrating it, and counting
//! the SQL statements it runs (exposed on `/metrics`, and how tests prove batching).

use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::Context as _;
use migration::{Migrator, MigratorTrait as _};
use sea_orm::{
    ConnectOptions, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, RuntimeErr, SqliteTransactionMode,
    Statement, TransactionOptions, TransactionTrait,
};

/// How long one statement may run on PostgreSQL unless configured otherwise.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a request waits for a connection unless configured otherwise.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

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
        Self::connect_with(url, DEFAULT_STATEMENT_TIMEOUT, DEFAULT_ACQUIRE_TIMEOUT).await
    }

    /// Opens a pool whose statements (on PostgreSQL) stop after `statement_timeout`; a
    /// session left idle inside a transaction for longer is ended by the server too, a
    /// second line of defence behind [`run_to_end`].
    ///
    /// A request waits at most `acquire_timeout` for a connection, and is then answered 503
    /// (the database unreachable, or every connection busy). A connection is never handed out
    /// while it still counts itself inside a transaction: one whose `COMMIT` or `ROLLBACK`
    /// failed (a full disk, a lost server) is closed instead of being reused, so that no later
    /// write runs inside a transaction that will never commit.
    pub async fn connect_with(
        url: &str,
        statement_timeout: Duration,
        acquire_timeout: Duration,
    ) -> anyhow::Result<Self> {
        if let Some(dir) = sqlite_file_dir(url) {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let mut opts = ConnectOptions::new(url.to_owned());
        opts.sqlx_logging(false)
            .max_connections(if url.starts_with("sqlite:") { 8 } else { 16 })
            .acquire_timeout(acquire_timeout)
            .statement_timeout(statement_timeout)
            .map_sqlx_sqlite_before_acquire(|conn, _| {
                Box::pin(async move { Ok(!sea_orm::sqlx::Connection::is_in_transaction(conn)) })
            })
            .map_sqlx_postgres_before_acquire(|conn, _| {
                Box::pin(async move { Ok(!sea_orm::sqlx::Connection::is_in_transaction(conn)) })
            })
            .map_sqlx_postgres_opts(move |o| {
                let idle = (statement_timeout * 2).as_millis().to_string();
                // No JIT compilation: every statement here is an indexed read of at most a
                // few thousand rows, where compiling (10 ms and more) costs far more than it
                // saves; PostgreSQL turns it on by a cost estimate that lateral page reads pass.
                o.options([("idle_in_transaction_session_timeout", idle), ("jit", "off".to_owned())])
            })
            .map_sqlx_sqlite_opts(|o| {
                o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
            });
        let mut conn = sea_orm::Database::connect(opts).await.context("connecting to the database")?;
        let statements = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&statements);
        conn.set_metric_callback(move |info| {
            // Background work (webhook deliveries) is not a request's: not counted.
            if BACKGROUND.try_with(|_| ()).is_err() {
                counter.fetch_add(1, Ordering::Relaxed);
            }
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

    /// The pool's connections now: (in use, idle).
    pub fn pool_state(&self) -> (u32, u32) {
        let (size, idle) = match self.conn.get_database_backend() {
            DbBackend::Postgres => {
                let p = self.conn.get_postgres_connection_pool();
                (p.size(), p.num_idle())
            }
            _ => {
                let p = self.conn.get_sqlite_connection_pool();
                (p.size(), p.num_idle())
            }
        };
        let idle = u32::try_from(idle).unwrap_or(u32::MAX);
        (size.saturating_sub(idle), idle)
    }
}

tokio::task_local! {
    static BACKGROUND: ();
}

/// Runs `work` as background work: its statements are left out of `statements_run`, which
/// counts the statements requests cost.
pub async fn in_background<F: std::future::Future>(work: F) -> F::Output {
    BACKGROUND.scope((), work).await
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

/// What a database error means for the request that met it, read from the error's code
/// (SQLite's extended result code, PostgreSQL's SQLSTATE), never from its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Another writer holds what this one needs (SQLite BUSY or LOCKED; PostgreSQL
    /// serialization failure 40001 or deadlock 40P01; no connection free in time): the same
    /// write may succeed if tried again.
    Contention,
    /// A unique constraint refused the row (SQLite 2067 and 1555, PostgreSQL 23505): a
    /// conflict with a row another writer added, or with an existing one.
    Unique,
    /// A foreign key refused the row (SQLite 787, PostgreSQL 23503).
    ForeignKey,
    /// Text the database cannot store (PostgreSQL 22021, 22P05: a NUL or bad encoding).
    BadText,
    /// A statement ran past the configured timeout or was cancelled (PostgreSQL 57014).
    Cancelled,
    /// The database cannot be reached or cannot write just now: no connection in time, the
    /// connection lost (I/O errors, PostgreSQL's class 08 and its shutdowns 57P01-57P03), or
    /// no space left (SQLite FULL and IOERR, PostgreSQL 53100). Worth a retry later, with the
    /// same idempotency key: a write whose connection was lost at its commit may have landed.
    Unavailable,
    /// Anything else: a fault of the server.
    Other,
}

/// The driver's error inside a database error, if there is one.
fn driver_error(err: &DbErr) -> Option<&sea_orm::sqlx::Error> {
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e))
        | DbErr::Conn(RuntimeErr::SqlxError(e)) => Some(e.as_ref()),
        _ => None,
    }
}

/// Reads what a database error means (see [`Fault`]).
pub fn fault(err: &DbErr) -> Fault {
    match (err, driver_error(err)) {
        // No connection could be had: the pool's own errors, and the server refusing a new one
        // (shutting down, starting up, not accepting connections).
        (DbErr::ConnectionAcquire(_) | DbErr::Conn(_), _)
        | (
            _,
            Some(
                sea_orm::sqlx::Error::PoolTimedOut
                | sea_orm::sqlx::Error::PoolClosed
                | sea_orm::sqlx::Error::Io(_)
                | sea_orm::sqlx::Error::Tls(_)
                | sea_orm::sqlx::Error::Protocol(_)
                | sea_orm::sqlx::Error::WorkerCrashed,
            ),
        ) => Fault::Unavailable,
        (_, Some(sea_orm::sqlx::Error::Database(db))) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            // SQLite's codes are numbers; PostgreSQL's are SQLSTATEs (some of them all digits).
            if db.try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>().is_some() {
                sqlite_fault(code.parse().unwrap_or(0))
            } else {
                postgres_fault(&code)
            }
        }
        _ => Fault::Other,
    }
}

/// SQLite's extended result codes: numbers whose low byte is the primary code.
fn sqlite_fault(code: i32) -> Fault {
    match (code & 0xff, code) {
        (5 | 6, _) => Fault::Contention, // SQLITE_BUSY, SQLITE_LOCKED and their extended codes
        (10 | 13 | 14, _) => Fault::Unavailable, // SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN
        (_, 2067 | 1555) => Fault::Unique, // SQLITE_CONSTRAINT_UNIQUE, _PRIMARYKEY
        (_, 787) => Fault::ForeignKey,   // SQLITE_CONSTRAINT_FOREIGNKEY
        _ => Fault::Other,
    }
}

/// PostgreSQL's SQLSTATE codes (Appendix A of its manual).
fn postgres_fault(sqlstate: &str) -> Fault {
    match sqlstate {
        "40001" | "40P01" | "55P03" => Fault::Contention,
        "23505" => Fault::Unique,
        "23503" => Fault::ForeignKey,
        "22021" | "22P05" => Fault::BadText,
        "57014" => Fault::Cancelled,
        "57P01" | "57P02" | "57P03" | "53100" | "53300" => Fault::Unavailable,
        s if s.starts_with("08") => Fault::Unavailable,
        _ => Fault::Other,
    }
}

/// Begins a write transaction. On SQLite it begins `IMMEDIATE`, taking the write lock at
/// once (waiting up to the busy timeout for it): a deferred transaction that reads first
/// and writes later cannot wait for the write lock, and fails at once when another writer
/// holds it. PostgreSQL ignores the mode; there, inside [`run_to_end`], the transaction's
/// server process is noted so that its running statement can be cancelled if the caller
/// goes away.
pub async fn begin_write<C>(db: &C) -> Result<C::Transaction, DbErr>
where
    C: TransactionTrait,
    C::Transaction: ConnectionTrait,
{
    let tx = db
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        })
        .await?;
    if tx.get_database_backend() == DbBackend::Postgres
        && let Ok(watch) = WATCH.try_with(Arc::clone)
    {
        // `now()` is the transaction's start: with the process id it names this
        // transaction alone, never a later one the same connection serves.
        let row = tx
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT pg_backend_pid() AS pid, (extract(epoch FROM now()) * 1000000)::bigint AS started",
            ))
            .await?;
        if let Some(row) = row {
            let backend = Backend { pid: row.try_get("", "pid")?, started: row.try_get("", "started")? };
            *watch.backend.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(backend);
        }
    }
    Ok(tx)
}

/// The PostgreSQL server process running a write transaction, and when that transaction
/// began (microseconds since the epoch).
#[derive(Debug, Clone, Copy)]
struct Backend {
    pid: i32,
    started: i64,
}

/// What a write running on its own task knows of its caller.
#[derive(Debug, Default)]
struct Watch {
    /// Set when the caller has gone away.
    abandoned: AtomicBool,
    /// The write's current transaction on PostgreSQL, once it has begun one.
    backend: std::sync::Mutex<Option<Backend>>,
}

tokio::task_local! {
    static WATCH: Arc<Watch>;
}

/// Whether the caller of the write running on this task has gone away: a long write checks
/// between its batches and rolls back rather than carry on for nobody.
pub fn abandoned() -> bool {
    WATCH.try_with(|w| w.abandoned.load(Ordering::Relaxed)).unwrap_or(false)
}

/// Marks the work abandoned when the caller's future is dropped before it finished, and
/// cancels the statement its transaction is running on PostgreSQL (a wait for a lock, say),
/// so that the write reaches its rollback now rather than at the statement timeout.
struct AbandonOnDrop {
    watch: Arc<Watch>,
    pool: DatabaseConnection,
    finished: bool,
}

impl Drop for AbandonOnDrop {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        self.watch.abandoned.store(true, Ordering::Relaxed);
        let backend = *self.watch.backend.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let (Some(backend), Ok(runtime)) = (backend, tokio::runtime::Handle::try_current()) {
            runtime.spawn(cancel(self.pool.clone(), backend));
        }
    }
}

/// Cancels the statement a write transaction is running, from another connection. The
/// process is signalled only while it is still inside that same transaction (same process,
/// same start), so a connection that has since gone back to the pool and serves someone
/// else is never touched.
async fn cancel(pool: DatabaseConnection, backend: Backend) {
    let sql = "SELECT pg_cancel_backend(pid) AS cancelled FROM pg_stat_activity \
               WHERE pid = $1 AND (extract(epoch FROM xact_start) * 1000000)::bigint = $2";
    let statement =
        Statement::from_sql_and_values(DbBackend::Postgres, sql, [backend.pid.into(), backend.started.into()]);
    match pool.query_one_raw(statement).await {
        Ok(row) => {
            let cancelled = row.and_then(|r| r.try_get::<bool>("", "cancelled").ok()).unwrap_or(false);
            tracing::info!(pid = backend.pid, cancelled, "the caller of a write went away");
        }
        Err(error) => tracing::warn!(%error, pid = backend.pid, "could not cancel an abandoned write"),
    }
}

/// Runs `work` (which may write) on its own task, so that it always reaches its own commit
/// or rollback: a caller that hangs up (a closed connection, a request timeout) drops only
/// its wait, never a transaction half way through a statement, which would return the
/// connection to the pool still inside it. The work is told the caller left through
/// [`abandoned`], and rolls back at its next check; on PostgreSQL the statement it is
/// running is cancelled (through `pool`) so that the check comes at once.
pub async fn run_to_end<F, T>(pool: &DatabaseConnection, work: F) -> Result<T, crate::error::AppError>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let watch = Arc::new(Watch::default());
    let mut guard = AbandonOnDrop { watch: Arc::clone(&watch), pool: pool.clone(), finished: false };
    let joined = tokio::spawn(WATCH.scope(watch, work)).await;
    guard.finished = true;
    joined.map_err(|e| crate::error::AppError::Internal(format!("a write task failed: {e}")))
}

/// The namespaces of transaction-scoped advisory locks (the key's high 16 bits; an id fills
/// the low 48): one per kind of thing locked, so that two kinds never wait on each other.
#[derive(Debug, Clone, Copy)]
pub enum LockSpace {
    /// A measure's periods: returns hold it shared, closing a period exclusive (`returns::locks`).
    PeriodLocks = 0x4C56,
    /// A measure's kept public hidden flags (`picture::public_hidden`).
    PublicHidden = 0x4C48,
}

/// The advisory lock key of `id` in `space`.
pub fn advisory_key(space: LockSpace, id: i64) -> i64 {
    ((space as i64) << 48) | (id & 0x0000_FFFF_FFFF_FFFF)
}

/// Takes the advisory locks of `ids` in `space` until the transaction ends (PostgreSQL;
/// nothing on SQLite, whose writers are one at a time already), in key order, so that two
/// transactions taking several never deadlock on them.
pub async fn advisory_locks<C: ConnectionTrait>(
    db: &C,
    space: LockSpace,
    ids: &std::collections::BTreeSet<i64>,
    shared: bool,
) -> Result<(), DbErr> {
    if db.get_database_backend() != DbBackend::Postgres || ids.is_empty() {
        return Ok(());
    }
    let keys: Vec<i64> = ids.iter().map(|&id| advisory_key(space, id)).collect();
    let function = if shared { "pg_advisory_xact_lock_shared" } else { "pg_advisory_xact_lock" };
    let sql = format!("SELECT {function}(k) FROM (SELECT unnest($1::bigint[]) AS k ORDER BY 1) AS keys");
    db.execute_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, [keys.into()])).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn advisory_keys_of_two_spaces_or_two_ids_differ_and_keep_their_space_in_the_high_bits() {
        use super::{LockSpace, advisory_key};
        assert_ne!(advisory_key(LockSpace::PeriodLocks, 7), advisory_key(LockSpace::PublicHidden, 7));
        assert_ne!(advisory_key(LockSpace::PublicHidden, 1), advisory_key(LockSpace::PublicHidden, 2));
        assert_eq!(advisory_key(LockSpace::PublicHidden, 7) >> 48, 0x4C48);
        assert_eq!(advisory_key(LockSpace::PeriodLocks, 7), 0x4C56_0000_0000_0007);
    }

    use std::path::PathBuf;

    use super::{Fault, postgres_fault, sqlite_fault, sqlite_file_dir};

    #[test]
    fn database_errors_are_read_by_their_codes() {
        assert_eq!(sqlite_fault(5), Fault::Contention);
        assert_eq!(sqlite_fault(517), Fault::Contention); // SQLITE_BUSY_SNAPSHOT
        assert_eq!(sqlite_fault(262), Fault::Contention); // SQLITE_LOCKED_SHAREDCACHE
        assert_eq!(sqlite_fault(2067), Fault::Unique);
        assert_eq!(sqlite_fault(787), Fault::ForeignKey);
        assert_eq!(sqlite_fault(1), Fault::Other);
        assert_eq!(postgres_fault("23505"), Fault::Unique);
        assert_eq!(postgres_fault("40001"), Fault::Contention);
        assert_eq!(postgres_fault("40P01"), Fault::Contention);
        assert_eq!(postgres_fault("22021"), Fault::BadText);
        assert_eq!(postgres_fault("57014"), Fault::Cancelled);
        assert_eq!(postgres_fault("42601"), Fault::Other);
    }

    #[test]
    fn the_directory_of_an_embedded_database_is_found_from_its_url() {
        assert_eq!(sqlite_file_dir("sqlite://data/london-vision.db?mode=rwc"), Some(PathBuf::from("data")));
        assert_eq!(sqlite_file_dir("sqlite:///tmp/x/lv.db"), Some(PathBuf::from("/tmp/x")));
        assert_eq!(sqlite_file_dir("sqlite://lv.db"), None);
        assert_eq!(sqlite_file_dir("sqlite::memory:"), None);
        assert_eq!(sqlite_file_dir("postgres://postgres@127.0.0.1/test"), None);
    }
}

/// The database's counters of change, read in one statement: `data` grows with every change
/// an anonymous reader could see (kept answers are keyed on it), `directory` with every change
/// to who is who (organisations, geographies, revoked tokens: the kept directory is checked
/// against it). Both grow in the transaction that makes the change, by triggers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Versions {
    pub data: i64,
    pub directory: i64,
}

/// The counters now (see [`Versions`]).
pub async fn versions<C: ConnectionTrait>(db: &C) -> Result<Versions, DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT generation, directory FROM data_generation WHERE id = 1",
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("data_generation".into()))?;
    Ok(Versions { data: row.try_get("", "generation")?, directory: row.try_get("", "directory")? })
}
