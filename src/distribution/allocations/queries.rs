//! Allocations: by hand and by automatic runs (the matching in
//! `matching.rs`), cancelling, listing within scope; the stock moves they
//! make.

use std::collections::HashMap;

use diesel::prelude::*;
use serde_json::json;

use super::matching::{self, NeedCandidate, Quotas, StockCandidate, StockKind};
use super::model::*;
use crate::distribution::inventory::queries::{move_item, move_package, package_counts};
use crate::distribution::inventory::{ItemRow, ItemStatus, Movement, PackageRow};
use crate::needs::workflow::{Mover, NeedStatus};
use crate::needs::{NeedKind, NeedRow};
use crate::platform::auth::Reach;
use crate::platform::db::page::PageRequest;
use crate::platform::db::schema::{
    admin_units, allocations, inventory_items, inventory_packages, needs, schools, warehouses,
};
use crate::platform::db::{with_conn, DbConn, WriteLock};
use crate::platform::error::{Failure, OrUnknown};
use crate::platform::outbox::{Event, EventType};

pub fn find(conn: &mut DbConn, id: i64) -> Result<AllocationRow, Failure> {
    let row: Option<AllocationRow> = with_conn!(conn, |c| allocations::table
        .find(id)
        .select(AllocationRow::as_select())
        .first(c)
        .optional())?;
    row.ok_or_else(|| Failure::not_found(String::from("no allocation has this id")))
}

/// Allocation `id`, when its need is in `scope`; one outside it is "not
/// found", like one that does not exist.
pub fn find_visible(conn: &mut DbConn, scope: &Reach, id: i64) -> Result<AllocationRow, Failure> {
    let row = find(conn, id)?;
    crate::needs::queries::find_visible(conn, scope, row.need_id)
        .or_not_found(|| String::from("no allocation has this id"))?;
    Ok(row)
}

/// The parent of every admin unit (the whole tree, once per operation).
fn parents(conn: &mut DbConn) -> Result<HashMap<String, Option<String>>, Failure> {
    let rows: Vec<(String, Option<String>)> = with_conn!(conn, |c| admin_units::table
        .select((admin_units::code, admin_units::parent_code))
        .load(c))?;
    Ok(rows.into_iter().collect())
}

fn stock_kind(kind: NeedKind) -> StockKind {
    match kind {
        NeedKind::Device => StockKind::Device,
        NeedKind::Connectivity | NeedKind::DataPackage => StockKind::DataPackage,
        NeedKind::Software => StockKind::Software,
    }
}

/// The kind of package stock a package-taking need draws from.
fn package_kind(kind: StockKind) -> crate::donations::kinds::DonationKind {
    match kind {
        StockKind::Software => crate::donations::kinds::DonationKind::Software,
        _ => crate::donations::kinds::DonationKind::DataPackage,
    }
}

/// Writes one allocation: need approved → allocated, device ready →
/// reserved (or one package unit reserved). Each step only applies to the
/// state it expects, so a lost race answers 409 instead of double-booking.
fn write(
    conn: &mut DbConn,
    actor: &str,
    need: &NeedRow,
    item: Option<&ItemRow>,
    package: Option<&PackageRow>,
) -> Result<AllocationRow, Failure> {
    let now = crate::platform::db::now();
    let row: AllocationRow = with_conn!(conn, |c| diesel::insert_into(allocations::table)
        .values((
            allocations::need_id.eq(need.id),
            allocations::item_id.eq(item.map(|i| i.id)),
            allocations::package_id.eq(package.map(|p| p.id)),
            allocations::quantity.eq(1),
            allocations::status.eq(AllocationStatus::Active),
            allocations::created_by.eq(actor),
            allocations::created_at.eq(now),
            allocations::updated_at.eq(now),
        ))
        .returning(AllocationRow::as_returning())
        .get_result(c))?;
    if let Some(item) = item {
        move_item(
            conn,
            actor,
            item,
            ItemStatus::Reserved,
            Movement::Reserve,
            None,
        )?;
    }
    if let Some(package) = package {
        move_package(
            conn,
            actor,
            package,
            ItemStatus::Ready,
            ItemStatus::Reserved,
            Movement::Reserve,
            1,
            None,
        )?;
    }
    crate::needs::queries::transition(
        conn,
        actor,
        Mover::Distribution,
        &Reach::Everywhere,
        need.id,
        NeedStatus::Allocated,
        None,
    )?;
    crate::platform::audit::record(
        conn,
        actor,
        "create",
        "allocation",
        &row.id.to_string(),
        json!({"need_id": need.id, "item_id": row.item_id, "package_id": row.package_id}),
    )?;
    crate::platform::outbox::emit(
        conn,
        announcement(EventType::AllocationMade, &row, &need.admin_unit_code),
    )?;
    Ok(row)
}

