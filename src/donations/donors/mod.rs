//! Donors: the agencies, businesses and people who give. Admins register
//! them (duplicates by tax code, phone or e-mail are refused); a donor user
//! sees only their own donor.

pub mod export;
pub mod model;
pub mod queries;

use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

pub use model::*;

use crate::platform::auth::Realm;
use crate::platform::auth::{Principal, Role};
use crate::platform::http::json::Json;
use crate::platform::http::pagination::PageQuery;
use crate::platform::http::versioning;
use crate::platform::http::ApiError;
use crate::platform::state::AppState;

/// Register a donor (admin).
///
/// 409 names a donor with the same tax code, phone or e-mail. A donor may ask
/// to appear as anonymous on public pages (`anonymous_publicly`).
#[utoipa::path(
    tag = "donations",
    security(("bearer" = [])),
    request_body = CreateDonor,
    responses(
        (status = 201, description = "The donor", body = Donor),
        (status = 409, description = "A donor with the same tax code, phone or e-mail exists", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/donors")]
pub async fn create_donor(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<CreateDonor>,
) -> Result<HttpResponse, ApiError> {
    principal.require_admin()?;
    let input = body.into_inner();
    input.validate()?;
    let row = state
        .db
        .run(move |conn| queries::create(conn, &principal.actor(), input))
        .await?;
    Ok(HttpResponse::Created().json(Donor::from(row)))
}

/// List donors.
///
/// Admins and warehouse officers see all; a donor user sees only their own.
/// Page with `limit` and `cursor`.
#[utoipa::path(
    tag = "donations",
    security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, description = "A page of donors", body = DonorPage))
)]
#[get("/donors")]
pub async fn list_donors(
    state: web::Data<AppState>,
    principal: Principal,
    page: web::Query<PageQuery>,
) -> Result<web::Json<DonorPage>, ApiError> {
    principal.require(&[Role::WarehouseOfficer, Role::Donor])?;
    let page = page.parse::<i64>()?;
    let donors = state
        .db
        .run(move |conn| {
            let scope = &principal.reach(conn, Realm::Donations)?;
            queries::list(conn, scope, &page)
        })
        .await?;
    Ok(web::Json(donors))
}

/// One donor in the caller's scope.
///
/// Another donor's record is 404 for a donor user.
#[utoipa::path(
    tag = "donations",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Donor id")),
    responses(
        (status = 200, description = "The donor", body = Donor),
        (status = 404, description = "No such donor in your scope", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/donors/{id}")]
pub async fn get_donor(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
) -> Result<web::Json<Donor>, ApiError> {
    principal.require(&[Role::WarehouseOfficer, Role::Donor])?;
    let id = id.into_inner();
    let row = state
        .db
        .run(move |conn| {
            let scope = &principal.reach(conn, Realm::Donations)?;
            queries::find_visible(conn, scope, id)
        })
        .await?;
    Ok(web::Json(row.into()))
}

/// Everything held about one donor (admin): a data-subject export.
///
/// The donor record with its contact data, every pledge with its
/// instalments, every receipt (gifts and reversals) and the changes made
/// to the record (fields, not values), as one JSON document to hand to the
/// donor who asks. The export itself is audited.
#[utoipa::path(
    tag = "donations",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Donor id")),
    responses(
        (status = 200, description = "What the programme holds about the donor", body = export::DonorExport),
        (status = 404, description = "No such donor", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/donors/{id}/export")]
pub async fn export_donor(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
) -> Result<web::Json<export::DonorExport>, ApiError> {
    principal.require_admin()?;
    let id = id.into_inner();
    let actor = principal.actor();
    let export = state
        .db
        .run(move |conn| {
            conn.transaction(|conn| {
                let export = export::export(conn, id)?;
                // Reading personal data out is itself a write to the log.
                crate::platform::audit::record(
                    conn,
                    &actor,
                    "export",
                    "donor",
                    &id.to_string(),
                    serde_json::json!({"pledges": export.pledges.len(), "receipts": export.receipts.len()}),
                )?;
                Ok(export)
            })
        })
        .await?;
    Ok(web::Json(export))
}

/// Change a donor (admin): a new address, another e-mail, to appear as
/// anonymous on public pages.
///
/// Send `If-Match` with the version you read (the ETag of GET): without it
/// 428, with a stale one 412. A tax code, phone or e-mail another donor has
/// is 409. `null` clears a contact detail.
#[utoipa::path(
    tag = "donations",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "Donor id"),
        ("If-Match" = String, Header, description = "The version you read, e.g. \"3\""),
    ),
    request_body = DonorPatch,
    responses(
        (status = 200, description = "The donor after the change", body = Donor),
        (status = 404, description = "No such donor", body = crate::platform::http::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Another donor has the same tax code, phone or e-mail", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/donors/{id}")]
pub async fn update_donor(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    id: web::Path<i64>,
    body: Json<DonorPatch>,
) -> Result<web::Json<Donor>, ApiError> {
    principal.require_admin()?;
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
    cfg.service(create_donor)
        .service(list_donors)
        .service(get_donor)
        .service(export_donor)
        .service(update_donor);
}
