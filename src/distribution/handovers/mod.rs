//! Handovers: the allocated device or package reaches the student (or a
//! parent or guardian). The need becomes `fulfilled`, the device
//! `handed_over`, and the gift stays traceable to its donor's pledge. The
//! receiver's name is personal data: only the roles that see the student
//! see it, and it never enters the audit log.

mod model;
mod queries;

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

use crate::platform::auth::Realm;
use crate::platform::auth::{Principal, Role};
use crate::platform::http::json::Json;
use crate::platform::http::pagination::PageQuery;
use crate::platform::http::ApiError;
use crate::platform::idempotency::{self, IdempotencyKey};
use crate::platform::state::AppState;
pub use model::*;

const HANDOVER_ROLES: &[Role] = &[Role::DistrictOfficer, Role::SchoolStaff];

/// Record a handover to the student.
///
/// Admins, district officers and school staff of the student's scope. The
/// allocation must be active (409 otherwise; an unknown `allocation_id` is
/// 422). The need becomes `fulfilled` and the device `handed_over` in one
/// transaction; the answer traces the gift back to its receipt, pledge and
/// donor. Honours `Idempotency-Key`.
#[utoipa::path(
    tag = "distribution",
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key")),
    request_body = CreateHandover,
    responses(
        (status = 201, description = "The handover, with where the gift came from", body = Handover),
        (status = 409, description = "The allocation is cancelled or already handed over", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/handovers")]
pub async fn create_handover(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    body: Json<CreateHandover>,
) -> Result<HttpResponse, ApiError> {
    principal.require(HANDOVER_ROLES)?;
    let input = body.into_inner();
    input.validate()?;
    let key = IdempotencyKey::for_json(&req, &input)?;
    let (answer, replayed) = state
        .db
        .run(move |conn| {
            let actor = principal.actor();
            let scope = principal.reach(conn, Realm::Students)?;
            idempotency::run_once(conn, &actor, key.as_ref(), |conn| {
                let row = queries::hand_over(conn, &actor, &scope, &input)?;
                idempotency::json_answer_with(201, &queries::to_dto(conn, row)?)
            })
        })
        .await?;
    Ok(answer.into_response(replayed))
}

/// One handover in the caller's scope.
///
/// Includes the trace to the receipt, pledge and donor.
#[utoipa::path(
    tag = "distribution",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Handover id")),
    responses(
        (status = 200, description = "The handover", body = Handover),
        (status = 404, description = "No such handover in your scope", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/handovers/{id}")]
pub async fn get_handover(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
) -> Result<web::Json<Handover>, ApiError> {
    principal.require(HANDOVER_ROLES)?;
    let id = id.into_inner();
    let handover = state
        .db
        .run(move |conn| {
            let scope = principal.reach(conn, Realm::Students)?;
            let row = queries::find_visible(conn, &scope, id)?;
            queries::to_dto(conn, row)
        })
        .await?;
    Ok(web::Json(handover))
}

/// Handovers of needs in the caller's scope, oldest first.
///
/// Admins see all, district officers their subtree, school staff their
/// school (a school app lists its own). Each carries its trace (allocation,
/// stock, receipt, pledge, donor). Filter by `allocation_id`, `need_id`,
/// `school_id`, `admin_unit` (any level) and `returned`; page with `limit`
/// and `cursor`.
#[utoipa::path(
    tag = "distribution",
    security(("bearer" = [])),
    params(HandoverFilter, PageQuery),
    responses(
        (status = 200, description = "A page of handovers", body = HandoverPage),
        (status = 404, description = "Unknown admin unit", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/handovers")]
pub async fn list_handovers(
    state: web::Data<AppState>,
    principal: Principal,
    filter: web::Query<HandoverFilter>,
    page: web::Query<PageQuery>,
) -> Result<web::Json<HandoverPage>, ApiError> {
    principal.require(HANDOVER_ROLES)?;
    let page = page.parse::<i64>()?;
    let filter = filter.into_inner();
    let handovers = state
        .db
        .run(move |conn| {
            let scope = principal.reach(conn, Realm::Students)?;
            let units = crate::registry::admin_units::queries::subtree_filter(
                conn,
                filter.admin_unit.as_deref(),
            )?;
            queries::list(conn, &scope, &filter, units.as_deref(), &page)
        })
        .await?;
    Ok(web::Json(handovers))
}

/// A device comes back (the student moved, it broke).
///
/// It goes to `returned` and must be checked again before it is handed out again.
#[utoipa::path(
    tag = "distribution",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Handover id")),
    request_body = ReturnDevice,
    responses(
        (status = 200, description = "The handover, with its return", body = Handover),
        (status = 409, description = "Already returned, or not a device", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/handovers/{id}/return")]
pub async fn return_device(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
    body: Json<ReturnDevice>,
) -> Result<web::Json<Handover>, ApiError> {
    principal.require(HANDOVER_ROLES)?;
    let input = body.into_inner();
    input.validate()?;
    let id = id.into_inner();
    let handover = state
        .db
        .run(move |conn| {
            let scope = principal.reach(conn, Realm::Students)?;
            let actor = principal.actor();
            let row = queries::return_device(conn, &actor, &scope, id, &input.reason)?;
            queries::to_dto(conn, row)
        })
        .await?;
    Ok(web::Json(handover))
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_handover)
        .service(list_handovers)
        .service(get_handover)
        .service(return_device);
}
