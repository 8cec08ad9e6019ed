//! The stock: intake of devices and packages from receipts, checks and wipes,
//! transfers, write-offs, the stock ledger and the stock report.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use serde_json::json;

use super::imei;
use super::model::*;
use crate::distribution::inventory::workflow;
use crate::distribution::warehouses::check_reach;
use crate::donations::kinds::{DeviceType, DonationKind};
use crate::donations::receipts::ReceiptRow;
use crate::platform::auth::Reach;
use crate::platform::db::page::PageRequest;
use crate::platform::db::schema::{inventory_items, inventory_packages, stock_movements};
use crate::platform::db::{with_conn, DbConn};
use crate::platform::error::FieldError;
use crate::platform::error::{Failure, OrUnknown};
use crate::registry::sync::batch::RowReport;

const CHUNK: usize = 1_000;

pub fn device_key(item: &ItemRow) -> String {
    format!("device:{}", item.device_type)
}

pub fn package_key(package_id: i64) -> String {
    format!("package:{package_id}")
}

/// One row of the stock ledger.
pub struct MovementRecord<'a> {
    pub movement: Movement,
    pub warehouse_id: i64,
    pub stock_key: String,
    pub item_id: Option<i64>,
    pub package_id: Option<i64>,
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub quantity: i32,
    pub reason: Option<&'a str>,
}

pub fn record(conn: &mut DbConn, actor: &str, m: MovementRecord) -> Result<(), Failure> {
    with_conn!(conn, |c| diesel::insert_into(stock_movements::table)
        .values((
            stock_movements::movement.eq(m.movement),
            stock_movements::warehouse_id.eq(m.warehouse_id),
            stock_movements::stock_key.eq(&m.stock_key),
            stock_movements::item_id.eq(m.item_id),
            stock_movements::package_id.eq(m.package_id),
            stock_movements::from_status.eq(m.from),
            stock_movements::to_status.eq(m.to),
            stock_movements::quantity.eq(m.quantity),
            stock_movements::reason.eq(m.reason),
            stock_movements::actor.eq(actor),
            stock_movements::at.eq(crate::platform::db::now()),
        ))
        .execute(c))?;
    Ok(())
}

/// Moves `quantity` units of a package between two states in the stock
/// ledger (reserve, release, hand over): packages are counted, not
/// tracked one by one, so the ledger row is the whole record of the move.
#[allow(clippy::too_many_arguments)]
pub fn move_package(
    conn: &mut DbConn,
    actor: &str,
    package: &PackageRow,
    from: ItemStatus,
    to: ItemStatus,
    movement: Movement,
    quantity: i32,
    reason: Option<&str>,
) -> Result<(), Failure> {
    workflow::check_move(from, to, movement)?;
    record(
        conn,
        actor,
        MovementRecord {
            movement,
            warehouse_id: package.warehouse_id,
            stock_key: package_key(package.id),
            item_id: None,
            package_id: Some(package.id),
            from: Some(from.as_str()),
            to: Some(to.as_str()),
            quantity,
            reason,
        },
    )
}

/// Moves a device from one status to another, if it is still in `from`
/// (so two concurrent moves cannot both happen), with its ledger row.
pub fn move_item(
    conn: &mut DbConn,
    actor: &str,
    item: &ItemRow,
    to: ItemStatus,
    movement: Movement,
    reason: Option<&str>,
) -> Result<ItemRow, Failure> {
    workflow::check_move(item.status, to, movement)?;
    let row: Option<ItemRow> = with_conn!(conn, |c| diesel::update(
        inventory_items::table
            .filter(inventory_items::id.eq(item.id))
            .filter(inventory_items::status.eq(item.status))
    )
    .set((
        inventory_items::status.eq(to),
        inventory_items::status_reason.eq(reason),
        inventory_items::version.eq(inventory_items::version + 1),
        inventory_items::updated_at.eq(crate::platform::db::now()),
    ))
    .returning(ItemRow::as_returning())
    .get_result(c)
    .optional())?;
    let row = row.ok_or_else(|| {
        Failure::conflict(format!(
            "device {} changed meanwhile; read it again",
            item.id
        ))
    })?;
    record(
        conn,
        actor,
        MovementRecord {
            movement,
            warehouse_id: item.warehouse_id,
            stock_key: device_key(item),
            item_id: Some(item.id),
            package_id: None,
            from: Some(item.status.as_str()),
            to: Some(to.as_str()),
            quantity: 1,
            reason,
        },
    )?;
    Ok(row)
}

