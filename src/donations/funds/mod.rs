//! The money: each campaign's ledger and balance (derived, never stored),
//! suppliers, and purchases paid from a campaign's balance.

pub mod model;
pub mod queries;

use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

pub use model::*;

use crate::platform::auth::{Principal, Role};
use crate::platform::http::json::Json;
use crate::platform::http::pagination::PageQuery;
use crate::platform::http::ApiError;
use crate::platform::idempotency::{self, IdempotencyKey};
use crate::platform::state::AppState;

/// A campaign's ledger, oldest first (admin, statistics readers).
///
/// Every movement of the campaign's money between two accounts; page with
/// `limit` and `cursor`.
#[utoipa::path(
    tag = "donations",
    security(("bearer" = [])),
    params(CampaignQuery, PageQuery),
    responses(
        (status = 200, description = "A page of ledger entries", body = LedgerPage),
        (status = 404, description = "No such campaign", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/funds/ledger")]
pub async fn ledger(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<CampaignQuery>,
    page: web::Query<PageQuery>,
) -> Result<web::Json<LedgerPage>, ApiError> {
    principal.require(&[Role::StatsReader, Role::FinanceOfficer])?;
    let page = page.parse::<i64>()?;
    let campaign = query.campaign_id;
    let entries = state
        .db
        .run(move |conn| {
            crate::donations::campaigns::queries::find(conn, campaign)?;
            queries::ledger(conn, campaign, &page)
        })
        .await?;
    Ok(web::Json(entries))
}

/// A campaign's balance, summed from its ledger.
///
/// Admins, warehouse officers and statistics readers. Never stored: always
/// summed from the ledger entries.
#[utoipa::path(
    tag = "donations",
    security(("bearer" = [])),
    params(CampaignQuery),
    responses(
        (status = 200, description = "Received, spent, reversed and the balance, in đồng", body = Balance),
        (status = 404, description = "No such campaign", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/funds/balance")]
pub async fn balance(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<CampaignQuery>,
) -> Result<web::Json<Balance>, ApiError> {
    principal.require(&[
        Role::StatsReader,
        Role::WarehouseOfficer,
        Role::FinanceOfficer,
    ])?;
    let campaign = query.campaign_id;
    let balance = state
        .db
        .run(move |conn| {
            crate::donations::campaigns::queries::find(conn, campaign)?;
            queries::balance(conn, campaign)
        })
        .await?;
    Ok(web::Json(balance))
}

/// The trial balance: every account's debits, credits and balance.
///
/// Admins, warehouse officers and statistics readers. Summed from the
/// ledger, whose entries each move a positive amount from a credit account
/// to a debit account (chart of accounts in README): total debits equal
/// total credits, and a campaign's `fund:<id>` balance equals
/// `GET /funds/balance`. `campaign_id` restricts it to one campaign (404 if
/// there is no such campaign).
#[utoipa::path(
    tag = "donations",
    security(("bearer" = [])),
    params(TrialBalanceQuery),
    responses(
        (status = 200, description = "Debits, credits and balance per account, in đồng", body = TrialBalance),
        (status = 404, description = "No such campaign", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/funds/trial-balance")]
pub async fn trial_balance(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<TrialBalanceQuery>,
) -> Result<web::Json<TrialBalance>, ApiError> {
    principal.require(&[
        Role::StatsReader,
        Role::WarehouseOfficer,
        Role::FinanceOfficer,
    ])?;
    let campaign = query.campaign_id;
    let trial = state
        .db
        .run(move |conn| {
            if let Some(campaign) = campaign {
                crate::donations::campaigns::queries::find(conn, campaign)?;
            }
            queries::trial_balance(conn, campaign)
        })
        .await?;
    Ok(web::Json(trial))
}

/// Register a supplier (admin).
///
/// A tax code can belong to one supplier only (409).
#[utoipa::path(
    tag = "donations",
    security(("bearer" = [])),
    request_body = CreateSupplier,
    responses(
        (status = 201, description = "The supplier", body = Supplier),
        (status = 409, description = "A supplier with this tax code exists", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/suppliers")]
pub async fn create_supplier(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<CreateSupplier>,
) -> Result<HttpResponse, ApiError> {
    principal.require_duty(&[Role::FinanceOfficer])?;
    let input = body.into_inner();
    input.validate()?;
    let row = state
        .db
        .run(move |conn| queries::create_supplier(conn, &principal.actor(), input))
        .await?;
    Ok(HttpResponse::Created().json(row))
}

/// The suppliers, oldest first (admin, warehouse officers).
///
/// Page with `limit` and `cursor`.
#[utoipa::path(
    tag = "donations",
    security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, description = "A page of suppliers", body = SupplierPage))
)]
#[get("/suppliers")]
pub async fn list_suppliers(
    state: web::Data<AppState>,
    principal: Principal,
    page: web::Query<PageQuery>,
) -> Result<web::Json<SupplierPage>, ApiError> {
    principal.require(&[Role::WarehouseOfficer, Role::FinanceOfficer])?;
    let page = page.parse::<i64>()?;
    Ok(web::Json(
        state
            .db
            .run(move |conn| queries::suppliers(conn, &page))
            .await?,
    ))
}

/// One supplier.
///
/// Admins and warehouse officers.
#[utoipa::path(
    tag = "donations",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Supplier id")),
    responses(
        (status = 200, description = "One supplier", body = Supplier),
        (status = 404, description = "No such record in your scope", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/suppliers/{id}")]
pub async fn get_supplier(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
) -> Result<web::Json<Supplier>, ApiError> {
    principal.require(&[Role::WarehouseOfficer, Role::FinanceOfficer])?;
    let id = id.into_inner();
    let found = state
        .db
        .run(move |conn| queries::find_supplier(conn, id))
        .await?;
    Ok(web::Json(found))
}

/// Buy with a campaign's money at the negotiated price (finance).
///
/// Above `SONGMAY_FOUR_EYES_VND` the purchase waits for a second finance
/// officer (202 with the request). The total is paid from the campaign's balance in the same transaction;
/// refused with 409 when the balance does not cover it, also when several
/// purchases arrive at once. An unknown `campaign_id` or `supplier_id` is 422.
/// Honours `Idempotency-Key`.
#[utoipa::path(
    tag = "donations",
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key")),
    request_body = CreatePurchase,
    responses(
        (status = 201, description = "The purchase", body = Purchase),
        (status = 202, description = "Above the four-eyes amount: waiting for a second finance officer (`POST /approvals/{id}/approve`); nothing paid yet", body = crate::donations::approvals::MoneyApproval),
        (status = 409, description = "It would overspend the campaign's balance", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/purchases")]
pub async fn create_purchase(
    state: web::Data<AppState>,
    four_eyes: web::Data<crate::platform::config::FourEyes>,
    principal: Principal,
    req: HttpRequest,
    body: Json<CreatePurchase>,
) -> Result<HttpResponse, ApiError> {
    principal.require_duty(&[Role::FinanceOfficer])?;
    let input = body.into_inner();
    input.validate()?;
    let key = IdempotencyKey::for_json(&req, &input)?;
    let four_eyes = four_eyes.above_vnd;
    let (answer, replayed) = state
        .db
        .run(move |conn| {
            let actor = principal.actor();
            idempotency::run_once(conn, &actor, key.as_ref(), |conn| {
                // A total beyond any amount is the purchase's own refusal, below.
                let total = input
                    .unit_price_vnd
                    .get()
                    .saturating_mul(input.quantity.into());
                let payable = crate::platform::money::Vnd::new(total).is_some();
                if payable && total > four_eyes {
                    let waiting = crate::donations::approvals::request(
                        conn,
                        &actor,
                        crate::donations::approvals::Operation::Purchase,
                        &input,
                        total,
                    )?;
                    return idempotency::json_answer_with(202, &waiting);
                }
                idempotency::json_answer_with(201, &queries::purchase(conn, &actor, input)?)
            })
        })
        .await?;
    Ok(answer.into_response(replayed))
}

/// A campaign's purchases, oldest first (admin, warehouse officers).
///
/// Page with `limit` and `cursor`.
#[utoipa::path(
    tag = "donations",
    security(("bearer" = [])),
    params(CampaignQuery, PageQuery),
    responses(
        (status = 200, description = "A page of purchases", body = PurchasePage),
        (status = 404, description = "No such campaign", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/purchases")]
pub async fn list_purchases(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<CampaignQuery>,
    page: web::Query<PageQuery>,
) -> Result<web::Json<PurchasePage>, ApiError> {
    principal.require(&[Role::WarehouseOfficer, Role::FinanceOfficer])?;
    let campaign = query.campaign_id;
    let page = page.parse::<i64>()?;
    Ok(web::Json(
        state
            .db
            .run(move |conn| {
                crate::donations::campaigns::queries::find(conn, campaign)?;
                queries::purchases_of(conn, campaign, &page)
            })
            .await?,
    ))
}

/// One purchase.
///
/// Admins and warehouse officers.
#[utoipa::path(
    tag = "donations",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Purchase id")),
    responses(
        (status = 200, description = "One purchase", body = Purchase),
        (status = 404, description = "No such record in your scope", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/purchases/{id}")]
pub async fn get_purchase(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
) -> Result<web::Json<Purchase>, ApiError> {
    principal.require(&[Role::WarehouseOfficer, Role::FinanceOfficer])?;
    let id = id.into_inner();
    let found = state
        .db
        .run(move |conn| queries::find_purchase(conn, id))
        .await?;
    Ok(web::Json(found))
}

/// Change a supplier (admin).
///
/// A tax code another supplier has is 409; `null` clears the tax code or the contact. Send `If-Match` with the version you read (the ETag of GET):
/// without it 428, with a stale one 412.
#[utoipa::path(
    tag = "donations",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "Supplier id"),
        ("If-Match" = String, Header, description = "The version you read, e.g. \"3\""),
    ),
    request_body = SupplierPatch,
    responses(
        (status = 200, description = "After the change", body = Supplier),
        (status = 404, description = "No such record", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/suppliers/{id}")]
pub async fn update_supplier(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    id: web::Path<i64>,
    body: Json<SupplierPatch>,
) -> Result<web::Json<Supplier>, ApiError> {
    principal.require_duty(&[Role::FinanceOfficer])?;
    let expected = crate::platform::http::versioning::required_if_match(&req)?;
    let patch = body.into_inner();
    patch.validate()?;
    let id = id.into_inner();
    let row = state
        .db
        .run(move |conn| queries::update_supplier(conn, &principal.actor(), id, &patch, expected))
        .await?;
    Ok(web::Json(row))
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(ledger)
        .service(balance)
        .service(trial_balance)
        .service(create_supplier)
        .service(list_suppliers)
        .service(get_supplier)
        .service(update_supplier)
        .service(create_purchase)
        .service(list_purchases)
        .service(get_purchase);
}
