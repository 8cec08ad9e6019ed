//! The transactional outbox: a change that integrators care about writes
//! an event row in the same transaction as the change itself, so an event
//! exists exactly when its change committed — a refused or rolled-back
//! write leaves none, and a crash after the commit loses none. The webhook
//! worker (`platform::webhooks`) delivers them. Events carry ids, statuses
//! and codes, never a child's name, birth date or household status.

use diesel::prelude::*;
use serde_json::{json, Value};

use crate::platform::db::schema::outbox_events;
use crate::platform::db::{text_enum, with_conn, DbConn};
use crate::platform::error::Failure;

text_enum! {
    /// Every kind of event a subscription may ask for.
    pub enum EventType {
        /// A need was reported (by a school, an officer, or generated from the roster).
        NeedReported => "need.reported",
        NeedVerified => "need.verified",
        NeedApproved => "need.approved",
        /// Stock was reserved for the need.
        NeedAllocated => "need.allocated",
        /// The need's device or connection reached the student.
        NeedFulfilled => "need.fulfilled",
        NeedRejected => "need.rejected",
        NeedCancelled => "need.cancelled",
        PledgeMade => "pledge.made",
        /// Everything promised arrived.
        PledgeReceived => "pledge.received",
        /// Cancelled or lapsed.
        PledgeClosed => "pledge.closed",
        ReceiptRecorded => "receipt.recorded",
        ReceiptReversed => "receipt.reversed",
        AllocationMade => "allocation.made",
        AllocationCancelled => "allocation.cancelled",
        HandoverRecorded => "handover.recorded",
        /// A handed-over device came back.
        HandoverReturned => "handover.returned",
        /// A student was added, changed or removed (by a sync, an import or
        /// an edit): ids and version only — read the student if you may.
        StudentChanged => "student.changed",
        /// An article (the open letter, news, a story) went public.
        ArticlePublished => "article.published",
    }
}

/// One change to report.
#[derive(Debug, Clone)]
pub struct Event {
    pub event_type: EventType,
    /// The record's kind (`need`, `pledge`, …) and id.
    pub entity: &'static str,
    pub entity_id: i64,
    /// Where it happened (the need's commune), for subscriptions limited
    /// to a part of the province; `None` for province-wide records.
    pub admin_unit_code: Option<String>,
    /// Ids, statuses, kinds and amounts: what a receiver needs to act,
    /// and nothing personal.
    pub data: Value,
}

/// What is stored, and posted after the event's id and time.
fn payload(event: &Event) -> Value {
    json!({
        "type": event.event_type,
        "entity": event.entity,
        "entity_id": event.entity_id,
        "admin_unit_code": event.admin_unit_code,
        "data": event.data,
    })
}

/// Writes `event` in the caller's transaction.
pub fn emit(conn: &mut DbConn, event: Event) -> Result<(), Failure> {
    let payload = payload(&event);
    with_conn!(conn, |c| diesel::insert_into(outbox_events::table)
        .values((
            outbox_events::event_type.eq(event.event_type),
            outbox_events::entity.eq(event.entity),
            outbox_events::entity_id.eq(event.entity_id),
            outbox_events::admin_unit_code.eq(&event.admin_unit_code),
            outbox_events::payload.eq(payload.to_string()),
            outbox_events::created_at.eq(crate::platform::db::now()),
        ))
        .execute(c))?;
    Ok(())
}

/// Writes several events in the caller's transaction (a sync batch, a
/// generated batch of needs, an automatic allocation run). PostgreSQL takes
/// them as one array per column (UNNEST) in one statement: a VALUES list of
/// a few thousand parameters cost more to parse and bind than to write
/// (measured on a 1,000-student sync batch). SQLite takes the portable
/// VALUES form, a few hundred rows per statement.
pub fn emit_many(conn: &mut DbConn, events: Vec<Event>) -> Result<(), Failure> {
    if events.is_empty() {
        return Ok(());
    }
    let at = crate::platform::db::now();
    let payloads: Vec<String> = events.iter().map(|e| payload(e).to_string()).collect();
    crate::platform::db::per_backend!(conn,
        sqlite: |c| {
            for (chunk, payloads) in events.chunks(500).zip(payloads.chunks(500)) {
                let rows: Vec<_> = chunk
                    .iter()
                    .zip(payloads)
                    .map(|(event, payload)| {
                        (
                            outbox_events::event_type.eq(event.event_type),
                            outbox_events::entity.eq(event.entity),
                            outbox_events::entity_id.eq(event.entity_id),
                            outbox_events::admin_unit_code.eq(event.admin_unit_code.as_deref()),
                            outbox_events::payload.eq(payload),
                            outbox_events::created_at.eq(at),
                        )
                    })
                    .collect();
                diesel::insert_into(outbox_events::table).values(&rows).execute(c)?;
            }
            QueryResult::Ok(())
        },
        postgres: |c| {
            use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamp};
            // In the order given, so ids follow the events.
            diesel::sql_query(
                "INSERT INTO outbox_events (event_type, entity, entity_id, admin_unit_code, payload, created_at) \
                 SELECT t.ty, t.en, t.id, t.unit, t.payload, $6 \
                 FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[]) \
                     WITH ORDINALITY AS t(ty, en, id, unit, payload, o) \
                 ORDER BY t.o",
            )
            .bind::<Array<Text>, _>(events.iter().map(|e| e.event_type.as_str()).collect::<Vec<_>>())
            .bind::<Array<Text>, _>(events.iter().map(|e| e.entity).collect::<Vec<_>>())
            .bind::<Array<BigInt>, _>(events.iter().map(|e| e.entity_id).collect::<Vec<_>>())
            .bind::<Array<Nullable<Text>>, _>(
                events.iter().map(|e| e.admin_unit_code.as_deref()).collect::<Vec<_>>(),
            )
            .bind::<Array<Text>, _>(&payloads)
            .bind::<Timestamp, _>(at)
            .execute(c)
            .map(|_| ())
        },
    )?;
    Ok(())
}