pub fn find_item(conn: &mut DbConn, id: i64) -> Result<ItemRow, Failure> {
    let row: Option<ItemRow> = with_conn!(conn, |c| inventory_items::table
        .find(id)
        .select(ItemRow::as_select())
        .first(c)
        .optional())?;
    row.ok_or_else(|| Failure::not_found(String::from("no device has this id")))
}

pub fn find_visible_item(conn: &mut DbConn, scope: &Reach, id: i64) -> Result<ItemRow, Failure> {
    let item = find_item(conn, id)?;
    if scope.allows_warehouse(item.warehouse_id)
        || item
            .transfer_to
            .is_some_and(|to| scope.allows_warehouse(to))
    {
        Ok(item)
    } else {
        Err(Failure::not_found(String::from("no device has this id")))
    }
}

/// The earmark of what a receipt brought: the pledge's admin unit, or the
/// admin unit of the pledge's school.
fn earmark_of(conn: &mut DbConn, receipt: &ReceiptRow) -> Result<Option<String>, Failure> {
    let Some(pledge) = receipt.pledge_id else {
        return Ok(None);
    };
    let pledge = crate::donations::pledges::queries::find(conn, pledge)?;
    if let Some(unit) = pledge.earmark_admin_unit {
        return Ok(Some(unit));
    }
    match pledge.earmark_school_id {
        Some(school) => Ok(Some(
            crate::registry::schools::queries::find(conn, school)?.admin_unit_code,
        )),
        None => Ok(None),
    }
}

/// Registers the devices of one receipt line. Any bad row (no serial or
/// IMEI, a bad IMEI check digit, a serial or IMEI already known or repeated)
/// refuses the whole intake: 422 with one entry per bad row.
pub fn intake(
    conn: &mut DbConn,
    actor: &str,
    scope: &Reach,
    request: IntakeRequest,
) -> Result<Vec<ItemRow>, Failure> {
    if request.devices.is_empty() || request.devices.len() > 5_000 {
        return Err(Failure::invalid_field(
            "devices",
            "count",
            "send 1 to 5000 devices",
        ));
    }
    conn.transaction(|conn| {
        check_reach(scope, request.warehouse_id).or_unknown("warehouse_id")?;
        crate::distribution::warehouses::find(conn, request.warehouse_id).or_unknown("warehouse_id")?;
        let (receipt, device_type) = receipt_with_room(conn, &request)?;
        check_devices(conn, &request.devices)?;
        let earmark = earmark_of(conn, &receipt)?;
        let created = insert_devices(conn, actor, &request, &receipt, device_type, earmark)?;
        crate::platform::audit::record(
            conn,
            actor,
            "intake",
            "inventory_items",
            &receipt.id.to_string(),
            json!({"receipt_id": receipt.id, "warehouse_id": request.warehouse_id, "devices": created.len()}),
        )?;
        Ok(created)
    })
}

/// The receipt an intake registers devices of: a line of devices, not
/// reversed, with room for this many more (locked, so two intakes of the
/// same receipt cannot both fill the last places).
fn receipt_with_room(
    conn: &mut DbConn,
    request: &IntakeRequest,
) -> Result<(ReceiptRow, DeviceType), Failure> {
    let receipt = crate::donations::receipts::queries::find(conn, request.receipt_id)
        .or_unknown("receipt_id")?;
    let device_type = match (receipt.kind, receipt.device_type, receipt.reverses_id) {
        (DonationKind::Device, Some(device_type), None) => device_type,
        _ => {
            return Err(Failure::invalid_field(
                "receipt_id",
                "not_devices",
                "the receipt is not a line of devices",
            ))
        }
    };
    conn.lock(crate::platform::db::WriteLock::ReceiptIntake(receipt.id))?;
    if crate::donations::receipts::queries::is_reversed(conn, receipt.id)? {
        return Err(Failure::conflict(format!(
            "receipt {} was reversed: nothing of it arrived",
            receipt.id
        )));
    }
    let registered: i64 = with_conn!(conn, |c| inventory_items::table
        .filter(inventory_items::receipt_id.eq(receipt.id))
        .count()
        .get_result(c))?;
    let expected = receipt.quantity.unwrap_or(0) as i64;
    if registered + request.devices.len() as i64 > expected {
        return Err(Failure::invalid_field(
            "devices",
            "too_many",
            format!("the receipt brought {expected} devices; {registered} are registered already"),
        ));
    }
    Ok((receipt, device_type))
}

