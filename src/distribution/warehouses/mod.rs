//! Warehouses: where stock is kept (a district office, a school storeroom),
//! and which warehouse officers work in each. A warehouse officer sees and
//! moves only the stock of their warehouses.

mod model;
mod queries;

use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

use crate::platform::auth::Realm;
use crate::platform::auth::{Principal, Role};
use crate::platform::http::json::Json;
use crate::platform::http::pagination::PageQuery;
use crate::platform::http::ApiError;
use crate::platform::state::AppState;
pub use model::*;
pub use queries::{all, check_reach, find, page, update};

/// Create a warehouse (admin).
///
/// In an admin unit; officers are assigned with `POST /warehouses/{id}/officers`.
#[utoipa::path(
    tag = "inventory",
    security(("bearer" = [])),
    request_body = CreateWarehouse,
    responses((status = 201, description = "The warehouse", body = Warehouse))
)]
#[post("/warehouses")]
pub async fn create_warehouse(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<CreateWarehouse>,
) -> Result<HttpResponse, ApiError> {
    principal.require_admin()?;
    let input = body.into_inner();
    input.validate()?;
    let row = state
        .db
        .run(move |conn| queries::create(conn, &principal.actor(), &input))
        .await?;
    Ok(HttpResponse::Created().json(row))
}

/// The warehouses the caller works with, oldest first.
///
/// Admins see all, warehouse officers their own; page with `limit` and `cursor`.
#[utoipa::path(
    tag = "inventory",
    security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, description = "A page of warehouses", body = WarehousePage))
)]
#[get("/warehouses")]
pub async fn list_warehouses(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<PageQuery>,
) -> Result<web::Json<WarehousePage>, ApiError> {
    principal.require(&[Role::WarehouseOfficer, Role::DistrictOfficer])?;
    let request = query.parse::<i64>()?;
    let warehouses = state
        .db
        .run(move |conn| {
            let scope = principal.reach(conn, Realm::Warehouses)?;
            page(conn, &scope, &request)
        })
        .await?;
    Ok(web::Json(warehouses))
}

/// One warehouse.
///
/// Admins and district officers see any; a warehouse officer only the warehouses they work in (another is 404).
#[utoipa::path(
    tag = "inventory",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Warehouse id")),
    responses(
        (status = 200, description = "One warehouse", body = Warehouse),
        (status = 404, description = "No such record in your scope", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/warehouses/{id}")]
pub async fn get_warehouse(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
) -> Result<web::Json<Warehouse>, ApiError> {
    principal.require(&[Role::WarehouseOfficer, Role::DistrictOfficer])?;
    let id = id.into_inner();
    let found = state
        .db
        .run(move |conn| {
            let scope = principal.reach(conn, Realm::Warehouses)?;
            check_reach(&scope, id)?;
            find(conn, id)
        })
        .await?;
    Ok(web::Json(found))
}

/// Let a warehouse officer work in a warehouse (admin).
///
/// An unknown `user_id`, or a user who is not a warehouse officer, is 422.
#[utoipa::path(
    tag = "inventory",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Warehouse id")),
    request_body = AssignOfficer,
    responses(
        (status = 204, description = "Assigned"),
        (status = 404, description = "No such warehouse", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/warehouses/{id}/officers")]
pub async fn assign_officer(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
    body: Json<AssignOfficer>,
) -> Result<HttpResponse, ApiError> {
    principal.require_admin()?;
    let (warehouse, user_id) = (id.into_inner(), body.into_inner().user_id);
    state
        .db
        .run(move |conn| queries::assign_officer(conn, &principal.actor(), warehouse, user_id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Rename a warehouse or change its address (admin).
///
/// Its admin unit stays. Send `If-Match` with the version you read (the ETag of GET):
/// without it 428, with a stale one 412.
#[utoipa::path(
    tag = "inventory",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "Warehouse id"),
        ("If-Match" = String, Header, description = "The version you read, e.g. \"3\""),
    ),
    request_body = WarehousePatch,
    responses(
        (status = 200, description = "After the change", body = Warehouse),
        (status = 404, description = "No such record", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/warehouses/{id}")]
pub async fn update_warehouse(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    id: web::Path<i64>,
    body: Json<WarehousePatch>,
) -> Result<web::Json<Warehouse>, ApiError> {
    principal.require_admin()?;
    let expected = crate::platform::http::versioning::required_if_match(&req)?;
    let patch = body.into_inner();
    patch.validate()?;
    let id = id.into_inner();
    let row = state
        .db
        .run(move |conn| update(conn, &principal.actor(), id, &patch, expected))
        .await?;
    Ok(web::Json(row))
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_warehouse)
        .service(list_warehouses)
        .service(get_warehouse)
        .service(update_warehouse)
        .service(assign_officer);
}
