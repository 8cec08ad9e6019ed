//! The periodic progress report the Department sends to the Provincial
//! People's Committee: students by school level with and without a device
//! and a connection, needs, gifts by kind, handovers, coverage gaps closed
//! by operator, and the same by district; with the month, the data date
//! and the figures in sentences. JSON (the figures), XLSX or PDF, all from
//! one computation, whose totals are the API's own.

pub mod figures;
mod render;
pub mod tables;

use actix_web::http::header;
use actix_web::{get, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::platform::auth::{Principal, Role};
use crate::platform::error::Failure;
use crate::platform::http::ApiError;
use crate::platform::state::AppState;
pub use figures::{Period, ProgressReport};

crate::platform::db::text_enum! {
    /// How the report is sent.
    pub enum ReportFormat {
        /// The figures as JSON (`ProgressReport`).
        Json => "json",
        /// An Excel workbook: a summary sheet and one sheet per table.
        Xlsx => "xlsx",
        /// A printable A4 document.
        Pdf => "pdf",
    }
}

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// The month reported on, `YYYY-MM`.
    #[param(example = "2021-10")]
    pub period: String,
    /// The unit reported on (default: your area; the whole country for
    /// admins and statistics readers).
    pub admin_unit: Option<String>,
    /// `json` (default), `xlsx` or `pdf`; or ask with `Accept`.
    pub format: Option<ReportFormat>,
}

/// Who may read the report: the statistics roles (a district officer for
/// their district) and the programme's officers.
const REPORT_ROLES: &[Role] = &[
    Role::StatsReader,
    Role::DistrictOfficer,
    Role::ProgrammeOfficer,
];

/// The periodic progress report of a month.
///
/// Admins, statistics readers and programme officers anywhere, district
/// officers in their area. `format=xlsx` or `pdf` (or `Accept`) for the
/// document to send upward; JSON for the figures. Totals equal
/// `GET /stats/coverage` (students, devices, connections, needs) and
/// `GET /stats/donations` (gifts) for the same `admin_unit`; "in the
/// period" counts need events, handovers and gaps closed in that month.
#[utoipa::path(
    tag = "stats",
    security(("bearer" = [])),
    params(ReportQuery),
    responses(
        (status = 200, description = "The report", content(
            (ProgressReport = "application/json"),
            (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            (String = "application/pdf"),
        )),
        (status = 400, description = "`period` is not a month (`YYYY-MM`), or a malformed parameter", body = crate::platform::http::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such admin unit in your scope", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/reports/progress")]
pub async fn progress_report(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    query: web::Query<ReportQuery>,
) -> Result<HttpResponse, ApiError> {
    principal.require(REPORT_ROLES)?;
    let query = query.into_inner();
    // A malformed query parameter is 400, like every other one.
    let period = Period::parse(&query.period).ok_or_else(|| {
        ApiError::bad_request(
            "invalid query parameter: period must be a month, YYYY-MM, from 2000 to 2100",
        )
    })?;
    let format = query.format.unwrap_or_else(|| {
        let accept = req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if accept.contains("application/pdf") {
            ReportFormat::Pdf
        } else if accept.contains("spreadsheetml") {
            ReportFormat::Xlsx
        } else {
            ReportFormat::Json
        }
    });
    let report = state
        .reads
        .db()
        .await
        .run(move |conn| {
            let (root, units) =
                crate::reporting::stats::root_for(conn, &principal, query.admin_unit.as_deref())?;
            figures::compute(conn, root.as_deref(), units.as_deref(), period)
        })
        .await?;
    let name = format!(
        "bao-cao-tien-do-{}-{}",
        report.admin_unit.as_deref().unwrap_or("ca-nuoc"),
        report.period
    );
    let document = |content_type: &str, extension: &str, body: Vec<u8>| {
        HttpResponse::Ok()
            .content_type(content_type.to_owned())
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.{extension}\""),
            ))
            .body(body)
    };
    // Rendering is CPU work: off the async executor, like the queries.
    let rendered = |render: fn(&ProgressReport) -> Result<Vec<u8>, Failure>| {
        let report = report.clone();
        web::block(move || render(&report))
    };
    Ok(match format {
        ReportFormat::Json => HttpResponse::Ok().json(&report),
        ReportFormat::Xlsx => document(
            XLSX,
            "xlsx",
            rendered(render::xlsx)
                .await
                .map_err(|e| ApiError::internal(e.to_string()))??,
        ),
        ReportFormat::Pdf => document(
            "application/pdf",
            "pdf",
            rendered(render::pdf)
                .await
                .map_err(|e| ApiError::internal(e.to_string()))??,
        ),
    })
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(progress_report);
}