/// Every bad row of an intake at once, or none.
fn check_devices(conn: &mut DbConn, devices: &[IntakeDevice]) -> Result<(), Failure> {
    let mut rows: Vec<RowReport> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let serials: Vec<&str> = devices.iter().filter_map(|d| d.serial.as_deref()).collect();
    let imeis: Vec<&str> = devices.iter().filter_map(|d| d.imei.as_deref()).collect();
    let known: HashSet<String> = with_conn!(conn, |c| inventory_items::table
        .filter(
            inventory_items::serial
                .eq_any(&serials)
                .or(inventory_items::imei.eq_any(&imeis))
        )
        .select((inventory_items::serial, inventory_items::imei))
        .load::<(Option<String>, Option<String>)>(c))?
    .into_iter()
    .flat_map(|(s, i)| {
        [
            s.map(|s| format!("serial:{s}")),
            i.map(|i| format!("imei:{i}")),
        ]
    })
    .flatten()
    .collect();
    for (index, device) in devices.iter().enumerate() {
        let mut errors = Vec::new();
        if device.serial.is_none() && device.imei.is_none() {
            errors.push(FieldError::new(
                "serial",
                "required",
                "give a serial number or an IMEI",
            ));
        }
        if let Some(imei) = &device.imei {
            if !imei::is_valid(imei) {
                errors.push(FieldError::new(
                    "imei",
                    "check_digit",
                    "not a valid IMEI (15 digits, Luhn check digit)",
                ));
            }
        }
        for (field, value) in [("serial", &device.serial), ("imei", &device.imei)] {
            let Some(value) = value else { continue };
            let key = format!("{field}:{value}");
            if known.contains(&key) {
                errors.push(FieldError::new(
                    field,
                    "duplicate",
                    format!("this {field} is already in stock"),
                ));
            } else if let Some(first) = seen.insert(key, index) {
                errors.push(FieldError::new(
                    field,
                    "duplicate",
                    format!("this {field} is also on row {first}"),
                ));
            }
        }
        if !errors.is_empty() {
            rows.push(RowReport {
                index,
                line: None,
                key: device.serial.clone().or_else(|| device.imei.clone()),
                errors,
            });
        }
    }
    if !rows.is_empty() {
        return Err(Failure::invalid_field(
            "devices",
            "rejected_rows",
            format!(
                "{} device(s) are invalid: nothing was registered",
                rows.len()
            ),
        )
        .with_rows(serde_json::to_value(&rows).unwrap_or_default()));
    }
    Ok(())
}

/// Inserts the devices (in chunks) and their ledger rows.
fn insert_devices(
    conn: &mut DbConn,
    actor: &str,
    request: &IntakeRequest,
    receipt: &ReceiptRow,
    device_type: DeviceType,
    earmark: Option<String>,
) -> Result<Vec<ItemRow>, Failure> {
    let now = crate::platform::db::now();
    let mut created = Vec::with_capacity(request.devices.len());
    for chunk in request.devices.chunks(CHUNK) {
        let values: Vec<_> = chunk
            .iter()
            .map(|d| {
                (
                    inventory_items::device_type.eq(device_type),
                    inventory_items::model.eq(d.model.clone()),
                    inventory_items::serial.eq(d.serial.clone()),
                    inventory_items::imei.eq(d.imei.clone()),
                    inventory_items::condition.eq(request.condition),
                    inventory_items::receipt_id.eq(receipt.id),
                    inventory_items::warehouse_id.eq(request.warehouse_id),
                    inventory_items::earmark_admin_unit.eq(earmark.clone()),
                    inventory_items::status.eq(ItemStatus::Intake),
                    inventory_items::created_at.eq(now),
                    inventory_items::updated_at.eq(now),
                )
            })
            .collect();
        let rows: Vec<ItemRow> = with_conn!(conn, |c| diesel::insert_into(inventory_items::table)
            .values(&values)
            .returning(ItemRow::as_returning())
            .get_results(c))?;
        created.extend(rows);
    }
    for item in &created {
        record(
            conn,
            actor,
            MovementRecord {
                movement: Movement::Intake,
                warehouse_id: item.warehouse_id,
                stock_key: device_key(item),
                item_id: Some(item.id),
                package_id: None,
                from: None,
                to: Some(ItemStatus::Intake.as_str()),
                quantity: 1,
                reason: None,
            },
        )?;
    }
    Ok(created)
}

