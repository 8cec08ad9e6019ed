//! The database: backend choice, pools, embedded migrations and the one
//! place where code learns which backend it runs on.
//!
//! Resource code takes a `&mut DbConn` and writes each diesel statement once
//! inside [`with_conn!`]; the macro compiles that statement for SQLite and for
//! PostgreSQL, so `RETURNING`, multi-row inserts and `ON CONFLICT` work on
//! both without resource code ever matching on the backend. The one kind of
//! exception (a bulk statement only PostgreSQL has, such as an UNNEST upsert)
//! goes through [`per_backend!`], which keeps both versions side by side.

pub mod page;
mod pg_pool;
pub mod replica;
pub mod schema;
mod text_enum;

use crate::platform::error::Failure;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

pub(crate) use text_enum::text_enum;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// How long a request waits for a pooled connection before answering 503.
const POOL_CHECKOUT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a read waits for a replica connection before the replica is
/// set aside and the primary answers instead.
const REPLICA_CHECKOUT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long SQLite waits on a write lock held by another connection.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 5_000;

type SqliteManager = ConnectionManager<SqliteConnection>;
use pg_pool::PgManager;

/// Where the data lives, parsed from `DATABASE_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseLocation {
    /// A SQLite file (created on first use).
    SqliteFile(PathBuf),
    /// An in-memory SQLite database (one connection; for experiments only).
    SqliteMemory,
    /// A PostgreSQL connection URL.
    Postgres(String),
}

impl DatabaseLocation {
    /// Accepts `postgres://…`/`postgresql://…`, `sqlite://path`, `sqlite:path`,
    /// `:memory:` or a bare file path.
    pub fn parse(url: &str) -> Self {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Self::Postgres(url.to_owned());
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        if path == ":memory:" {
            Self::SqliteMemory
        } else {
            Self::SqliteFile(PathBuf::from(path))
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }

    /// A name for logs that never contains a password.
    pub fn describe(&self) -> String {
        match self {
            Self::SqliteFile(path) => format!("SQLite file {}", path.display()),
            Self::SqliteMemory => "in-memory SQLite".to_owned(),
            Self::Postgres(url) => {
                let host = url.rsplit('@').next().unwrap_or("?");
                format!("PostgreSQL at {host}")
            }
        }
    }
}

/// Sets the pragmas every SQLite connection needs; they are per connection,
/// so they run on each new pooled connection, not once.
#[derive(Debug)]
struct SqlitePragmas;

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(&format!(
            "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS};
             PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA foreign_keys = ON;"
        ))
        .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// A pool of connections to one of the two backends, and the queue in
/// front of it.
#[derive(Clone)]
pub struct Db {
    pool: Pools,
    /// One permit per connection: [`Db::run`] waits here, in arrival order,
    /// before it takes a blocking thread. Waiting inside the pool instead
    /// is not first come, first served — a newly arrived thread can take
    /// the connection a waiting one was woken for — so under load a few
    /// requests waited hundreds of milliseconds while most took two (p99
    /// 270 ms against a median of 1.5 ms at 16 at once on 10 connections).
    gate: Arc<tokio::sync::Semaphore>,
    /// How long a caller waits for a place: the pool's own checkout
    /// timeout (shorter on a replica, so the primary answers sooner).
    wait: Duration,
}

#[derive(Clone)]
enum Pools {
    Sqlite(Pool<SqliteManager>),
    Postgres(Pool<PgManager>),
}

/// One checked-out connection. Pass `&mut DbConn` to query functions.
pub enum DbConn {
    Sqlite(PooledConnection<SqliteManager>),
    Postgres(PooledConnection<PgManager>),
}

/// Runs one diesel expression on the concrete connection inside a `DbConn`.
/// The expression is compiled once per backend.
#[macro_export]
macro_rules! with_conn {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::platform::db::DbConn::Sqlite(pooled) => {
                let $c: &mut ::diesel::SqliteConnection = &mut **pooled;
                $body
            }
            $crate::platform::db::DbConn::Postgres(pooled) => {
                let $c: &mut ::diesel::PgConnection = &mut **pooled;
                $body
            }
        }
    };
}
pub use with_conn;

