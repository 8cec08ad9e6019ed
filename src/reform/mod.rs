//! The 2025 reform as an operation: re-homing a province's records from
//! the old tree onto the new one (`POST /admin-units/rehome`). Imports
//! `registry` (the trees and the mapping) and `needs` (which needs and
//! gaps are still open); it writes the tables of the records it moves.

pub mod rehome;

use actix_web::{post, web};
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

pub use rehome::{RehomeReport, RehomeRequest};

use crate::platform::auth::Principal;
use crate::platform::http::json::Json;
use crate::platform::http::ApiError;
use crate::platform::state::AppState;

/// Re-home a province's records onto the 2025 tree (admin; a dry run by default).
///
/// Moves schools (to their commune's default successor, or the new commune
/// an officer chose), their open needs, warehouses, open coverage gaps,
/// lockdown flags and officers' scopes from the old province's subtree to
/// the new units, in one transaction, each moved record an audit event.
/// Closed history (fulfilled needs, handovers, receipts) keeps the unit it
/// happened in. Nothing is decided silently: records on an abolished
/// district, communes without a successor, two flags meeting in one new
/// commune and officers of an abolished district are listed as
/// ambiguities and left where they are (an officer is never widened to the
/// province). `dry_run` (default `true`) reports without writing; a second
/// run moves nothing more.
#[utoipa::path(
    tag = "admin-units",
    security(("bearer" = [])),
    request_body = RehomeRequest,
    responses((status = 200, description = "What moved (or would move) and what needs a decision", body = RehomeReport))
)]
#[post("/admin-units/rehome")]
pub async fn rehome_province(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<RehomeRequest>,
) -> Result<web::Json<RehomeReport>, ApiError> {
    principal.require_admin()?;
    let request = body.into_inner();
    request.validate()?;
    let report = state
        .db
        .run(move |conn| rehome::rehome(conn, &principal.actor(), request))
        .await?;
    Ok(web::Json(report))
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(rehome_province);
}
