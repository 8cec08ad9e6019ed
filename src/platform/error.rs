//! What went wrong, in the service's own words and without HTTP: storage
//! and domain code return [`Failure`] (or a bare `diesel` error), and
//! `platform::http::problem` is the one place that turns a failure into a
//! status and a problem+json body. Keeping HTTP out of here is what lets a
//! lost connection stay a lost connection all the way up (a 503), instead of
//! a lookup's "not found" (a 404 or 422) made too early.

use diesel::result::Error as DieselError;
use serde::Serialize;
use utoipa::ToSchema;

/// One problem with one input field (or one line of an uploaded file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The field, as the client named it (`password`, `scope.admin_unit_code`).
    #[schema(example = "password")]
    pub field: String,
    /// A stable machine-readable code (`length`, `required`, `unknown_parent`).
    #[schema(example = "length")]
    pub code: String,
    /// A sentence for people.
    #[schema(example = "must be at least 12 characters")]
    pub message: String,
    /// The 1-based line of an uploaded file the problem is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 12)]
    pub line: Option<u64>,
}

impl FieldError {
    pub fn new(
        field: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            code: code.into(),
            message: message.into(),
            line: None,
        }
    }

    pub fn on_line(mut self, line: u64) -> Self {
        self.line = Some(line);
        self
    }
}

/// Why an operation did not happen. Variants say what the caller can do
/// about it; none carries a value the caller sent (refusals never echo).
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The record does not exist, or the caller's scope hides it (the same
    /// answer either way, so scope leaks nothing).
    #[error("not found: {0}")]
    NotFound(String),
    /// The input is wrong: one entry per field (or file line), and for a
    /// refused batch the per-row report.
    #[error("invalid input: {} problem(s)", errors.len())]
    Invalid {
        errors: Vec<FieldError>,
        rows: Option<serde_json::Value>,
    },
    /// The records' current state does not allow it (a closed campaign, a
    /// taken code, a device earmarked elsewhere).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The caller is not who a valid token says (no token, a disabled
    /// account, a token issued before a password change).
    #[error("unauthenticated: {0}")]
    Unauthenticated(String),
    /// The caller's role or scope does not allow it.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Another writer changed the record: `if_match` is the version the
    /// caller said it read (absent when it sent none).
    #[error("changed meanwhile: now version {current_version}")]
    ChangedMeanwhile {
        current_version: i64,
        if_match: Option<i64>,
    },
    /// The database said no (or went away); [`Failure::is_transient`]
    /// decides, by the kind of error, whether the client may retry.
    #[error("database: {0}")]
    Storage(#[from] DieselError),
    /// No connection could be had from the pool.
    #[error("no database connection: {0}")]
    NoConnection(#[from] diesel::r2d2::PoolError),
    /// The database is there but cannot serve now (its schema is behind,
    /// a blocking task could not run): the client may retry.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A bug: the cause is for the log only.
    #[error("internal: {0}")]
    Internal(String),
}

impl Failure {
    /// Whether the failure is the database's or the pool's own, not the
    /// request's: a deadlock it broke, a lock or statement timeout, a
    /// connection lost or terminated mid-transaction, a server shutting
    /// down, SQLite's busy lock, a transaction that could not finish, no
    /// connection to be had. Nothing was written and the client may retry:
    /// `platform::http::problem` answers 503 for exactly these, and the
    /// pool checks its connections again after one. Judged by the kind of
    /// error, never by its message (PostgreSQL translates its messages).
    /// Inputs are checked before they reach the database, so a constraint
    /// the database enforces is not transient: a unique or foreign key
    /// clash is a conflict, a check or not-null one a bug.
    pub fn is_transient(&self) -> bool {
        use diesel::result::DatabaseErrorKind as Kind;
        match self {
            Self::NoConnection(_) | Self::Unavailable(_) => true,
            Self::Storage(DieselError::DatabaseError(kind, _)) => !matches!(
                kind,
                Kind::UniqueViolation
                    | Kind::ForeignKeyViolation
                    | Kind::CheckViolation
                    | Kind::NotNullViolation
            ),
            Self::Storage(
                DieselError::BrokenTransactionManager | DieselError::RollbackErrorOnCommit { .. },
            ) => true,
            _ => false,
        }
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::NotFound(detail.into())
    }

    /// An administrative unit code that names no unit, or one outside the
    /// caller's scope. The code itself is not repeated.
    pub fn unknown_admin_unit() -> Self {
        Self::not_found("no administrative unit with this code is known to you")
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::Conflict(detail.into())
    }

    pub fn unauthenticated(detail: impl Into<String>) -> Self {
        Self::Unauthenticated(detail.into())
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::Forbidden(detail.into())
    }

    pub fn internal(cause: impl Into<String>) -> Self {
        Self::Internal(cause.into())
    }

    pub fn unavailable(cause: impl Into<String>) -> Self {
        Self::Unavailable(cause.into())
    }

    /// One entry per invalid field.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        Self::Invalid { errors, rows: None }
    }

    /// The same failure with every field it names placed under `parent`
    /// (`bank_reference` becomes `receipt.bank_reference`), for input that
    /// arrived nested in a larger body.
    pub fn under(self, parent: &str) -> Self {
        match self {
            Self::Invalid { errors, rows } => Self::Invalid {
                errors: errors
                    .into_iter()
                    .map(|mut e| {
                        e.field = format!("{parent}.{}", e.field);
                        e
                    })
                    .collect(),
                rows,
            },
            other => other,
        }
    }

    /// A single invalid field.
    pub fn invalid_field(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(field, code, message)])
    }

    /// An id named in the request body names nothing the caller may see
    /// (the one rule for unknown references in bodies; in a path it is a
    /// plain not-found).
    pub fn unknown_reference(field: &str) -> Self {
        Self::invalid_field(
            field,
            "unknown",
            "names no record that exists in your scope",
        )
    }

    /// The `If-Match` version is not the current one.
    pub fn precondition_failed(current_version: i64) -> Self {
        Self::ChangedMeanwhile {
            current_version,
            if_match: Some(current_version),
        }
    }

    /// Another writer changed the record between our read and our write.
    pub fn changed_meanwhile(current_version: i64, if_match: Option<i64>) -> Self {
        Self::ChangedMeanwhile {
            current_version,
            if_match,
        }
    }

    /// Adds the per-row report of a refused batch (to an input failure).
    pub fn with_rows(self, report: serde_json::Value) -> Self {
        match self {
            Self::Invalid { errors, .. } => Self::Invalid {
                errors,
                rows: Some(report),
            },
            other => other,
        }
    }

    /// A missing record: told by us, or by the database.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            Self::NotFound(_) | Self::Storage(DieselError::NotFound)
        )
    }

    /// The field problems of an input failure (none for other failures).
    pub fn errors(&self) -> &[FieldError] {
        match self {
            Self::Invalid { errors, .. } => errors,
            _ => &[],
        }
    }
}

