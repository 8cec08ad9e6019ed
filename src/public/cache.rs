//! A server-side cache for the public pages. They are the only endpoints
//! anyone on the internet may call without a token, and each one aggregates
//! the whole programme; without this, a burst of visitors would recompute
//! the same numbers once per request. Each page is computed at most once
//! per period: concurrent visitors of an expired page wait for the one
//! computation instead of starting their own. Errors are not cached.

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

type Slot = Arc<tokio::sync::Mutex<Option<(Instant, Bytes)>>>;

pub struct PublicCache {
    ttl: Duration,
    slots: Mutex<HashMap<PublicPage, Slot>>,
}

impl PublicCache {
    /// `ttl` zero turns caching off.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// The page's body, computed by `compute` when absent or older than the period.
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
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            slots.entry(page).or_default().clone()
        };
        let mut entry = slot.lock().await;
        if let Some((computed_at, body)) = entry.as_ref() {
            if computed_at.elapsed() < self.ttl {
                return Ok(body.clone());
            }
        }
        let body = compute().await?;
        *entry = Some((Instant::now(), body.clone()));
        Ok(body)
    }
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
}
