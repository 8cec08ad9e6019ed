//! Students: the batch upsert shared by sync and spreadsheets, reads within
//! the caller's scope, corrections, soft deletes and the change feed.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::upsert::excluded;
use serde_json::json;

use super::model::*;
use crate::platform::auth::Reach;
use crate::platform::db::page::PageRequest;
use crate::platform::db::schema::{schools, student_changes, students, students_seen_unchanged};
use crate::platform::db::{with_conn, DbConn};
use crate::platform::error::{Failure, FieldError};
use crate::registry::schools::SchoolRow;
use crate::registry::sync::batch::{self, BatchReport, Decoded};

/// Rows per multi-row statement: 14 binds each stays under both backends' limits.
const CHUNK: usize = 1_000;

/// Whether any of `names` is the full name of a student on the roster
/// (active or not: a child who left school is still a child). One indexed
/// lookup per 500 names; the answer says nothing of who.
pub fn any_full_name_in(conn: &mut DbConn, names: &[String]) -> Result<bool, Failure> {
    for chunk in names.chunks(500) {
        let found: i64 = with_conn!(conn, |c| students::table
            .filter(students::full_name.eq_any(chunk))
            .count()
            .get_result(c))?;
        if found > 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

type StudentWithCode = (StudentRow, String);

/// A page of the students in `scope` matching `filter`; `units` is the
/// resolved subtree of `filter.admin_unit`.
pub fn list(
    conn: &mut DbConn,
    scope: &Reach,
    filter: &StudentFilter,
    units: Option<&[String]>,
    page: &PageRequest<i64>,
) -> Result<(Vec<StudentWithCode>, Option<String>), Failure> {
    let scope_units = scope.unit_codes();
    let rows: Vec<StudentWithCode> = with_conn!(conn, |c| {
        let mut query = students::table
            .inner_join(schools::table)
            .select((StudentRow::as_select(), schools::moet_code))
            .filter(students::deleted.eq(filter.deleted.unwrap_or(false)))
            .order(students::id.asc())
            .limit(page.fetch())
            .into_boxed();
        if let Some(after) = page.after {
            query = query.filter(students::id.gt(after));
        }
        if let Some(units) = &scope_units {
            query = query.filter(schools::admin_unit_code.eq_any(units.clone()));
        }
        if let Reach::School(id) = scope {
            query = query.filter(students::school_id.eq(*id));
        }
        if let Some(units) = units {
            query = query.filter(schools::admin_unit_code.eq_any(units));
        }
        if let Some(school_id) = filter.school_id {
            query = query.filter(students::school_id.eq(school_id));
        }
        if let Some(grade) = filter.grade {
            query = query.filter(students::grade.eq(grade));
        }
        if let Some(status) = filter.device_status {
            query = query.filter(students::device_status.eq(status));
        }
        if let Some(status) = filter.connectivity_status {
            query = query.filter(students::connectivity_status.eq(status));
        }
        if let Some(active) = filter.active {
            query = query.filter(students::active.eq(active));
        }
        if let Some(conflict) = filter.roster_conflict {
            // The same rule as StudentRow::roster_conflict, in SQL.
            let device_conflict =
                students::held_device.and(students::device_status.ne(DeviceStatus::Adequate));
            let connectivity_conflict = students::held_connectivity.and(
                students::connectivity_status
                    .ne_all([ConnectivityStatus::MobileOk, ConnectivityStatus::Fixed]),
            );
            let either = device_conflict.or(connectivity_conflict);
            query = if conflict {
                query.filter(either)
            } else {
                query.filter(diesel::dsl::not(either))
            };
        }
        query.load(c)
    })?;
    Ok(page.finish(rows, |(row, _)| row.id))
}

/// A student the caller may see; 404 for one outside the scope, exactly as
/// for one that does not exist.
pub fn find_visible(
    conn: &mut DbConn,
    scope: &Reach,
    id: i64,
) -> Result<(StudentRow, SchoolRow), Failure> {
    // `benches/reads.rs` renders this statement for pgbench, to measure
    // PostgreSQL's side of `GET /students/{id}` alone: change both.
    let found: Option<(StudentRow, SchoolRow)> = with_conn!(conn, |c| students::table
        .inner_join(schools::table)
        .filter(students::id.eq(id))
        .select((StudentRow::as_select(), SchoolRow::as_select()))
        .first(c)
        .optional())?;
    found
        .filter(|(_, school)| scope.allows_place(school.id, &school.admin_unit_code))
        .ok_or_else(|| Failure::not_found(String::from("no student has this id")))
}

/// A student just written, as its change row and event need it.
struct WrittenStudent {
    id: i64,
    school_id: i64,
    version: i64,
    active: bool,
    /// The school's admin unit.
    place: String,
}

/// What the outbox is told of written students: ids, school, version,
/// whether active — nothing a child could be recognised by.
fn announce_changes(
    conn: &mut DbConn,
    operation: ChangeOperation,
    written: &[WrittenStudent],
) -> Result<(), Failure> {
    use crate::platform::outbox::{Event, EventType};
    let events = written
        .iter()
        .map(|w| Event {
            event_type: EventType::StudentChanged,
            entity: "student",
            entity_id: w.id,
            admin_unit_code: Some(w.place.clone()),
            data: serde_json::json!({
                "student_id": w.id,
                "operation": operation,
                "school_id": w.school_id,
                "version": w.version,
                "active": w.active,
            }),
        })
        .collect();
    crate::platform::outbox::emit_many(conn, events)
}

/// Appends one change per student in `ids` (at its current version) to the
/// change feed and the outbox, reading what they need from the rows.
fn record_changes(
    conn: &mut DbConn,
    actor: &str,
    operation: ChangeOperation,
    ids: &[i64],
) -> Result<(), Failure> {
    let mut written = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        let rows: Vec<(i64, i64, i64, bool, String)> = with_conn!(conn, |c| students::table
            .inner_join(schools::table)
            .filter(students::id.eq_any(chunk))
            .select((
                students::id,
                students::school_id,
                students::version,
                students::active,
                schools::admin_unit_code,
            ))
            .load(c))?;
        written.extend(
            rows.into_iter()
                .map(|(id, school_id, version, active, place)| WrittenStudent {
                    id,
                    school_id,
                    version,
                    active,
                    place,
                }),
        );
    }
    record_written(conn, actor, operation, &written)
}

/// Appends one change per written student (at its current version) to the
/// change feed, in commit order (see `DbConn::lock_change_feed`), and
/// announces them. One INSERT … SELECT per chunk, so PostgreSQL gets a
/// single array parameter.
fn record_written(
    conn: &mut DbConn,
    actor: &str,
    operation: ChangeOperation,
    written: &[WrittenStudent],
) -> Result<(), Failure> {
    use diesel::sql_types::{Text, Timestamp};
    if written.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = written.iter().map(|w| w.id).collect();
    conn.lock_change_feed()?;
    let now = crate::platform::db::now();
    for chunk in ids.chunks(CHUNK) {
        with_conn!(conn, |c| diesel::insert_into(student_changes::table)
            .values(
                students::table
                    .filter(students::id.eq_any(chunk))
                    .order(students::id)
                    .select((
                        students::id,
                        operation.into_sql::<Text>(),
                        students::version,
                        actor.into_sql::<Text>(),
                        now.into_sql::<Timestamp>(),
                    )),
            )
            .into_columns((
                student_changes::student_id,
                student_changes::operation,
                student_changes::version,
                student_changes::actor,
                student_changes::changed_at,
            ))
            .execute(c))?;
    }
    announce_changes(conn, operation, written)
}

/// What the programme handed a student and still counts as theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holding {
    /// A device: they count as having one (`held_device`).
    Device,
    /// A data package: they count as connected (`held_connectivity`).
    Connectivity,
}

