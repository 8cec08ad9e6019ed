//! Public transparency pages: no token, aggregates only, cached by the
//! service ([`cache`]), clients and proxies for a minute and rate-limited
//! per address. Never a student:
//! no name, birth date, external id or household status, and any count of
//! students (or needs, or handovers) between 1 and 4 is shown as "<5".

pub mod cache;
pub mod disclosure;
pub mod figures;
pub mod trace;

use std::sync::Arc;

use actix_web::{get, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::platform::auth::rate_limit::TokenRateLimit;
use crate::platform::http::ApiError;
use crate::platform::state::AppState;
use crate::registry::admin_units::{Scheme, SchemeView};
pub use disclosure::PublicCount;
pub use figures::{
    NeedsBoardLine, PublicDonation, PublicFigures, PublicProgressLine, PublicTotals, ANONYMOUS,
};
use trace::DonationTrace;

/// What clients and proxies may do with a public page.
const CACHE_CONTROL: (&str, &str) = ("Cache-Control", "public, max-age=60");

/// The service's caches of the public figures (as stored, and in each
/// tree), registered by the app beside [`AppState`].
pub struct PublicFiguresCache {
    stored: cache::PublicCache<Arc<PublicFigures>>,
    vn2008: cache::PublicCache<Arc<PublicFigures>>,
    vn2025: cache::PublicCache<Arc<PublicFigures>>,
}

impl PublicFiguresCache {
    pub fn new(ttl: std::time::Duration) -> Self {
        Self {
            stored: cache::PublicCache::new(ttl),
            vn2008: cache::PublicCache::new(ttl),
            vn2025: cache::PublicCache::new(ttl),
        }
    }

    fn of(&self, scheme: Option<Scheme>) -> &cache::PublicCache<Arc<PublicFigures>> {
        match scheme {
            None => &self.stored,
            Some(Scheme::Vn2008) => &self.vn2008,
            Some(Scheme::Vn2025) => &self.vn2025,
        }
    }
}

/// The public figures, from the service's cache (computed at most once per
/// `SONGMAY_PUBLIC_CACHE_SECONDS` for each view).
pub async fn figures(
    state: &AppState,
    cache: &PublicFiguresCache,
    scheme: Option<Scheme>,
) -> Result<Arc<PublicFigures>, ApiError> {
    cache
        .of(scheme)
        .get_or_compute(|| async {
            let figures = state
                .reads
                .db()
                .await
                .run(move |conn| {
                    let view = scheme.map(|s| SchemeView::load(conn, s)).transpose()?;
                    PublicFigures::compute(conn, view.as_ref())
                })
                .await?;
            Ok(Arc::new(figures))
        })
        .await
        .map_err(ApiError::from)
}

/// The filter of a public page.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PublicFilter {
    /// A province, district or commune code: only that part of the country.
    #[param(example = "150")]
    pub admin_unit: Option<String>,
    /// Count in one tree: `vn2008` (before the 2025 reform: provinces,
    /// districts, communes) or `vn2025` (after: provinces and communes).
    /// Absent: where each school is stored now.
    pub scheme: Option<Scheme>,
}

impl PublicFilter {
    /// The unit asked for, 404 when the service knows no such unit.
    pub fn root<'a>(&'a self, figures: &PublicFigures) -> Result<Option<&'a str>, ApiError> {
        match self.admin_unit.as_deref() {
            Some(code) if self.scheme.is_some_and(|s| Scheme::of(code) != s) => Err(
                ApiError::bad_request("admin_unit is not a unit of the tree asked in scheme"),
            ),
            Some(code) if !figures.knows(code) => Err(ApiError::unknown_admin_unit()),
            other => Ok(other),
        }
    }
}

fn public_json(body: &impl Serialize) -> HttpResponse {
    HttpResponse::Ok().insert_header(CACHE_CONTROL).json(body)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublicProgress {
    /// The filter (absent: the whole country).
    pub admin_unit: Option<String>,
    /// The unit asked for and its children; without a filter, every
    /// province with students and its districts.
    pub units: Vec<PublicProgressLine>,
    pub totals: PublicTotals,
    /// When the figures were computed (they are reused for up to a minute).
    pub computed_at: chrono::DateTime<chrono::Utc>,
}

/// How close each province and district is to "every student ready".
///
/// No token. Counts between 1 and 4 are `"<5"`, and a count is withheld
/// (`"x"`) where it and a shown total would give a `"<5"` away. `admin_unit`
/// shows one unit and its parts (404 if there is no such unit). Cached by
/// the service for `SONGMAY_PUBLIC_CACHE_SECONDS`.
#[utoipa::path(
    tag = "public",
    params(PublicFilter),
    responses((status = 200, description = "Readiness and totals", body = PublicProgress))
)]
#[get("/progress")]
pub async fn public_progress(
    state: web::Data<AppState>,
    cache: web::Data<PublicFiguresCache>,
    filter: web::Query<PublicFilter>,
) -> Result<HttpResponse, ApiError> {
    let figures = figures(&state, &cache, filter.scheme).await?;
    let root = filter.root(&figures)?;
    Ok(public_json(&PublicProgress {
        admin_unit: root.map(str::to_owned),
        units: figures.progress(root),
        totals: figures.totals.clone(),
        computed_at: figures.computed_at,
    }))
}

