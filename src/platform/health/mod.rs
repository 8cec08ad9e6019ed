//! Probes for load balancers and orchestrators: `/health` says the process
//! answers, `/ready` that it can serve (database reachable, schema current);
//! and `/metrics` for Prometheus, behind its own token.

use actix_web::{get, web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::platform::http::ApiError;
use crate::platform::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    #[schema(example = "ready")]
    pub status: String,
    /// `sqlite` or `postgres`.
    #[schema(example = "sqlite")]
    pub database: String,
}

/// Liveness: the process is up.
///
/// Touches nothing else; use it for a process supervisor, `/ready` for a load
/// balancer.
#[utoipa::path(tag = "operations", responses((status = 200, description = "Alive", body = Health)))]
#[get("/health")]
pub async fn health() -> web::Json<Health> {
    web::Json(Health {
        status: "ok".to_owned(),
    })
}

/// Readiness: the database answers and every migration is applied.
///
/// 503 while the database is unreachable or migrations are pending.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "Ready to serve", body = Readiness),
        (status = 503, description = "Database unreachable or schema behind", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/ready")]
pub async fn ready(state: web::Data<AppState>) -> Result<web::Json<Readiness>, ApiError> {
    let current = state.db.run(|conn| conn.migrations_current()).await?;
    if !current {
        return Err(ApiError::unavailable(
            "database schema is behind this binary; run `songmay migrate`",
        ));
    }
    Ok(web::Json(Readiness {
        status: "ready".to_owned(),
        database: state.db.backend_name().to_owned(),
    }))
}

/// Who may read `/metrics`: the SHA-256 of `SONGMAY_METRICS_TOKEN`
/// (compared as hashes, so the comparison says nothing about the token's
/// characters), or nobody when it is unset.
pub struct MetricsAccess(Option<[u8; 32]>);

impl MetricsAccess {
    pub fn new(token: Option<crate::platform::config::Secret>) -> Self {
        Self(token.map(|t| Sha256::digest(t.expose().as_bytes()).into()))
    }
}

/// Metrics in Prometheus' text format.
///
/// Requests by route template and status with their latency, the
/// connection pool, roster sync rows, allocation runs and the webhook
/// backlog (README, "Logs and metrics"). Needs `SONGMAY_METRICS_TOKEN` as
/// a bearer token; 404 while that setting is unset.
#[utoipa::path(
    tag = "operations",
    security(("metrics_token" = [])),
    responses(
        (status = 200, description = "Prometheus text exposition format 0.0.4", body = String, content_type = "text/plain"),
        (status = 401, description = "No metrics token sent", body = crate::platform::http::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the metrics token", body = crate::platform::http::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Metrics are off (`SONGMAY_METRICS_TOKEN` is unset)", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/metrics")]
pub async fn metrics(
    state: web::Data<AppState>,
    access: web::Data<MetricsAccess>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let Some(expected) = access.0 else {
        return Err(ApiError::not_found("metrics are off on this service"));
    };
    let sent = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    let Some(sent) = sent else {
        return Err(ApiError::unauthorized(
            "send the metrics token: Authorization: Bearer <token>",
        ));
    };
    let sent: [u8; 32] = Sha256::digest(sent.as_bytes()).into();
    if sent != expected {
        return Err(ApiError::forbidden("not the metrics token"));
    }
    let (in_use, idle, max) = state.db.pool_state();
    let (pending, failed, undispatched) = state.db.run(webhook_backlog).await?;
    let body = crate::platform::metrics::render(&crate::platform::metrics::Snapshot {
        pool_in_use: in_use.into(),
        pool_idle: idle.into(),
        pool_max: max.into(),
        webhooks_pending: pending,
        webhooks_failed: failed,
        webhooks_undispatched: undispatched,
    });
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(body))
}

/// Deliveries pending and failed, and outbox events not yet fanned out.
fn webhook_backlog(
    conn: &mut crate::platform::db::DbConn,
) -> Result<(i64, i64, i64), crate::platform::error::Failure> {
    use crate::platform::db::schema::{outbox_events, webhook_deliveries};
    let by_status: Vec<(String, i64)> = crate::platform::db::with_conn!(conn, |c| {
        webhook_deliveries::table
            .filter(webhook_deliveries::status.ne("delivered"))
            .group_by(webhook_deliveries::status)
            .select((webhook_deliveries::status, diesel::dsl::count_star()))
            .load(c)
    })?;
    let count = |status: &str| {
        by_status
            .iter()
            .find(|(s, _)| s == status)
            .map_or(0, |(_, n)| *n)
    };
    let undispatched: i64 = crate::platform::db::with_conn!(conn, |c| outbox_events::table
        .filter(outbox_events::dispatched_at.is_null())
        .count()
        .get_result(c))?;
    Ok((count("pending"), count("failed"), undispatched))
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(health).service(ready).service(metrics);
}
