//! Drives: rows, the request and response shapes, and the kinds of
//! organisation that run them.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use crate::donations::receipts::{CreateReceipt, Receipt};
use crate::platform::db::schema::drives;
use crate::platform::db::text_enum;

text_enum! {
    pub enum OrganisationKind {
        /// A government agency passing the plan to its staff.
        Agency => "agency",
        /// A business or professional association.
        Association => "association",
        Business => "business",
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = drives)]
pub struct DriveRow {
    pub id: i64,
    pub campaign_id: i64,
    pub organisation: String,
    pub organisation_kind: OrganisationKind,
    pub target_vnd: Option<i64>,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
    pub contact_name: String,
    pub contact_phone: Option<String>,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// An organisation's drive inside a campaign (admin).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"campaign_id": 1, "organisation": "Sở Tài chính tỉnh Hòa Bình", "organisation_kind": "agency", "target_vnd": 50000000, "starts_on": "2021-09-01", "ends_on": "2021-10-31", "contact_name": "Phòng Tổ chức"}))]
pub struct CreateDrive {
    pub campaign_id: i64,
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200)]
    pub organisation: String,
    pub organisation_kind: OrganisationKind,
    pub target_vnd: Option<crate::platform::money::Vnd>,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
    /// Who to call about the drive (an office or a person).
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200)]
    pub contact_name: String,
    pub contact_phone: Option<crate::platform::identifiers::Phone>,
}

/// Money or goods a drive hands over: the receipt, and how many people
/// gave (the list of names is optional and never public).
#[derive(Debug, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"receipt": {"campaign_id": 1, "receipt_type": "donation", "kind": "money", "amount_vnd": 12500000, "bank_reference": "FT21270000777", "received_on": "2021-09-27"}, "contributor_count": 48}))]
pub struct DriveHandover {
    #[validate(nested)]
    pub receipt: CreateReceipt,
    #[validate(range(min = 1, max = 1000000, message = "must be 1 to 1000000"))]
    #[schema(minimum = 1, maximum = 1000000)]
    pub contributor_count: i32,
    /// The contributors' names, if the organisation sends them (kept for
    /// the Department, never shown in public).
    #[serde(default)]
    #[validate(length(max = 10000, message = "at most 10000 names"))]
    #[schema(max_items = 10000)]
    pub contributors: Vec<String>,
}

/// A drive and what it has handed over so far, net of reversals.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Drive {
    pub id: i64,
    pub campaign_id: i64,
    pub organisation: String,
    pub organisation_kind: OrganisationKind,
    pub target_vnd: Option<i64>,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
    pub contact_name: String,
    pub contact_phone: Option<String>,
    pub progress: DriveProgress,
    pub created_at: DateTime<Utc>,
}

/// What a drive has handed over, net of reversals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DriveProgress {
    pub money_received_vnd: i64,
    /// Devices, packages and licences, counted as units.
    pub goods_received: i64,
    /// People who gave through the drive (their handovers not reversed).
    pub contributors: i64,
    /// Handovers (receipts) not reversed.
    pub handovers: i64,
}

impl Drive {
    pub fn of(row: DriveRow, progress: DriveProgress) -> Self {
        Drive {
            id: row.id,
            campaign_id: row.campaign_id,
            organisation: row.organisation,
            organisation_kind: row.organisation_kind,
            target_vnd: row.target_vnd,
            starts_on: row.starts_on,
            ends_on: row.ends_on,
            contact_name: row.contact_name,
            contact_phone: row.contact_phone,
            progress,
            created_at: crate::platform::db::to_utc(row.created_at),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DrivePage {
    pub items: Vec<Drive>,
    pub next_cursor: Option<String>,
}

/// A receipt recorded through a drive.
#[derive(Debug, Serialize, ToSchema)]
pub struct DriveReceipt {
    pub drive_id: i64,
    pub contributor_count: i32,
    pub receipt: Receipt,
}
