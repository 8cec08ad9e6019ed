//! Online-teaching platforms: technology partners offer them (free, at a
//! discount or at a price per student), the Department reviews and
//! recommends suitable ones, and schools record which recommended
//! platforms they use and for how many students. The public sees the
//! recommended ones with their uptake.

pub mod model;
pub mod queries;
pub mod workflow;

use actix_web::{delete, get, patch, post, put, web, HttpRequest, HttpResponse};
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

pub use model::*;
use queries::Owner;

use crate::platform::auth::{Account, Principal, Realm, Role};
use crate::platform::error::Failure;
use crate::platform::http::json::Json;
use crate::platform::http::pagination::PageQuery;
use crate::platform::http::versioning;
use crate::platform::http::ApiError;
use crate::platform::state::AppState;

/// Who records a school's platforms: its staff, the district's officers,
/// the Department.
const SCHOOL_ROLES: &[Role] = &[Role::SchoolStaff, Role::DistrictOfficer];

/// Whose offers the caller works on: the Department every offer, a
/// technology partner its own.
fn owner(principal: &Principal) -> Result<Owner, Failure> {
    principal.require(&[Role::TechPartner])?;
    match (principal.role, &principal.account) {
        (Role::TechPartner, Account::User { id, .. }) => Ok(Owner::Partner(*id)),
        _ => Ok(Owner::Department),
    }
}

/// Offer a platform (technology partners; the Department for a platform it
/// found itself).
///
/// Terms (free, a discount or a price per student, the period and
/// conditions), the school levels and grades it suits, where pupils' data
/// is kept and child-safety notes. It starts `proposed`; the Department
/// reviews it.
#[utoipa::path(
    tag = "teaching",
    security(("bearer" = [])),
    request_body = CreateOffer,
    responses((status = 201, description = "The offer, proposed", body = Offer))
)]
#[post("/platform-offers")]
pub async fn create_offer(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<CreateOffer>,
) -> Result<HttpResponse, ApiError> {
    owner(&principal)?;
    let Account::User { id: submitter, .. } = principal.account else {
        return Err(Failure::forbidden("offers are submitted by people's accounts").into());
    };
    let input = body.into_inner();
    input.validate()?;
    let row = state
        .db
        .run(move |conn| queries::create(conn, &principal.actor(), submitter, input))
        .await?;
    Ok(HttpResponse::Created().json(Offer::of(row, None)))
}

/// The offers a caller works on, oldest first.
///
/// The Department (admin) sees every offer, a technology partner its own.
/// Filters `status` and `kind`; page with `limit` and `cursor`.
#[utoipa::path(
    tag = "teaching",
    security(("bearer" = [])),
    params(OfferFilter, PageQuery),
    responses((status = 200, description = "A page of offers", body = OfferPage))
)]
#[get("/platform-offers")]
pub async fn list_offers(
    state: web::Data<AppState>,
    principal: Principal,
    filter: web::Query<OfferFilter>,
    page: web::Query<PageQuery>,
) -> Result<web::Json<OfferPage>, ApiError> {
    let owner = owner(&principal)?;
    let page = page.parse::<i64>()?;
    let filter = filter.into_inner();
    let found = state
        .db
        .run(move |conn| queries::page(conn, owner, &filter, &page))
        .await?;
    Ok(web::Json(found))
}

/// One offer with its review history.
///
/// Every move with who made it and why. Another partner's offer answers
/// 404, like one that does not exist.
#[utoipa::path(
    tag = "teaching",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Offer id")),
    responses(
        (status = 200, description = "The offer", body = Offer),
        (status = 404, description = "No such offer of yours", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/platform-offers/{id}")]
pub async fn get_offer(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
) -> Result<web::Json<Offer>, ApiError> {
    let owner = owner(&principal)?;
    let id = id.into_inner();
    let offer = state
        .db
        .run(move |conn| {
            let row = queries::find_owned(conn, owner, id)?;
            let history = queries::history(conn, id)?;
            Ok(Offer::of(row, Some(history)))
        })
        .await?;
    Ok(web::Json(offer))
}

/// Change a proposed offer, or a refused one before resubmitting it.
///
/// Send `If-Match` with the version you read (the ETag of GET): without it
/// 428, with a stale one 412. An offer under review, recommended or
/// withdrawn is not edited (409). Another partner's offer answers 404.
#[utoipa::path(
    tag = "teaching",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "Offer id"),
        ("If-Match" = String, Header, description = "The version you read, e.g. \"3\""),
    ),
    request_body = OfferPatch,
    responses(
        (status = 200, description = "The offer after the change", body = Offer),
        (status = 404, description = "No such offer of yours", body = crate::platform::http::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The offer is under review, recommended or withdrawn", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/platform-offers/{id}")]
pub async fn update_offer(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    id: web::Path<i64>,
    body: Json<OfferPatch>,
) -> Result<web::Json<Offer>, ApiError> {
    let owner = owner(&principal)?;
    let expected = versioning::required_if_match(&req)?;
    let patch = body.into_inner();
    patch.validate()?;
    let id = id.into_inner();
    let row = state
        .db
        .run(move |conn| queries::update(conn, &principal.actor(), owner, id, patch, expected))
        .await?;
    Ok(web::Json(Offer::of(row, None)))
}

