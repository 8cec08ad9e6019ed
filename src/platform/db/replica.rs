//! Reads that may go to a PostgreSQL streaming replica
//! (`SONGMAY_READ_DATABASE_URL`) without ever showing a caller less than
//! this instance has already written.
//!
//! The rule (README "Scaling"): a routed read (statistics, public pages,
//! reports, lists) uses the replica only when the replica has replayed the
//! primary's WAL at least up to where it stood after the last write this
//! instance answered. So a request that follows a write made through the
//! same instance, by anyone, reads the primary until the replica has caught
//! up; a replica that is unreachable, not a standby, or more than
//! [`MAX_REPLAY_DELAY`] behind on WAL it has received is skipped until a
//! later probe finds it well. Writes, and reads that decide a write, always
//! use the primary. A write made through *another* instance may be missing
//! from a replica read for as long as the replica lags (normally well under
//! a second); deployments that need more route a caller to one instance.
//!
//! Positions are learnt lazily: the primary's WAL position once per batch
//! of writes, at the next routed read; the replica's at most once per
//! [`PROBE_INTERVAL`] while it is current, and at each routed read while it
//! is behind this instance's writes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use diesel::sql_types::{BigInt, Bool};
use diesel::RunQueryDsl;

use super::{with_conn, Db, DbConn};
use crate::platform::error::Failure;

/// How long a probe of the replica is trusted while nothing is written.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);
/// Received WAL not replayed for longer than this makes the replica stale.
const MAX_REPLAY_DELAY: &str = "5 seconds";

/// The primary, and the replica reads may use.
pub struct Reads {
    primary: Db,
    replica: Option<Replica>,
}

struct Replica {
    db: Db,
    /// Writes this instance has answered (see [`Reads::note_write`]).
    writes: AtomicU64,
    known: Mutex<Known>,
}

/// What this instance last learnt about the two servers.
#[derive(Clone, Copy)]
struct Known {
    /// `writes` when `written` was read from the primary.
    writes_covered: u64,
    /// The primary's WAL position after those writes.
    written: i64,
    /// The replica's replayed position, and whether it was fit to read.
    replayed: i64,
    fit: bool,
    probed_at: Option<Instant>,
}

impl Known {
    fn serves(&self) -> bool {
        self.fit && self.replayed >= self.written
    }
}

#[derive(diesel::QueryableByName)]
struct PrimaryPosition {
    #[diesel(sql_type = BigInt)]
    position: i64,
}

#[derive(diesel::QueryableByName)]
struct ReplicaPosition {
    #[diesel(sql_type = BigInt)]
    replayed: i64,
    #[diesel(sql_type = Bool)]
    current: bool,
}

impl Reads {
    pub fn new(primary: Db, replica: Option<Db>) -> Self {
        Self {
            primary,
            replica: replica.map(|db| Replica {
                db,
                writes: AtomicU64::new(0),
                known: Mutex::new(Known {
                    writes_covered: 0,
                    written: 0,
                    replayed: -1,
                    fit: false,
                    probed_at: None,
                }),
            }),
        }
    }

    /// Counts a write this instance answered: the next routed read learns
    /// the primary's position and waits for the replica to reach it.
    pub fn note_write(&self) {
        if let Some(replica) = &self.replica {
            replica.writes.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Whether `db` (as [`Reads::db`] chose it) is the replica.
    pub fn is_replica(&self, db: &Db) -> bool {
        self.replica
            .as_ref()
            .is_some_and(|replica| replica.db.is_same_as(db))
    }

    /// Whether a replica is configured at all.
    pub fn has_replica(&self) -> bool {
        self.replica.is_some()
    }

    /// The database a routed read uses now: the replica when it holds
    /// everything this instance has written, else the primary.
    pub async fn db(&self) -> &Db {
        let Some(replica) = &self.replica else {
            return &self.primary;
        };
        let chosen = if replica.serves(&self.primary).await {
            &replica.db
        } else {
            &self.primary
        };
        crate::platform::metrics::count_routed_read(if std::ptr::eq(chosen, &self.primary) {
            "primary"
        } else {
            "replica"
        });
        chosen
    }
}

impl Replica {
    fn known(&self) -> Known {
        *self.known.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn serves(&self, primary: &Db) -> bool {
        let writes = self.writes.load(Ordering::SeqCst);
        let known = self.known();
        let unseen_writes = known.writes_covered < writes;
        let probed_recently = known
            .probed_at
            .is_some_and(|at| at.elapsed() < PROBE_INTERVAL);
        if !unseen_writes && probed_recently && (known.serves() || !known.fit) {
            return known.serves();
        }
        let written = if unseen_writes {
            match primary.run(primary_position).await {
                Ok(position) => Some(position),
                // The primary is what a read falls back to; let it answer.
                Err(_) => return false,
            }
        } else {
            None
        };
        let probe = self.db.run(replica_position).await;
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(written) = written {
            known.written = known.written.max(written);
            known.writes_covered = known.writes_covered.max(writes);
        }
        match probe {
            Ok(position) => {
                known.replayed = position.replayed;
                known.fit = position.current && position.replayed >= 0;
            }
            Err(error) => {
                if known.fit {
                    log::warn!("the read replica is not answering; reading the primary: {error}");
                }
                known.fit = false;
            }
        }
        known.probed_at = Some(Instant::now());
        known.serves()
    }
}

/// The primary's current WAL position, as a number.
fn primary_position(conn: &mut DbConn) -> Result<i64, Failure> {
    let row: PrimaryPosition = with_conn!(conn, |c| diesel::sql_query(
        "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint AS position"
    )
    .get_result(c))?;
    Ok(row.position)
}

/// The replica's replayed position (-1 when it is not a standby) and
/// whether it is current: nothing received waits longer than
/// [`MAX_REPLAY_DELAY`] to be replayed.
fn replica_position(conn: &mut DbConn) -> Result<ReplicaPosition, Failure> {
    let query = format!(
        "SELECT COALESCE((pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint, -1) AS replayed,
                COALESCE(pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn()
                         OR now() - pg_last_xact_replay_timestamp() < interval '{MAX_REPLAY_DELAY}',
                         false) AS current"
    );
    Ok(with_conn!(conn, |c| diesel::sql_query(&query).get_result(c))?)
}