/// Records, in the change feed, students rewritten by data maintenance
/// (the maintenance run at start), so the education data system hears of them as
/// of any other update. Call inside the maintenance transaction.
pub fn record_maintenance_changes(conn: &mut DbConn, ids: &[i64]) -> Result<(), Failure> {
    record_changes(conn, "maintenance", ChangeOperation::Update, ids)
}

/// Records that the student now holds (or no longer holds) what the
/// programme handed over, in the caller's transaction: the coverage counts
/// move at once (the count triggers read `held_*`), the student gets a new
/// version and the change feed tells the education data system. The
/// roster's own columns are not touched: a later sync that still says
/// `none` leaves the holding in place, and the student shows
/// `roster_conflict` until the roster agrees.
pub fn set_holding(
    conn: &mut DbConn,
    actor: &str,
    student_id: i64,
    holding: Holding,
    held: bool,
) -> Result<(), Failure> {
    let now = crate::platform::db::now();
    let student = students::table.find(student_id);
    let changed = match holding {
        Holding::Device => with_conn!(conn, |c| diesel::update(
            student.filter(students::held_device.ne(held))
        )
        .set((
            students::held_device.eq(held),
            students::version.eq(students::version + 1),
            students::updated_at.eq(now),
        ))
        .execute(c))?,
        Holding::Connectivity => with_conn!(conn, |c| diesel::update(
            student.filter(students::held_connectivity.ne(held))
        )
        .set((
            students::held_connectivity.eq(held),
            students::version.eq(students::version + 1),
            students::updated_at.eq(now),
        ))
        .execute(c))?,
    };
    if changed > 0 {
        record_changes(conn, actor, ChangeOperation::Update, &[student_id])?;
    }
    Ok(())
}

