//! Statistics for scripts and dashboards: readiness coverage, donations,
//! inventory and time series. Aggregates only — no name, birth date,
//! external id or household status ever appears here. JSON by default,
//! CSV (`Accept: text/csv` or `?format=csv`) or XLSX (`?format=xlsx`).

mod charts;
pub mod coverage;
pub mod donations;
pub mod platforms;
pub mod safety;

use std::collections::BTreeMap;

use actix_web::{get, web, HttpRequest, HttpResponse};
use chrono::{Datelike, NaiveDate};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use coverage::{Coverage, CoverageQuery, GroupBy};
use donations::{donation_stats, DonationStats, DonationStatsQuery};

use crate::distribution::inventory::{ItemCondition, ItemStatus};
use crate::platform::auth::{Principal, Role};
use crate::platform::db::schema::{handovers, inventory_items, need_events};
use crate::platform::db::{with_conn, Db, DbConn};
use crate::platform::error::Failure;
use crate::platform::http::tabular::{negotiate, respond, svg_response, TableOrChart};
use crate::platform::http::ApiError;
use crate::platform::state::AppState;
use crate::registry::admin_units::{Scheme, SchemeView};

const STATS_ROLES: &[Role] = &[Role::StatsReader, Role::DistrictOfficer];

/// Where a statistics caller reads, and the subtree they may see: the
/// statistics roles only, the unit asked for checked against their scope
/// (their own by default).
async fn subtree_root(
    state: &AppState,
    principal: Principal,
    asked: Option<String>,
) -> Result<(Db, Option<String>), ApiError> {
    principal.require(STATS_ROLES)?;
    let db = state.reads.db().await.clone();
    let root = db
        .run(move |conn| principal.unit_in_scope(conn, asked.as_deref()))
        .await?;
    Ok((db, root))
}

/// Figures for the subtree a caller asks for ([`subtree_root`]).
async fn for_subtree<T: Send + 'static>(
    state: &AppState,
    principal: Principal,
    asked: Option<String>,
    compute: impl FnOnce(&mut DbConn, Option<&str>) -> Result<T, Failure> + Send + 'static,
) -> Result<T, ApiError> {
    let (db, root) = subtree_root(state, principal, asked).await?;
    Ok(db.run(move |conn| compute(conn, root.as_deref())).await?)
}

/// [`Principal::unit_in_scope`] and the codes of its subtree (`None`: everywhere).
pub fn root_for(
    conn: &mut DbConn,
    principal: &Principal,
    asked: Option<&str>,
) -> Result<(Option<String>, Option<Vec<String>>), Failure> {
    let root = principal.unit_in_scope(conn, asked)?;
    let units = crate::registry::admin_units::queries::subtree_filter(conn, root.as_deref())?;
    Ok((root, units))
}

