//! Schools: the MOET code register, synced from the education data system
//! or kept by admins and district officers (inside their subtree). School
//! data are public information; every role may read them.

pub mod model;
pub mod queries;

use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

pub use model::{
    School, SchoolFilter, SchoolInput, SchoolLevel, SchoolPage, SchoolPatch, SchoolRow,
};

use crate::platform::auth::{Principal, Role};
use crate::platform::db::DbConn;
use crate::platform::error::Failure;
use crate::platform::error::OrUnknown;
use crate::platform::http::json::Json;
use crate::platform::http::pagination::PageQuery;
use crate::platform::http::versioning;
use crate::platform::http::ApiError;
use crate::platform::state::AppState;

/// A success answer carrying the school's version as its ETag.
fn with_etag(
    status: actix_web::http::StatusCode,
    row: SchoolRow,
    readers: &ContactReaders,
) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(versioning::etag(row.version))
        .json(readers.show(&row, School::from(row.clone())))
}

/// Who may read a school's `contact` (the office's phone or e-mail): the
/// people who work with the school — admins, the education data system
/// that supplies it, district officers whose subtree holds it, and its own
/// staff. Everyone else sees every other field, and no contact.
pub enum ContactReaders {
    All,
    Some(crate::platform::auth::Reach),
    Nobody,
}

impl ContactReaders {
    pub fn of(
        conn: &mut crate::platform::db::DbConn,
        principal: &Principal,
    ) -> Result<Self, Failure> {
        Ok(match principal.role {
            Role::Admin | Role::SyncClient => ContactReaders::All,
            Role::DistrictOfficer | Role::SchoolStaff => {
                ContactReaders::Some(principal.reach(conn, crate::platform::auth::Realm::Students)?)
            }
            _ => ContactReaders::Nobody,
        })
    }

    /// The school as this caller may see it.
    pub fn show(&self, row: &SchoolRow, mut school: School) -> School {
        let allowed = match self {
            ContactReaders::All => true,
            ContactReaders::Some(scope) => scope.allows_place(row.id, &row.admin_unit_code),
            ContactReaders::Nobody => false,
        };
        if !allowed {
            school.contact = None;
        }
        school
    }
}

/// Create a school (admin; district officer inside their subtree).
///
/// The MOET code is unique (409). An unknown `admin_unit_code` is 422.
#[utoipa::path(
    tag = "schools",
    security(("bearer" = [])),
    request_body = SchoolInput,
    responses(
        (status = 201, description = "The new school", body = School),
        (status = 409, description = "The MOET code is taken", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/schools")]
pub async fn create_school(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<SchoolInput>,
) -> Result<HttpResponse, ApiError> {
    principal.require(&[Role::DistrictOfficer])?;
    let input = body.into_inner();
    input.validate()?;
    let row = state
        .db
        .run(move |conn| {
            principal
                .ensure_admin_unit_in_scope(conn, &input.admin_unit_code)
                .or_unknown("admin_unit_code")?;
            let row = queries::create(conn, &principal.actor(), input)?;
            Ok((row, ContactReaders::of(conn, &principal)?))
        })
        .await?;
    Ok(with_etag(
        actix_web::http::StatusCode::CREATED,
        row.0,
        &row.1,
    ))
}

/// List schools.
///
/// Filter by admin-unit subtree, level, name (`q`) and activity; page with
/// `limit` and `cursor`.
#[utoipa::path(
    tag = "schools",
    security(("bearer" = [])),
    params(SchoolFilter, PageQuery),
    responses(
        (status = 200, description = "A page of schools, by id", body = SchoolPage),
        (status = 404, description = "Unknown admin unit", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/schools")]
pub async fn list_schools(
    state: web::Data<AppState>,
    principal: Principal,
    filter: web::Query<SchoolFilter>,
    page: web::Query<PageQuery>,
) -> Result<web::Json<SchoolPage>, ApiError> {
    let page = page.parse::<i64>()?;
    let filter = filter.into_inner();
    let schools = state
        .db
        .run(move |conn| {
            let units = crate::registry::admin_units::queries::subtree_filter(
                conn,
                filter.admin_unit.as_deref(),
            )?;
            let readers = ContactReaders::of(conn, &principal)?;
            let (rows, next_cursor) = queries::list_rows(conn, &filter, units.as_deref(), &page)?;
            Ok(SchoolPage {
                items: rows
                    .into_iter()
                    .map(|row| readers.show(&row, School::from(row.clone())))
                    .collect(),
                next_cursor,
            })
        })
        .await?;
    Ok(web::Json(schools))
}

/// One school.
///
/// The `ETag` header is its version, for `If-Match` on PATCH.
#[utoipa::path(
    tag = "schools",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "School id")),
    responses(
        (status = 200, description = "The school", body = School, headers(("ETag" = String, description = "The version, for If-Match"))),
        (status = 404, description = "No such school", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/schools/{id}")]
pub async fn get_school(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let (row, readers) = state
        .db
        .run(move |conn| {
            Ok((
                queries::find(conn, id)?,
                ContactReaders::of(conn, &principal)?,
            ))
        })
        .await?;
    Ok(with_etag(actix_web::http::StatusCode::OK, row, &readers))
}

/// One school by its MOET code.
///
/// 404 when no school has this code.
#[utoipa::path(
    tag = "schools",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "MOET school code")),
    responses(
        (status = 200, description = "The school", body = School),
        (status = 404, description = "No school has this code", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/schools/by-code/{code}")]
pub async fn get_school_by_code(
    state: web::Data<AppState>,
    principal: Principal,
    code: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let code = code.into_inner();
    let (row, readers) = state
        .db
        .run(move |conn| {
            Ok((
                queries::find_by_code(conn, &code)?,
                ContactReaders::of(conn, &principal)?,
            ))
        })
        .await?;
    Ok(with_etag(actix_web::http::StatusCode::OK, row, &readers))
}

/// Change a school (admin; district officer inside their subtree).
///
/// Send `If-Match` with the version you read to be told (412) when somebody
/// else changed the school in between.
#[utoipa::path(
    tag = "schools",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "School id"),
        ("If-Match" = Option<String>, Header, description = "The version you read, e.g. \"3\""),
    ),
    request_body = SchoolPatch,
    responses(
        (status = 200, description = "The school after the change", body = School),
        (status = 404, description = "No such school in your scope", body = crate::platform::http::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The school changed while you were updating it (no If-Match sent)", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/schools/{id}")]
pub async fn update_school(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    id: web::Path<i64>,
    body: Json<SchoolPatch>,
) -> Result<HttpResponse, ApiError> {
    principal.require(&[Role::DistrictOfficer])?;
    let expected = versioning::if_match(&req)?;
    let patch = body.into_inner();
    patch.validate()?;
    let id = id.into_inner();
    let row = state
        .db
        .run(move |conn| {
            let in_scope =
                |conn: &mut DbConn, code: &str| principal.ensure_admin_unit_in_scope(conn, code);
            let row = queries::update(conn, &principal.actor(), id, patch, expected, &in_scope)?;
            Ok((row, ContactReaders::of(conn, &principal)?))
        })
        .await?;
    Ok(with_etag(actix_web::http::StatusCode::OK, row.0, &row.1))
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_school)
        .service(list_schools)
        .service(get_school_by_code)
        .service(get_school)
        .service(update_school);
}
