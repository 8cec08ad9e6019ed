//! Schools: the batch upsert of the sync, creation and correction within
//! scope, lookups by id and MOET code.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use diesel::upsert::excluded;
use serde_json::json;

use super::model::*;
use crate::platform::db::page::PageRequest;
use crate::platform::db::per_backend;
use crate::platform::db::schema::{admin_units, schools};
use crate::platform::db::{with_conn, DbConn};
use crate::platform::error::FieldError;
use crate::platform::error::{Failure, OrUnknown};
use crate::registry::sync::batch::{self, BatchReport, Decoded};

const INSERT_CHUNK: usize = 500;

pub fn find(conn: &mut DbConn, id: i64) -> Result<SchoolRow, Failure> {
    let row: Option<SchoolRow> = with_conn!(conn, |c| schools::table
        .find(id)
        .select(SchoolRow::as_select())
        .first(c)
        .optional())?;
    row.ok_or_else(|| Failure::not_found(String::from("no school has this id")))
}

pub fn find_by_code(conn: &mut DbConn, code: &str) -> Result<SchoolRow, Failure> {
    let row: Option<SchoolRow> = with_conn!(conn, |c| schools::table
        .filter(schools::moet_code.eq(code))
        .select(SchoolRow::as_select())
        .first(c)
        .optional())?;
    row.ok_or_else(|| Failure::not_found("no school has this code"))
}

/// The schools with these MOET codes, by code.
pub fn by_codes(conn: &mut DbConn, codes: &[&str]) -> Result<HashMap<String, SchoolRow>, Failure> {
    read_by_codes(conn, codes, false)
}

/// [`by_codes`], the rows locked until the transaction ends (PostgreSQL,
/// in id order so two batches take them in the same order; SQLite runs one
/// write transaction at a time). A row another transaction is changing is
/// read as that transaction committed it.
fn by_codes_for_update(
    conn: &mut DbConn,
    codes: &[&str],
) -> Result<HashMap<String, SchoolRow>, Failure> {
    read_by_codes(conn, codes, true)
}

fn read_by_codes(
    conn: &mut DbConn,
    codes: &[&str],
    for_update: bool,
) -> Result<HashMap<String, SchoolRow>, Failure> {
    use crate::platform::db::unnest;
    let mut found = HashMap::with_capacity(codes.len());
    for chunk in codes.chunks(INSERT_CHUNK) {
        let rows: Vec<SchoolRow> = per_backend!(conn,
            sqlite: |c| schools::table
                .filter(schools::moet_code.eq_any(chunk))
                .select(SchoolRow::as_select())
                .load(c),
            postgres: |c| {
                let query = schools::table
                    .filter(schools::moet_code.eq_any(diesel::select(unnest::texts(chunk))))
                    .select(SchoolRow::as_select());
                if for_update {
                    query.order(schools::id).for_update().load(c)
                } else {
                    query.load(c)
                }
            },
        )?;
        found.extend(rows.into_iter().map(|row| (row.moet_code.clone(), row)));
    }
    Ok(found)
}

/// The schools with these ids, by id.
pub fn by_ids(conn: &mut DbConn, ids: &[i64]) -> Result<HashMap<i64, SchoolRow>, Failure> {
    use crate::platform::db::unnest;
    let mut found = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(INSERT_CHUNK) {
        let rows: Vec<SchoolRow> = per_backend!(conn,
            sqlite: |c| schools::table
                .filter(schools::id.eq_any(chunk))
                .select(SchoolRow::as_select())
                .load(c),
            postgres: |c| schools::table
                .filter(schools::id.eq_any(diesel::select(unnest::ids(chunk))))
                .select(SchoolRow::as_select())
                .load(c),
        )?;
        found.extend(rows.into_iter().map(|row| (row.id, row)));
    }
    Ok(found)
}

