//! Re-homing one old province: a plan (every record of its subtree that
//! moves, to where, and every record that needs a person's decision), then
//! — unless it is a dry run — the moves, in the same transaction.

use std::collections::{BTreeMap, HashMap, HashSet};

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use validator::Validate;

use crate::needs::coverage::GapStatus;
use crate::needs::workflow::NeedStatus;
use crate::platform::db::schema::{
    admin_unit_flags, admin_unit_successors, admin_units, coverage_gaps, inventory_items,
    inventory_packages, needs, pledges, school_successor_overrides, schools, users, warehouses,
};
use crate::platform::db::{with_conn, DbConn};
use crate::platform::error::{Failure, OrUnknown};
use crate::registry::admin_units::{Level, Scheme};

/// Ids per `IN (…)` list: far below SQLite's parameter limit.
const CHUNK: usize = 5_000;

/// Which old province to re-home, and whether to write.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"province": "17", "dry_run": true}))]
pub struct RehomeRequest {
    /// An old (`vn2008`) province code.
    #[validate(length(min = 1, max = 16, message = "must be an admin unit code"))]
    #[schema(min_length = 1, max_length = 16)]
    pub province: String,
    /// `true` (default): report what would move, write nothing.
    #[serde(default = "default_dry_run")]
    pub dry_run: bool,
}

fn default_dry_run() -> bool {
    true
}

/// How many records of each kind moved (or would move).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MovedCounts {
    pub schools: i64,
    /// Open needs of the schools that moved (reported to allocated).
    pub open_needs: i64,
    pub warehouses: i64,
    /// Coverage gaps not yet covered.
    pub coverage_gaps: i64,
    pub flags: i64,
    /// Accounts scoped to a unit (district officers scoped to a commune or the province).
    pub officers: i64,
}

/// History that keeps the unit it happened in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct KeptCounts {
    /// Fulfilled, rejected and cancelled needs.
    pub closed_needs: i64,
    /// Covered and confirmed gaps.
    pub closed_coverage_gaps: i64,
    /// Pledges, devices and packages earmarked for an old unit: the donor's
    /// wish as given, in the old tree.
    pub earmarks: i64,
}

/// A record left where it is until a person decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Ambiguity {
    /// `abolished_district` (the record sits on a district, which the new
    /// tree does not have), `no_successor` (the commune has no successor on
    /// record), `flags_meet` (another flag already holds the new commune),
    /// `province_split` (the province's communes went to several new
    /// provinces).
    pub kind: String,
    /// `school`, `warehouse`, `coverage_gap`, `flag`, `user` or `province`.
    pub entity: String,
    pub id: String,
    pub admin_unit_code: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RehomeReport {
    pub province: String,
    /// The new province its communes became (`null` when they went to several).
    pub new_province: Option<String>,
    pub dry_run: bool,
    pub moved: MovedCounts,
    pub kept: KeptCounts,
    /// Oldest record first within each entity.
    pub ambiguities: Vec<Ambiguity>,
}

/// One record to move.
struct Move {
    entity: &'static str,
    id: String,
    from: String,
    to: String,
}

/// Where the units of an old province go.
struct Targets {
    levels: HashMap<String, Level>,
    default_successor: HashMap<String, String>,
    province: String,
    new_province: Option<String>,
}

impl Targets {
    /// The new unit of old unit `code`; `Err(kind)` when a person must decide.
    fn of(&self, code: &str) -> Result<String, &'static str> {
        match self.levels.get(code) {
            Some(Level::District) => Err("abolished_district"),
            Some(Level::Province) if code == self.province => {
                self.new_province.clone().ok_or("province_split")
            }
            _ => self
                .default_successor
                .get(code)
                .cloned()
                .ok_or("no_successor"),
        }
    }
}

