//! Pledges and their instalments: rows, the request and response shapes, and
//! their statuses.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::platform::db::schema::{pledge_instalments, pledges};
use crate::platform::db::text_enum;
use crate::platform::money::Vnd;
// The kinds of gift are the domain's words, shared with receipts and funds.
use crate::donations::kinds::{DeviceType, DonationKind};

text_enum! {
    pub enum DeviceCondition {
        New => "new",
        Used => "used",
    }
}

text_enum! {
    pub enum PledgeStatus {
        Pledged => "pledged",
        PartlyReceived => "partly_received",
        Received => "received",
        Cancelled => "cancelled",
        /// Never honoured by its due dates.
        Lapsed => "lapsed",
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = pledges)]
pub struct PledgeRow {
    pub id: i64,
    pub donor_id: i64,
    pub campaign_id: i64,
    pub kind: DonationKind,
    pub amount_vnd: Option<i64>,
    pub quantity: Option<i32>,
    pub device_type: Option<DeviceType>,
    pub device_condition: Option<DeviceCondition>,
    pub model: Option<String>,
    pub operator_name: Option<String>,
    pub data_gb_per_month: Option<i32>,
    pub months: Option<i32>,
    pub product: Option<String>,
    pub earmark_admin_unit: Option<String>,
    pub earmark_school_id: Option<i64>,
    pub status: PledgeStatus,
    pub status_reason: Option<String>,
    pub received_amount_vnd: i64,
    pub received_quantity: i32,
    pub confirmed_by: Option<String>,
    pub created_by: String,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl PledgeRow {
    /// How much was promised: VND for money, a count otherwise.
    pub fn promised(&self) -> i64 {
        self.amount_vnd.unwrap_or(self.quantity.unwrap_or(0) as i64)
    }

    /// How much has arrived, in the same unit.
    pub fn received(&self) -> i64 {
        match self.kind {
            DonationKind::Money => self.received_amount_vnd,
            _ => self.received_quantity as i64,
        }
    }
}

/// One part of a money pledge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Queryable, ToSchema)]
pub struct Instalment {
    pub due_on: NaiveDate,
    pub amount_vnd: i64,
}

/// One part of a money pledge, as a pledge is made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPledgeInstalment {
    pub due_on: NaiveDate,
    pub amount_vnd: Vnd,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = pledge_instalments)]
pub struct NewInstalment {
    pub pledge_id: i64,
    pub due_on: NaiveDate,
    pub amount_vnd: i64,
}