/// `admin_units` limits the list to schools in those units (a subtree);
/// the page's rows and the next cursor.
pub fn list_rows(
    conn: &mut DbConn,
    filter: &SchoolFilter,
    admin_units: Option<&[String]>,
    page: &PageRequest<i64>,
) -> Result<(Vec<SchoolRow>, Option<String>), Failure> {
    let pattern = filter.q.as_deref().map(|q| {
        let escaped = q
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    });
    let rows: Vec<SchoolRow> = with_conn!(conn, |c| {
        let mut query = schools::table
            .select(SchoolRow::as_select())
            .order(schools::id.asc())
            .limit(page.fetch())
            .into_boxed();
        if let Some(after) = page.after {
            query = query.filter(schools::id.gt(after));
        }
        if let Some(units) = admin_units {
            query = query.filter(schools::admin_unit_code.eq_any(units));
        }
        if let Some(level) = filter.level {
            query = query.filter(schools::level.eq(level));
        }
        if let Some(active) = filter.active {
            query = query.filter(schools::active.eq(active));
        }
        if let Some(pattern) = &pattern {
            query = query.filter(schools::name_search.like(pattern).escape('\\'));
        }
        query.load(c)
    })?;
    Ok(page.finish(rows, |row| row.id))
}

fn admin_unit_exists(conn: &mut DbConn, code: &str) -> Result<bool, Failure> {
    Ok(crate::registry::admin_units::queries::find(conn, code)?.is_some())
}

fn unknown_admin_unit(code: &str) -> Failure {
    Failure::invalid_field(
        "admin_unit_code",
        "unknown",
        format!("no admin unit {code} in your scope"),
    )
}

pub fn create(conn: &mut DbConn, actor: &str, input: SchoolInput) -> Result<SchoolRow, Failure> {
    conn.transaction(|conn| {
        if !admin_unit_exists(conn, &input.admin_unit_code)? {
            return Err(unknown_admin_unit(&input.admin_unit_code));
        }
        if find_by_code(conn, &input.moet_code).is_ok() {
            return Err(Failure::conflict(format!(
                "a school with the code {} exists",
                input.moet_code
            )));
        }
        let now = crate::platform::db::now();
        let row: SchoolRow = with_conn!(conn, |c| diesel::insert_into(schools::table)
            .values(values(&input, now))
            .returning(SchoolRow::as_returning())
            .get_result(c))?;
        crate::platform::audit::record(
            conn,
            actor,
            "create",
            "school",
            &row.id.to_string(),
            summary(&input),
        )?;
        Ok(row)
    })
}

/// The column values of one school record.
#[allow(clippy::type_complexity)]
fn values(
    input: &SchoolInput,
    now: chrono::NaiveDateTime,
) -> (
    diesel::dsl::Eq<schools::moet_code, String>,
    diesel::dsl::Eq<schools::name, String>,
    diesel::dsl::Eq<schools::name_search, String>,
    diesel::dsl::Eq<schools::admin_unit_code, String>,
    diesel::dsl::Eq<schools::level, SchoolLevel>,
    diesel::dsl::Eq<schools::address, Option<String>>,
    diesel::dsl::Eq<schools::contact, Option<String>>,
    diesel::dsl::Eq<schools::has_mobile_coverage, bool>,
    diesel::dsl::Eq<schools::has_fixed_internet, bool>,
    diesel::dsl::Eq<schools::active, bool>,
    diesel::dsl::Eq<schools::created_at, chrono::NaiveDateTime>,
    diesel::dsl::Eq<schools::updated_at, chrono::NaiveDateTime>,
) {
    (
        schools::moet_code.eq(input.moet_code.clone()),
        schools::name.eq(input.name.clone()),
        schools::name_search.eq(input.name.to_lowercase()),
        schools::admin_unit_code.eq(input.admin_unit_code.clone()),
        schools::level.eq(input.level),
        schools::address.eq(input.address.clone()),
        schools::contact.eq(input.contact.clone()),
        schools::has_mobile_coverage.eq(input.has_mobile_coverage),
        schools::has_fixed_internet.eq(input.has_fixed_internet),
        schools::active.eq(input.active),
        schools::created_at.eq(now),
        schools::updated_at.eq(now),
    )
}

fn summary(input: &SchoolInput) -> serde_json::Value {
    json!({
        "moet_code": input.moet_code,
        "name": input.name,
        "admin_unit_code": input.admin_unit_code,
        "level": input.level,
        "active": input.active,
    })
}

fn differs(row: &SchoolRow, input: &SchoolInput) -> bool {
    row.name != input.name
        || row.admin_unit_code != input.admin_unit_code
        || row.level != input.level
        || row.address != input.address
        || row.contact != input.contact
        || row.has_mobile_coverage != input.has_mobile_coverage
        || row.has_fixed_internet != input.has_fixed_internet
        || row.active != input.active
}