/// An allocation's event in the outbox, placed where its need is.
fn announcement(event_type: EventType, row: &AllocationRow, place: &str) -> Event {
    Event {
        event_type,
        entity: "allocation",
        entity_id: row.id,
        admin_unit_code: Some(place.to_owned()),
        data: json!({
            "allocation_id": row.id,
            "status": row.status,
            "need_id": row.need_id,
            "item_id": row.item_id,
            "package_id": row.package_id,
        }),
    }
}

/// Announces allocations just written in bulk (an automatic run).
fn announce_many(conn: &mut DbConn, ids: &[i64]) -> Result<(), Failure> {
    for chunk in ids.chunks(1_000) {
        let rows: Vec<(AllocationRow, String)> = with_conn!(conn, |c| allocations::table
            .inner_join(needs::table)
            .filter(allocations::id.eq_any(chunk))
            .select((AllocationRow::as_select(), needs::admin_unit_code))
            .load(c))?;
        let events = rows
            .iter()
            .map(|(row, place)| announcement(EventType::AllocationMade, row, place))
            .collect();
        crate::platform::outbox::emit_many(conn, events)?;
    }
    Ok(())
}

/// A manual allocation by an officer whose scope holds the need.
pub fn allocate(
    conn: &mut DbConn,
    actor: &str,
    scope: &Reach,
    input: &CreateAllocation,
) -> Result<AllocationRow, Failure> {
    conn.transaction(|conn| {
        conn.lock(WriteLock::Allocation)?;
        let need = crate::needs::queries::find_visible(conn, scope, input.need_id)
            .or_unknown("need_id")?;
        if need.status != NeedStatus::Approved {
            return Err(Failure::conflict(format!(
                "need {} is {}; only approved needs are allocated",
                need.id, need.status
            )));
        }
        // The need's unit and those above it: one short walk, not the tree;
        // for a school re-homed by the 2025 reform, its old units too (an
        // earmark is the donor's wish in the tree they gave in).
        let before: Option<String> = with_conn!(conn, |c| schools::table
            .find(need.school_id)
            .select(schools::pre_reform_unit_code)
            .first::<Option<String>>(c)
            .optional())?
        .flatten();
        let mut above: Vec<String> = Vec::new();
        for start in std::iter::once(&need.admin_unit_code).chain(before.as_ref()) {
            above.extend(
                crate::registry::admin_units::queries::ancestry(conn, start)?
                    .into_iter()
                    .map(|unit| unit.code),
            );
        }
        let in_earmark = |earmark: &Option<String>| earmark.as_ref().is_none_or(|e| above.contains(e));
        match (input.item_id, input.package_id, stock_kind(need.kind)) {
            (Some(item_id), None, StockKind::Device) => {
                let item =
                    crate::distribution::inventory::queries::find_item(conn, item_id).or_unknown("item_id")?;
                if item.status != ItemStatus::Ready {
                    return Err(Failure::conflict(format!(
                        "device {item_id} is {}, not ready",
                        item.status
                    )));
                }
                if !in_earmark(&item.earmark_admin_unit) {
                    return Err(Failure::conflict(format!(
                        "device {item_id} is earmarked for {}; need {} is outside it",
                        item.earmark_admin_unit.clone().unwrap_or_default(),
                        need.id
                    )));
                }
                write(conn, actor, &need, Some(&item), None)
            }
            (None, Some(package_id), kind @ (StockKind::DataPackage | StockKind::Software)) => {
                let package = crate::distribution::inventory::queries::find_package(conn, package_id)
                    .or_unknown("package_id")?;
                if !in_earmark(&package.earmark_admin_unit) {
                    return Err(Failure::conflict(format!(
                        "package {package_id} is earmarked for another area"
                    )));
                }
                let available = package_counts(conn, &[package_id], ItemStatus::Ready)?
                    .get(&package_id)
                    .copied()
                    .unwrap_or(0);
                if package.kind != package_kind(kind) {
                    return Err(Failure::invalid_field(
                        "package_id",
                        "kind",
                        format!("a {} need takes a package of kind {}", need.kind, package_kind(kind)),
                    ));
                }
                if available < 1 {
                    return Err(Failure::conflict(format!(
                        "package {package_id} has no unit left"
                    )));
                }
                write(conn, actor, &need, None, Some(&package))
            }
            _ => Err(Failure::invalid_field(
                "item_id",
                "kind",
                "a device need takes item_id; a connectivity, data-package or software need takes package_id",
            )),
        }
    })
}

