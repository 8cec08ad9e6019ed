//! Campaigns: the open letter and later drives, with targets per kind and
//! the admin units they favour. Pledges are accepted while a campaign is open.

pub mod model;
pub mod queries;

use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

pub use model::*;

use crate::platform::auth::{Principal, Role};
use crate::platform::http::json::Json;
use crate::platform::http::pagination::PageQuery;
use crate::platform::http::versioning;
use crate::platform::http::ApiError;
use crate::platform::state::AppState;

/// Create a campaign, as a draft (admin).
///
/// A campaign takes pledges once opened (`POST /campaigns/{id}/status`).
#[utoipa::path(
    tag = "donations",
    security(("bearer" = [])),
    request_body = CreateCampaign,
    responses((status = 201, description = "The campaign", body = Campaign))
)]
#[post("/campaigns")]
pub async fn create_campaign(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<CreateCampaign>,
) -> Result<HttpResponse, ApiError> {
    principal.require_duty(&[Role::ProgrammeOfficer])?;
    let input = body.into_inner();
    input.validate()?;
    let row = state
        .db
        .run(move |conn| queries::create(conn, &principal.actor(), input))
        .await?;
    Ok(HttpResponse::Created().json(Campaign::from(row)))
}

/// The campaigns, oldest first.
///
/// Readable by every signed-in role; page with `limit` and `cursor`.
#[utoipa::path(
    tag = "donations",
    security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, description = "A page of campaigns", body = CampaignPage))
)]
#[get("/campaigns")]
pub async fn list_campaigns(
    state: web::Data<AppState>,
    _principal: Principal,
    page: web::Query<PageQuery>,
) -> Result<web::Json<CampaignPage>, ApiError> {
    let page = page.parse::<i64>()?;
    let campaigns = state.db.run(move |conn| queries::page(conn, &page)).await?;
    Ok(web::Json(campaigns))
}

/// One campaign.
///
/// Readable by every signed-in role; 404 for an unknown id.
#[utoipa::path(
    tag = "donations",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Campaign id")),
    responses(
        (status = 200, description = "The campaign", body = Campaign),
        (status = 404, description = "No such campaign", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/campaigns/{id}")]
pub async fn get_campaign(
    state: web::Data<AppState>,
    _principal: Principal,
    id: web::Path<i64>,
) -> Result<web::Json<Campaign>, ApiError> {
    let id = id.into_inner();
    Ok(web::Json(
        state
            .db
            .run(move |conn| queries::find(conn, id))
            .await?
            .into(),
    ))
}

/// Open or close a campaign (admin).
///
/// `draft → open → closed`; any other move is 409. A closed campaign takes no
/// new pledges; receipts against its pledges are still recorded.
#[utoipa::path(
    tag = "donations",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Campaign id")),
    request_body = SetCampaignStatus,
    responses(
        (status = 200, description = "The campaign", body = Campaign),
        (status = 409, description = "Not the next status", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/campaigns/{id}/status")]
pub async fn set_campaign_status(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
    body: Json<SetCampaignStatus>,
) -> Result<web::Json<Campaign>, ApiError> {
    principal.require_duty(&[Role::ProgrammeOfficer])?;
    let (id, to) = (id.into_inner(), body.into_inner().status);
    let row = state
        .db
        .run(move |conn| queries::set_status(conn, &principal.actor(), id, to))
        .await?;
    Ok(web::Json(row.into()))
}

/// Change a campaign's plan (admin): its name, dates, targets or favoured
/// admin units.
///
/// Send `If-Match` with the version you read (the ETag of GET): without it
/// 428, with a stale one 412. The same checks as at creation apply (422).
/// The status moves only through `POST …/status`.
#[utoipa::path(
    tag = "donations",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "Campaign id"),
        ("If-Match" = String, Header, description = "The version you read, e.g. \"3\""),
    ),
    request_body = CampaignPatch,
    responses(
        (status = 200, description = "The campaign after the change", body = Campaign),
        (status = 404, description = "No such campaign", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/campaigns/{id}")]
pub async fn update_campaign(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    id: web::Path<i64>,
    body: Json<CampaignPatch>,
) -> Result<web::Json<Campaign>, ApiError> {
    principal.require_duty(&[Role::ProgrammeOfficer])?;
    let expected = versioning::required_if_match(&req)?;
    let patch = body.into_inner();
    patch.validate()?;
    let id = id.into_inner();
    let row = state
        .db
        .run(move |conn| queries::update(conn, &principal.actor(), id, patch, expected))
        .await?;
    Ok(web::Json(row.into()))
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_campaign)
        .service(list_campaigns)
        .service(get_campaign)
        .service(update_campaign)
        .service(set_campaign_status);
}