/// Applies a patch; `expected_version` (from If-Match) must be current.
/// `in_scope` checks an admin unit against the caller's scope.
pub fn update(
    conn: &mut DbConn,
    actor: &str,
    id: i64,
    patch: SchoolPatch,
    expected_version: Option<i64>,
    in_scope: &dyn Fn(&mut DbConn, &str) -> Result<(), Failure>,
) -> Result<SchoolRow, Failure> {
    conn.transaction(|conn| {
        let current = find(conn, id)?;
        in_scope(conn, &current.admin_unit_code)
            .or_not_found(|| String::from("no school has this id"))?;
        crate::platform::db::ensure_current(expected_version, current.version)?;
        let next = SchoolInput {
            moet_code: current.moet_code.clone(),
            name: patch.name.clone().unwrap_or_else(|| current.name.clone()),
            admin_unit_code: patch
                .admin_unit_code
                .clone()
                .unwrap_or_else(|| current.admin_unit_code.clone()),
            level: patch.level.unwrap_or(current.level),
            address: patch.address.clone().or_else(|| current.address.clone()),
            contact: patch.contact.clone().or_else(|| current.contact.clone()),
            has_mobile_coverage: patch
                .has_mobile_coverage
                .unwrap_or(current.has_mobile_coverage),
            has_fixed_internet: patch
                .has_fixed_internet
                .unwrap_or(current.has_fixed_internet),
            active: patch.active.unwrap_or(current.active),
        };
        // A unit outside the caller's scope is refused like an unknown one;
        // a database failure while checking stays what it is (503).
        let outside = |conn: &mut DbConn, code: &str| match in_scope(conn, code) {
            Ok(()) => Ok(false),
            Err(error) if error.is_not_found() => Ok(true),
            Err(error) => Err(error),
        };
        if next.admin_unit_code != current.admin_unit_code
            && (!admin_unit_exists(conn, &next.admin_unit_code)?
                || outside(conn, &next.admin_unit_code)?)
        {
            return Err(unknown_admin_unit(&next.admin_unit_code));
        }
        if !differs(&current, &next) {
            return Ok(current);
        }
        // Only over the version read, so that a concurrent update is not
        // overwritten (PostgreSQL lets both read the same version).
        let row: Option<SchoolRow> = with_conn!(conn, |c| diesel::update(
            schools::table
                .find(id)
                .filter(schools::version.eq(current.version))
        )
        .set((
            schools::name.eq(&next.name),
            schools::name_search.eq(next.name.to_lowercase()),
            schools::admin_unit_code.eq(&next.admin_unit_code),
            schools::level.eq(next.level),
            schools::address.eq(&next.address),
            schools::contact.eq(&next.contact),
            schools::has_mobile_coverage.eq(next.has_mobile_coverage),
            schools::has_fixed_internet.eq(next.has_fixed_internet),
            schools::active.eq(next.active),
            schools::version.eq(schools::version + 1),
            schools::updated_at.eq(crate::platform::db::now()),
        ))
        .returning(SchoolRow::as_returning())
        .get_result(c)
        .optional())?;
        let Some(row) = row else {
            return Err(Failure::changed_meanwhile(
                find(conn, id)?.version,
                expected_version,
            ));
        };
        crate::platform::audit::record(
            conn,
            actor,
            "update",
            "school",
            &id.to_string(),
            summary(&next),
        )?;
        Ok(row)
    })
}

/// During the 2025 transition the education data system may still send
/// pre-reform codes for schools that were re-homed: such a code is read
/// through the mapping (the school's decided successor, else the default)
/// rather than moving the school back into the old tree. A school not yet
/// re-homed keeps the code it is sent with.
fn translate_old_codes(
    conn: &mut DbConn,
    valid: &mut [SchoolInput],
    existing: &HashMap<String, SchoolRow>,
) -> Result<Vec<crate::registry::sync::batch::Translation>, Failure> {
    use crate::registry::admin_units::Scheme;
    let mut translated = Vec::new();
    for input in valid.iter_mut() {
        let Some(row) = existing.get(&input.moet_code) else {
            continue;
        };
        let rehomed = Scheme::of(&row.admin_unit_code) == Scheme::Vn2025;
        if !rehomed || Scheme::of(&input.admin_unit_code) != Scheme::Vn2008 {
            continue;
        }
        let to =
            crate::registry::admin_units::mapping::lands_in(conn, row.id, &input.admin_unit_code)?
                .unwrap_or_else(|| row.admin_unit_code.clone());
        translated.push(crate::registry::sync::batch::Translation {
            key: input.moet_code.clone(),
            from: std::mem::replace(&mut input.admin_unit_code, to.clone()),
            to,
        });
    }
    Ok(translated)
}

