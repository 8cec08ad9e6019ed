//! Receipts: what actually arrived — against a pledge or unsolicited,
//! donated or bought. Immutable: there is no route to edit or delete one;
//! `POST /receipts/{id}/reversal` records a reversing receipt instead.

pub mod acknowledgement;
pub mod model;
pub mod queries;

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

pub use model::*;

use crate::platform::auth::Realm;
use crate::platform::auth::{Principal, Role};
use crate::platform::config::LetterSettings;
use crate::platform::error::Failure;
use crate::platform::http::json::Json;
use crate::platform::http::pagination::PageQuery;
use crate::platform::http::ApiError;
use crate::platform::idempotency::{self, IdempotencyKey};
use crate::platform::state::AppState;

/// Record what arrived (admin, warehouse officers).
///
/// Updates the pledge's received totals and status and, for money, the ledger,
/// in one transaction. A bank reference can be recorded once (409). An
/// unknown `campaign_id`, `pledge_id`, `donor_id` or `purchase_id` is 422.
/// Honours `Idempotency-Key`.
#[utoipa::path(
    tag = "donations",
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key")),
    request_body = CreateReceipt,
    responses(
        (status = 201, description = "The receipt", body = Receipt),
        (status = 409, description = "The bank transfer is already recorded, or the pledge is closed", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/receipts")]
pub async fn create_receipt(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    body: Json<CreateReceipt>,
) -> Result<HttpResponse, ApiError> {
    principal.require(&[Role::WarehouseOfficer])?;
    let input = body.into_inner();
    input.validate()?;
    let key = IdempotencyKey::for_json(&req, &input)?;
    let (answer, replayed) = state
        .db
        .run(move |conn| {
            let actor = principal.actor();
            idempotency::run_once(conn, &actor, key.as_ref(), |conn| {
                let row = queries::create(conn, &actor, input)?;
                idempotency::json_answer_with(201, &Receipt::from(row))
            })
        })
        .await?;
    Ok(answer.into_response(replayed))
}

/// List receipts.
///
/// Admins and warehouse officers see all; a donor sees their own. Page with
/// `limit` and `cursor`.
#[utoipa::path(
    tag = "donations",
    security(("bearer" = [])),
    params(ReceiptFilter, PageQuery),
    responses((status = 200, description = "A page of receipts", body = ReceiptPage))
)]
#[get("/receipts")]
pub async fn list_receipts(
    state: web::Data<AppState>,
    principal: Principal,
    filter: web::Query<ReceiptFilter>,
    page: web::Query<PageQuery>,
) -> Result<web::Json<ReceiptPage>, ApiError> {
    principal.require(&[Role::WarehouseOfficer, Role::Donor])?;
    let page = page.parse::<i64>()?;
    let filter = filter.into_inner();
    let receipts = state
        .db
        .run(move |conn| {
            let scope = &principal.reach(conn, Realm::Donations)?;
            queries::list(conn, scope, &filter, &page)
        })
        .await?;
    Ok(web::Json(receipts))
}

