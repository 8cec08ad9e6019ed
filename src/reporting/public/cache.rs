//! A server-side cache for the public pages. They are the only endpoints
//! anyone on the internet may call without a token, and each one aggregates
//! the whole programme; without this, a burst of visitors would recompute
//! the same numbers once per request. Each page is computed by one request
//! at a time: while it is being recomputed after its period, other visitors
//! get the previous answer at once (stale while revalidating), and only the
//! very first visitors wait. Errors are not cached. One cache per process:
//! with several replicas each may lag the data by up to the period.

use crate::platform::error::Failure;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One cached value (the public figures, computed together).
pub struct PublicCache<T: Clone> {
    ttl: Duration,
    latest: Mutex<Option<(Instant, T)>>,
    /// Held by the one request computing the value.
    computing: tokio::sync::Mutex<()>,
}

impl<T: Clone> PublicCache<T> {
    /// `ttl` zero turns caching off.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            latest: Mutex::new(None),
            computing: tokio::sync::Mutex::new(()),
        }
    }

    /// The value: the cached one while fresh (or while another request
    /// recomputes it), otherwise computed by `compute`.
    pub async fn get_or_compute<F, Fut>(&self, compute: F) -> Result<T, Failure>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        if self.ttl.is_zero() {
            return compute().await;
        }
        let latest = lock(&self.latest).clone();
        let guard = match latest {
            Some((at, value)) if at.elapsed() < self.ttl => return Ok(value),
            Some((_, stale)) => match self.computing.try_lock() {
                Ok(guard) => guard,
                Err(_) => return Ok(stale),
            },
            None => self.computing.lock().await,
        };
        // Someone may have finished computing while this request waited.
        if let Some((at, value)) = lock(&self.latest).clone() {
            if at.elapsed() < self.ttl {
                return Ok(value);
            }
        }
        let value = compute().await?;
        *lock(&self.latest) = Some((Instant::now(), value.clone()));
        drop(guard);
        Ok(value)
    }
}

/// A poisoned lock only means another request panicked; the map and the
/// last answer are still whole.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[actix_rt::test]
    async fn computes_once_per_period_and_never_keeps_errors() {
        let cache: PublicCache<&'static str> = PublicCache::new(Duration::from_secs(60));
        let runs = AtomicUsize::new(0);
        let compute = || async {
            runs.fetch_add(1, Ordering::SeqCst);
            Ok("{}")
        };
        let failing = || async { Err(Failure::not_found("no")) };
        assert!(cache.get_or_compute(failing).await.is_err());
        for _ in 0..3 {
            cache.get_or_compute(compute).await.unwrap();
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);

        let uncached: PublicCache<&'static str> = PublicCache::new(Duration::ZERO);
        for _ in 0..3 {
            uncached.get_or_compute(compute).await.unwrap();
        }
        assert_eq!(runs.load(Ordering::SeqCst), 4);
    }

    #[actix_rt::test]
    async fn an_expired_value_is_served_stale_while_one_request_recomputes() {
        let cache: PublicCache<&'static str> = PublicCache::new(Duration::from_millis(20));
        let value = |text: &'static str| move || async move { Ok(text) };
        cache.get_or_compute(value("old")).await.unwrap();
        std::thread::sleep(Duration::from_millis(30));
        let recomputing = cache.computing.try_lock().unwrap();
        // Another request holds the computation: this one gets the old value.
        let during = cache.get_or_compute(value("new")).await.unwrap();
        drop(recomputing);
        let after = cache.get_or_compute(value("new")).await.unwrap();
        assert_eq!((during, after), ("old", "new"));
    }
}
