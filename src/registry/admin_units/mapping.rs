//! The 2025 reform as data: which new communes each old commune became
//! (`old_code,new_code,is_default`, the format of
//! `data/admin_units_2025_mapping.csv`), the successors and predecessors of
//! a unit, and the schools in split communes with the new commune each
//! lands in — the default, or an officer's decision.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use super::scheme::Scheme;
use crate::platform::db::schema::{
    admin_unit_successors, admin_units, school_successor_overrides, schools,
};
use crate::platform::db::{with_conn, DbConn};
use crate::platform::error::{Failure, FieldError};

const HEADER: [&str; 3] = ["old_code", "new_code", "is_default"];
/// Stop collecting after this many problems: the file needs fixing anyway.
const MAX_REPORTED: usize = 100;
/// Rows per INSERT statement (3 binds each).
const INSERT_CHUNK: usize = 1000;

/// One line of a mapping file: GSO codes as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingLine {
    pub line: u64,
    pub old_code: String,
    pub new_code: String,
    pub is_default: bool,
}

/// Reads a mapping file. Every bad line is named (a code that is not
/// digits, a flag that is not `true`/`false`, a pair twice, an old
/// commune with no default or two); one bad line rejects the file.
pub fn parse(bytes: &[u8]) -> Result<Vec<MappingLine>, Failure> {
    let records = super::import::data_lines(bytes, &HEADER)?;
    let mut lines = Vec::new();
    let mut errors = Vec::new();
    let mut seen: HashMap<(String, String), u64> = HashMap::new();
    for record in records {
        if errors.len() >= MAX_REPORTED {
            break;
        }
        let (line, record) = match record {
            Ok(found) => found,
            Err(error) => {
                errors.push(error);
                continue;
            }
        };
        let digits = |code: &str| {
            !code.is_empty() && code.len() <= 16 && code.bytes().all(|b| b.is_ascii_digit())
        };
        let mut bad = false;
        for (field, code) in [("old_code", &record[0]), ("new_code", &record[1])] {
            if !digits(code) {
                errors.push(
                    FieldError::new(field, "format", "must be 1 to 16 digits (a GSO code)")
                        .on_line(line),
                );
                bad = true;
            }
        }
        let is_default = match &record[2] {
            "true" => true,
            "false" => false,
            _ => {
                errors.push(
                    FieldError::new("is_default", "format", "must be true or false").on_line(line),
                );
                bad = true;
                false
            }
        };
        if bad {
            continue;
        }
        let pair = (record[0].to_owned(), record[1].to_owned());
        if let Some(first) = seen.insert(pair.clone(), line) {
            errors.push(
                FieldError::new(
                    "new_code",
                    "duplicate",
                    format!("the pair is already on line {first}"),
                )
                .on_line(line),
            );
            continue;
        }
        lines.push(MappingLine {
            line,
            old_code: pair.0,
            new_code: pair.1,
            is_default,
        });
    }
    // Exactly one default per old commune.
    let mut defaults: BTreeMap<&str, (u64, usize)> = BTreeMap::new();
    for line in &lines {
        let entry = defaults.entry(&line.old_code).or_insert((line.line, 0));
        if line.is_default {
            entry.1 += 1;
        }
    }
    for (old, (first_line, count)) in defaults {
        if count != 1 && errors.len() < MAX_REPORTED {
            errors.push(
                FieldError::new(
                    "is_default",
                    "one_default",
                    format!(
                        "old commune {old} must have exactly one default successor, has {count}"
                    ),
                )
                .on_line(first_line),
            );
        }
    }
    if !errors.is_empty() {
        return Err(Failure::validation(errors));
    }
    if lines.is_empty() {
        return Err(line_error(
            2,
            "line",
            "empty",
            "the file has no data lines".to_owned(),
        ));
    }
    Ok(lines)
}

fn line_error(line: u64, field: &str, code: &str, message: String) -> Failure {
    Failure::validation(vec![FieldError::new(field, code, message).on_line(line)])
}

/// What a mapping import did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MappingReport {
    /// Data rows in the file.
    pub total: usize,
    /// Rows stored (those of old communes this service holds).
    pub applied: usize,
    /// Old communes whose successors are now stored.
    pub old_units: usize,
    /// … of which split across several new communes.
    pub split: usize,
    /// Rows of old communes this service does not hold (other provinces):
    /// left out, counted here.
    pub skipped_unknown_old: usize,
}

