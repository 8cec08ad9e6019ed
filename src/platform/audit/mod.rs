//! The audit log: one row for every write, made by [`record`] inside the
//! write's own transaction (so a rolled-back write leaves no audit row and a
//! committed one always has one). `GET /api/v1/audit-log` for admins.

mod model;
pub mod queries;

use actix_web::{get, web};
use utoipa_actix_web::service_config::ServiceConfig;

pub use model::{AuditEntry, AuditFilter, AuditPage};
pub use queries::{record, record_each, sent_fields};

use crate::platform::auth::Principal;
use crate::platform::http::pagination::PageQuery;
use crate::platform::http::ApiError;
use crate::platform::state::AppState;

/// Who wrote what, newest first (admin).
///
/// Filter by entity, entity id, actor and action, and by time with `since` and `until`
/// (RFC 3339). The summaries never contain personal data.
#[utoipa::path(
    tag = "audit",
    security(("bearer" = [])),
    params(AuditFilter, PageQuery),
    responses((status = 200, description = "A page of audit entries, newest first", body = AuditPage))
)]
#[get("/audit-log")]
pub async fn list_audit_log(
    state: web::Data<AppState>,
    principal: Principal,
    filter: web::Query<AuditFilter>,
    page: web::Query<PageQuery>,
) -> Result<web::Json<AuditPage>, ApiError> {
    principal.require_admin()?;
    let page = page.parse::<i64>()?;
    let filter = filter.into_inner();
    let page = state
        .db
        .run(move |conn| queries::list(conn, &filter, &page))
        .await?;
    Ok(web::Json(page))
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_audit_log);
}
