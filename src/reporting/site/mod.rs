//! The public site: server-rendered HTML pages for donors, teachers and
//! journalists — progress toward every student ready (`/`), how to give
//! (`/donate`), following a gift (`/follow`), and a district's page
//! (`/districts/{code}`). No script; small pages for a phone on a weak
//! connection; Vietnamese first, English with `?lang=en` or the browser's
//! `Accept-Language`. Every figure is read from the public figures the
//! JSON pages serve (one computation, one disclosure control), so a page
//! and `GET /api/v1/public/...` never disagree. Pages carry an `ETag` and
//! may be cached for a minute by browsers, a provincial portal or a CDN.

mod words;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use actix_web::http::header;
use actix_web::{get, web, HttpRequest, HttpResponse};
use minijinja::{context, Environment, Value};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa_actix_web::service_config::ServiceConfig;

pub use words::Language;

use crate::donations::campaigns::{CampaignStatus, Targets};
use crate::outreach::articles::ArticleKind;
use crate::platform::auth::rate_limit::TokenRateLimit;
use crate::platform::http::ApiError;
use crate::platform::state::AppState;
use crate::reporting::charts;
use crate::reporting::public::trace::DonationTrace;
use crate::reporting::public::{
    figures, PublicCount, PublicFigures, PublicFiguresCache, PublicProgressLine,
};

const HTML: &str = "text/html; charset=utf-8";
/// The same minute as the JSON public pages.
const CACHE_CONTROL: &str = "public, max-age=60";

fn environment() -> &'static Environment<'static> {
    static ENVIRONMENT: OnceLock<Environment<'static>> = OnceLock::new();
    ENVIRONMENT.get_or_init(|| {
        // Names ending in .html: minijinja escapes every value printed
        // (a donor called `<script>` shows as text); only the open
        // letter, already cleaned by ammonia, is printed `| safe`.
        let mut env = Environment::new();
        for (name, source) in [
            ("base.html", include_str!("templates/base.html")),
            (
                "progress_table.html",
                include_str!("templates/progress_table.html"),
            ),
            (
                "needs_table.html",
                include_str!("templates/needs_table.html"),
            ),
            ("home.html", include_str!("templates/home.html")),
            ("district.html", include_str!("templates/district.html")),
            ("donate.html", include_str!("templates/donate.html")),
            ("follow.html", include_str!("templates/follow.html")),
            ("not_found.html", include_str!("templates/not_found.html")),
        ] {
            if let Err(e) = env.add_template(name, source) {
                // The templates are compiled into the binary; a test renders each.
                log::error!("site template {name} does not compile: {e}");
            }
        }
        env
    })
}