/// Stores the mapping in one transaction: for every old commune the
/// service holds, its successors become exactly the file's (so a re-import
/// changes nothing). A new code that is not a stored `vn2025` unit is
/// refused with its line; nothing is written then.
pub fn import(
    conn: &mut DbConn,
    actor: &str,
    lines: Vec<MappingLine>,
) -> Result<MappingReport, Failure> {
    conn.transaction(|conn| {
        let known: HashSet<String> = with_conn!(conn, |c| admin_units::table
            .select(admin_units::code)
            .load::<String>(c))?
        .into_iter()
        .collect();
        let mut errors = Vec::new();
        let mut rows: Vec<(String, String, bool)> = Vec::new();
        let mut skipped = 0;
        for line in &lines {
            let new_code = Scheme::Vn2025.qualify(&line.new_code);
            if !known.contains(&new_code) {
                if errors.len() < MAX_REPORTED {
                    errors.push(
                        FieldError::new(
                            "new_code",
                            "unknown",
                            "no vn2025 unit has this code: import the 2025 units first (POST /admin-units/import?scheme=vn2025)",
                        )
                        .on_line(line.line),
                    );
                }
                continue;
            }
            if !known.contains(&line.old_code) {
                skipped += 1;
                continue;
            }
            rows.push((line.old_code.clone(), new_code, line.is_default));
        }
        if !errors.is_empty() {
            return Err(Failure::validation(errors));
        }
        let olds: Vec<&String> = rows.iter().map(|r| &r.0).collect::<HashSet<_>>().into_iter().collect();
        for chunk in olds.chunks(INSERT_CHUNK) {
            with_conn!(conn, |c| diesel::delete(
                admin_unit_successors::table.filter(admin_unit_successors::old_code.eq_any(chunk))
            )
            .execute(c))?;
        }
        for chunk in rows.chunks(INSERT_CHUNK) {
            let values: Vec<_> = chunk
                .iter()
                .map(|(old, new, default)| {
                    (
                        admin_unit_successors::old_code.eq(old),
                        admin_unit_successors::new_code.eq(new),
                        admin_unit_successors::is_default.eq(*default),
                    )
                })
                .collect();
            with_conn!(conn, |c| diesel::insert_into(admin_unit_successors::table)
                .values(&values)
                .execute(c))?;
        }
        let mut per_old: HashMap<&str, usize> = HashMap::new();
        for (old, _, _) in &rows {
            *per_old.entry(old).or_default() += 1;
        }
        let report = MappingReport {
            total: lines.len(),
            applied: rows.len(),
            old_units: per_old.len(),
            split: per_old.values().filter(|n| **n > 1).count(),
            skipped_unknown_old: skipped,
        };
        crate::platform::audit::record(
            conn,
            actor,
            "import",
            "admin_unit_successors",
            "*",
            serde_json::json!({"applied": report.applied, "old_units": report.old_units, "split": report.split, "skipped_unknown_old": report.skipped_unknown_old}),
        )?;
        Ok(report)
    })
}

/// A unit linked to another across the reform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LinkedUnit {
    pub code: String,
    pub name: String,
    /// The old commune's default successor (for a split commune, where its
    /// records go unless decided otherwise).
    pub is_default: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LinkedUnitList {
    pub items: Vec<LinkedUnit>,
}

