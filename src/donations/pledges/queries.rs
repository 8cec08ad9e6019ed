//! Pledges: recording them (checked per kind), listing what a caller may see,
//! confirming, cancelling and lapsing.

use std::collections::HashMap;

use chrono::NaiveDate;
use diesel::prelude::*;
use serde_json::json;

use super::model::*;
use super::promise::Promise;
use crate::donations::campaigns::CampaignStatus;
use crate::donations::kinds::DonationKind;
use crate::donations::pledges::workflow::{self, Cause};
use crate::platform::auth::Reach;
use crate::platform::db::page::PageRequest;
use crate::platform::db::schema::{pledge_instalments, pledges};
use crate::platform::db::{with_conn, DbConn, WriteLock};
use crate::platform::error::{Failure, OrUnknown};
use crate::platform::outbox::{Event, EventType};

fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

pub fn find(conn: &mut DbConn, id: i64) -> Result<PledgeRow, Failure> {
    let row: Option<PledgeRow> = with_conn!(conn, |c| pledges::table
        .find(id)
        .select(PledgeRow::as_select())
        .first(c)
        .optional())?;
    row.ok_or_else(|| Failure::not_found(String::from("no pledge has this id")))
}

/// A pledge the caller may see; another donor's is "not found".
pub fn find_visible(conn: &mut DbConn, scope: &Reach, id: i64) -> Result<PledgeRow, Failure> {
    let pledge = find(conn, id)?;
    if scope.allows_donor(Some(pledge.donor_id)) {
        Ok(pledge)
    } else {
        Err(Failure::not_found(String::from("no pledge has this id")))
    }
}

/// The pledges with their instalments and overdue flags.
pub fn with_details(conn: &mut DbConn, rows: Vec<PledgeRow>) -> Result<Vec<Pledge>, Failure> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut instalments: HashMap<i64, Vec<Instalment>> = HashMap::new();
    if !ids.is_empty() {
        let found: Vec<(i64, NaiveDate, i64)> = with_conn!(conn, |c| pledge_instalments::table
            .filter(pledge_instalments::pledge_id.eq_any(&ids))
            .order((pledge_instalments::pledge_id, pledge_instalments::due_on))
            .select((
                pledge_instalments::pledge_id,
                pledge_instalments::due_on,
                pledge_instalments::amount_vnd
            ))
            .load(c))?;
        for (pledge, due_on, amount_vnd) in found {
            instalments
                .entry(pledge)
                .or_default()
                .push(Instalment { due_on, amount_vnd });
        }
    }
    let today = today();
    Ok(rows
        .into_iter()
        .map(|row| {
            let parts = instalments.remove(&row.id).unwrap_or_default();
            Pledge::from_row(row, parts, today)
        })
        .collect())
}

