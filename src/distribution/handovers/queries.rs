//! Handovers' storage: recording one (the allocation, the stock, the need
//! and the student's holding move in one transaction), reading one within
//! the caller's scope with its trace, and taking a device back.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::json;

use super::model::*;
use crate::distribution::allocations::AllocationStatus;
use crate::distribution::inventory::queries::{move_item, move_package};
use crate::distribution::inventory::{ItemStatus, Movement};
use crate::needs::workflow::{Mover, NeedStatus};
use crate::platform::auth::Reach;
use crate::platform::db::page::PageRequest;
use crate::platform::db::schema::{allocations, handovers, needs};
use crate::platform::db::{with_conn, DbConn, WriteLock};
use crate::platform::error::{Failure, OrUnknown};
use crate::platform::outbox::{Event, EventType};
use crate::registry::students::queries::Holding;

/// What a fulfilled need of `kind` makes the student hold: a device need a
/// device; a connectivity or data-package need a connection. A software
/// licence does not change readiness.
fn holding_of(kind: crate::needs::NeedKind) -> Option<Holding> {
    use crate::needs::NeedKind;
    match kind {
        NeedKind::Device => Some(Holding::Device),
        NeedKind::Connectivity | NeedKind::DataPackage => Some(Holding::Connectivity),
        NeedKind::Software => None,
    }
}

fn trace(
    conn: &mut DbConn,
    allocation: &crate::distribution::allocations::AllocationRow,
) -> Result<Trace, Failure> {
    let receipt_id = match (allocation.item_id, allocation.package_id) {
        (Some(item), _) => {
            Some(crate::distribution::inventory::queries::find_item(conn, item)?.receipt_id)
        }
        (None, Some(package)) => {
            Some(crate::distribution::inventory::queries::find_package(conn, package)?.receipt_id)
        }
        _ => None,
    };
    let receipt = receipt_id
        .map(|id| crate::donations::receipts::queries::find(conn, id))
        .transpose()?;
    Ok(Trace {
        need_id: allocation.need_id,
        item_id: allocation.item_id,
        package_id: allocation.package_id,
        receipt_id,
        pledge_id: receipt.as_ref().and_then(|r| r.pledge_id),
        donor_id: receipt.as_ref().and_then(|r| r.donor_id),
    })
}

pub fn to_dto(conn: &mut DbConn, row: HandoverRow) -> Result<Handover, Failure> {
    let allocation = crate::distribution::allocations::queries::find(conn, row.allocation_id)?;
    Ok(Handover {
        trace: trace(conn, &allocation)?,
        id: row.id,
        allocation_id: row.allocation_id,
        received_by_name: row.received_by_name,
        relation: row.relation,
        handed_on: row.handed_on,
        handed_by: row.handed_by,
        proof_ref: row.proof_ref,
        acknowledged: row.acknowledged,
        returned_on: row.returned_on,
        return_reason: row.return_reason,
    })
}

/// A handover's event in the outbox: ids, the relation of who signed
/// (`parent`, `student`, …) — never their name.
fn announcement(
    event_type: EventType,
    row: &HandoverRow,
    allocation: &crate::distribution::allocations::AllocationRow,
    need: &crate::needs::NeedRow,
) -> Event {
    Event {
        event_type,
        entity: "handover",
        entity_id: row.id,
        admin_unit_code: Some(need.admin_unit_code.clone()),
        data: json!({
            "handover_id": row.id,
            "allocation_id": allocation.id,
            "need_id": need.id,
            "item_id": allocation.item_id,
            "package_id": allocation.package_id,
            "handed_on": row.handed_on,
            "relation": row.relation,
            "returned_on": row.returned_on,
        }),
    }
}

