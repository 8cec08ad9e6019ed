//! Public transparency pages: no token, aggregates only, cached by the
//! service ([`cache`]), clients and proxies for a minute and rate-limited
//! per address. Never a student:
//! no name, birth date, external id or household status, and any count of
//! students (or needs, or handovers) between 1 and 4 is shown as "<5".

pub mod cache;

use std::collections::BTreeMap;

use actix_web::web::Bytes;
use actix_web::{get, web, HttpResponse};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::rate_limit::TokenRateLimit;
use crate::db::schema::{
    admin_units, allocations, donors, handovers, inventory_items, needs, receipts,
};
use crate::db::{with_conn, DbConn};
use crate::error::ApiError;
use crate::error::OrUnknown;
use crate::needs::workflow::NeedStatus;
use crate::pledges::DonationKind;
use crate::startup::AppState;
use crate::stats::coverage::{coverage, GroupBy};
use cache::PublicPage;

/// What public outputs call a donor who asked not to be named.
pub const ANONYMOUS: &str = "Nhà hảo tâm ẩn danh";

/// A count shown to the public: the number, or the string `"<5"` when it
/// is between 1 and 4 (small-number protection: a handful of children in a
/// commune could be recognised).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicCount {
    Exact(i64),
    FewerThanFive,
}

/// Small-number protection: 1 to 4 become "<5".
pub fn protect(count: i64) -> PublicCount {
    if (1..5).contains(&count) {
        PublicCount::FewerThanFive
    } else {
        PublicCount::Exact(count)
    }
}

impl Serialize for PublicCount {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            PublicCount::Exact(n) => serializer.serialize_i64(*n),
            PublicCount::FewerThanFive => serializer.serialize_str("<5"),
        }
    }
}

impl utoipa::PartialSchema for PublicCount {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                        utoipa::openapi::KnownFormat::Int64,
                    )))
                    .minimum(Some(0)),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["<5"])),
            )
            .description(Some(
                "A count of children, needs or handovers: the number, or the string `<5` when it is between 1 and 4.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for PublicCount {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("PublicCount")
    }
}

/// What clients and proxies may do with a public page.
const CACHE_CONTROL: (&str, &str) = ("Cache-Control", "public, max-age=60");

fn cached(body: &impl Serialize) -> HttpResponse {
    HttpResponse::Ok().insert_header(CACHE_CONTROL).json(body)
}

