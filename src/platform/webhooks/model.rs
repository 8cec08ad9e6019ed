//! Webhook subscriptions and deliveries: rows and what the API shows of
//! them. A subscription's secret is shown once, when it is created.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::platform::db::schema::{webhook_deliveries, webhook_subscriptions};
use crate::platform::db::{text_enum, to_utc};
use crate::platform::outbox::EventType;

text_enum! {
    /// Where a delivery stands.
    pub enum DeliveryStatus {
        /// Waiting for its first attempt or for a retry.
        Pending => "pending",
        /// The receiver answered 2xx.
        Delivered => "delivered",
        /// Given up: still failing when its time ran out (it can be replayed).
        Failed => "failed",
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_subscriptions)]
pub struct SubscriptionRow {
    pub id: i64,
    pub url: String,
    /// A JSON array of event types.
    pub event_types: String,
    pub admin_unit_code: Option<String>,
    pub secret: String,
    pub active: bool,
    pub consecutive_failures: i32,
    pub disabled_reason: Option<String>,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl SubscriptionRow {
    pub fn event_types(&self) -> Vec<EventType> {
        serde_json::from_str(&self.event_types).unwrap_or_default()
    }
}

/// A receiver of events (the secret is never shown again).
#[derive(Debug, Serialize, ToSchema)]
pub struct Subscription {
    pub id: i64,
    #[schema(example = "https://dulieu.hoabinh.gov.vn/hooks/songmay")]
    pub url: String,
    pub event_types: Vec<EventType>,
    /// Only events in this unit's subtree (events without a place — pledges,
    /// receipts — are not sent to a subscription limited to a unit).
    pub admin_unit_code: Option<String>,
    /// Off when an admin paused it, or after deliveries failed in a row.
    pub active: bool,
    /// Deliveries given up in a row (a delivered one resets it).
    pub consecutive_failures: i32,
    pub disabled_reason: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<SubscriptionRow> for Subscription {
    fn from(row: SubscriptionRow) -> Self {
        Self {
            event_types: row.event_types(),
            id: row.id,
            url: row.url,
            admin_unit_code: row.admin_unit_code,
            active: row.active,
            consecutive_failures: row.consecutive_failures,
            disabled_reason: row.disabled_reason,
            created_by: row.created_by,
            created_at: to_utc(row.created_at),
            updated_at: to_utc(row.updated_at),
        }
    }
}

/// A new subscription, with its signing secret: keep it, it is not shown again.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedSubscription {
    pub id: i64,
    pub url: String,
    pub event_types: Vec<EventType>,
    pub admin_unit_code: Option<String>,
    pub active: bool,
    /// `whsec_` and the base64 key that signs every delivery (HMAC-SHA256).
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"url": "https://dulieu.hoabinh.gov.vn/hooks/songmay", "event_types": ["need.approved", "need.fulfilled", "handover.recorded"], "admin_unit_code": "150"}))]
pub struct CreateSubscription {
    /// `https://` (or `http://`) and a host that does not resolve to a
    /// private or loopback address (unless `SONGMAY_WEBHOOK_ALLOW_PRIVATE`).
    #[validate(length(min = 1, max = 2000, message = "must be 1 to 2000 characters"))]
    #[schema(min_length = 1, max_length = 2000)]
    pub url: String,
    #[validate(length(min = 1, max = 50, message = "name 1 to 50 event types"))]
    #[schema(min_items = 1, max_items = 50)]
    pub event_types: Vec<EventType>,
    #[validate(length(min = 1, max = 16, message = "must be a GSO admin unit code"))]
    #[schema(min_length = 1, max_length = 16)]
    pub admin_unit_code: Option<String>,
}

/// Pause or resume a subscription, or change what it receives.
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"active": true}))]
pub struct SubscriptionPatch {
    /// `true` resumes a paused or disabled subscription (its failure count
    /// starts again from zero); `false` pauses it.
    pub active: Option<bool>,
    #[validate(length(min = 1, max = 50, message = "name 1 to 50 event types"))]
    #[schema(min_items = 1, max_items = 50)]
    pub event_types: Option<Vec<EventType>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionPage {
    pub items: Vec<Subscription>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries)]
pub struct DeliveryRow {
    pub id: i64,
    pub subscription_id: i64,
    pub event_id: i64,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub lease_until: Option<NaiveDateTime>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub delivered_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

/// One event on its way to one subscription.
#[derive(Debug, Serialize, ToSchema)]
pub struct Delivery {
    pub id: i64,
    pub subscription_id: i64,
    /// The event's id, as sent in `webhook-id` (`evt_<event_id>`).
    pub event_id: i64,
    pub event_type: EventType,
    pub status: DeliveryStatus,
    /// Attempts so far (each is kept: time, status code or error).
    pub attempts: i32,
    /// When the next attempt is due (pending deliveries).
    pub next_attempt_at: DateTime<Utc>,
    pub last_status_code: Option<i32>,
    /// Why the last attempt failed (a timeout, a refused connection, a
    /// status): never the receiver's answer body.
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl Delivery {
    pub fn from_row(row: DeliveryRow, event_type: EventType) -> Self {
        Self {
            id: row.id,
            subscription_id: row.subscription_id,
            event_id: row.event_id,
            event_type,
            status: row.status,
            attempts: row.attempts,
            next_attempt_at: to_utc(row.next_attempt_at),
            last_status_code: row.last_status_code,
            last_error: row.last_error,
            delivered_at: row.delivered_at.map(to_utc),
            created_at: to_utc(row.created_at),
        }
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryFilter {
    pub status: Option<DeliveryStatus>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryPage {
    /// Newest first.
    pub items: Vec<Delivery>,
    pub next_cursor: Option<String>,
}

/// The JSON body of every delivery (`POST` to the subscription's URL).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": "evt_4812", "occurred_at": "2026-12-01T08:15:02.123456Z", "type": "need.approved", "entity": "need", "entity_id": 73, "admin_unit_code": "04831", "data": {"need_id": 73, "status": "approved", "kind": "device", "school_id": 5, "student_id": 901, "priority": 40}}))]
pub struct WebhookEvent {
    /// The event's id, also in `webhook-id`: the same on every retry and
    /// replay, so a receiver can drop what it has seen.
    pub id: String,
    pub occurred_at: DateTime<Utc>,
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// The record's kind (`need`, `pledge`, `receipt`, `allocation`, `handover`).
    pub entity: String,
    pub entity_id: i64,
    /// Where it happened (a need's commune); null for province-wide records.
    pub admin_unit_code: Option<String>,
    /// Ids, statuses, kinds and amounts of the record — never a child's
    /// name, birth date or household status.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}
