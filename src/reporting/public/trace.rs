//! "Follow your donation": where one gift went, by district, never by
//! child, for every kind of gift.
//!
//! - Devices, data packages and software licences: the units of the gift
//!   that are with a student (or a school) now, counted by the district of
//!   the need they went to. A device that came back leaves the count until
//!   it is handed over again.
//! - Money: pro rata. Every đồng of a campaign's fund is spent alike, so a
//!   gift's share of each purchase is its share of the campaign's money
//!   (the gift net of reversals over all the campaign's gifts net of
//!   reversals); the goods those purchases brought, and the students they
//!   reached, are attributed to the gift by that share (rounded, largest
//!   remainders first so the districts add up to the total).
//!
//! The counts of students are protected like every public count: `"<5"`
//! for 1 to 4, and a district withheld where the others and the total would
//! give it away.

use crate::platform::error::Failure;
use std::collections::{BTreeMap, HashMap};

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::disclosure::{PublicCount, SumTree};
use super::figures::ANONYMOUS;
use crate::distribution::inventory::ItemStatus;
use crate::donations::kinds::DonationKind;
use crate::donations::receipts::{ReceiptRow, ReceiptType};
use crate::platform::db::schema::{
    admin_units, allocations, handovers, inventory_items, inventory_packages, needs, receipts,
};
use crate::platform::db::{with_conn, DbConn};

#[derive(Debug, Serialize, ToSchema)]
pub struct TraceDistrict {
    #[schema(example = "150")]
    pub admin_unit: String,
    pub name: String,
    /// Students who hold something of this gift there now.
    pub students: PublicCount,
}

