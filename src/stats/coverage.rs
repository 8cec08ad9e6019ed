//! Readiness for online learning: students with an adequate device and a
//! usable connection, and the needs still open, for a subtree and broken
//! down by child unit, school, school level or grade. Read from
//! `coverage_counts`, which triggers keep equal to the rows' counts.

use std::collections::{BTreeMap, HashMap};

use diesel::dsl::sql;
use diesel::expression::SqlLiteral;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::db::schema::{admin_units, coverage_counts, schools};
use crate::db::{with_conn, DbConn};
use crate::error::ApiError;
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
    fn add(&mut self, sums: &Sums) {
        let (
            students,
            with_device,
            with_connectivity,
            ready,
            open_device,
            open_connectivity,
            open_data_package,
            reported,
            verified,
            approved,
            allocated,
            fulfilled,
        ) = *sums;
        self.students += students;
        self.with_device += with_device;
        self.with_connectivity += with_connectivity;
        self.ready += ready;
        self.open_device_needs += open_device;
        self.open_connectivity_needs += open_connectivity;
        self.open_data_package_needs += open_data_package;
        self.needs_reported += reported;
        self.needs_verified += verified;
        self.needs_approved += approved;
        self.needs_allocated += allocated;
        self.needs_fulfilled += fulfilled;
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

/// The twelve counted columns of `coverage_counts`, summed over a group, in
/// the order of `CoverageRow`'s numbers.
type Sums = (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64);

/// Sums the count rows of the schools in scope, grouped by `$key`. The
/// counts are kept by triggers in the same transaction as every student and
/// need write (migration 000007), so they equal a count of the rows.
macro_rules! summed_by {
    ($conn:expr, $key:expr, $units:expr, $level:expr) => {
        with_conn!($conn, |c| {
            let mut query = coverage_counts::table
                .inner_join(schools::table)
                .group_by($key)
                .select((
                    $key,
                    (
                        sum("students"),
                        sum("with_device"),
                        sum("with_connectivity"),
                        sum("ready"),
                        sum("open_device_needs"),
                        sum("open_connectivity_needs"),
                        sum("open_data_package_needs"),
                        sum("needs_reported"),
                        sum("needs_verified"),
                        sum("needs_approved"),
                        sum("needs_allocated"),
                        sum("needs_fulfilled"),
                    ),
                ))
                .into_boxed();
            if let Some(units) = $units {
                query = query.filter(schools::admin_unit_code.eq_any(units));
            }
            if let Some(level) = $level {
                query = query.filter(schools::level.eq(level));
            }
            query.load(c)
        })
    };
}

fn sum(column: &'static str) -> SqlLiteral<BigInt> {
    // Both backends sum BIGINT into a wider type (NUMERIC on PostgreSQL).
    sql::<BigInt>(match column {
        "students" => "CAST(SUM(coverage_counts.students) AS BIGINT)",
        "with_device" => "CAST(SUM(coverage_counts.with_device) AS BIGINT)",
        "with_connectivity" => "CAST(SUM(coverage_counts.with_connectivity) AS BIGINT)",
        "ready" => "CAST(SUM(coverage_counts.ready) AS BIGINT)",
        "open_device_needs" => "CAST(SUM(coverage_counts.open_device_needs) AS BIGINT)",
        "open_connectivity_needs" => "CAST(SUM(coverage_counts.open_connectivity_needs) AS BIGINT)",
        "open_data_package_needs" => "CAST(SUM(coverage_counts.open_data_package_needs) AS BIGINT)",
        "needs_reported" => "CAST(SUM(coverage_counts.needs_reported) AS BIGINT)",
        "needs_verified" => "CAST(SUM(coverage_counts.needs_verified) AS BIGINT)",
        "needs_approved" => "CAST(SUM(coverage_counts.needs_approved) AS BIGINT)",
        "needs_allocated" => "CAST(SUM(coverage_counts.needs_allocated) AS BIGINT)",
        "needs_fulfilled" => "CAST(SUM(coverage_counts.needs_fulfilled) AS BIGINT)",
        _ => unreachable!("not a coverage_counts column: {column}"),
    })
}

/// Counts coverage for `root`'s subtree (`units`), broken down by `group_by`.
pub fn coverage(
    conn: &mut DbConn,
    root: Option<&str>,
    units: Option<&[String]>,
    level: Option<SchoolLevel>,
    group_by: GroupBy,
) -> Result<Coverage, ApiError> {
    // (key, name, sums) per group, before groups are merged into rows.
    let groups: Vec<(String, String, Sums)> = match group_by {
        GroupBy::AdminUnit => {
            let by_unit: Vec<(String, Sums)> =
                summed_by!(conn, schools::admin_unit_code, units, level)?;
            let names = UnitNames::load(conn, units)?;
            by_unit
                .into_iter()
                .map(|(unit, sums)| {
                    // A school directly at the root is counted under the root.
                    let part = if root == Some(unit.as_str()) {
                        unit
                    } else {
                        names.child_of(root, &unit)
                    };
                    (part.clone(), names.name(&part), sums)
                })
                .collect()
        }
        GroupBy::School => {
            let by_school: Vec<((i64, String), Sums)> =
                summed_by!(conn, (schools::id, schools::name), units, level)?;
            by_school
                .into_iter()
                .map(|((id, name), sums)| (id.to_string(), name, sums))
                .collect()
        }
        GroupBy::SchoolLevel => {
            let by_level: Vec<(SchoolLevel, Sums)> =
                summed_by!(conn, schools::level, units, level)?;
            by_level
                .into_iter()
                .map(|(level, sums)| (level.to_string(), level.to_string(), sums))
                .collect()
        }
        GroupBy::Grade => {
            let by_grade: Vec<(i32, Sums)> =
                summed_by!(conn, coverage_counts::grade, units, level)?;
            by_grade
                .into_iter()
                .map(|(grade, sums)| match grade {
                    0 => ("school".to_owned(), "school needs".to_owned(), sums),
                    g => (format!("{g:02}"), format!("grade {g}"), sums),
                })
                .collect()
        }
    };

    let root_name = match root {
        Some(code) => with_conn!(conn, |c| admin_units::table
            .find(code)
            .select(admin_units::name)
            .first::<String>(c)
            .optional())?
        .unwrap_or_default(),
        None => "Việt Nam".to_owned(),
    };
    let mut total = CoverageRow {
        key: root.unwrap_or("*").to_owned(),
        name: root_name,
        ..Default::default()
    };
    let mut rows: BTreeMap<String, CoverageRow> = BTreeMap::new();
    for (key, name, sums) in groups {
        // Count rows left at zero by later changes are not a part.
        if sums == Sums::default() {
            continue;
        }
        total.add(&sums);
        rows.entry(key.clone())
            .or_insert_with(|| CoverageRow {
                key,
                name,
                ..Default::default()
            })
            .add(&sums);
    }
    Ok(Coverage {
        admin_unit: root.map(str::to_owned),
        group_by,
        total: total.finish(),
        rows: rows.into_values().map(CoverageRow::finish).collect(),
    })
}

/// The admin units of a subtree: names, and the way up to its root.
struct UnitNames {
    parents: HashMap<String, Option<String>>,
    names: HashMap<String, String>,
}

impl UnitNames {
    /// Only the subtree's units (the whole tree for the country).
    fn load(conn: &mut DbConn, units: Option<&[String]>) -> Result<Self, ApiError> {
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
        let mut parents = HashMap::with_capacity(unit_rows.len());
        let mut names = HashMap::with_capacity(unit_rows.len());
        for (code, parent, name) in unit_rows {
            parents.insert(code.clone(), parent);
            names.insert(code, name);
        }
        Ok(Self { parents, names })
    }

    fn name(&self, code: &str) -> String {
        self.names.get(code).cloned().unwrap_or_default()
    }

    /// The child of `root` (or the province) on the way up from `unit`.
    fn child_of(&self, root: Option<&str>, unit: &str) -> String {
        let mut current = unit.to_owned();
        loop {
            let parent = self.parents.get(&current).cloned().flatten();
            match (&parent, root) {
                (Some(p), Some(r)) if p == r => return current,
                (None, _) => return current,
                (Some(p), _) => current = p.clone(),
            }
        }
    }
}