/// Names of the changed fields; values only for the non-personal ones.
/// Names, birth dates, gender and household status never reach the audit log.
fn audit_summary(before: &StudentRow, after: &StudentRow) -> serde_json::Value {
    let mut fields = Vec::new();
    let mut values = serde_json::Map::new();
    if before.grade != after.grade {
        fields.push("grade");
        values.insert("grade".into(), json!(after.grade));
    }
    if before.device_status != after.device_status {
        fields.push("device_status");
        values.insert("device_status".into(), json!(after.device_status));
    }
    if before.connectivity_status != after.connectivity_status {
        fields.push("connectivity_status");
        values.insert(
            "connectivity_status".into(),
            json!(after.connectivity_status),
        );
    }
    for (name, changed) in [
        ("full_name", before.full_name != after.full_name),
        ("birth_date", before.birth_date != after.birth_date),
        ("gender", before.gender != after.gender),
        (
            "household_status",
            before.household_status != after.household_status,
        ),
    ] {
        if changed {
            fields.push(name);
        }
    }
    values.insert("fields".into(), json!(fields));
    values.insert("version".into(), json!(after.version));
    values.into()
}

fn check_grade(grade: i32, school: &SchoolRow) -> Result<(), FieldError> {
    let grades = school.level.grades();
    if grades.contains(&grade) {
        Ok(())
    } else {
        Err(FieldError::new(
            "grade",
            "school_level",
            format!(
                "grade {grade} is not taught at a {} school (grades {}–{})",
                school.level,
                grades.start(),
                grades.end()
            ),
        ))
    }
}

/// Applies a patch when `expected_version` is current; an identical patch
/// changes nothing (no new version).
pub fn patch(
    conn: &mut DbConn,
    actor: &str,
    scope: &Reach,
    id: i64,
    patch: StudentPatch,
    expected_version: Option<i64>,
) -> Result<(StudentRow, String), Failure> {
    conn.transaction(|conn| {
        let (current, school) = find_visible(conn, scope, id)?;
        crate::platform::db::ensure_current(expected_version, current.version)?;
        let grade = patch.grade.unwrap_or(current.grade);
        check_grade(grade, &school).map_err(|e| Failure::validation(vec![e]))?;
        let next = StudentRow {
            grade,
            full_name: patch
                .full_name
                .clone()
                .unwrap_or_else(|| current.full_name.clone()),
            birth_date: patch.birth_date.unwrap_or(current.birth_date),
            gender: patch.gender.unwrap_or(current.gender),
            household_status: patch.household_status.unwrap_or(current.household_status),
            device_status: patch.device_status.unwrap_or(current.device_status),
            connectivity_status: patch
                .connectivity_status
                .unwrap_or(current.connectivity_status),
            version: current.version + 1,
            updated_at: crate::platform::db::now(),
            ..current.clone()
        };
        if same_content(&current, &next) {
            return Ok((current, school.moet_code));
        }
        // Only over the version read: on PostgreSQL another PATCH with the
        // same If-Match may have committed meanwhile (it then gets 412 here).
        let row: Option<StudentRow> = with_conn!(conn, |c| diesel::update(
            students::table
                .find(id)
                .filter(students::version.eq(current.version))
        )
        .set((
            students::grade.eq(next.grade),
            students::full_name.eq(&next.full_name),
            students::birth_date.eq(next.birth_date),
            students::gender.eq(next.gender),
            students::household_status.eq(next.household_status),
            students::device_status.eq(next.device_status),
            students::connectivity_status.eq(next.connectivity_status),
            students::version.eq(next.version),
            students::updated_at.eq(next.updated_at),
        ))
        .returning(StudentRow::as_returning())
        .get_result(c)
        .optional())?;
        let Some(row) = row else {
            let (now, _) = find_visible(conn, scope, id)?;
            return Err(Failure::changed_meanwhile(now.version, expected_version));
        };
        record_changes(conn, actor, ChangeOperation::Update, &[row.id])?;
        crate::platform::audit::record(
            conn,
            actor,
            "update",
            "student",
            &id.to_string(),
            audit_summary(&current, &row),
        )?;
        Ok((row, school.moet_code))
    })
}

