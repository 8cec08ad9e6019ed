//! Priority of a need: the sum of the points of every rule that applies,
//! with the rules that applied as its reasons. The points live in the
//! `priority_rules` table (README, "Priority"), so the Department can weigh
//! them without a new release; changing them re-scores open needs.

use crate::platform::error::Failure;
use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::model::{NeedKind, Reason};
use crate::platform::db::schema::{admin_unit_flags, priority_rules};
use crate::platform::db::{with_conn, DbConn};
use crate::registry::students::{ConnectivityStatus, DeviceStatus, HouseholdStatus, StudentRow};

/// A rule of the priority rule set.
#[derive(Debug, Clone, Serialize, Queryable, Selectable, ToSchema)]
#[diesel(table_name = priority_rules)]
pub struct PriorityRule {
    #[schema(example = "household_poor")]
    pub rule: String,
    #[schema(example = 30)]
    pub points: i32,
    pub description: String,
}

/// What the score is computed from.
pub struct Facts<'a> {
    /// Device rules count for device needs, connection rules for
    /// connectivity and data-package needs; the others for every need.
    pub kind: NeedKind,
    /// The school lies in a unit flagged as a lockdown area today.
    pub lockdown: bool,
    /// The student, for student needs.
    pub student: Option<&'a StudentRow>,
}

/// The rule set and the lockdown flags in force, loaded once per operation.
pub struct Scorer {
    points: HashMap<String, i32>,
    flagged: HashSet<String>,
    /// Admin unit → lies in a flagged subtree (memo of ancestry walks).
    lockdown_memo: HashMap<String, bool>,
}

impl Scorer {
    pub fn load(conn: &mut DbConn, today: NaiveDate) -> Result<Self, Failure> {
        let rules: Vec<PriorityRule> = with_conn!(conn, |c| priority_rules::table
            .select(PriorityRule::as_select())
            .load(c))?;
        let flagged: Vec<String> = with_conn!(conn, |c| admin_unit_flags::table
            .filter(admin_unit_flags::lockdown.eq(true))
            .filter(
                admin_unit_flags::lockdown_from
                    .is_null()
                    .or(admin_unit_flags::lockdown_from.le(today))
            )
            .filter(
                admin_unit_flags::lockdown_until
                    .is_null()
                    .or(admin_unit_flags::lockdown_until.ge(today))
            )
            .select(admin_unit_flags::admin_unit_code)
            .load(c))?;
        Ok(Self {
            points: rules.into_iter().map(|r| (r.rule, r.points)).collect(),
            flagged: flagged.into_iter().collect(),
            lockdown_memo: HashMap::new(),
        })
    }

    /// Whether `admin_unit` or a unit above it is flagged today.
    pub fn in_lockdown(&mut self, conn: &mut DbConn, admin_unit: &str) -> Result<bool, Failure> {
        if self.flagged.is_empty() {
            return Ok(false);
        }
        if let Some(known) = self.lockdown_memo.get(admin_unit) {
            return Ok(*known);
        }
        let chain = crate::registry::admin_units::queries::ancestry(conn, admin_unit)?;
        let flagged = chain.iter().any(|unit| self.flagged.contains(&unit.code));
        self.lockdown_memo.insert(admin_unit.to_owned(), flagged);
        Ok(flagged)
    }

    /// The score and its reasons, highest points first.
    pub fn score(&self, facts: &Facts) -> (i32, Vec<Reason>) {
        let mut applies: Vec<&str> = Vec::new();
        if facts.lockdown {
            applies.push("lockdown_area");
        }
        if let Some(student) = facts.student {
            match student.household_status {
                HouseholdStatus::Poor => applies.push("household_poor"),
                HouseholdStatus::NearPoor => applies.push("household_near_poor"),
                HouseholdStatus::Other => {}
            }
            if facts.kind == NeedKind::Device {
                match student.device_status {
                    DeviceStatus::NoDevice => applies.push("no_device"),
                    DeviceStatus::Shared => applies.push("shared_device"),
                    DeviceStatus::Inadequate => applies.push("inadequate_device"),
                    DeviceStatus::Adequate => {}
                }
            } else {
                match student.connectivity_status {
                    ConnectivityStatus::NoConnection => applies.push("no_connection"),
                    ConnectivityStatus::MobileWeak => applies.push("weak_connection"),
                    _ => {}
                }
            }
            if matches!(student.grade, 9 | 12) {
                applies.push("exam_grade");
            }
        }
        let mut reasons: Vec<Reason> = applies
            .into_iter()
            .filter_map(|rule| {
                self.points
                    .get(rule)
                    .filter(|p| **p != 0)
                    .map(|points| Reason {
                        rule: rule.to_owned(),
                        points: *points,
                    })
            })
            .collect();
        reasons.sort_by(|a, b| b.points.cmp(&a.points).then(a.rule.cmp(&b.rule)));
        (reasons.iter().map(|r| r.points).sum(), reasons)
    }
}