/// The new communes an old one became (`successors`) or the old communes a
/// new one came from (`predecessors`), by code; 404 for an unknown unit.
pub fn linked(conn: &mut DbConn, code: &str, successors: bool) -> Result<Vec<LinkedUnit>, Failure> {
    if super::queries::find(conn, code)?.is_none() {
        return Err(Failure::unknown_admin_unit());
    }
    let rows: Vec<(String, bool, String)> = with_conn!(conn, |c| {
        if successors {
            admin_unit_successors::table
                .inner_join(
                    admin_units::table.on(admin_units::code.eq(admin_unit_successors::new_code)),
                )
                .filter(admin_unit_successors::old_code.eq(code))
                .order(admin_unit_successors::new_code)
                .select((
                    admin_unit_successors::new_code,
                    admin_unit_successors::is_default,
                    admin_units::name,
                ))
                .load(c)
        } else {
            admin_unit_successors::table
                .inner_join(
                    admin_units::table.on(admin_units::code.eq(admin_unit_successors::old_code)),
                )
                .filter(admin_unit_successors::new_code.eq(code))
                .order(admin_unit_successors::old_code)
                .select((
                    admin_unit_successors::old_code,
                    admin_unit_successors::is_default,
                    admin_units::name,
                ))
                .load(c)
        }
    })?;
    Ok(rows
        .into_iter()
        .map(|(code, is_default, name)| LinkedUnit {
            code,
            name,
            is_default,
        })
        .collect())
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SplitSchoolsQuery {
    /// Only schools in this old unit's subtree (a province or a district).
    pub admin_unit: Option<String>,
}

/// A school in an old commune that was split across several new ones.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SplitSchool {
    pub school_id: i64,
    pub moet_code: String,
    pub name: String,
    /// The old commune.
    pub admin_unit_code: String,
    pub successors: Vec<LinkedUnit>,
    /// The new commune an officer chose, if one did.
    pub decided: Option<SuccessorDecision>,
    /// Where the school lands: the decision, or the default.
    pub lands_in: String,
}

/// An officer's choice of new commune for a school in a split commune.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SuccessorDecision {
    pub new_code: String,
    pub decided_by: String,
    pub decided_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SplitSchoolList {
    pub items: Vec<SplitSchool>,
}

/// The schools in split communes (of `units`, every one when `None`), with
/// their successors and where each lands, by school id.
pub fn split_schools(
    conn: &mut DbConn,
    units: Option<&[String]>,
) -> Result<Vec<SplitSchool>, Failure> {
    let split_olds: Vec<String> = with_conn!(conn, |c| admin_unit_successors::table
        .group_by(admin_unit_successors::old_code)
        .having(diesel::dsl::count_star().gt(1))
        .select(admin_unit_successors::old_code)
        .load(c))?;
    let split_olds: Vec<String> = match units {
        Some(units) => {
            let units: HashSet<&String> = units.iter().collect();
            split_olds
                .into_iter()
                .filter(|u| units.contains(u))
                .collect()
        }
        None => split_olds,
    };
    let found: Vec<(i64, String, String, String)> = with_conn!(conn, |c| schools::table
        .filter(schools::admin_unit_code.eq_any(&split_olds))
        .order(schools::id)
        .select((
            schools::id,
            schools::moet_code,
            schools::name,
            schools::admin_unit_code
        ))
        .load(c))?;
    let ids: Vec<i64> = found.iter().map(|s| s.0).collect();
    let mut decisions: HashMap<i64, SuccessorDecision> =
        with_conn!(conn, |c| school_successor_overrides::table
            .filter(school_successor_overrides::school_id.eq_any(&ids))
            .select((
                school_successor_overrides::school_id,
                school_successor_overrides::new_code,
                school_successor_overrides::decided_by,
                school_successor_overrides::decided_at,
            ))
            .load::<(i64, String, String, chrono::NaiveDateTime)>(c))?
        .into_iter()
        .map(|(id, new_code, decided_by, at)| {
            (
                id,
                SuccessorDecision {
                    new_code,
                    decided_by,
                    decided_at: crate::platform::db::to_utc(at),
                },
            )
        })
        .collect();
    let mut successors_of: HashMap<String, Vec<LinkedUnit>> = HashMap::new();
    let mut out = Vec::new();
    for (school_id, moet_code, name, unit) in found {
        if !successors_of.contains_key(&unit) {
            let list = linked(conn, &unit, true)?;
            successors_of.insert(unit.clone(), list);
        }
        let successors = successors_of[&unit].clone();
        let decided = decisions.remove(&school_id);
        let lands_in = match &decided {
            Some(decision) => decision.new_code.clone(),
            None => successors
                .iter()
                .find(|s| s.is_default)
                .map(|s| s.code.clone())
                .unwrap_or_default(),
        };
        out.push(SplitSchool {
            school_id,
            moet_code,
            name,
            admin_unit_code: unit,
            successors,
            decided,
            lands_in,
        });
    }
    Ok(out)
}

