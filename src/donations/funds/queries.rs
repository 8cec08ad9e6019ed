//! The money ledger (double entry), balances, the trial balance, suppliers
//! and purchases paid from a campaign's fund.

use diesel::prelude::*;
use serde_json::json;

use super::model::*;
use crate::donations::kinds::DonationKind;
use crate::platform::db::page::PageRequest;
use crate::platform::db::schema::{ledger_entries, purchases, suppliers};
use crate::platform::db::{with_conn, DbConn, WriteLock};
use crate::platform::error::{Failure, OrUnknown};

/// The chart of accounts, in one place. Every entry moves a positive amount
/// from its credit account to its debit account:
/// - `fund:<campaign>`: the campaign's money. Debit-normal: its balance
///   (debits − credits) is what is left to spend.
/// - `donor:<id>` (`donor:unknown` for a gift without a known donor): where
///   gifts come from. Credit-normal: its balance is minus what was given.
/// - `supplier:<id>`: what was paid for goods. Debit-normal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Posting {
    /// Money arrives: donor → fund.
    Donation {
        donor_id: Option<i64>,
        receipt_id: i64,
    },
    /// A gift is undone: fund → donor.
    Reversal {
        donor_id: Option<i64>,
        receipt_id: i64,
    },
    /// Goods are paid for: fund → supplier.
    Purchase { supplier_id: i64, purchase_id: i64 },
}

/// The account of a campaign's fund in the ledger.
pub fn fund_account(campaign_id: i64) -> String {
    format!("fund:{campaign_id}")
}

fn donor_account(donor_id: Option<i64>) -> String {
    donor_id.map_or_else(|| "donor:unknown".to_owned(), |d| format!("donor:{d}"))
}

impl Posting {
    /// (entry type, debit account, credit account, receipt, purchase).
    fn entry(self, campaign_id: i64) -> (EntryType, String, String, Option<i64>, Option<i64>) {
        let fund = fund_account(campaign_id);
        match self {
            Posting::Donation {
                donor_id,
                receipt_id,
            } => (
                EntryType::Donation,
                fund,
                donor_account(donor_id),
                Some(receipt_id),
                None,
            ),
            Posting::Reversal {
                donor_id,
                receipt_id,
            } => (
                EntryType::Reversal,
                donor_account(donor_id),
                fund,
                Some(receipt_id),
                None,
            ),
            Posting::Purchase {
                supplier_id,
                purchase_id,
            } => (
                EntryType::Purchase,
                format!("supplier:{supplier_id}"),
                fund,
                None,
                Some(purchase_id),
            ),
        }
    }
}

/// Writes one ledger entry of a positive `amount_vnd` (same transaction as
/// the receipt or purchase it records).
pub fn post(
    conn: &mut DbConn,
    campaign_id: i64,
    posting: Posting,
    amount_vnd: i64,
) -> Result<(), Failure> {
    if amount_vnd <= 0 {
        return Err(Failure::internal(format!(
            "a ledger entry must move a positive amount, not {amount_vnd}"
        )));
    }
    let (entry_type, debit, credit, receipt_id, purchase_id) = posting.entry(campaign_id);
    with_conn!(conn, |c| diesel::insert_into(ledger_entries::table)
        .values((
            ledger_entries::campaign_id.eq(campaign_id),
            ledger_entries::entry_type.eq(entry_type),
            ledger_entries::debit_account.eq(&debit),
            ledger_entries::credit_account.eq(&credit),
            ledger_entries::amount_vnd.eq(amount_vnd),
            ledger_entries::receipt_id.eq(receipt_id),
            ledger_entries::purchase_id.eq(purchase_id),
            ledger_entries::at.eq(crate::platform::db::now()),
        ))
        .execute(c))?;
    Ok(())
}

