//! Operators and coverage gaps: creating them, scope (an officer's subtree,
//! an operator's own gaps), and the gap workflow.

use chrono::NaiveDate;
use diesel::prelude::*;
use serde_json::json;

use super::model::*;
use crate::platform::auth::Reach;
use crate::platform::auth::{Principal, Role};
use crate::platform::db::page::PageRequest;
use crate::platform::db::schema::{coverage_gaps, operators};
use crate::platform::db::{with_conn, DbConn};
use crate::platform::error::{Failure, OrUnknown};

pub fn find_operator(conn: &mut DbConn, id: i64) -> Result<Operator, Failure> {
    let row: Option<Operator> = with_conn!(conn, |c| operators::table
        .find(id)
        .select(Operator::as_select())
        .first(c)
        .optional())?;
    row.ok_or_else(|| Failure::not_found(String::from("no operator has this id")))
}

/// A page of operators, oldest first.
/// Renames an operator when its version is still `if_match` (`*`: any).
pub fn update_operator(
    conn: &mut DbConn,
    actor: &str,
    id: i64,
    patch: &OperatorPatch,
    if_match: Option<i64>,
) -> Result<Operator, Failure> {
    conn.transaction(|conn| {
        let current = find_operator(conn, id)?;
        crate::platform::db::ensure_current(if_match, current.version)?;
        let row: Option<Operator> = with_conn!(conn, |c| diesel::update(
            operators::table
                .filter(operators::id.eq(id))
                .filter(operators::version.eq(current.version))
        )
        .set((
            operators::name.eq(patch.name.as_ref().unwrap_or(&current.name)),
            operators::version.eq(current.version + 1),
        ))
        .returning(Operator::as_returning())
        .get_result(c)
        .optional())?;
        let row = row.ok_or_else(|| Failure::changed_meanwhile(current.version + 1, if_match))?;
        let changed = crate::platform::audit::sent_fields(&[("name", patch.name.is_some())]);
        crate::platform::audit::record(
            conn,
            actor,
            "update",
            "operator",
            &id.to_string(),
            json!({"changed": changed}),
        )?;
        Ok(row)
    })
}

pub fn list_operators(conn: &mut DbConn, page: &PageRequest<i64>) -> Result<OperatorPage, Failure> {
    let rows: Vec<Operator> = with_conn!(conn, |c| {
        let mut query = operators::table
            .order(operators::id)
            .limit(page.fetch())
            .select(Operator::as_select())
            .into_boxed();
        if let Some(after) = page.after {
            query = query.filter(operators::id.gt(after));
        }
        query.load(c)
    })?;
    let (items, next_cursor) = page.finish(rows, |row| row.id);
    Ok(OperatorPage { items, next_cursor })
}

pub fn create_operator(
    conn: &mut DbConn,
    actor: &str,
    input: CreateOperator,
) -> Result<Operator, Failure> {
    conn.transaction(|conn| {
        let taken: i64 = with_conn!(conn, |c| operators::table
            .filter(operators::code.eq(&input.code))
            .count()
            .get_result(c))?;
        if taken > 0 {
            return Err(Failure::conflict(format!(
                "an operator with the code {} exists",
                input.code
            )));
        }
        let row: Operator = with_conn!(conn, |c| diesel::insert_into(operators::table)
            .values((
                operators::code.eq(&input.code),
                operators::name.eq(&input.name),
                operators::created_at.eq(crate::platform::db::now()),
            ))
            .returning(Operator::as_returning())
            .get_result(c))?;
        crate::platform::audit::record(
            conn,
            actor,
            "create",
            "operator",
            &row.id.to_string(),
            json!({"code": row.code, "name": row.name}),
        )?;
        Ok(row)
    })
}

pub fn find_visible(conn: &mut DbConn, scope: &Reach, id: i64) -> Result<GapRow, Failure> {
    let row: Option<GapRow> = with_conn!(conn, |c| coverage_gaps::table
        .find(id)
        .select(GapRow::as_select())
        .first(c)
        .optional())?;
    row.filter(|gap| scope.allows_gap(&gap.admin_unit_code, gap.operator_id))
        .ok_or_else(|| Failure::not_found(String::from("no coverage gap has this id")))
}