/// Readiness coverage of a subtree and its parts.
///
/// Admins and statistics readers anywhere, district officers in their
/// subtree. Active students, those with a device, a connection and both, the
/// percentage ready, open needs by kind and needs by status. JSON, CSV or XLSX.
#[utoipa::path(
    tag = "stats",
    security(("bearer" = [])),
    params(CoverageQuery),
    responses(
        (status = 200, description = "Totals and one row per part", content((Coverage = "application/json"), (String = "text/csv"), (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), (String = "image/svg+xml"))),
        (status = 400, description = "A malformed parameter, or `admin_unit` of another tree than `scheme`", body = crate::platform::http::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such admin unit in your scope", body = crate::platform::http::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`scheme` asked while your area is a unit of the other tree (a district officer of the old tree asking in `vn2025`)", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/stats/coverage")]
pub async fn coverage_stats(
    state: web::Data<AppState>,
    shared: web::Data<coverage::CoverageReads>,
    principal: Principal,
    req: HttpRequest,
    query: web::Query<CoverageQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let chart = query.format == Some(TableOrChart::Svg);
    let format = negotiate(&req, query.format.and_then(TableOrChart::table))?;
    let lang = query.lang;
    let (level, group_by) = (query.level, query.group_by.unwrap_or(GroupBy::AdminUnit));
    let scheme = query.scheme;
    if let (Some(scheme), Some(unit)) = (scheme, query.admin_unit.as_deref()) {
        if Scheme::of(unit) != scheme {
            return Err(ApiError::bad_request(format!(
                "admin_unit is not a unit of the {scheme} tree"
            )));
        }
    }
    let (db, root) = subtree_root(&state, principal, query.admin_unit).await?;
    let key = coverage::CoverageKey {
        root: root.clone(),
        level,
        group_by,
        scheme,
        replica: state.reads.is_replica(&db),
    };
    let result = shared
        .read(key, || {
            db.run(move |conn| {
                let view = scheme.map(|s| SchemeView::load(conn, s)).transpose()?;
                coverage::coverage(conn, root.as_deref(), level, group_by, view.as_ref())
            })
        })
        .await?;
    if chart {
        return Ok(svg_response(charts::coverage(&result, lang)?));
    }
    let mut rows = vec![result.total.clone()];
    rows.extend(result.rows.iter().cloned());
    respond(format, lang, "coverage", &result, &rows)
}

/// Every kind of gift on one basis: pledged, received, bought, and where it is now.
///
/// Admins and statistics readers. Per kind (money, each device type, data
/// packages, software): pledged, received as gifts (with or without a
/// pledge, net of reversals), bought with campaign money, awaiting intake,
/// in stock, allocated, handed over, returned, written off, and for money
/// spent; `received_as_gifts + bought = awaiting_intake + in_stock +
/// allocated + handed_over + written_off + spent` on every line. JSON, CSV
/// or XLSX.
#[utoipa::path(
    tag = "stats",
    security(("bearer" = [])),
    params(DonationStatsQuery),
    responses((status = 200, description = "The donation figures", content((DonationStats = "application/json"), (String = "text/csv"), (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), (String = "image/svg+xml"))))
)]
#[get("/stats/donations")]
pub async fn donations_stats(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    query: web::Query<DonationStatsQuery>,
) -> Result<HttpResponse, ApiError> {
    principal.require(&[Role::StatsReader])?;
    let query = query.into_inner();
    let chart = query.format == Some(TableOrChart::Svg);
    let format = negotiate(&req, query.format.and_then(TableOrChart::table))?;
    let lang = query.lang;
    let admin_unit = query.admin_unit.clone();
    let mut stats = state
        .reads
        .db()
        .await
        .run(move |conn| {
            let units = crate::registry::admin_units::queries::subtree_filter(
                conn,
                query.admin_unit.as_deref(),
            )?;
            donation_stats(conn, query.campaign, units.as_deref())
        })
        .await?;
    stats.admin_unit = admin_unit;
    if chart {
        return Ok(svg_response(charts::donations(&stats, lang)?));
    }
    respond(format, lang, "donations", &stats, &stats.lines)
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FormatQuery {
    pub format: Option<crate::platform::http::tabular::Format>,
    /// Column titles of CSV and XLSX: `en` (field names, default) or `vi`.
    pub lang: Option<crate::platform::http::tabular::Lang>,
}

/// Stock of one warehouse, kind and status.
#[derive(Debug, Serialize, ToSchema)]
pub struct InventoryLine {
    pub warehouse_id: i64,
    pub stock: String,
    pub status: String,
    pub count: i64,
    /// Devices only: average days since intake.
    pub average_age_days: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InventoryStats {
    pub lines: Vec<InventoryLine>,
    /// Devices in intake or returned that need repair.
    pub waiting_for_repair: i64,
    /// Used or returned devices not yet checked and wiped.
    pub waiting_for_wipe: i64,
}

/// Stock by warehouse, kind and status.
///
/// From the stock ledger, with average age, and the devices waiting for
/// repair or wipe. JSON, CSV or XLSX.
#[utoipa::path(
    tag = "stats",
    security(("bearer" = [])),
    params(FormatQuery),
    responses((status = 200, description = "The stock figures", content((InventoryStats = "application/json"), (String = "text/csv"), (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))))
)]
#[get("/stats/inventory")]
pub async fn inventory_stats(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    query: web::Query<FormatQuery>,
) -> Result<HttpResponse, ApiError> {
    principal.require(&[Role::StatsReader])?;
    let format = negotiate(&req, query.format)?;
    let stats = state
        .reads
        .db()
        .await
        .run(|conn| {
            let ids: Vec<i64> = crate::distribution::warehouses::all(conn)?
                .into_iter()
                .map(|w| w.id)
                .collect();
            let stock = crate::distribution::inventory::queries::stock(conn, &ids)?;
            let items: Vec<(
                i64,
                crate::donations::kinds::DeviceType,
                ItemStatus,
                ItemCondition,
                Option<chrono::NaiveDateTime>,
                chrono::NaiveDateTime,
            )> = with_conn!(conn, |c| inventory_items::table
                .filter(
                    inventory_items::status
                        .ne_all([ItemStatus::HandedOver, ItemStatus::WrittenOff])
                )
                .select((
                    inventory_items::warehouse_id,
                    inventory_items::device_type,
                    inventory_items::status,
                    inventory_items::condition,
                    inventory_items::checked_at,
                    inventory_items::created_at,
                ))
                .load(c))?;
            let now = crate::platform::db::now();
            let mut ages: BTreeMap<(i64, String, String), (f64, i64)> = BTreeMap::new();
            let (mut repair, mut wipe) = (0, 0);
            for (warehouse, device, status, condition, checked_at, created_at) in items {
                let entry = ages
                    .entry((warehouse, format!("device:{device}"), status.to_string()))
                    .or_default();
                entry.0 += (now - created_at).num_seconds() as f64 / 86_400.0;
                entry.1 += 1;
                let waiting = matches!(status, ItemStatus::Intake | ItemStatus::Returned);
                if waiting && condition == ItemCondition::NeedsRepair {
                    repair += 1;
                } else if waiting
                    && checked_at.is_none()
                    && (condition != ItemCondition::New || status == ItemStatus::Returned)
                {
                    wipe += 1;
                }
            }
            let lines = stock
                .into_iter()
                .map(|line| {
                    let age = ages
                        .get(&(line.warehouse_id, line.stock.clone(), line.status.clone()))
                        .map(|(sum, n)| (sum / *n as f64 * 10.0).round() / 10.0);
                    InventoryLine {
                        warehouse_id: line.warehouse_id,
                        stock: line.stock,
                        status: line.status,
                        count: line.count,
                        average_age_days: age,
                    }
                })
                .collect();
            Ok(InventoryStats {
                lines,
                waiting_for_repair: repair,
                waiting_for_wipe: wipe,
            })
        })
        .await?;
    respond(format, query.lang, "inventory", &stats, &stats.lines)
}