/// One page as the response: its `ETag` (a hash of the page, so a cache
/// revalidates for nothing while the figures stay the same), the minute a
/// cache may keep it, and that it differs by language.
fn page(
    req: &HttpRequest,
    lang: Language,
    status: actix_web::http::StatusCode,
    template: &str,
    data_date: &str,
    values: Value,
) -> Result<HttpResponse, ApiError> {
    let common = context! {
        lang => lang.code(),
        t => lang.words(),
        path => req.path(),
        data_date => data_date,
    };
    let body = environment()
        .get_template(template)
        .and_then(|t| t.render(context! { ..values, ..common }))
        .map_err(|e| {
            ApiError::from(crate::platform::error::Failure::internal(format!(
                "page {template}: {e}"
            )))
        })?;
    let tag = format!(
        "\"{}\"",
        Sha256::digest(body.as_bytes())
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    Ok(HttpResponse::build(status)
        .content_type(HTML)
        .insert_header((header::CACHE_CONTROL, CACHE_CONTROL))
        .insert_header((header::VARY, "Accept-Language"))
        .insert_header((header::CONTENT_LANGUAGE, lang.code()))
        .insert_header((header::ETAG, tag))
        .body(body))
}

/// A caller that asked for JSON (a script, an API client) gets the API's
/// problem+json; a browser gets a page.
fn wants_json(req: &HttpRequest) -> bool {
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    accept.contains("json") && !accept.contains("text/html")
}

/// The friendly 404: a page saying what was not found, or problem+json.
fn not_found(req: &HttpRequest, lang: Language, what: &str) -> Result<HttpResponse, ApiError> {
    if wants_json(req) {
        return Err(ApiError::not_found(match what {
            "not_found_unit" => "no such admin unit",
            "not_found_receipt" => "no receipt has this reference",
            _ => "no such page",
        }));
    }
    let message = lang.words().get(what).copied().unwrap_or_default();
    page(
        req,
        lang,
        actix_web::http::StatusCode::NOT_FOUND,
        "not_found.html",
        &data_date(lang, chrono::Utc::now()),
        context! { message },
    )
}

/// When the figures were computed, in Vietnam's time (UTC+7, no summer time).
pub fn data_date(lang: Language, at: chrono::DateTime<chrono::Utc>) -> String {
    let local = crate::reporting::vietnam_time(at);
    match lang {
        Language::Vi => local.format("%H:%M %d/%m/%Y").to_string(),
        Language::En => local.format("%Y-%m-%d %H:%M (UTC+7)").to_string(),
    }
}

/// A protected count as the page prints it (and as the JSON has it, for
/// the row's `data-` attributes).
fn count(lang: Language, value: PublicCount) -> (String, String) {
    match value {
        PublicCount::Exact(n) => (lang.number(n), n.to_string()),
        PublicCount::FewerThanFive => ("<5".into(), "<5".into()),
        PublicCount::Withheld => ("x".into(), "x".into()),
    }
}

#[derive(Serialize)]
struct LineView {
    code: String,
    name: String,
    students: String,
    ready: String,
    students_raw: String,
    ready_raw: String,
    percent: String,
    width: f64,
    link: Option<String>,
}

fn line_view(lang: Language, line: &PublicProgressLine, link: bool) -> LineView {
    let (students, students_raw) = count(lang, line.students);
    let (ready, ready_raw) = count(lang, line.ready);
    LineView {
        code: line.admin_unit.clone(),
        name: line.name.clone(),
        students,
        ready,
        students_raw,
        ready_raw,
        percent: line
            .percent_ready
            .map(|p| lang.percent(p))
            .unwrap_or_else(|| "–".into()),
        width: line.percent_ready.unwrap_or(0.0).clamp(0.0, 100.0),
        link: link.then(|| format!("/districts/{}?lang={}", line.admin_unit, lang.code())),
    }
}

fn chart_link(root: &str, lang: Language) -> String {
    format!(
        "/api/v1/public/progress/chart?admin_unit={root}&lang={}",
        lang.code()
    )
}

/// The lang parameter pages take (documented; read by [`Language::of`]).
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// `vi` (default) or `en`; without it, the browser's
    /// `Accept-Language`; any other value is Vietnamese.
    pub lang: Option<String>,
}