pub fn hand_over(
    conn: &mut DbConn,
    actor: &str,
    scope: &Reach,
    input: &CreateHandover,
) -> Result<HandoverRow, Failure> {
    conn.transaction(|conn| {
        conn.lock(WriteLock::Allocation)?;
        let allocation = crate::distribution::allocations::queries::find(conn, input.allocation_id)
            .or_unknown("allocation_id")?;
        crate::needs::queries::find_visible(conn, scope, allocation.need_id)
            .or_unknown("allocation_id")?;
        allocation.status.check_transition(AllocationStatus::HandedOver, allocation.id)?;
        with_conn!(conn, |c| diesel::update(allocations::table.find(allocation.id))
            .set((allocations::status.eq(AllocationStatus::HandedOver), allocations::updated_at.eq(crate::platform::db::now())))
            .execute(c))?;
        if let Some(item) = allocation.item_id {
            let item = crate::distribution::inventory::queries::find_item(conn, item)?;
            // A profile published after the device was made ready is
            // applied before the device reaches the child.
            crate::distribution::profiles::queries::ensure_current(conn, item.id, item.profile_version, item.profile_failures.as_deref())?;
            move_item(conn, actor, &item, ItemStatus::HandedOver, Movement::Handover, None)?;
        }
        if let Some(package_id) = allocation.package_id {
            let package = crate::distribution::inventory::queries::find_package(conn, package_id)?;
            move_package(conn, actor, &package, ItemStatus::Reserved, ItemStatus::HandedOver, Movement::Handover, allocation.quantity, None)?;
        }
        let need = crate::needs::queries::transition(conn, actor, Mover::Distribution, &Reach::Everywhere, allocation.need_id, NeedStatus::Fulfilled, None)?;
        // Progress moves at the handover, in this transaction.
        if let (Some(student), Some(holding)) = (need.student_id, holding_of(need.kind)) {
            crate::registry::students::queries::set_holding(conn, actor, student, holding, true)?;
        }
        let row: HandoverRow = with_conn!(conn, |c| diesel::insert_into(handovers::table)
            .values((
                handovers::allocation_id.eq(allocation.id),
                handovers::received_by_name.eq(&input.received_by_name),
                handovers::relation.eq(input.relation),
                handovers::handed_on.eq(input.handed_on),
                handovers::handed_by.eq(actor),
                handovers::proof_ref.eq(&input.proof_ref),
                handovers::acknowledged.eq(input.acknowledged),
                handovers::created_at.eq(crate::platform::db::now()),
            ))
            .returning(HandoverRow::as_returning())
            .get_result(c))?;
        crate::platform::audit::record(
            conn,
            actor,
            "create",
            "handover",
            &row.id.to_string(),
            json!({"allocation_id": allocation.id, "relation": row.relation, "acknowledged": row.acknowledged}),
        )?;
        crate::platform::outbox::emit(
            conn,
            announcement(EventType::HandoverRecorded, &row, &allocation, &need),
        )?;
        Ok(row)
    })
}

pub fn find_visible(conn: &mut DbConn, scope: &Reach, id: i64) -> Result<HandoverRow, Failure> {
    let row: Option<HandoverRow> = with_conn!(conn, |c| handovers::table
        .find(id)
        .select(HandoverRow::as_select())
        .first(c)
        .optional())?;
    let row = row.ok_or_else(|| Failure::not_found(String::from("no handover has this id")))?;
    let allocation = crate::distribution::allocations::queries::find(conn, row.allocation_id)?;
    crate::needs::queries::find_visible(conn, scope, allocation.need_id)
        .or_not_found(|| String::from("no handover has this id"))?;
    Ok(row)
}

