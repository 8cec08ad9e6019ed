//! Administrative units: lookups, ancestry and subtrees, paging, the seed and
//! the import of the national list.

use crate::platform::error::Failure;
use std::collections::HashMap;

use diesel::prelude::*;
use diesel::upsert::excluded;

use super::import::{self, UnitLine};
use super::model::{AdminUnit, AdminUnitFilter, AdminUnitPage, AdminUnitRow, ImportReport, Level};
use crate::platform::db::page::PageRequest;
use crate::platform::db::schema::admin_units;
use crate::platform::db::{with_conn, DbConn};

/// Rows per INSERT statement: 6 binds each stays far below SQLite's limit.
const INSERT_CHUNK: usize = 500;
/// No real tree is deeper; guards against a corrupted parent loop.
const MAX_DEPTH: usize = 8;

pub fn list(
    conn: &mut DbConn,
    filter: &AdminUnitFilter,
    page: &PageRequest<String>,
) -> Result<AdminUnitPage, Failure> {
    let rows: Vec<AdminUnitRow> = with_conn!(conn, |c| {
        let mut query = admin_units::table
            .select(AdminUnitRow::as_select())
            .order(admin_units::code.asc())
            .limit(page.fetch())
            .into_boxed();
        if let Some(after) = &page.after {
            query = query.filter(admin_units::code.gt(after));
        }
        if let Some(parent) = &filter.parent_code {
            query = query.filter(admin_units::parent_code.eq(parent));
        }
        if let Some(level) = filter.level {
            query = query.filter(admin_units::level.eq(level));
        }
        let new_tree = format!("{}%", super::scheme::VN2025_PREFIX);
        match filter.scheme {
            Some(super::scheme::Scheme::Vn2025) => {
                query = query.filter(admin_units::code.like(new_tree))
            }
            Some(super::scheme::Scheme::Vn2008) => {
                query = query.filter(admin_units::code.not_like(new_tree))
            }
            None => {}
        }
        query.load(c)
    })?;
    let (rows, next_cursor) = page.finish(rows, |row| row.code.clone());
    Ok(AdminUnitPage {
        items: rows.into_iter().map(AdminUnit::from).collect(),
        next_cursor,
    })
}

pub fn find(conn: &mut DbConn, code: &str) -> Result<Option<AdminUnitRow>, Failure> {
    let row = with_conn!(conn, |c| admin_units::table
        .find(code)
        .select(AdminUnitRow::as_select())
        .first(c)
        .optional())?;
    Ok(row)
}

/// The unit itself followed by its parent, grandparent, … up to the province.
pub fn ancestry(conn: &mut DbConn, code: &str) -> Result<Vec<AdminUnitRow>, Failure> {
    let mut chain = Vec::new();
    let mut next = Some(code.to_owned());
    while let Some(current) = next {
        if chain.len() >= MAX_DEPTH {
            return Err(Failure::internal(format!(
                "admin unit {code} has a parent loop"
            )));
        }
        let row = find(conn, &current)?.ok_or_else(Failure::unknown_admin_unit)?;
        next = row.parent_code.clone();
        chain.push(row);
    }
    Ok(chain)
}

/// `root` and every unit below it.
pub fn subtree_codes(conn: &mut DbConn, root: &str) -> Result<Vec<String>, Failure> {
    Ok(crate::platform::auth::unit_and_descendants(conn, root)?
        .into_iter()
        .collect())
}

/// A unit of a tree with its name and the link to its parent.
#[derive(Debug, Clone, Queryable)]
pub struct UnitNode {
    pub code: String,
    pub parent_code: Option<String>,
    pub level: Level,
    pub name: String,
}

/// `root` and every unit below it with names and parents (404 for an
/// unknown root), or the whole tree when `root` is `None`; from the
/// process's copy of the tree (`platform::unit_tree`).
pub fn subtree_nodes(conn: &mut DbConn, root: Option<&str>) -> Result<Vec<UnitNode>, Failure> {
    let tree = crate::platform::unit_tree::current(conn)?;
    let node = |unit: &crate::platform::unit_tree::UnitNode| -> Result<UnitNode, Failure> {
        Ok(UnitNode {
            code: unit.code.clone(),
            parent_code: unit.parent_code.clone(),
            level: unit.level.parse().map_err(|_| {
                Failure::internal(format!("admin unit {} has an unknown level", unit.code))
            })?,
            name: unit.name.clone(),
        })
    };
    let Some(root) = root else {
        return tree.all().map(node).collect();
    };
    if !tree.contains(root) {
        return Err(Failure::unknown_admin_unit());
    }
    tree.subtree(root)?
        .into_iter()
        .filter_map(|code| tree.get(code))
        .map(node)
        .collect()
}

