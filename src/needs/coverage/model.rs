//! Operators and coverage gaps: rows, statuses and the request and response
//! shapes.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::platform::db::schema::{coverage_gaps, operators};
use crate::platform::db::text_enum;

text_enum! {
    /// Where a place without mobile internet stands.
    pub enum GapStatus {
        Open => "open",
        /// The operator has a date for it.
        Planned => "planned",
        InProgress => "in_progress",
        /// The operator says it is covered.
        Covered => "covered",
        /// A district officer checked that it is covered.
        Confirmed => "confirmed",
    }
}

#[derive(Debug, Clone, Serialize, Queryable, Selectable, ToSchema)]
#[diesel(table_name = operators)]
pub struct Operator {
    pub id: i64,
    #[schema(example = "viettel")]
    pub code: String,
    #[schema(example = "Viettel Hòa Bình")]
    pub name: String,
    #[serde(serialize_with = "crate::platform::db::utc")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: NaiveDateTime,
    /// Changes with every edit; send it back in `If-Match` to edit.
    pub version: i64,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "viettel", "name": "Viettel Hòa Bình"}))]
pub struct CreateOperator {
    #[validate(length(min = 1, max = 32, message = "must be 1 to 32 characters"))]
    #[schema(min_length = 1, max_length = 32)]
    pub code: String,
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
}

/// A new name for an operator (its code stays: gaps and pledges name it).
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Viettel Hòa Bình (Chi nhánh Đà Bắc)"}))]
pub struct OperatorPatch {
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = coverage_gaps)]
pub struct GapRow {
    pub id: i64,
    pub admin_unit_code: String,
    pub place_name: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub school_ids: String,
    pub students_affected: i32,
    pub operator_id: Option<i64>,
    pub status: GapStatus,
    pub planned_for: Option<NaiveDate>,
    pub started_on: Option<NaiveDate>,
    pub covered_on: Option<NaiveDate>,
    pub confirmed_by: Option<String>,
    pub note: Option<String>,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A place without mobile internet (a village or hamlet of a commune).
#[derive(Debug, Serialize, ToSchema)]
pub struct CoverageGap {
    pub id: i64,
    /// The commune (or other unit) it lies in.
    pub admin_unit_code: String,
    #[schema(example = "Xóm Bưa")]
    pub place_name: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// Schools the gap cuts off.
    pub school_ids: Vec<i64>,
    pub students_affected: i32,
    /// The operator asked to cover it.
    pub operator_id: Option<i64>,
    pub status: GapStatus,
    pub planned_for: Option<NaiveDate>,
    pub started_on: Option<NaiveDate>,
    pub covered_on: Option<NaiveDate>,
    pub confirmed_by: Option<String>,
    pub note: Option<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<GapRow> for CoverageGap {
    fn from(row: GapRow) -> Self {
        Self {
            id: row.id,
            admin_unit_code: row.admin_unit_code,
            place_name: row.place_name,
            latitude: row.latitude,
            longitude: row.longitude,
            school_ids: serde_json::from_str(&row.school_ids).unwrap_or_default(),
            students_affected: row.students_affected,
            operator_id: row.operator_id,
            status: row.status,
            planned_for: row.planned_for,
            started_on: row.started_on,
            covered_on: row.covered_on,
            confirmed_by: row.confirmed_by,
            note: row.note,
            version: row.version,
            created_at: crate::platform::db::to_utc(row.created_at),
            updated_at: crate::platform::db::to_utc(row.updated_at),
        }
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"admin_unit_code": "04840", "place_name": "Xóm Bưa", "school_ids": [3], "students_affected": 42, "operator_id": 1}))]
pub struct ReportGap {
    #[validate(length(min = 1, max = 16, message = "must be a GSO admin unit code"))]
    #[schema(min_length = 1, max_length = 16)]
    pub admin_unit_code: String,
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200)]
    pub place_name: String,
    #[validate(range(min = -90.0, max = 90.0, message = "must be -90 to 90"))]
    #[schema(minimum = -90.0, maximum = 90.0)]
    pub latitude: Option<f64>,
    #[validate(range(min = -180.0, max = 180.0, message = "must be -180 to 180"))]
    #[schema(minimum = -180.0, maximum = 180.0)]
    pub longitude: Option<f64>,
    #[serde(default)]
    #[validate(length(max = 100, message = "at most 100 schools"))]
    #[schema(max_items = 100)]
    pub school_ids: Vec<i64>,
    #[serde(default)]
    #[validate(range(min = 0, max = 100000, message = "must be 0 to 100000"))]
    #[schema(minimum = 0, maximum = 100000)]
    pub students_affected: i32,
    pub operator_id: Option<i64>,
    #[validate(length(max = 1000, message = "must be at most 1000 characters"))]
    #[schema(max_length = 1000)]
    pub note: Option<String>,
}

/// Assign the operator or correct the place; send only what changes.
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"operator_id": 2}))]
pub struct UpdateGap {
    pub operator_id: Option<i64>,
    #[validate(range(min = 0, max = 100000, message = "must be 0 to 100000"))]
    #[schema(minimum = 0, maximum = 100000)]
    pub students_affected: Option<i32>,
    #[validate(length(max = 1000, message = "must be at most 1000 characters"))]
    #[schema(max_length = 1000)]
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"to": "planned", "date": "2026-12-15"}))]
pub struct GapTransition {
    pub to: GapStatus,
    /// The planned date (to `planned`, required), start (`in_progress`) or
    /// coverage date (`covered`); today when absent.
    pub date: Option<NaiveDate>,
    #[validate(length(max = 1000, message = "must be at most 1000 characters"))]
    #[schema(max_length = 1000)]
    pub note: Option<String>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GapFilter {
    pub status: Option<GapStatus>,
    pub operator_id: Option<i64>,
    /// Gaps in this admin unit or below.
    pub admin_unit: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OperatorPage {
    /// Oldest first.
    pub items: Vec<Operator>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GapPage {
    pub items: Vec<CoverageGap>,
    pub next_cursor: Option<String>,
}
