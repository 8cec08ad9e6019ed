//! Webhooks' storage: subscriptions, their deliveries, and the worker's
//! three steps — fan events out to subscriptions, claim due deliveries
//! (a lease, taken with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so two
//! replicas never post one delivery at once), record each attempt.

use std::collections::HashMap;

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use serde_json::json;

use super::model::*;
use crate::platform::db::page::PageRequest;
use crate::platform::db::schema::{
    admin_units, outbox_events, webhook_attempts, webhook_deliveries, webhook_subscriptions,
};
use crate::platform::db::{now, with_conn, DbConn, WriteLock};
use crate::platform::error::Failure;
use crate::platform::outbox::EventType;

pub fn find(conn: &mut DbConn, id: i64) -> Result<SubscriptionRow, Failure> {
    let row: Option<SubscriptionRow> = with_conn!(conn, |c| webhook_subscriptions::table
        .find(id)
        .select(SubscriptionRow::as_select())
        .first(c)
        .optional())?;
    row.ok_or_else(|| Failure::not_found("no webhook subscription has this id"))
}

/// Stores a subscription to an already checked `url`, with a new secret.
pub fn create(
    conn: &mut DbConn,
    actor: &str,
    url: &str,
    input: &CreateSubscription,
    secret: &str,
) -> Result<SubscriptionRow, Failure> {
    conn.transaction(|conn| {
        // Writes that checked for listeners before this one commit first;
        // every later one sees it (`platform::outbox`).
        conn.lock(WriteLock::Listeners)?;
        if let Some(code) = &input.admin_unit_code {
            let known: Option<String> = with_conn!(conn, |c| admin_units::table
                .find(code)
                .select(admin_units::code)
                .first(c)
                .optional())?;
            if known.is_none() {
                return Err(Failure::unknown_reference("admin_unit_code"));
            }
        }
        let mut types = input.event_types.clone();
        types.sort();
        types.dedup();
        let at = now();
        let row: SubscriptionRow =
            with_conn!(conn, |c| diesel::insert_into(webhook_subscriptions::table)
                .values((
                    webhook_subscriptions::url.eq(url),
                    webhook_subscriptions::event_types.eq(json!(types).to_string()),
                    webhook_subscriptions::admin_unit_code.eq(&input.admin_unit_code),
                    webhook_subscriptions::secret.eq(secret),
                    webhook_subscriptions::active.eq(true),
                    webhook_subscriptions::consecutive_failures.eq(0),
                    webhook_subscriptions::created_by.eq(actor),
                    webhook_subscriptions::created_at.eq(at),
                    webhook_subscriptions::updated_at.eq(at),
                ))
                .returning(SubscriptionRow::as_returning())
                .get_result(c))?;
        // The URL is not audited whole (it may carry a token in its path).
        crate::platform::audit::record(
            conn,
            actor,
            "create",
            "webhook_subscription",
            &row.id.to_string(),
            json!({"event_types": types, "admin_unit_code": row.admin_unit_code}),
        )?;
        Ok(row)
    })
}

pub fn list(conn: &mut DbConn, page: &PageRequest<i64>) -> Result<SubscriptionPage, Failure> {
    let rows: Vec<SubscriptionRow> = with_conn!(conn, |c| {
        let mut query = webhook_subscriptions::table
            .select(SubscriptionRow::as_select())
            .order(webhook_subscriptions::id)
            .limit(page.fetch())
            .into_boxed();
        if let Some(after) = page.after {
            query = query.filter(webhook_subscriptions::id.gt(after));
        }
        query.load(c)
    })?;
    let (rows, next_cursor) = page.finish(rows, |row| row.id);
    Ok(SubscriptionPage {
        items: rows.into_iter().map(Subscription::from).collect(),
        next_cursor,
    })
}

