//! Warehouses: where stock is kept (a district office, a school storeroom),
//! and which warehouse officers work in each. A warehouse officer sees and
//! moves only the stock of their warehouses.

use std::collections::HashSet;

use actix_web::{get, post, web, HttpResponse};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

use crate::platform::auth::{Account, Principal, Role};
use crate::platform::db::schema::{warehouse_staff, warehouses};
use crate::platform::db::{with_conn, DbConn};
use crate::platform::error::ApiError;
use crate::platform::error::OrUnknown;
use crate::platform::http::json::Json;
use crate::platform::http::pagination::{PageQuery, PageRequest};
use crate::platform::state::AppState;

#[derive(Debug, Clone, Serialize, Queryable, Selectable, ToSchema)]
#[diesel(table_name = warehouses)]
pub struct Warehouse {
    pub id: i64,
    #[schema(example = "Kho Phòng GD&ĐT Đà Bắc")]
    pub name: String,
    pub admin_unit_code: String,
    pub address: Option<String>,
    #[serde(serialize_with = "crate::platform::db::utc")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Kho Phòng GD&ĐT Đà Bắc", "admin_unit_code": "150"}))]
pub struct CreateWarehouse {
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    pub admin_unit_code: String,
    #[validate(length(max = 500, message = "must be at most 500 characters"))]
    #[schema(max_length = 500)]
    pub address: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"user_id": 5}))]
pub struct AssignOfficer {
    /// A user with the role `warehouse_officer`.
    pub user_id: i64,
}

/// Which warehouses a caller may work with.
#[derive(Debug, Clone)]
pub enum WarehouseScope {
    All,
    Only(HashSet<i64>),
}

impl WarehouseScope {
    /// Admins all; warehouse officers their own; district officers the
    /// warehouses in their subtree.
    pub fn of(conn: &mut DbConn, principal: &Principal) -> Result<Self, ApiError> {
        match (principal.role, &principal.account, &principal.scope) {
            (Role::Admin, _, _) => Ok(WarehouseScope::All),
            (Role::WarehouseOfficer, Account::User { id, .. }, _) => {
                let ids: Vec<i64> = with_conn!(conn, |c| warehouse_staff::table
                    .filter(warehouse_staff::user_id.eq(*id))
                    .select(warehouse_staff::warehouse_id)
                    .load(c))?;
                Ok(WarehouseScope::Only(ids.into_iter().collect()))
            }
            (
                Role::DistrictOfficer,
                _,
                crate::platform::auth::Scope::AdminUnit { admin_unit_code },
            ) => {
                let units =
                    crate::registry::admin_units::queries::subtree_codes(conn, admin_unit_code)?;
                let ids: Vec<i64> = with_conn!(conn, |c| warehouses::table
                    .filter(warehouses::admin_unit_code.eq_any(&units))
                    .select(warehouses::id)
                    .load(c))?;
                Ok(WarehouseScope::Only(ids.into_iter().collect()))
            }
            _ => Err(ApiError::forbidden("this role has no access to warehouses")),
        }
    }

    /// The warehouses a query must keep to (`None`: all), for a SQL filter.
    pub fn ids(&self) -> Option<Vec<i64>> {
        match self {
            WarehouseScope::All => None,
            WarehouseScope::Only(ids) => Some(ids.iter().copied().collect()),
        }
    }

    pub fn allows(&self, warehouse_id: i64) -> bool {
        match self {
            WarehouseScope::All => true,
            WarehouseScope::Only(ids) => ids.contains(&warehouse_id),
        }
    }

    /// 404 for a warehouse outside the scope, as for a missing one.
    pub fn check(&self, warehouse_id: i64) -> Result<(), ApiError> {
        if self.allows(warehouse_id) {
            Ok(())
        } else {
            Err(ApiError::not_found("no warehouse has this id"))
        }
    }
}