fn same_content(a: &StudentRow, b: &StudentRow) -> bool {
    a.school_id == b.school_id
        && a.grade == b.grade
        && a.full_name == b.full_name
        && a.birth_date == b.birth_date
        && a.gender == b.gender
        && a.household_status == b.household_status
        && a.device_status == b.device_status
        && a.connectivity_status == b.connectivity_status
}

/// Soft delete: the row stays, marked deleted, with a `delete` change.
pub fn soft_delete(
    conn: &mut DbConn,
    actor: &str,
    scope: &Reach,
    id: i64,
    expected_version: Option<i64>,
) -> Result<(), Failure> {
    conn.transaction(|conn| {
        let (current, _) = find_visible(conn, scope, id)?;
        if current.deleted {
            return Ok(());
        }
        crate::platform::db::ensure_current(expected_version, current.version)?;
        let version: Option<i64> = with_conn!(conn, |c| diesel::update(
            students::table
                .find(id)
                .filter(students::version.eq(current.version))
        )
        .set((
            students::deleted.eq(true),
            students::version.eq(students::version + 1),
            students::updated_at.eq(crate::platform::db::now()),
        ))
        .returning(students::version)
        .get_result(c)
        .optional())?;
        let Some(version) = version else {
            let (now, _) = find_visible(conn, scope, id)?;
            return Err(Failure::changed_meanwhile(now.version, expected_version));
        };
        record_changes(conn, actor, ChangeOperation::Delete, &[id])?;
        crate::platform::audit::record(
            conn,
            actor,
            "delete",
            "student",
            &id.to_string(),
            json!({"version": version}),
        )
    })
}

/// A record that passed every check, with its school resolved.
struct Checked {
    record: StudentRecord,
    school_id: i64,
    /// The school's admin unit, for the outbox event.
    place: String,
}

/// Inserts or updates students by `external_id` in one transaction.
/// Invalid records are reported and skipped (or, with `atomic`, refuse the
/// batch); identical ones are left untouched (same `version` and
/// `updated_at`) but, with a `run_id`, remembered as seen by that run.
pub fn upsert_batch(
    conn: &mut DbConn,
    actor: &str,
    scope: &Reach,
    records: Vec<Decoded<StudentRecord>>,
    run_id: Option<&str>,
    atomic: bool,
) -> Result<BatchReport, Failure> {
    let mut report = BatchReport::default();
    let checked = check_records(conn, scope, records, &mut report)?;
    conn.transaction(|conn| {
        let sorted = sort_out(conn, scope, &checked, run_id, &mut report)?;
        report.rejected_rows.sort_by_key(|row| row.index);
        report.refuse_if_atomic(atomic)?;
        write_students(conn, actor, &sorted, run_id)?;
        crate::platform::audit::record(
            conn,
            actor,
            "sync",
            "students",
            run_id.unwrap_or("-"),
            json!({"inserted": report.inserted, "updated": report.updated, "unchanged": report.unchanged, "rejected": report.rejected}),
        )?;
        Ok(report)
    })
}

/// A record that passed the checks needing no lock: its index and line in
/// the batch, and the school it names.
type CheckedRow = (usize, Option<u64>, Checked);