/// Pauses, resumes (failures counted from zero again) or retargets a subscription.
pub fn update(
    conn: &mut DbConn,
    actor: &str,
    id: i64,
    patch: &SubscriptionPatch,
) -> Result<SubscriptionRow, Failure> {
    conn.transaction(|conn| {
        // A type added is heard by every write that checks after this one.
        conn.lock(WriteLock::Listeners)?;
        let current = find(conn, id)?;
        let active = patch.active.unwrap_or(current.active);
        let types = match &patch.event_types {
            Some(types) => {
                let mut types = types.clone();
                types.sort();
                types.dedup();
                json!(types).to_string()
            }
            None => current.event_types.clone(),
        };
        let resumed = active && !current.active;
        let row: SubscriptionRow = with_conn!(conn, |c| diesel::update(
            webhook_subscriptions::table.find(id)
        )
        .set((
            webhook_subscriptions::active.eq(active),
            webhook_subscriptions::event_types.eq(&types),
            webhook_subscriptions::consecutive_failures.eq(if resumed {
                0
            } else {
                current.consecutive_failures
            }),
            webhook_subscriptions::disabled_reason.eq(if active {
                None
            } else {
                Some(String::from("paused by an admin"))
            }),
            webhook_subscriptions::updated_at.eq(now()),
        ))
        .returning(SubscriptionRow::as_returning())
        .get_result(c))?;
        crate::platform::audit::record(
            conn,
            actor,
            "update",
            "webhook_subscription",
            &id.to_string(),
            json!({"active": row.active, "event_types": row.event_types()}),
        )?;
        Ok(row)
    })
}

/// A page of one subscription's deliveries, newest first.
pub fn deliveries(
    conn: &mut DbConn,
    subscription: i64,
    filter: &DeliveryFilter,
    page: &PageRequest<i64>,
) -> Result<DeliveryPage, Failure> {
    find(conn, subscription)?;
    let rows: Vec<(DeliveryRow, EventType)> = with_conn!(conn, |c| {
        let mut query = webhook_deliveries::table
            .inner_join(outbox_events::table)
            .filter(webhook_deliveries::subscription_id.eq(subscription))
            .select((DeliveryRow::as_select(), outbox_events::event_type))
            .order(webhook_deliveries::id.desc())
            .limit(page.fetch())
            .into_boxed();
        if let Some(before) = page.after {
            query = query.filter(webhook_deliveries::id.lt(before));
        }
        if let Some(status) = filter.status {
            query = query.filter(webhook_deliveries::status.eq(status));
        }
        query.load(c)
    })?;
    let (rows, next_cursor) = page.finish(rows, |(row, _)| row.id);
    Ok(DeliveryPage {
        items: rows
            .into_iter()
            .map(|(row, kind)| Delivery::from_row(row, kind))
            .collect(),
        next_cursor,
    })
}

/// Sends delivery `id` of `subscription` again, now: a failed one after
/// the receiver was fixed, or a delivered one a receiver lost.
pub fn replay(
    conn: &mut DbConn,
    actor: &str,
    subscription: i64,
    id: i64,
) -> Result<Delivery, Failure> {
    conn.transaction(|conn| {
        let owner = find(conn, subscription)?;
        if !owner.active {
            return Err(Failure::conflict(
                "the subscription is not active: resume it first (PATCH active: true)",
            ));
        }
        let found: Option<(DeliveryRow, EventType)> =
            with_conn!(conn, |c| webhook_deliveries::table
                .inner_join(outbox_events::table)
                .filter(webhook_deliveries::id.eq(id))
                .filter(webhook_deliveries::subscription_id.eq(subscription))
                .select((DeliveryRow::as_select(), outbox_events::event_type))
                .first(c)
                .optional())?;
        let (_, kind) = found
            .ok_or_else(|| Failure::not_found("no delivery of this subscription has this id"))?;
        let row: DeliveryRow =
            with_conn!(conn, |c| diesel::update(webhook_deliveries::table.find(id))
                .set((
                    webhook_deliveries::status.eq(DeliveryStatus::Pending),
                    webhook_deliveries::next_attempt_at.eq(now()),
                    webhook_deliveries::lease_until.eq(None::<NaiveDateTime>),
                    webhook_deliveries::delivered_at.eq(None::<NaiveDateTime>),
                ))
                .returning(DeliveryRow::as_returning())
                .get_result(c))?;
        crate::platform::audit::record(
            conn,
            actor,
            "replay",
            "webhook_delivery",
            &id.to_string(),
            json!({"subscription_id": subscription}),
        )?;
        Ok(Delivery::from_row(row, kind))
    })
}

