//! The last line of defence for the "never plain text" rule: unknown paths
//! answer 404, known paths with the wrong method 405 (with `Allow`, taken
//! from the OpenAPI document, so the two cannot disagree), and any other
//! error response the framework or a middleware produces without a
//! problem+json body is rewritten into one.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ResourceDef, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName};
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};

use crate::platform::http::{ApiError, PROBLEM_JSON};

/// Every documented path with the methods it accepts and the number of its
/// literal segments (`/needs/generate` has 4, `/needs/{id}` 3).
pub struct KnownRoutes(Vec<(ResourceDef, Vec<String>, usize)>);

impl KnownRoutes {
    pub fn from_openapi(api: &serde_json::Value) -> Self {
        let empty = serde_json::Map::new();
        let routes = api["paths"]
            .as_object()
            .unwrap_or(&empty)
            .iter()
            .map(|(path, doc)| {
                let methods = [
                    "get", "put", "post", "delete", "options", "head", "patch", "trace",
                ]
                .into_iter()
                .filter(|m| doc.get(*m).is_some())
                .map(|m| m.to_ascii_uppercase())
                .collect();
                let literal = path
                    .split('/')
                    .filter(|s| !s.is_empty() && !s.starts_with('{'))
                    .count();
                (ResourceDef::new(path.as_str()), methods, literal)
            })
            .collect();
        Self(routes)
    }

    /// The methods of the documented route `path` belongs to. Where a
    /// literal route and a `{param}` route both match (`/needs/generate`,
    /// `/needs/{id}`), the path belongs to the literal one: `generate` is
    /// not an id.
    pub fn allowed(&self, path: &str) -> Vec<String> {
        let matching: Vec<&(ResourceDef, Vec<String>, usize)> = self
            .0
            .iter()
            .filter(|(def, _, _)| def.is_match(path))
            .collect();
        let most_literal = matching.iter().map(|(_, _, l)| *l).max().unwrap_or(0);
        let mut methods: Vec<String> = matching
            .into_iter()
            .filter(|(_, _, literal)| *literal == most_literal)
            .flat_map(|(_, methods, _)| methods.iter().cloned())
            .collect();
        methods.sort();
        methods.dedup();
        methods
    }
}

/// Answers 405 (with `Allow`) before routing when the path belongs to a
/// documented route that does not take this method: without it, `GET
/// /needs/generate` would reach the `GET /needs/{id}` handler and fail to
/// read `generate` as an id.
pub async fn exact_methods(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if let Some(routes) = req.app_data::<web::Data<KnownRoutes>>() {
        let methods = routes.allowed(req.path());
        if !methods.is_empty() && !methods.iter().any(|m| m == req.method().as_str()) {
            let response = ApiError::method_not_allowed(&methods).error_response();
            return Ok(req.into_response(response));
        }
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// The app's default service: what answers when no route matched.
pub async fn unmatched(
    req: HttpRequest,
    routes: web::Data<KnownRoutes>,
) -> Result<HttpResponse, ApiError> {
    let methods = routes.allowed(req.path());
    if methods.is_empty() {
        Err(ApiError::not_found("no resource at this path"))
    } else {
        Err(ApiError::method_not_allowed(&methods))
    }
}

/// Headers of the original error response worth keeping.
const KEPT_HEADERS: [HeaderName; 4] = [
    header::ALLOW,
    header::RETRY_AFTER,
    header::WWW_AUTHENTICATE,
    header::ACCESS_CONTROL_ALLOW_ORIGIN,
];

pub async fn problem_fallback(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    // Inner services turn their errors into responses; an `Err` here is
    // rendered by actix from its `ResponseError`, which for ours is problem+json.
    let response = next.call(req).await?.map_into_boxed_body();
    let status = response.status();
    let is_error = status.is_client_error() || status.is_server_error();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    // A page written for people (the public site's "not found") keeps its
    // body; the framework's own errors are never HTML.
    let is_page = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if !is_error || is_problem || is_page {
        return Ok(response);
    }
    let (request, original) = response.into_parts();
    let mut replacement = ApiError::from_status(status).error_response();
    for name in KEPT_HEADERS {
        if let Some(value) = original.headers().get(&name) {
            replacement.headers_mut().insert(name, value.clone());
        }
    }
    Ok(ServiceResponse::new(request, replacement))
}