/// For a `?admin_unit=` filter: the codes of that unit's subtree (404 for
/// an unknown code), or `None` when no filter was given.
pub fn subtree_filter(
    conn: &mut DbConn,
    code: Option<&str>,
) -> Result<Option<Vec<String>>, Failure> {
    let Some(code) = code else { return Ok(None) };
    // Only the codes: no need to copy each unit's name and level.
    let tree = crate::platform::unit_tree::current(conn)?;
    if !tree.contains(code) {
        return Err(Failure::unknown_admin_unit());
    }
    Ok(Some(
        tree.subtree(code)?.into_iter().map(str::to_owned).collect(),
    ))
}

pub fn children_count(conn: &mut DbConn, code: &str) -> Result<i64, Failure> {
    let count = with_conn!(conn, |c| admin_units::table
        .filter(admin_units::parent_code.eq(code))
        .count()
        .get_result(c))?;
    Ok(count)
}

pub fn count(conn: &mut DbConn) -> Result<i64, Failure> {
    let count = with_conn!(conn, |c| admin_units::table.count().get_result(c))?;
    Ok(count)
}

fn load_all(conn: &mut DbConn) -> Result<HashMap<String, AdminUnitRow>, Failure> {
    let rows: Vec<AdminUnitRow> = with_conn!(conn, |c| admin_units::table
        .select(AdminUnitRow::as_select())
        .load(c))?;
    Ok(rows
        .into_iter()
        .map(|row| (row.code.clone(), row))
        .collect())
}

/// Applies a parsed file in one transaction: new codes are inserted,
/// changed ones updated, identical ones left untouched (their `updated_at`
/// keeps its value). Any error writes nothing.
pub fn import(
    conn: &mut DbConn,
    actor: &str,
    lines: Vec<UnitLine>,
) -> Result<ImportReport, Failure> {
    conn.transaction(|conn| {
        let existing = load_all(conn)?;
        import::check_tree(&lines, &existing)?;

        let now = crate::platform::db::now();
        let total = lines.len();
        let mut inserted = 0;
        let mut changed: Vec<AdminUnitRow> = lines
            .into_iter()
            .filter_map(|unit| {
                let row = AdminUnitRow {
                    created_at: existing.get(&unit.code).map_or(now, |old| old.created_at),
                    updated_at: now,
                    code: unit.code,
                    parent_code: unit.parent_code,
                    level: unit.level,
                    name: unit.name,
                };
                match existing.get(&row.code) {
                    None => {
                        inserted += 1;
                        Some(row)
                    }
                    Some(old)
                        if old.name != row.name
                            || old.level != row.level
                            || old.parent_code != row.parent_code =>
                    {
                        Some(row)
                    }
                    Some(_) => None,
                }
            })
            .collect();
        let updated = changed.len() - inserted;
        // Parents before children, so the foreign key holds after every chunk.
        changed.sort_by_key(|row| (row.level.rank(), row.code.clone()));
        for chunk in changed.chunks(INSERT_CHUNK) {
            // Explicit column = value tuples: a NULL parent is bound as NULL,
            // where an Option field would ask for DEFAULT, which SQLite's
            // multi-row INSERT cannot express.
            let values: Vec<_> = chunk
                .iter()
                .map(|row| {
                    (
                        admin_units::code.eq(&row.code),
                        admin_units::parent_code.eq(&row.parent_code),
                        admin_units::level.eq(row.level),
                        admin_units::name.eq(&row.name),
                        admin_units::created_at.eq(row.created_at),
                        admin_units::updated_at.eq(row.updated_at),
                    )
                })
                .collect();
            with_conn!(conn, |c| diesel::insert_into(admin_units::table)
                .values(&values)
                .on_conflict(admin_units::code)
                .do_update()
                .set((
                    admin_units::parent_code.eq(excluded(admin_units::parent_code)),
                    admin_units::level.eq(excluded(admin_units::level)),
                    admin_units::name.eq(excluded(admin_units::name)),
                    admin_units::updated_at.eq(excluded(admin_units::updated_at)),
                ))
                .execute(c))?;
        }
        let report = ImportReport {
            total,
            inserted,
            updated,
            unchanged: total - inserted - updated,
        };
        let codes: Vec<&str> = changed
            .iter()
            .take(20)
            .map(|row| row.code.as_str())
            .collect();
        crate::platform::audit::record(
            conn,
            actor,
            "import",
            "admin_units",
            "*",
            serde_json::json!({
                "total": report.total,
                "inserted": report.inserted,
                "updated": report.updated,
                "first_changed_codes": codes,
            }),
        )?;
        Ok(report)
    })
}

/// Loads the shipped Hòa Bình units into an empty table (first start).
pub fn seed_if_empty(conn: &mut DbConn) -> Result<Option<ImportReport>, Failure> {
    if count(conn)? > 0 {
        return Ok(None);
    }
    let lines = import::parse(super::SEED_CSV.as_bytes())?;
    import(conn, "system", lines).map(Some)
}
