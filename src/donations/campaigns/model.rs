//! Campaigns: rows, the request and response shapes, and their statuses.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use crate::platform::db::schema::campaigns;
use crate::platform::db::text_enum;
use crate::platform::error::Failure;

text_enum! {
    pub enum CampaignStatus {
        Draft => "draft",
        /// Accepting pledges.
        Open => "open",
        Closed => "closed",
    }
}

/// The life of a campaign: `draft → open → closed`, nothing else. Pledges
/// are accepted while it is open.
const CAMPAIGN_TRANSITIONS: &[(CampaignStatus, CampaignStatus)] = &[
    (CampaignStatus::Draft, CampaignStatus::Open),
    (CampaignStatus::Open, CampaignStatus::Closed),
];

impl CampaignStatus {
    /// May a campaign go from `self` to `to`?
    pub fn check_transition(self, to: CampaignStatus) -> Result<(), Failure> {
        if CAMPAIGN_TRANSITIONS.contains(&(self, to)) {
            Ok(())
        } else {
            Err(Failure::conflict(format!(
                "a {self} campaign cannot become {to} (draft → open → closed)"
            )))
        }
    }
}

/// What a campaign hopes to raise, per kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Targets {
    pub money_vnd: Option<crate::platform::money::Vnd>,
    /// Devices by type (`laptop`, `tablet`, `phone`, `desktop`).
    #[serde(default)]
    pub devices: std::collections::BTreeMap<crate::donations::kinds::DeviceType, u32>,
    pub data_packages: Option<u32>,
    pub software_licences: Option<u32>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = campaigns)]
pub struct CampaignRow {
    pub id: i64,
    pub name: String,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
    pub status: CampaignStatus,
    pub targets: String,
    pub priority_admin_units: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i64,
}

/// A drive for donations: the open letter, or a later one.
#[derive(Debug, Serialize, ToSchema)]
pub struct Campaign {
    pub id: i64,
    #[schema(example = "Thư ngỏ: Sóng và máy tính cho em")]
    pub name: String,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
    pub status: CampaignStatus,
    pub targets: Targets,
    /// Admin units the campaign favours (lockdown areas, say).
    pub priority_admin_units: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Changes with every edit and status change; send it back in
    /// `If-Match` to edit.
    pub version: i64,
}

impl From<CampaignRow> for Campaign {
    fn from(row: CampaignRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            starts_on: row.starts_on,
            ends_on: row.ends_on,
            status: row.status,
            targets: serde_json::from_str(&row.targets).unwrap_or_default(),
            priority_admin_units: serde_json::from_str(&row.priority_admin_units)
                .unwrap_or_default(),
            created_at: crate::platform::db::to_utc(row.created_at),
            updated_at: crate::platform::db::to_utc(row.updated_at),
            version: row.version,
        }
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Thư ngỏ: Sóng và máy tính cho em", "starts_on": "2021-09-01", "targets": {"money_vnd": 5000000000i64, "devices": {"tablet": 2000}}, "priority_admin_units": ["150"]}))]
pub struct CreateCampaign {
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
    #[serde(default)]
    pub targets: Targets,
    #[serde(default)]
    #[validate(length(max = 1000, message = "at most 1000 admin units"))]
    #[schema(max_items = 1000)]
    pub priority_admin_units: Vec<String>,
}

/// Changes to a campaign's plan; send only what changes (`null` clears
/// `ends_on`). Its status changes through `POST …/status`.
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"ends_on": "2022-06-30", "targets": {"money_vnd": 6000000000i64, "devices": {"tablet": 2500}}}))]
pub struct CampaignPatch {
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    pub starts_on: Option<NaiveDate>,
    #[serde(default, deserialize_with = "crate::platform::http::json::present")]
    pub ends_on: Option<Option<NaiveDate>>,
    pub targets: Option<Targets>,
    #[validate(length(max = 1000, message = "at most 1000 admin units"))]
    #[schema(max_items = 1000)]
    pub priority_admin_units: Option<Vec<String>>,
}

/// Open or close a campaign (`draft → open → closed`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"status": "open"}))]
pub struct SetCampaignStatus {
    pub status: CampaignStatus,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignPage {
    /// Oldest first.
    pub items: Vec<Campaign>,
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::CampaignStatus::*;

    #[test]
    fn the_campaign_transition_table() {
        let all = [Draft, Open, Closed];
        for from in all {
            for to in all {
                let legal = matches!((from, to), (Draft, Open) | (Open, Closed));
                assert_eq!(from.check_transition(to).is_ok(), legal, "{from} -> {to}");
            }
        }
    }
}