/// The sums of the entries debiting and crediting each account (of one
/// campaign, or all), by account.
fn account_sums(
    conn: &mut DbConn,
    campaign_id: Option<i64>,
) -> Result<std::collections::BTreeMap<String, (i64, i64)>, Failure> {
    use crate::platform::money::{join, split_sum};
    let debits: Vec<(String, i64, i64)> = with_conn!(conn, |c| {
        let (high, low) = split_sum("amount_vnd");
        let mut query = ledger_entries::table
            .group_by(ledger_entries::debit_account)
            .select((ledger_entries::debit_account, high, low))
            .into_boxed();
        if let Some(campaign) = campaign_id {
            query = query.filter(ledger_entries::campaign_id.eq(campaign));
        }
        query.load(c)
    })?;
    let credits: Vec<(String, i64, i64)> = with_conn!(conn, |c| {
        let (high, low) = split_sum("amount_vnd");
        let mut query = ledger_entries::table
            .group_by(ledger_entries::credit_account)
            .select((ledger_entries::credit_account, high, low))
            .into_boxed();
        if let Some(campaign) = campaign_id {
            query = query.filter(ledger_entries::campaign_id.eq(campaign));
        }
        query.load(c)
    })?;
    let mut sums: std::collections::BTreeMap<String, (i64, i64)> = Default::default();
    for (account, high, low) in debits {
        let sum = &mut sums.entry(account).or_default().0;
        *sum = sum.saturating_add(join(high, low));
    }
    for (account, high, low) in credits {
        let sum = &mut sums.entry(account).or_default().1;
        *sum = sum.saturating_add(join(high, low));
    }
    Ok(sums)
}

/// The balance, summed from the ledger (never stored): the fund account's
/// debits minus its credits, split by what moved the money.
pub fn balance(conn: &mut DbConn, campaign_id: i64) -> Result<Balance, Failure> {
    let (high, low) = crate::platform::money::split_sum("amount_vnd");
    let sums: Vec<(EntryType, i64, i64)> = with_conn!(conn, |c| ledger_entries::table
        .filter(ledger_entries::campaign_id.eq(campaign_id))
        .group_by(ledger_entries::entry_type)
        .select((ledger_entries::entry_type, high, low))
        .load(c))?;
    let of = |kind: EntryType| {
        sums.iter()
            .filter(|(k, ..)| *k == kind)
            .map(|(_, high, low)| crate::platform::money::join(*high, *low))
            .fold(0i64, i64::saturating_add)
    };
    let (received, spent, reversed) = (
        of(EntryType::Donation),
        of(EntryType::Purchase),
        of(EntryType::Reversal),
    );
    Ok(Balance {
        campaign_id,
        received_vnd: received,
        spent_vnd: spent,
        reversed_vnd: reversed.saturating_neg(),
        balance_vnd: received.saturating_sub(reversed).saturating_sub(spent),
    })
}

/// Per account: debits, credits and balance; debits equal credits overall.
pub fn trial_balance(conn: &mut DbConn, campaign_id: Option<i64>) -> Result<TrialBalance, Failure> {
    let sums = account_sums(conn, campaign_id)?;
    let accounts: Vec<AccountBalance> = sums
        .into_iter()
        .map(|(account, (debits, credits))| AccountBalance {
            kind: account
                .split_once(':')
                .map(|(kind, _)| kind.to_owned())
                .unwrap_or_default(),
            account,
            debits_vnd: debits,
            credits_vnd: credits,
            balance_vnd: debits - credits,
        })
        .collect();
    let debits_vnd = accounts.iter().map(|a| a.debits_vnd).sum();
    let credits_vnd = accounts.iter().map(|a| a.credits_vnd).sum();
    Ok(TrialBalance {
        campaign_id,
        debits_vnd,
        credits_vnd,
        accounts,
    })
}

pub fn ledger(
    conn: &mut DbConn,
    campaign_id: i64,
    page: &PageRequest<i64>,
) -> Result<LedgerPage, Failure> {
    let rows: Vec<LedgerEntry> = with_conn!(conn, |c| {
        let mut query = ledger_entries::table
            .filter(ledger_entries::campaign_id.eq(campaign_id))
            .select(LedgerEntry::as_select())
            .order(ledger_entries::id)
            .limit(page.fetch())
            .into_boxed();
        if let Some(after) = page.after {
            query = query.filter(ledger_entries::id.gt(after));
        }
        query.load(c)
    })?;
    let (items, next_cursor) = page.finish(rows, |e| e.id);
    Ok(LedgerPage { items, next_cursor })
}