/// A page from the service's cache, computing it with `compute` when due.
async fn cached_page<T, F>(
    state: &AppState,
    page: PublicPage,
    compute: F,
) -> Result<HttpResponse, ApiError>
where
    T: Serialize + Send + 'static,
    F: FnOnce(&mut DbConn) -> Result<T, ApiError> + Send + 'static,
{
    let body = state
        .public_cache
        .get_or_compute(page, || async {
            let value = state.db.run(compute).await?;
            serde_json::to_vec(&value)
                .map(Bytes::from)
                .map_err(|e| ApiError::internal(e.to_string()))
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(CACHE_CONTROL)
        .content_type("application/json")
        .body(body))
}

/// One unit's readiness for the public.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicProgressLine {
    pub admin_unit: String,
    pub name: String,
    pub level: String,
    pub students: PublicCount,
    /// Percent ready; absent when fewer than 5 students.
    pub percent_ready: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublicProgress {
    pub units: Vec<PublicProgressLine>,
    pub money_received_vnd: i64,
    pub devices_received: i64,
    pub devices_handed_over: i64,
    pub packages_handed_over: i64,
}

fn progress(conn: &mut DbConn) -> Result<PublicProgress, ApiError> {
    let line = |row: &crate::stats::coverage::CoverageRow, level: &str| PublicProgressLine {
        admin_unit: row.key.clone(),
        name: row.name.clone(),
        level: level.to_owned(),
        students: protect(row.students),
        percent_ready: (row.students >= 5).then_some(row.percent_ready),
    };
    let mut units = Vec::new();
    let provinces = coverage(conn, None, None, GroupBy::AdminUnit)?;
    for province in provinces.rows.iter().filter(|r| r.students > 0) {
        units.push(line(province, "province"));
        for district in coverage(conn, Some(&province.key), None, GroupBy::AdminUnit)?.rows {
            units.push(line(&district, "district"));
        }
    }
    let campaigns: Vec<i64> = crate::campaigns::queries::list(conn)?
        .into_iter()
        .map(|c| c.id)
        .collect();
    let mut money = 0;
    for id in campaigns {
        let b = crate::funds::queries::balance(conn, id)?;
        money += b.received_vnd + b.reversed_vnd;
    }
    let devices_received: Option<i64> = with_conn!(conn, |c| receipts::table
        .filter(receipts::kind.eq(DonationKind::Device))
        .select(diesel::dsl::sql::<
            diesel::sql_types::Nullable<diesel::sql_types::BigInt>,
        >("CAST(SUM(quantity) AS BIGINT)"))
        .first(c))?;
    let devices_handed_over: i64 = with_conn!(conn, |c| inventory_items::table
        .filter(inventory_items::status.eq(crate::inventory::ItemStatus::HandedOver))
        .count()
        .get_result(c))?;
    let packages_handed_over: i64 = with_conn!(conn, |c| handovers::table
        .inner_join(allocations::table)
        .filter(allocations::package_id.is_not_null())
        .count()
        .get_result(c))?;
    Ok(PublicProgress {
        units,
        money_received_vnd: money,
        devices_received: devices_received.unwrap_or(0),
        devices_handed_over,
        packages_handed_over,
    })
}

/// How close each province and district is to "every student ready".
///
/// No token. Counts between 1 and 4 are `"<5"`. Cached by the service for
/// `SONGMAY_PUBLIC_CACHE_SECONDS`.
#[utoipa::path(tag = "public", responses((status = 200, description = "Readiness and totals", body = PublicProgress)))]
#[get("/progress")]
pub async fn public_progress(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    cached_page(&state, PublicPage::Progress, progress).await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NeedsBoardLine {
    pub commune: String,
    pub commune_name: String,
    pub district: Option<String>,
    pub kind: String,
    /// Open needs.
    pub open_needs: PublicCount,
}

/// Where help is missing: open needs by commune and kind.
///
/// No token; never a student. Counts between 1 and 4 are `"<5"`.
#[utoipa::path(tag = "public", responses((status = 200, description = "Open needs by commune and kind", body = Vec<NeedsBoardLine>)))]
#[get("/needs-board")]
pub async fn needs_board(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    cached_page(&state, PublicPage::NeedsBoard, |conn| {
        let rows: Vec<(String, crate::needs::NeedKind, i64)> = with_conn!(conn, |c| needs::table
            .filter(needs::status.eq_any(NeedStatus::OPEN))
            .group_by((needs::admin_unit_code, needs::kind))
            .select((
                needs::admin_unit_code,
                needs::kind,
                diesel::dsl::count_star()
            ))
            .order((needs::admin_unit_code, needs::kind))
            .load(c))?;
        let units: BTreeMap<String, (String, Option<String>)> =
            with_conn!(conn, |c| admin_units::table
                .select((
                    admin_units::code,
                    admin_units::name,
                    admin_units::parent_code
                ))
                .load::<(String, String, Option<String>)>(c))?
            .into_iter()
            .map(|(code, name, parent)| (code, (name, parent)))
            .collect();
        Ok(rows
            .into_iter()
            .map(|(unit, kind, count)| {
                let (name, parent) = units.get(&unit).cloned().unwrap_or_default();
                NeedsBoardLine {
                    commune: unit,
                    commune_name: name,
                    district: parent,
                    kind: kind.to_string(),
                    open_needs: protect(count),
                }
            })
            .collect::<Vec<_>>())
    })
    .await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublicDonation {
    /// The donor's name, or "Nhà hảo tâm ẩn danh".
    pub donor: String,
    /// `money` (VND) or `device:<type>`, `data_package`, `software` (count).
    pub kind: String,
    pub received: i64,
}

/// Who gave what (what arrived).
///
/// No token. Donors who asked to stay anonymous appear as "Nhà hảo tâm ẩn danh".
#[utoipa::path(tag = "public", responses((status = 200, description = "Gifts received, by donor and kind", body = Vec<PublicDonation>)))]
#[get("/donations")]
pub async fn public_donations(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    cached_page(&state, PublicPage::Donations, |conn| {
        type Row = (
            Option<i64>,
            DonationKind,
            Option<crate::pledges::DeviceType>,
            Option<i64>,
            Option<i32>,
        );
        let rows: Vec<Row> = with_conn!(conn, |c| receipts::table
            .filter(receipts::receipt_type.eq(crate::receipts::ReceiptType::Donation))
            .select((
                receipts::donor_id,
                receipts::kind,
                receipts::device_type,
                receipts::amount_vnd,
                receipts::quantity
            ))
            .load(c))?;
        let donor_names: BTreeMap<i64, String> = with_conn!(conn, |c| donors::table
            .select((donors::id, donors::name, donors::anonymous_publicly))
            .load::<(i64, String, bool)>(c))?
        .into_iter()
        .map(|(id, name, anonymous)| {
            (
                id,
                if anonymous {
                    ANONYMOUS.to_owned()
                } else {
                    name
                },
            )
        })
        .collect();
        let mut totals: BTreeMap<(String, String), i64> = BTreeMap::new();
        for (donor, kind, device, amount, quantity) in rows {
            let name = donor
                .and_then(|d| donor_names.get(&d).cloned())
                .unwrap_or_else(|| ANONYMOUS.to_owned());
            let kind = match (kind, device) {
                (DonationKind::Device, Some(device)) => format!("device:{device}"),
                (kind, _) => kind.to_string(),
            };
            *totals.entry((name, kind)).or_default() +=
                amount.unwrap_or(quantity.unwrap_or(0) as i64);
        }
        Ok(totals
            .into_iter()
            .filter(|(_, received)| *received != 0)
            .map(|((donor, kind), received)| PublicDonation {
                donor,
                kind,
                received,
            })
            .collect::<Vec<_>>())
    })
    .await
}

/// "Follow your donation": where one gift went, by district, never by child.
#[derive(Debug, Serialize, ToSchema)]
pub struct DonationTrace {
    pub receipt_id: i64,
    pub donor: String,
    pub campaign: String,
    pub kind: String,
    pub amount_vnd: Option<i64>,
    pub quantity: Option<i32>,
    /// Students who received a device of this gift.
    pub students_reached: PublicCount,
    /// District code → students reached there.
    pub by_district: BTreeMap<String, PublicCount>,
    /// For money: what the campaign's fund paid for.
    pub campaign_spent_vnd: Option<i64>,
}

/// Follow a donation by its bank reference or receipt number.
///
/// No token. How many students the gift reached, by district — never who.
#[utoipa::path(
    tag = "public",
    params(("receipt_ref" = String, Path, description = "The bank transfer reference, or the receipt number")),
    responses(
        (status = 200, description = "Where the gift went", body = DonationTrace),
        (status = 404, description = "No such receipt", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/donations/{receipt_ref}/trace")]
pub async fn trace(
    state: web::Data<AppState>,
    receipt_ref: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let reference = receipt_ref.into_inner();
    let answer = state
        .db
        .run(move |conn| {
            let by_reference: Option<i64> = with_conn!(conn, |c| receipts::table
                .filter(receipts::bank_reference.eq(&reference))
                .select(receipts::id)
                .first(c)
                .optional())?;
            let id = by_reference
                .or_else(|| reference.parse::<i64>().ok())
                .ok_or_else(|| ApiError::not_found("no receipt with this reference"))?;
            let receipt = crate::receipts::queries::find(conn, id)
                .or_not_found(|| "no receipt with this reference".to_owned())?;
            let donor = match receipt.donor_id {
                Some(d) => {
                    let d = crate::donors::queries::find(conn, d)?;
                    if d.anonymous_publicly {
                        ANONYMOUS.to_owned()
                    } else {
                        d.name
                    }
                }
                None => ANONYMOUS.to_owned(),
            };
            let campaign = crate::campaigns::queries::find(conn, receipt.campaign_id)?.name;
            // Devices of this receipt handed over, by the needs' district.
            let reached: Vec<String> = with_conn!(conn, |c| handovers::table
                .inner_join(allocations::table.inner_join(needs::table))
                .inner_join(
                    inventory_items::table
                        .on(allocations::item_id.eq(inventory_items::id.nullable()))
                )
                .filter(inventory_items::receipt_id.eq(receipt.id))
                .select(needs::admin_unit_code)
                .load(c))
            .unwrap_or_default();
            let parents: BTreeMap<String, Option<String>> =
                with_conn!(conn, |c| admin_units::table
                    .select((admin_units::code, admin_units::parent_code))
                    .load::<(String, Option<String>)>(c))?
                .into_iter()
                .collect();
            let mut districts: BTreeMap<String, i64> = BTreeMap::new();
            for unit in &reached {
                let district = match parents.get(unit).cloned().flatten() {
                    Some(parent) if parents.get(&parent).cloned().flatten().is_some() => parent,
                    _ => unit.clone(),
                };
                *districts.entry(district).or_default() += 1;
            }
            let campaign_spent = (receipt.kind == DonationKind::Money)
                .then(|| {
                    crate::funds::queries::balance(conn, receipt.campaign_id).map(|b| b.spent_vnd)
                })
                .transpose()?;
            Ok(DonationTrace {
                receipt_id: receipt.id,
                donor,
                campaign,
                kind: receipt.kind.to_string(),
                amount_vnd: receipt.amount_vnd,
                quantity: receipt.quantity,
                students_reached: protect(reached.len() as i64),
                by_district: districts
                    .into_iter()
                    .map(|(d, n)| (d, protect(n)))
                    .collect(),
                campaign_spent_vnd: campaign_spent,
            })
        })
        .await?;
    Ok(cached(&answer))
}

/// Routes under `/api/v1/public`, rate-limited per client IP.
pub fn configure(rate_limit: TokenRateLimit) -> impl FnOnce(&mut ServiceConfig) {
    move |cfg| {
        cfg.service(
            utoipa_actix_web::scope("/public")
                .wrap(actix_governor::Governor::new(&rate_limit))
                .service(public_progress)
                .service(needs_board)
                .service(public_donations)
                .service(trace),
        );
    }
}
