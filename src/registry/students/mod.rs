//! Students: the roster from the education data system, which officers and
//! school staff then correct (device and connectivity status above all).
//! Personal data; see README "Who sees what". Writes of the roster in bulk
//! live in `sync`.

pub mod csv_format;
pub mod model;
pub mod queries;

use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

use crate::platform::auth::Realm;
pub use model::*;

use crate::platform::auth::{Principal, Role};
use crate::platform::db::page::PageRequest;
use crate::platform::http::json::Json;
use crate::platform::http::pagination::PageQuery;
use crate::platform::http::versioning;
use crate::platform::http::ApiError;
use crate::platform::state::AppState;
use crate::registry::sync::batch::BatchReport;

/// Who works with students' personal data (besides admins).
pub const STUDENT_ROLES: &[Role] = &[Role::DistrictOfficer, Role::SchoolStaff];

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportOptions {
    /// Refuse the whole file if any line is invalid (default: apply the valid lines).
    pub atomic: Option<bool>,
}

/// List the students the caller may see.
///
/// Admins all; district officers their subtree; school staff their school.
/// Filter by school, admin unit, grade, statuses, name and activity; page
/// with `limit` and `cursor`. Personal data: never cache or log it.
#[utoipa::path(
    tag = "students",
    security(("bearer" = [])),
    params(StudentFilter, PageQuery),
    responses((status = 200, description = "A page of students, by id", body = StudentPage))
)]
#[get("/students")]
pub async fn list_students(
    state: web::Data<AppState>,
    principal: Principal,
    filter: web::Query<StudentFilter>,
    page: web::Query<PageQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    principal.require(STUDENT_ROLES)?;
    let page = page.parse::<i64>()?;
    let filter = filter.into_inner();
    state
        .recent_pages
        .serve(&principal, &req, || async {
            let principal = principal.clone();
            let (rows, next_cursor) = state
                .reads
                .db()
                .await
                .run(move |conn| {
                    let scope = principal.reach(conn, Realm::Students)?;
                    let units = crate::registry::admin_units::queries::subtree_filter(
                        conn,
                        filter.admin_unit.as_deref(),
                    )?;
                    queries::list(conn, &scope, &filter, units.as_deref(), &page)
                })
                .await?;
            Ok(StudentPage {
                items: rows
                    .into_iter()
                    .map(|(row, code)| Student::from_row(row, code))
                    .collect(),
                next_cursor,
            })
        })
        .await
}