/// Reads `serial,imei,model` lines.
pub fn parse_intake_csv(bytes: &[u8]) -> Result<Vec<IntakeDevice>, Failure> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let header = reader
        .headers()
        .map_err(|e| Failure::invalid_field("header", "unreadable", e.to_string()))?
        .clone();
    let column = |name: &str| header.iter().position(|h| h == name);
    let (serial, imei, model) = (column("serial"), column("imei"), column("model"));
    if serial.is_none() && imei.is_none() {
        return Err(Failure::invalid_field(
            "header",
            "missing_columns",
            "the header needs serial and/or imei (and optionally model)",
        ));
    }
    let mut devices = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let record = record.map_err(|_| {
            Failure::validation(vec![FieldError::new(
                "line",
                "unreadable",
                format!("data line {} cannot be read", index + 1),
            )
            .on_line(index as u64 + 2)])
        })?;
        let get = |at: Option<usize>| {
            at.and_then(|i| record.get(i))
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        devices.push(IntakeDevice {
            serial: get(serial),
            imei: get(imei),
            model: get(model),
        });
    }
    Ok(devices)
}

/// Records the check of a device: who, when, whether it was wiped, its condition.
pub fn check(
    conn: &mut DbConn,
    actor: &str,
    scope: &Reach,
    id: i64,
    request: CheckRequest,
) -> Result<ItemRow, Failure> {
    conn.transaction(|conn| {
        let item = find_visible_item(conn, scope, id)?;
        // A ready or reserved device is checked again to apply a newer
        // device profile; it stays where it is, so it cannot turn out to
        // need repair there.
        let in_stock = matches!(item.status, ItemStatus::Ready | ItemStatus::Reserved);
        if !(in_stock || matches!(item.status, ItemStatus::Intake | ItemStatus::Returned)) {
            return Err(Failure::conflict(format!(
                "a {} device is not checked",
                item.status
            )));
        }
        if in_stock && request.condition == ItemCondition::NeedsRepair {
            return Err(Failure::conflict(format!(
                "a {} device that needs repair is taken out of stock first (written off, or returned)",
                item.status
            )));
        }
        if let Some(applied) = &request.profile {
            let current = crate::distribution::profiles::queries::current_version(conn)?;
            if current != Some(applied.version) {
                return Err(Failure::invalid_field(
                    "profile.version",
                    "not_current",
                    "apply the current device profile (GET /device-profiles/current)",
                ));
            }
        }
        if !request.wiped && item.condition != ItemCondition::New {
            return Err(Failure::invalid_field(
                "wiped",
                "required",
                "a used device must be wiped of the donor's data",
            ));
        }
        let now = crate::platform::db::now();
        let (profile_version, profile_failures, profile_applied_at) = match &request.profile {
            Some(applied) => (
                Some(applied.version),
                (!applied.failed.is_empty()).then(|| json!(applied.failed).to_string()),
                Some(now),
            ),
            None => (
                item.profile_version,
                item.profile_failures.clone(),
                item.profile_applied_at,
            ),
        };
        let row: ItemRow = with_conn!(conn, |c| diesel::update(inventory_items::table.find(id))
            .set((
                inventory_items::condition.eq(request.condition),
                inventory_items::checked_by.eq(actor),
                inventory_items::checked_at.eq(now),
                inventory_items::profile_version.eq(profile_version),
                inventory_items::profile_failures.eq(&profile_failures),
                inventory_items::profile_applied_at.eq(profile_applied_at),
                inventory_items::version.eq(inventory_items::version + 1),
                inventory_items::updated_at.eq(now),
            ))
            .returning(ItemRow::as_returning())
            .get_result(c))?;
        record(
            conn,
            actor,
            MovementRecord {
                movement: Movement::Check,
                warehouse_id: item.warehouse_id,
                stock_key: device_key(&item),
                item_id: Some(id),
                package_id: None,
                from: Some(item.status.as_str()),
                to: Some(item.status.as_str()),
                quantity: 1,
                reason: Some(if request.wiped {
                    "checked and wiped"
                } else {
                    "checked"
                }),
            },
        )?;
        crate::platform::audit::record(
            conn,
            actor,
            "check",
            "inventory_item",
            &id.to_string(),
            json!({
                "wiped": request.wiped,
                "condition": request.condition,
                "profile_version": request.profile.as_ref().map(|p| p.version),
                "profile_failures": request.profile.as_ref().map(|p| p.failed.len()),
            }),
        )?;
        Ok(row)
    })
}