/// Cancels an active allocation: the stock is released and the need waits
/// for another allocation.
pub fn cancel(
    conn: &mut DbConn,
    actor: &str,
    scope: &Reach,
    id: i64,
    reason: &str,
) -> Result<AllocationRow, Failure> {
    conn.transaction(|conn| {
        conn.lock(WriteLock::Allocation)?;
        let allocation = find(conn, id)?;
        crate::needs::queries::find_visible(conn, scope, allocation.need_id)
            .or_not_found(|| String::from("no allocation has this id"))?;
        allocation
            .status
            .check_transition(AllocationStatus::Cancelled, id)?;
        let row: AllocationRow = with_conn!(conn, |c| diesel::update(allocations::table.find(id))
            .set((
                allocations::status.eq(AllocationStatus::Cancelled),
                allocations::cancel_reason.eq(reason),
                allocations::updated_at.eq(crate::platform::db::now()),
            ))
            .returning(AllocationRow::as_returning())
            .get_result(c))?;
        if let Some(item_id) = allocation.item_id {
            let item = crate::distribution::inventory::queries::find_item(conn, item_id)?;
            move_item(
                conn,
                actor,
                &item,
                ItemStatus::Ready,
                Movement::Release,
                Some(reason),
            )?;
        }
        if let Some(package_id) = allocation.package_id {
            let package = crate::distribution::inventory::queries::find_package(conn, package_id)?;
            move_package(
                conn,
                actor,
                &package,
                ItemStatus::Reserved,
                ItemStatus::Ready,
                Movement::Release,
                allocation.quantity,
                Some(reason),
            )?;
        }
        crate::needs::queries::transition(
            conn,
            actor,
            Mover::Distribution,
            &Reach::Everywhere,
            allocation.need_id,
            NeedStatus::Approved,
            None,
        )?;
        crate::platform::audit::record(
            conn,
            actor,
            "cancel",
            "allocation",
            &id.to_string(),
            json!({"reason": reason}),
        )?;
        let need = crate::needs::queries::find_visible(conn, &Reach::Everywhere, row.need_id)?;
        crate::platform::outbox::emit(
            conn,
            announcement(EventType::AllocationCancelled, &row, &need.admin_unit_code),
        )?;
        Ok(row)
    })
}

/// The approved needs and ready stock a run works on.
pub fn candidates(
    conn: &mut DbConn,
    units: Option<&[String]>,
    kinds: &[NeedKind],
) -> Result<(Vec<NeedCandidate>, Vec<StockCandidate>), Failure> {
    let needs = approved_needs(conn, units, kinds)?;
    let warehouse_units: HashMap<i64, String> = with_conn!(conn, |c| warehouses::table
        .select((warehouses::id, warehouses::admin_unit_code))
        .load::<(i64, String)>(c))?
    .into_iter()
    .collect();
    let unit_of = |warehouse_id: i64| {
        warehouse_units
            .get(&warehouse_id)
            .cloned()
            .unwrap_or_default()
    };
    let mut stock = Vec::new();
    if needs.iter().any(|n| n.kind == StockKind::Device) {
        stock.extend(ready_devices(conn, &unit_of)?);
    }
    for kind in [StockKind::DataPackage, StockKind::Software] {
        if needs.iter().any(|n| n.kind == kind) {
            stock.extend(packages_in_stock(conn, kind, &unit_of)?);
        }
    }
    Ok((needs, stock))
}

