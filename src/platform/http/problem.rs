//! The service's errors as HTTP sees them: RFC 9457
//! `application/problem+json`. Handlers return `Result<_, ApiError>` and use
//! `?`; a [`Failure`] from storage or a domain, a database error, a
//! validation or extractor error converts here — the one place that decides
//! the status — so every failure reaches the client in the same shape and
//! never carries SQL text, stack traces or personal data. The cause of a
//! 5xx goes to the log only.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::platform::error::{Failure, FieldError};

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:songmay:problem:validation",
    "title": "Invalid input",
    "status": 422,
    "detail": "2 fields are invalid",
    "errors": [{"field": "password", "code": "length", "message": "must be at least 12 characters"}]
}))]
pub struct Problem {
    /// A URI naming the kind of problem (`urn:songmay:problem:<kind>`).
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Present for validation failures: one entry per bad field or line.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// For a refused batch: the problems of each rejected row.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub rows: Option<serde_json::Value>,
    /// This occurrence: `urn:songmay:request:<X-Request-ID>`; quote it when
    /// asking the operators about a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "urn:songmay:request:7Qm2xP4kLw9Z")]
    pub instance: Option<String>,
}

/// Boxed: errors travel through every `Result` of the service, and a
/// pointer keeps those results small.
#[derive(Debug)]
pub struct ApiError(Box<Details>);

#[derive(Debug)]
struct Details {
    status: StatusCode,
    kind: &'static str,
    detail: String,
    errors: Vec<FieldError>,
    headers: Vec<(header::HeaderName, String)>,
    /// Per-row problems of a refused batch (the `rows` member).
    rows: Option<serde_json::Value>,
    /// What went wrong inside, for the log; never sent.
    cause: Option<String>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.0.status.as_u16(),
            self.0.kind,
            self.0.detail
        )
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, detail: impl Into<String>) -> Self {
        Self(Box::new(Details {
            status,
            kind,
            detail: detail.into(),
            errors: Vec::new(),
            headers: Vec::new(),
            rows: None,
            cause: None,
        }))
    }

    /// Keeps `cause` for the log (never sent to the client).
    fn with_cause(mut self, cause: impl Into<String>) -> Self {
        self.0.cause = Some(cause.into());
        self
    }

    /// Adds the per-row report of a refused batch.
    pub fn with_rows(mut self, rows: serde_json::Value) -> Self {
        self.0.rows = Some(rows);
        self
    }

    /// 412: the `If-Match` version is not the current one.
    pub fn precondition_failed(current_version: i64) -> Self {
        Failure::precondition_failed(current_version).into()
    }

    /// Another writer changed the record between our read and our write:
    /// 412 when the caller sent `If-Match`, 409 when it did not.
    pub fn changed_meanwhile(current_version: i64, if_match: Option<i64>) -> Self {
        Failure::changed_meanwhile(current_version, if_match).into()
    }

    /// 428: an update of a record with concurrent editors needs `If-Match`.
    pub fn precondition_required() -> Self {
        Self::new(
            StatusCode::PRECONDITION_REQUIRED,
            "precondition-required",
            "send If-Match with the version you read (the ETag of GET)",
        )
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad-request", detail)
    }

    pub fn malformed_json(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed-body", detail)
    }

    /// 422 with one entry per invalid field.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        Failure::validation(errors).into()
    }

    /// 422 for a single invalid field.
    pub fn invalid_field(field: &str, code: &str, message: impl Into<String>) -> Self {
        Failure::invalid_field(field, code, message).into()
    }

    /// 422: an id named in the request body names nothing the caller may
    /// see (the one rule for unknown references in bodies; in a path it is 404).
    pub fn unknown_reference(field: &str) -> Self {
        Failure::unknown_reference(field).into()
    }

    pub fn is_not_found(&self) -> bool {
        self.0.status == StatusCode::NOT_FOUND
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        let mut error = Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail);
        error.0.headers.push((
            header::WWW_AUTHENTICATE,
            "Bearer realm=\"songmay\"".to_owned(),
        ));
        error
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Failure::forbidden(detail).into()
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Failure::not_found(detail).into()
    }

    pub fn method_not_allowed(allowed: &[String]) -> Self {
        let allow = allowed.join(", ");
        let mut error = Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            format!("this resource accepts: {allow}"),
        );
        error.0.headers.push((header::ALLOW, allow));
        error
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Failure::conflict(detail).into()
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            format!("the request body is larger than the limit of {limit} bytes"),
        )
    }

    pub fn unsupported_media_type(expected: &str) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            format!("send the body as {expected} (with that Content-Type header)"),
        )
    }

    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            format!("too many attempts; retry in {retry_after_secs} s"),
        );
        error
            .0
            .headers
            .push((header::RETRY_AFTER, retry_after_secs.to_string()));
        error
    }

    /// Seconds a client is asked to wait after a 503.
    pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 2;

    /// 503: the database is down, overloaded or busy; the client may retry.
    pub fn unavailable(cause: impl Into<String>) -> Self {
        let mut error = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the service cannot reach its database right now; retry shortly",
        )
        .with_cause(cause);
        // A hint for clients and proxies; an idempotent retry is safe.
        error.0.headers.push((
            header::RETRY_AFTER,
            Self::UNAVAILABLE_RETRY_AFTER_SECS.to_string(),
        ));
        error
    }

    /// 404 for an administrative unit code that names no unit, or one
    /// outside the caller's scope (the same answer, so scope leaks nothing).
    /// The code itself is not repeated: refusals never echo what was sent.
    pub fn unknown_admin_unit() -> Self {
        Failure::unknown_admin_unit().into()
    }

    /// 500: a bug or an unexpected failure. The cause is logged, not sent.
    pub fn internal(cause: impl Into<String>) -> Self {
        Failure::internal(cause).into()
    }

    /// A problem for a status produced outside our handlers (actix defaults).
    pub fn from_status(status: StatusCode) -> Self {
        match status {
            StatusCode::NOT_FOUND => Self::not_found("no resource at this path"),
            StatusCode::PAYLOAD_TOO_LARGE => Self::new(
                status,
                "payload-too-large",
                "the request body is larger than this endpoint accepts",
            ),
            s if s.is_server_error() => {
                Self::internal(format!("unexpected {s} from the framework"))
            }
            s => Self::new(
                s,
                "http",
                s.canonical_reason().unwrap_or("request failed").to_owned(),
            ),
        }
    }

    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    pub fn errors(&self) -> &[FieldError] {
        &self.0.errors
    }

    fn title(&self) -> &'static str {
        match self.0.kind {
            "validation" => "Invalid input",
            "malformed-body" => "Malformed request body",
            _ => self.0.status.canonical_reason().unwrap_or("Error"),
        }
    }

    pub fn problem(&self) -> Problem {
        Problem {
            problem_type: format!("urn:songmay:problem:{}", self.0.kind),
            title: self.title().to_owned(),
            status: self.0.status.as_u16(),
            detail: self.0.detail.clone(),
            errors: self.0.errors.clone(),
            rows: self.0.rows.clone(),
            // Added on the way out, where the request id is known
            // (`platform::http::conventions`).
            instance: None,
        }
    }
}