/// The moves a warehouse makes by hand; reserving and handing over belong
/// to allocations and handovers.
pub fn transition(
    conn: &mut DbConn,
    actor: &str,
    scope: &Reach,
    id: i64,
    request: ItemTransition,
) -> Result<ItemRow, Failure> {
    use ItemStatus::*;
    conn.transaction(|conn| {
        let item = find_visible_item(conn, scope, id)?;
        let reason = request.reason.as_deref();
        workflow::by_hand(item.status, request.to)?;
        match (item.status, request.to) {
            (Intake | Returned, Ready) => {
                if item.condition == ItemCondition::NeedsRepair {
                    return Err(Failure::conflict(
                        "the device needs repair; check it again once repaired",
                    ));
                }
                // Used devices, and every device that came back, are checked
                // (and wiped) before they reach a child; a return clears the check.
                let must_check = item.condition != ItemCondition::New || item.status == Returned;
                if must_check && item.checked_at.is_none() {
                    return Err(Failure::conflict(
                        "check (and wipe) the device first: POST …/check",
                    ));
                }
                // Safe internet: no device is ready for a child without
                // the current device profile applied in full.
                crate::distribution::profiles::queries::ensure_current(
                    conn,
                    item.id,
                    item.profile_version,
                    item.profile_failures.as_deref(),
                )?;
                move_item(conn, actor, &item, Ready, Movement::Adjustment, reason)
            }
            (Returned, Intake) => {
                move_item(conn, actor, &item, Intake, Movement::Adjustment, reason)
            }
            (Ready, InTransit) => {
                let to = request
                    .warehouse_id
                    .filter(|to| *to != item.warehouse_id)
                    .ok_or_else(|| {
                        Failure::invalid_field(
                            "warehouse_id",
                            "required",
                            "name the destination warehouse",
                        )
                    })?;
                crate::distribution::warehouses::find(conn, to).or_unknown("warehouse_id")?;
                check_reach(scope, item.warehouse_id)?;
                let moved =
                    move_item(conn, actor, &item, InTransit, Movement::TransferOut, reason)?;
                let row: ItemRow =
                    with_conn!(conn, |c| diesel::update(inventory_items::table.find(id))
                        .set(inventory_items::transfer_to.eq(Some(to)))
                        .returning(ItemRow::as_returning())
                        .get_result(c))?;
                let _ = moved;
                Ok(row)
            }
            (InTransit, Ready) => {
                let destination = item
                    .transfer_to
                    .ok_or_else(|| Failure::internal("in transit without a destination"))?;
                check_reach(scope, destination)?;
                // Leaves the source's in-transit count, enters the destination's ready count.
                record(
                    conn,
                    actor,
                    MovementRecord {
                        movement: Movement::TransferIn,
                        warehouse_id: item.warehouse_id,
                        stock_key: device_key(&item),
                        item_id: Some(id),
                        package_id: None,
                        from: Some(InTransit.as_str()),
                        to: None,
                        quantity: 1,
                        reason,
                    },
                )?;
                record(
                    conn,
                    actor,
                    MovementRecord {
                        movement: Movement::TransferIn,
                        warehouse_id: destination,
                        stock_key: device_key(&item),
                        item_id: Some(id),
                        package_id: None,
                        from: None,
                        to: Some(Ready.as_str()),
                        quantity: 1,
                        reason,
                    },
                )?;
                let row: ItemRow = with_conn!(conn, |c| diesel::update(
                    inventory_items::table
                        .filter(inventory_items::id.eq(id))
                        .filter(inventory_items::status.eq(InTransit))
                )
                .set((
                    inventory_items::status.eq(Ready),
                    inventory_items::warehouse_id.eq(destination),
                    inventory_items::transfer_to.eq(None::<i64>),
                    inventory_items::version.eq(inventory_items::version + 1),
                    inventory_items::updated_at.eq(crate::platform::db::now()),
                ))
                .returning(ItemRow::as_returning())
                .get_result(c))?;
                Ok(row)
            }
            (Intake | Ready | Returned | InTransit, WrittenOff) => {
                if reason.is_none() {
                    return Err(Failure::invalid_field(
                        "reason",
                        "required",
                        "say why (lost, damaged, stolen, beyond repair)",
                    ));
                }
                move_item(conn, actor, &item, WrittenOff, Movement::WriteOff, reason)
            }
            (from, to) => Err(Failure::internal(format!(
                "the move table allows {from} -> {to} by hand but no code makes it"
            ))),
        }
        .and_then(|row| {
            crate::platform::audit::record(
                conn,
                actor,
                "transition",
                "inventory_item",
                &id.to_string(),
                json!({"from": item.status, "to": row.status, "reason": reason}),
            )?;
            Ok(row)
        })
    })
}