/// Turns up to `limit` new events into one delivery per matching
/// subscription; returns how many events it handled. Each event is taken
/// by one replica (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite serialises
/// writers) and marked, in the same transaction.
pub fn dispatch(conn: &mut DbConn, limit: i64) -> Result<usize, Failure> {
    conn.transaction(|conn| {
        type Waiting = (i64, EventType, Option<String>, NaiveDateTime);
        let query = outbox_events::table
            .filter(outbox_events::dispatched_at.is_null())
            .order(outbox_events::id)
            .limit(limit)
            .select((
                outbox_events::id,
                outbox_events::event_type,
                outbox_events::admin_unit_code,
                outbox_events::created_at,
            ));
        let events: Vec<Waiting> = match conn {
            DbConn::Postgres(c) => query.for_update().skip_locked().load(&mut ***c)?,
            DbConn::Sqlite(c) => query.load(&mut **c)?,
        };
        if events.is_empty() {
            return Ok(0);
        }
        // Paused and disabled subscriptions too: their deliveries wait
        // (claims take active subscriptions only) and go out on resume.
        let subscriptions: Vec<SubscriptionRow> =
            with_conn!(conn, |c| webhook_subscriptions::table
                .select(SubscriptionRow::as_select())
                .load(c))?;
        let wanted: Vec<(i64, Vec<EventType>, Option<String>, NaiveDateTime)> = subscriptions
            .iter()
            .map(|s| {
                (
                    s.id,
                    s.event_types(),
                    s.admin_unit_code.clone(),
                    s.created_at,
                )
            })
            .collect();
        let mut ancestries: HashMap<String, Vec<String>> = HashMap::new();
        let at = now();
        // Written together below: a statement per thousand deliveries, not
        // one per delivery (a roster sync heard by a subscriber brings
        // thousands of events).
        let mut deliveries = Vec::new();
        for (event, kind, place, happened) in &events {
            for (subscription, types, unit, subscribed) in &wanted {
                // A subscription hears what happens from its creation on,
                // not older events the worker had not reached yet.
                if !types.contains(kind) || happened < subscribed {
                    continue;
                }
                if let Some(unit) = unit {
                    let Some(place) = place else { continue };
                    if !ancestries.contains_key(place) {
                        let chain = crate::platform::auth::unit_and_ancestors(conn, place)?
                            .unwrap_or_default();
                        ancestries.insert(place.clone(), chain);
                    }
                    if !ancestries[place].contains(unit) {
                        continue;
                    }
                }
                deliveries.push((
                    webhook_deliveries::subscription_id.eq(*subscription),
                    webhook_deliveries::event_id.eq(*event),
                    webhook_deliveries::status.eq(DeliveryStatus::Pending),
                    webhook_deliveries::attempts.eq(0),
                    webhook_deliveries::next_attempt_at.eq(at),
                    webhook_deliveries::created_at.eq(at),
                ));
            }
        }
        // A thousand rows (6,000 parameters) a statement keeps well inside
        // both databases' parameter limits, however many subscriptions.
        for chunk in deliveries.chunks(1_000) {
            with_conn!(conn, |c| diesel::insert_into(webhook_deliveries::table)
                .values(chunk)
                .execute(c))?;
        }
        let ids: Vec<i64> = events.iter().map(|(id, _, _, _)| *id).collect();
        with_conn!(conn, |c| diesel::update(
            outbox_events::table.filter(outbox_events::id.eq_any(&ids))
        )
        .set(outbox_events::dispatched_at.eq(Some(at)))
        .execute(c))?;
        Ok(events.len())
    })
}

/// A claimed delivery: what to post, where, with which key.
#[derive(Debug, Clone)]
pub struct Job {
    pub delivery_id: i64,
    pub subscription_id: i64,
    pub event_id: i64,
    pub url: String,
    pub secret: String,
    /// The body posted, the same on every attempt.
    pub body: String,
    pub event_created_at: NaiveDateTime,
    pub attempt: i32,
}