/// Progress toward every student ready, by province and district, and
/// what was given and handed over.
///
/// HTML for people (no token); the figures of `GET /api/v1/public/progress`.
#[utoipa::path(
    tag = "site",
    params(PageQuery),
    responses(
        (status = 200, description = "The home page", body = String, content_type = "text/html"),
        (status = 304, description = "Not modified since the `ETag` in `If-None-Match`"),
    )
)]
#[get("/")]
pub async fn home(
    req: HttpRequest,
    state: web::Data<AppState>,
    cache: web::Data<PublicFiguresCache>,
) -> Result<HttpResponse, ApiError> {
    let lang = Language::of(&req);
    let figures = figures(&state, &cache, None).await?;
    let news = state
        .reads
        .db()
        .await
        .run(|conn| crate::outreach::articles::queries::latest_published(conn, 4))
        .await?;
    let news: Vec<Value> = news
        .into_iter()
        .filter(|a| a.kind != ArticleKind::OpenLetter)
        .take(3)
        .map(|a| {
            context! {
                title => a.title,
                summary => a.summary,
                date => lang.date(a.published_or_updated().date_naive()),
            }
        })
        .collect();
    let mut provinces: Vec<Value> = Vec::new();
    let mut current: Option<(&PublicProgressLine, Vec<LineView>)> = None;
    let lines = figures.progress(None);
    let flush = |group: Option<(&PublicProgressLine, Vec<LineView>)>, out: &mut Vec<Value>| {
        if let Some((province, lines)) = group {
            out.push(context! {
                name => province.name,
                percent => province.percent_ready.map(|p| lang.percent(p)).unwrap_or_else(|| "–".into()),
                chart => chart_link(&province.admin_unit, lang),
                chart_height => charts::percent_bars_height(lines.len()),
                lines => lines,
            });
        }
    };
    for line in &lines {
        if line.level == "province" {
            flush(current.take(), &mut provinces);
            current = Some((line, Vec::new()));
        } else if let Some((_, group)) = current.as_mut() {
            group.push(line_view(lang, line, true));
        }
    }
    flush(current.take(), &mut provinces);
    let t = &figures.totals;
    let totals = context! {
        money_received => lang.number(t.money_received_vnd),
        devices_received => lang.number(t.devices_received),
        devices_handed_over => count(lang, t.devices_handed_over).0,
        packages_received => lang.number(t.packages_received),
        packages_handed_over => count(lang, t.packages_handed_over).0,
        software_handed_over => count(lang, t.software_handed_over).0,
    };
    page(
        &req,
        lang,
        actix_web::http::StatusCode::OK,
        "home.html",
        &data_date(lang, figures.computed_at),
        context! { provinces, totals, news },
    )
}

/// A district's (or any unit's) progress by commune and its open needs.
///
/// HTML for people (no token); the figures of `GET /api/v1/public/progress`
/// and `/needs-board` with `admin_unit`. An unknown code is a page saying
/// so (404), or problem+json to a caller asking for JSON.
#[utoipa::path(
    tag = "site",
    params(("code" = String, Path, description = "An admin unit code"), PageQuery),
    responses(
        (status = 200, description = "The district's page", body = String, content_type = "text/html"),
        (status = 304, description = "Not modified since the `ETag` in `If-None-Match`"),
        (status = 404, description = "No such unit: a page, or problem+json when the caller asks for JSON", content(
            (String = "text/html"),
            (crate::platform::http::Problem = "application/problem+json"),
        )),
    )
)]
#[get("/{code}")]
pub async fn district(
    req: HttpRequest,
    state: web::Data<AppState>,
    cache: web::Data<PublicFiguresCache>,
    code: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let lang = Language::of(&req);
    let code = code.into_inner();
    let figures = figures(&state, &cache, None).await?;
    if !figures.knows(&code) {
        return not_found(&req, lang, "not_found_unit");
    }
    let lines = figures.progress(Some(&code));
    let Some((unit, parts)) = lines.split_first() else {
        return not_found(&req, lang, "not_found_unit");
    };
    let parts: Vec<LineView> = parts
        .iter()
        .map(|line| line_view(lang, line, line.level == "district"))
        .collect();
    let needs = needs_lines(lang, &figures, &code);
    page(
        &req,
        lang,
        actix_web::http::StatusCode::OK,
        "district.html",
        &data_date(lang, figures.computed_at),
        context! {
            unit => line_view(lang, unit, false),
            chart => chart_link(&code, lang),
            chart_height => charts::percent_bars_height(parts.len()),
            lines => parts,
            needs,
        },
    )
}

fn needs_lines(lang: Language, figures: &PublicFigures, root: &str) -> Vec<Value> {
    let words = lang.words();
    figures
        .needs_board(Some(root))
        .into_iter()
        .map(|line| need_view(lang, &words, line))
        .collect()
}