pub fn list_items(
    conn: &mut DbConn,
    scope: &Reach,
    filter: &ItemFilter,
    page: &PageRequest<i64>,
) -> Result<ItemPage, Failure> {
    let allowed = scope.warehouse_ids();
    let rows: Vec<ItemRow> = with_conn!(conn, |c| {
        let mut query = inventory_items::table
            .select(ItemRow::as_select())
            .order(inventory_items::id)
            .limit(page.fetch())
            .into_boxed();
        if let Some(after) = page.after {
            query = query.filter(inventory_items::id.gt(after));
        }
        if let Some(ids) = &allowed {
            query = query.filter(inventory_items::warehouse_id.eq_any(ids));
        }
        if let Some(warehouse) = filter.warehouse_id {
            query = query.filter(inventory_items::warehouse_id.eq(warehouse));
        }
        if let Some(status) = filter.status {
            query = query.filter(inventory_items::status.eq(status));
        }
        if let Some(device_type) = filter.device_type {
            query = query.filter(inventory_items::device_type.eq(device_type));
        }
        query.load(c)
    })?;
    let (rows, next_cursor) = page.finish(rows, |r| r.id);
    Ok(ItemPage {
        items: rows.into_iter().map(Item::from).collect(),
        next_cursor,
    })
}

/// Creates package stock from a data-package or software receipt line.
pub fn package_intake(
    conn: &mut DbConn,
    actor: &str,
    scope: &Reach,
    request: PackageIntake,
) -> Result<PackageRow, Failure> {
    conn.transaction(|conn| {
        check_reach(scope, request.warehouse_id).or_unknown("warehouse_id")?;
        crate::distribution::warehouses::find(conn, request.warehouse_id)
            .or_unknown("warehouse_id")?;
        let receipt = crate::donations::receipts::queries::find(conn, request.receipt_id)
            .or_unknown("receipt_id")?;
        if !matches!(
            receipt.kind,
            DonationKind::DataPackage | DonationKind::Software
        ) || receipt.reverses_id.is_some()
        {
            return Err(Failure::invalid_field(
                "receipt_id",
                "not_packages",
                "the receipt is not a line of data packages or licences",
            ));
        }
        if receipt.kind == DonationKind::Software && request.child_safe.is_some() {
            return Err(Failure::invalid_field(
                "child_safe",
                "not_allowed",
                "the operator's child-safe option belongs to data packages",
            ));
        }
        conn.lock(crate::platform::db::WriteLock::ReceiptIntake(receipt.id))?;
        if crate::donations::receipts::queries::is_reversed(conn, receipt.id)? {
            return Err(Failure::conflict(format!(
                "receipt {} was reversed: nothing of it arrived",
                receipt.id
            )));
        }
        let (name, months) = match receipt.pledge_id {
            Some(pledge) => {
                let pledge = crate::donations::pledges::queries::find(conn, pledge)?;
                (
                    pledge.operator_name.or(pledge.product).unwrap_or_default(),
                    pledge.months,
                )
            }
            None => match receipt.purchase_id {
                Some(purchase) => (
                    crate::donations::funds::queries::find_purchase(conn, purchase)?
                        .description
                        .unwrap_or_default(),
                    None,
                ),
                None => (receipt.note.clone().unwrap_or_default(), None),
            },
        };
        let earmark = earmark_of(conn, &receipt)?;
        let row: PackageRow = with_conn!(conn, |c| diesel::insert_into(inventory_packages::table)
            .values((
                inventory_packages::kind.eq(receipt.kind),
                inventory_packages::name.eq(if name.is_empty() {
                    receipt.kind.to_string()
                } else {
                    name
                }),
                inventory_packages::months.eq(months),
                inventory_packages::receipt_id.eq(receipt.id),
                inventory_packages::warehouse_id.eq(request.warehouse_id),
                inventory_packages::earmark_admin_unit.eq(earmark),
                inventory_packages::child_safe.eq(request.child_safe),
                inventory_packages::created_at.eq(crate::platform::db::now()),
            ))
            .returning(PackageRow::as_returning())
            .get_result(c))?;
        record(
            conn,
            actor,
            MovementRecord {
                movement: Movement::Intake,
                warehouse_id: row.warehouse_id,
                stock_key: package_key(row.id),
                item_id: None,
                package_id: Some(row.id),
                from: None,
                to: Some(ItemStatus::Ready.as_str()),
                quantity: receipt.quantity.unwrap_or(0),
                reason: None,
            },
        )?;
        crate::platform::audit::record(
            conn,
            actor,
            "intake",
            "inventory_package",
            &row.id.to_string(),
            json!({"receipt_id": receipt.id, "quantity": receipt.quantity}),
        )?;
        Ok(row)
    })
}

