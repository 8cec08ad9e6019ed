//! Identical reads asked at the same time, computed once for all of them —
//! without ever answering a caller from an older snapshot than it would
//! have read alone.
//!
//! The whole country's coverage costs the database about 20 ms of CPU, and
//! on the days that matter many dashboards ask for it at once: sixteen of
//! them kept both cores of the benchmark machine busy for 200 ms. Here
//! callers asking for the same key form a batch, and one computation serves
//! the batch. Unlike a cache or a plain "single flight" (join whatever is
//! already running), a caller never joins a computation that had started
//! before it arrived: while one runs, new callers gather into the *next*
//! batch, which starts when it ends. So every answer was read after its
//! caller asked — a request that follows its own write sees it, exactly as
//! if it had computed alone — and a caller waits at most two computations.
//!
//! One computation per key at a time; different keys run side by side.
//! Should the computation fail, or its caller go away before it is done,
//! the other callers of the batch compute on their own (a failure is not
//! shared: it may be one connection's).

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::platform::error::Failure;

/// A batch's outcome as its members see it: not yet, done, or failed.
type Outcome<V> = Option<Option<Arc<V>>>;

/// Reads of type `V` under keys `K` (what decides the answer: the subtree,
/// the filters, which database it is read from).
pub struct SharedReads<K, V> {
    keys: Mutex<HashMap<K, Slot<V>>>,
}

struct Slot<V> {
    /// The batch that has not started yet: callers arriving now join it.
    next: Option<watch::Receiver<Outcome<V>>>,
    /// Held while a batch of this key computes.
    turn: Arc<tokio::sync::Mutex<()>>,
}

enum Part<V> {
    Lead(watch::Sender<Outcome<V>>, Arc<tokio::sync::Mutex<()>>),
    Join(watch::Receiver<Outcome<V>>),
}

