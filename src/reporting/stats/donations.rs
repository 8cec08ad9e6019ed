//! Donations on one basis for every kind of gift: what was pledged, what
//! arrived as gifts (with or without a pledge, net of reversals), what was
//! bought with campaign money, and where every unit is now: waiting to be
//! registered, in stock, allocated, handed over, written off (or, for
//! money, spent). For every line and campaign
//!
//! `received_as_gifts + bought = awaiting_intake + in_stock + allocated
//!  + handed_over + written_off + spent`
//!
//! holds by construction of the stock ledger and the money ledger; a
//! returned device re-enters `in_stock` (`returned` counts the returns that
//! happened). Summed in SQL, grouped by kind, never row by row.

use crate::platform::error::Failure;
use std::collections::{BTreeMap, HashSet};

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::distribution::inventory::{ItemStatus, Movement};
use crate::donations::kinds::{DeviceType, DonationKind};
use crate::donations::pledges::PledgeStatus;
use crate::donations::receipts::ReceiptType;
use crate::platform::db::schema::{
    inventory_items, inventory_packages, pledges, receipts, schools, stock_movements,
};
use crate::platform::db::{with_conn, DbConn};
use crate::platform::money::{join, split_sum};

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DonationStatsQuery {
    pub campaign: Option<i64>,
    /// Only gifts earmarked for this admin unit's subtree (pledges, what
    /// arrived against them, and the stock they became). Money spent and
    /// left are per campaign and absent under this filter.
    pub admin_unit: Option<String>,
    /// `json` (default), `csv`, `xlsx` or `svg` (received against handed over, by kind).
    pub format: Option<crate::platform::http::tabular::TableOrChart>,
    /// Column titles of CSV and XLSX: `en` (field names, default) or `vi`;
    /// a chart's words are Vietnamese unless `en`.
    pub lang: Option<crate::platform::http::tabular::Lang>,
}

/// One kind of gift on one basis (VND for money, a count otherwise).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DonationLine {
    /// `money`, `device:<type>`, `data_package` or `software`.
    #[schema(example = "device:tablet")]
    pub kind: String,
    /// Promised by pledges not cancelled or lapsed.
    pub pledged: i64,
    pub pledged_earmarked: i64,
    pub pledged_general: i64,
    /// Arrived as gifts, with or without a pledge, net of reversals.
    pub received_as_gifts: i64,
    /// Arrived from purchases paid with campaign money, net of reversals.
    pub bought: i64,
    /// Arrived but not yet registered into stock.
    pub awaiting_intake: i64,
    /// In a warehouse: registered, ready, in transit or returned; for money,
    /// the balance not yet spent.
    pub in_stock: i64,
    /// Reserved for an approved need, not yet handed over.
    pub allocated: i64,
    /// With students (or schools) now.
    pub handed_over: i64,
    /// Came back from a student (they re-entered `in_stock`).
    pub returned: i64,
    pub written_off: i64,
    /// Money only: paid to suppliers.
    pub spent: i64,
}