/// The records whose own fields, key and school are good; the others go
/// to the report (a school outside the caller's scope exactly like an
/// unknown one).
fn check_records(
    conn: &mut DbConn,
    scope: &Reach,
    records: Vec<Decoded<StudentRecord>>,
    report: &mut BatchReport,
) -> Result<Vec<CheckedRow>, Failure> {
    let occurrences = batch::key_counts(&records, |r: &StudentRecord| &r.external_id);
    let codes: Vec<&str> = records
        .iter()
        .filter_map(|d| d.record.as_ref().ok().map(|r| r.school_code.as_str()))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let schools = crate::registry::schools::queries::by_codes(conn, &codes)?;

    let mut checked = Vec::with_capacity(records.len());
    for Decoded {
        index,
        line,
        key,
        record,
    } in records
    {
        let record = match record {
            Ok(record) => record,
            Err(errors) => {
                report.reject(index, line, key, errors);
                continue;
            }
        };
        if occurrences.get(&record.external_id).copied().unwrap_or(0) > 1 {
            let error = FieldError::new(
                "external_id",
                "duplicate",
                "this external_id appears more than once in the batch",
            );
            report.reject(index, line, key, vec![error]);
            continue;
        }
        // A school outside the caller's scope is reported exactly like an unknown one.
        let Some(school) = schools
            .get(&record.school_code)
            .filter(|s| scope.allows_place(s.id, &s.admin_unit_code))
        else {
            let error = FieldError::new(
                "school_code",
                "unknown",
                "no school with this code in your scope",
            );
            report.reject(index, line, key, vec![error]);
            continue;
        };
        if let Err(error) = check_grade(record.grade, school) {
            report.reject(index, line, key, vec![error]);
            continue;
        }
        checked.push((
            index,
            line,
            Checked {
                school_id: school.id,
                place: school.admin_unit_code.clone(),
                record,
            },
        ));
    }
    Ok(checked)
}

/// What a batch does to the stored students.
#[derive(Default)]
struct Sorted<'a> {
    /// Not stored yet (as far as this transaction saw).
    new: Vec<&'a Checked>,
    /// Stored and different.
    changed: Vec<&'a Checked>,
    /// Stored, identical, not yet seen by this run: ids.
    seen_unchanged: Vec<i64>,
}

/// Sorts the checked records against the stored ones: new (insert),
/// changed (update), unchanged (only marked seen by this run), or another
/// scope's student (rejected). Counts each in the report.
fn sort_out<'a>(
    conn: &mut DbConn,
    scope: &Reach,
    checked: &'a [CheckedRow],
    run_id: Option<&str>,
    report: &mut BatchReport,
) -> Result<Sorted<'a>, Failure> {
    let keys: Vec<&str> = checked
        .iter()
        .map(|(_, _, c)| c.record.external_id.as_str())
        .collect();
    let existing = existing_by_external_id(conn, &keys)?;
    let existing_schools: HashMap<i64, SchoolRow> = {
        let ids: Vec<i64> = existing
            .values()
            .map(|row| row.school_id)
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        crate::registry::schools::queries::by_ids(conn, &ids)?
    };

    let mut sorted = Sorted::default();
    for (index, line, item) in checked {
        match existing.get(&item.record.external_id) {
            Some(row)
                if !existing_schools
                    .get(&row.school_id)
                    .is_some_and(|s| scope.allows_place(s.id, &s.admin_unit_code)) =>
            {
                let error = FieldError::new(
                    "external_id",
                    "out_of_scope",
                    "this student belongs to a school outside your scope",
                );
                report.reject(
                    *index,
                    *line,
                    Some(item.record.external_id.clone()),
                    vec![error],
                );
            }
            Some(row) if row.active && unchanged(row, item) => {
                report.unchanged += 1;
                if run_id.is_some() && row.last_seen_run.as_deref() != run_id {
                    sorted.seen_unchanged.push(row.id);
                }
            }
            Some(_) => {
                report.updated += 1;
                sorted.changed.push(item);
            }
            None => {
                report.inserted += 1;
                sorted.new.push(item);
            }
        }
    }
    Ok(sorted)
}

/// Writes new and changed students in chunks, marks the unchanged ones
/// seen by this run, and records a change row for each write.
fn write_students(
    conn: &mut DbConn,
    actor: &str,
    sorted: &Sorted,
    run_id: Option<&str>,
) -> Result<(), Failure> {
    let now = crate::platform::db::now();
    let (mut inserted, mut updated) = (Vec::new(), Vec::new());
    let new = sorted.new.chunks(CHUNK).map(|chunk| (chunk, true));
    let changed = sorted.changed.chunks(CHUNK).map(|chunk| (chunk, false));
    for (chunk, new) in new.chain(changed) {
        // The rows come back in no set order: each is matched to its record
        // by its key, for the school's place.
        let places: HashMap<&str, &str> = chunk
            .iter()
            .map(|c| (c.record.external_id.as_str(), c.place.as_str()))
            .collect();
        for row in upsert_chunk(conn, chunk, new, run_id, now)? {
            let written = WrittenStudent {
                id: row.id,
                school_id: row.school_id,
                version: row.version,
                active: true,
                place: places[row.external_id.as_str()].to_owned(),
            };
            // A row inserted by a concurrent batch first comes back updated.
            if written.version == 1 {
                inserted.push(written)
            } else {
                updated.push(written)
            }
        }
    }
    if let Some(run_id) = run_id {
        note_seen_unchanged(conn, &sorted.seen_unchanged, run_id)?;
    }
    record_written(conn, actor, ChangeOperation::Insert, &inserted)?;
    record_written(conn, actor, ChangeOperation::Update, &updated)?;
    Ok(())
}