/// For the rare statement that must differ per backend (a bulk form only
/// one of them has): one body per backend, side by side, so the portable
/// and the special version are read and changed together.
#[macro_export]
macro_rules! per_backend {
    ($conn:expr, sqlite: |$s:ident| $sqlite:expr, postgres: |$p:ident| $postgres:expr $(,)?) => {
        match $conn {
            $crate::platform::db::DbConn::Sqlite(pooled) => {
                let $s: &mut ::diesel::SqliteConnection = &mut **pooled;
                $sqlite
            }
            $crate::platform::db::DbConn::Postgres(pooled) => {
                let $p: &mut ::diesel::PgConnection = &mut **pooled;
                $postgres
            }
        }
    };
}
pub use per_backend;

/// PostgreSQL's `unnest` over a bound array, for lookups of many keys in a
/// small table as `column IN (SELECT unnest($1))`. Diesel's `eq_any` binds
/// `column = ANY($1)`, and once PostgreSQL switches the prepared statement
/// to its generic plan it compares every row with every element: 2.4 ms
/// for 400 school codes against 479 schools, a fifth of a re-sync's
/// database time. The subquery is hashed instead (0.26 ms). Indexed
/// lookups in large tables (students by external id) do not need it.
pub mod unnest {
    use diesel::sql_types::{Array, BigInt, Text};

    diesel::define_sql_function! {
        #[sql_name = "unnest"]
        fn texts(values: Array<Text>) -> Text;
    }

    diesel::define_sql_function! {
        #[sql_name = "unnest"]
        fn ids(values: Array<BigInt>) -> BigInt;
    }
}

impl Db {
    /// Whether `other` is a handle on the same pool (its clones share the
    /// queue, so comparing the queue compares the pool).
    pub fn is_same_as(&self, other: &Db) -> bool {
        Arc::ptr_eq(&self.gate, &other.gate)
    }

