//! One-off data maintenance: rows written before the text rule
//! (`crate::platform::text`) and the canonical identifiers (`crate::platform::identifiers`)
//! are brought to the same forms new rows have, so that an old "Hòa" typed
//! with a combining accent and a new one typed precomposed are one record.
//!
//! Nothing is ever merged silently: where the canonical form of a row's key
//! is already another row's key (two students who are one child, two donors
//! with one phone number written two ways), both rows are left as they are
//! and the pair is reported for an officer to decide. Runs once per database
//! at start-up (recorded in `maintenance_runs`), and on demand with
//! `songmay normalise-identifiers [--dry-run]`.

use crate::platform::error::Failure;
use std::collections::{BTreeMap, HashMap};

use diesel::prelude::*;
use serde::Serialize;

use crate::platform::db::schema::{donors, maintenance_runs, schools, students, suppliers};
use crate::platform::db::{with_conn, DbConn};
use crate::platform::identifiers::{Phone, TaxCode};

/// The name under which the start-up run is recorded.
pub const IDENTIFIERS_RUN: &str = "normalise-identifiers-2026-12";

/// Two rows whose keys become one: left as they are, for a person to merge.
#[derive(Debug, Clone, Serialize)]
pub struct Collision {
    pub table: &'static str,
    pub field: &'static str,
    /// The row that would change, and the row that already has its key.
    pub ids: (i64, i64),
}

/// What a run did (or, dry, would do).
#[derive(Debug, Default, Clone, Serialize)]
pub struct Report {
    pub dry_run: bool,
    /// Rows rewritten per table.
    pub changed: BTreeMap<&'static str, usize>,
    /// Keys left as they were because another row already has the canonical one.
    pub collisions: Vec<Collision>,
    /// Values that are not identifiers at all (a phone number with letters):
    /// left as they are and listed by row.
    pub unreadable: Vec<(&'static str, &'static str, i64)>,
}

fn clean(text: &str) -> String {
    // Stored text that holds a forbidden character keeps it: the rule
    // refuses new input, it does not destroy what is there.
    crate::platform::text::clean(text)
        .map(|t| t.into_owned())
        .unwrap_or_else(|_| text.to_owned())
}

/// Runs the normalisation in one transaction (none of it when `dry_run`).
pub fn normalise_identifiers(conn: &mut DbConn, dry_run: bool) -> Result<Report, Failure> {
    conn.transaction(|conn| {
        let mut report = Report {
            dry_run,
            ..Default::default()
        };
        normalise_students(conn, &mut report)?;
        normalise_schools(conn, &mut report)?;
        normalise_donors(conn, &mut report)?;
        normalise_suppliers(conn, &mut report)?;
        if dry_run {
            // Undo by failing the transaction on purpose, report kept.
            return Err(DryRun(report));
        }
        Ok(report)
    })
    .or_else(|e: Interrupted| match e {
        DryRun(report) => Ok(report),
        Interrupted::Failed(e) => Err(e),
    })
}

/// Why the transaction ended without committing.
enum Interrupted {
    DryRun(Report),
    Failed(Failure),
}
use Interrupted::DryRun;

impl From<Failure> for Interrupted {
    fn from(e: Failure) -> Self {
        Interrupted::Failed(e)
    }
}

impl From<diesel::result::Error> for Interrupted {
    fn from(e: diesel::result::Error) -> Self {
        Interrupted::Failed(e.into())
    }
}

fn normalise_students(conn: &mut DbConn, report: &mut Report) -> Result<(), Interrupted> {
    let rows: Vec<(i64, String, String)> = with_conn!(conn, |c| students::table
        .select((students::id, students::external_id, students::full_name))
        .load(c))?;
    // Every key in use, including those this run gives out.
    let mut keys: HashMap<String, i64> =
        rows.iter().map(|(id, key, _)| (key.clone(), *id)).collect();
    let mut changed = Vec::new();
    for (id, external_id, full_name) in &rows {
        let (key, name) = (clean(external_id), clean(full_name));
        if key == *external_id && name == *full_name {
            continue;
        }
        if key != *external_id {
            if let Some(other) = keys.get(&key) {
                report.collisions.push(Collision {
                    table: "students",
                    field: "external_id",
                    ids: (*id, *other),
                });
                continue;
            }
        }
        with_conn!(conn, |c| diesel::update(students::table.find(id))
            .set((
                students::external_id.eq(&key),
                students::full_name.eq(&name),
                students::version.eq(students::version + 1),
                students::updated_at.eq(crate::platform::db::now()),
            ))
            .execute(c))?;
        keys.insert(key, *id);
        changed.push(*id);
    }
    // The education data system hears of every rewritten student.
    crate::registry::students::queries::record_maintenance_changes(conn, &changed)?;
    report.changed.insert("students", changed.len());
    Ok(())
}

fn normalise_schools(conn: &mut DbConn, report: &mut Report) -> Result<(), Interrupted> {
    let rows: Vec<(i64, String, String)> = with_conn!(conn, |c| schools::table
        .select((schools::id, schools::moet_code, schools::name))
        .load(c))?;
    let mut keys: HashMap<String, i64> =
        rows.iter().map(|(id, key, _)| (key.clone(), *id)).collect();
    let mut changed = 0;
    for (id, moet_code, name) in &rows {
        let (key, new_name) = (clean(moet_code), clean(name));
        if key == *moet_code && new_name == *name {
            continue;
        }
        if key != *moet_code {
            if let Some(other) = keys.get(&key) {
                report.collisions.push(Collision {
                    table: "schools",
                    field: "moet_code",
                    ids: (*id, *other),
                });
                continue;
            }
        }
        with_conn!(conn, |c| diesel::update(schools::table.find(id))
            .set((
                schools::moet_code.eq(&key),
                schools::name.eq(&new_name),
                schools::name_search.eq(new_name.to_lowercase()),
                schools::version.eq(schools::version + 1),
                schools::updated_at.eq(crate::platform::db::now()),
            ))
            .execute(c))?;
        keys.insert(key, *id);
        changed += 1;
    }
    report.changed.insert("schools", changed);
    Ok(())
}