/// How many units of each package are in `status`, from the ledger.
pub fn package_counts(
    conn: &mut DbConn,
    ids: &[i64],
    status: ItemStatus,
) -> Result<HashMap<i64, i64>, Failure> {
    use diesel::dsl::sql;
    use diesel::sql_types::BigInt;
    let mut counts: HashMap<i64, i64> = HashMap::new();
    if ids.is_empty() {
        return Ok(counts);
    }
    let inflow: Vec<(Option<i64>, i64)> = with_conn!(conn, |c| stock_movements::table
        .filter(stock_movements::package_id.eq_any(ids))
        .filter(stock_movements::to_status.eq(status.as_str()))
        .group_by(stock_movements::package_id)
        .select((
            stock_movements::package_id,
            sql::<BigInt>("CAST(SUM(quantity) AS BIGINT)")
        ))
        .load(c))?;
    let outflow: Vec<(Option<i64>, i64)> = with_conn!(conn, |c| stock_movements::table
        .filter(stock_movements::package_id.eq_any(ids))
        .filter(stock_movements::from_status.eq(status.as_str()))
        .group_by(stock_movements::package_id)
        .select((
            stock_movements::package_id,
            sql::<BigInt>("CAST(SUM(quantity) AS BIGINT)")
        ))
        .load(c))?;
    for (id, q) in inflow {
        *counts.entry(id.unwrap_or_default()).or_default() += q;
    }
    for (id, q) in outflow {
        *counts.entry(id.unwrap_or_default()).or_default() -= q;
    }
    Ok(counts)
}

/// A page of the packages in `scope`'s warehouses, oldest first, with
/// what is available of each.
pub fn packages(
    conn: &mut DbConn,
    scope: &Reach,
    page: &PageRequest<i64>,
) -> Result<PackagePage, Failure> {
    let allowed = scope.warehouse_ids();
    let rows: Vec<PackageRow> = with_conn!(conn, |c| {
        let mut query = inventory_packages::table
            .order(inventory_packages::id)
            .limit(page.fetch())
            .select(PackageRow::as_select())
            .into_boxed();
        if let Some(after) = page.after {
            query = query.filter(inventory_packages::id.gt(after));
        }
        if let Some(ids) = &allowed {
            query = query.filter(inventory_packages::warehouse_id.eq_any(ids));
        }
        query.load(c)
    })?;
    let (rows, next_cursor) = page.finish(rows, |row| row.id);
    Ok(PackagePage {
        items: with_available(conn, rows)?,
        next_cursor,
    })
}

/// One package with what is available of it.
pub fn package(conn: &mut DbConn, id: i64) -> Result<Package, Failure> {
    let row = find_package(conn, id)?;
    Ok(with_available(conn, vec![row])?.remove(0))
}

fn with_available(conn: &mut DbConn, rows: Vec<PackageRow>) -> Result<Vec<Package>, Failure> {
    let ids: Vec<i64> = rows.iter().map(|p| p.id).collect();
    let available = package_counts(conn, &ids, ItemStatus::Ready)?;
    Ok(rows
        .into_iter()
        .map(|p| Package {
            available: available.get(&p.id).copied().unwrap_or(0),
            id: p.id,
            kind: p.kind,
            name: p.name,
            months: p.months,
            receipt_id: p.receipt_id,
            warehouse_id: p.warehouse_id,
            earmark_admin_unit: p.earmark_admin_unit,
            child_safe: p.child_safe,
            created_at: crate::platform::db::to_utc(p.created_at),
        })
        .collect())
}

pub fn find_package(conn: &mut DbConn, id: i64) -> Result<PackageRow, Failure> {
    let row: Option<PackageRow> = with_conn!(conn, |c| inventory_packages::table
        .find(id)
        .select(PackageRow::as_select())
        .first(c)
        .optional())?;
    row.ok_or_else(|| Failure::not_found(String::from("no package has this id")))
}