    /// Opens a pool; does not migrate.
    pub fn connect(location: &DatabaseLocation, pool_size: u32) -> Result<Self, DbSetupError> {
        match location {
            DatabaseLocation::Postgres(url) => {
                let pool = Pool::builder()
                    .max_size(pool_size.max(1))
                    .connection_timeout(POOL_CHECKOUT_TIMEOUT)
                    .build(PgManager::new(url))?;
                Ok(Self::new(Pools::Postgres(pool)))
            }
            DatabaseLocation::SqliteFile(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(DbSetupError::Io)?;
                }
                let manager = SqliteManager::new(path.to_string_lossy());
                let pool = Pool::builder()
                    .max_size(pool_size.max(1))
                    .connection_timeout(POOL_CHECKOUT_TIMEOUT)
                    .connection_customizer(Box::new(SqlitePragmas))
                    .build(manager)?;
                Ok(Self::new(Pools::Sqlite(pool)))
            }
            DatabaseLocation::SqliteMemory => {
                // Every connection to ":memory:" is a separate database, so one only.
                let pool = Pool::builder()
                    .max_size(1)
                    .connection_timeout(POOL_CHECKOUT_TIMEOUT)
                    .connection_customizer(Box::new(SqlitePragmas))
                    .build(SqliteManager::new(":memory:"))?;
                Ok(Self::new(Pools::Sqlite(pool)))
            }
        }
    }

    /// Opens a pool on a PostgreSQL read replica. It starts empty (a
    /// replica that is down at start does not stop the service) and a
    /// checkout gives up sooner than on the primary, which then answers.
    pub fn connect_replica(
        location: &DatabaseLocation,
        pool_size: u32,
    ) -> Result<Self, DbSetupError> {
        let DatabaseLocation::Postgres(url) = location else {
            return Err(DbSetupError::Other(
                "a read replica must be PostgreSQL".into(),
            ));
        };
        let pool = Pool::builder()
            .max_size(pool_size.max(1))
            .min_idle(Some(0))
            .connection_timeout(REPLICA_CHECKOUT_TIMEOUT)
            .build_unchecked(PgManager::new(url));
        Ok(Self::new(Pools::Postgres(pool)))
    }

    fn new(pool: Pools) -> Self {
        let (size, wait) = match &pool {
            Pools::Sqlite(pool) => (pool.max_size(), pool.connection_timeout()),
            Pools::Postgres(pool) => (pool.max_size(), pool.connection_timeout()),
        };
        Db {
            pool,
            gate: Arc::new(tokio::sync::Semaphore::new(size as usize)),
            wait,
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match self.pool {
            Pools::Sqlite(_) => "sqlite",
            Pools::Postgres(_) => "postgres",
        }
    }

    /// Checks out a connection, waiting at most the checkout timeout.
    pub fn get(&self) -> Result<DbConn, Failure> {
        let started = std::time::Instant::now();
        let conn = match &self.pool {
            Pools::Sqlite(pool) => pool.get().map(DbConn::Sqlite),
            Pools::Postgres(pool) => pool.get().map(DbConn::Postgres),
        };
        crate::platform::metrics::observe_pool_wait(started.elapsed(), conn.is_ok());
        conn.map_err(Failure::from)
    }

    /// Connections checked out, idle, and the most the pool opens.
    pub fn pool_state(&self) -> (u32, u32, u32) {
        let (state, max) = match &self.pool {
            Pools::Sqlite(pool) => (pool.state(), pool.max_size()),
            Pools::Postgres(pool) => (pool.state(), pool.max_size()),
        };
        (
            state.connections - state.idle_connections,
            state.idle_connections,
            max,
        )
    }

    /// Runs blocking database work on actix's blocking thread pool, so the
    /// async workers never wait on the database.
    pub async fn run<T, F>(&self, work: F) -> Result<T, Failure>
    where
        F: FnOnce(&mut DbConn) -> Result<T, Failure> + Send + 'static,
        T: Send + 'static,
    {
        // Queued here, first come first served, for at most as long as the
        // pool itself would make a caller wait; then 503, retry.
        let _permit = tokio::time::timeout(self.wait, self.gate.acquire())
            .await
            .ok()
            .and_then(Result::ok)
            .ok_or_else(|| Failure::unavailable("no database connection came free in time"))?;
        let db = self.clone();
        actix_web::web::block(move || {
            let mut conn = db.get()?;
            // A panic is a bug: it becomes a 500 whose log line says what
            // panicked (the thread pool alone reports only that it did).
            // The connection, perhaps mid-transaction, is then dropped by
            // the pool as broken.
            let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&mut conn)))
                .unwrap_or_else(|panic| {
                    Err(Failure::internal(format!(
                        "panicked: {}",
                        panic_text(&*panic)
                    )))
                });
            if matches!(&done, Err(failure) if failure.is_transient()) {
                // Perhaps the server went away: check every connection
                // before its next use rather than fail one request each.
                pg_pool::doubt_all();
            }
            done
        })
        .await
        .map_err(|e| Failure::internal(format!("blocking task failed: {e}")))?
    }

    /// Applies every pending embedded migration of this backend.
    pub fn migrate(&self) -> Result<Vec<String>, DbSetupError> {
        let mut conn = self.get().map_err(|e| DbSetupError::Other(e.to_string()))?;
        let applied = with_conn!(&mut conn, |c| {
            let migrations = match self.pool {
                Pools::Sqlite(_) => SQLITE_MIGRATIONS,
                Pools::Postgres(_) => POSTGRES_MIGRATIONS,
            };
            c.run_pending_migrations(migrations)
                .map(|versions| versions.iter().map(|v| v.to_string()).collect())
        });
        applied.map_err(|e| DbSetupError::Other(format!("migration failed: {e}")))
    }
}

impl Db {
    /// Applies pending migrations one by one up to and including the one
    /// whose version starts with `last` (a data migration's test builds the
    /// schema before it, writes old rows, then migrates the rest).
    pub fn migrate_until(&self, last: &str) -> Result<Vec<String>, DbSetupError> {
        let mut conn = self.get().map_err(|e| DbSetupError::Other(e.to_string()))?;
        let migrations = || match self.pool {
            Pools::Sqlite(_) => SQLITE_MIGRATIONS,
            Pools::Postgres(_) => POSTGRES_MIGRATIONS,
        };
        let mut applied = Vec::new();
        loop {
            let version = with_conn!(&mut conn, |c| {
                let pending = c
                    .pending_migrations(migrations())
                    .map_err(|e| DbSetupError::Other(format!("cannot list migrations: {e}")))?;
                match pending.first() {
                    None => Ok(None),
                    Some(next) => c
                        .run_migration(next.as_ref())
                        .map(|v| Some(v.to_string()))
                        .map_err(|e| DbSetupError::Other(format!("migration failed: {e}"))),
                }
            })?;
            match version {
                None => return Ok(applied),
                Some(version) => {
                    // Diesel names a version by the digits of its folder name.
                    let digits =
                        |v: &str| v.chars().filter(char::is_ascii_digit).collect::<String>();
                    let done = digits(&version).starts_with(&digits(last));
                    applied.push(version);
                    if done {
                        return Ok(applied);
                    }
                }
            }
        }
    }
}