/// A lockdown flag on an admin unit.
#[derive(Debug, Clone, Serialize, Deserialize, Queryable, Selectable, ToSchema)]
#[diesel(table_name = admin_unit_flags)]
pub struct AdminUnitFlag {
    pub admin_unit_code: String,
    /// An epidemic / lockdown area: its needs come first while the dates hold.
    pub lockdown: bool,
    /// First day (inclusive); open when absent.
    pub lockdown_from: Option<NaiveDate>,
    /// Last day (inclusive); open when absent.
    pub lockdown_until: Option<NaiveDate>,
    pub note: Option<String>,
    #[serde(skip)]
    #[schema(ignore)]
    pub updated_at: chrono::NaiveDateTime,
}

/// The flag to set on an admin unit.
#[derive(Debug, Deserialize, validator::Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"lockdown": true, "lockdown_from": "2021-07-19", "lockdown_until": "2021-09-30", "note": "Directive 16"}))]
pub struct SetFlag {
    pub lockdown: bool,
    pub lockdown_from: Option<NaiveDate>,
    pub lockdown_until: Option<NaiveDate>,
    #[validate(length(max = 500, message = "must be at most 500 characters"))]
    #[schema(max_length = 500)]
    pub note: Option<String>,
}

pub fn flag_of(conn: &mut DbConn, code: &str) -> Result<AdminUnitFlag, Failure> {
    let row: Option<AdminUnitFlag> = with_conn!(conn, |c| admin_unit_flags::table
        .find(code)
        .select(AdminUnitFlag::as_select())
        .first(c)
        .optional())?;
    Ok(row.unwrap_or(AdminUnitFlag {
        admin_unit_code: code.to_owned(),
        lockdown: false,
        lockdown_from: None,
        lockdown_until: None,
        note: None,
        updated_at: crate::platform::db::now(),
    }))
}

/// Stores the flag (insert or replace).
pub fn set_flag(
    conn: &mut DbConn,
    actor: &str,
    code: &str,
    flag: &SetFlag,
) -> Result<AdminUnitFlag, Failure> {
    use diesel::upsert::excluded;
    if let (Some(from), Some(until)) = (flag.lockdown_from, flag.lockdown_until) {
        if until < from {
            return Err(Failure::invalid_field(
                "lockdown_until",
                "before_start",
                "must not be before lockdown_from",
            ));
        }
    }
    let now = crate::platform::db::now();
    let row: AdminUnitFlag = with_conn!(conn, |c| diesel::insert_into(admin_unit_flags::table)
        .values((
            admin_unit_flags::admin_unit_code.eq(code),
            admin_unit_flags::lockdown.eq(flag.lockdown),
            admin_unit_flags::lockdown_from.eq(flag.lockdown_from),
            admin_unit_flags::lockdown_until.eq(flag.lockdown_until),
            admin_unit_flags::note.eq(&flag.note),
            admin_unit_flags::updated_at.eq(now),
        ))
        .on_conflict(admin_unit_flags::admin_unit_code)
        .do_update()
        .set((
            admin_unit_flags::lockdown.eq(excluded(admin_unit_flags::lockdown)),
            admin_unit_flags::lockdown_from.eq(excluded(admin_unit_flags::lockdown_from)),
            admin_unit_flags::lockdown_until.eq(excluded(admin_unit_flags::lockdown_until)),
            admin_unit_flags::note.eq(excluded(admin_unit_flags::note)),
            admin_unit_flags::updated_at.eq(excluded(admin_unit_flags::updated_at)),
        ))
        .returning(AdminUnitFlag::as_returning())
        .get_result(c))?;
    crate::platform::audit::record(
        conn,
        actor,
        "set_flag",
        "admin_unit",
        code,
        serde_json::json!({"lockdown": flag.lockdown, "from": flag.lockdown_from, "until": flag.lockdown_until}),
    )?;
    Ok(row)
}

pub fn rules(conn: &mut DbConn) -> Result<Vec<PriorityRule>, Failure> {
    let rules = with_conn!(conn, |c| priority_rules::table
        .order(priority_rules::rule)
        .select(PriorityRule::as_select())
        .load(c))?;
    Ok(rules)
}

pub fn set_points(
    conn: &mut DbConn,
    actor: &str,
    rule: &str,
    points: i32,
) -> Result<PriorityRule, Failure> {
    let row: Option<PriorityRule> =
        with_conn!(conn, |c| diesel::update(priority_rules::table.find(rule))
            .set(priority_rules::points.eq(points))
            .returning(PriorityRule::as_returning())
            .get_result(c)
            .optional())?;
    let row =
        row.ok_or_else(|| Failure::not_found(String::from("no priority rule has this name")))?;
    crate::platform::audit::record(
        conn,
        actor,
        "update",
        "priority_rule",
        rule,
        serde_json::json!({"points": points}),
    )?;
    Ok(row)
}