pub fn report(conn: &mut DbConn, actor: &str, input: ReportGap) -> Result<GapRow, Failure> {
    conn.transaction(|conn| {
        if let Some(operator) = input.operator_id {
            find_operator(conn, operator).or_unknown("operator_id")?;
        }
        for school in &input.school_ids {
            crate::registry::schools::queries::find(conn, *school)
                .or_unknown("school_ids")?;
        }
        let now = crate::platform::db::now();
        let row: GapRow = with_conn!(conn, |c| diesel::insert_into(coverage_gaps::table)
            .values((
                coverage_gaps::admin_unit_code.eq(&input.admin_unit_code),
                coverage_gaps::place_name.eq(&input.place_name),
                coverage_gaps::latitude.eq(input.latitude),
                coverage_gaps::longitude.eq(input.longitude),
                coverage_gaps::school_ids.eq(json!(input.school_ids).to_string()),
                coverage_gaps::students_affected.eq(input.students_affected),
                coverage_gaps::operator_id.eq(input.operator_id),
                coverage_gaps::status.eq(GapStatus::Open),
                coverage_gaps::note.eq(&input.note),
                coverage_gaps::created_at.eq(now),
                coverage_gaps::updated_at.eq(now),
            ))
            .returning(GapRow::as_returning())
            .get_result(c))?;
        crate::platform::audit::record(
            conn,
            actor,
            "create",
            "coverage_gap",
            &row.id.to_string(),
            json!({"admin_unit_code": row.admin_unit_code, "place_name": row.place_name, "operator_id": row.operator_id}),
        )?;
        Ok(row)
    })
}

pub fn list(
    conn: &mut DbConn,
    scope: &Reach,
    filter: &GapFilter,
    units: Option<&[String]>,
    page: &PageRequest<i64>,
) -> Result<GapPage, Failure> {
    let scope_units: Option<Vec<&String>> = match scope {
        Reach::Units(units) => Some(units.iter().collect()),
        _ => None,
    };
    let rows: Vec<GapRow> = with_conn!(conn, |c| {
        let mut query = coverage_gaps::table
            .select(GapRow::as_select())
            .order(coverage_gaps::id.asc())
            .limit(page.fetch())
            .into_boxed();
        if let Some(after) = page.after {
            query = query.filter(coverage_gaps::id.gt(after));
        }
        if let Some(units) = &scope_units {
            query = query.filter(coverage_gaps::admin_unit_code.eq_any(units.clone()));
        }
        if let Reach::Operator(id) = scope {
            query = query.filter(coverage_gaps::operator_id.eq(*id));
        }
        if let Some(units) = units {
            query = query.filter(coverage_gaps::admin_unit_code.eq_any(units));
        }
        if let Some(status) = filter.status {
            query = query.filter(coverage_gaps::status.eq(status));
        }
        if let Some(operator) = filter.operator_id {
            query = query.filter(coverage_gaps::operator_id.eq(operator));
        }
        query.load(c)
    })?;
    let (rows, next_cursor) = page.finish(rows, |row| row.id);
    Ok(GapPage {
        items: rows.into_iter().map(CoverageGap::from).collect(),
        next_cursor,
    })
}

pub fn update(
    conn: &mut DbConn,
    actor: &str,
    scope: &Reach,
    id: i64,
    input: UpdateGap,
    expected_version: Option<i64>,
) -> Result<GapRow, Failure> {
    conn.transaction(|conn| {
        let current = find_visible(conn, scope, id)?;
        crate::platform::db::ensure_current(expected_version, current.version)?;
        if let Some(operator) = input.operator_id {
            find_operator(conn, operator).or_unknown("operator_id")?;
        }
        // Only over the version read: a transition or another update that
        // committed meanwhile is not overwritten.
        let row: Option<GapRow> = with_conn!(conn, |c| diesel::update(
            coverage_gaps::table
                .find(id)
                .filter(coverage_gaps::version.eq(current.version))
        )
        .set((
            coverage_gaps::operator_id.eq(input.operator_id.or(current.operator_id)),
            coverage_gaps::students_affected
                .eq(input.students_affected.unwrap_or(current.students_affected)),
            coverage_gaps::note.eq(input.note.clone().or(current.note.clone())),
            coverage_gaps::version.eq(coverage_gaps::version + 1),
            coverage_gaps::updated_at.eq(crate::platform::db::now()),
        ))
        .returning(GapRow::as_returning())
        .get_result(c)
        .optional())?;
        let Some(row) = row else {
            let now = find_visible(conn, scope, id)?.version;
            return Err(Failure::changed_meanwhile(now, expected_version));
        };
        crate::platform::audit::record(
            conn,
            actor,
            "update",
            "coverage_gap",
            &id.to_string(),
            json!({"operator_id": row.operator_id, "students_affected": row.students_affected}),
        )?;
        Ok(row)
    })
}

