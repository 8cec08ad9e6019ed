//! PostgreSQL connections for the pool, checked only when there is a
//! reason to doubt them.
//!
//! diesel's r2d2 manager runs `SELECT 1` on every checkout: one extra
//! round trip for every request, most of the cost of a primary-key read
//! (README "Benchmarks", authenticated reads). Here a connection is
//! checked on checkout only when it sat idle longer than [`TRUSTED_IDLE`]
//! (a server or a firewall may have dropped it meanwhile) or when work on
//! *any* connection of the process failed in a way that may mean a server
//! went away ([`doubt_all`]): a restart or a terminated backend then costs
//! each pooled connection one `SELECT 1`, not one more failed request.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use diesel::r2d2::{ConnectionManager, ManageConnection};
use diesel::PgConnection;

/// How long an unused connection is trusted without a check.
const TRUSTED_IDLE: Duration = Duration::from_secs(15);

/// Raised each time the process has reason to doubt its connections; a
/// connection last checked before the latest raise is checked again. One
/// for the process: pools are few, and a needless check is cheap.
static DOUBT: AtomicU64 = AtomicU64::new(0);

/// Every pooled PostgreSQL connection is checked before its next use.
pub fn doubt_all() {
    DOUBT.fetch_add(1, Ordering::SeqCst);
}

/// Opens connections to one PostgreSQL URL and decides when to check them.
pub struct PgManager {
    inner: ConnectionManager<PgConnection>,
}

/// A pooled PostgreSQL connection; derefs to diesel's [`PgConnection`].
pub struct PgPooled {
    conn: PgConnection,
    last_used: Instant,
    trusted_since: u64,
}

impl PgManager {
    pub fn new(url: &str) -> Self {
        Self {
            inner: ConnectionManager::new(url),
        }
    }
}

impl ManageConnection for PgManager {
    type Connection = PgPooled;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<PgPooled, Self::Error> {
        Ok(PgPooled {
            conn: self.inner.connect()?,
            last_used: Instant::now(),
            trusted_since: DOUBT.load(Ordering::SeqCst),
        })
    }

    fn is_valid(&self, pooled: &mut PgPooled) -> Result<(), Self::Error> {
        let doubt = DOUBT.load(Ordering::SeqCst);
        if pooled.trusted_since < doubt || pooled.last_used.elapsed() > TRUSTED_IDLE {
            self.inner.is_valid(&mut pooled.conn)?;
            pooled.trusted_since = doubt;
        }
        pooled.last_used = Instant::now();
        Ok(())
    }

    fn has_broken(&self, pooled: &mut PgPooled) -> bool {
        self.inner.has_broken(&mut pooled.conn)
    }
}

impl Deref for PgPooled {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        &self.conn
    }
}

impl DerefMut for PgPooled {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.conn
    }
}
