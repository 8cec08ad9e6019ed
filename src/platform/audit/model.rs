//! The audit log's rows and the page of entries the admin reads.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::platform::db::schema::audit_log;

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct AuditRow {
    pub id: i64,
    pub at: NaiveDateTime,
    pub actor: String,
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    pub changes: String,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = audit_log)]
pub struct NewAuditRow<'a> {
    pub at: NaiveDateTime,
    pub actor: &'a str,
    pub action: &'a str,
    pub entity: &'a str,
    pub entity_id: &'a str,
    pub changes: String,
}

/// One write: who did what to which record, and a summary of the change.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// `user:<username>`, `client:<client_id>`, `cli` or `system`.
    #[schema(example = "user:admin")]
    pub actor: String,
    #[schema(example = "create")]
    pub action: String,
    #[schema(example = "user")]
    pub entity: String,
    #[schema(example = "7")]
    pub entity_id: String,
    /// Changed fields without personal data.
    #[schema(value_type = Object, example = json!({"role": "district_officer", "admin_unit_code": "150"}))]
    pub changes: serde_json::Value,
}

impl From<AuditRow> for AuditEntry {
    fn from(row: AuditRow) -> Self {
        Self {
            id: row.id,
            at: crate::platform::db::to_utc(row.at),
            actor: row.actor,
            action: row.action,
            entity: row.entity,
            entity_id: row.entity_id,
            changes: serde_json::from_str(&row.changes).unwrap_or(serde_json::Value::Null),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    /// `user`, `api_client`, `admin_units`, …
    pub entity: Option<String>,
    pub entity_id: Option<String>,
    pub actor: Option<String>,
    pub action: Option<String>,
    /// Only entries at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only entries before this time.
    pub until: Option<DateTime<Utc>>,
}
