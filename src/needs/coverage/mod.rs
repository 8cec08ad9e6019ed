//! Mobile coverage: telecom operators and the places without mobile
//! internet assigned to them. Operators report progress
//! (`open → planned → in_progress → covered`), district officers confirm.
//! No personal data here.

pub mod model;
pub mod queries;

use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

use crate::platform::auth::Realm;
pub use model::*;

use crate::platform::auth::{Principal, Role};
use crate::platform::error::OrUnknown;
use crate::platform::http::json::Json;
use crate::platform::http::pagination::PageQuery;
use crate::platform::http::ApiError;
use crate::platform::state::AppState;

/// Who works with coverage gaps (besides admins).
const GAP_ROLES: &[Role] = &[Role::DistrictOfficer, Role::Telecom, Role::StatsReader];

/// Register a telecom operator (admin).
///
/// Telecom users then belong to one operator (`operator_id`) and see only its
/// coverage gaps.
#[utoipa::path(
    tag = "coverage",
    security(("bearer" = [])),
    request_body = CreateOperator,
    responses(
        (status = 201, description = "The operator", body = Operator),
        (status = 409, description = "The code is taken", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/operators")]
pub async fn create_operator(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<CreateOperator>,
) -> Result<HttpResponse, ApiError> {
    principal.require_admin()?;
    let input = body.into_inner();
    input.validate()?;
    let row = state
        .db
        .run(move |conn| queries::create_operator(conn, &principal.actor(), input))
        .await?;
    Ok(HttpResponse::Created().json(row))
}

/// The telecom operators, oldest first.
///
/// Readable by every signed-in role; page with `limit` and `cursor`.
#[utoipa::path(
    tag = "coverage",
    security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, description = "A page of operators", body = OperatorPage))
)]
#[get("/operators")]
pub async fn list_operators(
    state: web::Data<AppState>,
    _principal: Principal,
    page: web::Query<PageQuery>,
) -> Result<web::Json<OperatorPage>, ApiError> {
    let page = page.parse::<i64>()?;
    let operators = state
        .db
        .run(move |conn| queries::list_operators(conn, &page))
        .await?;
    Ok(web::Json(operators))
}

/// One telecom operator.
///
/// Any signed-in caller.
#[utoipa::path(
    tag = "coverage",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Operator id")),
    responses(
        (status = 200, description = "One telecom operator", body = Operator),
        (status = 404, description = "No such record in your scope", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/operators/{id}")]
pub async fn get_operator(
    state: web::Data<AppState>,
    _principal: Principal,
    id: web::Path<i64>,
) -> Result<web::Json<Operator>, ApiError> {
    let id = id.into_inner();
    let found = state
        .db
        .run(move |conn| queries::find_operator(conn, id))
        .await?;
    Ok(web::Json(found))
}

/// Report a place without mobile internet.
///
/// Admins anywhere; district officers in their subtree. Name the commune, the
/// place, optionally the schools cut off (in the same subtree) and the number
/// of students affected. An unknown `admin_unit_code`, `operator_id` or
/// school is 422 naming the field.
#[utoipa::path(
    tag = "coverage",
    security(("bearer" = [])),
    request_body = ReportGap,
    responses((status = 201, description = "The gap, open", body = CoverageGap))
)]
#[post("/coverage-gaps")]
pub async fn report_gap(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<ReportGap>,
) -> Result<HttpResponse, ApiError> {
    principal.require(&[Role::DistrictOfficer])?;
    let input = body.into_inner();
    input.validate()?;
    let row = state
        .db
        .run(move |conn| {
            principal
                .ensure_admin_unit_in_scope(conn, &input.admin_unit_code)
                .or_unknown("admin_unit_code")?;
            // The schools cut off must be ones the caller may see: an
            // officer cannot attach another district's school to a gap.
            for school in &input.school_ids {
                let row = crate::registry::schools::queries::find(conn, *school)
                    .or_unknown("school_ids")?;
                principal
                    .ensure_admin_unit_in_scope(conn, &row.admin_unit_code)
                    .or_unknown("school_ids")?;
            }
            queries::report(conn, &principal.actor(), input)
        })
        .await?;
    Ok(HttpResponse::Created().json(CoverageGap::from(row)))
}

/// List coverage gaps.
///
/// Telecom users see their operator's, district officers their subtree's,
/// admins and statistics readers all. Filter by `status`, `operator_id` and
/// `admin_unit`; page with `limit` and `cursor`.
#[utoipa::path(
    tag = "coverage",
    security(("bearer" = [])),
    params(GapFilter, PageQuery),
    responses((status = 200, description = "A page of gaps, by id", body = GapPage))
)]
#[get("/coverage-gaps")]
pub async fn list_gaps(
    state: web::Data<AppState>,
    principal: Principal,
    filter: web::Query<GapFilter>,
    page: web::Query<PageQuery>,
) -> Result<web::Json<GapPage>, ApiError> {
    principal.require(GAP_ROLES)?;
    let page = page.parse::<i64>()?;
    let filter = filter.into_inner();
    let gaps = state
        .db
        .run(move |conn| {
            let scope = principal.reach(conn, Realm::CoverageGaps)?;
            let units = crate::registry::admin_units::queries::subtree_filter(
                conn,
                filter.admin_unit.as_deref(),
            )?;
            queries::list(conn, &scope, &filter, units.as_deref(), &page)
        })
        .await?;
    Ok(web::Json(gaps))
}

