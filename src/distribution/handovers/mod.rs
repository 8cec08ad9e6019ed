//! Handovers: the allocated device or package reaches the student (or a
//! parent or guardian). The need becomes `fulfilled`, the device
//! `handed_over`, and the gift stays traceable to its donor's pledge. The
//! receiver's name is personal data: only the roles that see the student
//! see it, and it never enters the audit log.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

use crate::distribution::allocations::AllocationStatus;
use crate::distribution::inventory::queries::{move_item, package_key, record, MovementRecord};
use crate::distribution::inventory::{ItemStatus, Movement};
use crate::needs::workflow::{Mover, NeedStatus};
use crate::platform::auth::{Principal, Role};
use crate::platform::db::schema::{allocations, handovers};
use crate::platform::db::{text_enum, with_conn, DbConn, WriteLock};
use crate::platform::error::ApiError;
use crate::platform::error::OrUnknown;
use crate::platform::http::json::Json;
use crate::platform::idempotency::{self, IdempotencyKey};
use crate::platform::state::AppState;
use crate::registry::students::queries::{Holding, StudentScope};

text_enum! {
    pub enum Relation {
        Student => "student",
        Parent => "parent",
        Guardian => "guardian",
        Other => "other",
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = handovers)]
pub struct HandoverRow {
    pub id: i64,
    pub allocation_id: i64,
    pub received_by_name: String,
    pub relation: Relation,
    pub handed_on: NaiveDate,
    pub handed_by: String,
    pub proof_ref: Option<String>,
    pub acknowledged: bool,
    pub returned_on: Option<NaiveDate>,
    pub return_reason: Option<String>,
    pub created_at: NaiveDateTime,
}

/// Where a handed-over gift came from.
#[derive(Debug, Serialize, ToSchema)]
pub struct Trace {
    pub need_id: i64,
    pub item_id: Option<i64>,
    pub package_id: Option<i64>,
    pub receipt_id: Option<i64>,
    pub pledge_id: Option<i64>,
    pub donor_id: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Handover {
    pub id: i64,
    pub allocation_id: i64,
    /// Who signed for it (personal data).
    pub received_by_name: String,
    pub relation: Relation,
    pub handed_on: NaiveDate,
    pub handed_by: String,
    /// A photo, document or signature reference.
    pub proof_ref: Option<String>,
    /// The student (or guardian) acknowledged receipt.
    pub acknowledged: bool,
    pub returned_on: Option<NaiveDate>,
    pub return_reason: Option<String>,
    pub trace: Trace,
}

#[derive(Debug, Deserialize, Serialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"allocation_id": 7, "received_by_name": "Đinh Văn Hùng", "relation": "parent", "handed_on": "2021-10-25", "proof_ref": "photo/2021/10/25/7.jpg", "acknowledged": true}))]
pub struct CreateHandover {
    pub allocation_id: i64,
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200)]
    pub received_by_name: String,
    pub relation: Relation,
    pub handed_on: NaiveDate,
    #[validate(length(max = 500, message = "must be at most 500 characters"))]
    #[schema(max_length = 500)]
    pub proof_ref: Option<String>,
    pub acknowledged: bool,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "the student moved away"}))]
pub struct ReturnDevice {
    #[validate(length(min = 1, max = 1000, message = "say why, in 1 to 1000 characters"))]
    #[schema(min_length = 1, max_length = 1000)]
    pub reason: String,
}

const HANDOVER_ROLES: &[Role] = &[Role::DistrictOfficer, Role::SchoolStaff];

/// What a fulfilled need of `kind` makes the student hold: a device need a
/// device; a connectivity or data-package need a connection. A software
/// licence does not change readiness.
fn holding_of(kind: crate::needs::NeedKind) -> Option<Holding> {
    use crate::needs::NeedKind;
    match kind {
        NeedKind::Device => Some(Holding::Device),
        NeedKind::Connectivity | NeedKind::DataPackage => Some(Holding::Connectivity),
        NeedKind::Software => None,
    }
}

fn trace(
    conn: &mut DbConn,
    allocation: &crate::distribution::allocations::AllocationRow,
) -> Result<Trace, ApiError> {
    let receipt_id = match (allocation.item_id, allocation.package_id) {
        (Some(item), _) => {
            Some(crate::distribution::inventory::queries::find_item(conn, item)?.receipt_id)
        }
        (None, Some(package)) => {
            Some(crate::distribution::inventory::queries::find_package(conn, package)?.receipt_id)
        }
        _ => None,
    };
    let receipt = receipt_id
        .map(|id| crate::donations::receipts::queries::find(conn, id))
        .transpose()?;
    Ok(Trace {
        need_id: allocation.need_id,
        item_id: allocation.item_id,
        package_id: allocation.package_id,
        receipt_id,
        pledge_id: receipt.as_ref().and_then(|r| r.pledge_id),
        donor_id: receipt.as_ref().and_then(|r| r.donor_id),
    })
}