pub fn rehome(
    conn: &mut DbConn,
    actor: &str,
    request: RehomeRequest,
) -> Result<RehomeReport, Failure> {
    conn.transaction(|conn| {
        let province = crate::registry::admin_units::queries::find(conn, &request.province)?
            .filter(|unit| {
                unit.level == Level::Province && Scheme::of(&unit.code) == Scheme::Vn2008
            })
            .ok_or_else(|| Failure::not_found("no old province"))
            .or_unknown("province")?;
        let targets = targets(conn, &province.code)?;
        let units: Vec<String> = targets.levels.keys().cloned().collect();
        let mut report = RehomeReport {
            province: province.code.clone(),
            new_province: targets.new_province.clone(),
            dry_run: request.dry_run,
            moved: MovedCounts::default(),
            kept: KeptCounts::default(),
            ambiguities: Vec::new(),
        };
        if targets.new_province.is_none() {
            report.ambiguities.push(Ambiguity {
                kind: "province_split".into(),
                entity: "province".into(),
                id: province.code.clone(),
                admin_unit_code: province.code.clone(),
            });
        }
        let mut moves: Vec<Move> = Vec::new();
        let ambiguous = |report: &mut RehomeReport, kind: &str, entity: &str, id: String, unit: &str| {
            report.ambiguities.push(Ambiguity {
                kind: kind.into(),
                entity: entity.into(),
                id,
                admin_unit_code: unit.to_owned(),
            })
        };

        // Schools: an officer's choice, or the default successor.
        let found: Vec<(i64, String)> = load_in(conn, &units, |conn, chunk| {
            Ok(with_conn!(conn, |c| schools::table
                .filter(schools::admin_unit_code.eq_any(chunk))
                .select((schools::id, schools::admin_unit_code))
                .load(c))?)
        })?;
        let ids: Vec<i64> = found.iter().map(|s| s.0).collect();
        let chosen: HashMap<i64, String> = load_in(conn, &ids, |conn, chunk| {
            Ok(with_conn!(conn, |c| school_successor_overrides::table
                .filter(school_successor_overrides::school_id.eq_any(chunk))
                .select((
                    school_successor_overrides::school_id,
                    school_successor_overrides::new_code,
                ))
                .load(c))?)
        })?
        .into_iter()
        .collect();
        let mut school_targets: HashMap<i64, String> = HashMap::new();
        for (id, unit) in found {
            match chosen.get(&id).cloned().map(Ok).unwrap_or_else(|| targets.of(&unit)) {
                Ok(to) => {
                    school_targets.insert(id, to.clone());
                    moves.push(Move { entity: "school", id: id.to_string(), from: unit, to });
                }
                Err(kind) => ambiguous(&mut report, kind, "school", id.to_string(), &unit),
            }
        }
        report.moved.schools = school_targets.len() as i64;

        // Needs: open ones follow their school; closed ones stay.
        let school_ids: Vec<i64> = school_targets.keys().copied().collect();
        let found: Vec<(i64, i64, String, NeedStatus)> = load_in(conn, &school_ids, |conn, chunk| {
            Ok(with_conn!(conn, |c| needs::table
                .filter(needs::school_id.eq_any(chunk))
                .select((needs::id, needs::school_id, needs::admin_unit_code, needs::status))
                .load(c))?)
        })?;
        for (id, school, unit, status) in found {
            if !status.is_open() {
                report.kept.closed_needs += 1;
            } else if units.contains(&unit) {
                report.moved.open_needs += 1;
                moves.push(Move { entity: "need", id: id.to_string(), from: unit, to: school_targets[&school].clone() });
            }
        }

        // Warehouses and coverage gaps where they are.
        let found: Vec<(i64, String)> = load_in(conn, &units, |conn, chunk| {
            Ok(with_conn!(conn, |c| warehouses::table
                .filter(warehouses::admin_unit_code.eq_any(chunk))
                .order(warehouses::id)
                .select((warehouses::id, warehouses::admin_unit_code))
                .load(c))?)
        })?;
        for (id, unit) in found {
            match targets.of(&unit) {
                Ok(to) => {
                    report.moved.warehouses += 1;
                    moves.push(Move { entity: "warehouse", id: id.to_string(), from: unit, to });
                }
                Err(kind) => ambiguous(&mut report, kind, "warehouse", id.to_string(), &unit),
            }
        }
        let found: Vec<(i64, String, GapStatus)> = load_in(conn, &units, |conn, chunk| {
            Ok(with_conn!(conn, |c| coverage_gaps::table
                .filter(coverage_gaps::admin_unit_code.eq_any(chunk))
                .order(coverage_gaps::id)
                .select((coverage_gaps::id, coverage_gaps::admin_unit_code, coverage_gaps::status))
                .load(c))?)
        })?;
        for (id, unit, status) in found {
            if matches!(status, GapStatus::Covered | GapStatus::Confirmed) {
                report.kept.closed_coverage_gaps += 1;
                continue;
            }
            match targets.of(&unit) {
                Ok(to) => {
                    report.moved.coverage_gaps += 1;
                    moves.push(Move { entity: "coverage_gap", id: id.to_string(), from: unit, to });
                }
                Err(kind) => ambiguous(&mut report, kind, "coverage_gap", id.to_string(), &unit),
            }
        }

        // Flags: one per unit, so two meeting in one new commune wait.
        let found: Vec<String> = load_in(conn, &units, |conn, chunk| {
            Ok(with_conn!(conn, |c| admin_unit_flags::table
                .filter(admin_unit_flags::admin_unit_code.eq_any(chunk))
                .order(admin_unit_flags::admin_unit_code)
                .select(admin_unit_flags::admin_unit_code)
                .load(c))?)
        })?;
        let mut held: HashSet<String> = with_conn!(conn, |c| admin_unit_flags::table
            .filter(admin_unit_flags::admin_unit_code.like(format!("{}%", crate::registry::admin_units::scheme::VN2025_PREFIX)))
            .select(admin_unit_flags::admin_unit_code)
            .load::<String>(c))?
        .into_iter()
        .collect();
        for unit in found {
            match targets.of(&unit) {
                Ok(to) if held.insert(to.clone()) => {
                    report.moved.flags += 1;
                    moves.push(Move { entity: "flag", id: unit.clone(), from: unit, to });
                }
                Ok(_) => ambiguous(&mut report, "flags_meet", "flag", unit.clone(), &unit),
                Err(kind) => ambiguous(&mut report, kind, "flag", unit.clone(), &unit),
            }
        }

        // Officers: never widened; an abolished district's are listed.
        let found: Vec<(i64, String)> = load_in(conn, &units, |conn, chunk| {
            Ok(with_conn!(conn, |c| users::table
                .filter(users::admin_unit_code.eq_any(chunk))
                .order(users::id)
                .select((users::id, users::admin_unit_code.assume_not_null()))
                .load(c))?)
        })?;
        for (id, unit) in found {
            match targets.of(&unit) {
                Ok(to) => {
                    report.moved.officers += 1;
                    moves.push(Move { entity: "user", id: id.to_string(), from: unit, to });
                }
                Err(kind) => ambiguous(&mut report, kind, "user", id.to_string(), &unit),
            }
        }

        report.kept.earmarks = count_earmarks(conn, &units)?;
        if !request.dry_run {
            apply(conn, actor, &moves)?;
            crate::platform::audit::record(
                conn,
                actor,
                "rehome",
                "admin_unit",
                &province.code,
                json!({"new_province": report.new_province, "moved": report.moved, "ambiguities": report.ambiguities.len()}),
            )?;
        }
        Ok(report)
    })
}

