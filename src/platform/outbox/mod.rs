//! The transactional outbox: a change that integrators care about writes
//! an event row in the same transaction as the change itself, so an event
//! exists exactly when its change committed — a refused or rolled-back
//! write leaves none, and a crash after the commit loses none. The webhook
//! worker (`platform::webhooks`) delivers them. Events carry ids, statuses
//! and codes, never a child's name, birth date or household status.
//!
//! An event of a type no subscription listens for is not written: nobody
//! would ever receive it, and writing it (and marking it dispatched) cost
//! a roster sync about a quarter of its database time, one event per
//! student. So that no listener misses an event, the check and the
//! subscriptions' changes take turns ([`WriteLock::Listeners`]): a write
//! checks under a shared lock held to its commit, and creating a
//! subscription or changing its types waits for those writes and is seen
//! by every later one — whose events are all stamped after the
//! subscription, which hears them all.

use diesel::prelude::*;
use serde_json::{json, Value};

use crate::platform::db::schema::{outbox_events, webhook_subscriptions};
use crate::platform::db::{text_enum, with_conn, DbConn, WriteLock};
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

/// The event types some subscription listens for (active, paused or
/// disabled: a paused one's deliveries wait for it). Takes the shared
/// [`WriteLock::Listeners`] until the caller's transaction ends.
fn listened_for(conn: &mut DbConn) -> Result<Vec<EventType>, Failure> {
    conn.share(WriteLock::Listeners)?;
    let lists: Vec<String> = with_conn!(conn, |c| webhook_subscriptions::table
        .select(webhook_subscriptions::event_types)
        .load(c))?;
    let mut types: Vec<EventType> = lists
        .iter()
        .flat_map(|list| serde_json::from_str::<Vec<EventType>>(list).unwrap_or_default())
        .collect();
    types.sort();
    types.dedup();
    Ok(types)
}

/// Writes `event` in the caller's transaction, if anyone listens for it.
pub fn emit(conn: &mut DbConn, event: Event) -> Result<(), Failure> {
    if !listened_for(conn)?.contains(&event.event_type) {
        return Ok(());
    }
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
/// VALUES form, a few hundred rows per statement. Events nobody listens for
/// are left out.
pub fn emit_many(conn: &mut DbConn, events: Vec<Event>) -> Result<(), Failure> {
    if events.is_empty() {
        return Ok(());
    }
    let listened = listened_for(conn)?;
    let events: Vec<Event> = events
        .into_iter()
        .filter(|event| listened.contains(&event.event_type))
        .collect();
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