fn to_dto(conn: &mut DbConn, row: HandoverRow) -> Result<Handover, ApiError> {
    let allocation = crate::distribution::allocations::queries::find(conn, row.allocation_id)?;
    Ok(Handover {
        trace: trace(conn, &allocation)?,
        id: row.id,
        allocation_id: row.allocation_id,
        received_by_name: row.received_by_name,
        relation: row.relation,
        handed_on: row.handed_on,
        handed_by: row.handed_by,
        proof_ref: row.proof_ref,
        acknowledged: row.acknowledged,
        returned_on: row.returned_on,
        return_reason: row.return_reason,
    })
}

fn hand_over(
    conn: &mut DbConn,
    actor: &str,
    scope: &StudentScope,
    input: &CreateHandover,
) -> Result<HandoverRow, ApiError> {
    conn.transaction(|conn| {
        conn.lock(WriteLock::Allocation)?;
        let allocation = crate::distribution::allocations::queries::find(conn, input.allocation_id)
            .or_unknown("allocation_id")?;
        crate::needs::queries::find_visible(conn, scope, allocation.need_id)
            .or_unknown("allocation_id")?;
        if allocation.status != AllocationStatus::Active {
            return Err(ApiError::conflict(format!("allocation {} is {}: nothing to hand over", allocation.id, allocation.status)));
        }
        with_conn!(conn, |c| diesel::update(allocations::table.find(allocation.id))
            .set((allocations::status.eq(AllocationStatus::HandedOver), allocations::updated_at.eq(crate::platform::db::now())))
            .execute(c))?;
        if let Some(item) = allocation.item_id {
            let item = crate::distribution::inventory::queries::find_item(conn, item)?;
            move_item(conn, actor, &item, ItemStatus::HandedOver, Movement::Handover, None)?;
        }
        if let Some(package_id) = allocation.package_id {
            let package = crate::distribution::inventory::queries::find_package(conn, package_id)?;
            record(conn, actor, MovementRecord {
                movement: Movement::Handover,
                warehouse_id: package.warehouse_id,
                stock_key: package_key(package_id),
                item_id: None,
                package_id: Some(package_id),
                from: Some(ItemStatus::Reserved.as_str()),
                to: Some(ItemStatus::HandedOver.as_str()),
                quantity: allocation.quantity,
                reason: None,
            })?;
        }
        let need = crate::needs::queries::transition(conn, actor, Mover::Distribution, &StudentScope::All, allocation.need_id, NeedStatus::Fulfilled, None)?;
        // Progress moves at the handover, in this transaction.
        if let (Some(student), Some(holding)) = (need.student_id, holding_of(need.kind)) {
            crate::registry::students::queries::set_holding(conn, actor, student, holding, true)?;
        }
        let row: HandoverRow = with_conn!(conn, |c| diesel::insert_into(handovers::table)
            .values((
                handovers::allocation_id.eq(allocation.id),
                handovers::received_by_name.eq(&input.received_by_name),
                handovers::relation.eq(input.relation),
                handovers::handed_on.eq(input.handed_on),
                handovers::handed_by.eq(actor),
                handovers::proof_ref.eq(&input.proof_ref),
                handovers::acknowledged.eq(input.acknowledged),
                handovers::created_at.eq(crate::platform::db::now()),
            ))
            .returning(HandoverRow::as_returning())
            .get_result(c))?;
        crate::platform::audit::record(
            conn,
            actor,
            "create",
            "handover",
            &row.id.to_string(),
            json!({"allocation_id": allocation.id, "relation": row.relation, "acknowledged": row.acknowledged}),
        )?;
        Ok(row)
    })
}

fn find_visible(conn: &mut DbConn, scope: &StudentScope, id: i64) -> Result<HandoverRow, ApiError> {
    let row: Option<HandoverRow> = with_conn!(conn, |c| handovers::table
        .find(id)
        .select(HandoverRow::as_select())
        .first(c)
        .optional())?;
    let row = row.ok_or_else(|| ApiError::not_found(String::from("no handover has this id")))?;
    let allocation = crate::distribution::allocations::queries::find(conn, row.allocation_id)?;
    crate::needs::queries::find_visible(conn, scope, allocation.need_id)
        .or_not_found(|| String::from("no handover has this id"))?;
    Ok(row)
}

