//! Devices, packages and stock movements: rows, statuses and the request and
//! response shapes.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::donations::kinds::{DeviceType, DonationKind};
use crate::platform::db::schema::{inventory_items, inventory_packages};
use crate::platform::db::text_enum;

text_enum! {
    pub enum ItemStatus {
        /// Registered, not yet checked.
        Intake => "intake",
        /// Checked (and wiped, if used): can be allocated.
        Ready => "ready",
        /// On its way to another warehouse.
        InTransit => "in_transit",
        /// Allocated to a need.
        Reserved => "reserved",
        HandedOver => "handed_over",
        /// Came back from a student; checked again before reuse.
        Returned => "returned",
        /// Lost, damaged, stolen or beyond repair.
        WrittenOff => "written_off",
    }
}

text_enum! {
    pub enum ItemCondition {
        New => "new",
        UsedGood => "used_good",
        NeedsRepair => "needs_repair",
    }
}

text_enum! {
    pub enum Movement {
        Intake => "intake",
        Check => "check",
        TransferOut => "transfer_out",
        TransferIn => "transfer_in",
        Reserve => "reserve",
        Release => "release",
        Handover => "handover",
        Return => "return",
        Adjustment => "adjustment",
        WriteOff => "write_off",
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = inventory_items)]
pub struct ItemRow {
    pub id: i64,
    pub device_type: DeviceType,
    pub model: Option<String>,
    pub serial: Option<String>,
    pub imei: Option<String>,
    pub condition: ItemCondition,
    pub receipt_id: i64,
    pub warehouse_id: i64,
    pub transfer_to: Option<i64>,
    pub earmark_admin_unit: Option<String>,
    pub status: ItemStatus,
    pub checked_by: Option<String>,
    pub checked_at: Option<NaiveDateTime>,
    pub status_reason: Option<String>,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub profile_version: Option<i32>,
    /// JSON: what failed to apply, when something did.
    pub profile_failures: Option<String>,
    pub profile_applied_at: Option<NaiveDateTime>,
}

/// The safe-internet device profile a device carries.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ItemProfile {
    pub version: i32,
    /// What failed to apply (empty: everything applied).
    pub failed: Vec<String>,
    pub applied_at: DateTime<Utc>,
}

/// One device in stock.
#[derive(Debug, Serialize, ToSchema)]
pub struct Item {
    pub id: i64,
    pub device_type: DeviceType,
    pub model: Option<String>,
    pub serial: Option<String>,
    pub imei: Option<String>,
    pub condition: ItemCondition,
    /// The receipt line it arrived on (donation or purchase).
    pub receipt_id: i64,
    pub warehouse_id: i64,
    /// Destination while in transit.
    pub transfer_to: Option<i64>,
    /// From the pledge: the device may only go to this admin unit's subtree.
    pub earmark_admin_unit: Option<String>,
    pub status: ItemStatus,
    /// Who checked (and wiped) it, and when.
    pub checked_by: Option<String>,
    pub checked_at: Option<DateTime<Utc>>,
    /// The device profile applied at its last check (none before one, or
    /// after the device came back from a child).
    pub profile: Option<ItemProfile>,
    pub status_reason: Option<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<ItemRow> for Item {
    fn from(row: ItemRow) -> Self {
        Self {
            id: row.id,
            device_type: row.device_type,
            model: row.model,
            serial: row.serial,
            imei: row.imei,
            condition: row.condition,
            receipt_id: row.receipt_id,
            warehouse_id: row.warehouse_id,
            transfer_to: row.transfer_to,
            earmark_admin_unit: row.earmark_admin_unit,
            status: row.status,
            checked_by: row.checked_by,
            checked_at: row.checked_at.map(crate::platform::db::to_utc),
            profile: match (row.profile_version, row.profile_applied_at) {
                (Some(version), Some(at)) => Some(ItemProfile {
                    version,
                    // Written by this service from a validated list.
                    failed: row
                        .profile_failures
                        .as_deref()
                        .and_then(|text| serde_json::from_str(text).ok())
                        .unwrap_or_default(),
                    applied_at: crate::platform::db::to_utc(at),
                }),
                _ => None,
            },
            status_reason: row.status_reason,
            version: row.version,
            created_at: crate::platform::db::to_utc(row.created_at),
            updated_at: crate::platform::db::to_utc(row.updated_at),
        }
    }
}

/// One device of an intake: a serial and/or an IMEI.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntakeDevice {
    pub serial: Option<String>,
    /// 15 digits with a valid check digit.
    pub imei: Option<String>,
    pub model: Option<String>,
}