/// Where help is missing: open needs by commune and kind.
///
/// No token; never a student. Counts between 1 and 4 are `"<5"`.
/// `admin_unit` keeps the communes of that unit's subtree.
#[utoipa::path(
    tag = "public",
    params(PublicFilter),
    responses((status = 200, description = "Open needs by commune and kind", body = Vec<NeedsBoardLine>))
)]
#[get("/needs-board")]
pub async fn needs_board(
    state: web::Data<AppState>,
    cache: web::Data<PublicFiguresCache>,
    filter: web::Query<PublicFilter>,
) -> Result<HttpResponse, ApiError> {
    let figures = figures(&state, &cache, filter.scheme).await?;
    let root = filter.root(&figures)?;
    Ok(public_json(&figures.needs_board(root)))
}

/// Who gave what (what arrived).
///
/// No token. Gifts net of reversals, by donor and kind; donors who asked to
/// stay anonymous appear as "Nhà hảo tâm ẩn danh". `admin_unit` keeps the
/// gifts earmarked for that unit's subtree. By kind, the sum over donors
/// equals `received_as_gifts` of `GET /stats/donations`.
#[utoipa::path(
    tag = "public",
    params(PublicFilter),
    responses((status = 200, description = "Gifts received, by donor and kind", body = Vec<PublicDonation>))
)]
#[get("/donations")]
pub async fn public_donations(
    state: web::Data<AppState>,
    cache: web::Data<PublicFiguresCache>,
    filter: web::Query<PublicFilter>,
) -> Result<HttpResponse, ApiError> {
    let figures = figures(&state, &cache, filter.scheme).await?;
    let root = filter.root(&figures)?;
    Ok(public_json(&figures.donations(root)))
}

/// Follow a donation by the reference on its thank-you letter.
///
/// No token. How many students hold something of the gift now, by
/// district — never who: devices, data packages and licences of the gift
/// that were handed over and not returned; for money, its share of what the
/// campaign's purchases bought and reached (pro rata, README). Counts are
/// protected like every public count.
#[utoipa::path(
    tag = "public",
    params(("receipt_ref" = String, Path, description = "The receipt's `public_ref` (printed on the thank-you letter) or the bank transfer reference; not the sequential receipt number")),
    responses(
        (status = 200, description = "Where the gift went", body = DonationTrace),
        (status = 404, description = "No such receipt", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/donations/{receipt_ref}/trace")]
pub async fn donation_trace(
    state: web::Data<AppState>,
    receipt_ref: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let reference = receipt_ref.into_inner();
    let answer: DonationTrace = state
        .reads
        .db()
        .await
        .run(move |conn| {
            let receipt = trace::find_by_reference(conn, &reference)?;
            trace::trace(conn, receipt)
        })
        .await?;
    Ok(public_json(&answer))
}

/// A drive as everyone sees it: who runs it, its target and period, and
/// its progress — money and goods shown only once 5 or more people gave,
/// so no one person's gift can be read off. No contact, no names.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicDrive {
    pub organisation: String,
    pub organisation_kind: crate::donations::drives::OrganisationKind,
    pub campaign_id: i64,
    pub target_vnd: Option<i64>,
    pub starts_on: chrono::NaiveDate,
    pub ends_on: Option<chrono::NaiveDate>,
    #[schema(value_type = PublicCount)]
    pub contributors: PublicCount,
    /// Absent while fewer than 5 people gave.
    pub money_received_vnd: Option<i64>,
    /// Units of goods; absent while fewer than 5 people gave.
    pub goods_received: Option<i64>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PublicDriveFilter {
    pub campaign: Option<i64>,
}

/// The drives of agencies, associations and businesses, and how far each got.
///
/// No token. Money and goods handed over, net of reversals, and the number
/// of people who gave — shown as `<5` (with money and goods absent) while
/// fewer than 5 gave. Never a contributor's name.
#[utoipa::path(
    tag = "public",
    params(PublicDriveFilter),
    responses((status = 200, description = "Every drive with its progress", body = [PublicDrive]))
)]
#[get("/drives")]
pub async fn public_drives(
    state: web::Data<AppState>,
    filter: web::Query<PublicDriveFilter>,
) -> Result<HttpResponse, ApiError> {
    let campaign = filter.campaign;
    let drives = state
        .reads
        .db()
        .await
        .run(move |conn| crate::donations::drives::queries::all_with_progress(conn, campaign))
        .await?;
    let lines: Vec<PublicDrive> = drives
        .into_iter()
        .map(|(row, progress)| {
            let shown = progress.contributors == 0 || progress.contributors >= 5;
            PublicDrive {
                organisation: row.organisation,
                organisation_kind: row.organisation_kind,
                campaign_id: row.campaign_id,
                target_vnd: row.target_vnd,
                starts_on: row.starts_on,
                ends_on: row.ends_on,
                contributors: if shown {
                    PublicCount::Exact(progress.contributors)
                } else {
                    PublicCount::FewerThanFive
                },
                money_received_vnd: shown.then_some(progress.money_received_vnd),
                goods_received: shown.then_some(progress.goods_received),
            }
        })
        .collect();
    Ok(public_json(&lines))
}

/// Routes under `/api/v1/public`, rate-limited per client IP.
pub fn configure(
    rate_limit: TokenRateLimit,
    other_public: fn(&mut ServiceConfig),
) -> impl FnOnce(&mut ServiceConfig) {
    // One `/public` scope for every public route (a second scope with the
    // same prefix would never be reached): other domains' public routes,
    // articles and platforms, come in through `other_public`.
    move |cfg| {
        cfg.service(
            utoipa_actix_web::scope("/public")
                .wrap(actix_governor::Governor::new(&rate_limit))
                .wrap(actix_web::middleware::from_fn(
                    crate::platform::auth::rate_limit::announce,
                ))
                .service(public_progress)
                .service(needs_board)
                .service(public_donations)
                .service(donation_trace)
                .service(public_drives)
                .configure(other_public),
        );
    }
}