/// For a money gift: its share of the campaign's money and what that
/// share bought.
#[derive(Debug, Serialize, ToSchema)]
pub struct MoneyTrace {
    /// The gift over all the campaign's gifts (net of reversals), in percent.
    pub share_percent: f64,
    pub campaign_received_vnd: i64,
    pub campaign_spent_vnd: i64,
    /// The gift's share of what the campaign spent, in đồng (rounded).
    pub spent_vnd: i64,
    /// What the campaign's purchases brought, attributed to the gift by its
    /// share (to one decimal).
    pub bought: Vec<AttributedGoods>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttributedGoods {
    /// `device:<type>`, `data_package` or `software`.
    pub kind: String,
    pub quantity: f64,
}

/// Where one gift went, by district, never by child.
#[derive(Debug, Serialize, ToSchema)]
pub struct DonationTrace {
    pub receipt_id: i64,
    /// The donor's name, or "Nhà hảo tâm ẩn danh".
    pub donor: String,
    pub campaign: String,
    /// `money`, `device:<type>`, `data_package` or `software`.
    pub kind: String,
    pub amount_vnd: Option<i64>,
    pub quantity: Option<i32>,
    /// The gift was reversed (recorded by mistake): it counts for nothing.
    pub reversed: bool,
    /// Students who hold something of this gift now (for money: attributed
    /// by its share).
    pub students_reached: PublicCount,
    /// Schools whose students (or the school itself) hold something of it.
    pub schools_reached: i64,
    pub by_district: Vec<TraceDistrict>,
    /// Goods of the gift not with a student now: in stock, allocated, or
    /// not yet registered (goods gifts only).
    pub not_yet_handed_over: Option<i64>,
    pub money: Option<MoneyTrace>,
}

/// A handed-over unit's destination: (need's admin unit, school, student?).
type Destination = (String, i64, Option<i64>);

/// Where the units of these receipts are with students now.
fn destinations(conn: &mut DbConn, receipt_ids: &[i64]) -> Result<Vec<Destination>, Failure> {
    if receipt_ids.is_empty() {
        return Ok(Vec::new());
    }
    // Devices: those handed over now, through their live handover.
    let devices: Vec<Destination> = with_conn!(conn, |c| handovers::table
        .inner_join(allocations::table.inner_join(needs::table))
        .inner_join(
            inventory_items::table.on(allocations::item_id.eq(inventory_items::id.nullable())),
        )
        .filter(inventory_items::receipt_id.eq_any(receipt_ids))
        .filter(inventory_items::status.eq(ItemStatus::HandedOver))
        .filter(handovers::returned_on.is_null())
        .select((needs::admin_unit_code, needs::school_id, needs::student_id))
        .load(c))?;
    // Packages and licences: every unit handed over (they do not come back).
    let packages: Vec<Destination> = with_conn!(conn, |c| handovers::table
        .inner_join(allocations::table.inner_join(needs::table))
        .inner_join(
            inventory_packages::table
                .on(allocations::package_id.eq(inventory_packages::id.nullable())),
        )
        .filter(inventory_packages::receipt_id.eq_any(receipt_ids))
        .filter(handovers::returned_on.is_null())
        .select((needs::admin_unit_code, needs::school_id, needs::student_id))
        .load(c))?;
    Ok(devices.into_iter().chain(packages).collect())
}

/// The unit just below the province on the way up from `unit` (the
/// district; in a two-level tree, the commune itself).
fn district_of(parents: &HashMap<String, Option<String>>, unit: &str) -> String {
    let mut current = unit.to_owned();
    loop {
        match parents.get(&current).cloned().flatten() {
            Some(parent) if parents.get(&parent).cloned().flatten().is_some() => current = parent,
            _ => return current,
        }
    }
}

/// Splits `total × share` over parts in proportion, as whole numbers that
/// add up (largest remainders first).
fn apportion(parts: &BTreeMap<String, i64>, share: f64) -> BTreeMap<String, i64> {
    let exact: Vec<(String, f64)> = parts
        .iter()
        .map(|(k, v)| (k.clone(), *v as f64 * share))
        .collect();
    let target = exact.iter().map(|(_, v)| v).sum::<f64>().round() as i64;
    let mut out: BTreeMap<String, i64> = exact
        .iter()
        .map(|(k, v)| (k.clone(), v.floor() as i64))
        .collect();
    let mut remainders: Vec<(f64, String)> = exact
        .iter()
        .map(|(k, v)| (v - v.floor(), k.clone()))
        .collect();
    remainders.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let missing = target - out.values().sum::<i64>();
    for (_, key) in remainders.into_iter().take(missing.max(0) as usize) {
        *out.entry(key).or_default() += 1;
    }
    out
}

/// The net of a set of receipts and their reversals (money: đồng; goods: count).
fn net(conn: &mut DbConn, original: &ReceiptRow) -> Result<i64, Failure> {
    let reversal: Option<i64> = with_conn!(conn, |c| receipts::table
        .filter(receipts::reverses_id.eq(original.id))
        .select(receipts::id)
        .first(c)
        .optional())?;
    Ok(match reversal {
        Some(_) => 0,
        None => original
            .amount_vnd
            .unwrap_or(original.quantity.unwrap_or(0) as i64),
    })
}

/// The trace of one receipt.
pub fn trace(conn: &mut DbConn, receipt: ReceiptRow) -> Result<DonationTrace, Failure> {
    let donor = match receipt.donor_id {
        Some(id) => {
            let donor = crate::donations::donors::queries::find(conn, id)?;
            if donor.anonymous_publicly {
                ANONYMOUS.to_owned()
            } else {
                donor.name
            }
        }
        None => ANONYMOUS.to_owned(),
    };
    let campaign = crate::donations::campaigns::queries::find(conn, receipt.campaign_id)?.name;
    let parents: HashMap<String, Option<String>> = with_conn!(conn, |c| admin_units::table
        .select((admin_units::code, admin_units::parent_code))
        .load::<(String, Option<String>)>(c))?
    .into_iter()
    .collect();
    let names: HashMap<String, String> = with_conn!(conn, |c| admin_units::table
        .select((admin_units::code, admin_units::name))
        .load::<(String, String)>(c))?
    .into_iter()
    .collect();
    let gift = net(conn, &receipt)?;
    let reversed = gift == 0 && receipt.reverses_id.is_none();

    let (share, sources, money) = if receipt.kind == DonationKind::Money {
        let balance = crate::donations::funds::queries::balance(conn, receipt.campaign_id)?;
        let campaign_received = balance.received_vnd + balance.reversed_vnd;
        let share = if campaign_received > 0 {
            gift as f64 / campaign_received as f64
        } else {
            0.0
        };
        // What the campaign's purchases brought.
        let bought: Vec<(
            i64,
            DonationKind,
            Option<crate::donations::kinds::DeviceType>,
            Option<i32>,
        )> = with_conn!(conn, |c| receipts::table
            .filter(receipts::campaign_id.eq(receipt.campaign_id))
            .filter(receipts::receipt_type.eq(ReceiptType::Purchase))
            .select((
                receipts::id,
                receipts::kind,
                receipts::device_type,
                receipts::quantity
            ))
            .load(c))?;
        let mut goods: BTreeMap<String, i64> = BTreeMap::new();
        for (_, kind, device, quantity) in &bought {
            *goods
                .entry(crate::reporting::stats::donations::kind_key(*kind, *device))
                .or_default() += quantity.unwrap_or(0) as i64;
        }
        let money = MoneyTrace {
            share_percent: (share * 10_000.0).round() / 100.0,
            campaign_received_vnd: campaign_received,
            campaign_spent_vnd: balance.spent_vnd,
            spent_vnd: (balance.spent_vnd as f64 * share).round() as i64,
            bought: goods
                .into_iter()
                .filter(|(_, q)| *q != 0)
                .map(|(kind, q)| AttributedGoods {
                    kind,
                    quantity: (q as f64 * share * 10.0).round() / 10.0,
                })
                .collect(),
        };
        let sources: Vec<i64> = bought.iter().map(|(id, ..)| *id).collect();
        (share, sources, Some(money))
    } else {
        let share = if gift > 0 { 1.0 } else { 0.0 };
        (share, vec![receipt.id], None)
    };

    let reached = destinations(conn, &sources)?;
    let mut students_by_district: BTreeMap<String, i64> = BTreeMap::new();
    let mut schools: std::collections::BTreeSet<i64> = Default::default();
    for (unit, school, student) in &reached {
        schools.insert(*school);
        if student.is_some() {
            *students_by_district
                .entry(district_of(&parents, unit))
                .or_default() += 1;
        }
    }
    let attributed = apportion(&students_by_district, share);
    let total: i64 = attributed.values().sum();
    // The total and its districts: one sum, protected together.
    let mut tree = SumTree::default();
    let root = tree.add(total, None, true);
    let cells: Vec<(String, usize)> = attributed
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(district, n)| (district.clone(), tree.add(*n, Some(root), true)))
        .collect();
    let shown = tree.protect();
    let not_yet = (receipt.kind != DonationKind::Money).then(|| {
        let with_students = reached.len() as i64;
        (gift - with_students).max(0)
    });
    Ok(DonationTrace {
        receipt_id: receipt.id,
        donor,
        campaign,
        kind: crate::reporting::stats::donations::kind_key(receipt.kind, receipt.device_type),
        amount_vnd: receipt.amount_vnd,
        quantity: receipt.quantity,
        reversed,
        students_reached: shown[root],
        schools_reached: if share > 0.0 { schools.len() as i64 } else { 0 },
        by_district: cells
            .into_iter()
            .map(|(district, at)| TraceDistrict {
                name: names.get(&district).cloned().unwrap_or_default(),
                admin_unit: district,
                students: shown[at],
            })
            .collect(),
        not_yet_handed_over: not_yet,
        money,
    })
}

/// The receipt a public reference names: the reference printed on the
/// thank-you letter, or the bank transfer's reference. Not the receipt
/// number: numbers are sequential, and anyone could walk through every
/// gift. Reversal rows are not gifts: 404.
pub fn find_by_reference(conn: &mut DbConn, reference: &str) -> Result<ReceiptRow, Failure> {
    let found: Option<ReceiptRow> = with_conn!(conn, |c| receipts::table
        .filter(
            receipts::public_ref
                .eq(reference)
                .or(receipts::bank_reference.eq(reference)),
        )
        .filter(receipts::reverses_id.is_null())
        .select(ReceiptRow::as_select())
        .first(c)
        .optional())?;
    found.ok_or_else(|| Failure::not_found("no gift with this reference"))
}