/// One line of the needs board as a page prints it.
fn need_view(
    lang: Language,
    words: &BTreeMap<&'static str, &'static str>,
    line: crate::reporting::public::NeedsBoardLine,
) -> Value {
    let key = format!("need_{}", line.kind);
    context! {
        commune => line.commune_name,
        kind => words.get(key.as_str()).copied().unwrap_or(line.kind.as_str()),
        open => count(lang, line.open_needs).0,
    }
}

/// The open letter, the open campaigns, how to give, and where help is
/// missing by district.
///
/// HTML for people (no token).
#[utoipa::path(
    tag = "site",
    params(PageQuery),
    responses(
        (status = 200, description = "How to give", body = String, content_type = "text/html"),
        (status = 304, description = "Not modified since the `ETag` in `If-None-Match`"),
    )
)]
#[get("")]
pub async fn donate(
    req: HttpRequest,
    state: web::Data<AppState>,
    cache: web::Data<PublicFiguresCache>,
) -> Result<HttpResponse, ApiError> {
    let lang = Language::of(&req);
    let figures = figures(&state, &cache, None).await?;
    let (letter, campaigns) = state
        .reads
        .db()
        .await
        .run(|conn| {
            let letter = crate::outreach::articles::queries::latest_published_of_kind(
                conn,
                ArticleKind::OpenLetter,
            )?;
            let campaigns = crate::donations::campaigns::queries::list(conn)?;
            Ok((letter, campaigns))
        })
        .await?;
    let letter = letter.map(|article| {
        context! {
            title => article.title,
            html => crate::outreach::articles::render::to_safe_html(&article.body_markdown),
        }
    });
    let campaigns: Vec<Value> = campaigns
        .into_iter()
        .filter(|c| c.status == CampaignStatus::Open)
        .map(|c| {
            let targets: Option<Targets> = serde_json::from_str(&c.targets).ok();
            let target = targets
                .and_then(|t| t.money_vnd)
                .map(|m| format!("{} đồng", lang.number(m.get())));
            let period = match c.ends_on {
                Some(end) => format!("{} – {}", lang.date(c.starts_on), lang.date(end)),
                None => format!("{} –", lang.date(c.starts_on)),
            };
            context! { name => c.name, period, target }
        })
        .collect();
    // The needs board under each district (each commune's parent).
    let mut districts: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let words = lang.words();
    for line in figures.needs_board(None) {
        let parent = line
            .district
            .clone()
            .unwrap_or_else(|| line.commune.clone());
        districts
            .entry(parent)
            .or_default()
            .push(need_view(lang, &words, line));
    }
    let districts: Vec<Value> = districts
        .into_iter()
        .map(|(code, needs)| {
            let name = figures.name_of(&code).unwrap_or(&code).to_owned();
            context! { name, needs }
        })
        .collect();
    page(
        &req,
        lang,
        actix_web::http::StatusCode::OK,
        "donate.html",
        &data_date(lang, figures.computed_at),
        context! { letter, campaigns, districts },
    )
}

/// The form for a thank-you letter's reference.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FollowQuery {
    /// The reference on the thank-you letter: the page moves to
    /// `/follow/{ref}` (303).
    #[serde(rename = "ref")]
    #[param(rename = "ref")]
    pub reference: Option<String>,
    /// `vi` (default) or `en`.
    pub lang: Option<String>,
}

