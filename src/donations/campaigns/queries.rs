//! Campaigns: creating them, reading them, and moving them through their
//! statuses.

use crate::platform::error::Failure;
use diesel::prelude::*;
use serde_json::json;

use super::model::*;
use crate::platform::db::page::PageRequest;
use crate::platform::db::schema::campaigns;
use crate::platform::db::{with_conn, DbConn};

pub fn find(conn: &mut DbConn, id: i64) -> Result<CampaignRow, Failure> {
    let row: Option<CampaignRow> = with_conn!(conn, |c| campaigns::table
        .find(id)
        .select(CampaignRow::as_select())
        .first(c)
        .optional())?;
    row.ok_or_else(|| Failure::not_found(String::from("no campaign has this id")))
}

/// A page of campaigns, oldest first.
pub fn page(conn: &mut DbConn, page: &PageRequest<i64>) -> Result<CampaignPage, Failure> {
    let rows: Vec<CampaignRow> = with_conn!(conn, |c| {
        let mut query = campaigns::table
            .order(campaigns::id)
            .limit(page.fetch())
            .select(CampaignRow::as_select())
            .into_boxed();
        if let Some(after) = page.after {
            query = query.filter(campaigns::id.gt(after));
        }
        query.load(c)
    })?;
    let (rows, next_cursor) = page.finish(rows, |row| row.id);
    Ok(CampaignPage {
        items: rows.into_iter().map(Campaign::from).collect(),
        next_cursor,
    })
}

/// Every campaign, for statistics.
pub fn list(conn: &mut DbConn) -> Result<Vec<CampaignRow>, Failure> {
    let rows = with_conn!(conn, |c| campaigns::table
        .order(campaigns::id)
        .select(CampaignRow::as_select())
        .load(c))?;
    Ok(rows)
}

pub fn create(
    conn: &mut DbConn,
    actor: &str,
    input: CreateCampaign,
) -> Result<CampaignRow, Failure> {
    if input.ends_on.is_some_and(|end| end < input.starts_on) {
        return Err(Failure::invalid_field(
            "ends_on",
            "before_start",
            "must not be before starts_on",
        ));
    }
    // Counts are unsigned and money is a bounded amount: what is left to
    // refuse is an absurd count.
    let absurd = input.targets.devices.values().any(|v| *v > 10_000_000)
        || input.targets.data_packages.is_some_and(|v| v > 10_000_000)
        || input
            .targets
            .software_licences
            .is_some_and(|v| v > 10_000_000);
    if absurd {
        return Err(Failure::invalid_field(
            "targets",
            "range",
            "targets cannot be negative",
        ));
    }
    conn.transaction(|conn| {
        for code in &input.priority_admin_units {
            if crate::registry::admin_units::queries::find(conn, code)?.is_none() {
                return Err(Failure::invalid_field(
                    "priority_admin_units",
                    "unknown",
                    format!("no admin unit {code}"),
                ));
            }
        }
        let now = crate::platform::db::now();
        let row: CampaignRow = with_conn!(conn, |c| diesel::insert_into(campaigns::table)
            .values((
                campaigns::name.eq(&input.name),
                campaigns::starts_on.eq(input.starts_on),
                campaigns::ends_on.eq(input.ends_on),
                campaigns::status.eq(CampaignStatus::Draft),
                campaigns::targets.eq(json!(input.targets).to_string()),
                campaigns::priority_admin_units.eq(json!(input.priority_admin_units).to_string()),
                campaigns::created_at.eq(now),
                campaigns::updated_at.eq(now),
            ))
            .returning(CampaignRow::as_returning())
            .get_result(c))?;
        crate::platform::audit::record(
            conn,
            actor,
            "create",
            "campaign",
            &row.id.to_string(),
            json!({"name": row.name}),
        )?;
        Ok(row)
    })
}

/// `draft → open → closed`, nothing else.
pub fn set_status(
    conn: &mut DbConn,
    actor: &str,
    id: i64,
    to: CampaignStatus,
) -> Result<CampaignRow, Failure> {
    conn.transaction(|conn| {
        // Pledges check the status under the same lock.
        conn.lock(crate::platform::db::WriteLock::Campaign(id))?;
        let current = find(conn, id)?;
        current.status.check_transition(to)?;
        let row: CampaignRow = with_conn!(conn, |c| diesel::update(campaigns::table.find(id))
            .set((
                campaigns::status.eq(to),
                campaigns::updated_at.eq(crate::platform::db::now())
            ))
            .returning(CampaignRow::as_returning())
            .get_result(c))?;
        crate::platform::audit::record(
            conn,
            actor,
            "set_status",
            "campaign",
            &id.to_string(),
            json!({"from": current.status, "to": to}),
        )?;
        Ok(row)
    })
}