/// Inserts or updates schools by MOET code; identical ones are left alone.
pub fn upsert_batch(
    conn: &mut DbConn,
    actor: &str,
    records: Vec<Decoded<SchoolInput>>,
    atomic: bool,
) -> Result<BatchReport, Failure> {
    let mut report = BatchReport::default();
    let seen = batch::key_counts(&records, |s: &SchoolInput| &s.moet_code);
    let unit_codes: Vec<String> = records
        .iter()
        .filter_map(|d| d.record.as_ref().ok().map(|i| i.admin_unit_code.clone()))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let known_units: HashSet<String> = with_conn!(conn, |c| admin_units::table
        .filter(admin_units::code.eq_any(&unit_codes))
        .select(admin_units::code)
        .load::<String>(c))?
    .into_iter()
    .collect();

    let mut valid = Vec::new();
    for Decoded {
        index,
        line,
        key,
        record,
    } in records
    {
        let problem = match record {
            Err(errors) => Some(errors),
            Ok(input) if seen.get(&input.moet_code).copied().unwrap_or(0) > 1 => {
                Some(vec![FieldError::new(
                    "moet_code",
                    "duplicate",
                    "this moet_code appears more than once in the batch",
                )])
            }
            Ok(input) if !known_units.contains(&input.admin_unit_code) => {
                Some(vec![FieldError::new(
                    "admin_unit_code",
                    "unknown",
                    "no admin unit has this code",
                )])
            }
            Ok(input) => {
                valid.push(input);
                None
            }
        };
        if let Some(errors) = problem {
            report.reject(index, line, key, errors);
        }
    }
    report.refuse_if_atomic(atomic)?;

    conn.transaction(|conn| {
        let codes: Vec<String> = valid.iter().map(|i| i.moet_code.clone()).collect();
        let codes: Vec<&str> = codes.iter().map(String::as_str).collect();
        // Read locked, so the batch decides on the schools as the last
        // writer left them: a re-homing that commits while the batch waits
        // is seen (an old code sent for a re-homed school is then
        // translated), never overwritten with the old tree's code.
        let existing = by_codes_for_update(conn, &codes)?;
        report.translated = translate_old_codes(conn, &mut valid, &existing)?;
        let now = crate::platform::db::now();
        let mut changed = Vec::new();
        for input in &valid {
            match existing.get(&input.moet_code) {
                None => {
                    report.inserted += 1;
                    changed.push(values(input, now));
                }
                Some(row) if differs(row, input) => {
                    report.updated += 1;
                    changed.push(values(input, now));
                }
                Some(_) => report.unchanged += 1,
            }
        }
        for chunk in changed.chunks(INSERT_CHUNK) {
            with_conn!(conn, |c| diesel::insert_into(schools::table)
                .values(chunk)
                .on_conflict(schools::moet_code)
                .do_update()
                .set((
                    schools::name.eq(excluded(schools::name)),
                    schools::name_search.eq(excluded(schools::name_search)),
                    schools::admin_unit_code.eq(excluded(schools::admin_unit_code)),
                    schools::level.eq(excluded(schools::level)),
                    schools::address.eq(excluded(schools::address)),
                    schools::contact.eq(excluded(schools::contact)),
                    schools::has_mobile_coverage.eq(excluded(schools::has_mobile_coverage)),
                    schools::has_fixed_internet.eq(excluded(schools::has_fixed_internet)),
                    schools::active.eq(excluded(schools::active)),
                    schools::version.eq(schools::version + 1),
                    schools::updated_at.eq(excluded(schools::updated_at)),
                ))
                .execute(c))?;
        }
        crate::platform::audit::record(
            conn,
            actor,
            "sync",
            "schools",
            "*",
            json!({"inserted": report.inserted, "updated": report.updated, "unchanged": report.unchanged, "rejected": report.rejected}),
        )?;
        Ok(report)
    })
}
