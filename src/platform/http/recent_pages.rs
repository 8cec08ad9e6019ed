//! Pages of the busiest lists (students, needs), kept for a moment and
//! served again to the same caller asking the same question.
//!
//! A district's first page of needs costs the service and PostgreSQL
//! about four single-record reads (README "Benchmarks", authenticated
//! reads), and the callers who ask for it most are dashboards refreshing
//! the same page. Each answer is kept for
//! `SONGMAY_LIST_CACHE_MS` (default 1 s, at most 5 s, 0: never) under the
//! caller and the request's path and query, and:
//!
//! - **never shown to anyone else**: the key is the caller's account, role,
//!   duties and scope, so a page is only ever served to the caller it was
//!   read for (whose token and account are checked on every request, kept
//!   page or not);
//! - **forgotten at every write this instance answers** (the same rule as
//!   the read replica's, `platform::db::replica`): a request that follows a
//!   write made through this instance, by anyone, reads afresh, and a
//!   page read while a write was being answered is not kept;
//! - **at most the setting old** for writes made through other instances
//!   or by background work, the same bound a replica's lag puts on list
//!   reads. A caller that must read a write back at once reads the record
//!   (`GET /…/{id}` is never kept).
//!
//! Kept in this process's memory only, bounded in entries and bytes, and
//! never written anywhere: the pages hold children's data. An expired page
//! is dropped when it is next asked for or at the next page kept, so none
//! outlives the setting by more than the next list request.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::http::header::ContentType;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;

use crate::platform::auth::Principal;
use crate::platform::http::ApiError;

/// Pages kept at most; past it, the expired ones are dropped (and, if
/// that is not enough, all of them).
const MOST_PAGES: usize = 10_000;
/// Bytes of pages kept at most, by the same rule.
const MOST_BYTES: usize = 64 * 1024 * 1024;

pub struct RecentPages {
    ttl: Duration,
    /// Bumped by every write answered here: a page read before it names
    /// an older generation and is neither kept nor served.
    generation: AtomicU64,
    kept: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    pages: HashMap<String, Page>,
    bytes: usize,
    /// When expired pages were last dropped.
    swept: Option<Instant>,
}

struct Page {
    at: Instant,
    generation: u64,
    body: Bytes,
}

impl RecentPages {
    /// `ttl` zero keeps nothing.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            generation: AtomicU64::new(0),
            kept: Mutex::new(Kept::default()),
        }
    }

    /// A write was answered here: no page read before it is served again.
    pub fn forget_all(&self) {
        if self.ttl.is_zero() {
            return;
        }
        self.generation.fetch_add(1, Ordering::SeqCst);
        let mut kept = self.kept();
        kept.pages.clear();
        kept.bytes = 0;
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        // A poisoned lock only means a request panicked; the map is whole.
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The JSON page `read` answers for this caller and request, or the one
    /// it answered a moment ago. Failures are never kept.
    pub async fn serve<T, F, Fut>(
        &self,
        principal: &Principal,
        req: &HttpRequest,
        read: F,
    ) -> Result<HttpResponse, ApiError>
    where
        T: Serialize,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        if self.ttl.is_zero() {
            let body = serialize(&read().await?)?;
            crate::platform::metrics::count_list_page("read");
            return Ok(json(body));
        }
        let key = key(principal, req);
        let generation = self.generation.load(Ordering::SeqCst);
        if let Some(body) = self.recall(&key, generation) {
            crate::platform::metrics::count_list_page("kept");
            return Ok(json(body));
        }
        let body = serialize(&read().await?)?;
        crate::platform::metrics::count_list_page("read");
        self.keep(key, generation, body.clone());
        Ok(json(body))
    }

    fn recall(&self, key: &str, generation: u64) -> Option<Bytes> {
        let mut kept = self.kept();
        let page = kept.pages.get(key)?;
        if page.generation == generation && page.at.elapsed() < self.ttl {
            return Some(page.body.clone());
        }
        if let Some(old) = kept.pages.remove(key) {
            kept.bytes -= old.body.len();
        }
        None
    }

    fn keep(&self, key: String, generation: u64, body: Bytes) {
        let mut kept = self.kept();
        // A write answered while this page was read: it may predate it.
        if generation != self.generation.load(Ordering::SeqCst) {
            return;
        }
        // A page that large would push out most others for one caller.
        if body.len() > MOST_BYTES / 16 {
            return;
        }
        let full = kept.pages.len() >= MOST_PAGES || kept.bytes + body.len() > MOST_BYTES;
        if full || kept.swept.is_none_or(|at| at.elapsed() >= self.ttl) {
            let ttl = self.ttl;
            kept.pages.retain(|_, page| page.at.elapsed() < ttl);
            kept.bytes = kept.pages.values().map(|page| page.body.len()).sum();
            kept.swept = Some(Instant::now());
            if kept.pages.len() >= MOST_PAGES || kept.bytes + body.len() > MOST_BYTES {
                kept.pages.clear();
                kept.bytes = 0;
            }
        }
        kept.bytes += body.len();
        let page = Page {
            at: Instant::now(),
            generation,
            body,
        };
        if let Some(old) = kept.pages.insert(key, page) {
            kept.bytes -= old.body.len();
        }
    }
}

