//! Signed webhooks, so the donor portal, the district dashboards and the
//! provincial data-sharing platform hear of changes without polling. Admins
//! subscribe a URL to event types (optionally one part of the province);
//! events come from the transactional outbox (`platform::outbox`), are
//! posted by the worker with an HMAC-SHA256 signature, retried with
//! exponential backoff for a day, and every attempt is kept.

pub mod model;
pub mod queries;
pub mod signing;
pub mod target;
pub mod worker;

use actix_web::{get, patch, post, web, HttpResponse};
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

pub use model::*;

use crate::platform::auth::Principal;
use crate::platform::config::WebhookSettings;
use crate::platform::http::json::Json;
use crate::platform::http::pagination::PageQuery;
use crate::platform::http::ApiError;
use crate::platform::state::AppState;

/// Subscribe a URL to events (admin).
///
/// The answer carries the signing `secret`, once. The URL must be http(s)
/// and resolve to a public address (422 `url` with code `url`,
/// `unresolved` or `private_target`) unless the service runs with
/// `SONGMAY_WEBHOOK_ALLOW_PRIVATE`. Deliveries are POSTs of an event as
/// JSON with `webhook-id`, `webhook-timestamp` and `webhook-signature`
/// headers (see the `webhooks` section of this document).
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    request_body = CreateSubscription,
    responses(
        (status = 201, description = "The subscription and its secret (shown once)", body = CreatedSubscription),
    )
)]
#[post("/webhooks")]
pub async fn create_subscription(
    state: web::Data<AppState>,
    settings: web::Data<WebhookSettings>,
    principal: Principal,
    body: Json<CreateSubscription>,
) -> Result<HttpResponse, ApiError> {
    principal.require_admin()?;
    let input = body.into_inner();
    input.validate()?;
    let refused =
        |refusal: target::Refusal| ApiError::invalid_field("url", refusal.code(), refusal.reason());
    let destination = target::parse(&input.url).map_err(refused)?;
    target::check(&destination, settings.allow_private)
        .await
        .map_err(refused)?;
    let secret = signing::new_secret();
    let url = destination.uri.to_string();
    let row = state
        .db
        .run({
            let secret = secret.clone();
            move |conn| queries::create(conn, &principal.actor(), &url, &input, &secret)
        })
        .await?;
    let created = CreatedSubscription {
        event_types: row.event_types(),
        id: row.id,
        url: row.url,
        admin_unit_code: row.admin_unit_code,
        active: row.active,
        secret,
        created_at: crate::platform::db::to_utc(row.created_at),
    };
    Ok(HttpResponse::Created().json(created))
}

/// Webhook subscriptions (admin), oldest first.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, description = "A page of subscriptions", body = SubscriptionPage))
)]
#[get("/webhooks")]
pub async fn list_subscriptions(
    state: web::Data<AppState>,
    principal: Principal,
    page: web::Query<PageQuery>,
) -> Result<web::Json<SubscriptionPage>, ApiError> {
    principal.require_admin()?;
    let page = page.parse::<i64>()?;
    let subscriptions = state.db.run(move |conn| queries::list(conn, &page)).await?;
    Ok(web::Json(subscriptions))
}

/// One subscription (admin); its secret is not shown again.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Subscription id")),
    responses(
        (status = 200, description = "The subscription", body = Subscription),
        (status = 404, description = "No such subscription", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/webhooks/{id}")]
pub async fn get_subscription(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
) -> Result<web::Json<Subscription>, ApiError> {
    principal.require_admin()?;
    let id = id.into_inner();
    let row = state.db.run(move |conn| queries::find(conn, id)).await?;
    Ok(web::Json(row.into()))
}

/// Pause, resume or retarget a subscription (admin).
///
/// `active: true` resumes one that was paused or disabled after failures;
/// its deliveries still pending go out again.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Subscription id")),
    request_body = SubscriptionPatch,
    responses(
        (status = 200, description = "The subscription after the change", body = Subscription),
        (status = 404, description = "No such subscription", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/webhooks/{id}")]
pub async fn update_subscription(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
    body: Json<SubscriptionPatch>,
) -> Result<web::Json<Subscription>, ApiError> {
    principal.require_admin()?;
    let patch = body.into_inner();
    patch.validate()?;
    let id = id.into_inner();
    let row = state
        .db
        .run(move |conn| queries::update(conn, &principal.actor(), id, &patch))
        .await?;
    Ok(web::Json(row.into()))
}

/// A subscription's deliveries (admin), newest first: status, attempts,
/// the last status code or error.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Subscription id"), DeliveryFilter, PageQuery),
    responses(
        (status = 200, description = "A page of deliveries", body = DeliveryPage),
        (status = 404, description = "No such subscription", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/webhooks/{id}/deliveries")]
pub async fn list_deliveries(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
    filter: web::Query<DeliveryFilter>,
    page: web::Query<PageQuery>,
) -> Result<web::Json<DeliveryPage>, ApiError> {
    principal.require_admin()?;
    let page = page.parse::<i64>()?;
    let id = id.into_inner();
    let filter = filter.into_inner();
    let deliveries = state
        .db
        .run(move |conn| queries::deliveries(conn, id, &filter, &page))
        .await?;
    Ok(web::Json(deliveries))
}

/// Send a delivery again now (admin): a failed one once the receiver is
/// fixed, or one a receiver lost. 409 while the subscription is not active.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "Subscription id"),
        ("delivery_id" = i64, Path, description = "Delivery id"),
    ),
    responses(
        (status = 200, description = "The delivery, pending again", body = Delivery),
        (status = 404, description = "No such delivery of this subscription", body = crate::platform::http::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The subscription is not active", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/webhooks/{id}/deliveries/{delivery_id}/replay")]
pub async fn replay_delivery(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(i64, i64)>,
) -> Result<web::Json<Delivery>, ApiError> {
    principal.require_admin()?;
    let (id, delivery) = path.into_inner();
    let replayed = state
        .db
        .run(move |conn| queries::replay(conn, &principal.actor(), id, delivery))
        .await?;
    Ok(web::Json(replayed))
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_subscription)
        .service(list_subscriptions)
        .service(get_subscription)
        .service(update_subscription)
        .service(list_deliveries)
        .service(replay_delivery);
}