/// For lookups of ids the client named: "not found" becomes what the caller
/// says it is; every other failure (a lost connection, a busy database)
/// stays what it is.
pub trait OrUnknown<T> {
    /// "Not found" as a 422-style unknown reference naming `field`.
    fn or_unknown(self, field: &str) -> Result<T, Failure>;
    /// "Not found" told as `detail` (a record hidden by scope is reported
    /// as the one the client asked for).
    fn or_not_found(self, detail: impl FnOnce() -> String) -> Result<T, Failure>;
}

impl<T, E: Into<Failure>> OrUnknown<T> for Result<T, E> {
    fn or_unknown(self, field: &str) -> Result<T, Failure> {
        self.map_err(|error| match error.into() {
            failure if failure.is_not_found() => Failure::unknown_reference(field),
            failure => failure,
        })
    }

    fn or_not_found(self, detail: impl FnOnce() -> String) -> Result<T, Failure> {
        self.map_err(|error| match error.into() {
            failure if failure.is_not_found() => Failure::not_found(detail()),
            failure => failure,
        })
    }
}

impl From<validator::ValidationErrors> for Failure {
    fn from(errors: validator::ValidationErrors) -> Self {
        let mut fields = Vec::new();
        collect_validation_errors(String::new(), &errors, &mut fields);
        fields.sort_by(|a, b| a.field.cmp(&b.field));
        Self::validation(fields)
    }
}

fn collect_validation_errors(
    prefix: String,
    errors: &validator::ValidationErrors,
    out: &mut Vec<FieldError>,
) {
    use validator::ValidationErrorsKind;
    for (field, kind) in errors.errors() {
        let name = if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}.{field}")
        };
        match kind {
            ValidationErrorsKind::Field(list) => {
                for error in list {
                    let message = error
                        .message
                        .as_ref()
                        .map(|m| m.to_string())
                        .unwrap_or_else(|| format!("failed the `{}` check", error.code));
                    out.push(FieldError::new(
                        name.clone(),
                        error.code.to_string(),
                        message,
                    ));
                }
            }
            ValidationErrorsKind::Struct(inner) => collect_validation_errors(name, inner, out),
            ValidationErrorsKind::List(items) => {
                for (index, inner) in items {
                    collect_validation_errors(format!("{name}[{index}]"), inner, out);
                }
            }
        }
    }
}
