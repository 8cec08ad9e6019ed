//! Needs: rows, kinds, statuses, events and the request and response shapes.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use super::workflow::NeedStatus;
use crate::platform::db::schema::needs;
use crate::platform::db::text_enum;
use crate::registry::schools::SchoolLevel;

text_enum! {
    pub enum NeedKind {
        /// A learning device (for a student, or a shared lab for a school).
        Device => "device",
        /// An internet connection.
        Connectivity => "connectivity",
        /// A mobile data package (students only).
        DataPackage => "data_package",
        /// A licence of teaching software (for a student or a school).
        Software => "software",
    }
}

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = needs)]
pub struct NeedRow {
    pub id: i64,
    pub kind: NeedKind,
    pub student_id: Option<i64>,
    pub school_id: i64,
    pub admin_unit_code: String,
    pub school_level: SchoolLevel,
    pub quantity: i32,
    pub note: Option<String>,
    pub status: NeedStatus,
    pub priority: i32,
    pub priority_reasons: String,
    pub reported_by: String,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A need: a verified gap for one student or one school.
#[derive(Debug, Serialize, ToSchema)]
pub struct Need {
    pub id: i64,
    pub kind: NeedKind,
    /// The student in need; absent for a school's need.
    pub student_id: Option<i64>,
    pub school_id: i64,
    /// The school's admin unit.
    pub admin_unit_code: String,
    pub school_level: SchoolLevel,
    pub quantity: i32,
    pub note: Option<String>,
    pub status: NeedStatus,
    /// Higher first; the sum of `priority_reasons`.
    pub priority: i32,
    pub priority_reasons: Vec<Reason>,
    /// `user:<name>`, or `system` for generated needs.
    pub reported_by: String,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The allocation serving the need now (active or handed over; a
    /// cancelled one is not), read with `GET /allocations/{id}`.
    pub allocation_id: Option<i64>,
    /// Its handover, once the need is fulfilled (`GET /handovers/{id}`).
    pub handover_id: Option<i64>,
}

impl From<NeedRow> for Need {
    fn from(row: NeedRow) -> Self {
        Self {
            id: row.id,
            kind: row.kind,
            student_id: row.student_id,
            school_id: row.school_id,
            admin_unit_code: row.admin_unit_code,
            school_level: row.school_level,
            quantity: row.quantity,
            note: row.note,
            status: row.status,
            priority: row.priority,
            priority_reasons: serde_json::from_str(&row.priority_reasons).unwrap_or_default(),
            reported_by: row.reported_by,
            version: row.version,
            created_at: crate::platform::db::to_utc(row.created_at),
            updated_at: crate::platform::db::to_utc(row.updated_at),
            allocation_id: None,
            handover_id: None,
        }
    }
}

/// A need to report: for a student (`student_id`) or a school (`school_id`).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "device", "student_id": 42, "note": "shares one phone with three siblings"}))]
pub struct ReportNeed {
    pub kind: NeedKind,
    pub student_id: Option<i64>,
    pub school_id: Option<i64>,
    /// How many (devices for a school lab); 1 for a student.
    #[validate(range(min = 1, max = 10000, message = "must be 1 to 10000"))]
    #[schema(minimum = 1, maximum = 10000)]
    pub quantity: Option<i32>,
    #[validate(length(max = 1000, message = "must be at most 1000 characters"))]
    #[schema(max_length = 1000)]
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"to": "verified"}))]
pub struct TransitionRequest {
    pub to: NeedStatus,
    /// Required to reject or cancel.
    #[validate(length(max = 1000, message = "must be at most 1000 characters"))]
    #[schema(max_length = 1000)]
    pub reason: Option<String>,
}

/// One transition of a need.
#[derive(Debug, Serialize, Queryable, ToSchema)]
pub struct NeedEvent {
    pub id: i64,
    /// Absent for the creation.
    pub from_status: Option<NeedStatus>,
    pub to_status: NeedStatus,
    pub actor: String,
    pub reason: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    #[serde(serialize_with = "crate::platform::db::utc")]
    pub at: NaiveDateTime,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NeedFilter {
    pub status: Option<NeedStatus>,
    pub kind: Option<NeedKind>,
    pub school_id: Option<i64>,
    /// Needs of schools in this admin unit or below.
    pub admin_unit: Option<String>,
    pub priority_min: Option<i32>,
    pub priority_max: Option<i32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NeedPage {
    /// Highest priority first, then oldest.
    pub items: Vec<Need>,
    pub next_cursor: Option<String>,
}

/// Where to generate needs: one school or an admin-unit subtree.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"admin_unit_code": "150"}))]
pub struct GenerateRequest {
    pub school_id: Option<i64>,
    pub admin_unit_code: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GenerateReport {
    /// Active students looked at.
    pub students: usize,
    /// New needs (device: no or inadequate device; connectivity: none).
    pub created: usize,
    /// Needs the records imply that were already open.
    pub already_open: usize,
}

/// Verify, approve (or reject) many needs at once; each is checked on its own.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"ids": [1, 2, 3], "to": "verified"}))]
pub struct BulkTransition {
    #[validate(length(min = 1, max = 1000, message = "send 1 to 1000 ids"))]
    #[schema(min_items = 1, max_items = 1000)]
    pub ids: Vec<i64>,
    pub to: NeedStatus,
    #[validate(length(max = 1000, message = "must be at most 1000 characters"))]
    #[schema(max_length = 1000)]
    pub reason: Option<String>,
}

/// The outcome for one need of a bulk transition.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkItem {
    pub id: i64,
    /// The HTTP status this need alone would have got (200, 403, 404, 409, 422).
    pub status: u16,
    /// The need's state after the request, when it could be read.
    pub need_status: Option<NeedStatus>,
    pub error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkReport {
    pub succeeded: usize,
    pub failed: usize,
    pub items: Vec<BulkItem>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SummaryQuery {
    /// The subtree to count (default: the caller's whole scope).
    #[param(example = "150")]
    pub admin_unit: Option<String>,
}

/// One cell of the summary.
#[derive(Debug, Serialize, Queryable, ToSchema)]
pub struct SummaryCell {
    pub kind: NeedKind,
    pub status: NeedStatus,
    pub school_level: SchoolLevel,
    pub count: i64,
}

/// Counts of needs by kind × status × school level for a subtree.
#[derive(Debug, Serialize, ToSchema)]
pub struct NeedSummary {
    pub admin_unit: Option<String>,
    pub total: i64,
    pub cells: Vec<SummaryCell>,
}

/// One reason a need ranks where it does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Reason {
    #[schema(example = "household_poor")]
    pub rule: String,
    #[schema(example = 30)]
    pub points: i32,
}