/// The approved needs of these kinds (all when empty) in `units` (all when
/// `None`), read in chunks of units.
fn approved_needs(
    conn: &mut DbConn,
    units: Option<&[String]>,
    kinds: &[NeedKind],
) -> Result<Vec<NeedCandidate>, Failure> {
    type Row = (
        i64,
        i32,
        chrono::NaiveDateTime,
        String,
        i64,
        NeedKind,
        Option<String>,
    );
    let kinds: Vec<NeedKind> = if kinds.is_empty() {
        NeedKind::ALL.to_vec()
    } else {
        kinds.to_vec()
    };
    let load = |conn: &mut DbConn, chunk: Option<&[String]>| -> Result<Vec<Row>, Failure> {
        let rows = with_conn!(conn, |c| {
            let mut query = needs::table
                .inner_join(schools::table)
                .filter(needs::status.eq(NeedStatus::Approved))
                .filter(needs::kind.eq_any(&kinds))
                .select((
                    needs::id,
                    needs::priority,
                    needs::created_at,
                    needs::admin_unit_code,
                    needs::school_id,
                    needs::kind,
                    schools::pre_reform_unit_code,
                ))
                .into_boxed();
            if let Some(chunk) = chunk {
                query = query.filter(needs::admin_unit_code.eq_any(chunk));
            }
            query.load(c)
        })?;
        Ok(rows)
    };
    let mut need_rows: Vec<Row> = Vec::new();
    match units {
        None => need_rows = load(conn, None)?,
        Some(units) => {
            for chunk in units.chunks(1_000) {
                need_rows.extend(load(conn, Some(chunk))?);
            }
        }
    }
    Ok(need_rows
        .into_iter()
        .map(
            |(id, priority, created_at, admin_unit, school_id, kind, pre_reform_unit)| {
                NeedCandidate {
                    id,
                    priority,
                    created_at,
                    admin_unit,
                    pre_reform_unit,
                    school_id,
                    kind: stock_kind(kind),
                }
            },
        )
        .collect())
}

/// Every ready device, one candidate each.
fn ready_devices(
    conn: &mut DbConn,
    unit_of: &dyn Fn(i64) -> String,
) -> Result<Vec<StockCandidate>, Failure> {
    let items: Vec<(i64, i64, Option<String>)> = with_conn!(conn, |c| inventory_items::table
        .filter(inventory_items::status.eq(ItemStatus::Ready))
        .select((
            inventory_items::id,
            inventory_items::warehouse_id,
            inventory_items::earmark_admin_unit
        ))
        .load(c))?;
    Ok(items
        .into_iter()
        .map(|(id, warehouse_id, earmark)| StockCandidate {
            id,
            kind: StockKind::Device,
            warehouse_id,
            warehouse_unit: unit_of(warehouse_id),
            earmark,
            available: 1,
        })
        .collect())
}

/// Every package of `kind` with the units it has ready.
fn packages_in_stock(
    conn: &mut DbConn,
    kind: StockKind,
    unit_of: &dyn Fn(i64) -> String,
) -> Result<Vec<StockCandidate>, Failure> {
    let packages: Vec<PackageRow> = with_conn!(conn, |c| inventory_packages::table
        .filter(inventory_packages::kind.eq(package_kind(kind)))
        .select(PackageRow::as_select())
        .load(c))?;
    let ids: Vec<i64> = packages.iter().map(|p| p.id).collect();
    let available = package_counts(conn, &ids, ItemStatus::Ready)?;
    Ok(packages
        .into_iter()
        .map(|p| StockCandidate {
            id: p.id,
            kind,
            warehouse_id: p.warehouse_id,
            warehouse_unit: unit_of(p.warehouse_id),
            earmark: p.earmark_admin_unit,
            available: available.get(&p.id).copied().unwrap_or(0),
        })
        .collect())
}

