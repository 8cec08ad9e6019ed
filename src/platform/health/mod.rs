//! Probes for load balancers and orchestrators: `/health` says the process
//! answers, `/ready` that it can serve (database reachable, schema current).

use actix_web::{get, web};
use serde::Serialize;
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

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(health).service(ready);
}
