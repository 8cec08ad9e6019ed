//! Warehouses' storage: the scope of a warehouse officer, lookups, pages,
//! creating a warehouse and assigning officers to it.

use diesel::prelude::*;
use serde_json::json;

use super::model::*;
use crate::platform::auth::Reach;
use crate::platform::auth::Role;
use crate::platform::db::page::PageRequest;
use crate::platform::db::schema::{warehouse_staff, warehouses};
use crate::platform::db::{with_conn, DbConn};
use crate::platform::error::{Failure, OrUnknown};

/// 404 for a warehouse outside the caller's reach, as for a missing one.
pub fn check_reach(reach: &Reach, warehouse_id: i64) -> Result<(), Failure> {
    if reach.allows_warehouse(warehouse_id) {
        Ok(())
    } else {
        Err(Failure::not_found("no warehouse has this id"))
    }
}

pub fn find(conn: &mut DbConn, id: i64) -> Result<Warehouse, Failure> {
    let row: Option<Warehouse> = with_conn!(conn, |c| warehouses::table
        .find(id)
        .select(Warehouse::as_select())
        .first(c)
        .optional())?;
    row.ok_or_else(|| Failure::not_found(String::from("no warehouse has this id")))
}

pub fn all(conn: &mut DbConn) -> Result<Vec<Warehouse>, Failure> {
    let rows = with_conn!(conn, |c| warehouses::table
        .order(warehouses::id)
        .select(Warehouse::as_select())
        .load(c))?;
    Ok(rows)
}

/// A page of the warehouses in `scope`, oldest first.
pub fn page(
    conn: &mut DbConn,
    scope: &Reach,
    page: &PageRequest<i64>,
) -> Result<WarehousePage, Failure> {
    let allowed = scope.warehouse_ids();
    let rows: Vec<Warehouse> = with_conn!(conn, |c| {
        let mut query = warehouses::table
            .order(warehouses::id)
            .limit(page.fetch())
            .select(Warehouse::as_select())
            .into_boxed();
        if let Some(after) = page.after {
            query = query.filter(warehouses::id.gt(after));
        }
        if let Some(ids) = &allowed {
            query = query.filter(warehouses::id.eq_any(ids));
        }
        query.load(c)
    })?;
    let (items, next_cursor) = page.finish(rows, |row| row.id);
    Ok(WarehousePage { items, next_cursor })
}

/// Creates a warehouse in a known admin unit (422 naming
/// `admin_unit_code` otherwise).
pub fn create(
    conn: &mut DbConn,
    actor: &str,
    input: &CreateWarehouse,
) -> Result<Warehouse, Failure> {
    conn.transaction(|conn| {
        if crate::registry::admin_units::queries::find(conn, &input.admin_unit_code)?.is_none() {
            return Err(Failure::invalid_field(
                "admin_unit_code",
                "unknown",
                "no such admin unit",
            ));
        }
        let row: Warehouse = with_conn!(conn, |c| diesel::insert_into(warehouses::table)
            .values((
                warehouses::name.eq(&input.name),
                warehouses::admin_unit_code.eq(&input.admin_unit_code),
                warehouses::address.eq(&input.address),
                warehouses::created_at.eq(crate::platform::db::now()),
            ))
            .returning(Warehouse::as_returning())
            .get_result(c))?;
        crate::platform::audit::record(
            conn,
            actor,
            "create",
            "warehouse",
            &row.id.to_string(),
            json!({"name": row.name, "admin_unit_code": row.admin_unit_code}),
        )?;
        Ok(row)
    })
}

/// Lets warehouse officer `user_id` work in `warehouse` (422 naming
/// `user_id` for an unknown user or another role).
pub fn assign_officer(
    conn: &mut DbConn,
    actor: &str,
    warehouse: i64,
    user_id: i64,
) -> Result<(), Failure> {
    conn.transaction(|conn| {
        find(conn, warehouse)?;
        let user =
            crate::registry::accounts::queries::find_user(conn, user_id).or_unknown("user_id")?;
        if user.role != Role::WarehouseOfficer {
            return Err(Failure::invalid_field(
                "user_id",
                "role",
                "the user must be a warehouse officer",
            ));
        }
        with_conn!(conn, |c| diesel::insert_into(warehouse_staff::table)
            .values((
                warehouse_staff::user_id.eq(user_id),
                warehouse_staff::warehouse_id.eq(warehouse)
            ))
            .on_conflict_do_nothing()
            .execute(c))?;
        crate::platform::audit::record(
            conn,
            actor,
            "assign",
            "warehouse",
            &warehouse.to_string(),
            json!({"user_id": user_id}),
        )
    })
}

/// Renames a warehouse or changes its address, when its version is still
/// `if_match` (`*`: any).
pub fn update(
    conn: &mut DbConn,
    actor: &str,
    id: i64,
    patch: &WarehousePatch,
    if_match: Option<i64>,
) -> Result<Warehouse, Failure> {
    conn.transaction(|conn| {
        let current = find(conn, id)?;
        crate::platform::db::ensure_current(if_match, current.version)?;
        let row: Option<Warehouse> = with_conn!(conn, |c| diesel::update(
            warehouses::table
                .filter(warehouses::id.eq(id))
                .filter(warehouses::version.eq(current.version))
        )
        .set((
            warehouses::name.eq(patch.name.as_ref().unwrap_or(&current.name)),
            warehouses::address.eq(patch.address.clone().unwrap_or(current.address.clone())),
            warehouses::version.eq(current.version + 1),
        ))
        .returning(Warehouse::as_returning())
        .get_result(c)
        .optional())?;
        let row = row.ok_or_else(|| Failure::changed_meanwhile(current.version + 1, if_match))?;
        let changed = crate::platform::audit::sent_fields(&[
            ("name", patch.name.is_some()),
            ("address", patch.address.is_some()),
        ]);
        crate::platform::audit::record(
            conn,
            actor,
            "update",
            "warehouse",
            &id.to_string(),
            json!({"changed": changed}),
        )?;
        Ok(row)
    })
}