struct NewAllocation {
    need_id: i64,
    item_id: Option<i64>,
    package_id: Option<i64>,
}

/// Inserts active allocations of quantity 1, returning their ids in order.
/// PostgreSQL takes the rows as one array per column (UNNEST): a VALUES
/// list of 8,000 parameters costs more to parse than to write. SQLite takes
/// the portable VALUES form.
fn insert_allocations(
    conn: &mut DbConn,
    actor: &str,
    now: chrono::NaiveDateTime,
    rows: &[NewAllocation],
) -> Result<Vec<i64>, Failure> {
    let ids = crate::platform::db::per_backend!(conn,
        sqlite: |c| {
            let values: Vec<_> = rows
                .iter()
                .map(|r| {
                    (
                        allocations::need_id.eq(r.need_id),
                        allocations::item_id.eq(r.item_id),
                        allocations::package_id.eq(r.package_id),
                        allocations::quantity.eq(1),
                        allocations::status.eq(AllocationStatus::Active),
                        allocations::created_by.eq(actor),
                        allocations::created_at.eq(now),
                        allocations::updated_at.eq(now),
                    )
                })
                .collect();
            diesel::insert_into(allocations::table)
                .values(&values)
                .returning(allocations::id)
                .get_results::<i64>(c)
        },
        postgres: |c| {
            use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamp};
            #[derive(QueryableByName)]
            struct Created {
                #[diesel(sql_type = BigInt)]
                id: i64,
            }
            diesel::sql_query(
                "INSERT INTO allocations (need_id, item_id, package_id, quantity, status, \
                     created_by, created_at, updated_at) \
                 SELECT t.n, t.i, t.p, 1, $4, $5, $6, $6 \
                 FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[]) WITH ORDINALITY AS t(n, i, p, o) \
                 ORDER BY t.o \
                 RETURNING id",
            )
            .bind::<Array<BigInt>, _>(rows.iter().map(|r| r.need_id).collect::<Vec<_>>())
            .bind::<Array<Nullable<BigInt>>, _>(rows.iter().map(|r| r.item_id).collect::<Vec<_>>())
            .bind::<Array<Nullable<BigInt>>, _>(
                rows.iter().map(|r| r.package_id).collect::<Vec<_>>(),
            )
            .bind::<Text, _>(AllocationStatus::Active.as_str())
            .bind::<Text, _>(actor)
            .bind::<Timestamp, _>(now)
            .load::<Created>(c)
            .map(|created| created.into_iter().map(|c| c.id).collect())
        },
    )?;
    Ok(ids)
}

/// Writes a run's matches in bulk (statements per thousand matches, not
/// per match): allocations, reserved devices and package units with their
/// ledger rows, and the needs moved to `allocated` with their events.
fn commit(
    conn: &mut DbConn,
    actor: &str,
    matches: &[matching::Match],
) -> Result<Vec<i64>, Failure> {
    let devices: Vec<i64> = matches
        .iter()
        .filter(|m| m.kind == StockKind::Device)
        .map(|m| m.stock_id)
        .collect();
    crate::distribution::inventory::queries::reserve_many(conn, actor, &devices)?;
    for m in matches.iter().filter(|m| m.kind != StockKind::Device) {
        let package = crate::distribution::inventory::queries::find_package(conn, m.stock_id)?;
        move_package(
            conn,
            actor,
            &package,
            ItemStatus::Ready,
            ItemStatus::Reserved,
            Movement::Reserve,
            1,
            None,
        )?;
    }
    let need_ids: Vec<i64> = matches.iter().map(|m| m.need_id).collect();
    crate::needs::queries::move_many(
        conn,
        actor,
        &need_ids,
        NeedStatus::Approved,
        NeedStatus::Allocated,
    )?;
    // The allocations last: their foreign-key checks then find the needs
    // and devices already locked by this transaction's updates (about a
    // fifth cheaper than locking them first and updating them after).
    let now = crate::platform::db::now();
    let mut ids = Vec::with_capacity(matches.len());
    for chunk in matches.chunks(1_000) {
        let rows: Vec<NewAllocation> = chunk
            .iter()
            .map(|m| {
                let device = m.kind == StockKind::Device;
                NewAllocation {
                    need_id: m.need_id,
                    item_id: device.then_some(m.stock_id),
                    package_id: (!device).then_some(m.stock_id),
                }
            })
            .collect();
        ids.extend(insert_allocations(conn, actor, now, &rows)?);
    }
    announce_many(conn, &ids)?;
    Ok(ids)
}