/// One student in the caller's scope.
///
/// The `ETag` header is its version, for `If-Match` on PATCH and DELETE.
#[utoipa::path(
    tag = "students",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Student id")),
    responses(
        (status = 200, description = "The student", body = Student, headers(("ETag" = String, description = "The version, for If-Match"))),
        (status = 404, description = "No such student in your scope", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/students/{id}")]
pub async fn get_student(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    principal.require(STUDENT_ROLES)?;
    let id = id.into_inner();
    let (row, school) = state
        .db
        .run(move |conn| {
            let scope = principal.reach(conn, Realm::Students)?;
            queries::find_visible(conn, &scope, id)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(versioning::etag(row.version))
        .json(Student::from_row(row, school.moet_code)))
}

/// Correct a student (admin, district officer, school staff in scope).
///
/// `If-Match` with the version you read is required: 428 without it, 412 when
/// somebody changed the student in between.
#[utoipa::path(
    tag = "students",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "Student id"),
        ("If-Match" = String, Header, description = "The version you read, e.g. \"3\""),
    ),
    request_body = StudentPatch,
    responses(
        (status = 200, description = "The student after the change", body = Student),
        (status = 404, description = "No such student in your scope", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/students/{id}")]
pub async fn update_student(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    id: web::Path<i64>,
    body: Json<StudentPatch>,
) -> Result<HttpResponse, ApiError> {
    principal.require(STUDENT_ROLES)?;
    let expected = versioning::required_if_match(&req)?;
    let patch = body.into_inner();
    patch.validate()?;
    let id = id.into_inner();
    let (row, code) = state
        .db
        .run(move |conn| {
            let scope = principal.reach(conn, Realm::Students)?;
            queries::patch(conn, &principal.actor(), &scope, id, patch, expected)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(versioning::etag(row.version))
        .json(Student::from_row(row, code)))
}

/// Soft-delete a student (admin, district officer in scope).
///
/// The record and its history stay; the change feed reports a `delete`.
/// `If-Match` is optional (412 when stale).
#[utoipa::path(
    tag = "students",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "Student id"),
        ("If-Match" = Option<String>, Header, description = "The version you read"),
    ),
    responses(
        (status = 204, description = "Deleted (or already deleted)"),
        (status = 404, description = "No such student in your scope", body = crate::platform::http::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The student changed while you were deleting it (no If-Match sent)", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/students/{id}")]
pub async fn delete_student(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    principal.require(&[Role::DistrictOfficer])?;
    let expected = versioning::if_match(&req)?;
    let id = id.into_inner();
    state
        .db
        .run(move |conn| {
            let scope = principal.reach(conn, Realm::Students)?;
            queries::soft_delete(conn, &principal.actor(), &scope, id, expected)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Import students from a spreadsheet (CSV).
///
/// UTF-8 with the header `external_id,school_code,grade,full_name,birth_date,gender,household_status,device_status,connectivity_status`
/// (any order, extra columns ignored). Lines are upserted by `external_id`
/// exactly like a sync batch, into schools in the caller's scope; invalid lines
/// are reported by line. Supports `Idempotency-Key`.
#[utoipa::path(
    tag = "students",
    security(("bearer" = [])),
    params(ImportOptions, ("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key")),
    request_body(content = String, content_type = "text/csv", description = "Students, one per line", example = json!("external_id,school_code,grade,full_name,birth_date,gender,household_status,device_status,connectivity_status\nHB-2026-000123,TH-DABAC,4,Lò Văn An,2017-03-02,male,poor,none,mobile_weak\n")),
    responses((status = 200, description = "What was applied, and why lines were rejected", body = BatchReport))
)]
#[post("/students/import")]
pub async fn import_students(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    options: web::Query<ImportOptions>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    principal.require(STUDENT_ROLES)?;
    crate::platform::http::require_content_type(&req, "text/csv")?;
    let atomic = options.atomic.unwrap_or(false);
    crate::registry::sync::batch::apply(
        "students",
        &state,
        principal,
        &req,
        body,
        csv_format::parse,
        move |conn, principal, records| {
            let scope = principal.reach(conn, Realm::Students)?;
            queries::upsert_batch(conn, &principal.actor(), &scope, records, None, atomic)
        },
    )
    .await
}

/// Export the students the caller may see as CSV.
///
/// The import format plus `active` and `version`, with the same filters as
/// the list: an exported file imports back unchanged.
#[utoipa::path(
    tag = "students",
    security(("bearer" = [])),
    params(StudentFilter),
    responses((status = 200, description = "CSV, UTF-8", body = String, content_type = "text/csv"))
)]
#[get("/students/export")]
pub async fn export_students(
    state: web::Data<AppState>,
    principal: Principal,
    filter: web::Query<StudentFilter>,
) -> Result<HttpResponse, ApiError> {
    principal.require(STUDENT_ROLES)?;
    let filter = filter.into_inner();
    let csv = state
        .db
        .run(move |conn| {
            let scope = principal.reach(conn, Realm::Students)?;
            let units = crate::registry::admin_units::queries::subtree_filter(
                conn,
                filter.admin_unit.as_deref(),
            )?;
            let mut out = csv_format::export_file()?;
            let mut page = PageRequest {
                limit: 5_000,
                after: None,
            };
            loop {
                let (rows, next) = queries::list(conn, &scope, &filter, units.as_deref(), &page)?;
                page.after = rows.last().map(|(row, _)| row.id);
                let students: Vec<Student> = rows
                    .into_iter()
                    .map(|(row, code)| Student::from_row(row, code))
                    .collect();
                csv_format::write(&students, &mut out)?;
                if next.is_none() {
                    break;
                }
            }
            out.finish()
        })
        .await?;
    Ok(crate::platform::http::tabular::csv_response(
        "students", csv,
    ))
}

pub fn configure(cfg: &mut ServiceConfig) {
    // Literal paths before `/students/{id}`.
    cfg.service(import_students)
        .service(export_students)
        .service(list_students)
        .service(get_student)
        .service(update_student)
        .service(delete_student);
}
