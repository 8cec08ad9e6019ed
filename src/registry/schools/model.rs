//! Schools: rows, the sync record, the patch and the filters.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::platform::db::schema::schools;
use crate::platform::db::text_enum;

text_enum! {
    /// Which grades a school teaches.
    pub enum SchoolLevel {
        /// Tiểu học: grades 1–5.
        Primary => "primary",
        /// THCS: grades 6–9.
        LowerSecondary => "lower_secondary",
        /// THPT: grades 10–12.
        UpperSecondary => "upper_secondary",
        /// Several levels in one school: grades 1–12.
        Multi => "multi",
    }
}

impl SchoolLevel {
    pub fn grades(self) -> std::ops::RangeInclusive<i32> {
        match self {
            SchoolLevel::Primary => 1..=5,
            SchoolLevel::LowerSecondary => 6..=9,
            SchoolLevel::UpperSecondary => 10..=12,
            SchoolLevel::Multi => 1..=12,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = schools)]
pub struct SchoolRow {
    pub id: i64,
    pub moet_code: String,
    pub name: String,
    pub name_search: String,
    pub admin_unit_code: String,
    pub level: SchoolLevel,
    pub address: Option<String>,
    pub contact: Option<String>,
    pub has_mobile_coverage: bool,
    pub has_fixed_internet: bool,
    pub active: bool,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A school. Its `version` changes with every update (send it as `If-Match`).
#[derive(Debug, Serialize, ToSchema)]
pub struct School {
    pub id: i64,
    /// The Ministry of Education's school code.
    #[schema(example = "17150001")]
    pub moet_code: String,
    #[schema(example = "Trường Tiểu học Đà Bắc")]
    pub name: String,
    #[schema(example = "04831")]
    pub admin_unit_code: String,
    pub level: SchoolLevel,
    pub address: Option<String>,
    /// The school office's phone or e-mail.
    pub contact: Option<String>,
    pub has_mobile_coverage: bool,
    pub has_fixed_internet: bool,
    pub active: bool,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<SchoolRow> for School {
    fn from(row: SchoolRow) -> Self {
        Self {
            id: row.id,
            moet_code: row.moet_code,
            name: row.name,
            admin_unit_code: row.admin_unit_code,
            level: row.level,
            address: row.address,
            contact: row.contact,
            has_mobile_coverage: row.has_mobile_coverage,
            has_fixed_internet: row.has_fixed_internet,
            active: row.active,
            version: row.version,
            created_at: crate::platform::db::to_utc(row.created_at),
            updated_at: crate::platform::db::to_utc(row.updated_at),
        }
    }
}

fn default_true() -> bool {
    true
}

/// A school to create, or one record of a school sync batch (keyed by `moet_code`).
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"moet_code": "17150001", "name": "Trường Tiểu học Đà Bắc", "admin_unit_code": "04831", "level": "primary", "has_mobile_coverage": true}))]
pub struct SchoolInput {
    #[validate(length(min = 1, max = 32, message = "must be 1 to 32 characters"))]
    #[schema(min_length = 1, max_length = 32)]
    pub moet_code: String,
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[validate(length(min = 1, max = 16, message = "must be a GSO admin unit code"))]
    #[schema(min_length = 1, max_length = 16)]
    pub admin_unit_code: String,
    pub level: SchoolLevel,
    #[validate(length(max = 500, message = "must be at most 500 characters"))]
    #[schema(max_length = 500)]
    pub address: Option<String>,
    #[validate(length(max = 200, message = "must be at most 200 characters"))]
    #[schema(max_length = 200)]
    pub contact: Option<String>,
    #[serde(default)]
    pub has_mobile_coverage: bool,
    #[serde(default)]
    pub has_fixed_internet: bool,
    #[serde(default = "default_true")]
    pub active: bool,
}

/// Changes to a school; send only what changes.
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"has_mobile_coverage": true}))]
pub struct SchoolPatch {
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    #[validate(length(min = 1, max = 16, message = "must be a GSO admin unit code"))]
    #[schema(min_length = 1, max_length = 16)]
    pub admin_unit_code: Option<String>,
    pub level: Option<SchoolLevel>,
    #[validate(length(max = 500, message = "must be at most 500 characters"))]
    #[schema(max_length = 500)]
    pub address: Option<String>,
    #[validate(length(max = 200, message = "must be at most 200 characters"))]
    #[schema(max_length = 200)]
    pub contact: Option<String>,
    pub has_mobile_coverage: Option<bool>,
    pub has_fixed_internet: Option<bool>,
    pub active: Option<bool>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SchoolFilter {
    /// Schools in this admin unit or any unit below it.
    #[param(example = "150")]
    pub admin_unit: Option<String>,
    pub level: Option<SchoolLevel>,
    /// Case-insensitive part of the name.
    #[param(example = "đà bắc")]
    pub q: Option<String>,
    pub active: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SchoolPage {
    pub items: Vec<School>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}
