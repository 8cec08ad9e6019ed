//! Shared HTTP plumbing: extractor configuration (body limits and their
//! errors), keyset pagination, list pages kept for a moment, and the
//! fallback that turns every framework default error into problem+json.

pub mod access;
pub mod conventions;
pub mod fallback;
pub mod json;
pub mod pagination;
pub mod problem;
pub mod recent_pages;
pub mod security;
pub mod tabular;
pub mod target;
pub mod versioning;

pub use problem::{ApiError, Problem, PROBLEM_JSON};

use actix_web::error::{PathError, QueryPayloadError};
use actix_web::web;

/// serde_json's message with its position, minus any quoted value from the
/// body: a misplaced student name must not come back in an error body.
/// The field a data error is about, where serde names it (a missing or an
/// unknown field); otherwise `whole` (the body, the record).
pub fn field_of(error: &serde_json::Error, whole: &str) -> (String, &'static str) {
    let message = error.to_string();
    for (prefix, code) in [
        ("missing field `", "missing"),
        ("unknown field `", "unknown"),
    ] {
        if let Some(rest) = message.strip_prefix(prefix) {
            match rest.split_once('`') {
                Some((name, _)) if name.len() <= 64 => return (name.to_owned(), code),
                _ => break,
            }
        }
    }
    (whole.to_owned(), "invalid")
}

pub fn describe_serde(error: &serde_json::Error) -> String {
    without_quoted_values(&error.to_string())
}

/// A parser's message with every quoted value elided: parsers quote the
/// value they could not read, and a value may be a child's name typed into
/// the wrong field. What the parser takes from the schema stays: a field's
/// name (``missing field `grade` ``) and the accepted words after
/// "expected" (``expected one of `female`, `male` ``).
pub fn without_quoted_values(message: &str) -> String {
    const LONGEST_NAME: usize = 64;
    let mut out = String::with_capacity(message.len());
    let mut open: Option<(char, bool)> = None;
    let mut quoted = String::new();
    for c in message.chars() {
        match (c, open) {
            ('"' | '`', None) => {
                // `out` holds no value text (values are elided), so these
                // tests look at the parser's own words only.
                let keep = out.ends_with("field ") || out.contains("expected");
                open = Some((c, keep));
                quoted.clear();
                out.push(c);
            }
            (c, Some((q, keep))) if c == q => {
                if keep && quoted.chars().count() <= LONGEST_NAME {
                    out.push_str(&quoted);
                } else {
                    out.push('…');
                }
                open = None;
                out.push(c);
            }
            (c, Some(_)) => quoted.push(c),
            (c, None) => out.push(c),
        }
    }
    if open.is_some() {
        out.push('…');
    }
    out
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|error, _req| {
        let detail = match &error {
            QueryPayloadError::Deserialize(e) => {
                format!(
                    "invalid query parameter: {}",
                    without_quoted_values(&e.to_string())
                )
            }
            other => format!(
                "invalid query string: {}",
                without_quoted_values(&other.to_string())
            ),
        };
        ApiError::bad_request(detail).into()
    })
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|error, _req| {
        let detail = match &error {
            PathError::Deserialize(e) => format!(
                "invalid path parameter: {}",
                without_quoted_values(&e.to_string())
            ),
            other => format!(
                "invalid path: {}",
                without_quoted_values(&other.to_string())
            ),
        };
        ApiError::bad_request(detail).into()
    })
}

/// Raw bodies (CSV uploads).
pub fn payload_config(limit: usize) -> web::PayloadConfig {
    web::PayloadConfig::new(limit)
}

/// Checks that a raw upload came with `expected` as its media type.
pub fn require_content_type(req: &actix_web::HttpRequest, expected: &str) -> Result<(), ApiError> {
    let given = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if given.as_deref() == Some(expected) {
        Ok(())
    } else {
        Err(ApiError::unsupported_media_type(expected))
    }
}
