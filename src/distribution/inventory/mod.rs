//! Inventory: devices one by one (serial/IMEI), packages by quantity, and
//! the stock ledger every count is summed from. Reserving and handing over
//! happen through allocations and handovers.

pub mod imei;
pub mod model;
pub mod queries;
pub mod workflow;

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

pub use model::*;

use crate::platform::auth::Realm;
use crate::platform::auth::{Principal, Role};
use crate::platform::error::Failure;
use crate::platform::http::json::Json;
use crate::platform::http::pagination::PageQuery;
use crate::platform::http::ApiError;
use crate::platform::state::AppState;

const INVENTORY_ROLES: &[Role] = &[Role::WarehouseOfficer, Role::DistrictOfficer];

fn intake_answer(rows: Vec<ItemRow>) -> HttpResponse {
    HttpResponse::Created().json(IntakeReport {
        registered: rows.len(),
        items: rows.into_iter().map(Item::from).collect(),
    })
}

/// Register the devices of one receipt line.
///
/// Warehouse officers of the warehouse, admins. One row per device with its
/// serial and/or IMEI (the IMEI's check digit is verified). Any bad row refuses
/// the whole intake (422, `rows`). No more devices than the receipt brought;
/// an unknown `receipt_id` or `warehouse_id` is 422.
#[utoipa::path(
    tag = "inventory",
    security(("bearer" = [])),
    request_body = IntakeRequest,
    responses(
        (status = 201, description = "The registered devices", body = IntakeReport),
        (status = 409, description = "The receipt was reversed", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/inventory/intake")]
pub async fn intake(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<IntakeRequest>,
) -> Result<HttpResponse, ApiError> {
    principal.require(&[Role::WarehouseOfficer])?;
    let request = body.into_inner();
    let rows = state
        .db
        .run(move |conn| {
            let scope = principal.reach(conn, Realm::Warehouses)?;
            queries::intake(conn, &principal.actor(), &scope, request)
        })
        .await?;
    Ok(intake_answer(rows))
}

/// Register the devices of one receipt line from a CSV file.
///
/// The same intake as `POST /inventory/intake`, from a UTF-8 CSV with the
/// columns `serial,imei,model`; the receipt and warehouse are query parameters.
#[utoipa::path(
    tag = "inventory",
    security(("bearer" = [])),
    params(IntakeCsvQuery),
    request_body(content = String, content_type = "text/csv", description = "serial,imei,model", example = json!("serial,imei,model\nSN-0001,356938035643809,Galaxy Tab A9\n")),
    responses(
        (status = 201, description = "The registered devices", body = IntakeReport),
        (status = 409, description = "The receipt was reversed", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/inventory/intake/csv")]
pub async fn intake_csv(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    query: web::Query<IntakeCsvQuery>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    principal.require(&[Role::WarehouseOfficer])?;
    crate::platform::http::require_content_type(&req, "text/csv")?;
    let query = query.into_inner();
    let rows = state
        .db
        .run(move |conn| {
            let devices = queries::parse_intake_csv(&body)?;
            let scope = principal.reach(conn, Realm::Warehouses)?;
            let request = IntakeRequest {
                receipt_id: query.receipt_id,
                warehouse_id: query.warehouse_id,
                condition: query.condition,
                devices,
            };
            queries::intake(conn, &principal.actor(), &scope, request)
        })
        .await?;
    Ok(intake_answer(rows))
}

/// Devices in the caller's warehouses.
///
/// Filter by `warehouse_id`, `status` and `device_type`; page with `limit`
/// and `cursor`.
#[utoipa::path(
    tag = "inventory",
    security(("bearer" = [])),
    params(ItemFilter, PageQuery),
    responses((status = 200, description = "A page of devices", body = ItemPage))
)]
#[get("/inventory/items")]
pub async fn list_items(
    state: web::Data<AppState>,
    principal: Principal,
    filter: web::Query<ItemFilter>,
    page: web::Query<PageQuery>,
) -> Result<web::Json<ItemPage>, ApiError> {
    principal.require(INVENTORY_ROLES)?;
    let page = page.parse::<i64>()?;
    let filter = filter.into_inner();
    let items = state
        .db
        .run(move |conn| {
            let scope = principal.reach(conn, Realm::Warehouses)?;
            queries::list_items(conn, &scope, &filter, &page)
        })
        .await?;
    Ok(web::Json(items))
}

/// One device.
///
/// 404 outside the caller's warehouses.
#[utoipa::path(
    tag = "inventory",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Device id")),
    responses(
        (status = 200, description = "The device", body = Item),
        (status = 404, description = "No such device in your warehouses", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/inventory/items/{id}")]
pub async fn get_item(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
) -> Result<web::Json<Item>, ApiError> {
    principal.require(INVENTORY_ROLES)?;
    let id = id.into_inner();
    let row = state
        .db
        .run(move |conn| {
            let scope = principal.reach(conn, Realm::Warehouses)?;
            queries::find_visible_item(conn, &scope, id)
        })
        .await?;
    Ok(web::Json(row.into()))
}

/// Record the check of a device, and the device profile applied.
///
/// Who checked it, whether it was wiped of the donor's data, its condition,
/// and the safe-internet profile applied (the current version, 422
/// otherwise, and what failed). A used device becomes `ready` only after a
/// check that wiped it, and every device only with the current profile
/// applied in full. A ready or reserved device is checked again to apply a
/// newer profile.
#[utoipa::path(
    tag = "inventory",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Device id")),
    request_body = CheckRequest,
    responses(
        (status = 200, description = "The device", body = Item),
        (status = 409, description = "The device is not in a state that is checked", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/inventory/items/{id}/check")]
pub async fn check_item(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
    body: Json<CheckRequest>,
) -> Result<web::Json<Item>, ApiError> {
    principal.require(&[Role::WarehouseOfficer])?;
    let (id, request) = (id.into_inner(), body.into_inner());
    request.validate()?;
    let row = state
        .db
        .run(move |conn| {
            let scope = principal.reach(conn, Realm::Warehouses)?;
            queries::check(conn, &principal.actor(), &scope, id, request)
        })
        .await?;
    Ok(web::Json(row.into()))
}

/// Move a device.
///
/// `ready → in_transit → ready` between warehouses, `written_off` with a
/// reason; used devices become ready only after their check. `reserved` and
/// `handed_over` are set by allocations and handovers only (409).
#[utoipa::path(
    tag = "inventory",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Device id")),
    request_body = ItemTransition,
    responses(
        (status = 200, description = "The device", body = Item),
        (status = 409, description = "Not allowed from the current status", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/inventory/items/{id}/transitions")]
pub async fn transition_item(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
    body: Json<ItemTransition>,
) -> Result<web::Json<Item>, ApiError> {
    principal.require(&[Role::WarehouseOfficer])?;
    let request = body.into_inner();
    request.validate()?;
    let id = id.into_inner();
    let row = state
        .db
        .run(move |conn| {
            let scope = principal.reach(conn, Realm::Warehouses)?;
            queries::transition(conn, &principal.actor(), &scope, id, request)
        })
        .await?;
    Ok(web::Json(row.into()))
}

/// Take data packages or licences of a receipt line into stock.
///
/// Warehouse officers of the warehouse, admins. An unknown `receipt_id` or
/// `warehouse_id` is 422.
#[utoipa::path(
    tag = "inventory",
    security(("bearer" = [])),
    request_body = PackageIntake,
    responses(
        (status = 201, description = "The package stock", body = Package),
        (status = 409, description = "The receipt was reversed, or is in stock already", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/inventory/packages")]
pub async fn package_intake(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<PackageIntake>,
) -> Result<HttpResponse, ApiError> {
    principal.require(&[Role::WarehouseOfficer])?;
    let request = body.into_inner();
    let package = state
        .db
        .run(move |conn| {
            let scope = principal.reach(conn, Realm::Warehouses)?;
            let row = queries::package_intake(conn, &principal.actor(), &scope, request)?;
            queries::package(conn, row.id)
        })
        .await?;
    Ok(HttpResponse::Created().json(package))
}

/// Package stock in the caller's warehouses, oldest first.
///
/// Each line with what is still available; page with `limit` and `cursor`.
#[utoipa::path(
    tag = "inventory",
    security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, description = "A page of packages", body = PackagePage))
)]
#[get("/inventory/packages")]
pub async fn list_packages(
    state: web::Data<AppState>,
    principal: Principal,
    page: web::Query<PageQuery>,
) -> Result<web::Json<PackagePage>, ApiError> {
    principal.require(INVENTORY_ROLES)?;
    let page = page.parse::<i64>()?;
    let packages = state
        .db
        .run(move |conn| {
            let scope = principal.reach(conn, Realm::Warehouses)?;
            queries::packages(conn, &scope, &page)
        })
        .await?;
    Ok(web::Json(packages))
}

/// Stock per warehouse, kind and status.
///
/// Summed from the stock ledger, never stored. Filter by `warehouse` and
/// `admin_unit`.
#[utoipa::path(
    tag = "inventory",
    security(("bearer" = [])),
    params(StockQuery),
    responses((status = 200, description = "The counts", body = Vec<StockLine>))
)]
#[get("/inventory/stock")]
pub async fn stock(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<StockQuery>,
) -> Result<web::Json<Vec<StockLine>>, ApiError> {
    principal.require(INVENTORY_ROLES)?;
    let query = query.into_inner();
    let lines = state
        .db
        .run(move |conn| {
            let scope = principal.reach(conn, Realm::Warehouses)?;
            let units = crate::registry::admin_units::queries::subtree_filter(
                conn,
                query.admin_unit.as_deref(),
            )?;
            let ids: Vec<i64> = crate::distribution::warehouses::all(conn)?
                .into_iter()
                .filter(|w| scope.allows_warehouse(w.id))
                .filter(|w| query.warehouse.is_none_or(|id| id == w.id))
                .filter(|w| {
                    units
                        .as_ref()
                        .is_none_or(|u| u.contains(&w.admin_unit_code))
                })
                .map(|w| w.id)
                .collect();
            queries::stock(conn, &ids)
        })
        .await?;
    Ok(web::Json(lines))
}

/// One package line, with the units still available.
///
/// Admins and district officers see any; a warehouse officer only those of their warehouses (another is 404).
#[utoipa::path(
    tag = "inventory",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Package id")),
    responses(
        (status = 200, description = "One package line, with the units still available", body = Package),
        (status = 404, description = "No such record in your scope", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/inventory/packages/{id}")]
pub async fn get_package(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
) -> Result<web::Json<Package>, ApiError> {
    principal.require(INVENTORY_ROLES)?;
    let id = id.into_inner();
    let found = state
        .db
        .run(move |conn| {
            let scope = principal.reach(conn, Realm::Warehouses)?;
            let row = queries::find_package(conn, id)?;
            if !scope.allows_warehouse(row.warehouse_id) {
                return Err(Failure::not_found("no package has this id"));
            }
            queries::package(conn, id)
        })
        .await?;
    Ok(web::Json(found))
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(intake_csv)
        .service(intake)
        .service(list_items)
        .service(get_item)
        .service(check_item)
        .service(transition_item)
        .service(package_intake)
        .service(list_packages)
        .service(get_package)
        .service(stock);
}
