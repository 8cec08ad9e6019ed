//! Optimistic concurrency for records with several editors (RFC 9110):
//! GET answers `ETag: "<version>"`, updates send `If-Match: "<version>"` and
//! get 412 when someone else changed the record first. `If-Match: *`
//! matches any current version. If-Match uses the strong comparison, so a
//! weak tag (`W/"3"`) never matches: 412.

use actix_web::http::header::{ETAG, IF_MATCH};
use actix_web::HttpRequest;

use crate::platform::http::ApiError;

/// A version no record has: what a weak tag in `If-Match` compares as.
const NO_VERSION: i64 = -1;

/// The version `If-Match` names: `None` when the header is absent or `*`
/// (any current version will do).
pub fn if_match(req: &HttpRequest) -> Result<Option<i64>, ApiError> {
    Ok(precondition(req)?.flatten())
}

/// Like [`if_match`], for updates that require the header (428 without it).
pub fn required_if_match(req: &HttpRequest) -> Result<Option<i64>, ApiError> {
    precondition(req)?.ok_or_else(ApiError::precondition_required)
}

/// `None`: no header; `Some(None)`: `*`; `Some(Some(v))`: one entity tag.
fn precondition(req: &HttpRequest) -> Result<Option<Option<i64>>, ApiError> {
    let Some(value) = req.headers().get(IF_MATCH) else {
        return Ok(None);
    };
    let malformed = || {
        ApiError::bad_request(
            "If-Match must be one entity tag as GET sent it in ETag (e.g. \"3\"), or *",
        )
    };
    let text = value.to_str().map_err(|_| malformed())?.trim();
    if text == "*" {
        return Ok(Some(None));
    }
    let (weak, tag) = match text.strip_prefix("W/") {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let version = tag
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse::<i64>().ok())
        .ok_or_else(malformed)?;
    Ok(Some(Some(if weak { NO_VERSION } else { version })))
}

/// The `ETag` header for a version.
pub fn etag(version: i64) -> (actix_web::http::header::HeaderName, String) {
    (ETAG, format!("\"{version}\""))
}
