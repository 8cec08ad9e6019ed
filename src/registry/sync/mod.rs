//! The education data system's door (role `sync_client`; admins too):
//! batch upserts of schools and students, the end of a full-roster run, and
//! the change feed of students.

pub mod batch;

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

use batch::BatchReport;

use crate::platform::auth::Reach;
use crate::platform::auth::{Principal, Role};
use crate::platform::db::page::encode_cursor;
use crate::platform::http::json::Json;
use crate::platform::http::pagination::PageQuery;
use crate::platform::http::ApiError;
use crate::platform::state::AppState;
use crate::registry::schools::queries::upsert_batch as upsert_schools;
use crate::registry::schools::SchoolInput;
use crate::registry::students::queries::upsert_batch as upsert_students;
use crate::registry::students::{ChangePage, CompleteReport, CompleteRun, StudentRecord};

// The batch bodies of the sync routes, over the records of their rooms.
batch::batch_of! {
    /// A sync batch of students.
    StudentBatch => crate::registry::students::StudentRecord
}
batch::batch_of! {
    /// A sync batch of schools.
    SchoolBatch => crate::registry::schools::SchoolInput
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SyncOptions {
    /// Refuse the whole batch if any record is invalid (default: apply the valid ones).
    pub atomic: Option<bool>,
    /// Marks the records as part of a full-roster run; see `POST /api/v1/sync/students/complete`.
    #[param(example = "2026-11-25-full")]
    pub run_id: Option<String>,
}

impl SyncOptions {
    fn run_id(&self) -> Result<Option<String>, ApiError> {
        match self.run_id.as_deref() {
            Some(run) if run.is_empty() || run.len() > 64 => {
                Err(ApiError::bad_request("run_id must be 1 to 64 characters"))
            }
            other => Ok(other.map(str::to_owned)),
        }
    }
}

/// Upsert up to 5,000 students by `external_id` (sync client, admin).
///
/// The body is a JSON array of student records. Invalid records are reported in
/// `rejected_rows` by index while the valid ones are applied, or with
/// `atomic=true` nothing is applied (422). Identical records are counted as
/// `unchanged` and keep their version. The batch is one transaction. An
/// `Idempotency-Key` makes a retry return the first answer without applying
/// anything twice (`Idempotent-Replayed: true`).
#[utoipa::path(
    tag = "sync",
    security(("bearer" = [])),
    params(SyncOptions, ("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key")),
    request_body(content = StudentBatch, description = "1 to 5,000 students"),
    responses((status = 200, description = "What was applied, and why records were rejected", body = BatchReport))
)]
#[post("/sync/students")]
pub async fn sync_students(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    options: web::Query<SyncOptions>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    principal.require(&[Role::SyncClient])?;
    crate::platform::http::require_content_type(&req, "application/json")?;
    let run_id = options.run_id()?;
    let atomic = options.atomic.unwrap_or(false);
    batch::apply(
        "students",
        &state,
        principal,
        &req,
        body,
        |body| batch::decode_array::<StudentRecord>(body, "external_id"),
        move |conn, principal, records| {
            let actor = principal.actor();
            upsert_students(
                conn,
                &actor,
                &Reach::Everywhere,
                records,
                run_id.as_deref(),
                atomic,
            )
        },
    )
    .await
}

/// Upsert up to 5,000 schools by `moet_code` (sync client, admin).
///
/// Same rules as the student sync: per-record report, `atomic`, `Idempotency-Key`,
/// one transaction.
#[utoipa::path(
    tag = "sync",
    security(("bearer" = [])),
    params(SyncOptions, ("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key")),
    request_body(content = SchoolBatch, description = "1 to 5,000 schools"),
    responses((status = 200, description = "What was applied, and why records were rejected", body = BatchReport))
)]
#[post("/sync/schools")]
pub async fn sync_schools(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    options: web::Query<SyncOptions>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    principal.require(&[Role::SyncClient])?;
    crate::platform::http::require_content_type(&req, "application/json")?;
    let atomic = options.atomic.unwrap_or(false);
    batch::apply(
        "schools",
        &state,
        principal,
        &req,
        body,
        |body| batch::decode_array::<SchoolInput>(body, "moet_code"),
        move |conn, principal, records| upsert_schools(conn, &principal.actor(), records, atomic),
    )
    .await
}

/// End a full-roster run.
///
/// Students not sent in any batch of `run_id` become inactive. Send every
/// batch of a complete roster with the same `?run_id=`, then call this once.
/// Refused (409) if no batch carried the run id.
#[utoipa::path(
    tag = "sync",
    security(("bearer" = [])),
    request_body = CompleteRun,
    responses(
        (status = 200, description = "How many students the run saw and how many became inactive", body = CompleteReport),
        (status = 409, description = "No batch was sent with this run_id", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/sync/students/complete")]
pub async fn complete_run(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<CompleteRun>,
) -> Result<web::Json<CompleteReport>, ApiError> {
    principal.require(&[Role::SyncClient])?;
    let input = body.into_inner();
    input.validate()?;
    let report = state
        .db
        .run(move |conn| {
            crate::registry::students::queries::complete_run(
                conn,
                &principal.actor(),
                &input.run_id,
            )
        })
        .await?;
    Ok(web::Json(report))
}

/// The change feed: every insert, update and delete of a student, in commit order.
///
/// Start without `cursor`; store `next_cursor` and pass it next time. A consumer
/// that does so never misses nor repeats a change, even while writes go on.
/// Each item carries the student as it is now.
#[utoipa::path(
    tag = "sync",
    security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, description = "Changes after the cursor, oldest first", body = ChangePage))
)]
#[get("/sync/students/changes")]
pub async fn student_changes(
    state: web::Data<AppState>,
    principal: Principal,
    page: web::Query<PageQuery>,
) -> Result<web::Json<ChangePage>, ApiError> {
    principal.require(&[Role::SyncClient])?;
    let page = page.parse::<i64>()?;
    let after = page.after.unwrap_or(0);
    let (items, has_more) = state
        .db
        .run(move |conn| crate::registry::students::queries::changes(conn, after, page.limit))
        .await?;
    let last = items.last().map_or(after, |(seq, _)| *seq);
    Ok(web::Json(ChangePage {
        items: items.into_iter().map(|(_, change)| change).collect(),
        next_cursor: encode_cursor(&last),
        has_more,
    }))
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(sync_students)
        .service(sync_schools)
        .service(complete_run)
        .service(student_changes);
}
