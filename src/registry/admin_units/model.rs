//! Administrative units (GSO codes): rows, levels and what the API shows of
//! them.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::scheme::Scheme;
use crate::platform::db::schema::admin_units;
use crate::platform::db::text_enum;

text_enum! {
    /// The level of an administrative unit. Since July 2025 Vietnam has only
    /// provinces and communes; older data also has districts in between.
    pub enum Level {
        Province => "province",
        District => "district",
        Commune => "commune",
    }
}

impl Level {
    /// Depth in the tree: a parent always has a smaller rank than its child.
    pub fn rank(self) -> u8 {
        match self {
            Level::Province => 0,
            Level::District => 1,
            Level::Commune => 2,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = admin_units)]
pub struct AdminUnitRow {
    pub code: String,
    pub parent_code: Option<String>,
    pub level: Level,
    pub name: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A province, district or commune with its official GSO code.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"code": "150", "scheme": "vn2008", "parent_code": "17", "level": "district", "name": "Huyện Đà Bắc"}))]
pub struct AdminUnit {
    /// The code as the service names it: bare before the 2025 reform
    /// (`150`), prefixed after it (`vn2025:04792`).
    pub code: String,
    /// The tree the unit belongs to (from its code).
    pub scheme: Scheme,
    /// Absent for a province.
    pub parent_code: Option<String>,
    pub level: Level,
    pub name: String,
}

impl From<AdminUnitRow> for AdminUnit {
    fn from(row: AdminUnitRow) -> Self {
        Self {
            scheme: Scheme::of(&row.code),
            code: row.code,
            parent_code: row.parent_code,
            level: row.level,
            name: row.name,
        }
    }
}

/// One unit with the chain of units above it and how many sit directly below.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUnitDetail {
    pub code: String,
    pub scheme: Scheme,
    pub parent_code: Option<String>,
    pub level: Level,
    pub name: String,
    /// From the province down to the direct parent.
    pub parents: Vec<AdminUnit>,
    /// Units whose parent is this one.
    pub children_count: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUnitPage {
    pub items: Vec<AdminUnit>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AdminUnitFilter {
    /// Only the direct children of this unit.
    #[param(example = "17")]
    pub parent_code: Option<String>,
    /// Only units of this level.
    pub level: Option<Level>,
    /// Only units of this tree (both when absent).
    pub scheme: Option<Scheme>,
}

/// Which tree an import writes.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SchemeQuery {
    /// `vn2008` (default: the pre-reform tree, bare codes) or `vn2025`
    /// (codes stored with the prefix `vn2025:`).
    pub scheme: Option<Scheme>,
}

/// What an import changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ImportReport {
    /// Data rows in the file.
    pub total: usize,
    pub inserted: usize,
    /// Existing codes whose name, level or parent changed.
    pub updated: usize,
    pub unchanged: usize,
}