/// The old province's units with their levels, and where each goes.
fn targets(conn: &mut DbConn, province: &str) -> Result<Targets, Failure> {
    let codes = crate::registry::admin_units::queries::subtree_codes(conn, province)?;
    let levels: HashMap<String, Level> = load_in(conn, &codes, |conn, chunk| {
        Ok(with_conn!(conn, |c| admin_units::table
            .filter(admin_units::code.eq_any(chunk))
            .select((admin_units::code, admin_units::level))
            .load(c))?)
    })?
    .into_iter()
    .collect();
    let default_successor: HashMap<String, String> = load_in(conn, &codes, |conn, chunk| {
        Ok(with_conn!(conn, |c| admin_unit_successors::table
            .filter(admin_unit_successors::old_code.eq_any(chunk))
            .filter(admin_unit_successors::is_default.eq(true))
            .select((
                admin_unit_successors::old_code,
                admin_unit_successors::new_code
            ))
            .load(c))?)
    })?
    .into_iter()
    .collect();
    let new_codes: Vec<String> = default_successor
        .values()
        .cloned()
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let parents: HashSet<String> = load_in(conn, &new_codes, |conn, chunk| {
        Ok(with_conn!(conn, |c| admin_units::table
            .filter(admin_units::code.eq_any(chunk))
            .select(admin_units::parent_code.assume_not_null())
            .load::<String>(c))?)
    })?
    .into_iter()
    .collect();
    let new_province = (parents.len() == 1)
        .then(|| parents.into_iter().next())
        .flatten();
    Ok(Targets {
        levels,
        default_successor,
        province: province.to_owned(),
        new_province,
    })
}

