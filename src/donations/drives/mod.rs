//! Drives: an agency, an association or a business collects from its
//! staff or members inside a campaign and hands the money or goods over as
//! receipts attributed to the drive, with how many people gave. The plan
//! asks every agency to pass the open letter to all its staff.

pub mod model;
pub mod queries;

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

pub use model::*;

use crate::donations::receipts::Receipt;
use crate::platform::auth::{Principal, Role};
use crate::platform::http::json::Json;
use crate::platform::http::pagination::PageQuery;
use crate::platform::http::ApiError;
use crate::platform::idempotency::{self, IdempotencyKey};
use crate::platform::state::AppState;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DriveFilter {
    /// Only this campaign's drives: the campaign broken down by drive.
    pub campaign_id: Option<i64>,
}

/// Start a drive inside a campaign (admin).
///
/// An organisation (agency, association, business), its target, period and
/// contact. Its handovers are recorded with `POST /drives/{id}/receipts`.
#[utoipa::path(
    tag = "donations",
    security(("bearer" = [])),
    request_body = CreateDrive,
    responses((status = 201, description = "The drive", body = Drive))
)]
#[post("/drives")]
pub async fn create_drive(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<CreateDrive>,
) -> Result<HttpResponse, ApiError> {
    principal.require_duty(&[Role::ProgrammeOfficer])?;
    let input = body.into_inner();
    input.validate()?;
    let row = state
        .db
        .run(move |conn| queries::create(conn, &principal.actor(), input))
        .await?;
    Ok(HttpResponse::Created().json(Drive::of(row, DriveProgress::default())))
}

/// The drives with their progress, oldest first.
///
/// With `campaign_id`: that campaign's figures broken down by drive
/// (money and goods handed over and contributors, net of reversals). Admin
/// and warehouse officers; page with `limit` and `cursor`.
#[utoipa::path(
    tag = "donations",
    security(("bearer" = [])),
    params(DriveFilter, PageQuery),
    responses((status = 200, description = "A page of drives", body = DrivePage))
)]
#[get("/drives")]
pub async fn list_drives(
    state: web::Data<AppState>,
    principal: Principal,
    filter: web::Query<DriveFilter>,
    page: web::Query<PageQuery>,
) -> Result<web::Json<DrivePage>, ApiError> {
    principal.require(&[Role::WarehouseOfficer])?;
    let page = page.parse::<i64>()?;
    let campaign = filter.campaign_id;
    let found = state
        .db
        .run(move |conn| queries::page(conn, campaign, &page))
        .await?;
    Ok(web::Json(found))
}

/// One drive with its progress.
///
/// Money and goods handed over and contributors, net of reversals. Admin
/// and warehouse officers; 404 for an unknown id.
#[utoipa::path(
    tag = "donations",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Drive id")),
    responses(
        (status = 200, description = "The drive", body = Drive),
        (status = 404, description = "No such drive", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/drives/{id}")]
pub async fn get_drive(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
) -> Result<web::Json<Drive>, ApiError> {
    principal.require(&[Role::WarehouseOfficer])?;
    let id = id.into_inner();
    let drive = state
        .db
        .run(move |conn| {
            let row = queries::find(conn, id)?;
            let progress = queries::progress(conn, &[id])?
                .remove(&id)
                .unwrap_or_default();
            Ok(Drive::of(row, progress))
        })
        .await?;
    Ok(web::Json(drive))
}

/// Record what a drive hands over (admin, warehouse officers).
///
/// The receipt follows every rule of `POST /receipts` (pledge, ledger,
/// duplicate bank reference) and must be a gift to the drive's campaign
/// dated within the drive's period (422 on `receipt.campaign_id`,
/// `receipt.receipt_type` or `receipt.received_on`). The contributor count
/// is shown in public only from 5 people; names are never shown. Honours
/// `Idempotency-Key`.
#[utoipa::path(
    tag = "donations",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "Drive id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key"),
    ),
    request_body = DriveHandover,
    responses(
        (status = 201, description = "The receipt, attributed to the drive", body = DriveReceipt),
        (status = 404, description = "No such drive", body = crate::platform::http::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The bank transfer is already recorded, or the pledge is closed", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/drives/{id}/receipts")]
pub async fn record_drive_handover(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    id: web::Path<i64>,
    body: Json<DriveHandover>,
) -> Result<HttpResponse, ApiError> {
    principal.require(&[Role::WarehouseOfficer])?;
    let input = body.into_inner();
    input.validate()?;
    let drive_id = id.into_inner();
    let key = IdempotencyKey::for_json(&req, &input)?;
    let (answer, replayed) = state
        .db
        .run(move |conn| {
            let actor = principal.actor();
            idempotency::run_once(conn, &actor, key.as_ref(), |conn| {
                let count = input.contributor_count;
                let row = queries::record_handover(conn, &actor, drive_id, input)?;
                idempotency::json_answer_with(
                    201,
                    &DriveReceipt {
                        drive_id,
                        contributor_count: count,
                        receipt: Receipt::from(row),
                    },
                )
            })
        })
        .await?;
    Ok(answer.into_response(replayed))
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_drive)
        .service(list_drives)
        .service(get_drive)
        .service(record_drive_handover);
}