pub fn find(conn: &mut DbConn, id: i64) -> Result<Warehouse, ApiError> {
    let row: Option<Warehouse> = with_conn!(conn, |c| warehouses::table
        .find(id)
        .select(Warehouse::as_select())
        .first(c)
        .optional())?;
    row.ok_or_else(|| ApiError::not_found(String::from("no warehouse has this id")))
}

pub fn all(conn: &mut DbConn) -> Result<Vec<Warehouse>, ApiError> {
    let rows = with_conn!(conn, |c| warehouses::table
        .order(warehouses::id)
        .select(Warehouse::as_select())
        .load(c))?;
    Ok(rows)
}

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
        .run(move |conn| {
            conn.transaction(|conn| {
                if crate::registry::admin_units::queries::find(conn, &input.admin_unit_code)?
                    .is_none()
                {
                    return Err(ApiError::invalid_field(
                        "admin_unit_code",
                        "unknown",
                        "no such admin unit",
                    ));
                }
                let row: Warehouse = with_conn!(conn, |c| diesel::insert_into(warehouses::table)
                    .values((
                        warehouses::name.eq(&input.name),
                        warehouses::admin_unit_code.eq(&input.admin_unit_code),
                        warehouses::address.eq(&input.address),
                        warehouses::created_at.eq(crate::platform::db::now()),
                    ))
                    .returning(Warehouse::as_returning())
                    .get_result(c))?;
                crate::platform::audit::record(
                    conn,
                    &principal.actor(),
                    "create",
                    "warehouse",
                    &row.id.to_string(),
                    json!({"name": row.name, "admin_unit_code": row.admin_unit_code}),
                )?;
                Ok(row)
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(row))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WarehousePage {
    /// Oldest first.
    pub items: Vec<Warehouse>,
    pub next_cursor: Option<String>,
}

/// A page of the warehouses in `scope`, oldest first.
pub fn page(
    conn: &mut DbConn,
    scope: &WarehouseScope,
    page: &PageRequest<i64>,
) -> Result<WarehousePage, ApiError> {
    let allowed = scope.ids();
    let rows: Vec<Warehouse> = with_conn!(conn, |c| {
        let mut query = warehouses::table
            .order(warehouses::id)
            .limit(page.fetch())
            .select(Warehouse::as_select())
            .into_boxed();
        if let Some(after) = page.after {
            query = query.filter(warehouses::id.gt(after));
        }
        if let Some(ids) = &allowed {
            query = query.filter(warehouses::id.eq_any(ids));
        }
        query.load(c)
    })?;
    let (items, next_cursor) = page.finish(rows, |row| row.id);
    Ok(WarehousePage { items, next_cursor })
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
            let scope = WarehouseScope::of(conn, &principal)?;
            page(conn, &scope, &request)
        })
        .await?;
    Ok(web::Json(warehouses))
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
        (status = 404, description = "No such warehouse", body = crate::platform::error::Problem, content_type = "application/problem+json"),
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
        .run(move |conn| {
            conn.transaction(|conn| {
                find(conn, warehouse)?;
                let user = crate::registry::accounts::queries::find_user(conn, user_id)
                    .or_unknown("user_id")?;
                if user.role != Role::WarehouseOfficer {
                    return Err(ApiError::invalid_field(
                        "user_id",
                        "role",
                        "the user must be a warehouse officer",
                    ));
                }
                with_conn!(conn, |c| diesel::insert_into(warehouse_staff::table)
                    .values((
                        warehouse_staff::user_id.eq(user_id),
                        warehouse_staff::warehouse_id.eq(warehouse)
                    ))
                    .on_conflict_do_nothing()
                    .execute(c))?;
                crate::platform::audit::record(
                    conn,
                    &principal.actor(),
                    "assign",
                    "warehouse",
                    &warehouse.to_string(),
                    json!({"user_id": user_id}),
                )
            })
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_warehouse)
        .service(list_warehouses)
        .service(assign_officer);
}
