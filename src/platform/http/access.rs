//! One access-log line and one metrics observation per answered request,
//! in one place: method, route template (`/api/v1/needs/{id}`, never the
//! path with its ids or the query string), status, duration, the request
//! id and the kind of caller. Server failures are logged at ERROR with
//! their cause where they happen ([`super::problem`]); here a 5xx is a
//! WARN line, everything else INFO.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::HttpMessage;

use super::conventions::X_REQUEST_ID;

/// Who called, as the access log and metrics name it: `user` or `client`
/// (set once the token is verified), `anonymous` otherwise.
#[derive(Debug, Clone, Copy)]
pub struct CallerKind(pub &'static str);

/// The label of a request no route matched (bounded, unlike its path).
pub const UNMATCHED: &str = "unmatched";

pub async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().to_string();
    let response = next.call(req).await?;
    let took = started.elapsed();
    let request = response.request();
    let route = request
        .match_pattern()
        .unwrap_or_else(|| UNMATCHED.to_owned());
    let caller = request
        .extensions()
        .get::<CallerKind>()
        .map_or("anonymous", |c| c.0);
    let status = response.status().as_u16();
    let request_id = response
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    crate::platform::metrics::observe_request(&method, &route, status, took);
    let level = if status >= 500 {
        log::Level::Warn
    } else {
        log::Level::Info
    };
    let duration_ms = took.as_secs_f64() * 1000.0;
    log::log!(
        target: "songmay::access",
        level,
        request_id = request_id.as_str(),
        method = method.as_str(),
        route = route.as_str(),
        status = status,
        duration_ms = (duration_ms * 10.0).round() / 10.0,
        caller = caller;
        "{method} {route} {status} {duration_ms:.1}ms {request_id} {caller}"
    );
    Ok(response)
}