/// The message a panic carried (`panic!` with a literal or a format).
fn panic_text(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message")
}

#[cfg(test)]
mod run_tests {
    use super::*;
    use diesel::RunQueryDsl;

    /// A bug in a query function is a 500 whose cause names the panic,
    /// and the pool goes on serving.
    #[actix_rt::test]
    async fn a_panic_in_database_work_is_an_internal_failure_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let location = DatabaseLocation::SqliteFile(dir.path().join("panic.db"));
        let db = Db::connect(&location, 1).unwrap();
        let failed = db
            .run(|_| -> Result<(), Failure> { panic!("days out of range") })
            .await
            .unwrap_err();
        assert!(
            matches!(&failed, Failure::Internal(cause) if cause.contains("days out of range")),
            "{failed}"
        );
        let answered = db
            .run(|conn| {
                Ok(with_conn!(conn, |c| diesel::select(diesel::dsl::sql::<
                    diesel::sql_types::Integer,
                >("1"))
                .get_result::<i32>(c))?)
            })
            .await
            .unwrap();
        assert_eq!(answered, 1);
    }

    /// Callers waiting for a connection queue in front of the pool, in
    /// the order they asked, holding no thread: with one connection and
    /// nine callers of 20 ms each, they run in arrival order and none of
    /// them waits inside the pool (there, eight blocked threads would wait
    /// 0.7 s in all, and a woken one can lose its turn to a later caller).
    #[actix_rt::test]
    async fn callers_queue_for_connections_in_the_order_they_asked() {
        let dir = tempfile::tempdir().unwrap();
        let location = DatabaseLocation::SqliteFile(dir.path().join("queue.db"));
        let db = Db::connect(&location, 1).unwrap();
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let caller = |n: usize| {
            let order = order.clone();
            db.run(move |_| {
                std::thread::sleep(Duration::from_millis(20));
                order.lock().unwrap().push(n);
                Ok(())
            })
        };
        let waited_before = crate::platform::metrics::pool_wait_seconds_total();
        // Polled in this order, so they ask in this order.
        let callers: Vec<_> = (0..9).map(caller).collect();
        for done in futures_util::future::join_all(callers).await {
            done.unwrap();
        }
        let waited = crate::platform::metrics::pool_wait_seconds_total() - waited_before;
        assert_eq!(*order.lock().unwrap(), (0..9).collect::<Vec<_>>());
        // Other tests' checkouts may add a little; blocked callers would add 0.7 s.
        assert!(waited < 0.1, "callers waited {waited:.3} s inside the pool");
    }
}

/// The key of the session lock that serialises the start of instances
/// sharing one PostgreSQL database (below the [`WriteLock`] keys).
const SETUP_LOCK_KEY: i64 = 0x0073_6f6e_0000_0000 - 100;

