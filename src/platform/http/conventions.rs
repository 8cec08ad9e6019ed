//! HTTP conventions applied to every response in one place: a request id
//! (`X-Request-ID`, taken from the client when it is a sensible token,
//! made up otherwise) echoed on every response, written in the access log
//! and named in every problem body as its `instance`; and `Location` on
//! every `201 Created` whose body names the new record's `id`; `ETag` on
//! every versioned record and `304 Not Modified` for a conditional read.

use actix_web::body::{to_bytes, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{
    HeaderName, HeaderValue, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LOCATION,
};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::web;

use super::fallback::KnownRoutes;
use crate::platform::http::PROBLEM_JSON;

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest request id kept from a client.
const MAX_REQUEST_ID: usize = 128;

/// A client's id is kept when it is 1 to 128 visible ASCII characters (no
/// spaces, nothing that could split a log line).
fn acceptable(id: &str) -> bool {
    (1..=MAX_REQUEST_ID).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic())
}

/// The request id of a problem, as RFC 9457's `instance`.
pub fn instance(id: &str) -> String {
    format!("urn:songmay:request:{id}")
}

pub async fn request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map(str::to_owned)
        .unwrap_or_else(|| crate::platform::random::random_token(12));
    let mut response = next.call(req).await?.map_into_boxed_body();
    let is_problem = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if is_problem {
        response = rewrite_json(response, |body| {
            body.insert("instance".into(), instance(&id).into());
        })
        .await;
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(X_REQUEST_ID, value);
    }
    Ok(response)
}

/// Tells the read router (`platform::db::replica`) and the kept list pages
/// (`recent_pages`) about every write this instance answers, so the reads
/// after it wait for the replica to hold it and no page read before it is
/// served again. A refused write (4xx) wrote nothing and is not counted; a
/// 5xx is, since a commit may have happened before the failure.
pub async fn note_writes(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let writes = !req.method().is_safe();
    let state = req
        .app_data::<web::Data<crate::platform::state::AppState>>()
        .cloned();
    let response = next.call(req).await?.map_into_boxed_body();
    if writes && !response.status().is_client_error() {
        if let Some(state) = state {
            state.reads.note_write();
            state.recent_pages.forget_all();
        }
    }
    Ok(response)
}

/// `Location` for a created record: the documented `GET` route of the
/// record the body's `id` names, found by walking up the request path
/// (`POST /pledges` → `/pledges/{id}`; `POST /receipts/3/reversal` →
/// `/receipts/{id}`).
pub async fn created_location(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let routes = req.app_data::<web::Data<KnownRoutes>>().cloned();
    let (method, path) = (req.method().clone(), req.path().to_owned());
    let response = next.call(req).await?.map_into_boxed_body();
    if method != Method::POST || response.status() != StatusCode::CREATED {
        return Ok(response);
    }
    let Some(routes) = routes else {
        return Ok(response);
    };
    let (mut response, location) = peek_json(response, |body| {
        let id = body.id()?;
        path_and_parents(&path)
            .map(|base| format!("{base}/{id}"))
            .find(|candidate| routes.allowed(candidate).iter().any(|m| m == "GET"))
    })
    .await;
    if let Some(location) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert(LOCATION, location);
    }
    Ok(response)
}

/// `path`, then each path above it (`/a/b/c`, `/a/b`, `/a`): where a
/// created record may be read is the first of them with a `GET /{id}`.
/// The spec documents `Location` by the same walk (`openapi.rs`).
pub fn path_and_parents(path: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(Some(path.trim_end_matches('/')), |base| {
        base.rsplit_once('/')
            .map(|(parent, _)| parent)
            .filter(|parent| !parent.is_empty())
    })
}

/// The largest body read for a `version`: records are small; a page of a
/// list (which has no version of its own) is not worth parsing.
const MAX_VERSIONED_BODY: usize = 64 * 1024;