impl<K: Hash + Eq + Clone, V> Default for SharedReads<K, V> {
    fn default() -> Self {
        Self {
            keys: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Hash + Eq + Clone, V> SharedReads<K, V> {
    pub fn new() -> Self {
        Self::default()
    }

    /// `compute`'s answer for `key`, computed once for every caller that
    /// asks for `key` before that computation starts. Each caller passes
    /// its own `compute`; only one batch member's runs, unless the batch
    /// fails (then each runs its own).
    pub async fn read<F, Fut>(&self, key: K, compute: F) -> Result<Arc<V>, Failure>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, Failure>>,
    {
        match self.take_part(&key) {
            Part::Join(mut batch) => {
                if let Ok(outcome) = batch.wait_for(Option::is_some).await {
                    if let Some(Some(value)) = &*outcome {
                        crate::platform::metrics::count_shared_read("joined");
                        return Ok(value.clone());
                    }
                }
                crate::platform::metrics::count_shared_read("alone");
                compute().await.map(Arc::new)
            }
            Part::Lead(batch, turn) => {
                let turn = turn.lock_owned().await;
                // Whoever arrives from now on belongs to the next batch:
                // this computation starts after every member of this one asked.
                self.slot(&key, |slot| slot.next = None);
                crate::platform::metrics::count_shared_read("computed");
                let result = compute().await.map(Arc::new);
                batch.send_replace(Some(result.as_ref().ok().cloned()));
                drop(turn);
                self.slot(&key, |_| ());
                result
            }
        }
    }

    /// Joins the batch that has not started yet, or opens one and leads it.
    fn take_part(&self, key: &K) -> Part<V> {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        let slot = keys.entry(key.clone()).or_insert_with(|| Slot {
            next: None,
            turn: Arc::new(tokio::sync::Mutex::new(())),
        });
        // A batch whose leader went away before starting is over (its
        // members compute alone); a new caller opens a fresh one.
        if let Some(next) = slot.next.as_ref().filter(|next| next.has_changed().is_ok()) {
            return Part::Join(next.clone());
        }
        let (sender, receiver) = watch::channel(None);
        slot.next = Some(receiver);
        Part::Lead(sender, slot.turn.clone())
    }

    /// Applies `change` to `key`'s slot, then forgets the slot when no
    /// batch is waiting and no leader holds or waits for its turn (so the
    /// map holds only the keys being read right now).
    fn slot(&self, key: &K, change: impl FnOnce(&mut Slot<V>)) {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = keys.get_mut(key) {
            change(slot);
            if slot.next.is_none() && Arc::strong_count(&slot.turn) == 1 {
                keys.remove(key);
            }
        }
    }

    /// Keys with a batch waiting or computing.
    #[cfg(test)]
    fn active_keys(&self) -> usize {
        self.keys.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// A computation that reads `counter` when it starts (its "snapshot")
    /// and takes 30 ms.
    async fn snapshot(counter: &AtomicUsize, runs: &AtomicUsize) -> Result<usize, Failure> {
        runs.fetch_add(1, Ordering::SeqCst);
        let seen = counter.load(Ordering::SeqCst);
        actix_rt::time::sleep(Duration::from_millis(30)).await;
        Ok(seen)
    }

    /// Ten callers at once share two computations: the first caller's
    /// starts at once, and the nine who arrive while it runs share the next.
    #[actix_rt::test]
    async fn callers_at_once_share_one_computation() {
        let reads = SharedReads::<&str, usize>::new();
        let (counter, runs) = (AtomicUsize::new(7), AtomicUsize::new(0));
        let callers = (0..10).map(|_| reads.read("country", || snapshot(&counter, &runs)));
        for answer in futures_util::future::join_all(callers).await {
            assert_eq!(*answer.unwrap(), 7);
        }
        assert_eq!(
            runs.load(Ordering::SeqCst),
            2,
            "ten callers at once, two computations"
        );
        assert_eq!(reads.active_keys(), 0, "finished keys are forgotten");
    }

    /// A caller that arrives while a computation runs is not given that
    /// computation's answer: a write it made before asking would be
    /// missing from it. It gets the next one's, which sees the write.
    #[actix_rt::test]
    async fn a_caller_arriving_mid_computation_waits_for_the_next() {
        let reads = SharedReads::<&str, usize>::new();
        let (counter, runs) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let first = reads.read("country", || snapshot(&counter, &runs));
        let later = async {
            actix_rt::time::sleep(Duration::from_millis(10)).await;
            // The caller's own write, then its read.
            counter.store(1, Ordering::SeqCst);
            let joined = (0..3).map(|_| reads.read("country", || snapshot(&counter, &runs)));
            futures_util::future::join_all(joined).await
        };
        let (first, later) = futures_util::future::join(first, later).await;
        assert_eq!(*first.unwrap(), 0);
        for answer in later {
            assert_eq!(
                *answer.unwrap(),
                1,
                "an answer from before the caller's write"
            );
        }
        assert_eq!(
            runs.load(Ordering::SeqCst),
            2,
            "the three later callers shared one"
        );
    }

    /// Different keys do not wait for each other: the second key's
    /// computation starts while the first one's still runs.
    #[actix_rt::test]
    async fn different_keys_compute_side_by_side() {
        let reads = SharedReads::<&str, usize>::new();
        let (running, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let compute = || async {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            actix_rt::time::sleep(Duration::from_millis(30)).await;
            running.fetch_sub(1, Ordering::SeqCst);
            Ok(now)
        };
        let (a, b) =
            futures_util::future::join(reads.read("Hà Nội", compute), reads.read("Huế", compute))
                .await;
        a.unwrap();
        b.unwrap();
        assert_eq!(
            most.load(Ordering::SeqCst),
            2,
            "one key waited for the other"
        );
    }

    /// A failed computation is not handed to its batch: the member
    /// computes on its own and gets an answer.
    #[actix_rt::test]
    async fn a_failure_is_not_shared() {
        let reads = SharedReads::<&str, usize>::new();
        let attempts = AtomicUsize::new(0);
        // The second computation fails (a connection lost, say).
        let compute = || async {
            let attempt = attempts.fetch_add(1, Ordering::SeqCst);
            actix_rt::time::sleep(Duration::from_millis(20)).await;
            if attempt == 1 {
                Err(Failure::unavailable("the database went away"))
            } else {
                Ok(attempt)
            }
        };
        let first = reads.read("country", compute);
        // The next batch: its leader's computation fails.
        let later = async {
            actix_rt::time::sleep(Duration::from_millis(5)).await;
            futures_util::future::join_all((0..2).map(|_| reads.read("country", compute))).await
        };
        let (first, later) = futures_util::future::join(first, later).await;
        assert_eq!(*first.unwrap(), 0);
        assert!(later[0].is_err(), "the leader's own failure");
        assert_eq!(
            *later[1].as_ref().unwrap().as_ref(),
            2,
            "the member computed alone"
        );
    }

    /// When the leading caller goes away before its batch has started, the
    /// batch's members compute on their own, and the next caller of the
    /// key opens a fresh batch.
    #[actix_rt::test]
    async fn a_leader_that_goes_away_leaves_no_one_waiting() {
        let reads = SharedReads::<&str, usize>::new();
        let (counter, runs) = (AtomicUsize::new(0), AtomicUsize::new(0));
        // A computation runs; the next batch's leader gives up while a
        // member waits with it.
        let running = reads.read("country", || snapshot(&counter, &runs));
        let gave_up = async {
            actix_rt::time::sleep(Duration::from_millis(5)).await;
            let leader = reads.read("country", || snapshot(&counter, &runs));
            let member = async {
                actix_rt::time::sleep(Duration::from_millis(2)).await;
                reads.read("country", || snapshot(&counter, &runs)).await
            };
            let (left, member) = futures_util::future::join(
                actix_rt::time::timeout(Duration::from_millis(10), leader),
                member,
            )
            .await;
            assert!(left.is_err(), "the leader was still waiting for its turn");
            member.unwrap();
            reads.read("country", || snapshot(&counter, &runs)).await
        };
        let (running, after) = futures_util::future::join(running, gave_up).await;
        running.unwrap();
        after.unwrap();
        // The first, the member alone, and the caller after.
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        assert_eq!(reads.active_keys(), 0);
    }
}