/// The form to follow a gift by its reference.
///
/// HTML for people (no token). With `ref`, a redirect to that gift's page.
#[utoipa::path(
    tag = "site",
    params(FollowQuery),
    responses(
        (status = 200, description = "The form", body = String, content_type = "text/html"),
        (status = 303, description = "To `/follow/{ref}`"),
        (status = 304, description = "Not modified since the `ETag` in `If-None-Match`"),
    )
)]
#[get("")]
pub async fn follow_form(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let lang = Language::of(&req);
    let reference = form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(name, _)| name == "ref")
        .map(|(_, value)| value.trim().to_owned())
        .filter(|r| !r.is_empty());
    if let Some(reference) = reference {
        let target = format!(
            "/follow/{}?lang={}",
            percent_encoding::utf8_percent_encode(&reference, percent_encoding::NON_ALPHANUMERIC),
            lang.code()
        );
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, target))
            .finish());
    }
    page(
        &req,
        lang,
        actix_web::http::StatusCode::OK,
        "follow.html",
        &data_date(lang, chrono::Utc::now()),
        context! { reference => "" },
    )
}

/// Where one gift went, by district — never by child.
///
/// HTML for people (no token); the figures of
/// `GET /api/v1/public/donations/{receipt_ref}/trace`. An unknown
/// reference is a page saying so (404), or problem+json to a caller asking
/// for JSON.
#[utoipa::path(
    tag = "site",
    params(("reference" = String, Path, description = "The reference on the thank-you letter"), PageQuery),
    responses(
        (status = 200, description = "The gift's page", body = String, content_type = "text/html"),
        (status = 304, description = "Not modified since the `ETag` in `If-None-Match`"),
        (status = 404, description = "No such reference: a page, or problem+json when the caller asks for JSON", content(
            (String = "text/html"),
            (crate::platform::http::Problem = "application/problem+json"),
        )),
    )
)]
#[get("/{reference}")]
pub async fn follow(
    req: HttpRequest,
    state: web::Data<AppState>,
    reference: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let lang = Language::of(&req);
    let reference = reference.into_inner();
    let asked = reference.clone();
    let found: Result<DonationTrace, _> = state
        .reads
        .db()
        .await
        .run(move |conn| {
            let receipt = crate::reporting::public::trace::find_by_reference(conn, &asked)?;
            crate::reporting::public::trace::trace(conn, receipt)
        })
        .await;
    let trace = match found {
        Ok(trace) => trace,
        Err(e) if e.is_not_found() => return not_found(&req, lang, "not_found_receipt"),
        Err(e) => return Err(e.into()),
    };
    let gift = match (trace.amount_vnd, trace.quantity) {
        (Some(amount), _) => format!("{} đồng", lang.number(amount)),
        (None, Some(quantity)) => format!(
            "{} × {}",
            lang.number(quantity.into()),
            kind_name(lang, &trace.kind)
        ),
        (None, None) => kind_name(lang, &trace.kind),
    };
    let view = context! {
        gift,
        donor => trace.donor,
        campaign => trace.campaign,
        reversed => trace.reversed,
        students_reached => count(lang, trace.students_reached).0,
        schools_reached => lang.number(trace.schools_reached),
        not_yet_handed_over => trace.not_yet_handed_over.map(|n| lang.number(n)),
        share => trace.money.as_ref().map(|m| lang.percent(m.share_percent)),
        spent => trace.money.as_ref().map(|m| lang.number(m.spent_vnd)),
        districts => trace.by_district.iter().map(|d| context! {
            name => d.name,
            students => count(lang, d.students).0,
        }).collect::<Vec<_>>(),
    };
    page(
        &req,
        lang,
        actix_web::http::StatusCode::OK,
        "follow.html",
        &data_date(lang, chrono::Utc::now()),
        context! { reference, trace => view },
    )
}

/// "máy tính bảng" / "tablets" for `device:tablet`, and so on.
fn kind_name(lang: Language, kind: &str) -> String {
    let (vi, en) = match kind {
        "money" => ("tiền", "money"),
        "device:laptop" => ("máy tính xách tay", "laptops"),
        "device:tablet" => ("máy tính bảng", "tablets"),
        "device:phone" => ("điện thoại thông minh", "smartphones"),
        "device:desktop" => ("máy tính để bàn", "desktops"),
        "data_package" => ("gói cước dữ liệu", "data packages"),
        "software" => ("bản quyền phần mềm", "software licences"),
        other => (other, other),
    };
    match lang {
        Language::Vi => vi.to_owned(),
        Language::En => en.to_owned(),
    }
}

