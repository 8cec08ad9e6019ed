//! Articles: the open letter (thư ngỏ), news and stories. Staff write in
//! Markdown; the Department publishes; the public reads sanitised HTML and
//! an Atom feed. A story names a child only with the guardian's consent on
//! record.

pub mod model;
pub mod queries;
pub mod render;
pub mod workflow;

use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

pub use model::*;

use crate::platform::auth::{Principal, Realm, Role};
use crate::platform::http::json::Json;
use crate::platform::http::pagination::PageQuery;
use crate::platform::http::versioning;
use crate::platform::http::ApiError;
use crate::platform::state::AppState;

/// Who writes: the Department (admin) anything, district officers stories
/// of their area.
const WRITERS: &[Role] = &[Role::DistrictOfficer];

/// What clients and proxies may do with a public article or the feed.
const CACHE_CONTROL: (&str, &str) = ("Cache-Control", "public, max-age=60");

/// Write an article, as a draft (admin; district officers: stories of their area).
///
/// The body is Markdown; it is shown as HTML with scripts, frames, forms,
/// styles and event handlers removed. The slug is made from the title
/// when absent (409 when another article has it).
#[utoipa::path(
    tag = "outreach",
    security(("bearer" = [])),
    request_body = CreateArticle,
    responses(
        (status = 201, description = "The draft", body = Article),
        (status = 409, description = "The slug is taken", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/articles")]
pub async fn create_article(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<CreateArticle>,
) -> Result<HttpResponse, ApiError> {
    principal.require(WRITERS)?;
    let input = body.into_inner();
    input.validate()?;
    let row = state
        .db
        .run(move |conn| {
            let reach = principal.reach(conn, Realm::Students)?;
            queries::create(conn, &principal.actor(), &reach, input)
        })
        .await?;
    Ok(HttpResponse::Created().json(Article::from(row)))
}

/// The articles a caller works on, newest first.
///
/// Admins see all, district officers those about their area; drafts and
/// articles in review included. Filters `kind`, `campaign`, `admin_unit`,
/// `status`; page with `limit` and `cursor`.
#[utoipa::path(
    tag = "outreach",
    security(("bearer" = [])),
    params(ArticleFilter, PageQuery),
    responses((status = 200, description = "A page of articles", body = ArticlePage))
)]
#[get("/articles")]
pub async fn list_articles(
    state: web::Data<AppState>,
    principal: Principal,
    filter: web::Query<ArticleFilter>,
    page: web::Query<PageQuery>,
) -> Result<web::Json<ArticlePage>, ApiError> {
    principal.require(WRITERS)?;
    let page = page.parse::<i64>()?;
    let filter = filter.into_inner();
    let found = state
        .db
        .run(move |conn| {
            let reach = principal.reach(conn, Realm::Students)?;
            let units = crate::registry::admin_units::queries::subtree_filter(
                conn,
                filter.admin_unit.as_deref(),
            )?;
            queries::page(conn, &reach, &filter, units.as_deref(), &page)
        })
        .await?;
    Ok(web::Json(found))
}

/// One article, as staff see it.
///
/// Its Markdown, the HTML the public will see, its status and the
/// guardian's consent record. 404 outside the caller's area.
#[utoipa::path(
    tag = "outreach",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Article id")),
    responses(
        (status = 200, description = "The article", body = Article),
        (status = 404, description = "No such article in your area", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/articles/{id}")]
pub async fn get_article(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
) -> Result<web::Json<Article>, ApiError> {
    principal.require(WRITERS)?;
    let id = id.into_inner();
    let row = state
        .db
        .run(move |conn| {
            let reach = principal.reach(conn, Realm::Students)?;
            queries::find_visible(conn, &reach, id)
        })
        .await?;
    Ok(web::Json(row.into()))
}

/// Change a draft or an article in review.
///
/// Send `If-Match` with the version you read (the ETag of GET): without it
/// 428, with a stale one 412. A published article is not edited (409):
/// archive it and write a new one.
#[utoipa::path(
    tag = "outreach",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "Article id"),
        ("If-Match" = String, Header, description = "The version you read, e.g. \"3\""),
    ),
    request_body = ArticlePatch,
    responses(
        (status = 200, description = "The article after the change", body = Article),
        (status = 404, description = "No such article in your area", body = crate::platform::http::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The article is published or archived", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/articles/{id}")]
pub async fn update_article(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    id: web::Path<i64>,
    body: Json<ArticlePatch>,
) -> Result<web::Json<Article>, ApiError> {
    principal.require(WRITERS)?;
    let expected = versioning::required_if_match(&req)?;
    let patch = body.into_inner();
    patch.validate()?;
    let id = id.into_inner();
    let row = state
        .db
        .run(move |conn| {
            let reach = principal.reach(conn, Realm::Students)?;
            queries::update(conn, &principal.actor(), &reach, id, patch, expected)
        })
        .await?;
    Ok(web::Json(row.into()))
}