/// Records a pledge. Staff pledges are confirmed at once; a donor's own
/// waits for staff (`POST /pledges/{id}/confirm`).
pub fn create(
    conn: &mut DbConn,
    actor: &str,
    scope: &Reach,
    input: CreatePledge,
) -> Result<PledgeRow, Failure> {
    let promise = Promise::parse(&input).map_err(Failure::validation)?;
    let columns = promise.columns();
    conn.transaction(|conn| {
        let donor_id = match (scope, input.donor_id) {
            (Reach::Everywhere, Some(id)) => crate::donations::donors::queries::find(conn, id)
                .or_unknown("donor_id")?
                .id,
            (Reach::Everywhere, None) => return Err(Failure::invalid_field("donor_id", "required", "name the donor")),
            (Reach::Donor(Some(own)), None) => *own,
            (Reach::Donor(Some(own)), Some(id)) if id == *own => *own,
            _ => return Err(Failure::invalid_field("donor_id", "unknown", "you may pledge for your own donor only")),
        };
        // The campaign's lock: a campaign being closed meanwhile takes no
        // pledge after its close.
        conn.lock(WriteLock::Campaign(input.campaign_id))?;
        let campaign = crate::donations::campaigns::queries::find(conn, input.campaign_id)
            .or_unknown("campaign_id")?;
        if campaign.status != CampaignStatus::Open {
            return Err(Failure::conflict(format!(
                "campaign {} is {}: it takes no pledges",
                campaign.id, campaign.status
            )));
        }
        if let Some(code) = &input.earmark_admin_unit {
            if crate::registry::admin_units::queries::find(conn, code)?.is_none() {
                return Err(Failure::invalid_field("earmark_admin_unit", "unknown", format!("no admin unit {code}")));
            }
        }
        if let Some(school) = input.earmark_school_id {
            crate::registry::schools::queries::find(conn, school)
                .or_unknown("earmark_school_id")?;
        }
        let staff = scope.is_everywhere();
        let now = crate::platform::db::now();
        let row: PledgeRow = with_conn!(conn, |c| diesel::insert_into(pledges::table)
            .values((
                pledges::donor_id.eq(donor_id),
                pledges::campaign_id.eq(campaign.id),
                pledges::kind.eq(promise.kind()),
                pledges::amount_vnd.eq(columns.amount_vnd),
                pledges::quantity.eq(columns.quantity),
                pledges::device_type.eq(columns.device_type),
                pledges::device_condition.eq(columns.device_condition),
                pledges::model.eq(columns.model),
                pledges::operator_name.eq(columns.operator_name),
                pledges::data_gb_per_month.eq(columns.data_gb_per_month),
                pledges::months.eq(columns.months),
                pledges::product.eq(columns.product),
                pledges::earmark_admin_unit.eq(&input.earmark_admin_unit),
                pledges::earmark_school_id.eq(input.earmark_school_id),
                pledges::status.eq(PledgeStatus::Pledged),
                pledges::confirmed_by.eq(staff.then_some(actor)),
                pledges::created_by.eq(actor),
                pledges::created_at.eq(now),
                pledges::updated_at.eq(now),
            ))
            .returning(PledgeRow::as_returning())
            .get_result(c))?;
        let parts: Vec<NewInstalment> = promise
            .instalments()
            .iter()
            .map(|i| NewInstalment { pledge_id: row.id, due_on: i.due_on, amount_vnd: i.amount_vnd.get() })
            .collect();
        for part in &parts {
            with_conn!(conn, |c| diesel::insert_into(pledge_instalments::table).values(part).execute(c))?;
        }
        crate::platform::audit::record(
            conn,
            actor,
            "create",
            "pledge",
            &row.id.to_string(),
            json!({"donor_id": donor_id, "campaign_id": row.campaign_id, "kind": row.kind, "amount_vnd": row.amount_vnd, "quantity": row.quantity}),
        )?;
        announce(conn, EventType::PledgeMade, &row)?;
        Ok(row)
    })
}

pub fn list(
    conn: &mut DbConn,
    scope: &Reach,
    filter: &PledgeFilter,
    page: &PageRequest<i64>,
) -> Result<PledgePage, Failure> {
    let overdue_only = filter.overdue.unwrap_or(false);
    let mut found: Vec<Pledge> = Vec::new();
    let mut after = page.after;
    // With `overdue`, rows are read in chunks and kept while overdue.
    loop {
        let rows: Vec<PledgeRow> = with_conn!(conn, |c| {
            let mut query = pledges::table
                .select(PledgeRow::as_select())
                .order(pledges::id)
                .limit(if overdue_only { 500 } else { page.fetch() })
                .into_boxed();
            if let Some(after) = after {
                query = query.filter(pledges::id.gt(after));
            }
            match scope.donor() {
                None => {}
                Some(Some(id)) => query = query.filter(pledges::donor_id.eq(id)),
                // A donor user linked to no donor sees nothing.
                Some(None) => query = query.filter(pledges::id.eq(-1)),
            }
            if let Some(campaign) = filter.campaign_id {
                query = query.filter(pledges::campaign_id.eq(campaign));
            }
            if let Some(donor) = filter.donor_id {
                query = query.filter(pledges::donor_id.eq(donor));
            }
            if let Some(status) = filter.status {
                query = query.filter(pledges::status.eq(status));
            }
            if overdue_only {
                query = query.filter(pledges::kind.eq(DonationKind::Money)).filter(
                    pledges::status.eq_any([PledgeStatus::Pledged, PledgeStatus::PartlyReceived]),
                );
            }
            query.load(c)
        })?;
        let exhausted = !overdue_only || rows.is_empty();
        after = rows.last().map(|r| r.id).or(after);
        found.extend(
            with_details(conn, rows)?
                .into_iter()
                .filter(|p| !overdue_only || p.overdue),
        );
        if exhausted || found.len() as i64 > page.limit {
            break;
        }
    }
    let (items, next_cursor) = page.finish(found, |p| p.id);
    Ok(PledgePage { items, next_cursor })
}