/// A donor's promise within a campaign.
#[derive(Debug, Serialize, ToSchema)]
pub struct Pledge {
    pub id: i64,
    pub donor_id: i64,
    pub campaign_id: i64,
    pub kind: DonationKind,
    /// Money pledges: VND (whole đồng).
    #[schema(example = 20000000)]
    pub amount_vnd: Option<i64>,
    /// Devices, SIM/data packages or software licences.
    pub quantity: Option<i32>,
    pub device_type: Option<DeviceType>,
    pub device_condition: Option<DeviceCondition>,
    pub model: Option<String>,
    pub operator_name: Option<String>,
    pub data_gb_per_month: Option<i32>,
    pub months: Option<i32>,
    pub product: Option<String>,
    /// "For Đà Bắc district": the gift goes only there.
    pub earmark_admin_unit: Option<String>,
    pub earmark_school_id: Option<i64>,
    pub status: PledgeStatus,
    pub status_reason: Option<String>,
    pub received_amount_vnd: i64,
    pub received_quantity: i32,
    /// More arrived than was pledged (allowed, flagged).
    pub over_received: bool,
    pub instalments: Vec<Instalment>,
    /// Money due by today under the instalments.
    pub due_so_far_vnd: Option<i64>,
    /// An instalment is past due and not covered by what arrived.
    pub overdue: bool,
    /// Staff who confirmed a pledge a donor made; absent until confirmed.
    pub confirmed_by: Option<String>,
    pub created_by: String,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Pledge {
    pub fn from_row(row: PledgeRow, instalments: Vec<Instalment>, today: NaiveDate) -> Self {
        let open = row.status.is_open();
        let due_so_far = (!instalments.is_empty()).then(|| {
            instalments
                .iter()
                .filter(|i| i.due_on < today)
                .map(|i| i.amount_vnd)
                .sum::<i64>()
        });
        let overdue = open && due_so_far.is_some_and(|due| due > row.received_amount_vnd);
        Self {
            over_received: row.received() > row.promised(),
            id: row.id,
            donor_id: row.donor_id,
            campaign_id: row.campaign_id,
            kind: row.kind,
            amount_vnd: row.amount_vnd,
            quantity: row.quantity,
            device_type: row.device_type,
            device_condition: row.device_condition,
            model: row.model,
            operator_name: row.operator_name,
            data_gb_per_month: row.data_gb_per_month,
            months: row.months,
            product: row.product,
            earmark_admin_unit: row.earmark_admin_unit,
            earmark_school_id: row.earmark_school_id,
            status: row.status,
            status_reason: row.status_reason,
            received_amount_vnd: row.received_amount_vnd,
            received_quantity: row.received_quantity,
            instalments,
            due_so_far_vnd: due_so_far,
            overdue,
            confirmed_by: row.confirmed_by,
            created_by: row.created_by,
            version: row.version,
            created_at: crate::platform::db::to_utc(row.created_at),
            updated_at: crate::platform::db::to_utc(row.updated_at),
        }
    }
}

/// A pledge. Money: `amount_vnd` (whole đồng, optionally in `instalments`
/// that add up to it). Device: `device_type`, `quantity`,
/// `device_condition`. Data package: `operator_name`, `quantity`,
/// `data_gb_per_month`, `months`. Software: `product`, `quantity`
/// (licences), `months`. A donor user pledges for their own donor; staff
/// name the `donor_id`.
#[derive(Debug, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"campaign_id": 1, "kind": "device", "device_type": "tablet", "quantity": 50, "device_condition": "new", "earmark_admin_unit": "150"}))]
pub struct CreatePledge {
    pub donor_id: Option<i64>,
    pub campaign_id: i64,
    pub kind: DonationKind,
    pub amount_vnd: Option<Vnd>,
    #[serde(default)]
    #[validate(length(max = 60, message = "at most 60 instalments"))]
    #[schema(max_items = 60)]
    pub instalments: Vec<NewPledgeInstalment>,
    #[validate(range(min = 1, max = 1000000, message = "must be 1 to 1000000"))]
    #[schema(minimum = 1, maximum = 1000000)]
    pub quantity: Option<i32>,
    pub device_type: Option<DeviceType>,
    pub device_condition: Option<DeviceCondition>,
    #[validate(length(max = 200, message = "must be at most 200 characters"))]
    #[schema(max_length = 200)]
    pub model: Option<String>,
    #[validate(length(min = 1, max = 100, message = "must be 1 to 100 characters"))]
    #[schema(min_length = 1, max_length = 100)]
    pub operator_name: Option<String>,
    #[validate(range(min = 1, max = 10000, message = "must be 1 to 10000"))]
    #[schema(minimum = 1, maximum = 10000)]
    pub data_gb_per_month: Option<i32>,
    #[validate(range(min = 1, max = 120, message = "must be 1 to 120"))]
    #[schema(minimum = 1, maximum = 120)]
    pub months: Option<i32>,
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200)]
    pub product: Option<String>,
    pub earmark_admin_unit: Option<String>,
    pub earmark_school_id: Option<i64>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"to": "cancelled", "reason": "the company withdrew"}))]
pub struct PledgeTransition {
    /// `cancelled` or `lapsed`.
    pub to: PledgeStatus,
    #[validate(length(min = 1, max = 1000, message = "say why, in 1 to 1000 characters"))]
    #[schema(min_length = 1, max_length = 1000)]
    pub reason: String,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PledgeFilter {
    pub campaign_id: Option<i64>,
    pub donor_id: Option<i64>,
    pub status: Option<PledgeStatus>,
    /// Only money pledges with an instalment past due and not paid.
    pub overdue: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PledgePage {
    pub items: Vec<Pledge>,
    pub next_cursor: Option<String>,
}
