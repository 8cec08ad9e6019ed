//! Pledges: what donors promise within a campaign, how much of it arrived,
//! and the "pledged but not paid" report (`?overdue=true`).

pub mod model;
mod promise;
pub mod queries;
pub mod workflow;

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

pub use model::*;

use crate::platform::auth::Realm;
use crate::platform::auth::{Principal, Role};
use crate::platform::http::json::Json;
use crate::platform::http::pagination::PageQuery;
use crate::platform::http::ApiError;
use crate::platform::idempotency::{self, IdempotencyKey};
use crate::platform::state::AppState;

/// Pledge a gift.
///
/// Admins pledge for any donor (`donor_id`); a donor user pledges for their
/// own donor, to be confirmed by staff. The campaign must be open (409). The
/// fields depend on `kind` (see `CreatePledge`). Honours `Idempotency-Key`.
#[utoipa::path(
    tag = "donations",
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key")),
    request_body = CreatePledge,
    responses(
        (status = 201, description = "The pledge", body = Pledge),
        (status = 409, description = "The campaign is not open", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/pledges")]
pub async fn create_pledge(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    body: Json<CreatePledge>,
) -> Result<HttpResponse, ApiError> {
    principal.require(&[Role::Donor])?;
    let input = body.into_inner();
    input.validate()?;
    let key = IdempotencyKey::for_json(&req, &input)?;
    let (answer, replayed) = state
        .db
        .run(move |conn| {
            let scope = &principal.reach(conn, Realm::Donations)?;
            let actor = principal.actor();
            idempotency::run_once(conn, &actor, key.as_ref(), |conn| {
                let row = queries::create(conn, &actor, scope, input)?;
                let pledge = queries::with_details(conn, vec![row])?;
                idempotency::json_answer_with(201, &pledge[0])
            })
        })
        .await?;
    Ok(answer.into_response(replayed))
}

/// List pledges.
///
/// Admins and warehouse officers see all; a donor sees their own.
/// `?overdue=true` is the "pledged but not paid" report. Page with `limit`
/// and `cursor`.
#[utoipa::path(
    tag = "donations",
    security(("bearer" = [])),
    params(PledgeFilter, PageQuery),
    responses((status = 200, description = "A page of pledges", body = PledgePage))
)]
#[get("/pledges")]
pub async fn list_pledges(
    state: web::Data<AppState>,
    principal: Principal,
    filter: web::Query<PledgeFilter>,
    page: web::Query<PageQuery>,
) -> Result<web::Json<PledgePage>, ApiError> {
    principal.require(&[Role::WarehouseOfficer, Role::Donor])?;
    let page = page.parse::<i64>()?;
    let filter = filter.into_inner();
    let pledges = state
        .db
        .run(move |conn| {
            let scope = &principal.reach(conn, Realm::Donations)?;
            queries::list(conn, scope, &filter, &page)
        })
        .await?;
    Ok(web::Json(pledges))
}

/// One pledge in the caller's scope.
///
/// Another donor's pledge is 404.
#[utoipa::path(
    tag = "donations",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Pledge id")),
    responses(
        (status = 200, description = "The pledge", body = Pledge),
        (status = 404, description = "No such pledge in your scope", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/pledges/{id}")]
pub async fn get_pledge(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
) -> Result<web::Json<Pledge>, ApiError> {
    principal.require(&[Role::WarehouseOfficer, Role::Donor])?;
    let id = id.into_inner();
    let mut pledge = state
        .db
        .run(move |conn| {
            let scope = &principal.reach(conn, Realm::Donations)?;
            let row = queries::find_visible(conn, scope, id)?;
            queries::with_details(conn, vec![row])
        })
        .await?;
    Ok(web::Json(pledge.remove(0)))
}

/// Confirm a pledge a donor made (admin).
///
/// Confirming twice changes nothing.
#[utoipa::path(
    tag = "donations",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Pledge id")),
    responses((status = 200, description = "The pledge", body = Pledge))
)]
#[post("/pledges/{id}/confirm")]
pub async fn confirm_pledge(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
) -> Result<web::Json<Pledge>, ApiError> {
    principal.require_duty(&[Role::FinanceOfficer])?;
    let id = id.into_inner();
    let mut pledge = state
        .db
        .run(move |conn| {
            let row = queries::confirm(conn, &principal.actor(), id)?;
            queries::with_details(conn, vec![row])
        })
        .await?;
    Ok(web::Json(pledge.remove(0)))
}

/// Cancel a pledge or mark it lapsed, with a reason (admin).
///
/// `received` and `partly_received` follow from the receipts; a pledge already
/// received, cancelled or lapsed is 409.
#[utoipa::path(
    tag = "donations",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Pledge id")),
    request_body = PledgeTransition,
    responses(
        (status = 200, description = "The pledge", body = Pledge),
        (status = 409, description = "Already received, cancelled or lapsed", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/pledges/{id}/transitions")]
pub async fn close_pledge(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
    body: Json<PledgeTransition>,
) -> Result<web::Json<Pledge>, ApiError> {
    principal.require_duty(&[Role::FinanceOfficer])?;
    let input = body.into_inner();
    input.validate()?;
    let id = id.into_inner();
    let mut pledge = state
        .db
        .run(move |conn| {
            let row = queries::close(conn, &principal.actor(), id, input.to, &input.reason)?;
            queries::with_details(conn, vec![row])
        })
        .await?;
    Ok(web::Json(pledge.remove(0)))
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_pledge)
        .service(list_pledges)
        .service(get_pledge)
        .service(confirm_pledge)
        .service(close_pledge);
}