pub fn create_supplier(
    conn: &mut DbConn,
    actor: &str,
    input: CreateSupplier,
) -> Result<Supplier, Failure> {
    conn.transaction(|conn| {
        let row: Supplier = with_conn!(conn, |c| diesel::insert_into(suppliers::table)
            .values((
                suppliers::name.eq(&input.name),
                suppliers::tax_code.eq(input.tax_code.as_ref().map(|t| t.as_str())),
                suppliers::contact.eq(&input.contact),
                suppliers::created_at.eq(crate::platform::db::now()),
            ))
            .returning(Supplier::as_returning())
            .get_result(c))?;
        crate::platform::audit::record(
            conn,
            actor,
            "create",
            "supplier",
            &row.id.to_string(),
            json!({"name": row.name}),
        )?;
        Ok(row)
    })
}

/// A page of suppliers, oldest first.
pub fn suppliers(conn: &mut DbConn, page: &PageRequest<i64>) -> Result<SupplierPage, Failure> {
    let rows: Vec<Supplier> = with_conn!(conn, |c| {
        let mut query = suppliers::table
            .order(suppliers::id)
            .limit(page.fetch())
            .select(Supplier::as_select())
            .into_boxed();
        if let Some(after) = page.after {
            query = query.filter(suppliers::id.gt(after));
        }
        query.load(c)
    })?;
    let (items, next_cursor) = page.finish(rows, |row| row.id);
    Ok(SupplierPage { items, next_cursor })
}

pub fn find_supplier(conn: &mut DbConn, id: i64) -> Result<Supplier, Failure> {
    let row: Option<Supplier> = with_conn!(conn, |c| suppliers::table
        .find(id)
        .select(Supplier::as_select())
        .first(c)
        .optional())?;
    row.ok_or_else(|| Failure::not_found(String::from("no supplier has this id")))
}

/// Changes a supplier when its version is still `if_match` (`*`: any); a
/// tax code another supplier has is refused.
pub fn update_supplier(
    conn: &mut DbConn,
    actor: &str,
    id: i64,
    patch: &SupplierPatch,
    if_match: Option<i64>,
) -> Result<Supplier, Failure> {
    conn.transaction(|conn| {
        let current = find_supplier(conn, id)?;
        crate::platform::db::ensure_current(if_match, current.version)?;
        let tax_code = match &patch.tax_code {
            Some(code) => code.as_ref().map(|t| t.as_str().to_owned()),
            None => current.tax_code.clone(),
        };
        if let Some(code) = &tax_code {
            let taken: Option<i64> = with_conn!(conn, |c| suppliers::table
                .filter(suppliers::tax_code.eq(code))
                .filter(suppliers::id.ne(id))
                .select(suppliers::id)
                .first(c)
                .optional())?;
            if let Some(other) = taken {
                return Err(Failure::conflict(format!(
                    "supplier {other} has the same tax code"
                )));
            }
        }
        let row: Option<Supplier> = with_conn!(conn, |c| diesel::update(
            suppliers::table
                .filter(suppliers::id.eq(id))
                .filter(suppliers::version.eq(current.version))
        )
        .set((
            suppliers::name.eq(patch.name.as_ref().unwrap_or(&current.name)),
            suppliers::tax_code.eq(&tax_code),
            suppliers::contact.eq(patch.contact.clone().unwrap_or(current.contact.clone())),
            suppliers::version.eq(current.version + 1),
        ))
        .returning(Supplier::as_returning())
        .get_result(c)
        .optional())?;
        let row = row.ok_or_else(|| Failure::changed_meanwhile(current.version + 1, if_match))?;
        let changed = crate::platform::audit::sent_fields(&[
            ("name", patch.name.is_some()),
            ("tax_code", patch.tax_code.is_some()),
            ("contact", patch.contact.is_some()),
        ]);
        crate::platform::audit::record(
            conn,
            actor,
            "update",
            "supplier",
            &id.to_string(),
            json!({"changed": changed}),
        )?;
        Ok(row)
    })
}

