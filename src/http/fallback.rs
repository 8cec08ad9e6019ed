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

use crate::error::{ApiError, PROBLEM_JSON};

/// Every documented path with the methods it accepts.
pub struct KnownRoutes(Vec<(ResourceDef, Vec<String>)>);

impl KnownRoutes {
    pub fn from_openapi(api: &utoipa::openapi::OpenApi) -> Self {
        let routes = api
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let doc = serde_json::to_value(item).unwrap_or_default();
                let methods = [
                    "get", "put", "post", "delete", "options", "head", "patch", "trace",
                ]
                .into_iter()
                .filter(|m| doc.get(*m).is_some())
                .map(|m| m.to_ascii_uppercase())
                .collect();
                (ResourceDef::new(path.as_str()), methods)
            })
            .collect();
        Self(routes)
    }

    /// The methods of every documented route matching `path` (a literal
    /// segment and a `{param}` route may both match).
    fn allowed(&self, path: &str) -> Vec<String> {
        let mut methods: Vec<String> = self
            .0
            .iter()
            .filter(|(def, _)| def.is_match(path))
            .flat_map(|(_, methods)| methods.iter().cloned())
            .collect();
        methods.sort();
        methods.dedup();
        methods
    }
}

/// The app's default service: what answers when no route matched.
pub async fn unmatched(
    req: HttpRequest,
    routes: web::Data<KnownRoutes>,
) -> Result<HttpResponse, ApiError> {
    let methods = routes.allowed(req.path());
    if methods.is_empty() {
        Err(ApiError::not_found(format!(
            "no resource at {}",
            req.path()
        )))
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
    if !is_error || is_problem {
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
