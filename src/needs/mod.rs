//! Needs: the census of who lacks a device or a connection, their
//! workflow (`workflow.rs`), and their priority (`priority.rs`) with the two
//! things that drive it: the priority rule set and the lockdown flags of
//! admin units (whose routes live here because they exist for needs).

pub mod coverage;
pub mod model;
pub mod priority;
pub mod queries;
pub mod workflow;

use actix_web::{get, post, put, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

pub use model::*;
use priority::{AdminUnitFlag, PriorityRule, SetFlag};
use workflow::Mover;

use crate::platform::auth::{Principal, Role};
use crate::platform::auth::{Reach, Realm};
use crate::platform::error::Failure;
use crate::platform::http::json::Json;
use crate::platform::http::pagination::PageQuery;
use crate::platform::http::ApiError;
use crate::platform::state::AppState;
use crate::registry::students::STUDENT_ROLES;

/// Report a need for a student or a school.
///
/// School staff for their school; district officers in their subtree; admins.
/// A student cannot have two open needs of the same kind: 409 names the
/// existing one. An unknown student or school is 422 naming the field.
#[utoipa::path(
    tag = "needs",
    security(("bearer" = [])),
    request_body = ReportNeed,
    responses(
        (status = 201, description = "The need, with its priority", body = Need),
        (status = 409, description = "The student already has an open need of this kind", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/needs")]
pub async fn report_need(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<ReportNeed>,
) -> Result<HttpResponse, ApiError> {
    principal.require(STUDENT_ROLES)?;
    let input = body.into_inner();
    input.validate()?;
    let row = state
        .db
        .run(move |conn| {
            let scope = principal.reach(conn, Realm::Students)?;
            queries::report(conn, &principal.actor(), &scope, input)
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/needs/{}", row.id)))
        .json(Need::from(row)))
}

/// List needs in the caller's scope, highest priority first.
///
/// Filter by `status`, `kind`, `school_id`, `admin_unit` (a subtree) and a
/// priority range; page with `limit` and `cursor`.
#[utoipa::path(
    tag = "needs",
    security(("bearer" = [])),
    params(NeedFilter, PageQuery),
    responses((status = 200, description = "A page of needs", body = NeedPage))
)]
#[get("/needs")]
pub async fn list_needs(
    state: web::Data<AppState>,
    principal: Principal,
    filter: web::Query<NeedFilter>,
    page: web::Query<PageQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    principal.require(STUDENT_ROLES)?;
    let page = page.parse::<(i32, i64)>()?;
    let filter = filter.into_inner();
    state
        .recent_pages
        .serve(&principal, &req, || async {
            let principal = principal.clone();
            let needs = state
                .reads
                .db()
                .await
                .run(move |conn| {
                    let scope = principal.reach(conn, Realm::Students)?;
                    let units = crate::registry::admin_units::queries::subtree_filter(
                        conn,
                        filter.admin_unit.as_deref(),
                    )?;
                    queries::list(conn, &scope, &filter, units.as_deref(), &page)
                })
                .await?;
            Ok(needs)
        })
        .await
}

/// One need in the caller's scope.
///
/// With its priority and the reasons for it.
#[utoipa::path(
    tag = "needs",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Need id")),
    responses(
        (status = 200, description = "The need", body = Need),
        (status = 404, description = "No such need in your scope", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/needs/{id}")]
pub async fn get_need(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
) -> Result<web::Json<Need>, ApiError> {
    principal.require(STUDENT_ROLES)?;
    let id = id.into_inner();
    let row = state
        .db
        .run(move |conn| {
            let scope = principal.reach(conn, Realm::Students)?;
            let row = queries::find_visible(conn, &scope, id)?;
            queries::with_links(conn, vec![row.into()])
        })
        .await?;
    Ok(web::Json(need(row)?))
}

/// Move a need along its workflow.
///
/// `reported → verified → approved` by district officers (in their subtree) and admins;
/// `rejected` (officers) and `cancelled` (officers, school staff) from any open
/// state, with a `reason`. `allocated` and `fulfilled` are set by allocations
/// and handovers only. An illegal move is 409 and names the allowed next
/// states; a move your role may not make is 403.
#[utoipa::path(
    tag = "needs",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Need id")),
    request_body = TransitionRequest,
    responses(
        (status = 200, description = "The need in its new state", body = Need),
        (status = 404, description = "No such need in your scope", body = crate::platform::http::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not allowed from the current state, or changed meanwhile", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/needs/{id}/transitions")]
pub async fn transition_need(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
    body: Json<TransitionRequest>,
) -> Result<web::Json<Need>, ApiError> {
    principal.require(STUDENT_ROLES)?;
    let input = body.into_inner();
    input.validate()?;
    let id = id.into_inner();
    let row = state
        .db
        .run(move |conn| {
            let scope = principal.reach(conn, Realm::Students)?;
            let mover = Mover::Person(principal.role);
            queries::transition(
                conn,
                &principal.actor(),
                mover,
                &scope,
                id,
                input.to,
                input.reason.as_deref(),
            )
            .and_then(|row| queries::with_links(conn, vec![row.into()]))
        })
        .await?;
    Ok(web::Json(need(row)?))
}

/// The one need of a one-need list.
fn need(mut needs: Vec<Need>) -> Result<Need, ApiError> {
    needs
        .pop()
        .ok_or_else(|| ApiError::internal("a need went missing between two reads"))
}

/// Every transition of a need, oldest first.
///
/// Who moved it, when, from which state to which, and why.
#[utoipa::path(
    tag = "needs",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Need id")),
    responses(
        (status = 200, description = "The events", body = Vec<NeedEvent>),
        (status = 404, description = "No such need in your scope", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/needs/{id}/events")]
pub async fn need_events(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
) -> Result<web::Json<Vec<NeedEvent>>, ApiError> {
    principal.require(STUDENT_ROLES)?;
    let id = id.into_inner();
    let events = state
        .db
        .run(move |conn| {
            let scope = principal.reach(conn, Realm::Students)?;
            queries::events(conn, &scope, id)
        })
        .await?;
    Ok(web::Json(events))
}

/// Create the needs the student records imply.
///
/// For one school or a subtree (district officer in scope, admin): a device
/// need for `device_status` `none`/`inadequate`, a connectivity need for
/// `connectivity_status` `none`. Never duplicates an open need.
#[utoipa::path(
    tag = "needs",
    security(("bearer" = [])),
    request_body = GenerateRequest,
    responses(
        (status = 200, description = "How many needs were created", body = GenerateReport),
    )
)]
#[post("/needs/generate")]
pub async fn generate_needs(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<GenerateRequest>,
) -> Result<web::Json<GenerateReport>, ApiError> {
    principal.require(&[Role::DistrictOfficer, Role::ProgrammeOfficer])?;
    let target = body.into_inner();
    let report = state
        .db
        .run(move |conn| {
            let scope = principal.reach(conn, Realm::Students)?;
            let schools = queries::target_schools(conn, &scope, &target)?;
            queries::generate(conn, &principal.actor(), &schools)
        })
        .await?;
    Ok(web::Json(report))
}

/// Move up to 1,000 needs at once (district officer in scope, admin).
///
/// Each need is checked and moved on its own; the answer says what happened to each.
#[utoipa::path(
    tag = "needs",
    security(("bearer" = [])),
    request_body = BulkTransition,
    responses((status = 200, description = "One result per need", body = BulkReport))
)]
#[post("/needs/transitions")]
pub async fn bulk_transition(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<BulkTransition>,
) -> Result<web::Json<BulkReport>, ApiError> {
    principal.require(&[Role::DistrictOfficer, Role::ProgrammeOfficer])?;
    let input = body.into_inner();
    input.validate()?;
    let report = state
        .db
        .run(move |conn| {
            let scope = principal.reach(conn, Realm::Students)?;
            let mover = Mover::Person(principal.role);
            let actor = principal.actor();
            let mut items = Vec::with_capacity(input.ids.len());
            for id in input.ids {
                let outcome = queries::transition(
                    conn,
                    &actor,
                    mover,
                    &scope,
                    id,
                    input.to,
                    input.reason.as_deref(),
                );
                items.push(match outcome {
                    Ok(row) => BulkItem {
                        id,
                        status: 200,
                        need_status: Some(row.status),
                        error: None,
                    },
                    Err(error) => {
                        let error = ApiError::from(error);
                        BulkItem {
                            id,
                            status: error.status().as_u16(),
                            need_status: queries::find_visible(conn, &scope, id)
                                .ok()
                                .map(|n| n.status),
                            error: Some(error.problem().detail),
                        }
                    }
                });
            }
            let succeeded = items.iter().filter(|i| i.status == 200).count();
            Ok(BulkReport {
                succeeded,
                failed: items.len() - succeeded,
                items,
            })
        })
        .await?;
    Ok(web::Json(report))
}

/// Counts of needs by kind × status × school level for a subtree.
///
/// Admins, district officers in scope, school staff for their school,
/// statistics readers. No personal data.
#[utoipa::path(
    tag = "needs",
    security(("bearer" = [])),
    params(SummaryQuery),
    responses(
        (status = 200, description = "The counts", body = NeedSummary),
        (status = 404, description = "No such admin unit in your scope", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/needs/summary")]
pub async fn need_summary(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<SummaryQuery>,
) -> Result<web::Json<NeedSummary>, ApiError> {
    principal.require(&[
        Role::DistrictOfficer,
        Role::SchoolStaff,
        Role::StatsReader,
        Role::ProgrammeOfficer,
    ])?;
    let admin_unit = query.into_inner().admin_unit;
    let summary = state
        .db
        .run(move |conn| {
            let scope = match principal.role {
                Role::StatsReader => Reach::Everywhere,
                _ => principal.reach(conn, Realm::Students)?,
            };
            let root = match (&admin_unit, &scope) {
                (Some(code), Reach::Everywhere) => Some(code.clone()),
                (Some(code), Reach::Units(units)) if units.contains(code) => Some(code.clone()),
                (Some(_), _) => return Err(Failure::unknown_admin_unit()),
                (None, Reach::Units(_)) => match &principal.scope {
                    crate::platform::auth::Scope::AdminUnit { admin_unit_code } => {
                        Some(admin_unit_code.clone())
                    }
                    _ => None,
                },
                (None, _) => None,
            };
            let units =
                crate::registry::admin_units::queries::subtree_filter(conn, root.as_deref())?;
            let school = match scope {
                Reach::School(id) => Some(id),
                _ => None,
            };
            let cells = queries::summary(conn, units.as_deref(), school)?;
            Ok(NeedSummary {
                admin_unit: root,
                total: cells.iter().map(|c| c.count).sum(),
                cells,
            })
        })
        .await?;
    Ok(web::Json(summary))
}

/// Export the needs in the caller's scope as CSV.
///
/// Same filters and order as the list. Student needs carry the student id,
/// never the name.
#[utoipa::path(
    tag = "needs",
    security(("bearer" = [])),
    params(NeedFilter),
    responses((status = 200, description = "CSV, UTF-8", body = String, content_type = "text/csv"))
)]
#[get("/needs/export")]
pub async fn export_needs(
    state: web::Data<AppState>,
    principal: Principal,
    filter: web::Query<NeedFilter>,
) -> Result<HttpResponse, ApiError> {
    principal.require(STUDENT_ROLES)?;
    let filter = filter.into_inner();
    let csv = state
        .db
        .run(move |conn| {
            let scope = principal.reach(conn, Realm::Students)?;
            let units = crate::registry::admin_units::queries::subtree_filter(
                conn,
                filter.admin_unit.as_deref(),
            )?;
            let mut out = crate::platform::http::tabular::CsvOut::new(&[
                "id",
                "kind",
                "status",
                "priority",
                "reasons",
                "school_id",
                "admin_unit_code",
                "school_level",
                "student_id",
                "quantity",
                "reported_by",
                "created_at",
            ])?;
            let mut page = crate::platform::db::page::PageRequest {
                limit: 5_000,
                after: None,
            };
            loop {
                let chunk = queries::list(conn, &scope, &filter, units.as_deref(), &page)?;
                for need in &chunk.items {
                    let reasons: Vec<&str> = need
                        .priority_reasons
                        .iter()
                        .map(|r| r.rule.as_str())
                        .collect();
                    let cells = [
                        need.id.to_string(),
                        need.kind.to_string(),
                        need.status.to_string(),
                        need.priority.to_string(),
                        reasons.join(";"),
                        need.school_id.to_string(),
                        need.admin_unit_code.clone(),
                        need.school_level.to_string(),
                        need.student_id.map(|id| id.to_string()).unwrap_or_default(),
                        need.quantity.to_string(),
                        need.reported_by.clone(),
                        need.created_at
                            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                    ];
                    out.row(cells.iter().map(String::as_str))?;
                }
                page.after = chunk.items.last().map(|n| (n.priority, n.id));
                if chunk.next_cursor.is_none() {
                    break;
                }
            }
            out.finish()
        })
        .await?;
    Ok(crate::platform::http::tabular::csv_response("needs", csv))
}

/// The priority rule set: points per reason.
///
/// A need's priority is the sum of the points of the rules that apply to it.
#[utoipa::path(
    tag = "needs",
    security(("bearer" = [])),
    responses((status = 200, description = "Every rule", body = Vec<PriorityRule>))
)]
#[get("/priority-rules")]
pub async fn list_rules(
    state: web::Data<AppState>,
    _principal: Principal,
) -> Result<web::Json<Vec<PriorityRule>>, ApiError> {
    Ok(web::Json(state.db.run(priority::rules).await?))
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"points": 40}))]
pub struct SetPoints {
    /// 0 to 1000: a rule raises a need's priority or does nothing; a
    /// negative weight would push the neediest students down the list.
    #[validate(range(min = 0, max = 1000, message = "must be 0 to 1000"))]
    #[schema(minimum = 0, maximum = 1000)]
    pub points: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RuleChanged {
    pub rule: PriorityRule,
    /// Open needs whose priority changed.
    pub rescored: usize,
}

/// Change the points of a rule (admin).
///
/// Every open need is re-scored in the same transaction.
#[utoipa::path(
    tag = "needs",
    security(("bearer" = [])),
    params(("rule" = String, Path, description = "Rule name", example = "household_poor")),
    request_body = SetPoints,
    responses(
        (status = 200, description = "The rule and how many needs changed priority", body = RuleChanged),
        (status = 404, description = "No such rule", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[put("/priority-rules/{rule}")]
pub async fn set_rule(
    state: web::Data<AppState>,
    principal: Principal,
    rule: web::Path<String>,
    body: Json<SetPoints>,
) -> Result<web::Json<RuleChanged>, ApiError> {
    principal.require_duty(&[Role::ProgrammeOfficer])?;
    let input = body.into_inner();
    input.validate()?;
    let rule = rule.into_inner();
    let changed = state
        .db
        .run(move |conn| {
            conn.transaction(|conn| {
                let rule = priority::set_points(conn, &principal.actor(), &rule, input.points)?;
                let rescored = queries::rescore_open(conn, None)?;
                Ok(RuleChanged { rule, rescored })
            })
        })
        .await?;
    Ok(web::Json(changed))
}

/// The lockdown flag of an admin unit.
///
/// Readable by every signed-in role; 404 for an unknown unit.
#[utoipa::path(
    tag = "needs",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "GSO code")),
    responses(
        (status = 200, description = "The flag (lockdown false when never set)", body = AdminUnitFlag),
        (status = 404, description = "No such admin unit", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/admin-units/{code}/flags")]
pub async fn get_flags(
    state: web::Data<AppState>,
    _principal: Principal,
    code: web::Path<String>,
) -> Result<web::Json<AdminUnitFlag>, ApiError> {
    let code = code.into_inner();
    let flag = state
        .db
        .run(move |conn| {
            crate::registry::admin_units::queries::ancestry(conn, &code)?;
            priority::flag_of(conn, &code)
        })
        .await?;
    Ok(web::Json(flag))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FlagChanged {
    pub flag: AdminUnitFlag,
    /// Open needs below the unit whose priority changed.
    pub rescored: usize,
}

/// Flag an admin unit as an epidemic / lockdown area, with dates.
///
/// Admins; district officers in their subtree. Open needs below the unit are
/// re-scored in the same transaction.
#[utoipa::path(
    tag = "needs",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "GSO code")),
    request_body = SetFlag,
    responses(
        (status = 200, description = "The flag and how many needs changed priority", body = FlagChanged),
        (status = 404, description = "No such admin unit in your scope", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[put("/admin-units/{code}/flags")]
pub async fn set_flags(
    state: web::Data<AppState>,
    principal: Principal,
    code: web::Path<String>,
    body: Json<SetFlag>,
) -> Result<web::Json<FlagChanged>, ApiError> {
    principal.require(&[Role::DistrictOfficer, Role::ProgrammeOfficer])?;
    let input = body.into_inner();
    input.validate()?;
    let code = code.into_inner();
    let changed = state
        .db
        .run(move |conn| {
            principal.ensure_admin_unit_in_scope(conn, &code)?;
            conn.transaction(|conn| {
                let flag = priority::set_flag(conn, &principal.actor(), &code, &input)?;
                let units = crate::registry::admin_units::queries::subtree_codes(conn, &code)?;
                let rescored = queries::rescore_open(conn, Some(&units))?;
                Ok(FlagChanged { flag, rescored })
            })
        })
        .await?;
    Ok(web::Json(changed))
}

pub fn configure(cfg: &mut ServiceConfig) {
    // Literal paths before `/needs/{id}`.
    cfg.service(generate_needs)
        .service(bulk_transition)
        .service(need_summary)
        .service(export_needs)
        .service(report_need)
        .service(list_needs)
        .service(get_need)
        .service(transition_need)
        .service(need_events)
        .service(list_rules)
        .service(set_rule)
        .service(get_flags)
        .service(set_flags);
}