/// How loud a refusal's cause is logged: a server's failure is an ERROR;
/// a client's (a unique value taken, a reference that no longer holds) is
/// routine, at INFO, so alerts on errors mean something.
fn log_level(status: StatusCode) -> log::Level {
    if status.is_server_error() {
        log::Level::Error
    } else {
        log::Level::Info
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.0.status
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(cause) = &self.0.cause {
            log::log!(
                log_level(self.0.status),
                "{} {}: {cause}",
                self.0.status.as_u16(),
                self.0.kind
            );
        }
        let mut response = HttpResponse::build(self.0.status);
        response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
        for (name, value) in &self.0.headers {
            if let Ok(value) = HeaderValue::from_str(value) {
                response.insert_header((name.clone(), value));
            }
        }
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        response.body(body)
    }
}

impl From<Failure> for ApiError {
    fn from(failure: Failure) -> Self {
        if failure.is_transient() {
            return Self::unavailable(failure.to_string());
        }
        match failure {
            Failure::NotFound(detail) => Self::new(StatusCode::NOT_FOUND, "not-found", detail),
            Failure::Invalid { errors, rows } => {
                let detail = match errors.len() {
                    1 => format!("{}: {}", errors[0].field, errors[0].message),
                    n => format!("{n} fields are invalid"),
                };
                let mut error = Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation", detail);
                error.0.errors = errors;
                error.0.rows = rows;
                error
            }
            Failure::Conflict(detail) => Self::new(StatusCode::CONFLICT, "conflict", detail),
            Failure::Unauthenticated(detail) => Self::unauthorized(detail),
            Failure::Forbidden(detail) => Self::new(StatusCode::FORBIDDEN, "forbidden", detail),
            // 412 when the caller sent `If-Match`, 409 when it did not.
            Failure::ChangedMeanwhile {
                current_version,
                if_match: Some(_),
            } => Self::new(
                StatusCode::PRECONDITION_FAILED,
                "precondition-failed",
                format!("the record has changed; its current version is {current_version}: read it again and retry"),
            ),
            Failure::ChangedMeanwhile {
                current_version,
                if_match: None,
            } => Self::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("the record changed while you were updating it (version {current_version} now): read it again and retry"),
            ),
            Failure::Storage(error) => Self::from_database(error),
            Failure::NoConnection(error) => {
                Self::unavailable(format!("no database connection: {error}"))
            }
            Failure::Unavailable(cause) => Self::unavailable(cause),
            Failure::Internal(cause) => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "an unexpected error occurred; it has been logged",
            )
            .with_cause(cause),
        }
    }
}

