//! Readiness for online learning: students with an adequate device and a
//! usable connection, and the needs still open, for a subtree and broken
//! down by child unit, school, school level or grade. Everything is counted
//! from the rows in two grouped queries; nothing is pre-aggregated.

use std::collections::{BTreeMap, HashMap};

use diesel::dsl::{count_star, sql};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::db::schema::{admin_units, needs, schools, students};
use crate::db::{with_conn, DbConn};
use crate::error::ApiError;
use crate::needs::workflow::NeedStatus;
use crate::needs::NeedKind;
use crate::schools::SchoolLevel;

crate::db::text_enum! {
    pub enum GroupBy {
        AdminUnit => "admin_unit",
        School => "school",
        SchoolLevel => "school_level",
        Grade => "grade",
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CoverageQuery {
    /// The subtree (default: the caller's scope; the whole country for admins).
    pub admin_unit: Option<String>,
    /// Only schools of this level.
    pub level: Option<SchoolLevel>,
    /// How to break the subtree down (default `admin_unit`: its child units).
    pub group_by: Option<GroupBy>,
    /// `json` (default), `csv` or `xlsx`.
    pub format: Option<String>,
}

/// One line of the coverage table.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct CoverageRow {
    /// The admin unit code, school id, level or grade.
    pub key: String,
    pub name: String,
    /// Active students (not deleted).
    pub students: i64,
    /// With an adequate device.
    pub with_device: i64,
    /// With a usable connection (`mobile_ok` or `fixed`).
    pub with_connectivity: i64,
    /// Both: ready for online learning.
    pub ready: i64,
    /// ready / students, in percent (two decimals).
    pub percent_ready: f64,
    pub open_device_needs: i64,
    pub open_connectivity_needs: i64,
    pub open_data_package_needs: i64,
    pub needs_reported: i64,
    pub needs_verified: i64,
    pub needs_approved: i64,
    pub needs_allocated: i64,
    pub needs_fulfilled: i64,
}

impl CoverageRow {
    fn add_students(&mut self, counts: &StudentCounts) {
        self.students += counts.total;
        self.with_device += counts.device;
        self.with_connectivity += counts.connectivity;
        self.ready += counts.ready;
    }

    fn add_needs(&mut self, kind: NeedKind, status: NeedStatus, count: i64) {
        if status.is_open() {
            match kind {
                NeedKind::Device => self.open_device_needs += count,
                NeedKind::Connectivity => self.open_connectivity_needs += count,
                NeedKind::DataPackage => self.open_data_package_needs += count,
            }
        }
        match status {
            NeedStatus::Reported => self.needs_reported += count,
            NeedStatus::Verified => self.needs_verified += count,
            NeedStatus::Approved => self.needs_approved += count,
            NeedStatus::Allocated => self.needs_allocated += count,
            NeedStatus::Fulfilled => self.needs_fulfilled += count,
            NeedStatus::Rejected | NeedStatus::Cancelled => {}
        }
    }

    fn finish(mut self) -> Self {
        self.percent_ready = if self.students == 0 {
            0.0
        } else {
            (self.ready as f64 * 10_000.0 / self.students as f64).round() / 100.0
        };
        self
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Coverage {
    /// The subtree's root (absent: the whole country).
    pub admin_unit: Option<String>,
    pub group_by: GroupBy,
    pub total: CoverageRow,
    pub rows: Vec<CoverageRow>,
}

#[derive(Debug, Default, Clone, Copy)]
struct StudentCounts {
    total: i64,
    device: i64,
    connectivity: i64,
    ready: i64,
}

struct SchoolInfo {
    name: String,
    admin_unit: String,
    level: SchoolLevel,
}

/// Counts coverage for `root`'s subtree (`units`), broken down by `group_by`.
pub fn coverage(
    conn: &mut DbConn,
    root: Option<&str>,
    units: Option<&[String]>,
    level: Option<SchoolLevel>,
    group_by: GroupBy,
) -> Result<Coverage, ApiError> {
    // The schools in scope.
    let school_rows: Vec<(i64, String, String, SchoolLevel)> = with_conn!(conn, |c| {
        let mut query = schools::table
            .select((
                schools::id,
                schools::name,
                schools::admin_unit_code,
                schools::level,
            ))
            .into_boxed();
        if let Some(units) = units {
            query = query.filter(schools::admin_unit_code.eq_any(units));
        }
        if let Some(level) = level {
            query = query.filter(schools::level.eq(level));
        }
        query.load(c)
    })?;
    let school_info: HashMap<i64, SchoolInfo> = school_rows
        .into_iter()
        .map(|(id, name, admin_unit, level)| {
            (
                id,
                SchoolInfo {
                    name,
                    admin_unit,
                    level,
                },
            )
        })
        .collect();
    let school_ids: Vec<i64> = school_info.keys().copied().collect();

    // Students per school and grade.
    let mut student_counts: Vec<(i64, i32, StudentCounts)> = Vec::new();
    for chunk in school_ids.chunks(5_000) {
        let rows: Vec<(i64, i32, i64, i64, i64, i64)> = with_conn!(conn, |c| {
            students::table
            .filter(students::school_id.eq_any(chunk))
            .filter(students::active.eq(true))
            .filter(students::deleted.eq(false))
            .group_by((students::school_id, students::grade))
            .select((
                students::school_id,
                students::grade,
                count_star(),
                sql::<BigInt>("CAST(SUM(CASE WHEN device_status = 'adequate' THEN 1 ELSE 0 END) AS BIGINT)"),
                sql::<BigInt>("CAST(SUM(CASE WHEN connectivity_status IN ('mobile_ok', 'fixed') THEN 1 ELSE 0 END) AS BIGINT)"),
                sql::<BigInt>(
                    "CAST(SUM(CASE WHEN device_status = 'adequate' AND connectivity_status IN ('mobile_ok', 'fixed') THEN 1 ELSE 0 END) AS BIGINT)",
                ),
            ))
            .load(c)
        })?;
        student_counts.extend(rows.into_iter().map(
            |(school, grade, total, device, connectivity, ready)| {
                (
                    school,
                    grade,
                    StudentCounts {
                        total,
                        device,
                        connectivity,
                        ready,
                    },
                )
            },
        ));
    }

    // Needs per school, kind, status (and the student's grade).
    let mut need_counts: Vec<(i64, Option<i32>, NeedKind, NeedStatus, i64)> = Vec::new();
    for chunk in school_ids.chunks(5_000) {
        let rows: Vec<(i64, Option<i32>, NeedKind, NeedStatus, i64)> =
            with_conn!(conn, |c| needs::table
                .left_join(students::table)
                .filter(needs::school_id.eq_any(chunk))
                .group_by((
                    needs::school_id,
                    students::grade,
                    needs::kind,
                    needs::status
                ))
                .select((
                    needs::school_id,
                    students::grade.nullable(),
                    needs::kind,
                    needs::status,
                    count_star()
                ))
                .load(c))?;
        need_counts.extend(rows);
    }

    // Where each school's numbers go.
    // Only the subtree's units (the whole tree for the country).
    let unit_rows: Vec<(String, Option<String>, String)> = with_conn!(conn, |c| {
        let mut query = admin_units::table
            .select((
                admin_units::code,
                admin_units::parent_code,
                admin_units::name,
            ))
            .into_boxed();
        if let Some(units) = units {
            query = query.filter(admin_units::code.eq_any(units));
        }
        query.load(c)
    })?;
    let mut parents: HashMap<String, Option<String>> = HashMap::with_capacity(unit_rows.len());
    let mut names: HashMap<String, String> = HashMap::with_capacity(unit_rows.len());
    for (code, parent, name) in unit_rows {
        parents.insert(code.clone(), parent);
        names.insert(code, name);
    }
    // The child of `root` (or the province) on the way up from `unit`.
    let child_of_root = |unit: &str| -> String {
        let mut current = unit.to_owned();
        loop {
            let parent = parents.get(&current).cloned().flatten();
            match (&parent, root) {
                (Some(p), Some(r)) if p == r => return current,
                (None, _) => return current,
                (Some(p), _) => current = p.clone(),
            }
        }
    };
    let key_of = |school: i64, grade: Option<i32>| -> (String, String) {
        let info = &school_info[&school];
        match group_by {
            GroupBy::AdminUnit => {
                let unit = if root == Some(info.admin_unit.as_str()) {
                    info.admin_unit.clone()
                } else {
                    child_of_root(&info.admin_unit)
                };
                let name = names.get(&unit).cloned().unwrap_or_default();
                (unit, name)
            }
            GroupBy::School => (school.to_string(), info.name.clone()),
            GroupBy::SchoolLevel => (info.level.to_string(), info.level.to_string()),
            GroupBy::Grade => match grade {
                Some(g) => (format!("{g:02}"), format!("grade {g}")),
                None => ("school".to_owned(), "school needs".to_owned()),
            },
        }
    };

    let mut total = CoverageRow {
        key: root.unwrap_or("*").to_owned(),
        name: root
            .and_then(|r| names.get(r).cloned())
            .unwrap_or_else(|| "Việt Nam".to_owned()),
        ..Default::default()
    };
    let mut rows: BTreeMap<String, CoverageRow> = BTreeMap::new();
    for (school, grade, counts) in &student_counts {
        total.add_students(counts);
        let (key, name) = key_of(*school, Some(*grade));
        rows.entry(key.clone())
            .or_insert_with(|| CoverageRow {
                key,
                name,
                ..Default::default()
            })
            .add_students(counts);
    }
    for (school, grade, kind, status, count) in &need_counts {
        total.add_needs(*kind, *status, *count);
        let (key, name) = key_of(*school, *grade);
        rows.entry(key.clone())
            .or_insert_with(|| CoverageRow {
                key,
                name,
                ..Default::default()
            })
            .add_needs(*kind, *status, *count);
    }
    Ok(Coverage {
        admin_unit: root.map(str::to_owned),
        group_by,
        total: total.finish(),
        rows: rows.into_values().map(CoverageRow::finish).collect(),
    })
}
