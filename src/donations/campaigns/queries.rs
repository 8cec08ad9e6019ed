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

/// What a campaign plans, checked the same way when it is created and
/// when it is changed: its end is not before its start, targets are sane
/// and every favoured admin unit exists.
fn check_plan(
    conn: &mut DbConn,
    starts_on: chrono::NaiveDate,
    ends_on: Option<chrono::NaiveDate>,
    targets: &Targets,
    priority_admin_units: &[String],
) -> Result<(), Failure> {
    if ends_on.is_some_and(|end| end < starts_on) {
        return Err(Failure::invalid_field(
            "ends_on",
            "before_start",
            "must not be before starts_on",
        ));
    }
    // Counts are unsigned and money is a bounded amount: what is left to
    // refuse is an absurd count.
    let absurd = targets.devices.values().any(|v| *v > 10_000_000)
        || targets.data_packages.is_some_and(|v| v > 10_000_000)
        || targets.software_licences.is_some_and(|v| v > 10_000_000);
    if absurd {
        return Err(Failure::invalid_field(
            "targets",
            "range",
            "targets cannot be negative",
        ));
    }
    for code in priority_admin_units {
        if crate::registry::admin_units::queries::find(conn, code)?.is_none() {
            return Err(Failure::invalid_field(
                "priority_admin_units",
                "unknown",
                format!("no admin unit {code}"),
            ));
        }
    }
    Ok(())
}

pub fn create(
    conn: &mut DbConn,
    actor: &str,
    input: CreateCampaign,
) -> Result<CampaignRow, Failure> {
    conn.transaction(|conn| {
        check_plan(
            conn,
            input.starts_on,
            input.ends_on,
            &input.targets,
            &input.priority_admin_units,
        )?;
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

/// Applies `patch` to campaign `id` when its version is still `if_match`
/// (`*`: any). Its status moves only through [`set_status`].
pub fn update(
    conn: &mut DbConn,
    actor: &str,
    id: i64,
    patch: CampaignPatch,
    if_match: Option<i64>,
) -> Result<CampaignRow, Failure> {
    conn.transaction(|conn| {
        let current = find(conn, id)?;
        crate::platform::db::ensure_current(if_match, current.version)?;
        let plan = Campaign::from(current.clone());
        let starts_on = patch.starts_on.unwrap_or(plan.starts_on);
        let ends_on = patch.ends_on.unwrap_or(plan.ends_on);
        let targets = patch.targets.clone().unwrap_or(plan.targets);
        let units = patch
            .priority_admin_units
            .clone()
            .unwrap_or(plan.priority_admin_units);
        check_plan(conn, starts_on, ends_on, &targets, &units)?;
        let changed = crate::platform::audit::sent_fields(&[
            ("name", patch.name.is_some()),
            ("starts_on", patch.starts_on.is_some()),
            ("ends_on", patch.ends_on.is_some()),
            ("targets", patch.targets.is_some()),
            ("priority_admin_units", patch.priority_admin_units.is_some()),
        ]);
        let row: Option<CampaignRow> = with_conn!(conn, |c| diesel::update(
            campaigns::table
                .filter(campaigns::id.eq(id))
                .filter(campaigns::version.eq(current.version))
        )
        .set((
            campaigns::name.eq(patch.name.as_ref().unwrap_or(&current.name)),
            campaigns::starts_on.eq(starts_on),
            campaigns::ends_on.eq(ends_on),
            campaigns::targets.eq(json!(targets).to_string()),
            campaigns::priority_admin_units.eq(json!(units).to_string()),
            campaigns::version.eq(current.version + 1),
            campaigns::updated_at.eq(crate::platform::db::now()),
        ))
        .returning(CampaignRow::as_returning())
        .get_result(c)
        .optional())?;
        let row = row.ok_or_else(|| Failure::changed_meanwhile(current.version + 1, if_match))?;
        crate::platform::audit::record(
            conn,
            actor,
            "update",
            "campaign",
            &id.to_string(),
            json!({"changed": changed}),
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
                campaigns::version.eq(campaigns::version + 1),
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
