//! Safe internet on every device: the Department's device profile (the
//! software to install and the safe-browsing settings, such as a
//! family-safe DNS) in numbered versions. The check of a device records
//! the version applied; a device becomes ready for a child, and is handed
//! over, only with the current version applied in full.

pub mod model;
pub mod queries;

use actix_web::{get, post, web, HttpResponse};
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

pub use model::*;

use crate::platform::auth::{Principal, Role};
use crate::platform::http::json::Json;
use crate::platform::http::ApiError;
use crate::platform::state::AppState;

/// Who reads the profile: the Department and the warehouses that apply it.
const READERS: &[Role] = &[Role::WarehouseOfficer];

/// Publish a new version of the device profile (admin).
///
/// It becomes the current version at once: from now on a device becomes
/// ready, and is handed over, only with it applied in full — devices made
/// ready with an older version are checked again before they reach a
/// child.
#[utoipa::path(
    tag = "inventory",
    security(("bearer" = [])),
    request_body = PublishProfile,
    responses(
        (status = 201, description = "The new current version", body = DeviceProfile),
        (status = 409, description = "Another version was published meanwhile", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/device-profiles")]
pub async fn publish_profile(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<PublishProfile>,
) -> Result<HttpResponse, ApiError> {
    principal.require_admin()?;
    let input = body.into_inner();
    input.validate()?;
    let row = state
        .db
        .run(move |conn| queries::publish(conn, &principal.actor(), input))
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            "Location",
            format!("/api/v1/device-profiles/{}", row.version),
        ))
        .json(DeviceProfile::of(row, true)))
}

/// Every version of the device profile, newest first.
///
/// Admin and warehouse officers. The first is the current one.
#[utoipa::path(
    tag = "inventory",
    security(("bearer" = [])),
    responses((status = 200, description = "The versions", body = DeviceProfileList))
)]
#[get("/device-profiles")]
pub async fn list_profiles(
    state: web::Data<AppState>,
    principal: Principal,
) -> Result<web::Json<DeviceProfileList>, ApiError> {
    principal.require(READERS)?;
    let rows = state.db.run(queries::all).await?;
    let items = rows
        .into_iter()
        .enumerate()
        .map(|(i, row)| DeviceProfile::of(row, i == 0))
        .collect();
    Ok(web::Json(DeviceProfileList { items }))
}

/// The current device profile: what a technician applies at a check.
///
/// Admin and warehouse officers; 404 before the Department publishes one.
#[utoipa::path(
    tag = "inventory",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The current version", body = DeviceProfile),
        (status = 404, description = "No profile is published yet", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/device-profiles/current")]
pub async fn current_profile(
    state: web::Data<AppState>,
    principal: Principal,
) -> Result<web::Json<DeviceProfile>, ApiError> {
    principal.require(READERS)?;
    let row = state
        .db
        .run(|conn| match queries::current_version(conn)? {
            Some(version) => queries::find(conn, version),
            None => Err(crate::platform::error::Failure::not_found(
                "no device profile is published yet",
            )),
        })
        .await?;
    Ok(web::Json(DeviceProfile::of(row, true)))
}

/// One version of the device profile.
///
/// Admin and warehouse officers; 404 for a version never published.
#[utoipa::path(
    tag = "inventory",
    security(("bearer" = [])),
    params(("version" = i32, Path, description = "Profile version")),
    responses(
        (status = 200, description = "The version", body = DeviceProfile),
        (status = 404, description = "No such version", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/device-profiles/{version}")]
pub async fn get_profile(
    state: web::Data<AppState>,
    principal: Principal,
    version: web::Path<i32>,
) -> Result<web::Json<DeviceProfile>, ApiError> {
    principal.require(READERS)?;
    let version = version.into_inner();
    let (row, current) = state
        .db
        .run(move |conn| {
            let row = queries::find(conn, version)?;
            let current = queries::current_version(conn)?;
            Ok((row, current))
        })
        .await?;
    let is_current = current == Some(row.version);
    Ok(web::Json(DeviceProfile::of(row, is_current)))
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(publish_profile)
        .service(list_profiles)
        .service(current_profile)
        .service(get_profile);
}
