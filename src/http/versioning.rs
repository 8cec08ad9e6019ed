//! Optimistic concurrency for records with several editors: GET answers
//! `ETag: "<version>"`, updates send `If-Match: "<version>"` and get 412 when
//! someone else changed the record first.

use actix_web::http::header::{ETAG, IF_MATCH};
use actix_web::HttpRequest;

use crate::error::ApiError;

/// The version named by `If-Match`, if the header is present.
/// Accepts `"3"`, `W/"3"` and a bare `3`.
pub fn if_match(req: &HttpRequest) -> Result<Option<i64>, ApiError> {
    let Some(value) = req.headers().get(IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("").trim();
    let text = text.strip_prefix("W/").unwrap_or(text).trim_matches('"');
    text.parse::<i64>().map(Some).map_err(|_| {
        ApiError::bad_request("If-Match must be the version (ETag) you read, e.g. \"3\"")
    })
}

/// The `If-Match` version, which this update requires.
pub fn required_if_match(req: &HttpRequest) -> Result<i64, ApiError> {
    if_match(req)?.ok_or_else(ApiError::precondition_required)
}

/// The `ETag` header for a version.
pub fn etag(version: i64) -> (actix_web::http::header::HeaderName, String) {
    (ETAG, format!("\"{version}\""))
}

/// 412 when the caller's `If-Match` version (if sent) is not `current`.
pub fn ensure_current(if_match: Option<i64>, current: i64) -> Result<(), ApiError> {
    match if_match {
        Some(expected) if expected != current => Err(ApiError::precondition_failed(current)),
        _ => Ok(()),
    }
}