type DonorKeys = (i64, String, Option<String>, Option<String>, Option<String>);

fn normalise_donors(conn: &mut DbConn, report: &mut Report) -> Result<(), Interrupted> {
    let rows: Vec<DonorKeys> = with_conn!(conn, |c| donors::table
        .select((
            donors::id,
            donors::name,
            donors::tax_code,
            donors::phone,
            donors::email
        ))
        .load(c))?;
    let mut owners: HashMap<(&'static str, String), i64> = HashMap::new();
    for (id, _, tax, phone, email) in &rows {
        for (field, value) in [("tax_code", tax), ("phone", phone), ("email", email)] {
            if let Some(value) = value {
                owners.insert((field, value.clone()), *id);
            }
        }
    }
    let mut changed = 0;
    'rows: for (id, name, tax, phone, email) in &rows {
        let canonical = |field: &'static str, value: &Option<String>| -> Option<Option<String>> {
            let value = value.as_ref()?;
            let form = match field {
                "tax_code" => TaxCode::parse(value).map(|t| t.as_str().to_owned()),
                "phone" => Phone::parse(value).map(|p| p.as_str().to_owned()),
                _ => Some(clean(value).to_lowercase()),
            };
            Some(form)
        };
        let mut next: Vec<(&'static str, Option<String>)> = Vec::new();
        for (field, value) in [("tax_code", tax), ("phone", phone), ("email", email)] {
            match canonical(field, value) {
                None => next.push((field, None)),
                Some(None) => {
                    report.unreadable.push(("donors", field, *id));
                    next.push((field, value.clone()));
                }
                Some(Some(form)) => {
                    if Some(&form) != value.as_ref() {
                        if let Some(other) = owners.get(&(field, form.clone())) {
                            if other != id {
                                report.collisions.push(Collision {
                                    table: "donors",
                                    field,
                                    ids: (*id, *other),
                                });
                                continue 'rows;
                            }
                        }
                    }
                    next.push((field, Some(form)));
                }
            }
        }
        let new_name = clean(name);
        let unchanged =
            new_name == *name && next[0].1 == *tax && next[1].1 == *phone && next[2].1 == *email;
        if unchanged {
            continue;
        }
        with_conn!(conn, |c| diesel::update(donors::table.find(id))
            .set((
                donors::name.eq(&new_name),
                donors::tax_code.eq(&next[0].1),
                donors::phone.eq(&next[1].1),
                donors::email.eq(&next[2].1),
                donors::updated_at.eq(crate::platform::db::now()),
            ))
            .execute(c))?;
        for (field, value) in next {
            if let Some(value) = value {
                owners.insert((field, value), *id);
            }
        }
        changed += 1;
    }
    report.changed.insert("donors", changed);
    Ok(())
}

fn normalise_suppliers(conn: &mut DbConn, report: &mut Report) -> Result<(), Interrupted> {
    let rows: Vec<(i64, String, Option<String>)> = with_conn!(conn, |c| suppliers::table
        .select((suppliers::id, suppliers::name, suppliers::tax_code))
        .load(c))?;
    let mut owners: HashMap<String, i64> = rows
        .iter()
        .filter_map(|(id, _, tax)| tax.clone().map(|t| (t, *id)))
        .collect();
    let mut changed = 0;
    for (id, name, tax) in &rows {
        let new_tax = match tax {
            Some(t) => match TaxCode::parse(t) {
                Some(code) => Some(code.as_str().to_owned()),
                None => {
                    report.unreadable.push(("suppliers", "tax_code", *id));
                    Some(t.clone())
                }
            },
            None => None,
        };
        if new_tax != *tax {
            if let Some(other) = new_tax.as_ref().and_then(|t| owners.get(t)) {
                report.collisions.push(Collision {
                    table: "suppliers",
                    field: "tax_code",
                    ids: (*id, *other),
                });
                continue;
            }
        }
        let new_name = clean(name);
        if new_name == *name && new_tax == *tax {
            continue;
        }
        with_conn!(conn, |c| diesel::update(suppliers::table.find(id))
            .set((
                suppliers::name.eq(&new_name),
                suppliers::tax_code.eq(&new_tax)
            ))
            .execute(c))?;
        if let Some(tax) = new_tax {
            owners.insert(tax, *id);
        }
        changed += 1;
    }
    report.changed.insert("suppliers", changed);
    Ok(())
}

/// The start-up run: once per database; the report is logged and kept.
pub fn run_once_at_start(conn: &mut DbConn) -> Result<Option<Report>, Failure> {
    let done: i64 = with_conn!(conn, |c| maintenance_runs::table
        .filter(maintenance_runs::name.eq(IDENTIFIERS_RUN))
        .count()
        .get_result(c))?;
    if done > 0 {
        return Ok(None);
    }
    let report = normalise_identifiers(conn, false)?;
    let text = serde_json::to_string(&report).unwrap_or_default();
    with_conn!(conn, |c| diesel::insert_into(maintenance_runs::table)
        .values((
            maintenance_runs::name.eq(IDENTIFIERS_RUN),
            maintenance_runs::ran_at.eq(crate::platform::db::now()),
            maintenance_runs::report.eq(&text),
        ))
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(Some(report))
}
