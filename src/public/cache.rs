//! A server-side cache for the public pages. They are the only endpoints
//! anyone on the internet may call without a token, and each one aggregates
//! the whole programme; without this, a burst of visitors would recompute
//! the same numbers once per request. Each page is computed by one request
//! at a time: while it is being recomputed after its period, other visitors
//! get the previous answer at once (stale while revalidating), and only the
//! very first visitors wait. Errors are not cached.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::web::Bytes;

use crate::error::ApiError;

/// The cached pages. A closed set, so that arbitrary URLs (receipt
/// references) cannot grow the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PublicPage {
    Progress,
    NeedsBoard,
    Donations,
}

#[derive(Default)]
struct Slot {
    latest: Mutex<Option<(Instant, Bytes)>>,
    /// Held by the one request computing the page.
    computing: tokio::sync::Mutex<()>,
}

pub struct PublicCache {
    ttl: Duration,
    slots: Mutex<HashMap<PublicPage, Arc<Slot>>>,
}

impl PublicCache {
    /// `ttl` zero turns caching off.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// The page's body: the cached one while fresh (or while another request
    /// recomputes it), otherwise computed by `compute`.
    pub async fn get_or_compute<F, Fut>(
        &self,
        page: PublicPage,
        compute: F,
    ) -> Result<Bytes, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Bytes, ApiError>>,
    {
        if self.ttl.is_zero() {
            return compute().await;
        }
        let slot = lock(&self.slots).entry(page).or_default().clone();
        let latest = lock(&slot.latest).clone();
        let guard = match latest {
            Some((at, body)) if at.elapsed() < self.ttl => return Ok(body),
            Some((_, stale)) => match slot.computing.try_lock() {
                Ok(guard) => guard,
                Err(_) => return Ok(stale),
            },
            None => slot.computing.lock().await,
        };
        // Someone may have finished computing while this request waited.
        if let Some((at, body)) = lock(&slot.latest).clone() {
            if at.elapsed() < self.ttl {
                return Ok(body);
            }
        }
        let body = compute().await?;
        *lock(&slot.latest) = Some((Instant::now(), body.clone()));
        drop(guard);
        Ok(body)
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
        let cache = PublicCache::new(Duration::from_secs(60));
        let runs = AtomicUsize::new(0);
        let compute = || async {
            runs.fetch_add(1, Ordering::SeqCst);
            Ok(Bytes::from_static(b"{}"))
        };
        let failing = || async { Err(ApiError::not_found("no")) };
        assert!(cache
            .get_or_compute(PublicPage::Donations, failing)
            .await
            .is_err());
        for _ in 0..3 {
            cache
                .get_or_compute(PublicPage::Progress, compute)
                .await
                .unwrap();
            cache
                .get_or_compute(PublicPage::Donations, compute)
                .await
                .unwrap();
        }
        assert_eq!(runs.load(Ordering::SeqCst), 2);

        let uncached = PublicCache::new(Duration::ZERO);
        for _ in 0..3 {
            uncached
                .get_or_compute(PublicPage::Progress, compute)
                .await
                .unwrap();
        }
        assert_eq!(runs.load(Ordering::SeqCst), 5);
    }

    #[actix_rt::test]
    async fn an_expired_page_is_served_stale_while_one_request_recomputes() {
        let cache = PublicCache::new(Duration::from_millis(20));
        let body =
            |text: &'static str| move || async move { Ok(Bytes::from_static(text.as_bytes())) };
        cache
            .get_or_compute(PublicPage::Progress, body("old"))
            .await
            .unwrap();
        std::thread::sleep(Duration::from_millis(30));
        let slot = lock(&cache.slots)[&PublicPage::Progress].clone();
        let recomputing = slot.computing.try_lock().unwrap();
        // Another request holds the computation: this one gets the old page.
        let during = cache
            .get_or_compute(PublicPage::Progress, body("new"))
            .await
            .unwrap();
        drop(recomputing);
        let after = cache
            .get_or_compute(PublicPage::Progress, body("new"))
            .await
            .unwrap();
        assert_eq!((&during[..], &after[..]), (&b"old"[..], &b"new"[..]));
    }
}