pub fn find_purchase(conn: &mut DbConn, id: i64) -> Result<Purchase, Failure> {
    let row: Option<Purchase> = with_conn!(conn, |c| purchases::table
        .find(id)
        .select(Purchase::as_select())
        .first(c)
        .optional())?;
    row.ok_or_else(|| Failure::not_found(String::from("no purchase has this id")))
}

/// A page of a campaign's purchases, oldest first.
pub fn purchases_of(
    conn: &mut DbConn,
    campaign_id: i64,
    page: &PageRequest<i64>,
) -> Result<PurchasePage, Failure> {
    let rows: Vec<Purchase> = with_conn!(conn, |c| {
        let mut query = purchases::table
            .filter(purchases::campaign_id.eq(campaign_id))
            .order(purchases::id)
            .limit(page.fetch())
            .select(Purchase::as_select())
            .into_boxed();
        if let Some(after) = page.after {
            query = query.filter(purchases::id.gt(after));
        }
        query.load(c)
    })?;
    let (items, next_cursor) = page.finish(rows, |row| row.id);
    Ok(PurchasePage { items, next_cursor })
}

/// Pays a purchase from the campaign's fund. The campaign's lock makes
/// two concurrent purchases see each other, so together they cannot overspend.
pub fn purchase(
    conn: &mut DbConn,
    actor: &str,
    input: CreatePurchase,
) -> Result<Purchase, Failure> {
    if input.kind == DonationKind::Money {
        return Err(Failure::invalid_field(
            "kind",
            "money",
            "money is not bought; buy devices, data packages or software",
        ));
    }
    if (input.kind == DonationKind::Device) != input.device_type.is_some() {
        return Err(Failure::invalid_field(
            "device_type",
            "device_only",
            "device purchases, and only they, name a device_type",
        ));
    }
    // Bounded factors, so no overflow; the total is an amount like any other.
    let total =
        crate::platform::money::Vnd::new(input.unit_price_vnd.get() * input.quantity as i64)
            .ok_or_else(|| {
                Failure::invalid_field(
                    "quantity",
                    "total",
                    "the total (unit price × quantity) must be at most 1000000000000 đồng",
                )
            })?
            .get();
    conn.transaction(|conn| {
        conn.lock(WriteLock::Campaign(input.campaign_id))?;
        crate::donations::campaigns::queries::find(conn, input.campaign_id)
            .or_unknown("campaign_id")?;
        let supplier_known: i64 = with_conn!(conn, |c| suppliers::table
            .filter(suppliers::id.eq(input.supplier_id))
            .count()
            .get_result(c))?;
        if supplier_known == 0 {
            return Err(Failure::invalid_field("supplier_id", "unknown", "no such supplier"));
        }
        let available = balance(conn, input.campaign_id)?.balance_vnd;
        if total > available {
            return Err(Failure::conflict(format!(
                "the purchase costs {total} đồng but campaign {} has {available} đồng left",
                input.campaign_id
            )));
        }
        let row: Purchase = with_conn!(conn, |c| diesel::insert_into(purchases::table)
            .values((
                purchases::campaign_id.eq(input.campaign_id),
                purchases::supplier_id.eq(input.supplier_id),
                purchases::kind.eq(input.kind),
                purchases::device_type.eq(input.device_type),
                purchases::description.eq(&input.description),
                purchases::unit_price_vnd.eq(input.unit_price_vnd),
                purchases::quantity.eq(input.quantity),
                purchases::total_vnd.eq(total),
                purchases::created_by.eq(actor),
                purchases::created_at.eq(crate::platform::db::now()),
            ))
            .returning(Purchase::as_returning())
            .get_result(c))?;
        post(
            conn,
            row.campaign_id,
            Posting::Purchase {
                supplier_id: row.supplier_id,
                purchase_id: row.id,
            },
            total,
        )?;
        crate::platform::audit::record(
            conn,
            actor,
            "create",
            "purchase",
            &row.id.to_string(),
            json!({"campaign_id": row.campaign_id, "supplier_id": row.supplier_id, "total_vnd": total}),
        )?;
        Ok(row)
    })
}