/// Record a handover to the student.
///
/// Admins, district officers and school staff of the student's scope. The
/// allocation must be active (409 otherwise; an unknown `allocation_id` is
/// 422). The need becomes `fulfilled` and the device `handed_over` in one
/// transaction; the answer traces the gift back to its receipt, pledge and
/// donor. Honours `Idempotency-Key`.
#[utoipa::path(
    tag = "distribution",
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key")),
    request_body = CreateHandover,
    responses(
        (status = 201, description = "The handover, with where the gift came from", body = Handover),
        (status = 409, description = "The allocation is cancelled or already handed over", body = crate::platform::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/handovers")]
pub async fn create_handover(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    body: Json<CreateHandover>,
) -> Result<HttpResponse, ApiError> {
    principal.require(HANDOVER_ROLES)?;
    let input = body.into_inner();
    input.validate()?;
    let key = IdempotencyKey::for_json(&req, &input)?;
    let (answer, replayed) = state
        .db
        .run(move |conn| {
            let actor = principal.actor();
            let scope = StudentScope::of(conn, &principal)?;
            idempotency::run_once(conn, &actor, key.as_ref(), |conn| {
                let row = hand_over(conn, &actor, &scope, &input)?;
                idempotency::json_answer_with(201, &to_dto(conn, row)?)
            })
        })
        .await?;
    Ok(answer.into_response(replayed))
}

/// One handover in the caller's scope.
///
/// Includes the trace to the receipt, pledge and donor.
#[utoipa::path(
    tag = "distribution",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Handover id")),
    responses(
        (status = 200, description = "The handover", body = Handover),
        (status = 404, description = "No such handover in your scope", body = crate::platform::error::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/handovers/{id}")]
pub async fn get_handover(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
) -> Result<web::Json<Handover>, ApiError> {
    principal.require(HANDOVER_ROLES)?;
    let id = id.into_inner();
    let handover = state
        .db
        .run(move |conn| {
            let scope = StudentScope::of(conn, &principal)?;
            let row = find_visible(conn, &scope, id)?;
            to_dto(conn, row)
        })
        .await?;
    Ok(web::Json(handover))
}

/// A device comes back (the student moved, it broke).
///
/// It goes to `returned` and must be checked again before it is handed out again.
#[utoipa::path(
    tag = "distribution",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Handover id")),
    request_body = ReturnDevice,
    responses(
        (status = 200, description = "The handover, with its return", body = Handover),
        (status = 409, description = "Already returned, or not a device", body = crate::platform::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/handovers/{id}/return")]
pub async fn return_device(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
    body: Json<ReturnDevice>,
) -> Result<web::Json<Handover>, ApiError> {
    principal.require(HANDOVER_ROLES)?;
    let input = body.into_inner();
    input.validate()?;
    let id = id.into_inner();
    let handover = state
        .db
        .run(move |conn| {
            let scope = StudentScope::of(conn, &principal)?;
            let actor = principal.actor();
            let row = conn.transaction(|conn| {
                let row = find_visible(conn, &scope, id)?;
                if row.returned_on.is_some() {
                    return Err(ApiError::conflict(format!(
                        "handover {id} was already returned"
                    )));
                }
                let allocation =
                    crate::distribution::allocations::queries::find(conn, row.allocation_id)?;
                let item_id = allocation
                    .item_id
                    .ok_or_else(|| ApiError::conflict("data packages are not returned"))?;
                let item = crate::distribution::inventory::queries::find_item(conn, item_id)?;
                move_item(
                    conn,
                    &actor,
                    &item,
                    ItemStatus::Returned,
                    Movement::Return,
                    Some(&input.reason),
                )?;
                // The student no longer holds it: progress moves back.
                let need = crate::needs::queries::find_visible(
                    conn,
                    &StudentScope::All,
                    allocation.need_id,
                )?;
                if let Some(student) = need.student_id {
                    crate::registry::students::queries::set_holding(
                        conn,
                        &actor,
                        student,
                        Holding::Device,
                        false,
                    )?;
                }
                // A returned device is checked (and wiped) again before reuse.
                with_conn!(conn, |c| diesel::update(
                    crate::platform::db::schema::inventory_items::table.find(item_id)
                )
                .set((
                    crate::platform::db::schema::inventory_items::checked_by.eq(None::<String>),
                    crate::platform::db::schema::inventory_items::checked_at
                        .eq(None::<NaiveDateTime>),
                ))
                .execute(c))?;
                let row: HandoverRow =
                    with_conn!(conn, |c| diesel::update(handovers::table.find(id))
                        .set((
                            handovers::returned_on.eq(chrono::Utc::now().date_naive()),
                            handovers::return_reason.eq(&input.reason),
                        ))
                        .returning(HandoverRow::as_returning())
                        .get_result(c))?;
                crate::platform::audit::record(
                    conn,
                    &actor,
                    "return",
                    "handover",
                    &id.to_string(),
                    json!({"item_id": item_id}),
                )?;
                Ok(row)
            })?;
            to_dto(conn, row)
        })
        .await?;
    Ok(web::Json(handover))
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_handover)
        .service(get_handover)
        .service(return_device);
}