/// One receipt in the caller's scope.
///
/// Another donor's receipt is 404.
#[utoipa::path(
    tag = "donations",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Receipt id")),
    responses(
        (status = 200, description = "The receipt", body = Receipt),
        (status = 404, description = "No such receipt in your scope", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/receipts/{id}")]
pub async fn get_receipt(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
) -> Result<web::Json<Receipt>, ApiError> {
    principal.require(&[Role::WarehouseOfficer, Role::Donor])?;
    let id = id.into_inner();
    let row = state
        .db
        .run(move |conn| {
            let scope = &principal.reach(conn, Realm::Donations)?;
            queries::find_visible(conn, scope, id)
        })
        .await?;
    Ok(web::Json(row.into()))
}

/// Reverse a receipt (admin).
///
/// A new receipt with the opposite amount or quantity; the pledge and the
/// ledger follow. A receipt is reversed once (409), and money already spent
/// cannot be reversed (409).
#[utoipa::path(
    tag = "donations",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Receipt id")),
    request_body = ReverseReceipt,
    responses(
        (status = 201, description = "The reversing receipt", body = Receipt),
        (status = 202, description = "Above the four-eyes amount: waiting for a second finance officer (`POST /approvals/{id}/approve`); nothing reversed yet", body = crate::donations::approvals::MoneyApproval),
        (status = 409, description = "Already reversed, a reversal itself, or the money was spent", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/receipts/{id}/reversal")]
pub async fn reverse_receipt(
    state: web::Data<AppState>,
    four_eyes: web::Data<crate::platform::config::FourEyes>,
    principal: Principal,
    id: web::Path<i64>,
    body: Json<ReverseReceipt>,
) -> Result<HttpResponse, ApiError> {
    principal.require_duty(&[Role::FinanceOfficer])?;
    let input = body.into_inner();
    input.validate()?;
    let id = id.into_inner();
    let four_eyes = four_eyes.above_vnd;
    let outcome = state
        .db
        .run(move |conn| {
            let actor = principal.actor();
            let amount = queries::find(conn, id)?.amount_vnd.unwrap_or(0).abs();
            if amount > four_eyes {
                let asked = crate::donations::approvals::ReversalRequest {
                    receipt_id: id,
                    reason: input.reason,
                };
                return Ok(Err(crate::donations::approvals::request(
                    conn,
                    &actor,
                    crate::donations::approvals::Operation::Reversal,
                    &asked,
                    amount,
                )?));
            }
            Ok(Ok(queries::reverse(conn, &actor, id, &input.reason)?))
        })
        .await?;
    Ok(match outcome {
        Ok(row) => HttpResponse::Created().json(Receipt::from(row)),
        Err(waiting) => HttpResponse::Accepted().json(waiting),
    })
}

/// The thank-you letter for a receipt.
///
/// JSON, printable HTML with `?format=html`, or a one-page A4 PDF with
/// `?format=pdf` (fonts embedded; admin, warehouse officers, the donor).
/// The gift in figures and, for money, in Vietnamese words; place and date
/// in Vietnamese form; the public reference to follow it; the signer from
/// `SONGMAY_LETTER_*`. A reversed receipt, or a reversal, has no letter (409).
#[utoipa::path(
    tag = "donations",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Receipt id"), AcknowledgementQuery),
    responses(
        (status = 200, description = "The letter", content((Acknowledgement = "application/json"), (String = "text/html"), (String = "application/pdf"))),
        (status = 404, description = "No such receipt in your scope", body = crate::platform::http::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The receipt was reversed (or is a reversal): no letter", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/receipts/{id}/acknowledgement")]
pub async fn acknowledge(
    state: web::Data<AppState>,
    settings: web::Data<LetterSettings>,
    principal: Principal,
    id: web::Path<i64>,
    query: web::Query<AcknowledgementQuery>,
) -> Result<HttpResponse, ApiError> {
    principal.require(&[Role::WarehouseOfficer, Role::Donor])?;
    let format = query.format.unwrap_or(LetterFormat::Json);
    let id = id.into_inner();
    let ack = state
        .db
        .run(move |conn| {
            let scope = &principal.reach(conn, Realm::Donations)?;
            let row = queries::find_visible(conn, scope, id)?;
            // A letter thanks for what arrived: a reversed receipt (or the
            // reversal itself) brought nothing to thank for.
            if row.reverses_id.is_some() || queries::is_reversed(conn, row.id)? {
                return Err(Failure::conflict(
                    "this receipt was reversed: there is no gift to thank for",
                ));
            }
            let donor = match row.donor_id {
                Some(donor) => crate::donations::donors::queries::find(conn, donor)?.name,
                None => "Quý nhà hảo tâm".to_owned(),
            };
            let campaign = crate::donations::campaigns::queries::find(conn, row.campaign_id)?.name;
            Ok(acknowledgement::letter(
                row.into(),
                donor,
                campaign,
                &settings,
            ))
        })
        .await?;
    match format {
        LetterFormat::Json => Ok(HttpResponse::Ok().json(ack)),
        LetterFormat::Html => Ok(HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(acknowledgement::render_html(&ack)?)),
        LetterFormat::Pdf => {
            let pdf = web::block(move || acknowledgement::render_pdf(&ack))
                .await
                .map_err(|e| ApiError::internal(format!("pdf worker: {e}")))??;
            Ok(HttpResponse::Ok()
                .content_type("application/pdf")
                .insert_header((
                    "Content-Disposition",
                    format!("inline; filename=\"thu-cam-on-{id}.pdf\""),
                ))
                .body(pdf))
        }
    }
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_receipt)
        .service(list_receipts)
        .service(get_receipt)
        .service(reverse_receipt)
        .service(acknowledge);
}