/// Notes that `run_id` sent these students unchanged, beside the rows
/// rather than in them: rewriting a student only to note the run cost a new
/// row version, its index entries and trigger rows each (most of a
/// re-sync's time), a narrow note costs one small row.
fn note_seen_unchanged(conn: &mut DbConn, ids: &[i64], run_id: &str) -> Result<(), Failure> {
    use diesel::sql_types::{Array, BigInt, Text};
    if ids.is_empty() {
        return Ok(());
    }
    crate::platform::db::per_backend!(conn,
        sqlite: |c| {
            for chunk in ids.chunks(CHUNK) {
                let notes: Vec<_> = chunk
                    .iter()
                    .map(|id| {
                        (
                            students_seen_unchanged::student_id.eq(*id),
                            students_seen_unchanged::run_id.eq(run_id),
                        )
                    })
                    .collect();
                diesel::insert_into(students_seen_unchanged::table)
                    .values(&notes)
                    .on_conflict(students_seen_unchanged::student_id)
                    .do_update()
                    .set(students_seen_unchanged::run_id.eq(excluded(students_seen_unchanged::run_id)))
                    .execute(c)?;
            }
            Ok::<_, diesel::result::Error>(())
        },
        // One array instead of a VALUES list of a thousand pairs, which
        // PostgreSQL parsed anew for every batch of another size.
        postgres: |c| diesel::sql_query(
            "INSERT INTO students_seen_unchanged (student_id, run_id) \
             SELECT seen.id, $2 FROM unnest($1::bigint[]) AS seen(id) \
             ON CONFLICT (student_id) DO UPDATE SET run_id = EXCLUDED.run_id",
        )
        .bind::<Array<BigInt>, _>(ids)
        .bind::<Text, _>(run_id)
        .execute(c)
        .map(|_| ()),
    )?;
    Ok(())
}

fn unchanged(row: &StudentRow, item: &Checked) -> bool {
    let r = &item.record;
    row.school_id == item.school_id
        && row.grade == r.grade
        && row.full_name == r.full_name
        && row.birth_date == r.birth_date
        && row.gender == r.gender
        && row.household_status == r.household_status
        && row.device_status == r.device_status
        && row.connectivity_status == r.connectivity_status
}

fn existing_by_external_id(
    conn: &mut DbConn,
    keys: &[&str],
) -> Result<HashMap<String, StudentRow>, Failure> {
    let mut found = HashMap::with_capacity(keys.len());
    for chunk in keys.chunks(CHUNK) {
        let rows: Vec<StudentRow> = with_conn!(conn, |c| students::table
            .filter(students::external_id.eq_any(chunk))
            .select(StudentRow::as_select())
            .load(c))?;
        found.extend(rows.into_iter().map(|row| (row.external_id.clone(), row)));
    }
    Ok(found)
}

/// One multi-row INSERT … ON CONFLICT (external_id) DO UPDATE; returns the
/// id and new version of every row it wrote. PostgreSQL takes the rows as
/// one array per column (UNNEST): a VALUES list of 13,000 parameters spends
/// more time being parsed than written. SQLite takes the portable VALUES form.
///
/// Rows this transaction found `new` are first tried as a plain INSERT in a
/// savepoint on PostgreSQL: cheaper than the upsert (no speculative
/// insertion, no update trigger), and most of a first load. If a concurrent
/// batch stored one of them meanwhile, the unique key refuses it and the
/// savepoint is rolled back; the upsert then writes the chunk as usual.
fn upsert_chunk(
    conn: &mut DbConn,
    items: &[&Checked],
    new: bool,
    run_id: Option<&str>,
    now: NaiveDateTime,
) -> Result<Vec<Written>, Failure> {
    let written = crate::platform::db::per_backend!(conn,
        sqlite: |c| upsert_values(c, items, run_id, now),
        postgres: |c| write_pg(c, items, new, run_id, now),
    )?;
    Ok(written)
}