/// `ETag: "<version>"` on every answer that is one versioned record (a
/// top-level integer `version`), and conditional reads (RFC 9110): a `GET`
/// whose `If-None-Match` names the current tag (weak comparison, or `*`)
/// answers `304 Not Modified` with no body. One rule for every resource.
pub async fn entity_tag(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let conditional_read = matches!(*req.method(), Method::GET | Method::HEAD);
    let if_none_match = req
        .headers()
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut response = next.call(req).await?.map_into_boxed_body();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let small = match response.response().body().size() {
        actix_web::body::BodySize::Sized(n) => n as usize <= MAX_VERSIONED_BODY,
        _ => false,
    };
    if !response.status().is_success() {
        return Ok(response);
    }
    // A handler may tag its answer itself (the public site hashes its
    // pages); the conditional read below then applies to it as well.
    if is_json && !response.headers().contains_key(ETAG) && small {
        let version;
        (response, version) = peek_json(response, TopLevel::version).await;
        if let Some(version) = version {
            let (name, value) = super::versioning::etag(version);
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
    }
    let current = response.headers().get(ETAG).cloned();
    match (conditional_read, if_none_match, current) {
        (true, Some(asked), Some(current)) if response.status() == StatusCode::OK => {
            if none_match_fails(&asked, current.to_str().unwrap_or("")) {
                let (request, _) = response.into_parts();
                let mut not_modified = actix_web::HttpResponse::NotModified();
                not_modified.insert_header((ETAG, current));
                return Ok(ServiceResponse::new(request, not_modified.finish()));
            }
            Ok(response)
        }
        _ => Ok(response),
    }
}

/// Whether `If-None-Match: asked` names `current` (so the client's copy is
/// current): `*`, or any listed tag equal to it by the weak comparison
/// (`W/"3"` and `"3"` match).
fn none_match_fails(asked: &str, current: &str) -> bool {
    let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    let current = opaque(current);
    asked.trim() == "*" || asked.split(',').any(|tag| opaque(tag) == current)
}

/// Reads a JSON object body and lets `look` answer from it; the body goes
/// back byte for byte (reading an id or a version re-encodes nothing).
async fn peek_json<T>(
    response: ServiceResponse<BoxBody>,
    look: impl FnOnce(&TopLevel) -> Option<T>,
) -> (ServiceResponse<BoxBody>, Option<T>) {
    let (request, response) = response.into_parts();
    let (head, body) = response.into_parts();
    let bytes = to_bytes(body).await.unwrap_or_default();
    let found = TopLevel::read(&bytes).and_then(|top| look(&top));
    (
        ServiceResponse::new(request, head.set_body(BoxBody::new(bytes))),
        found,
    )
}

/// The two top-level members of a JSON object body the conventions read.
/// Everything else is skipped as it is scanned, never built into values:
/// building the whole body was most of the cost of answering a page.
#[derive(serde::Deserialize)]
struct TopLevel {
    #[serde(default)]
    id: Option<serde_json::Value>,
    #[serde(default)]
    version: Option<serde_json::Value>,
}

impl TopLevel {
    /// `None` unless the body is a JSON object.
    fn read(bytes: &[u8]) -> Option<Self> {
        // serde would also read a struct from an array: objects only.
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace())?;
        if *first != b'{' {
            return None;
        }
        serde_json::from_slice(bytes).ok()
    }

    fn id(&self) -> Option<i64> {
        self.id.as_ref().and_then(serde_json::Value::as_i64)
    }

    fn version(&self) -> Option<i64> {
        self.version.as_ref().and_then(serde_json::Value::as_i64)
    }
}

/// Reads a JSON object body, lets `change` look at (and change) it, and
/// writes it back. Bodies that are not a JSON object pass unchanged.
async fn rewrite_json(
    response: ServiceResponse<BoxBody>,
    change: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>),
) -> ServiceResponse<BoxBody> {
    let (request, response) = response.into_parts();
    let (head, body) = response.into_parts();
    let bytes = to_bytes(body).await.unwrap_or_default();
    let body = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Object(mut map)) => {
            change(&mut map);
            serde_json::to_vec(&map).unwrap_or_else(|_| bytes.to_vec())
        }
        _ => bytes.to_vec(),
    };
    ServiceResponse::new(request, head.set_body(BoxBody::new(body)))
}