/// Who may take a gap from one status to the next: the operator's people
/// report progress, district officers confirm (or reopen) a coverage.
fn allowed(from: GapStatus, to: GapStatus, role: Role) -> Result<(), Failure> {
    use GapStatus::*;
    let operator_step = matches!(
        (from, to),
        (Open, Planned) | (Planned, InProgress) | (InProgress, Covered)
    );
    let officer_step = matches!((from, to), (Covered, Confirmed) | (Covered, InProgress));
    let permitted = match role {
        Role::Admin => operator_step || officer_step,
        Role::Telecom => operator_step,
        Role::DistrictOfficer => officer_step,
        _ => false,
    };
    if permitted {
        return Ok(());
    }
    if operator_step || officer_step {
        return Err(Failure::forbidden(format!(
            "your role may not move a gap from {from} to {to}"
        )));
    }
    let next: Vec<&str> = GapStatus::ALL
        .iter()
        .filter(|to| {
            matches!(
                (from, **to),
                (Open, Planned)
                    | (Planned, InProgress)
                    | (InProgress, Covered)
                    | (Covered, Confirmed)
                    | (Covered, InProgress)
            )
        })
        .map(|s| s.as_str())
        .collect();
    let next = if next.is_empty() {
        "none".to_owned()
    } else {
        next.join(", ")
    };
    Err(Failure::conflict(format!(
        "a {from} gap cannot become {to}; allowed next: {next}"
    )))
}

pub fn transition(
    conn: &mut DbConn,
    principal: &Principal,
    scope: &Reach,
    id: i64,
    input: GapTransition,
    today: NaiveDate,
) -> Result<GapRow, Failure> {
    conn.transaction(|conn| {
        let gap = find_visible(conn, scope, id)?;
        allowed(gap.status, input.to, principal.role)?;
        if gap.operator_id.is_none() && input.to == GapStatus::Planned {
            return Err(Failure::conflict(
                "assign an operator before planning the coverage",
            ));
        }
        let date = input.date.unwrap_or(today);
        if input.to == GapStatus::Planned && input.date.is_none() {
            return Err(Failure::invalid_field(
                "date",
                "required",
                "say when the coverage is planned",
            ));
        }
        let actor = principal.actor();
        let row: Option<GapRow> = with_conn!(conn, |c| diesel::update(
            coverage_gaps::table
                .filter(coverage_gaps::id.eq(id))
                .filter(coverage_gaps::status.eq(gap.status))
        )
        .set((
            coverage_gaps::status.eq(input.to),
            coverage_gaps::planned_for.eq(if input.to == GapStatus::Planned {
                Some(date)
            } else {
                gap.planned_for
            }),
            coverage_gaps::started_on.eq(if input.to == GapStatus::InProgress {
                Some(date)
            } else {
                gap.started_on
            }),
            coverage_gaps::covered_on.eq(match input.to {
                GapStatus::Covered => Some(date),
                GapStatus::InProgress => None,
                _ => gap.covered_on,
            }),
            coverage_gaps::confirmed_by.eq(if input.to == GapStatus::Confirmed {
                Some(actor.clone())
            } else {
                None
            }),
            coverage_gaps::note.eq(input.note.clone().or(gap.note.clone())),
            coverage_gaps::version.eq(coverage_gaps::version + 1),
            coverage_gaps::updated_at.eq(crate::platform::db::now()),
        ))
        .returning(GapRow::as_returning())
        .get_result(c)
        .optional())?;
        let row = row.ok_or_else(|| {
            Failure::conflict(format!(
                "coverage gap {id} was changed meanwhile; read it again"
            ))
        })?;
        crate::platform::audit::record(
            conn,
            &actor,
            "transition",
            "coverage_gap",
            &id.to_string(),
            json!({"from": gap.status, "to": input.to, "date": date}),
        )?;
        Ok(row)
    })
}