/// Move an article: `draft → review` and back (its writer), `review →
/// published`, and to `archived` (the Department, admin: 403 for others).
///
/// Publishing is refused (422 `names_a_child` on `body`) while the article
/// contains the full name of a student on the roster and no guardian's
/// consent is on record. Any other move is 409.
#[utoipa::path(
    tag = "outreach",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Article id")),
    request_body = ArticleTransition,
    responses(
        (status = 200, description = "The article after the move", body = Article),
        (status = 404, description = "No such article in your area", body = crate::platform::http::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not a move of the workflow", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/articles/{id}/transitions")]
pub async fn transition_article(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
    body: Json<ArticleTransition>,
) -> Result<web::Json<Article>, ApiError> {
    principal.require(WRITERS)?;
    let request = body.into_inner();
    request.validate()?;
    let id = id.into_inner();
    let row = state
        .db
        .run(move |conn| {
            let reach = principal.reach(conn, Realm::Students)?;
            queries::transition(conn, &principal.actor(), &reach, id, request)
        })
        .await?;
    Ok(web::Json(row.into()))
}

/// Record (or withdraw) the guardian's consent to name a child.
///
/// Who recorded it and when, audited; the signed form stays with the
/// school. A published article's consent is not withdrawn (409): archive
/// it first.
#[utoipa::path(
    tag = "outreach",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Article id")),
    request_body = GuardianConsent,
    responses(
        (status = 200, description = "The article with its consent record", body = Article),
        (status = 404, description = "No such article in your area", body = crate::platform::http::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The article is published", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/articles/{id}/consent")]
pub async fn record_consent(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
    body: Json<GuardianConsent>,
) -> Result<web::Json<Article>, ApiError> {
    principal.require(WRITERS)?;
    let consent = body.into_inner();
    consent.validate()?;
    let id = id.into_inner();
    let row = state
        .db
        .run(move |conn| {
            let reach = principal.reach(conn, Realm::Students)?;
            queries::record_consent(conn, &principal.actor(), &reach, id, consent)
        })
        .await?;
    Ok(web::Json(row.into()))
}

/// Published articles, newest first: the open letter, news and stories.
///
/// Filters: `kind`, `campaign`, `admin_unit` (that unit and below). No
/// token; cached for a minute.
#[utoipa::path(
    tag = "public",
    params(PublicArticleFilter, PageQuery),
    responses(
        (status = 200, description = "A page of published articles", body = PublicArticlePage),
        (status = 404, description = "No such admin unit", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/articles")]
pub async fn public_articles(
    state: web::Data<AppState>,
    filter: web::Query<PublicArticleFilter>,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = page.parse::<i64>()?;
    let filter = ArticleFilter::from(filter.into_inner());
    let found = state
        .db
        .run(move |conn| {
            let units = crate::registry::admin_units::queries::subtree_filter(
                conn,
                filter.admin_unit.as_deref(),
            )?;
            queries::public_page(conn, &filter, units.as_deref(), &page)
        })
        .await?;
    Ok(HttpResponse::Ok().insert_header(CACHE_CONTROL).json(found))
}

/// The Atom feed of the latest published articles.
///
/// No token. The latest 50, newest first, each with its sanitised HTML:
/// for feed readers and the provincial portal. Links are relative to the
/// API root.
#[utoipa::path(
    tag = "public",
    responses((status = 200, description = "An Atom 1.0 feed", body = String, content_type = "application/atom+xml"))
)]
#[get("/articles.atom")]
pub async fn articles_feed(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let rows = state
        .db
        .run(|conn| queries::latest_published(conn, 50))
        .await?;
    let updated = rows
        .iter()
        .map(|row| crate::platform::db::to_utc(row.updated_at))
        .max()
        .unwrap_or(chrono::DateTime::UNIX_EPOCH);
    let items = rows
        .into_iter()
        .map(|row| render::FeedItem {
            published: row.published_or_updated(),
            updated: crate::platform::db::to_utc(row.updated_at),
            id: row.id,
            kind: row.kind.to_string(),
            title: row.title,
            slug: row.slug,
            summary: row.summary,
            body_markdown: row.body_markdown,
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header(CACHE_CONTROL)
        .content_type("application/atom+xml; charset=utf-8")
        .body(render::atom_feed(items, updated)))
}

/// One published article by its slug.
///
/// No token. The body as sanitised HTML; 404 for a slug no published
/// article has (drafts and archived articles included).
#[utoipa::path(
    tag = "public",
    params(("slug" = String, Path, description = "The article's slug")),
    responses(
        (status = 200, description = "The article", body = PublicArticle),
        (status = 404, description = "No published article has this slug", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/articles/{slug}")]
pub async fn public_article(
    state: web::Data<AppState>,
    slug: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let slug = slug.into_inner();
    let row = state
        .db
        .run(move |conn| queries::published_by_slug(conn, &slug))
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(CACHE_CONTROL)
        .json(PublicArticle::of(row, true)))
}

/// Staff routes under `/api/v1`.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_article)
        .service(list_articles)
        .service(get_article)
        .service(update_article)
        .service(transition_article)
        .service(record_consent);
}

/// Public routes, under the public scope (`/api/v1/public`).
pub fn configure_public(cfg: &mut ServiceConfig) {
    cfg.service(public_articles)
        .service(articles_feed)
        .service(public_article);
}
