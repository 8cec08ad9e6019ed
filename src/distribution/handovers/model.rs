//! Handovers: rows, the request and response shapes, and who received.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::platform::db::schema::handovers;
use crate::platform::db::text_enum;

text_enum! {
    pub enum Relation {
        Student => "student",
        Parent => "parent",
        Guardian => "guardian",
        Other => "other",
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = handovers)]
pub struct HandoverRow {
    pub id: i64,
    pub allocation_id: i64,
    pub received_by_name: String,
    pub relation: Relation,
    pub handed_on: NaiveDate,
    pub handed_by: String,
    pub proof_ref: Option<String>,
    pub acknowledged: bool,
    pub returned_on: Option<NaiveDate>,
    pub return_reason: Option<String>,
    pub created_at: NaiveDateTime,
}

/// Where a handed-over gift came from.
#[derive(Debug, Serialize, ToSchema)]
pub struct Trace {
    pub need_id: i64,
    pub item_id: Option<i64>,
    pub package_id: Option<i64>,
    pub receipt_id: Option<i64>,
    pub pledge_id: Option<i64>,
    pub donor_id: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Handover {
    pub id: i64,
    pub allocation_id: i64,
    /// Who signed for it (personal data).
    pub received_by_name: String,
    pub relation: Relation,
    pub handed_on: NaiveDate,
    pub handed_by: String,
    /// A photo, document or signature reference.
    pub proof_ref: Option<String>,
    /// The student (or guardian) acknowledged receipt.
    pub acknowledged: bool,
    pub returned_on: Option<NaiveDate>,
    pub return_reason: Option<String>,
    pub trace: Trace,
}

#[derive(Debug, Deserialize, Serialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"allocation_id": 7, "received_by_name": "Đinh Văn Hùng", "relation": "parent", "handed_on": "2021-10-25", "proof_ref": "photo/2021/10/25/7.jpg", "acknowledged": true}))]
pub struct CreateHandover {
    pub allocation_id: i64,
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200)]
    pub received_by_name: String,
    pub relation: Relation,
    pub handed_on: NaiveDate,
    #[validate(length(max = 500, message = "must be at most 500 characters"))]
    #[schema(max_length = 500)]
    pub proof_ref: Option<String>,
    pub acknowledged: bool,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "the student moved away"}))]
pub struct ReturnDevice {
    #[validate(length(min = 1, max = 1000, message = "say why, in 1 to 1000 characters"))]
    #[schema(min_length = 1, max_length = 1000)]
    pub reason: String,
}

/// Filters of `GET /handovers` (all optional, combined with AND).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HandoverFilter {
    pub allocation_id: Option<i64>,
    pub need_id: Option<i64>,
    /// The school of the need handed over.
    pub school_id: Option<i64>,
    /// An admin-unit code: handovers of needs in its subtree.
    pub admin_unit: Option<String>,
    /// `true`: only devices that came back; `false`: only those still held.
    pub returned: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HandoverPage {
    /// Oldest first.
    pub items: Vec<Handover>,
    pub next_cursor: Option<String>,
}