impl ApiError {
    /// What a database refusal that is not transient
    /// ([`Failure::is_transient`]) means to the client.
    fn from_database(error: DieselError) -> Self {
        match error {
            DieselError::NotFound => Self::not_found("no such record"),
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                Self::conflict("a record with the same unique value already exists")
                    .with_cause(info.message())
            }
            DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info) => {
                Self::conflict(
                    "the record refers to something that does not exist, or is still referred to",
                )
                .with_cause(info.message())
            }
            DieselError::DatabaseError(_, info) => Self::internal(format!(
                "constraint rejected a validated value: {}",
                info.message()
            )),
            other => Self::internal(format!("database error: {other}")),
        }
    }
}

impl From<DieselError> for ApiError {
    fn from(error: DieselError) -> Self {
        Failure::Storage(error).into()
    }
}

impl From<diesel::r2d2::PoolError> for ApiError {
    fn from(error: diesel::r2d2::PoolError) -> Self {
        Failure::from(error).into()
    }
}

impl From<validator::ValidationErrors> for ApiError {
    fn from(errors: validator::ValidationErrors) -> Self {
        Failure::from(errors).into()
    }
}

#[cfg(test)]
mod log_level_tests {
    use super::*;

    #[test]
    fn client_mistakes_are_info_and_server_failures_are_errors() {
        assert_eq!(log_level(StatusCode::CONFLICT), log::Level::Info);
        assert_eq!(
            log_level(StatusCode::UNPROCESSABLE_ENTITY),
            log::Level::Info
        );
        assert_eq!(
            log_level(StatusCode::INTERNAL_SERVER_ERROR),
            log::Level::Error
        );
        assert_eq!(
            log_level(StatusCode::SERVICE_UNAVAILABLE),
            log::Level::Error
        );
    }
}

#[cfg(test)]
mod transient_tests {
    use super::*;
    use actix_web::ResponseError;
    use diesel::result::DatabaseErrorKind as Kind;

    fn refused(kind: Kind) -> Failure {
        Failure::Storage(DieselError::DatabaseError(
            kind,
            Box::new(String::from("…")),
        ))
    }

    /// One rule decides what a client may retry: a failure answers 503
    /// exactly when `Failure::is_transient` says so (the same test the
    /// pool uses to check its connections again).
    #[test]
    fn a_failure_is_a_503_exactly_when_it_is_transient() {
        let cases = [
            (refused(Kind::UniqueViolation), StatusCode::CONFLICT),
            (refused(Kind::ForeignKeyViolation), StatusCode::CONFLICT),
            (
                refused(Kind::CheckViolation),
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
            (
                refused(Kind::NotNullViolation),
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
            (
                refused(Kind::SerializationFailure),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            (
                refused(Kind::ClosedConnection),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            (refused(Kind::Unknown), StatusCode::SERVICE_UNAVAILABLE),
            (
                Failure::Storage(DieselError::BrokenTransactionManager),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            (
                Failure::Storage(DieselError::NotFound),
                StatusCode::NOT_FOUND,
            ),
            (
                Failure::unavailable("schema behind"),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            (
                Failure::internal("a bug"),
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
            (Failure::conflict("closed"), StatusCode::CONFLICT),
        ];
        for (failure, status) in cases {
            let transient = failure.is_transient();
            let shown = failure.to_string();
            assert_eq!(ApiError::from(failure).status_code(), status, "{shown}");
            assert_eq!(
                transient,
                status == StatusCode::SERVICE_UNAVAILABLE,
                "{shown}"
            );
        }
    }
}