impl DonationLine {
    /// The line's own check: what came in equals where it is.
    pub fn balances(&self) -> bool {
        self.received_as_gifts + self.bought
            == self.awaiting_intake
                + self.in_stock
                + self.allocated
                + self.handed_over
                + self.written_off
                + self.spent
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DonationStats {
    pub campaign: Option<i64>,
    pub admin_unit: Option<String>,
    /// Donors with a pledge that stands (not cancelled or lapsed) or a gift
    /// that arrived and was not reversed.
    pub donors: i64,
    /// Money received as gifts, net of reversals (the `money` line's
    /// `received_as_gifts`).
    pub money_received_vnd: i64,
    /// Paid to suppliers (absent under an `admin_unit` filter).
    pub money_spent_vnd: Option<i64>,
    /// Left to spend (absent under an `admin_unit` filter).
    pub money_balance_vnd: Option<i64>,
    pub lines: Vec<DonationLine>,
}

pub fn kind_key(kind: DonationKind, device: Option<DeviceType>) -> String {
    match (kind, device) {
        (DonationKind::Device, Some(device)) => format!("device:{device}"),
        (kind, _) => kind.to_string(),
    }
}

/// Pledges whose earmark (their admin unit, or their school's) lies in
/// `units`: the gifts a subtree filter follows.
fn earmarked_pledges(conn: &mut DbConn, units: &[String]) -> Result<Vec<i64>, Failure> {
    let units: HashSet<&String> = units.iter().collect();
    let rows: Vec<(i64, Option<String>, Option<String>)> = with_conn!(conn, |c| pledges::table
        .left_join(schools::table.on(schools::id.nullable().eq(pledges::earmark_school_id)))
        .filter(
            pledges::earmark_admin_unit
                .is_not_null()
                .or(pledges::earmark_school_id.is_not_null())
        )
        .select((
            pledges::id,
            pledges::earmark_admin_unit,
            schools::admin_unit_code.nullable()
        ))
        .load(c))?;
    Ok(rows
        .into_iter()
        .filter(|(_, unit, school_unit)| {
            unit.as_ref()
                .or(school_unit.as_ref())
                .is_some_and(|u| units.contains(u))
        })
        .map(|(id, _, _)| id)
        .collect())
}

/// Which gifts a figure counts: one campaign's (all when `None`), and only
/// those following the earmarked pledges when a unit filter is given.
struct Gifts {
    campaign: Option<i64>,
    earmarked: Option<Vec<i64>>,
}

/// The donation figures of `campaign` (all when `None`), for gifts
/// earmarked in `units` when given.
pub fn donation_stats(
    conn: &mut DbConn,
    campaign: Option<i64>,
    units: Option<&[String]>,
) -> Result<DonationStats, Failure> {
    let gifts = Gifts {
        campaign,
        earmarked: units.map(|u| earmarked_pledges(conn, u)).transpose()?,
    };
    let mut lines: BTreeMap<String, DonationLine> = BTreeMap::new();
    add_pledged(conn, &gifts, &mut lines)?;
    add_arrived(conn, &gifts, &mut lines)?;
    add_devices(conn, &gifts, &mut lines)?;
    add_package_flows(conn, &gifts, &mut lines)?;
    add_returns(conn, &gifts, &mut lines)?;
    let (money_spent, money_balance) = add_money_ledger(conn, &gifts, &mut lines)?;
    let money_received = money_received(conn, &gifts, &lines)?;
    fill_awaiting_intake(&mut lines);
    Ok(DonationStats {
        campaign,
        admin_unit: None,
        donors: donors(conn, campaign, gifts.earmarked.as_deref())?,
        money_received_vnd: money_received,
        money_spent_vnd: money_spent,
        money_balance_vnd: money_balance,
        lines: lines.into_values().collect(),
    })
}

type Lines = BTreeMap<String, DonationLine>;

/// Pledged: in all, and earmarked (the rest is general).
fn add_pledged(conn: &mut DbConn, gifts: &Gifts, lines: &mut Lines) -> Result<(), Failure> {
    let Gifts {
        campaign,
        earmarked,
    } = gifts;
    for only_earmarked in [false, true] {
        let pledged: Vec<(DonationKind, Option<DeviceType>, i64, i64)> = with_conn!(conn, |c| {
            let (high, low) = split_sum("COALESCE(pledges.amount_vnd, pledges.quantity)");
            let mut query = pledges::table
                .filter(pledges::status.ne_all([PledgeStatus::Cancelled, PledgeStatus::Lapsed]))
                .group_by((pledges::kind, pledges::device_type))
                .select((pledges::kind, pledges::device_type, high, low))
                .into_boxed();
            if only_earmarked {
                query = query.filter(
                    pledges::earmark_admin_unit
                        .is_not_null()
                        .or(pledges::earmark_school_id.is_not_null()),
                );
            }
            if let Some(campaign) = campaign {
                query = query.filter(pledges::campaign_id.eq(campaign));
            }
            if let Some(ids) = &earmarked {
                query = query.filter(pledges::id.eq_any(ids));
            }
            query.load(c)
        })?;
        for (kind, device, high, low) in pledged {
            let amount = join(high, low);
            let entry = line_of(lines, kind_key(kind, device));
            if only_earmarked {
                entry.pledged_earmarked = entry.pledged_earmarked.saturating_add(amount);
            } else {
                entry.pledged = entry.pledged.saturating_add(amount);
            }
        }
    }
    for entry in lines.values_mut() {
        entry.pledged_general = entry.pledged.saturating_sub(entry.pledged_earmarked);
    }
    Ok(())
}

/// Arrived: gifts and purchases, reversal rows included (they are negative).
fn add_arrived(conn: &mut DbConn, gifts: &Gifts, lines: &mut Lines) -> Result<(), Failure> {
    let Gifts {
        campaign,
        earmarked,
    } = gifts;
    type ReceiptSum = (ReceiptType, DonationKind, Option<DeviceType>, i64, i64);
    let arrived: Vec<ReceiptSum> = with_conn!(conn, |c| {
        let (high, low) = split_sum("COALESCE(receipts.amount_vnd, receipts.quantity)");
        let mut query = receipts::table
            .group_by((
                receipts::receipt_type,
                receipts::kind,
                receipts::device_type,
            ))
            .select((
                receipts::receipt_type,
                receipts::kind,
                receipts::device_type,
                high,
                low,
            ))
            .into_boxed();
        if let Some(campaign) = campaign {
            query = query.filter(receipts::campaign_id.eq(campaign));
        }
        if let Some(ids) = &earmarked {
            query = query.filter(receipts::pledge_id.eq_any(ids));
        }
        query.load(c)
    })?;
    for (receipt_type, kind, device, high, low) in arrived {
        let amount = join(high, low);
        let entry = line_of(lines, kind_key(kind, device));
        let total = match receipt_type {
            ReceiptType::Donation => &mut entry.received_as_gifts,
            ReceiptType::Purchase => &mut entry.bought,
        };
        *total = total.saturating_add(amount);
    }
    Ok(())
}

/// Devices, one row each, by status.
fn add_devices(conn: &mut DbConn, gifts: &Gifts, lines: &mut Lines) -> Result<(), Failure> {
    let Gifts {
        campaign,
        earmarked,
    } = gifts;
    let devices: Vec<(DeviceType, ItemStatus, i64)> = with_conn!(conn, |c| {
        let mut query = inventory_items::table
            .inner_join(receipts::table.on(receipts::id.eq(inventory_items::receipt_id)))
            .group_by((inventory_items::device_type, inventory_items::status))
            .select((
                inventory_items::device_type,
                inventory_items::status,
                diesel::dsl::count_star(),
            ))
            .into_boxed();
        if let Some(campaign) = campaign {
            query = query.filter(receipts::campaign_id.eq(campaign));
        }
        if let Some(ids) = &earmarked {
            query = query.filter(receipts::pledge_id.eq_any(ids));
        }
        query.load(c)
    })?;
    for (device, status, count) in devices {
        place(
            line_of(lines, kind_key(DonationKind::Device, Some(device))),
            status,
            count,
        );
    }
    Ok(())
}

/// Packages and licences, by unit, from the stock ledger: what flowed into
/// a status minus what flowed out of it.
fn add_package_flows(conn: &mut DbConn, gifts: &Gifts, lines: &mut Lines) -> Result<(), Failure> {
    let Gifts {
        campaign,
        earmarked,
    } = gifts;
    macro_rules! package_flows {
        ($status:expr) => {
            with_conn!(conn, |c| {
                let mut query = stock_movements::table
                    .inner_join(
                        inventory_packages::table.on(inventory_packages::id
                            .nullable()
                            .eq(stock_movements::package_id)),
                    )
                    .inner_join(receipts::table.on(receipts::id.eq(inventory_packages::receipt_id)))
                    .filter($status.is_not_null())
                    .group_by((inventory_packages::kind, $status))
                    .select((
                        inventory_packages::kind,
                        $status,
                        sql::<BigInt>("CAST(SUM(stock_movements.quantity) AS BIGINT)"),
                    ))
                    .into_boxed();
                if let Some(campaign) = campaign {
                    query = query.filter(receipts::campaign_id.eq(campaign));
                }
                if let Some(ids) = &earmarked {
                    query = query.filter(receipts::pledge_id.eq_any(ids));
                }
                query.load::<(DonationKind, Option<String>, i64)>(c)
            })
        };
    }
    let inflow = package_flows!(stock_movements::to_status)?;
    let outflow = package_flows!(stock_movements::from_status)?;
    let flows = inflow.into_iter().chain(
        outflow
            .into_iter()
            .map(|(kind, status, q)| (kind, status, -q)),
    );
    for (kind, status, signed) in flows {
        let Some(status) = status.and_then(|s| s.parse::<ItemStatus>().ok()) else {
            continue;
        };
        place(line_of(lines, kind_key(kind, None)), status, signed);
    }
    Ok(())
}

/// Returns that happened (devices only: packages are not returned).
fn add_returns(conn: &mut DbConn, gifts: &Gifts, lines: &mut Lines) -> Result<(), Failure> {
    let Gifts {
        campaign,
        earmarked,
    } = gifts;
    let returns: Vec<(DeviceType, i64)> = with_conn!(conn, |c| {
        let mut query = stock_movements::table
            .inner_join(
                inventory_items::table
                    .on(inventory_items::id.nullable().eq(stock_movements::item_id)),
            )
            .inner_join(receipts::table.on(receipts::id.eq(inventory_items::receipt_id)))
            .filter(stock_movements::movement.eq(Movement::Return.as_str()))
            .group_by(inventory_items::device_type)
            .select((
                inventory_items::device_type,
                sql::<BigInt>("CAST(SUM(stock_movements.quantity) AS BIGINT)"),
            ))
            .into_boxed();
        if let Some(campaign) = campaign {
            query = query.filter(receipts::campaign_id.eq(campaign));
        }
        if let Some(ids) = &earmarked {
            query = query.filter(receipts::pledge_id.eq_any(ids));
        }
        query.load(c)
    })?;
    for (device, count) in returns {
        line_of(lines, kind_key(DonationKind::Device, Some(device))).returned += count;
    }
    Ok(())
}

/// Money spent and left, from the ledger (per campaign); under an earmark
/// filter there is no such figure and the money line goes (money is not
/// earmarked once it is in the fund).
fn add_money_ledger(
    conn: &mut DbConn,
    gifts: &Gifts,
    lines: &mut Lines,
) -> Result<(Option<i64>, Option<i64>), Failure> {
    let campaign = gifts.campaign;
    Ok(if gifts.earmarked.is_some() {
        lines.remove("money");
        (None, None)
    } else {
        let trial = crate::donations::funds::queries::trial_balance(conn, campaign)?;
        let spent: i64 = trial
            .accounts
            .iter()
            .filter(|a| a.kind == "supplier")
            .map(|a| a.balance_vnd)
            .sum();
        let balance: i64 = trial
            .accounts
            .iter()
            .filter(|a| a.kind == "fund")
            .map(|a| a.balance_vnd)
            .sum();
        if spent != 0 || balance != 0 || lines.contains_key("money") {
            let money = lines
                .entry("money".to_owned())
                .or_insert_with(|| DonationLine {
                    kind: "money".to_owned(),
                    ..Default::default()
                });
            money.spent = spent;
            money.in_stock = balance;
        }
        (Some(spent), Some(balance))
    })
}

/// Money received as gifts: the money line's, or, under an earmark filter,
/// only what arrived against the earmarked pledges.
fn money_received(conn: &mut DbConn, gifts: &Gifts, lines: &Lines) -> Result<i64, Failure> {
    let campaign = gifts.campaign;
    Ok(match &gifts.earmarked {
        None => lines.get("money").map_or(0, |l| l.received_as_gifts),
        Some(ids) => {
            let (high, low): (i64, i64) = with_conn!(conn, |c| {
                let (high, low) = split_sum("receipts.amount_vnd");
                let mut query = receipts::table
                    .filter(receipts::kind.eq(DonationKind::Money))
                    .filter(receipts::pledge_id.eq_any(ids))
                    .select((high, low))
                    .into_boxed();
                if let Some(campaign) = campaign {
                    query = query.filter(receipts::campaign_id.eq(campaign));
                }
                query.first(c)
            })?;
            join(high, low)
        }
    })
}

/// Goods that arrived but are not registered yet.
fn fill_awaiting_intake(lines: &mut Lines) {
    for entry in lines.values_mut().filter(|l| l.kind != "money") {
        let registered = entry.in_stock + entry.allocated + entry.handed_over + entry.written_off;
        entry.awaiting_intake = entry
            .received_as_gifts
            .saturating_add(entry.bought)
            .saturating_sub(registered);
    }
}

/// The line of `key`, created empty when first met.
fn line_of(lines: &mut BTreeMap<String, DonationLine>, key: String) -> &mut DonationLine {
    lines.entry(key.clone()).or_insert_with(|| DonationLine {
        kind: key,
        ..Default::default()
    })
}

/// Adds `count` units in `status` to the line's bucket for it.
fn place(line: &mut DonationLine, status: ItemStatus, count: i64) {
    match status {
        ItemStatus::Intake | ItemStatus::Ready | ItemStatus::InTransit | ItemStatus::Returned => {
            line.in_stock += count
        }
        ItemStatus::Reserved => line.allocated += count,
        ItemStatus::HandedOver => line.handed_over += count,
        ItemStatus::WrittenOff => line.written_off += count,
    }
}

/// Donors with a pledge that stands, or a gift that arrived and was not reversed.
fn donors(
    conn: &mut DbConn,
    campaign: Option<i64>,
    earmarked: Option<&[i64]>,
) -> Result<i64, Failure> {
    let pledging: Vec<i64> = with_conn!(conn, |c| {
        let mut query = pledges::table
            .filter(pledges::status.ne_all([PledgeStatus::Cancelled, PledgeStatus::Lapsed]))
            .select(pledges::donor_id)
            .distinct()
            .into_boxed();
        if let Some(campaign) = campaign {
            query = query.filter(pledges::campaign_id.eq(campaign));
        }
        if let Some(ids) = earmarked {
            query = query.filter(pledges::id.eq_any(ids));
        }
        query.load(c)
    })?;
    let giving: Vec<Option<i64>> = with_conn!(conn, |c| {
        let mut query = receipts::table
            .filter(receipts::receipt_type.eq(ReceiptType::Donation))
            .filter(receipts::reverses_id.is_null())
            .filter(receipts::donor_id.is_not_null())
            .filter(sql::<Bool>(
                "NOT EXISTS (SELECT 1 FROM receipts AS reversal WHERE reversal.reverses_id = receipts.id)",
            ))
            .select(receipts::donor_id)
            .distinct()
            .into_boxed();
        if let Some(campaign) = campaign {
            query = query.filter(receipts::campaign_id.eq(campaign));
        }
        if let Some(ids) = earmarked {
            query = query.filter(receipts::pledge_id.eq_any(ids));
        }
        query.load(c)
    })?;
    let all: HashSet<i64> = pledging
        .into_iter()
        .chain(giving.into_iter().flatten())
        .collect();
    Ok(all.len() as i64)
}