/// Readiness of a unit's parts as a bar chart (SVG).
///
/// No token. The same protected figures as `GET /public/progress` with the
/// same `admin_unit` (without one: the provinces): a `<5` or withheld
/// count draws an empty bar labelled so. Title and data date in
/// Vietnamese, or English with `lang=en`.
#[utoipa::path(
    tag = "public",
    params(crate::reporting::public::PublicFilter, PageQuery),
    responses(
        (status = 200, description = "The chart", body = String, content_type = "image/svg+xml"),
        (status = 400, description = "`admin_unit` of another tree than `scheme`", body = crate::platform::http::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such admin unit", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/progress/chart")]
pub async fn progress_chart(
    req: HttpRequest,
    state: web::Data<AppState>,
    cache: web::Data<PublicFiguresCache>,
    filter: web::Query<crate::reporting::public::PublicFilter>,
) -> Result<HttpResponse, ApiError> {
    let lang = Language::of(&req);
    let figures = figures(&state, &cache, filter.scheme).await?;
    let root = filter.root(&figures)?;
    let lines = figures.progress(root);
    let (title_unit, parts): (Option<String>, Vec<&PublicProgressLine>) = match root {
        Some(_) => (
            lines.first().map(|l| l.name.clone()),
            lines.iter().skip(1).collect(),
        ),
        None => (
            None,
            lines.iter().filter(|l| l.level == "province").collect(),
        ),
    };
    let svg = progress_svg(lang, title_unit.as_deref(), &parts, figures.computed_at)?;
    Ok(HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header((header::CACHE_CONTROL, CACHE_CONTROL))
        .insert_header((header::VARY, "Accept-Language"))
        .body(svg))
}

/// The readiness bars of `parts`, titled with the unit they belong to.
pub fn progress_svg(
    lang: Language,
    unit: Option<&str>,
    parts: &[&PublicProgressLine],
    at: chrono::DateTime<chrono::Utc>,
) -> Result<String, crate::platform::error::Failure> {
    let words = lang.words();
    let title = match unit {
        Some(unit) => format!("{} — {unit}", words["percent_ready"]),
        None => words["percent_ready"].to_owned(),
    };
    let date = format!("{} {}", words["data_date"], data_date(lang, at));
    let bars: Vec<charts::Bar> = parts
        .iter()
        .map(|line| charts::Bar {
            label: line.name.clone(),
            percent: line.percent_ready,
            shown: line
                .percent_ready
                .map(|p| lang.percent(p))
                .unwrap_or_else(|| count(lang, line.students).0),
        })
        .collect();
    charts::percent_bars(
        &charts::Heading {
            title: &title,
            data_date: &date,
        },
        &bars,
    )
}

/// The pages, each section rate-limited per address with the public API's
/// limit (one budget for both). `/` reads only the cached figures and the
/// latest three articles, and is not limited.
pub fn configure(limit: TokenRateLimit) -> impl FnOnce(&mut ServiceConfig) {
    move |cfg| {
        let limited = |path: &'static str| {
            utoipa_actix_web::scope(path)
                .wrap(actix_governor::Governor::new(&limit))
                .wrap(actix_web::middleware::from_fn(
                    crate::platform::auth::rate_limit::announce,
                ))
        };
        cfg.service(home)
            .service(limited("/donate").service(donate))
            .service(limited("/follow").service(follow_form).service(follow))
            .service(limited("/districts").service(district));
    }
}

/// The chart route, under `/api/v1/public` beside the figures it draws.
pub fn configure_public(cfg: &mut ServiceConfig) {
    cfg.service(progress_chart);
}
