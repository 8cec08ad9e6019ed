//! Administrative units (province → district → commune, GSO codes):
//! reference data every other record hangs from. Seeded on first start with
//! Hòa Bình; any file of the same format can be imported.

pub mod import;
pub mod model;
pub mod queries;

use actix_web::{get, post, web, HttpRequest};
use utoipa_actix_web::service_config::ServiceConfig;

pub use model::{AdminUnit, AdminUnitDetail, AdminUnitFilter, AdminUnitPage, ImportReport, Level};

use crate::platform::auth::Principal;
use crate::platform::http::pagination::PageQuery;
use crate::platform::http::ApiError;
use crate::platform::state::AppState;

/// The default seed: Hòa Bình (province 17, 10 districts, 151 communes).
pub const SEED_CSV: &str = include_str!("../../../data/admin_units_hoa_binh.csv");

/// List administrative units, ordered by code.
///
/// `?parent_code=17` gives Hòa Bình's districts; `?level=province` the
/// provinces. Readable by every signed-in role: these are public reference
/// data. An unknown `parent_code` is 404.
#[utoipa::path(
    tag = "admin-units",
    security(("bearer" = [])),
    params(AdminUnitFilter, PageQuery),
    responses((status = 200, description = "A page of units", body = AdminUnitPage))
)]
#[get("/admin-units")]
pub async fn list_admin_units(
    state: web::Data<AppState>,
    _principal: Principal,
    filter: web::Query<AdminUnitFilter>,
    page: web::Query<PageQuery>,
) -> Result<web::Json<AdminUnitPage>, ApiError> {
    let page = page.parse::<String>()?;
    let filter = filter.into_inner();
    let units = state
        .db
        .run(move |conn| queries::list(conn, &filter, &page))
        .await?;
    Ok(web::Json(units))
}

/// One unit with its parent chain.
///
/// The chain runs from the province down to the unit's parent; `children` is
/// the number of units directly below it. 404 for an unknown code.
#[utoipa::path(
    tag = "admin-units",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "GSO code", example = "150")),
    responses(
        (status = 200, description = "The unit", body = AdminUnitDetail),
        (status = 404, description = "No unit has this code", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/admin-units/{code}")]
pub async fn get_admin_unit(
    state: web::Data<AppState>,
    _principal: Principal,
    code: web::Path<String>,
) -> Result<web::Json<AdminUnitDetail>, ApiError> {
    let code = code.into_inner();
    let detail = state
        .db
        .run(move |conn| {
            let mut chain = queries::ancestry(conn, &code)?;
            let unit = chain.remove(0);
            let children_count = queries::children_count(conn, &unit.code)?;
            chain.reverse();
            Ok(AdminUnitDetail {
                code: unit.code,
                parent_code: unit.parent_code,
                level: unit.level,
                name: unit.name,
                parents: chain.into_iter().map(AdminUnit::from).collect(),
                children_count,
            })
        })
        .await?;
    Ok(web::Json(detail))
}

/// Import units from CSV (admin).
///
/// The body is a UTF-8 CSV file with the header `code,parent_code,level,name` (the
/// format of `data/admin_units_vn.csv`). Re-importing is safe: new codes are added,
/// changed names (levels, parents) updated, nothing duplicated. One bad line
/// rejects the whole file with a 422 naming every bad line.
#[utoipa::path(
    tag = "admin-units",
    security(("bearer" = [])),
    request_body(content = String, content_type = "text/csv", description = "CSV with header code,parent_code,level,name", example = json!("code,parent_code,level,name\n17,,province,Tỉnh Hòa Bình\n148,17,district,Thành phố Hòa Bình\n")),
    responses(
        (status = 200, description = "What changed", body = ImportReport),
    )
)]
#[post("/admin-units/import")]
pub async fn import_admin_units(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<web::Json<ImportReport>, ApiError> {
    principal.require_admin()?;
    crate::platform::http::require_content_type(&req, "text/csv")?;
    let lines = import::parse(&body)?;
    let actor = principal.actor();
    let report = state
        .db
        .run(move |conn| queries::import(conn, &actor, lines))
        .await?;
    Ok(web::Json(report))
}

pub fn configure(cfg: &mut ServiceConfig) {
    // The import route comes first: "/admin-units/import" must not be read
    // as a unit code.
    cfg.service(import_admin_units)
        .service(list_admin_units)
        .service(get_admin_unit);
}