impl Db {
    /// Runs `setup` (migrations, seed, the bootstrap admin) while no other
    /// instance of the service does: several instances started at once on
    /// one database take turns, and each after the first finds the work done.
    /// PostgreSQL: a session advisory lock on a connection of its own, held
    /// until `setup` returns (and released by the server should this
    /// process die). SQLite: an exclusive lock on `<file>.setup-lock` beside
    /// the database (in-memory databases are never shared).
    pub fn exclusively<T, E: From<DbSetupError>>(
        &self,
        location: &DatabaseLocation,
        setup: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        use diesel::RunQueryDsl;
        match (&self.pool, location) {
            (Pools::Postgres(_), DatabaseLocation::Postgres(url)) => {
                // A connection of its own, outside the pool: the setup may
                // need every pooled one (a pool of one, say).
                let mut holder = PgConnection::establish(url)
                    .map_err(|e| DbSetupError::Other(format!("cannot connect: {e}")))?;
                diesel::sql_query(format!("SELECT pg_advisory_lock({SETUP_LOCK_KEY})"))
                    .execute(&mut holder)
                    .map_err(|e| DbSetupError::Other(format!("cannot take the setup lock: {e}")))?;
                let result = setup();
                // Failing to unlock is harmless: the lock ends with the session.
                let _ = diesel::sql_query(format!("SELECT pg_advisory_unlock({SETUP_LOCK_KEY})"))
                    .execute(&mut holder);
                result
            }
            (Pools::Sqlite(_), DatabaseLocation::SqliteFile(path)) => {
                let mut lock_path = path.clone().into_os_string();
                lock_path.push(".setup-lock");
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&lock_path)
                    .map_err(DbSetupError::Io)?;
                file.lock().map_err(DbSetupError::Io)?;
                let result = setup();
                let _ = file.unlock();
                result
            }
            _ => setup(),
        }
    }
}

/// Transaction-scoped locks for writes that must not interleave: held until
/// commit on PostgreSQL; SQLite already runs one write transaction at a time.
#[derive(Debug, Clone, Copy)]
pub enum WriteLock {
    /// Appending to the student change feed (numbers in commit order).
    ChangeFeed,
    /// A campaign's money and pledges: its status changes, pledges,
    /// receipts, reversals, purchases and pledge closes write one at a time,
    /// so no two purchases overspend together, no receipt's addition to a
    /// pledge is lost and no pledge enters a campaign being closed.
    Campaign(i64),
    /// Allocating stock: one allocation writer at a time, so no device or
    /// need is taken twice and no two writers deadlock on each other's rows.
    Allocation,
    /// Registering the devices of one receipt: two intakes at once cannot
    /// together register more devices than the receipt brought.
    ReceiptIntake(i64),
    /// Disabling an admin: two admins disabling each other at once cannot
    /// leave the service without one.
    Admins,
    /// Which event types webhook subscriptions listen for: a subscription's
    /// change takes it alone, every write that emits events shares it
    /// ([`DbConn::share`]), so a write either saw the change or committed
    /// before it was made (`platform::outbox`).
    Listeners,
}

impl WriteLock {
    fn key(self) -> i64 {
        const NAMESPACE: i64 = 0x0073_6f6e_0000_0000;
        match self {
            WriteLock::ChangeFeed => NAMESPACE,
            WriteLock::Allocation => NAMESPACE - 1,
            WriteLock::Admins => NAMESPACE - 2,
            WriteLock::Listeners => NAMESPACE - 3,
            WriteLock::Campaign(campaign) => NAMESPACE + 1 + campaign,
            // Its own range, far above any campaign id.
            WriteLock::ReceiptIntake(receipt) => NAMESPACE + (1 << 40) + receipt,
        }
    }
}

impl DbConn {
    /// Call inside a write transaction right before appending to a change
    /// feed: change numbers are then handed out in commit order, so a reader
    /// that has seen number N can never later find a smaller one appear.
    /// On PostgreSQL a transaction-scoped advisory lock (released at commit,
    /// after the rows became visible) serialises the appends; SQLite already
    /// serialises every write transaction (`BEGIN IMMEDIATE`).
    pub fn lock_change_feed(&mut self) -> Result<(), Failure> {
        self.lock(WriteLock::ChangeFeed)
    }

    /// Takes `lock` until the end of the current transaction.
    pub fn lock(&mut self, lock: WriteLock) -> Result<(), Failure> {
        self.advisory_xact_lock("pg_advisory_xact_lock", lock)
    }

    /// Takes `lock` shared with other sharers (not with [`DbConn::lock`]'s
    /// holders) until the end of the current transaction.
    pub fn share(&mut self, lock: WriteLock) -> Result<(), Failure> {
        self.advisory_xact_lock("pg_advisory_xact_lock_shared", lock)
    }