fn write_pg(
    conn: &mut diesel::PgConnection,
    items: &[&Checked],
    new: bool,
    run_id: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<Vec<Written>> {
    use diesel::result::{DatabaseErrorKind, Error};
    if new {
        // A nested transaction is a savepoint.
        match conn.transaction(|c| write_unnest(c, items, run_id, now, Conflict::Refuse)) {
            Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {}
            written => return written,
        }
    }
    write_unnest(conn, items, run_id, now, Conflict::Update)
}

fn upsert_values(
    conn: &mut diesel::SqliteConnection,
    items: &[&Checked],
    run_id: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<Vec<Written>> {
    let values: Vec<_> = items
        .iter()
        .map(|item| {
            let r = &item.record;
            (
                students::external_id.eq(&r.external_id),
                students::school_id.eq(item.school_id),
                students::grade.eq(r.grade),
                students::full_name.eq(&r.full_name),
                students::birth_date.eq(r.birth_date),
                students::gender.eq(r.gender),
                students::household_status.eq(r.household_status),
                students::device_status.eq(r.device_status),
                students::connectivity_status.eq(r.connectivity_status),
                students::active.eq(true),
                students::last_seen_run.eq(run_id),
                students::created_at.eq(now),
                students::updated_at.eq(now),
            )
        })
        .collect();
    diesel::insert_into(students::table)
        .values(&values)
        .on_conflict(students::external_id)
        .do_update()
        .set((
            students::school_id.eq(excluded(students::school_id)),
            students::grade.eq(excluded(students::grade)),
            students::full_name.eq(excluded(students::full_name)),
            students::birth_date.eq(excluded(students::birth_date)),
            students::gender.eq(excluded(students::gender)),
            students::household_status.eq(excluded(students::household_status)),
            students::device_status.eq(excluded(students::device_status)),
            students::connectivity_status.eq(excluded(students::connectivity_status)),
            students::active.eq(true),
            students::last_seen_run.eq(excluded(students::last_seen_run)),
            students::version.eq(students::version + 1),
            students::updated_at.eq(excluded(students::updated_at)),
        ))
        .returning((
            students::id,
            students::external_id,
            students::school_id,
            students::version,
        ))
        .get_results(conn)
}

/// A row an upsert wrote, as it came back.
#[derive(Queryable, QueryableByName)]
struct Written {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    external_id: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    school_id: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    version: i64,
}

/// What [`write_unnest`] does with a row whose `external_id` is stored.
#[derive(Clone, Copy, PartialEq)]
enum Conflict {
    /// Fail the statement (unique violation): rows known to be new.
    Refuse,
    /// Update the stored row, as [`upsert_values`] does.
    Update,
}

/// The same statement as [`upsert_values`], with the rows as column arrays
/// (or, with [`Conflict::Refuse`], the plain INSERT).
fn write_unnest(
    conn: &mut diesel::PgConnection,
    items: &[&Checked],
    run_id: Option<&str>,
    now: NaiveDateTime,
    conflict: Conflict,
) -> QueryResult<Vec<Written>> {
    use diesel::sql_types::{Array, BigInt, Date, Integer, Nullable, Text, Timestamp};
    let column = |f: fn(&Checked) -> &str| items.iter().map(|i| f(i)).collect::<Vec<&str>>();
    let on_conflict = match conflict {
        Conflict::Refuse => "",
        Conflict::Update => {
            "ON CONFLICT (external_id) DO UPDATE SET school_id = EXCLUDED.school_id, grade = EXCLUDED.grade, \
             full_name = EXCLUDED.full_name, birth_date = EXCLUDED.birth_date, gender = EXCLUDED.gender, \
             household_status = EXCLUDED.household_status, device_status = EXCLUDED.device_status, \
             connectivity_status = EXCLUDED.connectivity_status, active = TRUE, \
             last_seen_run = EXCLUDED.last_seen_run, version = students.version + 1, updated_at = EXCLUDED.updated_at"
        }
    };
    diesel::sql_query(format!(
        "INSERT INTO students (external_id, school_id, grade, full_name, birth_date, gender, \
             household_status, device_status, connectivity_status, active, last_seen_run, created_at, updated_at) \
         SELECT t.e, t.s, t.g, t.n, t.b, t.ge, t.h, t.d, t.c, TRUE, $10, $11, $11 \
         FROM UNNEST($1::text[], $2::bigint[], $3::int[], $4::text[], $5::date[], $6::text[], $7::text[], $8::text[], $9::text[]) \
             AS t(e, s, g, n, b, ge, h, d, c) \
         {on_conflict} RETURNING id, external_id, school_id, version"
    ))
    .bind::<Array<Text>, _>(column(|i| &i.record.external_id))
    .bind::<Array<BigInt>, _>(items.iter().map(|i| i.school_id).collect::<Vec<_>>())
    .bind::<Array<Integer>, _>(items.iter().map(|i| i.record.grade).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(column(|i| &i.record.full_name))
    .bind::<Array<Date>, _>(items.iter().map(|i| i.record.birth_date).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(column(|i| i.record.gender.as_str()))
    .bind::<Array<Text>, _>(column(|i| i.record.household_status.as_str()))
    .bind::<Array<Text>, _>(column(|i| i.record.device_status.as_str()))
    .bind::<Array<Text>, _>(column(|i| i.record.connectivity_status.as_str()))
    .bind::<Nullable<Text>, _>(run_id)
    .bind::<Timestamp, _>(now)
    .load(conn)
}

/// Ends a full-roster run: every active student the run did not send is
/// marked inactive (with a change each). Refused when no batch carried the
/// run id, so a typo cannot deactivate the whole province.
pub fn complete_run(
    conn: &mut DbConn,
    actor: &str,
    run_id: &str,
) -> Result<CompleteReport, Failure> {
    conn.transaction(|conn| {
        // Seen: written by the run (the column) or sent unchanged (the
        // note); a student both noted and then written counts once.
        let written: i64 = with_conn!(conn, |c| students::table
            .filter(students::last_seen_run.eq(run_id))
            .count()
            .get_result(c))?;
        let noted: i64 = with_conn!(conn, |c| students_seen_unchanged::table
            .inner_join(students::table)
            .filter(students_seen_unchanged::run_id.eq(run_id))
            .filter(
                students::last_seen_run
                    .is_null()
                    .or(students::last_seen_run.ne(run_id))
            )
            .count()
            .get_result(c))?;
        let seen = written + noted;
        if seen == 0 {
            return Err(Failure::conflict(format!(
                "no batch was sent with run_id {run_id}; nothing to complete"
            )));
        }
        let missing: Vec<i64> = with_conn!(conn, |c| students::table
            .filter(students::active.eq(true))
            .filter(students::deleted.eq(false))
            .filter(
                students::last_seen_run
                    .is_null()
                    .or(students::last_seen_run.ne(run_id))
            )
            .filter(diesel::dsl::not(diesel::dsl::exists(
                students_seen_unchanged::table
                    .filter(students_seen_unchanged::student_id.eq(students::id))
                    .filter(students_seen_unchanged::run_id.eq(run_id))
            )))
            .select(students::id)
            .load(c))?;
        let now = crate::platform::db::now();
        for chunk in missing.chunks(CHUNK) {
            with_conn!(conn, |c| diesel::update(
                students::table.filter(students::id.eq_any(chunk))
            )
            .set((
                students::active.eq(false),
                students::version.eq(students::version + 1),
                students::updated_at.eq(now),
            ))
            .execute(c))?;
        }
        record_changes(conn, actor, ChangeOperation::Update, &missing)?;
        crate::platform::audit::record(
            conn,
            actor,
            "complete_run",
            "students",
            run_id,
            json!({"seen": seen, "deactivated": missing.len()}),
        )?;
        Ok(CompleteReport {
            run_id: run_id.to_owned(),
            seen,
            deactivated: missing.len(),
        })
    })
}

/// Changes after feed position `after`, oldest first.
pub fn changes(
    conn: &mut DbConn,
    after: i64,
    limit: i64,
) -> Result<(Vec<(i64, StudentChange)>, bool), Failure> {
    type Row = (i64, ChangeOperation, i64, NaiveDateTime, StudentRow, String);
    let mut rows: Vec<Row> = with_conn!(conn, |c| student_changes::table
        .inner_join(students::table.inner_join(schools::table))
        .filter(student_changes::seq.gt(after))
        .order(student_changes::seq.asc())
        .limit(limit + 1)
        .select((
            student_changes::seq,
            student_changes::operation,
            student_changes::version,
            student_changes::changed_at,
            StudentRow::as_select(),
            schools::moet_code,
        ))
        .load(c))?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let items = rows
        .into_iter()
        .map(|(seq, operation, version, changed_at, row, code)| {
            (
                seq,
                StudentChange {
                    operation,
                    version,
                    changed_at: crate::platform::db::to_utc(changed_at),
                    student: Student::from_row(row, code),
                },
            )
        })
        .collect();
    Ok((items, has_more))
}
