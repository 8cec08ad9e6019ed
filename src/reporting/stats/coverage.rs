//! Readiness for online learning: students with an adequate device and a
//! usable connection, and the needs still open, for a subtree and broken
//! down by child unit, school, school level or grade. Summed from the views
//! `coverage_school_count_parts` (per school) and `coverage_count_parts`
//! (per school and grade), whose sums equal a count of the rows at every
//! moment: on PostgreSQL the count rows and the deltas that writes noted
//! and [`fold_noted_counts`] has not folded in yet (migration 000024), on
//! SQLite the count rows its triggers keep.

use crate::platform::error::Failure;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::platform::db::schema::{coverage_count_parts, coverage_school_count_parts, schools};
use crate::platform::db::{with_conn, DbConn};
use crate::registry::admin_units::{Scheme, SchemeView};
use crate::registry::schools::SchoolLevel;

crate::platform::db::text_enum! {
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
    /// Count in one tree: `vn2008` (before the 2025 reform) or `vn2025`
    /// (after). Absent: where each school is stored now. README, "The 2025
    /// reform".
    pub scheme: Option<Scheme>,
    /// `json` (default), `csv`, `xlsx` or `svg` (a bar chart of the parts).
    pub format: Option<crate::platform::http::tabular::TableOrChart>,
    /// Column titles of CSV and XLSX: `en` (field names, default) or `vi`.
    pub lang: Option<crate::platform::http::tabular::Lang>,
}

/// What decides a coverage answer: concurrent requests with the same key
/// are computed once (`platform::shared_reads`; a request never gets an
/// answer read before it arrived). The root is the caller's, already
/// checked against its scope; `replica` keeps answers read on the replica
/// apart from those read on the primary, which a request that follows its
/// own write may need.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CoverageKey {
    pub root: Option<String>,
    pub level: Option<SchoolLevel>,
    pub group_by: GroupBy,
    pub scheme: Option<Scheme>,
    pub replica: bool,
}

/// The coverage requests being answered right now, one per app.
pub type CoverageReads = crate::platform::shared_reads::SharedReads<CoverageKey, Coverage>;

/// One line of the coverage table.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct CoverageRow {
    /// The admin unit code, school id, level or grade.
    pub key: String,
    pub name: String,
    /// Active students (not deleted).
    pub students: i64,
    /// With an adequate device: the roster says so, or the programme
    /// handed one over (from the handover on, until it comes back).
    pub with_device: i64,
    /// With a usable connection: the roster says `mobile_ok` or `fixed`,
    /// or the programme handed over a data package.
    pub with_connectivity: i64,
    /// Both: ready for online learning.
    pub ready: i64,
    /// ready / students, in percent (two decimals).
    pub percent_ready: f64,
    pub open_device_needs: i64,
    pub open_connectivity_needs: i64,
    pub open_data_package_needs: i64,
    pub open_software_needs: i64,
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
            open_software,
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
        self.open_software_needs += open_software;
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

/// The thirteen counted columns of the count tables, summed over a group:
/// `CoverageRow`'s numbers in the order of the count tables' columns.
type Sums = (
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
);

/// True when every sum is zero (tuples this long have no `PartialEq`).
fn is_zero(sums: &Sums) -> bool {
    let (a, b, c, d, e, f, g, h, i, j, k, l, m) = *sums;
    [a, b, c, d, e, f, g, h, i, j, k, l, m]
        .iter()
        .all(|v| *v == 0)
}

/// Calls `$then!` with the thirteen counted columns of the count tables,
/// in their order: the one list the sums, the whole-country query and its
/// row type are made from.
macro_rules! with_counted_columns {
    ($then:ident) => {
        $then! {
            students,
            with_device,
            with_connectivity,
            ready,
            open_device_needs,
            open_connectivity_needs,
            open_data_package_needs,
            needs_reported,
            needs_verified,
            needs_approved,
            needs_allocated,
            needs_fulfilled,
            open_software_needs
        }
    };
}