/// Move an offer through the review.
///
/// The Department (admin): `proposed → under_review → recommended |
/// not_recommended`, and `recommended → not_recommended`; a partner gets
/// 403 for these. The partner: `not_recommended → proposed` (resubmitted)
/// and `withdrawn` from any state but withdrawn. `not_recommended` and
/// `withdrawn` need a `reason` (422). Any other move is 409.
#[utoipa::path(
    tag = "teaching",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Offer id")),
    request_body = OfferTransition,
    responses(
        (status = 200, description = "The offer after the move", body = Offer),
        (status = 404, description = "No such offer of yours", body = crate::platform::http::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not a move of the review", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/platform-offers/{id}/transitions")]
pub async fn transition_offer(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
    body: Json<OfferTransition>,
) -> Result<web::Json<Offer>, ApiError> {
    let owner = owner(&principal)?;
    let request = body.into_inner();
    request.validate()?;
    let id = id.into_inner();
    let row = state
        .db
        .run(move |conn| queries::transition(conn, &principal.actor(), owner, id, request))
        .await?;
    Ok(web::Json(Offer::of(row, None)))
}

/// The platforms a school records using.
///
/// School staff for their school, district officers in their area, admin.
/// Each with the offer's status now (a platform withdrawn after the school
/// chose it stays listed).
#[utoipa::path(
    tag = "teaching",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "School id")),
    responses(
        (status = 200, description = "The school's platforms", body = AdoptionList),
        (status = 404, description = "No such school in your scope", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/schools/{id}/platforms")]
pub async fn school_platforms(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
) -> Result<web::Json<AdoptionList>, ApiError> {
    principal.require(SCHOOL_ROLES)?;
    let school_id = id.into_inner();
    let items = state
        .db
        .run(move |conn| {
            let reach = principal.reach(conn, Realm::Students)?;
            queries::school_adoptions(conn, &reach, school_id)
        })
        .await?;
    Ok(web::Json(AdoptionList { items }))
}

/// Record that a school uses a recommended platform, or change its count.
///
/// How many of its students use it, since when. 201 the first time, 200
/// after. Only recommended platforms are recorded (409); the school must
/// be in your scope (404).
#[utoipa::path(
    tag = "teaching",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "School id"),
        ("offer_id" = i64, Path, description = "Offer id"),
    ),
    request_body = RecordAdoption,
    responses(
        (status = 200, description = "The record, updated", body = Adoption),
        (status = 201, description = "The record, new", body = Adoption),
        (status = 404, description = "No such school in your scope, or no such offer", body = crate::platform::http::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The platform is not recommended", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[put("/schools/{id}/platforms/{offer_id}")]
pub async fn record_school_platform(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(i64, i64)>,
    body: Json<RecordAdoption>,
) -> Result<HttpResponse, ApiError> {
    principal.require(SCHOOL_ROLES)?;
    let input = body.into_inner();
    input.validate()?;
    let (school_id, offer_id) = path.into_inner();
    let (row, offer, created) = state
        .db
        .run(move |conn| {
            let reach = principal.reach(conn, Realm::Students)?;
            queries::record_adoption(conn, &principal.actor(), &reach, school_id, offer_id, input)
        })
        .await?;
    let adoption = Adoption::of(row, &offer);
    Ok(if created {
        HttpResponse::Created().json(adoption)
    } else {
        HttpResponse::Ok().json(adoption)
    })
}

/// The school no longer uses the platform.
///
/// 404 when the school is outside your scope or has not recorded it.
#[utoipa::path(
    tag = "teaching",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "School id"),
        ("offer_id" = i64, Path, description = "Offer id"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such record in your scope", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/schools/{id}/platforms/{offer_id}")]
pub async fn remove_school_platform(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    principal.require(SCHOOL_ROLES)?;
    let (school_id, offer_id) = path.into_inner();
    state
        .db
        .run(move |conn| {
            let reach = principal.reach(conn, Realm::Students)?;
            queries::remove_adoption(conn, &principal.actor(), &reach, school_id, offer_id)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Recommended online-teaching platforms and how many schools and students use them.
///
/// No token. Each recommended offer with its terms, the levels and grades
/// it suits, where data is kept, child-safety notes, and its uptake
/// (schools recording it and their students). Cached for a minute.
#[utoipa::path(
    tag = "public",
    responses((status = 200, description = "The recommended platforms", body = PublicPlatformList))
)]
#[get("/platforms")]
pub async fn public_platforms(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let rows = state.db.run(queries::recommended_with_uptake).await?;
    let items = rows
        .into_iter()
        .map(|(row, uptake)| PublicPlatform::of(row, uptake))
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=60"))
        .json(PublicPlatformList { items }))
}

/// Staff routes under `/api/v1`.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_offer)
        .service(list_offers)
        .service(get_offer)
        .service(update_offer)
        .service(transition_offer)
        .service(school_platforms)
        .service(record_school_platform)
        .service(remove_school_platform);
}

/// Public routes, under the public scope (`/api/v1/public`).
pub fn configure_public(cfg: &mut ServiceConfig) {
    cfg.service(public_platforms);
}
