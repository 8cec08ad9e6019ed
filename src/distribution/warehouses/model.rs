//! Warehouses: rows and the request and response shapes.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use crate::platform::db::schema::warehouses;

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
    /// Changes with every edit; send it back in `If-Match` to edit.
    pub version: i64,
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

/// Changes to a warehouse; send only what changes (`null` clears the
/// address). Its admin unit stays: moving it would change who sees its stock.
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"address": "Tiểu khu Thống Nhất, thị trấn Đà Bắc"}))]
pub struct WarehousePatch {
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "crate::platform::http::json::present")]
    #[validate(length(max = 500, message = "must be at most 500 characters"))]
    #[schema(max_length = 500)]
    pub address: Option<Option<String>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"user_id": 5}))]
pub struct AssignOfficer {
    /// A user with the role `warehouse_officer`.
    pub user_id: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WarehousePage {
    /// Oldest first.
    pub items: Vec<Warehouse>,
    pub next_cursor: Option<String>,
}