crate::platform::db::text_enum! {
    pub enum Metric {
        /// Devices and packages handed over.
        Handovers => "handovers",
        /// Needs that became fulfilled.
        NeedsFulfilled => "needs_fulfilled",
        /// Needs reported (or generated).
        NeedsReported => "needs_reported",
    }
}

crate::platform::db::text_enum! {
    pub enum Interval {
        Week => "week",
        Month => "month",
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TimeseriesQuery {
    pub metric: Metric,
    pub interval: Interval,
    /// The subtree.
    pub admin_unit: Option<String>,
    /// `json` (default), `csv`, `xlsx` or `svg` (the count per period and the running total).
    pub format: Option<crate::platform::http::tabular::TableOrChart>,
    /// Column titles of CSV and XLSX: `en` (field names, default) or `vi`;
    /// a chart's words are Vietnamese unless `en`.
    pub lang: Option<crate::platform::http::tabular::Lang>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TimeseriesPoint {
    /// The first day of the week (Monday) or month.
    pub period: NaiveDate,
    pub count: i64,
    pub cumulative: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Timeseries {
    pub metric: Metric,
    pub interval: Interval,
    pub points: Vec<TimeseriesPoint>,
}

/// A metric over time.
///
/// Counted from the events (not from today's state), per week or month. JSON,
/// CSV or XLSX.
#[utoipa::path(
    tag = "stats",
    security(("bearer" = [])),
    params(TimeseriesQuery),
    responses((status = 200, description = "One point per week or month", content((Timeseries = "application/json"), (String = "text/csv"), (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), (String = "image/svg+xml"))))
)]
#[get("/stats/timeseries")]
pub async fn timeseries(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    query: web::Query<TimeseriesQuery>,
) -> Result<HttpResponse, ApiError> {
    principal.require(STATS_ROLES)?;
    let query = query.into_inner();
    let chart = query.format == Some(TableOrChart::Svg);
    let format = negotiate(&req, query.format.and_then(TableOrChart::table))?;
    let lang = query.lang;
    let (metric, interval) = (query.metric, query.interval);
    let dates: Vec<NaiveDate> = state
        .reads
        .db()
        .await
        .run(move |conn| {
            let (_, units) = root_for(conn, &principal, query.admin_unit.as_deref())?;
            let dates: Vec<NaiveDate> = match metric {
                // Handovers of needs in the caller's subtree, like the need metrics.
                Metric::Handovers => with_conn!(conn, |c| {
                    let mut q = handovers::table
                        .inner_join(
                            crate::platform::db::schema::allocations::table
                                .inner_join(crate::platform::db::schema::needs::table),
                        )
                        .select(handovers::handed_on)
                        .into_boxed();
                    if let Some(units) = &units {
                        q = q.filter(
                            crate::platform::db::schema::needs::admin_unit_code.eq_any(units),
                        );
                    }
                    q.load(c)
                })?,
                Metric::NeedsFulfilled | Metric::NeedsReported => {
                    let to = if metric == Metric::NeedsFulfilled {
                        "fulfilled"
                    } else {
                        "reported"
                    };
                    let at: Vec<chrono::NaiveDateTime> = with_conn!(conn, |c| {
                        let mut q = need_events::table
                            .inner_join(crate::platform::db::schema::needs::table)
                            .filter(need_events::to_status.eq(to))
                            .select(need_events::at)
                            .into_boxed();
                        if let Some(units) = &units {
                            q = q.filter(
                                crate::platform::db::schema::needs::admin_unit_code.eq_any(units),
                            );
                        }
                        q.load(c)
                    })?;
                    at.into_iter().map(|t| t.date()).collect()
                }
            };
            Ok(dates)
        })
        .await?;
    let mut counts: BTreeMap<NaiveDate, i64> = BTreeMap::new();
    for date in dates {
        let period = match interval {
            Interval::Week => {
                date - chrono::Days::new(date.weekday().num_days_from_monday() as u64)
            }
            Interval::Month => date.with_day(1).unwrap_or(date),
        };
        *counts.entry(period).or_default() += 1;
    }
    let mut cumulative = 0;
    let points: Vec<TimeseriesPoint> = counts
        .into_iter()
        .map(|(period, count)| {
            cumulative += count;
            TimeseriesPoint {
                period,
                count,
                cumulative,
            }
        })
        .collect();
    let series = Timeseries {
        metric,
        interval,
        points,
    };
    if chart {
        return Ok(svg_response(charts::timeseries(&series, lang)?));
    }
    respond(format, lang, "timeseries", &series, &series.points)
}

/// Uptake of online-teaching platforms by area, school level and platform.
///
/// Admins and statistics readers anywhere, district officers in their
/// subtree. Schools that record using each platform and their students,
/// per child unit of the subtree (a province's districts) and school
/// level, and per platform in total. JSON, CSV or XLSX.
#[utoipa::path(
    tag = "stats",
    security(("bearer" = [])),
    params(platforms::PlatformStatsQuery),
    responses(
        (status = 200, description = "Uptake per platform, and per part, level and platform", content((platforms::PlatformStats = "application/json"), (String = "text/csv"), (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 404, description = "No such admin unit in your scope", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/stats/platforms")]
pub async fn platform_stats(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    query: web::Query<platforms::PlatformStatsQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let format = negotiate(&req, query.format)?;
    let (lang, level) = (query.lang, query.level);
    let stats = for_subtree(&state, principal, query.admin_unit, move |conn, root| {
        platforms::platform_stats(conn, root, level)
    })
    .await?;
    respond(format, lang, "platforms", &stats, &stats.rows)
}

/// Safe internet on the devices children hold, by area.
///
/// Admins and statistics readers anywhere, district officers in their
/// subtree. Of the devices handed over and not returned, per child unit of
/// the subtree (a province's districts): how many carry the current device
/// profile in full, an older version (or the current one with failures),
/// or none. JSON, CSV or XLSX.
#[utoipa::path(
    tag = "stats",
    security(("bearer" = [])),
    params(safety::SafeDevicesQuery),
    responses(
        (status = 200, description = "Totals and one row per part", content((safety::SafeDevices = "application/json"), (String = "text/csv"), (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 404, description = "No such admin unit in your scope", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/stats/safe-devices")]
pub async fn safe_devices_stats(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    query: web::Query<safety::SafeDevicesQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let format = negotiate(&req, query.format)?;
    let lang = query.lang;
    let stats = for_subtree(&state, principal, query.admin_unit, safety::safe_devices).await?;
    let mut rows = vec![stats.total.clone()];
    rows.extend(stats.rows.iter().cloned());
    respond(format, lang, "safe-devices", &stats, &rows)
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(coverage_stats)
        .service(safe_devices_stats)
        .service(platform_stats)
        .service(donations_stats)
        .service(inventory_stats)
        .service(timeseries);
}