pub fn confirm(conn: &mut DbConn, actor: &str, id: i64) -> Result<PledgeRow, Failure> {
    conn.transaction(|conn| {
        let current = find(conn, id)?;
        if current.confirmed_by.is_some() {
            return Ok(current);
        }
        let row: PledgeRow = with_conn!(conn, |c| diesel::update(pledges::table.find(id))
            .set((
                pledges::confirmed_by.eq(actor),
                pledges::version.eq(pledges::version + 1),
                pledges::updated_at.eq(crate::platform::db::now()),
            ))
            .returning(PledgeRow::as_returning())
            .get_result(c))?;
        crate::platform::audit::record(
            conn,
            actor,
            "confirm",
            "pledge",
            &id.to_string(),
            json!({}),
        )?;
        Ok(row)
    })
}

/// Cancels a pledge, or marks it lapsed; a reason is required.
pub fn close(
    conn: &mut DbConn,
    actor: &str,
    id: i64,
    to: PledgeStatus,
    reason: &str,
) -> Result<PledgeRow, Failure> {
    if !workflow::closing_states().contains(&to) {
        return Err(Failure::invalid_field(
            "to",
            "status",
            "send cancelled or lapsed; the others follow the receipts",
        ));
    }
    conn.transaction(|conn| {
        // Read again under the campaign's lock: a receipt being recorded
        // meanwhile may make the pledge received.
        let campaign = find(conn, id)?.campaign_id;
        conn.lock(WriteLock::Campaign(campaign))?;
        let current = find(conn, id)?;
        workflow::check(current.status, to, Cause::Closing)?;
        let row: PledgeRow = with_conn!(conn, |c| diesel::update(pledges::table.find(id))
            .set((
                pledges::status.eq(to),
                pledges::status_reason.eq(reason),
                pledges::version.eq(pledges::version + 1),
                pledges::updated_at.eq(crate::platform::db::now()),
            ))
            .returning(PledgeRow::as_returning())
            .get_result(c))?;
        crate::platform::audit::record(
            conn,
            actor,
            "close",
            "pledge",
            &id.to_string(),
            json!({"to": to, "reason": reason}),
        )?;
        announce(conn, EventType::PledgeClosed, &row)?;
        Ok(row)
    })
}

/// Adds what a receipt brought (negative for a reversal) to the pledge and
/// derives its status; returns the updated pledge. Same transaction as the receipt.
pub fn add_received(
    conn: &mut DbConn,
    pledge: &PledgeRow,
    amount_vnd: i64,
    quantity: i32,
) -> Result<PledgeRow, Failure> {
    let amount = pledge.received_amount_vnd.saturating_add(amount_vnd);
    let count = pledge.received_quantity.saturating_add(quantity);
    let received = if pledge.kind == DonationKind::Money {
        amount
    } else {
        count as i64
    };
    let status = workflow::after_receipts(pledge.status, received, pledge.promised());
    workflow::check(pledge.status, status, Cause::Receipts)?;
    let row: PledgeRow = with_conn!(conn, |c| diesel::update(pledges::table.find(pledge.id))
        .set((
            pledges::received_amount_vnd.eq(amount),
            pledges::received_quantity.eq(count),
            pledges::status.eq(status),
            pledges::version.eq(pledges::version + 1),
            pledges::updated_at.eq(crate::platform::db::now()),
        ))
        .returning(PledgeRow::as_returning())
        .get_result(c))?;
    if row.status == PledgeStatus::Received && pledge.status != PledgeStatus::Received {
        announce(conn, EventType::PledgeReceived, &row)?;
    }
    Ok(row)
}

/// A pledge's event in the outbox: ids, kind, amounts and status (a donor
/// is named by id; whether the public sees the name is the donor's choice).
fn announce(conn: &mut DbConn, event_type: EventType, row: &PledgeRow) -> Result<(), Failure> {
    crate::platform::outbox::emit(
        conn,
        Event {
            event_type,
            entity: "pledge",
            entity_id: row.id,
            admin_unit_code: None,
            data: json!({
                "pledge_id": row.id,
                "status": row.status,
                "campaign_id": row.campaign_id,
                "donor_id": row.donor_id,
                "kind": row.kind,
                "amount_vnd": row.amount_vnd,
                "quantity": row.quantity,
                "received_amount_vnd": row.received_amount_vnd,
                "received_quantity": row.received_quantity,
            }),
        },
    )
}
