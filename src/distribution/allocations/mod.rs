//! Allocations: approved needs matched to ready stock, by hand or by an
//! automatic run (`matching.rs` says in what order). Every allocation moves
//! the need to `allocated` and reserves the stock in one transaction.

pub mod matching;
pub mod model;
pub mod queries;

use actix_web::{get, post, web, HttpResponse};
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

pub use model::*;

use crate::platform::auth::Realm;
use crate::platform::auth::{Principal, Role};
use crate::platform::error::OrUnknown;
use crate::platform::http::json::Json;
use crate::platform::http::pagination::PageQuery;
use crate::platform::http::ApiError;
use crate::platform::state::AppState;

/// Allocate one device or one data package to an approved need.
///
/// Admins, and district officers whose subtree holds the need. Name either
/// `item_id` (a ready device, for a device need) or `package_id` (a package
/// line with units left, for a connectivity or data-package need). The need
/// becomes `allocated` and the device `reserved` in one transaction. An
/// unknown `need_id`, `item_id` or `package_id` is 422 naming the field; a
/// need that is not approved, or stock that is no longer available, is 409.
#[utoipa::path(
    tag = "distribution",
    security(("bearer" = [])),
    request_body = CreateAllocation,
    responses(
        (status = 201, description = "The allocation", body = Allocation),
        (status = 409, description = "The need is not approved, the device is not ready, or it is earmarked elsewhere", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/allocations")]
pub async fn create_allocation(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<CreateAllocation>,
) -> Result<HttpResponse, ApiError> {
    principal.require(&[Role::DistrictOfficer])?;
    let input = body.into_inner();
    let row = state
        .db
        .run(move |conn| {
            let scope = principal.reach(conn, Realm::Students)?;
            queries::allocate(conn, &principal.actor(), &scope, &input)
        })
        .await?;
    Ok(HttpResponse::Created().json(Allocation::from(row)))
}

/// Allocations of needs in the caller's scope, oldest first.
///
/// Admins see all, district officers their subtree, school staff their
/// school. Filter by `status`, `need_id`, `school_id` and `admin_unit`; page
/// with `limit` and `cursor`.
#[utoipa::path(
    tag = "distribution",
    security(("bearer" = [])),
    params(AllocationFilter, PageQuery),
    responses(
        (status = 200, description = "A page of allocations", body = AllocationPage),
        (status = 404, description = "Unknown admin unit", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/allocations")]
pub async fn list_allocations(
    state: web::Data<AppState>,
    principal: Principal,
    filter: web::Query<AllocationFilter>,
    page: web::Query<PageQuery>,
) -> Result<web::Json<AllocationPage>, ApiError> {
    principal.require(&[Role::DistrictOfficer, Role::SchoolStaff])?;
    let page = page.parse::<i64>()?;
    let filter = filter.into_inner();
    let allocations = state
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
    Ok(web::Json(allocations))
}

/// One allocation in the caller's scope.
///
/// Admins, district officers of the need's subtree and school staff of its
/// school; any other id is 404, as if it did not exist.
#[utoipa::path(
    tag = "distribution",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Allocation id")),
    responses(
        (status = 200, description = "The allocation", body = Allocation),
        (status = 404, description = "No such allocation in your scope", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/allocations/{id}")]
pub async fn get_allocation(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
) -> Result<web::Json<Allocation>, ApiError> {
    principal.require(&[Role::DistrictOfficer, Role::SchoolStaff])?;
    let id = id.into_inner();
    let row = state
        .db
        .run(move |conn| {
            let scope = principal.reach(conn, Realm::Students)?;
            queries::find_visible(conn, &scope, id)
        })
        .await?;
    Ok(web::Json(row.into()))
}

/// Cancel an allocation.
///
/// The device or package unit goes back to ready and the need back to
/// approved. Only an active allocation can be cancelled (409 otherwise).
#[utoipa::path(
    tag = "distribution",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Allocation id")),
    request_body = CancelAllocation,
    responses(
        (status = 200, description = "The allocation", body = Allocation),
        (status = 409, description = "Not active", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/allocations/{id}/cancel")]
pub async fn cancel_allocation(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
    body: Json<CancelAllocation>,
) -> Result<web::Json<Allocation>, ApiError> {
    principal.require(&[Role::DistrictOfficer])?;
    let input = body.into_inner();
    input.validate()?;
    let id = id.into_inner();
    let row = state
        .db
        .run(move |conn| {
            let scope = principal.reach(conn, Realm::Students)?;
            queries::cancel(conn, &principal.actor(), &scope, id, &input.reason)
        })
        .await?;
    Ok(web::Json(row.into()))
}

/// Allocate automatically over a subtree.
///
/// Admins, and district officers inside their subtree. Approved needs are
/// taken by priority (highest first, then oldest); each takes the nearest
/// ready stock in the admin-unit tree; earmarks are respected and the
/// optional quotas per school and district hold. `dry_run: true` returns the
/// plan without writing it. Every unmatched need comes with its reason.
#[utoipa::path(
    tag = "distribution",
    security(("bearer" = [])),
    request_body = RunRequest,
    responses(
        (status = 200, description = "The plan, and the allocations made", body = RunReport),
    )
)]
#[post("/allocations/run")]
pub async fn run_allocation(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<RunRequest>,
) -> Result<web::Json<RunReport>, ApiError> {
    principal.require(&[Role::DistrictOfficer])?;
    let request = body.into_inner();
    validator::Validate::validate(&request)?;
    let report = state
        .db
        .run(move |conn| {
            let root = match (&request.admin_unit, &principal.scope) {
                (Some(code), _) => Some(code.clone()),
                (None, crate::platform::auth::Scope::AdminUnit { admin_unit_code }) => {
                    Some(admin_unit_code.clone())
                }
                (None, _) => None,
            };
            let units = match &root {
                Some(code) => {
                    principal
                        .ensure_admin_unit_in_scope(conn, code)
                        .or_unknown("admin_unit")?;
                    Some(crate::registry::admin_units::queries::subtree_codes(
                        conn, code,
                    )?)
                }
                None => None,
            };
            queries::run(conn, &principal.actor(), units.as_deref(), &request)
        })
        .await?;
    crate::platform::metrics::count_allocation_run(report.dry_run);
    Ok(web::Json(report))
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(run_allocation)
        .service(create_allocation)
        .service(list_allocations)
        .service(get_allocation)
        .service(cancel_allocation);
}
