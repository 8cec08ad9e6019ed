//! Receipts: rows, the request and response shapes, and the receipt types.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::donations::kinds::{DeviceType, DonationKind};
use crate::platform::db::schema::receipts;
use crate::platform::db::text_enum;

text_enum! {
    pub enum ReceiptType {
        /// Given by a donor (against a pledge or unsolicited).
        Donation => "donation",
        /// Bought with donated money (names the purchase).
        Purchase => "purchase",
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = receipts)]
pub struct ReceiptRow {
    pub id: i64,
    pub campaign_id: i64,
    pub pledge_id: Option<i64>,
    pub donor_id: Option<i64>,
    pub purchase_id: Option<i64>,
    pub receipt_type: ReceiptType,
    pub kind: DonationKind,
    pub amount_vnd: Option<i64>,
    pub quantity: Option<i32>,
    pub device_type: Option<DeviceType>,
    pub received_on: NaiveDate,
    pub received_by: String,
    pub bank_reference: Option<String>,
    pub reverses_id: Option<i64>,
    pub over_pledge: bool,
    pub note: Option<String>,
    pub created_at: NaiveDateTime,
    pub public_ref: Option<String>,
}

/// What arrived. Receipts are never edited or deleted: a correction is a
/// reversing receipt (negative amount or quantity, `reverses_id` set).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Receipt {
    pub id: i64,
    pub campaign_id: i64,
    pub pledge_id: Option<i64>,
    pub donor_id: Option<i64>,
    pub purchase_id: Option<i64>,
    pub receipt_type: ReceiptType,
    pub kind: DonationKind,
    /// Money, in đồng (negative on a reversal).
    pub amount_vnd: Option<i64>,
    /// Devices, packages or licences that arrived; a device receipt line is
    /// registered device by device (serial/IMEI) at intake.
    pub quantity: Option<i32>,
    pub device_type: Option<DeviceType>,
    pub received_on: NaiveDate,
    /// The officer who recorded it.
    pub received_by: String,
    /// The bank transfer's reference (money); unique.
    pub bank_reference: Option<String>,
    /// The receipt this one reverses.
    pub reverses_id: Option<i64>,
    /// More arrived than the pledge promised (allowed, flagged).
    pub over_pledge: bool,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The reference printed on the thank-you letter, by which anyone may
    /// follow the gift (`GET /api/v1/public/donations/{public_ref}/trace`).
    /// Unguessable; absent on a reversal.
    #[schema(example = "7KQ2M9XV4TPA")]
    pub public_ref: Option<String>,
}

impl From<ReceiptRow> for Receipt {
    fn from(row: ReceiptRow) -> Self {
        Self {
            id: row.id,
            campaign_id: row.campaign_id,
            pledge_id: row.pledge_id,
            donor_id: row.donor_id,
            purchase_id: row.purchase_id,
            receipt_type: row.receipt_type,
            kind: row.kind,
            amount_vnd: row.amount_vnd,
            quantity: row.quantity,
            device_type: row.device_type,
            received_on: row.received_on,
            received_by: row.received_by,
            bank_reference: row.bank_reference,
            reverses_id: row.reverses_id,
            over_pledge: row.over_pledge,
            note: row.note,
            created_at: crate::platform::db::to_utc(row.created_at),
            public_ref: row.public_ref,
        }
    }
}

/// A receipt. Money: `amount_vnd` and `bank_reference`. Devices:
/// `device_type` and `quantity`; packages and licences: `quantity`.
#[derive(Debug, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"campaign_id": 1, "pledge_id": 2, "receipt_type": "donation", "kind": "money", "amount_vnd": 20000000, "bank_reference": "FT24330123456", "received_on": "2026-11-25"}))]
pub struct CreateReceipt {
    pub campaign_id: i64,
    pub pledge_id: Option<i64>,
    /// For an unsolicited gift; taken from the pledge otherwise.
    pub donor_id: Option<i64>,
    pub purchase_id: Option<i64>,
    pub receipt_type: ReceiptType,
    pub kind: DonationKind,
    pub amount_vnd: Option<crate::platform::money::Vnd>,
    #[validate(range(min = 1, max = 1000000, message = "must be 1 to 1000000"))]
    #[schema(minimum = 1, maximum = 1000000)]
    pub quantity: Option<i32>,
    pub device_type: Option<DeviceType>,
    pub received_on: NaiveDate,
    #[validate(length(min = 1, max = 64, message = "must be 1 to 64 characters"))]
    #[schema(min_length = 1, max_length = 64)]
    pub bank_reference: Option<String>,
    #[validate(length(max = 1000, message = "must be at most 1000 characters"))]
    #[schema(max_length = 1000)]
    pub note: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "recorded twice by mistake"}))]
pub struct ReverseReceipt {
    #[validate(length(min = 1, max = 1000, message = "say why, in 1 to 1000 characters"))]
    #[schema(min_length = 1, max_length = 1000)]
    pub reason: String,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReceiptFilter {
    pub campaign_id: Option<i64>,
    pub pledge_id: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReceiptPage {
    pub items: Vec<Receipt>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AcknowledgementQuery {
    /// `json` (default), `html` (printable) or `pdf`.
    pub format: Option<LetterFormat>,
}

text_enum! {
    /// The form of a thank-you letter.
    pub enum LetterFormat {
        /// The letter's parts as JSON.
        Json => "json",
        /// A printable page (Vietnamese).
        Html => "html",
        /// A one-page A4 PDF with its fonts embedded.
        Pdf => "pdf",
    }
}

/// A thank-you letter for a receipt.
#[derive(Debug, Serialize, ToSchema)]
pub struct Acknowledgement {
    pub receipt: Receipt,
    pub donor_name: String,
    pub campaign_name: String,
    /// What was given, in words (Vietnamese).
    pub gift: String,
    /// A money gift's amount in Vietnamese words ("Hai mươi triệu đồng").
    pub amount_in_words: Option<String>,
    /// The letter's text (Vietnamese).
    pub text: String,
    /// The office that issues the letter.
    pub issuer: String,
    /// Place and date: "Hòa Bình, ngày 15 tháng 9 năm 2021".
    pub dated: String,
    /// The signer's title and name, as configured (never an account).
    pub signer_title: String,
    pub signer_name: Option<String>,
    /// The public reference that follows the gift to the students
    /// (`GET /api/v1/public/donations/{ref}/trace`).
    pub follow_ref: Option<String>,
}