/// One coverage gap in the caller's scope.
///
/// A gap outside the scope is 404, like a missing one. The `ETag` header is
/// its version.
#[utoipa::path(
    tag = "coverage",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Gap id")),
    responses(
        (status = 200, description = "The gap", body = CoverageGap),
        (status = 404, description = "No such gap in your scope", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/coverage-gaps/{id}")]
pub async fn get_gap(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
) -> Result<web::Json<CoverageGap>, ApiError> {
    principal.require(GAP_ROLES)?;
    let id = id.into_inner();
    let row = state
        .db
        .run(move |conn| {
            let scope = principal.reach(conn, Realm::CoverageGaps)?;
            queries::find_visible(conn, &scope, id)
        })
        .await?;
    Ok(web::Json(row.into()))
}

/// Assign a gap to an operator or correct it (admin; district officer in scope).
///
/// Send `If-Match` with the `version` you read to be told (412) when
/// somebody else changed the gap in between.
#[utoipa::path(
    tag = "coverage",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "Gap id"),
        ("If-Match" = Option<String>, Header, description = "The version you read, e.g. \"3\""),
    ),
    request_body = UpdateGap,
    responses(
        (status = 200, description = "The gap", body = CoverageGap),
        (status = 404, description = "No such gap in your scope", body = crate::platform::http::Problem, content_type = "application/problem+json"),
        (status = 409, description = "It changed while you were updating it", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/coverage-gaps/{id}")]
pub async fn update_gap(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    id: web::Path<i64>,
    body: Json<UpdateGap>,
) -> Result<web::Json<CoverageGap>, ApiError> {
    principal.require(&[Role::DistrictOfficer])?;
    let expected = crate::platform::http::versioning::if_match(&req)?;
    let input = body.into_inner();
    input.validate()?;
    let id = id.into_inner();
    let row = state
        .db
        .run(move |conn| {
            let scope = principal.reach(conn, Realm::CoverageGaps)?;
            queries::update(conn, &principal.actor(), &scope, id, input, expected)
        })
        .await?;
    Ok(web::Json(row.into()))
}

/// Move a gap along its workflow.
///
/// The operator's users `open → planned` (with the planned date)
/// `→ in_progress → covered`; district officers `covered → confirmed` or back
/// to `in_progress`. Wrong role 403, wrong order 409.
#[utoipa::path(
    tag = "coverage",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Gap id")),
    request_body = GapTransition,
    responses(
        (status = 200, description = "The gap in its new state", body = CoverageGap),
        (status = 404, description = "No such gap in your scope", body = crate::platform::http::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not allowed from the current state", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/coverage-gaps/{id}/transitions")]
pub async fn transition_gap(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
    body: Json<GapTransition>,
) -> Result<web::Json<CoverageGap>, ApiError> {
    principal.require(&[Role::DistrictOfficer, Role::Telecom])?;
    let input = body.into_inner();
    input.validate()?;
    let id = id.into_inner();
    let row = state
        .db
        .run(move |conn| {
            let scope = principal.reach(conn, Realm::CoverageGaps)?;
            queries::transition(
                conn,
                &principal,
                &scope,
                id,
                input,
                chrono::Utc::now().date_naive(),
            )
        })
        .await?;
    Ok(web::Json(row.into()))
}

/// Rename a telecom operator (admin).
///
/// Its code stays. Send `If-Match` with the version you read (the ETag of GET):
/// without it 428, with a stale one 412.
#[utoipa::path(
    tag = "coverage",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "Operator id"),
        ("If-Match" = String, Header, description = "The version you read, e.g. \"3\""),
    ),
    request_body = OperatorPatch,
    responses(
        (status = 200, description = "After the change", body = Operator),
        (status = 404, description = "No such record", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/operators/{id}")]
pub async fn update_operator(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    id: web::Path<i64>,
    body: Json<OperatorPatch>,
) -> Result<web::Json<Operator>, ApiError> {
    principal.require_admin()?;
    let expected = crate::platform::http::versioning::required_if_match(&req)?;
    let patch = body.into_inner();
    patch.validate()?;
    let id = id.into_inner();
    let row = state
        .db
        .run(move |conn| queries::update_operator(conn, &principal.actor(), id, &patch, expected))
        .await?;
    Ok(web::Json(row))
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_operator)
        .service(list_operators)
        .service(get_operator)
        .service(update_operator)
        .service(report_gap)
        .service(list_gaps)
        .service(get_gap)
        .service(update_gap)
        .service(transition_gap);
}