/// The thirteen sums of a group of count rows (`coverage_count_parts` or
/// `coverage_school_count_parts`), as BIGINT on both backends.
macro_rules! sum_of_each {
    ($($column:ident),*) => {
        ($(sql::<BigInt>(concat!("CAST(SUM(", stringify!($column), ") AS BIGINT)")),)*)
    };
}
macro_rules! sums {
    () => {
        with_counted_columns!(sum_of_each)
    };
}

/// Sums the per-school counts of the schools in `$units` (all when `None`)
/// of `$level`, grouped by `$key` (columns of `schools`, which has none of
/// the summed column names).
macro_rules! school_sums_by {
    ($conn:expr, $key:expr, $units:expr, $level:expr) => {
        with_conn!($conn, |c| {
            let mut query = coverage_school_count_parts::table
                .inner_join(schools::table)
                .group_by($key)
                .select(($key, sums!()))
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

/// Counts coverage for `root`'s subtree (the whole country when `None`),
/// broken down by `group_by`. Reads only the count views, which every
/// student and need write updates in its own transaction (migrations 000007
/// and 000024), so the numbers equal a count of the rows.
pub fn coverage(
    conn: &mut DbConn,
    root: Option<&str>,
    level: Option<SchoolLevel>,
    group_by: GroupBy,
    view: Option<&SchemeView>,
) -> Result<Coverage, Failure> {
    if let Some(view) = view {
        return coverage_in_view(conn, root, level, group_by, view);
    }
    // The subtree's units: its schools, and the names of its parts.
    let tree = UnitTree::load(conn, root)?;
    if root.is_none() && group_by == GroupBy::AdminUnit && tree.levels() <= 3 {
        let groups = sums_by_top_unit(conn, level)?
            .into_iter()
            .map(|row| {
                let name = tree.name(&row.part);
                (row.part.clone(), name, row.sums())
            })
            .collect();
        return Ok(merge(root, &tree, group_by, groups));
    }
    let units: Option<Vec<String>> = root.map(|_| tree.codes());
    let units = units.as_deref();

    // (key, name, sums) per group, before groups are merged into rows.
    let groups: Vec<(String, String, Sums)> = match group_by {
        GroupBy::AdminUnit => {
            let by_unit: Vec<(String, Sums)> =
                school_sums_by!(conn, schools::admin_unit_code, units, level)?;
            by_unit
                .into_iter()
                .map(|(unit, sums)| {
                    let part = tree.part_of(root, &unit);
                    (part.clone(), tree.name(&part), sums)
                })
                .collect()
        }
        GroupBy::School => {
            let by_school: Vec<((i64, String), Sums)> =
                school_sums_by!(conn, (schools::id, schools::name), units, level)?;
            by_school
                .into_iter()
                .map(|((id, name), sums)| (id.to_string(), name, sums))
                .collect()
        }
        GroupBy::SchoolLevel => {
            let by_level: Vec<(SchoolLevel, Sums)> =
                school_sums_by!(conn, schools::level, units, level)?;
            by_level
                .into_iter()
                .map(|(level, sums)| (level.to_string(), level.to_string(), sums))
                .collect()
        }
        GroupBy::Grade => grade_groups(grade_sums(conn, units, level)?),
    };

    Ok(merge(root, &tree, group_by, groups))
}

/// The sums of one top unit (a province) of the whole country, and the
/// select list that fills it.
macro_rules! top_unit_sums {
    ($($column:ident),*) => {
        #[derive(QueryableByName)]
        struct TopUnitSums {
            #[diesel(sql_type = diesel::sql_types::Text)]
            part: String,
            $(
                #[diesel(sql_type = BigInt)]
                $column: i64,
            )*
        }

        impl TopUnitSums {
            const SELECT: &'static str = concat!(
                "COALESCE(grandparent.code, parent.code, school.admin_unit_code) AS part"
                $(, ", CAST(SUM(counts.", stringify!($column), ") AS BIGINT) AS ", stringify!($column))*
            );

            fn sums(&self) -> Sums {
                ($(self.$column,)*)
            }
        }
    };
}
with_counted_columns!(top_unit_sums);

/// The whole country's per-school counts summed per top unit (province)
/// in the database: each school's unit is followed up at most two
/// parents, which reaches the top in trees of at most three levels (the
/// caller checks). Ten thousand schools become 63 rows there instead of
/// being walked up the tree here, most of a whole-country request's time.
fn sums_by_top_unit(
    conn: &mut DbConn,
    level: Option<SchoolLevel>,
) -> Result<Vec<TopUnitSums>, Failure> {
    // A level is one of a closed set of words, never caller text.
    let only_level = level
        .map(|l| format!("WHERE school.level = '{}'", l.as_str()))
        .unwrap_or_default();
    let query = format!(
        "SELECT {} \
         FROM coverage_school_count_parts counts \
         JOIN schools school ON school.id = counts.school_id \
         LEFT JOIN admin_units unit ON unit.code = school.admin_unit_code \
         LEFT JOIN admin_units parent ON parent.code = unit.parent_code \
         LEFT JOIN admin_units grandparent ON grandparent.code = parent.parent_code \
         {only_level} \
         GROUP BY COALESCE(grandparent.code, parent.code, school.admin_unit_code)",
        TopUnitSums::SELECT
    );
    Ok(with_conn!(conn, |c| diesel::sql_query(&query).load(c))?)
}

/// The rows and total of the groups (several groups may share a key).
fn merge(
    root: Option<&str>,
    tree: &UnitTree,
    group_by: GroupBy,
    groups: Vec<(String, String, Sums)>,
) -> Coverage {
    let mut total = CoverageRow {
        key: root.unwrap_or("*").to_owned(),
        name: root.map_or_else(|| "Việt Nam".to_owned(), |r| tree.name(r)),
        ..Default::default()
    };
    let mut rows: BTreeMap<String, CoverageRow> = BTreeMap::new();
    for (key, name, sums) in groups {
        // Count rows left at zero by later changes are not a part.
        if is_zero(&sums) {
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
    Coverage {
        admin_unit: root.map(str::to_owned),
        group_by,
        total: total.finish(),
        rows: rows.into_values().map(CoverageRow::finish).collect(),
    }
}

/// [`coverage`] asked in one tree: each school counts where `view` puts it
/// (history by the old tree after re-homing, old units under their
/// successors), so both views hold every school once and their totals are
/// equal. Sums per school, grouped here.
fn coverage_in_view(
    conn: &mut DbConn,
    root: Option<&str>,
    level: Option<SchoolLevel>,
    group_by: GroupBy,
    view: &SchemeView,
) -> Result<Coverage, Failure> {
    if let Some(root) = root {
        if Scheme::of(root) != view.scheme() {
            return Err(Failure::invalid_field(
                "scheme",
                "other_tree",
                format!("your area is not a unit of the {} tree", view.scheme()),
            ));
        }
    }
    let tree = UnitTree::load(conn, root)?.in_scheme(view.scheme());
    type SchoolKey = (i64, String, Option<String>, String, SchoolLevel);
    let found: Vec<SchoolKey> = with_conn!(conn, |c| {
        let mut query = schools::table
            .select((
                schools::id,
                schools::admin_unit_code,
                schools::pre_reform_unit_code,
                schools::name,
                schools::level,
            ))
            .into_boxed();
        if let Some(level) = level {
            query = query.filter(schools::level.eq(level));
        }
        query.load(c)
    })?;
    // The schools of the subtree in this view, and the unit each counts in.
    let mut inside: HashMap<i64, (String, String, SchoolLevel)> = HashMap::new();
    for (id, unit, before, name, level) in found {
        let counted = view.school_unit(id, &unit, before.as_deref());
        if root.is_none() || tree.contains(&counted) {
            inside.insert(id, (counted, name, level));
        }
    }
    let ids: Vec<i64> = inside.keys().copied().collect();
    let groups: Vec<(String, String, Sums)> = if group_by == GroupBy::Grade {
        grade_groups(grade_sums_of(conn, &ids)?)
    } else {
        let mut per_school: Vec<(i64, Sums)> = Vec::new();
        for chunk in ids.chunks(5_000) {
            per_school.extend(with_conn!(conn, |c| coverage_school_count_parts::table
                .filter(coverage_school_count_parts::school_id.eq_any(chunk))
                .group_by(coverage_school_count_parts::school_id)
                .select((coverage_school_count_parts::school_id, sums!()))
                .load::<(i64, Sums)>(c))?);
        }
        per_school
            .into_iter()
            .map(|(id, sums)| {
                let (unit, name, level) = &inside[&id];
                match group_by {
                    GroupBy::School => (id.to_string(), name.clone(), sums),
                    GroupBy::SchoolLevel => (level.to_string(), level.to_string(), sums),
                    _ => {
                        let part = tree.part_of(root, unit);
                        (part.clone(), tree.name(&part), sums)
                    }
                }
            })
            .collect()
    };
    Ok(merge(root, &tree, group_by, groups))
}

/// Grade sums as groups: school-wide needs under `school`, grades `01`…
fn grade_groups(by_grade: Vec<(i32, Sums)>) -> Vec<(String, String, Sums)> {
    by_grade
        .into_iter()
        .map(|(grade, sums)| match grade {
            0 => ("school".to_owned(), "school needs".to_owned(), sums),
            g => (format!("{g:02}"), format!("grade {g}"), sums),
        })
        .collect()
}

/// The per-grade counts of the schools in `units` of `level`, by grade.
fn grade_sums(
    conn: &mut DbConn,
    units: Option<&[String]>,
    level: Option<SchoolLevel>,
) -> Result<Vec<(i32, Sums)>, Failure> {
    if units.is_none() && level.is_none() {
        return Ok(with_conn!(conn, |c| coverage_count_parts::table
            .group_by(coverage_count_parts::grade)
            .select((coverage_count_parts::grade, sums!()))
            .load(c))?);
    }
    // By school ids rather than a join: PostgreSQL then reads only the
    // scope's count rows instead of scanning them all.
    let ids: Vec<i64> = with_conn!(conn, |c| {
        let mut query = schools::table.select(schools::id).into_boxed();
        if let Some(units) = units {
            query = query.filter(schools::admin_unit_code.eq_any(units));
        }
        if let Some(level) = level {
            query = query.filter(schools::level.eq(level));
        }
        query.load(c)
    })?;
    grade_sums_of(conn, &ids)
}

/// The per-grade counts of schools `ids` (several rows per grade when
/// there are many schools: one per chunk of ids).
fn grade_sums_of(conn: &mut DbConn, ids: &[i64]) -> Result<Vec<(i32, Sums)>, Failure> {
    let mut by_grade = Vec::new();
    // SQLite takes at most 32,766 parameters per statement.
    for chunk in ids.chunks(5_000) {
        by_grade.extend(with_conn!(conn, |c| coverage_count_parts::table
            .filter(coverage_count_parts::school_id.eq_any(chunk))
            .group_by(coverage_count_parts::grade)
            .select((coverage_count_parts::grade, sums!()))
            .load::<(i32, Sums)>(c))?);
    }
    Ok(by_grade)
}

/// The admin units of a subtree: names, and the way up to its root, over
/// the process's copy of the tree (`platform::unit_tree`).
pub(super) struct UnitTree {
    tree: Arc<crate::platform::unit_tree::UnitTree>,
    /// The subtree's units (`None`: the whole country).
    members: Option<HashSet<String>>,
    /// Only the units of this tree (a view of the 2025 reform).
    scheme: Option<Scheme>,
}

impl UnitTree {
    /// `root`'s subtree (the country when `None`); 404 for an unknown root.
    pub(super) fn load(conn: &mut DbConn, root: Option<&str>) -> Result<Self, Failure> {
        let tree = crate::platform::unit_tree::current(conn)?;
        let members = match root {
            None => None,
            Some(root) if !tree.contains(root) => return Err(Failure::unknown_admin_unit()),
            Some(root) => Some(tree.subtree(root)?.into_iter().map(str::to_owned).collect()),
        };
        Ok(Self {
            tree,
            members,
            scheme: None,
        })
    }

    /// Only the units of `scheme`'s tree.
    pub(super) fn in_scheme(self, scheme: Scheme) -> Self {
        Self {
            scheme: Some(scheme),
            ..self
        }
    }

    fn in_view(&self, code: &str) -> bool {
        self.scheme.is_none_or(|s| Scheme::of(code) == s)
    }

    /// Every unit of the subtree.
    pub(super) fn codes(&self) -> Vec<String> {
        match &self.members {
            Some(members) => members
                .iter()
                .filter(|c| self.in_view(c))
                .cloned()
                .collect(),
            None => self
                .tree
                .all()
                .filter(|n| self.in_view(&n.code))
                .map(|n| n.code.clone())
                .collect(),
        }
    }

    pub(super) fn contains(&self, code: &str) -> bool {
        self.in_view(code)
            && match &self.members {
                Some(members) => members.contains(code),
                None => self.tree.contains(code),
            }
    }

    /// The most units on one way from a leaf to its top.
    pub(super) fn levels(&self) -> usize {
        self.tree.levels()
    }

    pub(super) fn name(&self, code: &str) -> String {
        self.tree
            .get(code)
            .map(|n| n.name.clone())
            .unwrap_or_default()
    }

    /// The part of `root`'s subtree `unit` counts under: the child of
    /// `root` (or the province) on the way up from `unit`, or the root
    /// itself for a record directly at the root.
    pub(super) fn part_of(&self, root: Option<&str>, unit: &str) -> String {
        self.tree.part_of(root, unit).to_owned()
    }
}

/// The most noted rows one fold moves: a backlog (a server that was down
/// while a command-line import wrote) is folded in steps of bounded size.
const FOLD_STEP: i32 = 500;

/// Moves up to `most` rows of deltas noted by writes into the count tables
/// (PostgreSQL, migration 000024) and returns how many it moved; the
/// figures read are the same before and after. SQLite's triggers write the
/// count rows at once, so there is nothing to fold.
pub fn fold_noted_counts(conn: &mut DbConn, most: i32) -> Result<usize, Failure> {
    use diesel::sql_types::Integer;
    let moved = crate::platform::db::per_backend!(conn,
        sqlite: |_c| QueryResult::Ok(0),
        postgres: |c| diesel::select(
            sql::<Integer>("coverage_counts_fold(")
                .bind::<Integer, _>(most)
                .sql(")"),
        )
        .get_result::<i32>(c),
    )?;
    Ok(usize::try_from(moved).unwrap_or(0))
}

/// How many noted deltas wait to be folded (for the metrics: a number
/// that keeps growing means writes note faster than the folders fold).
fn noted_counts_waiting(conn: &mut DbConn) -> Result<i64, Failure> {
    use diesel::sql_types::BigInt;
    let waiting = crate::platform::db::per_backend!(conn,
        sqlite: |_c| QueryResult::Ok(0),
        postgres: |c| diesel::select(sql::<BigInt>(
            "(SELECT count(*) FROM coverage_count_deltas)"
        ))
        .get_result::<i64>(c),
    )?;
    Ok(waiting)
}

/// Folds noted deltas every `every`, until the process stops (one folder
/// beside each replica of the service; replicas folding at once skip each
/// other's rows). A failure is logged and the next round tries again; so is
/// a backlog (figures stay exact, but every read of them sums the backlog).
pub async fn fold_noted_counts_forever(db: crate::platform::db::Db, every: std::time::Duration) {
    loop {
        let mut round = 0;
        loop {
            match db.run(|conn| fold_noted_counts(conn, FOLD_STEP)).await {
                Ok(moved) => {
                    round += moved;
                    // A full step: more may be waiting.
                    if moved < FOLD_STEP as usize {
                        break;
                    }
                }
                Err(error) => {
                    log::warn!("coverage count folder: {error}");
                    break;
                }
            }
        }
        if round >= 10 * FOLD_STEP as usize {
            log::warn!("coverage count folder: folded a backlog of {round} noted rows");
        }
        match db.run(noted_counts_waiting).await {
            Ok(waiting) => crate::platform::metrics::observe_count_fold(round as u64, waiting),
            Err(error) => log::warn!("coverage count folder: {error}"),
        }
        actix_web::rt::time::sleep(every).await;
    }
}