/// Where school `school_id` lands when its old commune is `old_code`: the
/// successor an officer chose for it, else the default (`None`: the
/// commune has no successor on record).
pub fn lands_in(
    conn: &mut DbConn,
    school_id: i64,
    old_code: &str,
) -> Result<Option<String>, Failure> {
    let successors = linked(conn, old_code, true)?;
    let decided: Option<String> = with_conn!(conn, |c| school_successor_overrides::table
        .find(school_id)
        .select(school_successor_overrides::new_code)
        .first(c)
        .optional())?;
    Ok(decided
        .filter(|code| successors.iter().any(|s| &s.code == code))
        .or_else(|| {
            successors
                .into_iter()
                .find(|s| s.is_default)
                .map(|s| s.code)
        }))
}

/// Which new commune a school in a split commune lands in.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"new_code": "vn2025:04828"}))]
pub struct ChooseSuccessor {
    /// One of the school's commune's successors.
    #[validate(length(min = 1, max = 16, message = "must be an admin unit code"))]
    #[schema(min_length = 1, max_length = 16)]
    pub new_code: String,
}

/// Records an officer's choice for a school (the school must be in
/// `reach`; the new commune one of its commune's successors).
pub fn choose_successor(
    conn: &mut DbConn,
    actor: &str,
    reach: &crate::platform::auth::Reach,
    school_id: i64,
    choice: ChooseSuccessor,
) -> Result<SplitSchool, Failure> {
    conn.transaction(|conn| {
        // Read here rather than through the schools' queries, which read
        // the mapping (a school synced with an old code).
        let school: Option<(String, String, String)> = with_conn!(conn, |c| schools::table
            .find(school_id)
            .select((schools::moet_code, schools::name, schools::admin_unit_code))
            .first(c)
            .optional())?;
        let Some((moet_code, name, admin_unit_code)) = school
            .filter(|(_, _, unit)| reach.allows_place(school_id, unit))
        else {
            return Err(Failure::not_found("no school has this id"));
        };
        let successors = linked(conn, &admin_unit_code, true)?;
        if !successors.iter().any(|s| s.code == choice.new_code) {
            return Err(Failure::invalid_field(
                "new_code",
                "not_a_successor",
                "must be one of the new communes the school's commune became (GET /admin-units/{code}/successors)",
            ));
        }
        let now = crate::platform::db::now();
        with_conn!(conn, |c| diesel::delete(school_successor_overrides::table.find(school_id)).execute(c))?;
        with_conn!(conn, |c| diesel::insert_into(school_successor_overrides::table)
            .values((
                school_successor_overrides::school_id.eq(school_id),
                school_successor_overrides::new_code.eq(&choice.new_code),
                school_successor_overrides::decided_by.eq(actor),
                school_successor_overrides::decided_at.eq(now),
            ))
            .execute(c))?;
        crate::platform::audit::record(
            conn,
            actor,
            "choose_successor",
            "school",
            &school_id.to_string(),
            serde_json::json!({"from": admin_unit_code, "to": choice.new_code}),
        )?;
        Ok(SplitSchool {
            school_id,
            moet_code,
            name,
            admin_unit_code,
            successors,
            lands_in: choice.new_code.clone(),
            decided: Some(SuccessorDecision {
                new_code: choice.new_code,
                decided_by: actor.to_owned(),
                decided_at: crate::platform::db::to_utc(now),
            }),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_shipped_mapping() {
        let lines = parse(include_bytes!("../../../data/admin_units_2025_mapping.csv"))
            .expect("valid file");
        assert_eq!(lines.len(), 10597);
        let tan_hoa: Vec<&MappingLine> = lines.iter().filter(|l| l.old_code == "04891").collect();
        assert_eq!(tan_hoa.len(), 2, "04891 was split in two");
        assert_eq!(tan_hoa.iter().filter(|l| l.is_default).count(), 1);
    }

    #[test]
    fn names_each_bad_mapping_line() {
        let csv = "old_code,new_code,is_default\n04891,04828,false\n04891,04891,true\n04957,x,true\n04957,04960,yes\n05221,05200,true\n05221,05212,true\n05221,05212,false\n";
        let error = parse(csv.as_bytes()).unwrap_err();
        let found: Vec<(u64, &str, &str)> = error
            .errors()
            .iter()
            .map(|e| (e.line.unwrap(), e.field.as_str(), e.code.as_str()))
            .collect();
        assert_eq!(
            found,
            vec![
                (4, "new_code", "format"),
                (5, "is_default", "format"),
                (8, "new_code", "duplicate"),
                (6, "is_default", "one_default"),
            ]
        );
    }
}
