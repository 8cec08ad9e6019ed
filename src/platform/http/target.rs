//! The request's path and query string under the text rule
//! (`crate::platform::text`), before routing: a control or invisible formatting
//! character anywhere in them is a 400 naming the part (never echoing it),
//! and the rest is composed (NFC) and trimmed, so `?q=` finds a name
//! whichever way it was typed and a path code matches its record.

use std::borrow::Cow;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Uri;
use actix_web::middleware::Next;
use actix_web::ResponseError;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};

use crate::platform::http::ApiError;

/// What a path segment keeps encoded: controls, space, the delimiters
/// and everything outside ASCII.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// The path, cleaned; `None` when it needs no change.
fn clean_path(path: &str) -> Result<Option<String>, ApiError> {
    let refused =
        || ApiError::bad_request("the path contains a control or invisible formatting character");
    let mut changed = false;
    let mut segments = Vec::new();
    for segment in path.split('/') {
        let decoded = percent_decode_str(segment).decode_utf8_lossy();
        if decoded.chars().any(crate::platform::text::is_forbidden) {
            return Err(refused());
        }
        match crate::platform::text::clean(&decoded) {
            Ok(Cow::Borrowed(same)) if same == decoded => segments.push(segment.to_owned()),
            Ok(cleaned) => {
                changed = true;
                segments.push(utf8_percent_encode(&cleaned, SEGMENT).to_string());
            }
            Err(_) => return Err(refused()),
        }
    }
    Ok(changed.then(|| segments.join("/")))
}

/// The query string, cleaned; `None` when it needs no change.
fn clean_query(query: &str) -> Result<Option<String>, ApiError> {
    let mut changed = false;
    let mut pairs = Vec::new();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        if name.chars().any(crate::platform::text::is_forbidden) {
            return Err(ApiError::bad_request(
                "a query parameter's name contains a control or invisible formatting character",
            ));
        }
        match crate::platform::text::clean(&value) {
            Ok(cleaned) => {
                changed |= cleaned != value;
                pairs.push((name.into_owned(), cleaned.into_owned()));
            }
            Err(_) => {
                return Err(ApiError::bad_request(format!(
                    "the query parameter {} contains a control or invisible formatting character",
                    name.chars()
                        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .take(40)
                        .collect::<String>()
                )))
            }
        }
    }
    Ok(changed.then(|| {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    }))
}

pub async fn clean_target(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let uri = req.uri().clone();
    let cleaned = clean_path(uri.path()).and_then(|path| {
        let query = uri.query().map(clean_query).transpose()?.flatten();
        Ok((path, query))
    });
    match cleaned {
        Err(problem) => {
            let response = problem.error_response();
            return Ok(req.into_response(response));
        }
        Ok((None, None)) => {}
        Ok((path, query)) => {
            let path = path.unwrap_or_else(|| uri.path().to_owned());
            let target = match query.or_else(|| uri.query().map(str::to_owned)) {
                Some(query) => format!("{path}?{query}"),
                None => path,
            };
            if let Ok(new) = target.parse::<Uri>() {
                req.match_info_mut().get_mut().update(&new);
                req.head_mut().uri = new;
            }
        }
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_and_paths_are_composed_and_controls_refused() {
        assert_eq!(
            clean_query("q=Ho%CC%80a&limit=5").unwrap().as_deref(),
            Some("q=H%C3%B2a&limit=5")
        );
        assert_eq!(clean_query("q=H%C3%B2a").unwrap(), None);
        assert!(clean_query("admin_unit=%00").is_err());
        assert!(clean_path("/api/v1/public/donations/%00/trace").is_err());
        assert_eq!(
            clean_path("/api/v1/schools/by-code/HB-Ho%CC%80a")
                .unwrap()
                .as_deref(),
            Some("/api/v1/schools/by-code/HB-H%C3%B2a")
        );
        assert_eq!(clean_path("/api/v1/needs/12").unwrap(), None);
    }
}
