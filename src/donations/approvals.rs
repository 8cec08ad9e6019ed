//! Four eyes on the riskiest money operations (README, "Four eyes"): a
//! purchase or a receipt's reversal above `SONGMAY_FOUR_EYES_VND` is not
//! carried out when asked; it waits as a `pending_approval` request until
//! a second finance officer — never the one who asked — approves it (it is
//! then carried out, in the approval's transaction, exactly as if asked
//! below the amount) or rejects it. Nothing reaches the ledger before.

use actix_web::{get, post, web};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

use crate::donations::funds::model::CreatePurchase;
use crate::platform::auth::{Principal, Role};
use crate::platform::db::schema::money_approvals;
use crate::platform::db::{with_conn, DbConn};
use crate::platform::error::Failure;
use crate::platform::http::json::Json;
use crate::platform::http::ApiError;
use crate::platform::state::AppState;

crate::platform::db::text_enum! {
    /// What waits for approval.
    pub enum Operation {
        /// `POST /purchases`.
        Purchase => "purchase",
        /// `POST /receipts/{id}/reversal`.
        Reversal => "reversal",
    }
}

crate::platform::db::text_enum! {
    /// Where a request for approval stands.
    pub enum ApprovalStatus {
        /// Waiting for a second finance officer.
        PendingApproval => "pending_approval",
        /// Approved and carried out (`result_id` names what it created).
        Approved => "approved",
        /// Rejected; nothing was carried out.
        Rejected => "rejected",
    }
}

/// A reversal as asked, kept until it is decided.
#[derive(Debug, Serialize, Deserialize)]
pub struct ReversalRequest {
    pub receipt_id: i64,
    pub reason: String,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = money_approvals)]
struct ApprovalRow {
    id: i64,
    operation: Operation,
    request: String,
    amount_vnd: i64,
    status: ApprovalStatus,
    requested_by: String,
    requested_at: NaiveDateTime,
    decided_by: Option<String>,
    decided_at: Option<NaiveDateTime>,
    reason: Option<String>,
    result_id: Option<i64>,
}

/// A money operation waiting for, or decided by, a second finance officer.
#[derive(Debug, Serialize, ToSchema)]
pub struct MoneyApproval {
    pub id: i64,
    pub operation: Operation,
    /// What was asked, as sent.
    pub request: serde_json::Value,
    pub amount_vnd: i64,
    pub status: ApprovalStatus,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    /// Why it was rejected.
    pub reason: Option<String>,
    /// The purchase or reversing receipt the approval created.
    pub result_id: Option<i64>,
}

impl From<ApprovalRow> for MoneyApproval {
    fn from(row: ApprovalRow) -> Self {
        Self {
            id: row.id,
            operation: row.operation,
            request: serde_json::from_str(&row.request).unwrap_or(serde_json::Value::Null),
            amount_vnd: row.amount_vnd,
            status: row.status,
            requested_by: row.requested_by,
            requested_at: crate::platform::db::to_utc(row.requested_at),
            decided_by: row.decided_by,
            decided_at: row.decided_at.map(crate::platform::db::to_utc),
            reason: row.reason,
            result_id: row.result_id,
        }
    }
}