    /// Calls one of PostgreSQL's transaction-scoped advisory lock
    /// functions on `lock`'s key; nothing on SQLite (one writer at a time).
    fn advisory_xact_lock(&mut self, function: &str, lock: WriteLock) -> Result<(), Failure> {
        if let DbConn::Postgres(conn) = self {
            use diesel::RunQueryDsl;
            diesel::sql_query(format!("SELECT {function}({})", lock.key()))
                .execute(&mut ***conn)?;
        }
        Ok(())
    }

    /// True when every embedded migration of this backend has been applied.
    pub fn migrations_current(&mut self) -> Result<bool, Failure> {
        let pending = match self {
            DbConn::Sqlite(c) => c.has_pending_migration(SQLITE_MIGRATIONS),
            DbConn::Postgres(c) => c.has_pending_migration(POSTGRES_MIGRATIONS),
        };
        pending
            .map(|p| !p)
            .map_err(|e| Failure::unavailable(format!("cannot read migrations: {e}")))
    }

    /// Runs `work` in a transaction: committed if it returns `Ok`, rolled back
    /// otherwise (and, should it panic, the pool discards the connection
    /// because diesel reports a connection with an open transaction as broken).
    /// SQLite write transactions start `IMMEDIATE` so that two writers queue on
    /// the busy timeout instead of failing when both try to upgrade a read lock.
    /// Nested calls become savepoints.
    pub fn transaction<T, E, F>(&mut self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E>,
        E: From<diesel::result::Error>,
    {
        with_conn!(self, |c| begin(c))?;
        match work(self) {
            Ok(value) => {
                if let Err(commit_error) =
                    with_conn!(self, |c| AnsiTransactionManager::commit_transaction(c))
                {
                    let _ = with_conn!(self, |c| AnsiTransactionManager::rollback_transaction(c));
                    return Err(commit_error.into());
                }
                Ok(value)
            }
            Err(error) => {
                with_conn!(self, |c| AnsiTransactionManager::rollback_transaction(c))?;
                Err(error)
            }
        }
    }
}

/// Opens a transaction, or a savepoint when one is already open.
fn begin<C>(conn: &mut C) -> diesel::QueryResult<()>
where
    C: Connection<TransactionManager = AnsiTransactionManager> + BeginSql,
{
    let depth = AnsiTransactionManager::transaction_manager_status_mut(conn).transaction_depth()?;
    match depth {
        None => AnsiTransactionManager::begin_transaction_sql(conn, C::BEGIN),
        Some(_) => AnsiTransactionManager::begin_transaction(conn),
    }
}

/// The statement that opens an outermost write transaction on each backend.
trait BeginSql {
    const BEGIN: &'static str;
}
impl BeginSql for SqliteConnection {
    const BEGIN: &'static str = "BEGIN IMMEDIATE";
}
impl BeginSql for PgConnection {
    const BEGIN: &'static str = "BEGIN";
}

/// Why the database could not be opened or migrated at start-up.
#[derive(Debug, thiserror::Error)]
pub enum DbSetupError {
    #[error("cannot open the database pool: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("cannot create the database directory: {0}")]
    Io(std::io::Error),
    #[error("{0}")]
    Other(String),
}

/// The current time as stored in the database: UTC, microsecond precision
/// (PostgreSQL keeps microseconds; SQLite would keep more, and the two must agree).
/// Optimistic concurrency: fails when the version the caller read
/// (`If-Match`, if sent) is not the record's `current` one.
pub fn ensure_current(if_match: Option<i64>, current: i64) -> Result<(), Failure> {
    match if_match {
        Some(expected) if expected != current => Err(Failure::precondition_failed(current)),
        _ => Ok(()),
    }
}

pub fn now() -> chrono::NaiveDateTime {
    use chrono::{DurationRound, TimeDelta};
    let now = chrono::Utc::now().naive_utc();
    now.duration_trunc(TimeDelta::microseconds(1))
        .unwrap_or(now)
}

/// Renders a stored UTC timestamp for JSON.
pub fn to_utc(at: chrono::NaiveDateTime) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_naive_utc_and_offset(at, chrono::Utc)
}

/// Serialises a stored timestamp as UTC (`#[serde(serialize_with = …)]`).
pub fn utc<S: serde::Serializer>(
    at: &chrono::NaiveDateTime,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(&to_utc(*at), serializer)
}