/// Takes up to `limit` due deliveries of active subscriptions for `lease`:
/// until it runs out no other worker takes them.
pub fn claim(conn: &mut DbConn, limit: i64, lease: TimeDelta) -> Result<Vec<Job>, Failure> {
    conn.transaction(|conn| {
        let at = now();
        let active = webhook_subscriptions::table
            .filter(webhook_subscriptions::active.eq(true))
            .select(webhook_subscriptions::id);
        let query = webhook_deliveries::table
            .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending))
            .filter(webhook_deliveries::subscription_id.eq_any(active))
            .filter(webhook_deliveries::next_attempt_at.le(at))
            .filter(
                webhook_deliveries::lease_until
                    .is_null()
                    .or(webhook_deliveries::lease_until.lt(at)),
            )
            .order(webhook_deliveries::next_attempt_at)
            .limit(limit)
            .select(webhook_deliveries::id);
        let due: Vec<i64> = match conn {
            DbConn::Postgres(c) => query.for_update().skip_locked().load(&mut ***c)?,
            DbConn::Sqlite(c) => query.load(&mut **c)?,
        };
        if due.is_empty() {
            return Ok(Vec::new());
        }
        with_conn!(conn, |c| diesel::update(
            webhook_deliveries::table.filter(webhook_deliveries::id.eq_any(&due))
        )
        .set((
            webhook_deliveries::lease_until.eq(Some(at + lease)),
            webhook_deliveries::attempts.eq(webhook_deliveries::attempts + 1),
        ))
        .execute(c))?;
        type Claimed = (DeliveryRow, String, String, bool, String, NaiveDateTime);
        let rows: Vec<Claimed> = with_conn!(conn, |c| webhook_deliveries::table
            .inner_join(webhook_subscriptions::table)
            .inner_join(outbox_events::table)
            .filter(webhook_deliveries::id.eq_any(&due))
            .select((
                DeliveryRow::as_select(),
                webhook_subscriptions::url,
                webhook_subscriptions::secret,
                webhook_subscriptions::active,
                outbox_events::payload,
                outbox_events::created_at,
            ))
            .load(c))?;
        Ok(rows
            .into_iter()
            .filter(|(_, _, _, active, _, _)| *active)
            .map(|(row, url, secret, _, payload, created_at)| Job {
                body: body(row.event_id, &payload, created_at),
                delivery_id: row.id,
                subscription_id: row.subscription_id,
                event_id: row.event_id,
                url,
                secret,
                event_created_at: created_at,
                attempt: row.attempts,
            })
            .collect())
    })
}

/// The JSON posted for an event: its id and time, then what the outbox stored.
fn body(event_id: i64, payload: &str, created_at: NaiveDateTime) -> String {
    let mut body = serde_json::Map::new();
    body.insert("id".into(), json!(format!("evt_{event_id}")));
    body.insert(
        "occurred_at".into(),
        json!(crate::platform::db::to_utc(created_at)
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
    );
    if let Ok(serde_json::Value::Object(stored)) = serde_json::from_str(payload) {
        body.extend(stored);
    }
    serde_json::Value::Object(body).to_string()
}

/// What one attempt came to.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status_code: Option<u16>,
    /// Why it failed (none: a 2xx answer).
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// When failed deliveries are tried again, and when they are given up.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// The first retry's delay; each next one doubles, at most an hour.
    pub first_retry: TimeDelta,
    /// A delivery still failing this long after its event is given up.
    pub give_up_after: TimeDelta,
    /// Deliveries given up in a row that disable a subscription.
    pub disable_after: i32,
}

impl RetryPolicy {
    /// When attempt number `attempt` (from 1) failed at `at`: the next
    /// attempt's time, or `None` when the delivery is given up.
    pub fn next_attempt(
        &self,
        attempt: i32,
        at: NaiveDateTime,
        event_at: NaiveDateTime,
    ) -> Option<NaiveDateTime> {
        let exponent = (attempt - 1).clamp(0, 20) as u32;
        let wait = (self.first_retry * 2_i32.saturating_pow(exponent)).min(TimeDelta::hours(1));
        let next = at + wait;
        (next - event_at <= self.give_up_after).then_some(next)
    }
}

/// Records a round's attempts in the order they are given, in one
/// transaction: one commit for the round, not one per delivery (a commit
/// waits for the log to reach the disk). If recording fails, nothing of
/// the round is recorded and its deliveries come due again when their
/// lease runs out: delivery stays at least once.
pub fn record_all(
    conn: &mut DbConn,
    attempts: &[(Job, Outcome)],
    policy: RetryPolicy,
) -> Result<(), Failure> {
    conn.transaction(|conn| {
        for (job, outcome) in attempts {
            record(conn, job, outcome, policy)?;
        }
        Ok(())
    })
}

/// Records an attempt, and what follows from it: delivered; or a retry
/// (see [`RetryPolicy`]); or, past its time, failed — and after enough
/// failed deliveries in a row, the subscription off.
fn record(
    conn: &mut DbConn,
    job: &Job,
    outcome: &Outcome,
    policy: RetryPolicy,
) -> Result<(), Failure> {
    let at = now();
    with_conn!(conn, |c| diesel::insert_into(webhook_attempts::table)
        .values((
            webhook_attempts::delivery_id.eq(job.delivery_id),
            webhook_attempts::at.eq(at),
            webhook_attempts::status_code.eq(outcome.status_code.map(i32::from)),
            webhook_attempts::error.eq(&outcome.error),
            webhook_attempts::duration_ms.eq(outcome.duration_ms),
        ))
        .execute(c))?;
    if outcome.error.is_none() {
        return delivered(conn, job, outcome, at);
    }
    match policy.next_attempt(job.attempt, at, job.event_created_at) {
        Some(next) => retry_at(conn, job, outcome, next),
        None => give_up(conn, job, outcome, policy.disable_after, at),
    }
}