/// Stock per warehouse, kind and status, summed from the ledger.
pub fn stock(conn: &mut DbConn, warehouses: &[i64]) -> Result<Vec<StockLine>, Failure> {
    use diesel::dsl::sql;
    use diesel::sql_types::BigInt;
    type Sum = (i64, String, Option<String>, i64);
    let inflow: Vec<Sum> = with_conn!(conn, |c| stock_movements::table
        .filter(stock_movements::warehouse_id.eq_any(warehouses))
        .filter(stock_movements::to_status.is_not_null())
        .group_by((
            stock_movements::warehouse_id,
            stock_movements::stock_key,
            stock_movements::to_status
        ))
        .select((
            stock_movements::warehouse_id,
            stock_movements::stock_key,
            stock_movements::to_status,
            sql::<BigInt>("CAST(SUM(quantity) AS BIGINT)")
        ))
        .load(c))?;
    let outflow: Vec<Sum> = with_conn!(conn, |c| stock_movements::table
        .filter(stock_movements::warehouse_id.eq_any(warehouses))
        .filter(stock_movements::from_status.is_not_null())
        .group_by((
            stock_movements::warehouse_id,
            stock_movements::stock_key,
            stock_movements::from_status
        ))
        .select((
            stock_movements::warehouse_id,
            stock_movements::stock_key,
            stock_movements::from_status,
            sql::<BigInt>("CAST(SUM(quantity) AS BIGINT)")
        ))
        .load(c))?;
    let mut counts: std::collections::BTreeMap<(i64, String, String), i64> =
        std::collections::BTreeMap::new();
    for (warehouse, key, status, q) in inflow {
        *counts
            .entry((warehouse, key, status.unwrap_or_default()))
            .or_default() += q;
    }
    for (warehouse, key, status, q) in outflow {
        *counts
            .entry((warehouse, key, status.unwrap_or_default()))
            .or_default() -= q;
    }
    Ok(counts
        .into_iter()
        .filter(|(_, count)| *count != 0)
        .map(|((warehouse_id, stock, status), count)| StockLine {
            warehouse_id,
            stock,
            status,
            count,
        })
        .collect())
}

/// Reserves many ready devices at once for an allocation run, with their
/// ledger rows. Every device must still be ready; otherwise nothing moves (409).
pub fn reserve_many(conn: &mut DbConn, actor: &str, ids: &[i64]) -> Result<(), Failure> {
    use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamp};
    let now = crate::platform::db::now();
    for chunk in ids.chunks(CHUNK) {
        let reserved = with_conn!(conn, |c| diesel::update(
            inventory_items::table
                .filter(inventory_items::id.eq_any(chunk))
                .filter(inventory_items::status.eq(ItemStatus::Ready))
        )
        .set((
            inventory_items::status.eq(ItemStatus::Reserved),
            inventory_items::version.eq(inventory_items::version + 1),
            inventory_items::updated_at.eq(now),
        ))
        .execute(c))?;
        if reserved != chunk.len() {
            return Err(Failure::conflict(
                "some devices changed meanwhile; run again",
            ));
        }
        // The ledger rows are read from the devices just reserved, in the
        // database: a thousand rows of eleven values are not sent over.
        with_conn!(conn, |c| diesel::insert_into(stock_movements::table)
            .values(
                inventory_items::table
                    .filter(inventory_items::id.eq_any(chunk))
                    .select((
                        Movement::Reserve.as_str().into_sql::<Text>(),
                        inventory_items::warehouse_id,
                        "device:"
                            .into_sql::<Text>()
                            .concat(inventory_items::device_type),
                        inventory_items::id.nullable(),
                        None::<i64>.into_sql::<Nullable<BigInt>>(),
                        Some(ItemStatus::Ready.as_str()).into_sql::<Nullable<Text>>(),
                        Some(ItemStatus::Reserved.as_str()).into_sql::<Nullable<Text>>(),
                        1.into_sql::<Integer>(),
                        None::<String>.into_sql::<Nullable<Text>>(),
                        actor.into_sql::<Text>(),
                        now.into_sql::<Timestamp>(),
                    ))
            )
            .into_columns((
                stock_movements::movement,
                stock_movements::warehouse_id,
                stock_movements::stock_key,
                stock_movements::item_id,
                stock_movements::package_id,
                stock_movements::from_status,
                stock_movements::to_status,
                stock_movements::quantity,
                stock_movements::reason,
                stock_movements::actor,
                stock_movements::at,
            ))
            .execute(c))?;
    }
    Ok(())
}