/// What decides the answer besides the data: who asks (account, role,
/// duties, scope) and what they ask (the path and the query as sent).
fn key(principal: &Principal, req: &HttpRequest) -> String {
    format!(
        "{}\u{1f}{}\u{1f}{:?}\u{1f}{:?}\u{1f}{}?{}",
        principal.account.subject(),
        principal.role.as_str(),
        principal.extra_roles,
        principal.scope,
        req.path(),
        req.query_string()
    )
}

fn serialize<T: Serialize>(value: &T) -> Result<Bytes, ApiError> {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .map_err(|_| ApiError::internal("a page could not be written as JSON"))
}

fn json(body: Bytes) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::auth::{Account, Role, Scope};
    use std::sync::atomic::AtomicUsize;

    fn caller(scope: Scope) -> Principal {
        Principal {
            account: Account::User {
                id: 7,
                username: "officer".into(),
            },
            role: Role::DistrictOfficer,
            extra_roles: Vec::new(),
            scope,
            token_version: 1,
        }
    }

    /// Serves `uri` to `who`, counting the reads that reach `read`.
    async fn page(pages: &RecentPages, who: &Principal, uri: &str, reads: &AtomicUsize) -> Bytes {
        let req = actix_web::test::TestRequest::get()
            .uri(uri)
            .to_http_request();
        let answer = pages
            .serve(who, &req, || async {
                Ok(serde_json::json!({"read": reads.fetch_add(1, Ordering::SeqCst)}))
            })
            .await
            .expect("a page");
        actix_web::body::to_bytes(answer.into_body())
            .await
            .expect("a body")
    }

    #[actix_rt::test]
    async fn a_page_is_kept_per_caller_and_question_until_a_write_or_its_time() {
        let reads = AtomicUsize::new(0);
        let pages = RecentPages::new(Duration::from_secs(60));
        let district = caller(Scope::AdminUnit {
            admin_unit_code: "150".into(),
        });
        let first = page(&pages, &district, "/api/v1/needs?limit=5", &reads).await;
        assert_eq!(
            page(&pages, &district, "/api/v1/needs?limit=5", &reads).await,
            first
        );
        assert_eq!(
            reads.load(Ordering::SeqCst),
            1,
            "the second answer was kept"
        );
        // Another question, another scope: each read on its own.
        page(&pages, &district, "/api/v1/needs?limit=6", &reads).await;
        let elsewhere = caller(Scope::AdminUnit {
            admin_unit_code: "148".into(),
        });
        page(&pages, &elsewhere, "/api/v1/needs?limit=5", &reads).await;
        assert_eq!(reads.load(Ordering::SeqCst), 3);
        // A write answered here: read afresh.
        pages.forget_all();
        page(&pages, &district, "/api/v1/needs?limit=5", &reads).await;
        assert_eq!(reads.load(Ordering::SeqCst), 4);

        // A page read while a write was answered is not kept: it may
        // predate the write.
        let req = actix_web::test::TestRequest::get()
            .uri("/api/v1/students")
            .to_http_request();
        pages
            .serve(&district, &req, || async {
                pages.forget_all();
                Ok(serde_json::json!({"read": reads.fetch_add(1, Ordering::SeqCst)}))
            })
            .await
            .expect("a page");
        page(&pages, &district, "/api/v1/students", &reads).await;
        assert_eq!(reads.load(Ordering::SeqCst), 6);

        // Out of time, or off: read every time.
        let brief = RecentPages::new(Duration::from_millis(10));
        page(&brief, &district, "/x", &reads).await;
        std::thread::sleep(Duration::from_millis(20));
        page(&brief, &district, "/x", &reads).await;
        assert_eq!(reads.load(Ordering::SeqCst), 8);
        let off = RecentPages::new(Duration::ZERO);
        page(&off, &district, "/x", &reads).await;
        page(&off, &district, "/x", &reads).await;
        assert_eq!(reads.load(Ordering::SeqCst), 10);
    }
}