fn delivered(
    conn: &mut DbConn,
    job: &Job,
    outcome: &Outcome,
    at: NaiveDateTime,
) -> Result<(), Failure> {
    with_conn!(conn, |c| diesel::update(
        webhook_deliveries::table.find(job.delivery_id)
    )
    .set((
        webhook_deliveries::status.eq(DeliveryStatus::Delivered),
        webhook_deliveries::delivered_at.eq(Some(at)),
        webhook_deliveries::lease_until.eq(None::<NaiveDateTime>),
        webhook_deliveries::last_status_code.eq(outcome.status_code.map(i32::from)),
        webhook_deliveries::last_error.eq(None::<String>),
    ))
    .execute(c))?;
    // Only when there is a run of failures to end: a round's twenty
    // deliveries to one subscription would otherwise rewrite its row
    // twenty times.
    with_conn!(conn, |c| diesel::update(
        webhook_subscriptions::table
            .find(job.subscription_id)
            .filter(webhook_subscriptions::consecutive_failures.ne(0))
    )
    .set(webhook_subscriptions::consecutive_failures.eq(0))
    .execute(c))?;
    Ok(())
}

fn retry_at(
    conn: &mut DbConn,
    job: &Job,
    outcome: &Outcome,
    next: NaiveDateTime,
) -> Result<(), Failure> {
    with_conn!(conn, |c| diesel::update(
        webhook_deliveries::table.find(job.delivery_id)
    )
    .set((
        webhook_deliveries::next_attempt_at.eq(next),
        webhook_deliveries::lease_until.eq(None::<NaiveDateTime>),
        webhook_deliveries::last_status_code.eq(outcome.status_code.map(i32::from)),
        webhook_deliveries::last_error.eq(&outcome.error),
    ))
    .execute(c))?;
    Ok(())
}

fn give_up(
    conn: &mut DbConn,
    job: &Job,
    outcome: &Outcome,
    disable_after: i32,
    at: NaiveDateTime,
) -> Result<(), Failure> {
    with_conn!(conn, |c| diesel::update(
        webhook_deliveries::table.find(job.delivery_id)
    )
    .set((
        webhook_deliveries::status.eq(DeliveryStatus::Failed),
        webhook_deliveries::lease_until.eq(None::<NaiveDateTime>),
        webhook_deliveries::last_status_code.eq(outcome.status_code.map(i32::from)),
        webhook_deliveries::last_error.eq(&outcome.error),
    ))
    .execute(c))?;
    let failures: i32 = with_conn!(conn, |c| diesel::update(
        webhook_subscriptions::table.find(job.subscription_id)
    )
    .set(
        webhook_subscriptions::consecutive_failures
            .eq(webhook_subscriptions::consecutive_failures + 1),
    )
    .returning(webhook_subscriptions::consecutive_failures)
    .get_result(c))?;
    if failures >= disable_after {
        with_conn!(conn, |c| diesel::update(
            webhook_subscriptions::table.find(job.subscription_id)
        )
        .set((
            webhook_subscriptions::active.eq(false),
            webhook_subscriptions::disabled_reason.eq(Some(format!(
                "{failures} deliveries in a row failed; resume it once the receiver works"
            ))),
            webhook_subscriptions::updated_at.eq(at),
        ))
        .execute(c))?;
        log::warn!(
            "webhook subscription {} disabled after {failures} failed deliveries",
            job.subscription_id
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_double_from_the_first_delay_to_an_hour_then_give_up_after_a_day() {
        let policy = RetryPolicy {
            first_retry: TimeDelta::seconds(30),
            give_up_after: TimeDelta::days(1),
            disable_after: 5,
        };
        let event = chrono::NaiveDate::from_ymd_opt(2026, 12, 1)
            .unwrap()
            .and_hms_opt(8, 0, 0)
            .unwrap();
        let waits: Vec<i64> = (1..=9)
            .map(|attempt| {
                (policy.next_attempt(attempt, event, event).unwrap() - event).num_seconds()
            })
            .collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        // The last retry that still falls within the day, and the one after.
        let late = event + TimeDelta::hours(23);
        assert!(policy.next_attempt(20, late, event).is_some());
        let later = event + TimeDelta::minutes(23 * 60 + 30);
        assert_eq!(policy.next_attempt(20, later, event), None);
    }
}