/// A page of handovers whose need is in `scope` (and in `units`, when
/// given), oldest first, each with its trace.
pub fn list(
    conn: &mut DbConn,
    scope: &Reach,
    filter: &HandoverFilter,
    units: Option<&[String]>,
    page: &PageRequest<i64>,
) -> Result<HandoverPage, Failure> {
    let scope_units = scope.unit_codes();
    let rows: Vec<HandoverRow> = with_conn!(conn, |c| {
        let mut query = handovers::table
            .inner_join(allocations::table.inner_join(needs::table))
            .select(HandoverRow::as_select())
            .order(handovers::id)
            .limit(page.fetch())
            .into_boxed();
        if let Some(after) = page.after {
            query = query.filter(handovers::id.gt(after));
        }
        if let Some(units) = &scope_units {
            query = query.filter(needs::admin_unit_code.eq_any(units.clone()));
        }
        if let Reach::School(id) = scope {
            query = query.filter(needs::school_id.eq(*id));
        }
        if let Some(units) = units {
            query = query.filter(needs::admin_unit_code.eq_any(units));
        }
        if let Some(school_id) = filter.school_id {
            query = query.filter(needs::school_id.eq(school_id));
        }
        if let Some(need) = filter.need_id {
            query = query.filter(allocations::need_id.eq(need));
        }
        if let Some(allocation) = filter.allocation_id {
            query = query.filter(handovers::allocation_id.eq(allocation));
        }
        if let Some(returned) = filter.returned {
            query = if returned {
                query.filter(handovers::returned_on.is_not_null())
            } else {
                query.filter(handovers::returned_on.is_null())
            };
        }
        query.load(c)
    })?;
    let (rows, next_cursor) = page.finish(rows, |row| row.id);
    Ok(HandoverPage {
        items: rows
            .into_iter()
            .map(|row| to_dto(conn, row))
            .collect::<Result<_, _>>()?,
        next_cursor,
    })
}

/// Takes back the device of handover `id` (in the caller's scope): the
/// device goes to `returned`, unchecked; the student no longer holds it.
pub fn return_device(
    conn: &mut DbConn,
    actor: &str,
    scope: &Reach,
    id: i64,
    reason: &str,
) -> Result<HandoverRow, Failure> {
    conn.transaction(|conn| {
        let row = find_visible(conn, scope, id)?;
        if row.returned_on.is_some() {
            return Err(Failure::conflict(format!(
                "handover {id} was already returned"
            )));
        }
        let allocation = crate::distribution::allocations::queries::find(conn, row.allocation_id)?;
        let item_id = allocation
            .item_id
            .ok_or_else(|| Failure::conflict("data packages are not returned"))?;
        let item = crate::distribution::inventory::queries::find_item(conn, item_id)?;
        move_item(
            conn,
            actor,
            &item,
            ItemStatus::Returned,
            Movement::Return,
            Some(reason),
        )?;
        // The student no longer holds it: progress moves back.
        let need =
            crate::needs::queries::find_visible(conn, &Reach::Everywhere, allocation.need_id)?;
        if let Some(student) = need.student_id {
            crate::registry::students::queries::set_holding(
                conn,
                actor,
                student,
                Holding::Device,
                false,
            )?;
        }
        // A returned device is checked (and wiped) again before reuse.
        with_conn!(conn, |c| diesel::update(
            crate::platform::db::schema::inventory_items::table.find(item_id)
        )
        .set((
            crate::platform::db::schema::inventory_items::checked_by.eq(None::<String>),
            crate::platform::db::schema::inventory_items::checked_at.eq(None::<NaiveDateTime>),
            // … and its device profile applied again.
            crate::platform::db::schema::inventory_items::profile_version.eq(None::<i32>),
            crate::platform::db::schema::inventory_items::profile_failures.eq(None::<String>),
            crate::platform::db::schema::inventory_items::profile_applied_at
                .eq(None::<NaiveDateTime>),
        ))
        .execute(c))?;
        let row: HandoverRow = with_conn!(conn, |c| diesel::update(handovers::table.find(id))
            .set((
                handovers::returned_on.eq(chrono::Utc::now().date_naive()),
                handovers::return_reason.eq(reason),
            ))
            .returning(HandoverRow::as_returning())
            .get_result(c))?;
        crate::platform::audit::record(
            conn,
            actor,
            "return",
            "handover",
            &id.to_string(),
            json!({"item_id": item_id}),
        )?;
        crate::platform::outbox::emit(
            conn,
            announcement(EventType::HandoverReturned, &row, &allocation, &need),
        )?;
        Ok(row)
    })
}