/// An automatic run over `units` (a subtree the caller may work in). One
/// run at a time: the plan is made after taking the allocation lock, from
/// committed data, so two runs never plan the same device or need.
pub fn run(
    conn: &mut DbConn,
    actor: &str,
    units: Option<&[String]>,
    request: &RunRequest,
) -> Result<RunReport, Failure> {
    conn.transaction(|conn| {
        if !request.dry_run {
            conn.lock(WriteLock::Allocation)?;
        }
        let parents = parents(conn)?;
        let (needs, stock) = candidates(conn, units, &request.kinds)?;
        let district_of = |unit: &str| -> Option<String> {
            // The unit just below the province on the way up.
            let mut current = unit.to_owned();
            loop {
                let parent = parents.get(&current).cloned().flatten()?;
                if parents.get(&parent).cloned().flatten().is_none() {
                    return Some(current);
                }
                current = parent;
            }
        };
        let quotas = Quotas {
            per_school: request.quota_per_school,
            per_district: request.quota_per_district,
        };
        let (matches, unmatched) = matching::plan(needs, stock, &parents, &district_of, quotas);
        let mut allocation_ids = Vec::new();
        if !request.dry_run && !matches.is_empty() {
            allocation_ids = commit(conn, actor, &matches)?;
            crate::platform::audit::record(
                conn,
                actor,
                "run",
                "allocations",
                request.admin_unit.as_deref().unwrap_or("*"),
                json!({"matched": matches.len(), "unmatched": unmatched.len()}),
            )?;
        }
        Ok(RunReport {
            dry_run: request.dry_run,
            matches,
            unmatched,
            allocation_ids,
        })
    })
}

/// A page of the allocations of needs in `scope`, oldest first; `units` is
/// the resolved subtree of `filter.admin_unit`. Scope and filters are part
/// of the query, so every page is full and nothing outside the scope is read.
pub fn list(
    conn: &mut DbConn,
    scope: &Reach,
    filter: &AllocationFilter,
    units: Option<&[String]>,
    page: &PageRequest<i64>,
) -> Result<AllocationPage, Failure> {
    let scope_units = scope.unit_codes();
    let rows: Vec<AllocationRow> = with_conn!(conn, |c| {
        let mut query = allocations::table
            .inner_join(needs::table)
            .select(AllocationRow::as_select())
            .order(allocations::id)
            .limit(page.fetch())
            .into_boxed();
        if let Some(after) = page.after {
            query = query.filter(allocations::id.gt(after));
        }
        if let Some(units) = &scope_units {
            query = query.filter(needs::admin_unit_code.eq_any(units.clone()));
        }
        if let Reach::School(id) = scope {
            query = query.filter(needs::school_id.eq(*id));
        }
        if let Some(units) = units {
            query = query.filter(needs::admin_unit_code.eq_any(units));
        }
        if let Some(school_id) = filter.school_id {
            query = query.filter(needs::school_id.eq(school_id));
        }
        if let Some(need) = filter.need_id {
            query = query.filter(allocations::need_id.eq(need));
        }
        if let Some(status) = filter.status {
            query = query.filter(allocations::status.eq(status));
        }
        query.load(c)
    })?;
    let (rows, next_cursor) = page.finish(rows, |row| row.id);
    Ok(AllocationPage {
        items: rows.into_iter().map(Allocation::from).collect(),
        next_cursor,
    })
}