/// Earmarks on the province's old units (pledges, devices, packages).
fn count_earmarks(conn: &mut DbConn, units: &[String]) -> Result<i64, Failure> {
    let mut total = 0;
    for chunk in units.chunks(CHUNK) {
        total += with_conn!(conn, |c| pledges::table
            .filter(pledges::earmark_admin_unit.eq_any(chunk))
            .count()
            .get_result::<i64>(c))?;
        total += with_conn!(conn, |c| inventory_items::table
            .filter(inventory_items::earmark_admin_unit.eq_any(chunk))
            .count()
            .get_result::<i64>(c))?;
        total += with_conn!(conn, |c| inventory_packages::table
            .filter(inventory_packages::earmark_admin_unit.eq_any(chunk))
            .count()
            .get_result::<i64>(c))?;
    }
    Ok(total)
}

/// Writes the moves, grouped by target, and one audit event per record.
fn apply(conn: &mut DbConn, actor: &str, moves: &[Move]) -> Result<(), Failure> {
    let mut groups: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
    for one in moves {
        groups
            .entry((one.entity, &one.to))
            .or_default()
            .push(&one.id);
    }
    for ((entity, to), ids) in groups {
        for chunk in ids.chunks(CHUNK) {
            let numbers =
                || -> Vec<i64> { chunk.iter().filter_map(|id| id.parse().ok()).collect() };
            match entity {
                // Where it stood first: the old-tree view and old earmarks read it.
                "school" => with_conn!(conn, |c| {
                    diesel::update(
                        schools::table
                            .filter(schools::id.eq_any(numbers()))
                            .filter(schools::pre_reform_unit_code.is_null()),
                    )
                    .set(schools::pre_reform_unit_code.eq(schools::admin_unit_code.nullable()))
                    .execute(c)?;
                    diesel::update(schools::table.filter(schools::id.eq_any(numbers())))
                        .set((
                            schools::admin_unit_code.eq(to),
                            schools::version.eq(schools::version + 1),
                            schools::updated_at.eq(crate::platform::db::now()),
                        ))
                        .execute(c)
                })?,
                "need" => with_conn!(conn, |c| diesel::update(
                    needs::table.filter(needs::id.eq_any(numbers()))
                )
                .set(needs::admin_unit_code.eq(to))
                .execute(c))?,
                "warehouse" => with_conn!(conn, |c| diesel::update(
                    warehouses::table.filter(warehouses::id.eq_any(numbers()))
                )
                .set((
                    warehouses::admin_unit_code.eq(to),
                    warehouses::version.eq(warehouses::version + 1)
                ))
                .execute(c))?,
                "coverage_gap" => with_conn!(conn, |c| diesel::update(
                    coverage_gaps::table.filter(coverage_gaps::id.eq_any(numbers()))
                )
                .set(coverage_gaps::admin_unit_code.eq(to))
                .execute(c))?,
                "flag" => with_conn!(conn, |c| diesel::update(
                    admin_unit_flags::table.filter(admin_unit_flags::admin_unit_code.eq_any(chunk))
                )
                .set(admin_unit_flags::admin_unit_code.eq(to))
                .execute(c))?,
                "user" => with_conn!(conn, |c| diesel::update(
                    users::table.filter(users::id.eq_any(numbers()))
                )
                .set((
                    users::admin_unit_code.eq(to),
                    users::updated_at.eq(crate::platform::db::now())
                ))
                .execute(c))?,
                other => return Err(Failure::internal(format!("no mover for {other}"))),
            };
        }
    }
    let events: Vec<(&str, &str, serde_json::Value)> = moves
        .iter()
        .map(|one| {
            (
                one.entity,
                one.id.as_str(),
                json!({"from": one.from, "to": one.to}),
            )
        })
        .collect();
    crate::platform::audit::record_each(conn, actor, "rehome", &events)
}

/// Loads rows for `keys` in chunks (one `IN (…)` list per chunk).
fn load_in<K, T>(
    conn: &mut DbConn,
    keys: &[K],
    mut query: impl FnMut(&mut DbConn, &[K]) -> Result<Vec<T>, Failure>,
) -> Result<Vec<T>, Failure> {
    let mut out = Vec::new();
    for chunk in keys.chunks(CHUNK) {
        out.extend(query(conn, chunk)?);
    }
    Ok(out)
}
