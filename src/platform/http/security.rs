//! Response headers that keep browsers from misreading what the service
//! sends: `X-Content-Type-Options: nosniff` on everything (a CSV or a JSON
//! body is never run as a script or shown as a page), a restrictive
//! Content-Security-Policy (no scripts at all except on Swagger UI, which
//! loads its own from this service), no framing, no referrer, and
//! `Cache-Control: no-store` on every answer whose handler did not say how
//! it may be kept: a child's record, a token or an error is never left in
//! the cache of a browser on a shared school computer or of a proxy. The
//! handlers of public pages, the site and table exports say their own.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue, CACHE_CONTROL};
use actix_web::middleware::Next;

/// The policy for a path: Swagger UI runs its own scripts and styles; every
/// other response (JSON, CSV, the printable letter, the public site's
/// pages) runs nothing, and only the site's follow form submits anywhere.
fn content_security_policy(path: &str) -> &'static str {
    if path == "/docs" || path.starts_with("/docs/") {
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
         script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    } else if path == "/follow" || path.starts_with("/follow/") {
        // The public site's one form (a gift's reference) submits to itself.
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; \
         frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    } else {
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; \
         frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    }
}

pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let policy = content_security_policy(req.path());
    let mut response = next.call(req).await?.map_into_boxed_body();
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("content-security-policy", policy),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
    ] {
        let name = HeaderName::from_static(name);
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    if !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(response)
}
