//! Writing and reading the audit log: one row per write, naming the actor,
//! the record and the changed fields (never their values).

use crate::platform::error::Failure;
use diesel::prelude::*;

use super::model::{AuditEntry, AuditFilter, AuditPage, AuditRow, NewAuditRow};
use crate::platform::db::page::PageRequest;
use crate::platform::db::schema::audit_log;
use crate::platform::db::{with_conn, DbConn};

/// The names of the fields a change sent, for its audit entry: an edit is
/// audited by what it touched, not by the values (contacts, addresses).
pub fn sent_fields<'a>(fields: &[(&'a str, bool)]) -> Vec<&'a str> {
    fields
        .iter()
        .filter(|(_, sent)| *sent)
        .map(|(name, _)| *name)
        .collect()
}

/// Writes one audit row. Call it inside the transaction of the write it
/// describes. `changes` must not contain personal data of students.
pub fn record(
    conn: &mut DbConn,
    actor: &str,
    action: &str,
    entity: &str,
    entity_id: &str,
    changes: serde_json::Value,
) -> Result<(), Failure> {
    let row = NewAuditRow {
        at: crate::platform::db::now(),
        actor,
        action,
        entity,
        entity_id,
        changes: changes.to_string(),
    };
    with_conn!(conn, |c| diesel::insert_into(audit_log::table)
        .values(&row)
        .execute(c))?;
    Ok(())
}

/// Writes one audit row per record of a bulk operation (the re-homing of a
/// province moves tens of thousands), several rows per statement. Inside
/// the operation's transaction, like [`record`].
pub fn record_each(
    conn: &mut DbConn,
    actor: &str,
    action: &str,
    records: &[(&str, &str, serde_json::Value)],
) -> Result<(), Failure> {
    let at = crate::platform::db::now();
    let rows: Vec<NewAuditRow> = records
        .iter()
        .map(|(entity, entity_id, changes)| NewAuditRow {
            at,
            actor,
            action,
            entity,
            entity_id,
            changes: changes.to_string(),
        })
        .collect();
    // Six values per row: far below either backend's parameter limit.
    for chunk in rows.chunks(1_000) {
        with_conn!(conn, |c| diesel::insert_into(audit_log::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(())
}

pub fn list(
    conn: &mut DbConn,
    filter: &AuditFilter,
    page: &PageRequest<i64>,
) -> Result<AuditPage, Failure> {
    let rows: Vec<AuditRow> = with_conn!(conn, |c| {
        let mut query = audit_log::table
            .select(AuditRow::as_select())
            .order(audit_log::id.desc())
            .limit(page.fetch())
            .into_boxed();
        if let Some(after) = page.after {
            query = query.filter(audit_log::id.lt(after));
        }
        if let Some(entity) = &filter.entity {
            query = query.filter(audit_log::entity.eq(entity));
        }
        if let Some(entity_id) = &filter.entity_id {
            query = query.filter(audit_log::entity_id.eq(entity_id));
        }
        if let Some(actor) = &filter.actor {
            query = query.filter(audit_log::actor.eq(actor));
        }
        if let Some(action) = &filter.action {
            query = query.filter(audit_log::action.eq(action));
        }
        if let Some(since) = filter.since {
            query = query.filter(audit_log::at.ge(since.naive_utc()));
        }
        if let Some(until) = filter.until {
            query = query.filter(audit_log::at.lt(until.naive_utc()));
        }
        query.load(c)
    })?;
    let (rows, next_cursor) = page.finish(rows, |row| row.id);
    Ok(AuditPage {
        items: rows.into_iter().map(AuditEntry::from).collect(),
        next_cursor,
    })
}
