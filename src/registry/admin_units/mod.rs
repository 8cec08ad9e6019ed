//! Administrative units (province → district → commune, GSO codes):
//! reference data every other record hangs from. Seeded on first start with
//! Hòa Bình; any file of the same format can be imported.

pub mod import;
pub mod mapping;
pub mod model;
pub mod queries;
pub mod scheme;
pub mod view;

use actix_web::{get, post, put, web, HttpRequest};
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

pub use model::{
    AdminUnit, AdminUnitDetail, AdminUnitFilter, AdminUnitPage, ImportReport, Level, SchemeQuery,
};
pub use scheme::Scheme;
pub use view::SchemeView;

use crate::platform::auth::{Principal, Realm, Role};
use crate::platform::http::json::Json;
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
                scheme: scheme::Scheme::of(&unit.code),
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
/// format of `data/admin_units_vn.csv`, or of `data/admin_units_vn_2025.csv`
/// with `?scheme=vn2025`: its codes are stored prefixed, `vn2025:25`).
/// Re-importing is safe: new codes are added, changed names (levels,
/// parents) updated, nothing duplicated. One bad line rejects the whole
/// file with a 422 naming every bad line.
#[utoipa::path(
    tag = "admin-units",
    security(("bearer" = [])),
    params(SchemeQuery),
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
    scheme: web::Query<SchemeQuery>,
    body: web::Bytes,
) -> Result<web::Json<ImportReport>, ApiError> {
    principal.require_admin()?;
    crate::platform::http::require_content_type(&req, "text/csv")?;
    let lines = import::parse_in(&body, scheme.scheme.unwrap_or(Scheme::Vn2008))?;
    let actor = principal.actor();
    let report = state
        .db
        .run(move |conn| queries::import(conn, &actor, lines))
        .await?;
    Ok(web::Json(report))
}

/// Import the 2025 reform's mapping from CSV (admin).
///
/// `old_code,new_code,is_default` (the format of
/// `data/admin_units_2025_mapping.csv`): which new commune each old commune
/// became, exactly one default per old commune. The 2025 units must be
/// imported first: a new code that is no `vn2025` unit is refused with its
/// line and nothing is written. Rows of old communes this service does not
/// hold (other provinces) are counted and left out. Re-importing changes
/// nothing.
#[utoipa::path(
    tag = "admin-units",
    security(("bearer" = [])),
    request_body(content = String, content_type = "text/csv", description = "CSV with header old_code,new_code,is_default", example = json!("old_code,new_code,is_default\n04891,04891,true\n04891,04828,false\n")),
    responses((status = 200, description = "What was stored", body = mapping::MappingReport))
)]
#[post("/admin-units/mappings/import")]
pub async fn import_mapping(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<web::Json<mapping::MappingReport>, ApiError> {
    principal.require_admin()?;
    crate::platform::http::require_content_type(&req, "text/csv")?;
    let lines = mapping::parse(&body)?;
    let actor = principal.actor();
    let report = state
        .db
        .run(move |conn| mapping::import(conn, &actor, lines))
        .await?;
    Ok(web::Json(report))
}

/// The new communes an old commune became.
///
/// After the 2025 reform; `is_default` marks where its records go unless
/// an officer decides otherwise for a school. Empty for a unit with no
/// successors on record; 404 for an unknown code.
#[utoipa::path(
    tag = "admin-units",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "An old (vn2008) code", example = "04891")),
    responses(
        (status = 200, description = "Its successors", body = mapping::LinkedUnitList),
        (status = 404, description = "No unit has this code", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/admin-units/{code}/successors")]
pub async fn successors(
    state: web::Data<AppState>,
    _principal: Principal,
    code: web::Path<String>,
) -> Result<web::Json<mapping::LinkedUnitList>, ApiError> {
    let code = code.into_inner();
    let items = state
        .db
        .run(move |conn| mapping::linked(conn, &code, true))
        .await?;
    Ok(web::Json(mapping::LinkedUnitList { items }))
}

/// The old communes a new commune came from.
///
/// `is_default` marks the old communes whose records come here by
/// default. 404 for an unknown code.
#[utoipa::path(
    tag = "admin-units",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "A new (vn2025) code", example = "vn2025:04891")),
    responses(
        (status = 200, description = "Its predecessors", body = mapping::LinkedUnitList),
        (status = 404, description = "No unit has this code", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/admin-units/{code}/predecessors")]
pub async fn predecessors(
    state: web::Data<AppState>,
    _principal: Principal,
    code: web::Path<String>,
) -> Result<web::Json<mapping::LinkedUnitList>, ApiError> {
    let code = code.into_inner();
    let items = state
        .db
        .run(move |conn| mapping::linked(conn, &code, false))
        .await?;
    Ok(web::Json(mapping::LinkedUnitList { items }))
}

/// Schools in old communes the reform split across several new ones.
///
/// Admins everywhere, district officers in their area (`admin_unit`
/// narrows to an old unit's subtree). Each with its commune's successors,
/// the officer's decision if one was made, and where it lands: nothing is
/// decided silently.
#[utoipa::path(
    tag = "admin-units",
    security(("bearer" = [])),
    params(mapping::SplitSchoolsQuery),
    responses(
        (status = 200, description = "The schools", body = mapping::SplitSchoolList),
        (status = 404, description = "No such admin unit in your scope", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/admin-units/split-schools")]
pub async fn split_schools(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<mapping::SplitSchoolsQuery>,
) -> Result<web::Json<mapping::SplitSchoolList>, ApiError> {
    principal.require(&[Role::DistrictOfficer])?;
    let asked = query.into_inner().admin_unit;
    let items = state
        .db
        .run(move |conn| {
            let root = principal.unit_in_scope(conn, asked.as_deref())?;
            let units = queries::subtree_filter(conn, root.as_deref())?;
            mapping::split_schools(conn, units.as_deref())
        })
        .await?;
    Ok(web::Json(mapping::SplitSchoolList { items }))
}

/// Decide which new commune a school in a split commune lands in.
///
/// Admins, and district officers for schools in their area (404
/// otherwise). `new_code` must be one of the successors of the school's
/// commune (422). Audited; replaces an earlier decision.
#[utoipa::path(
    tag = "admin-units",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "School id")),
    request_body = mapping::ChooseSuccessor,
    responses(
        (status = 200, description = "The school with the decision", body = mapping::SplitSchool),
        (status = 404, description = "No such school in your scope", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[put("/schools/{id}/successor-unit")]
pub async fn choose_successor(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
    body: Json<mapping::ChooseSuccessor>,
) -> Result<web::Json<mapping::SplitSchool>, ApiError> {
    principal.require(&[Role::DistrictOfficer])?;
    let choice = body.into_inner();
    choice.validate()?;
    let school_id = id.into_inner();
    let school = state
        .db
        .run(move |conn| {
            let reach = principal.reach(conn, Realm::Students)?;
            mapping::choose_successor(conn, &principal.actor(), &reach, school_id, choice)
        })
        .await?;
    Ok(web::Json(school))
}

pub fn configure(cfg: &mut ServiceConfig) {
    // Fixed routes come first: "/admin-units/import" must not be read as a
    // unit code.
    cfg.service(import_admin_units)
        .service(import_mapping)
        .service(split_schools)
        .service(successors)
        .service(predecessors)
        .service(choose_successor)
        .service(list_admin_units)
        .service(get_admin_unit);
}
