//! Ledger entries, balances, the trial balance, suppliers and purchases: rows
//! and what the API shows of them.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::donations::kinds::{DeviceType, DonationKind};
use crate::platform::db::schema::{ledger_entries, purchases, suppliers};
use crate::platform::db::text_enum;

text_enum! {
    pub enum EntryType {
        /// Money received from a donor.
        Donation => "donation",
        /// Money paid to a supplier.
        Purchase => "purchase",
        /// A correction undoing an earlier entry.
        Reversal => "reversal",
    }
}

/// One movement of a campaign's money, between two accounts.
#[derive(Debug, Serialize, Queryable, Selectable, ToSchema)]
#[diesel(table_name = ledger_entries)]
pub struct LedgerEntry {
    pub id: i64,
    pub campaign_id: i64,
    pub entry_type: EntryType,
    /// Where the money went (`fund:<campaign>`, `supplier:<id>`, `donor:<id>`).
    #[schema(example = "fund:1")]
    pub debit_account: String,
    /// Where it came from.
    #[schema(example = "donor:3")]
    pub credit_account: String,
    /// The amount moved, in đồng: always positive.
    #[schema(minimum = 1)]
    pub amount_vnd: i64,
    pub receipt_id: Option<i64>,
    pub purchase_id: Option<i64>,
    #[serde(serialize_with = "crate::platform::db::utc")]
    #[schema(value_type = String, format = DateTime)]
    pub at: NaiveDateTime,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerPage {
    pub items: Vec<LedgerEntry>,
    pub next_cursor: Option<String>,
}

/// One account of the trial balance.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct AccountBalance {
    /// `fund:<campaign>`, `donor:<id>` (or `donor:unknown`), `supplier:<id>`.
    #[schema(example = "fund:1")]
    pub account: String,
    /// `fund`, `donor` or `supplier`.
    #[schema(example = "fund")]
    pub kind: String,
    /// Money into this account, in đồng.
    pub debits_vnd: i64,
    /// Money out of it.
    pub credits_vnd: i64,
    /// Debits − credits: a fund's money left; a donor's minus what they
    /// gave; a supplier's what it was paid.
    pub balance_vnd: i64,
}

/// Every account's debits, credits and balance, summed from the ledger.
/// Debits equal credits: every entry has one of each.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct TrialBalance {
    /// The campaign (absent: every campaign).
    pub campaign_id: Option<i64>,
    pub debits_vnd: i64,
    pub credits_vnd: i64,
    pub accounts: Vec<AccountBalance>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TrialBalanceQuery {
    /// One campaign's accounts (default: all campaigns).
    pub campaign_id: Option<i64>,
}

/// A campaign's money, derived from its ledger.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct Balance {
    pub campaign_id: i64,
    /// Donations received, in đồng.
    pub received_vnd: i64,
    /// Paid to suppliers.
    pub spent_vnd: i64,
    /// Gifts undone by reversals, as a negative number (0 when none).
    pub reversed_vnd: i64,
    /// received + reversed − spent: the fund account's balance in the
    /// trial balance.
    pub balance_vnd: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CampaignQuery {
    pub campaign_id: i64,
}

#[derive(Debug, Serialize, Queryable, Selectable, ToSchema)]
#[diesel(table_name = suppliers)]
pub struct Supplier {
    pub id: i64,
    #[schema(example = "Công ty TNHH Thiết bị Giáo dục Hòa Bình")]
    pub name: String,
    pub tax_code: Option<String>,
    pub contact: Option<String>,
    #[serde(serialize_with = "crate::platform::db::utc")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: NaiveDateTime,
    /// Changes with every edit; send it back in `If-Match` to edit.
    pub version: i64,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Công ty TNHH Thiết bị Giáo dục Hòa Bình", "tax_code": "5400987654"}))]
pub struct CreateSupplier {
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// Spaces are dropped: `5400 987 654` is `5400987654`.
    pub tax_code: Option<crate::platform::identifiers::TaxCode>,
    #[validate(length(max = 200, message = "must be at most 200 characters"))]
    #[schema(max_length = 200)]
    pub contact: Option<String>,
}

/// Changes to a supplier; send only what changes (`null` clears the tax
/// code or the contact).
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"contact": "Chị Hoa, 0218 3852 111"}))]
pub struct SupplierPatch {
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "crate::platform::http::json::present")]
    pub tax_code: Option<Option<crate::platform::identifiers::TaxCode>>,
    #[serde(default, deserialize_with = "crate::platform::http::json::present")]
    #[validate(length(max = 200, message = "must be at most 200 characters"))]
    #[schema(max_length = 200)]
    pub contact: Option<Option<String>>,
}

/// Goods bought with a campaign's money.
#[derive(Debug, Clone, Serialize, Queryable, Selectable, ToSchema)]
#[diesel(table_name = purchases)]
pub struct Purchase {
    pub id: i64,
    pub campaign_id: i64,
    pub supplier_id: i64,
    pub kind: DonationKind,
    pub device_type: Option<DeviceType>,
    pub description: Option<String>,
    /// The negotiated price, in đồng.
    pub unit_price_vnd: i64,
    pub quantity: i32,
    pub total_vnd: i64,
    pub created_by: String,
    #[serde(serialize_with = "crate::platform::db::utc")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: NaiveDateTime,
}

/// A purchase: paid from the campaign's balance (409 when it would overspend).
#[derive(Debug, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"campaign_id": 1, "supplier_id": 1, "kind": "device", "device_type": "phone", "unit_price_vnd": 1500000, "quantity": 10}))]
pub struct CreatePurchase {
    pub campaign_id: i64,
    pub supplier_id: i64,
    /// `device`, `data_package` or `software`.
    pub kind: DonationKind,
    pub device_type: Option<DeviceType>,
    #[validate(length(max = 500, message = "must be at most 500 characters"))]
    #[schema(max_length = 500)]
    pub description: Option<String>,
    pub unit_price_vnd: crate::platform::money::Vnd,
    #[validate(range(min = 1, max = 1000000, message = "must be 1 to 1000000"))]
    #[schema(minimum = 1, maximum = 1000000)]
    pub quantity: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SupplierPage {
    /// Oldest first.
    pub items: Vec<Supplier>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PurchasePage {
    /// Oldest first.
    pub items: Vec<Purchase>,
    pub next_cursor: Option<String>,
}