/// Register the devices of one receipt line.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"receipt_id": 3, "warehouse_id": 1, "condition": "new", "devices": [{"serial": "R9TT1234", "imei": "490154203237518"}]}))]
pub struct IntakeRequest {
    pub receipt_id: i64,
    pub warehouse_id: i64,
    pub condition: ItemCondition,
    /// 1 to 5,000 devices.
    #[schema(min_items = 1, max_items = 5000)]
    pub devices: Vec<IntakeDevice>,
}

/// The same, for a CSV body with the columns `serial,imei,model`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IntakeCsvQuery {
    pub receipt_id: i64,
    pub warehouse_id: i64,
    pub condition: ItemCondition,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IntakeReport {
    pub registered: usize,
    pub items: Vec<Item>,
}

/// Record the check (and wipe) of a device, and the device profile applied.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"wiped": true, "condition": "used_good", "profile": {"version": 1, "failed": []}}))]
pub struct CheckRequest {
    /// The donor's data was erased.
    pub wiped: bool,
    pub condition: ItemCondition,
    /// The safe-internet profile applied at this check: the current version
    /// and what failed. Without it the device keeps the profile it had.
    #[validate(nested)]
    pub profile: Option<crate::distribution::profiles::AppliedProfile>,
}

/// Move a device: `intake|returned → ready`, `ready → in_transit` (with
/// `warehouse_id`, the destination), `in_transit → ready` (at the
/// destination), `returned → intake`, or `→ written_off` (with a reason).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"to": "written_off", "reason": "screen broken beyond repair"}))]
pub struct ItemTransition {
    pub to: ItemStatus,
    #[validate(length(min = 1, max = 1000, message = "must be 1 to 1000 characters"))]
    #[schema(min_length = 1, max_length = 1000)]
    pub reason: Option<String>,
    pub warehouse_id: Option<i64>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ItemFilter {
    pub warehouse_id: Option<i64>,
    pub status: Option<ItemStatus>,
    pub device_type: Option<DeviceType>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ItemPage {
    pub items: Vec<Item>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = inventory_packages)]
pub struct PackageRow {
    pub id: i64,
    pub kind: DonationKind,
    pub name: String,
    pub months: Option<i32>,
    pub receipt_id: i64,
    pub warehouse_id: i64,
    pub earmark_admin_unit: Option<String>,
    pub created_at: NaiveDateTime,
    pub child_safe: Option<ChildSafe>,
}

crate::platform::db::text_enum! {
    /// The operator's child-safe option on a data package or SIM.
    pub enum ChildSafe {
        /// Offered and switched on (adult content and gambling blocked by the operator).
        Enabled => "enabled",
        /// Offered but not switched on.
        NotEnabled => "not_enabled",
        /// The operator offers none for this package.
        NotOffered => "not_offered",
    }
}

/// Data packages or software licences from one receipt line.
#[derive(Debug, Serialize, ToSchema)]
pub struct Package {
    pub id: i64,
    /// `data_package` or `software`.
    pub kind: DonationKind,
    /// The operator or the product.
    pub name: String,
    pub months: Option<i32>,
    pub receipt_id: i64,
    pub warehouse_id: i64,
    pub earmark_admin_unit: Option<String>,
    /// Data packages: the operator's child-safe option, where recorded.
    pub child_safe: Option<ChildSafe>,
    /// Summed from the stock ledger.
    pub available: i64,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PackagePage {
    /// Oldest first.
    pub items: Vec<Package>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"receipt_id": 4, "warehouse_id": 1, "child_safe": "enabled"}))]
pub struct PackageIntake {
    pub receipt_id: i64,
    pub warehouse_id: i64,
    /// Data packages: whether the operator's child-safe option is on, or
    /// that it offers none (not for software licences).
    pub child_safe: Option<ChildSafe>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StockQuery {
    pub warehouse: Option<i64>,
    /// Warehouses in this admin unit or below.
    pub admin_unit: Option<String>,
}

/// How many of one kind of stock a warehouse holds in one status.
#[derive(Debug, Serialize, ToSchema)]
pub struct StockLine {
    pub warehouse_id: i64,
    /// `device:<type>` or `package:<id>`.
    pub stock: String,
    pub status: String,
    pub count: i64,
}