/// Why a request is rejected.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "the supplier's quote is out of date"}))]
pub struct RejectApproval {
    #[validate(length(min = 1, max = 500, message = "must be 1 to 500 characters"))]
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

/// Records a request for approval (inside the caller's transaction).
pub fn request(
    conn: &mut DbConn,
    actor: &str,
    operation: Operation,
    asked: &impl Serialize,
    amount_vnd: i64,
) -> Result<MoneyApproval, Failure> {
    let asked = serde_json::to_string(asked).map_err(|e| Failure::internal(e.to_string()))?;
    let row: ApprovalRow = with_conn!(conn, |c| diesel::insert_into(money_approvals::table)
        .values((
            money_approvals::operation.eq(operation),
            money_approvals::request.eq(&asked),
            money_approvals::amount_vnd.eq(amount_vnd),
            money_approvals::status.eq(ApprovalStatus::PendingApproval),
            money_approvals::requested_by.eq(actor),
            money_approvals::requested_at.eq(crate::platform::db::now()),
        ))
        .returning(ApprovalRow::as_returning())
        .get_result(c))?;
    crate::platform::audit::record(
        conn,
        actor,
        "request_approval",
        "money_approval",
        &row.id.to_string(),
        json!({"operation": operation, "amount_vnd": amount_vnd}),
    )?;
    Ok(row.into())
}

fn find_for_update(conn: &mut DbConn, id: i64) -> Result<ApprovalRow, Failure> {
    crate::platform::db::per_backend!(conn,
        sqlite: |c| money_approvals::table
            .find(id)
            .select(ApprovalRow::as_select())
            .first(c)
            .optional(),
        postgres: |c| money_approvals::table
            .find(id)
            .select(ApprovalRow::as_select())
            .for_update()
            .first(c)
            .optional(),
    )?
    .ok_or_else(|| Failure::not_found("no approval request has this id"))
}

/// Decides a pending request: `Some(reason)` rejects it; `None` approves
/// it and carries it out. The one who asked cannot decide.
fn decide(
    conn: &mut DbConn,
    actor: &str,
    id: i64,
    rejection: Option<&str>,
) -> Result<MoneyApproval, Failure> {
    conn.transaction(|conn| {
        let row = find_for_update(conn, id)?;
        if row.status != ApprovalStatus::PendingApproval {
            return Err(Failure::conflict(format!(
                "this request is already {}",
                row.status
            )));
        }
        if row.requested_by == actor {
            return Err(Failure::forbidden(
                "a second finance officer must decide: not the one who asked",
            ));
        }
        let (status, result_id) = match rejection {
            Some(_) => (ApprovalStatus::Rejected, None),
            None => {
                // Carried out as its requester asked it, now.
                let created = match row.operation {
                    Operation::Purchase => {
                        let input: CreatePurchase = serde_json::from_str(&row.request)
                            .map_err(|e| Failure::internal(e.to_string()))?;
                        crate::donations::funds::queries::purchase(conn, &row.requested_by, input)?
                            .id
                    }
                    Operation::Reversal => {
                        let input: ReversalRequest = serde_json::from_str(&row.request)
                            .map_err(|e| Failure::internal(e.to_string()))?;
                        crate::donations::receipts::queries::reverse(
                            conn,
                            &row.requested_by,
                            input.receipt_id,
                            &input.reason,
                        )?
                        .id
                    }
                };
                (ApprovalStatus::Approved, Some(created))
            }
        };
        let decided: ApprovalRow =
            with_conn!(conn, |c| diesel::update(money_approvals::table.find(id))
                .set((
                    money_approvals::status.eq(status),
                    money_approvals::decided_by.eq(actor),
                    money_approvals::decided_at.eq(crate::platform::db::now()),
                    money_approvals::reason.eq(rejection),
                    money_approvals::result_id.eq(result_id),
                ))
                .returning(ApprovalRow::as_returning())
                .get_result(c))?;
        crate::platform::audit::record(
            conn,
            actor,
            if rejection.is_some() {
                "reject"
            } else {
                "approve"
            },
            "money_approval",
            &id.to_string(),
            json!({"operation": decided.operation, "result_id": result_id}),
        )?;
        Ok(decided.into())
    })
}

/// One request for approval (finance).
#[utoipa::path(
    tag = "donations",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Approval request id")),
    responses(
        (status = 200, description = "The request and its decision", body = MoneyApproval),
        (status = 404, description = "No such request", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/approvals/{id}")]
pub async fn get_approval(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
) -> Result<web::Json<MoneyApproval>, ApiError> {
    principal.require_duty(&[Role::FinanceOfficer])?;
    let id = id.into_inner();
    let row = state
        .db
        .run(move |conn| {
            with_conn!(conn, |c| money_approvals::table
                .find(id)
                .select(ApprovalRow::as_select())
                .first(c)
                .optional())?
            .ok_or_else(|| Failure::not_found("no approval request has this id"))
        })
        .await?;
    Ok(web::Json(row.into()))
}

/// Approve a purchase or reversal above the four-eyes amount.
///
/// A second finance officer: the one who asked gets 403. The operation is
/// carried out now, in this transaction, as asked (its own refusals —
/// the campaign's balance no longer covers it, the receipt was reversed
/// meanwhile — answer here and leave the request pending). 409 once decided.
#[utoipa::path(
    tag = "donations",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Approval request id")),
    responses(
        (status = 200, description = "Approved and carried out; `result_id` names the purchase or reversing receipt", body = MoneyApproval),
        (status = 404, description = "No such request", body = crate::platform::http::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already decided, or the operation is no longer possible", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/approvals/{id}/approve")]
pub async fn approve(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
) -> Result<web::Json<MoneyApproval>, ApiError> {
    principal.require_duty(&[Role::FinanceOfficer])?;
    let id = id.into_inner();
    let decided = state
        .db
        .run(move |conn| decide(conn, &principal.actor(), id, None))
        .await?;
    Ok(web::Json(decided))
}

/// Reject a purchase or reversal above the four-eyes amount.
///
/// A second finance officer, with a reason; nothing is carried out. 409
/// once decided.
#[utoipa::path(
    tag = "donations",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Approval request id")),
    request_body = RejectApproval,
    responses(
        (status = 200, description = "Rejected", body = MoneyApproval),
        (status = 404, description = "No such request", body = crate::platform::http::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already decided", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/approvals/{id}/reject")]
pub async fn reject(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
    body: Json<RejectApproval>,
) -> Result<web::Json<MoneyApproval>, ApiError> {
    principal.require_duty(&[Role::FinanceOfficer])?;
    let input = body.into_inner();
    input.validate()?;
    let id = id.into_inner();
    let decided = state
        .db
        .run(move |conn| decide(conn, &principal.actor(), id, Some(&input.reason)))
        .await?;
    Ok(web::Json(decided))
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(get_approval).service(approve).service(reject);
}
