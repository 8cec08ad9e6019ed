//! Donors: rows and what the API shows of them (contact details only to staff
//! and the donor).

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use crate::platform::db::schema::donors;
use crate::platform::db::text_enum;

text_enum! {
    pub enum DonorKind {
        /// An agency, business or association (with a tax code).
        Organisation => "organisation",
        Individual => "individual",
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = donors)]
pub struct DonorRow {
    pub id: i64,
    pub kind: DonorKind,
    pub name: String,
    pub inside_province: bool,
    pub tax_code: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub address: Option<String>,
    pub anonymous_publicly: bool,
    pub user_id: Option<i64>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i64,
    pub keep_contact: bool,
    pub contact_purged_at: Option<NaiveDateTime>,
}

/// A donor (nhà hảo tâm).
#[derive(Debug, Serialize, ToSchema)]
pub struct Donor {
    pub id: i64,
    pub kind: DonorKind,
    #[schema(example = "Công ty Cổ phần Sông Đà")]
    pub name: String,
    pub inside_province: bool,
    pub tax_code: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub address: Option<String>,
    /// Public outputs show "anonymous donor" instead of the name.
    pub anonymous_publicly: bool,
    /// The `donor` user who manages this donor's pledges.
    pub user_id: Option<i64>,
    /// The donor agreed that the programme keeps their phone, e-mail and
    /// address after the retention period (README, "Retention").
    pub keep_contact: bool,
    /// When the retention purge removed the contact data (absent: kept).
    pub contact_purged_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Changes with every edit; send it back in `If-Match` to edit.
    pub version: i64,
}

impl From<DonorRow> for Donor {
    fn from(row: DonorRow) -> Self {
        Self {
            id: row.id,
            kind: row.kind,
            name: row.name,
            inside_province: row.inside_province,
            tax_code: row.tax_code,
            phone: row.phone,
            email: row.email,
            address: row.address,
            anonymous_publicly: row.anonymous_publicly,
            user_id: row.user_id,
            keep_contact: row.keep_contact,
            contact_purged_at: row.contact_purged_at.map(crate::platform::db::to_utc),
            created_at: crate::platform::db::to_utc(row.created_at),
            updated_at: crate::platform::db::to_utc(row.updated_at),
            version: row.version,
        }
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "organisation", "name": "Công ty Cổ phần Sông Đà", "inside_province": true, "tax_code": "5400123456", "email": "lienhe@songda.example"}))]
pub struct CreateDonor {
    pub kind: DonorKind,
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    pub inside_province: bool,
    /// Spaces are dropped: `0100 109 106` is `0100109106`.
    pub tax_code: Option<crate::platform::identifiers::TaxCode>,
    /// Kept as `+84…`: `0912 345 670` and `+84912345670` are one number.
    pub phone: Option<crate::platform::identifiers::Phone>,
    /// Kept in lowercase.
    #[validate(
        email(message = "must be an e-mail address"),
        length(max = 254, message = "must be at most 254 characters")
    )]
    #[schema(max_length = 254)]
    pub email: Option<String>,
    #[validate(length(max = 500, message = "must be at most 500 characters"))]
    #[schema(max_length = 500)]
    pub address: Option<String>,
    #[serde(default)]
    pub anonymous_publicly: bool,
    /// A user with the role `donor` who will manage this donor's pledges.
    pub user_id: Option<i64>,
    /// The donor agrees that their contact data is kept after the retention period.
    #[serde(default)]
    pub keep_contact: bool,
}

/// Changes to a donor; send only what changes. `null` clears a contact
/// detail (tax code, phone, e-mail, address).
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "quy@songda.example", "anonymous_publicly": true}))]
pub struct DonorPatch {
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    pub inside_province: Option<bool>,
    #[serde(default, deserialize_with = "crate::platform::http::json::present")]
    pub tax_code: Option<Option<crate::platform::identifiers::TaxCode>>,
    #[serde(default, deserialize_with = "crate::platform::http::json::present")]
    pub phone: Option<Option<crate::platform::identifiers::Phone>>,
    #[serde(default, deserialize_with = "crate::platform::http::json::present")]
    #[validate(
        email(message = "must be an e-mail address"),
        length(max = 254, message = "must be at most 254 characters")
    )]
    #[schema(max_length = 254)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::platform::http::json::present")]
    #[validate(length(max = 500, message = "must be at most 500 characters"))]
    #[schema(max_length = 500)]
    pub address: Option<Option<String>>,
    pub anonymous_publicly: Option<bool>,
    /// The donor agrees (or no longer agrees) that their contact data is
    /// kept after the retention period.
    pub keep_contact: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DonorPage {
    pub items: Vec<Donor>,
    pub next_cursor: Option<String>,
}
