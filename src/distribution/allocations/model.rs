//! Allocations: rows, statuses and the request and response shapes.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use super::matching::{Match, Unmatched};
use crate::needs::NeedKind;
use crate::platform::db::schema::allocations;
use crate::platform::db::text_enum;
use crate::platform::error::Failure;

text_enum! {
    pub enum AllocationStatus {
        /// The stock is reserved for the need.
        Active => "active",
        Cancelled => "cancelled",
        HandedOver => "handed_over",
    }
}

/// The life of an allocation: active until it is handed over or
/// cancelled (the stock goes back to ready), and final after that.
const ALLOCATION_TRANSITIONS: &[(AllocationStatus, AllocationStatus)] = &[
    (AllocationStatus::Active, AllocationStatus::HandedOver),
    (AllocationStatus::Active, AllocationStatus::Cancelled),
];

impl AllocationStatus {
    /// May allocation `id` go from `self` to `to`?
    pub fn check_transition(self, to: AllocationStatus, id: i64) -> Result<(), Failure> {
        if ALLOCATION_TRANSITIONS.contains(&(self, to)) {
            Ok(())
        } else {
            Err(Failure::conflict(format!(
                "allocation {id} is {self}, not active: it cannot become {to}"
            )))
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = allocations)]
pub struct AllocationRow {
    pub id: i64,
    pub need_id: i64,
    pub item_id: Option<i64>,
    pub package_id: Option<i64>,
    pub quantity: i32,
    pub status: AllocationStatus,
    pub cancel_reason: Option<String>,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// An approved need matched to one device or one unit of a package.
#[derive(Debug, Serialize, ToSchema)]
pub struct Allocation {
    pub id: i64,
    pub need_id: i64,
    pub item_id: Option<i64>,
    pub package_id: Option<i64>,
    pub quantity: i32,
    pub status: AllocationStatus,
    pub cancel_reason: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<AllocationRow> for Allocation {
    fn from(row: AllocationRow) -> Self {
        Self {
            id: row.id,
            need_id: row.need_id,
            item_id: row.item_id,
            package_id: row.package_id,
            quantity: row.quantity,
            status: row.status,
            cancel_reason: row.cancel_reason,
            created_by: row.created_by,
            created_at: crate::platform::db::to_utc(row.created_at),
            updated_at: crate::platform::db::to_utc(row.updated_at),
        }
    }
}

/// Allocate by hand: a device (`item_id`) to a device need, or a data
/// package (`package_id`) to a connectivity or data-package need.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"need_id": 12, "item_id": 40}))]
pub struct CreateAllocation {
    pub need_id: i64,
    pub item_id: Option<i64>,
    pub package_id: Option<i64>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "the student moved to another province"}))]
pub struct CancelAllocation {
    #[validate(length(min = 1, max = 1000, message = "say why, in 1 to 1000 characters"))]
    #[schema(min_length = 1, max_length = 1000)]
    pub reason: String,
}

/// An automatic allocation run over a subtree.
#[derive(Debug, Deserialize, ToSchema, validator::Validate)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"admin_unit": "150", "kinds": ["device"], "dry_run": true}))]
pub struct RunRequest {
    /// The subtree to serve; admins may leave it out for the whole country,
    /// district officers default to their own subtree.
    pub admin_unit: Option<String>,
    /// Need kinds to serve (default: all): devices from ready devices,
    /// connectivity and data packages from data-package stock.
    #[serde(default)]
    #[validate(length(max = 4, message = "name each of the 4 kinds at most once"))]
    #[schema(max_items = 4)]
    pub kinds: Vec<NeedKind>,
    /// Plan only; nothing is written.
    #[serde(default)]
    pub dry_run: bool,
    /// At most this many allocations per school in this run.
    #[validate(range(min = 1, max = 1000000, message = "must be 1 to 1000000"))]
    #[schema(minimum = 1, maximum = 1000000)]
    pub quota_per_school: Option<u32>,
    /// At most this many allocations per district in this run.
    #[validate(range(min = 1, max = 1000000, message = "must be 1 to 1000000"))]
    #[schema(minimum = 1, maximum = 1000000)]
    pub quota_per_district: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RunReport {
    pub dry_run: bool,
    pub matches: Vec<Match>,
    pub unmatched: Vec<Unmatched>,
    /// The allocations made, in the order of `matches` (empty on a dry run).
    pub allocation_ids: Vec<i64>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AllocationFilter {
    pub need_id: Option<i64>,
    pub status: Option<AllocationStatus>,
    /// The school of the allocated need.
    pub school_id: Option<i64>,
    /// An admin-unit code: allocations of needs in its subtree.
    pub admin_unit: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AllocationPage {
    /// Oldest first.
    pub items: Vec<Allocation>,
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::AllocationStatus::*;

    #[test]
    fn the_allocation_transition_table() {
        let all = [Active, Cancelled, HandedOver];
        for from in all {
            for to in all {
                let legal = from == Active && to != Active;
                assert_eq!(
                    from.check_transition(to, 7).is_ok(),
                    legal,
                    "{from} -> {to}"
                );
            }
        }
    }
}
