//! Receipts: recording what arrived (against a pledge or not), reversals, the
//! ledger entries they post, and reading them in scope.

use diesel::prelude::*;
use serde_json::json;

use super::model::*;
use crate::donations::funds::queries::{balance, post, Posting};
use crate::donations::kinds::DonationKind;
use crate::platform::auth::Reach;
use crate::platform::db::page::PageRequest;
use crate::platform::db::schema::{inventory_items, inventory_packages, receipts};
use crate::platform::db::{with_conn, DbConn, WriteLock};
use crate::platform::error::FieldError;
use crate::platform::error::{Failure, OrUnknown};
use crate::platform::outbox::{Event, EventType};

pub fn find(conn: &mut DbConn, id: i64) -> Result<ReceiptRow, Failure> {
    let row: Option<ReceiptRow> = with_conn!(conn, |c| receipts::table
        .find(id)
        .select(ReceiptRow::as_select())
        .first(c)
        .optional())?;
    row.ok_or_else(|| Failure::not_found(String::from("no receipt has this id")))
}

/// A reference a donor can follow a gift by and nobody can guess: 12
/// characters from an alphabet without look-alikes (no 0/O, 1/I), about 60
/// bits from the operating system's generator.
pub fn public_reference() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    let mut rng = rand::rng();
    (0..12)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Whether a reversing receipt undid receipt `id`.
pub fn is_reversed(conn: &mut DbConn, id: i64) -> Result<bool, Failure> {
    let reversal: Option<i64> = with_conn!(conn, |c| receipts::table
        .filter(receipts::reverses_id.eq(id))
        .select(receipts::id)
        .first(c)
        .optional())?;
    Ok(reversal.is_some())
}

pub fn find_visible(conn: &mut DbConn, scope: &Reach, id: i64) -> Result<ReceiptRow, Failure> {
    let receipt = find(conn, id)?;
    if scope.allows_donor(receipt.donor_id) {
        Ok(receipt)
    } else {
        Err(Failure::not_found(String::from("no receipt has this id")))
    }
}

fn check_shape(input: &CreateReceipt) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let money = input.kind == DonationKind::Money;
    let mut rule = |broken: bool, field: &str, code: &str, message: &str| {
        if broken {
            errors.push(FieldError::new(field, code, message));
        }
    };
    rule(
        money && input.amount_vnd.is_none(),
        "amount_vnd",
        "required",
        "money receipts need amount_vnd",
    );
    rule(
        money && input.bank_reference.is_none(),
        "bank_reference",
        "required",
        "money receipts need the bank transfer's reference",
    );
    rule(
        money && input.quantity.is_some(),
        "quantity",
        "not_allowed",
        "money receipts have no quantity",
    );
    rule(
        !money && input.quantity.is_none(),
        "quantity",
        "required",
        "say how many arrived",
    );
    rule(
        !money && input.amount_vnd.is_some(),
        "amount_vnd",
        "not_allowed",
        "only money receipts have an amount",
    );
    rule(
        (input.kind == DonationKind::Device) != input.device_type.is_some(),
        "device_type",
        "device_only",
        "device receipts, and only they, name a device_type",
    );
    rule(
        input.receipt_type == ReceiptType::Purchase && input.purchase_id.is_none(),
        "purchase_id",
        "required",
        "a purchase receipt names its purchase",
    );
    rule(
        input.receipt_type == ReceiptType::Donation && input.purchase_id.is_some(),
        "purchase_id",
        "not_allowed",
        "a donation has no purchase",
    );
    rule(
        input.receipt_type == ReceiptType::Purchase && (money || input.pledge_id.is_some()),
        "receipt_type",
        "purchase",
        "a purchase receipt records goods bought, not a pledge or money",
    );
    errors
}

/// Records what arrived, in one transaction with its pledge's totals and,
/// for money, the ledger.
pub fn create(conn: &mut DbConn, actor: &str, input: CreateReceipt) -> Result<ReceiptRow, Failure> {
    let errors = check_shape(&input);
    if !errors.is_empty() {
        return Err(Failure::validation(errors));
    }
    conn.transaction(|conn| {
        // Before the pledge is read: concurrent receipts add to its totals
        // one after the other.
        conn.lock(WriteLock::Campaign(input.campaign_id))?;
        let campaign = crate::donations::campaigns::queries::find(conn, input.campaign_id)
            .or_unknown("campaign_id")?;
        if let Some(reference) = &input.bank_reference {
            let existing: Option<i64> = with_conn!(conn, |c| receipts::table
                .filter(receipts::bank_reference.eq(reference))
                .select(receipts::id)
                .first(c)
                .optional())?;
            if let Some(existing) = existing {
                return Err(Failure::conflict(format!("this bank transfer is already recorded as receipt {existing}")));
            }
        }
        let mut donor_id = input.donor_id;
        let mut over_pledge = false;
        let pledge = match input.pledge_id {
            Some(pledge_id) => {
                let pledge = crate::donations::pledges::queries::find(conn, pledge_id)
                    .or_unknown("pledge_id")?;
                if pledge.campaign_id != campaign.id {
                    return Err(Failure::invalid_field(
                        "pledge_id",
                        "other_campaign",
                        format!("pledge {pledge_id} belongs to campaign {}", pledge.campaign_id),
                    ));
                }
                if pledge.status.is_closed() {
                    return Err(Failure::conflict(format!("pledge {pledge_id} is {}", pledge.status)));
                }
                if pledge.kind != input.kind || pledge.device_type != input.device_type {
                    return Err(Failure::invalid_field("kind", "pledge_kind", "the receipt must be of the pledge's kind and device type"));
                }
                if donor_id.is_some_and(|d| d != pledge.donor_id) {
                    return Err(Failure::invalid_field("donor_id", "pledge_donor", "the pledge belongs to another donor"));
                }
                donor_id = Some(pledge.donor_id);
                let arriving = input.amount_vnd.map_or(input.quantity.unwrap_or(0) as i64, |a| a.get());
                over_pledge = pledge.received() + arriving > pledge.promised();
                Some(pledge)
            }
            None => None,
        };
        if let Some(donor) = donor_id {
            crate::donations::donors::queries::find(conn, donor)
                .or_unknown("donor_id")?;
        }
        if let Some(purchase_id) = input.purchase_id {
            let purchase = crate::donations::funds::queries::find_purchase(conn, purchase_id)
                .or_unknown("purchase_id")?;
            if purchase.campaign_id != campaign.id || purchase.kind != input.kind || purchase.device_type != input.device_type {
                return Err(Failure::invalid_field("purchase_id", "mismatch", "the purchase is of another campaign, kind or device type"));
            }
        }
        let row: ReceiptRow = with_conn!(conn, |c| diesel::insert_into(receipts::table)
            .values((
                receipts::campaign_id.eq(campaign.id),
                receipts::pledge_id.eq(input.pledge_id),
                receipts::donor_id.eq(donor_id),
                receipts::purchase_id.eq(input.purchase_id),
                receipts::receipt_type.eq(input.receipt_type),
                receipts::kind.eq(input.kind),
                receipts::amount_vnd.eq(input.amount_vnd),
                receipts::quantity.eq(input.quantity),
                receipts::device_type.eq(input.device_type),
                receipts::received_on.eq(input.received_on),
                receipts::received_by.eq(actor),
                receipts::bank_reference.eq(&input.bank_reference),
                receipts::over_pledge.eq(over_pledge),
                receipts::note.eq(&input.note),
                receipts::created_at.eq(crate::platform::db::now()),
                receipts::public_ref.eq(public_reference()),
            ))
            .returning(ReceiptRow::as_returning())
            .get_result(c))?;
        if let Some(pledge) = &pledge {
            crate::donations::pledges::queries::add_received(conn, pledge, input.amount_vnd.map_or(0, |a| a.get()), input.quantity.unwrap_or(0))?;
        }
        if let Some(amount) = input.amount_vnd {
            post(conn, campaign.id, Posting::Donation { donor_id, receipt_id: row.id }, amount.get())?;
        }
        crate::platform::audit::record(
            conn,
            actor,
            "create",
            "receipt",
            &row.id.to_string(),
            json!({"campaign_id": row.campaign_id, "pledge_id": row.pledge_id, "kind": row.kind, "amount_vnd": row.amount_vnd, "quantity": row.quantity}),
        )?;
        announce(conn, EventType::ReceiptRecorded, &row)?;
        Ok(row)
    })
}

/// Undoes a receipt with a reversing one; the original stays as it was.
pub fn reverse(
    conn: &mut DbConn,
    actor: &str,
    id: i64,
    reason: &str,
) -> Result<ReceiptRow, Failure> {
    conn.transaction(|conn| {
        let original = find(conn, id)?;
        // Before the checks below and the pledge's totals are read.
        conn.lock(WriteLock::Campaign(original.campaign_id))?;
        if original.reverses_id.is_some() {
            return Err(Failure::conflict(
                "a reversal cannot itself be reversed; record a new receipt instead",
            ));
        }
        let already: Option<i64> = with_conn!(conn, |c| receipts::table
            .filter(receipts::reverses_id.eq(id))
            .select(receipts::id)
            .first(c)
            .optional())?;
        if let Some(reversal) = already {
            return Err(Failure::conflict(format!(
                "receipt {id} was already reversed by receipt {reversal}"
            )));
        }
        // Goods already taken into stock are not undone by a reversal: the
        // devices or packages exist; write them off instead.
        if original.kind != DonationKind::Money {
            // The intake's lock: an intake of this receipt running now
            // either finishes first (and is seen here) or sees the reversal.
            conn.lock(WriteLock::ReceiptIntake(id))?;
            let registered: i64 = with_conn!(conn, |c| inventory_items::table
                .filter(inventory_items::receipt_id.eq(id))
                .count()
                .get_result(c))?;
            let packaged: i64 = with_conn!(conn, |c| inventory_packages::table
                .filter(inventory_packages::receipt_id.eq(id))
                .count()
                .get_result(c))?;
            if registered + packaged > 0 {
                return Err(Failure::conflict(format!(
                    "goods of receipt {id} are already in stock: write them off instead of reversing the receipt"
                )));
            }
        }
        if let Some(amount) = original.amount_vnd {
            let available = balance(conn, original.campaign_id)?.balance_vnd;
            if amount > available {
                return Err(Failure::conflict(format!(
                    "campaign {} has only {available} đồng left: the money was already spent",
                    original.campaign_id
                )));
            }
        }
        let row: ReceiptRow = with_conn!(conn, |c| diesel::insert_into(receipts::table)
            .values((
                receipts::campaign_id.eq(original.campaign_id),
                receipts::pledge_id.eq(original.pledge_id),
                receipts::donor_id.eq(original.donor_id),
                receipts::purchase_id.eq(original.purchase_id),
                receipts::receipt_type.eq(original.receipt_type),
                receipts::kind.eq(original.kind),
                receipts::amount_vnd.eq(original.amount_vnd.map(|a| -a)),
                receipts::quantity.eq(original.quantity.map(|q| -q)),
                receipts::device_type.eq(original.device_type),
                receipts::received_on.eq(chrono::Utc::now().date_naive()),
                receipts::received_by.eq(actor),
                receipts::reverses_id.eq(Some(id)),
                receipts::over_pledge.eq(false),
                receipts::note.eq(reason),
                receipts::created_at.eq(crate::platform::db::now()),
            ))
            .returning(ReceiptRow::as_returning())
            .get_result(c))?;
        if let Some(pledge_id) = original.pledge_id {
            let pledge = crate::donations::pledges::queries::find(conn, pledge_id)?;
            crate::donations::pledges::queries::add_received(
                conn,
                &pledge,
                -original.amount_vnd.unwrap_or(0),
                -original.quantity.unwrap_or(0),
            )?;
        }
        if let Some(amount) = original.amount_vnd {
            post(
                conn,
                original.campaign_id,
                Posting::Reversal {
                    donor_id: original.donor_id,
                    receipt_id: row.id,
                },
                amount,
            )?;
        }
        crate::platform::audit::record(
            conn,
            actor,
            "reverse",
            "receipt",
            &id.to_string(),
            json!({"reversal": row.id, "reason": reason}),
        )?;
        announce(conn, EventType::ReceiptReversed, &row)?;
        Ok(row)
    })
}

pub fn list(
    conn: &mut DbConn,
    scope: &Reach,
    filter: &ReceiptFilter,
    page: &PageRequest<i64>,
) -> Result<ReceiptPage, Failure> {
    let rows: Vec<ReceiptRow> = with_conn!(conn, |c| {
        let mut query = receipts::table
            .select(ReceiptRow::as_select())
            .order(receipts::id)
            .limit(page.fetch())
            .into_boxed();
        if let Some(after) = page.after {
            query = query.filter(receipts::id.gt(after));
        }
        match scope.donor() {
            None => {}
            Some(Some(id)) => query = query.filter(receipts::donor_id.eq(id)),
            // A donor user linked to no donor sees nothing.
            Some(None) => query = query.filter(receipts::id.eq(-1)),
        }
        if let Some(campaign) = filter.campaign_id {
            query = query.filter(receipts::campaign_id.eq(campaign));
        }
        if let Some(pledge) = filter.pledge_id {
            query = query.filter(receipts::pledge_id.eq(pledge));
        }
        query.load(c)
    })?;
    let (rows, next_cursor) = page.finish(rows, |r| r.id);
    Ok(ReceiptPage {
        items: rows.into_iter().map(Receipt::from).collect(),
        next_cursor,
    })
}

/// A receipt's event in the outbox (a reversal is a receipt of its own
/// that names the one it reverses).
fn announce(conn: &mut DbConn, event_type: EventType, row: &ReceiptRow) -> Result<(), Failure> {
    crate::platform::outbox::emit(
        conn,
        Event {
            event_type,
            entity: "receipt",
            entity_id: row.id,
            admin_unit_code: None,
            data: json!({
                "receipt_id": row.id,
                "reverses_id": row.reverses_id,
                "campaign_id": row.campaign_id,
                "pledge_id": row.pledge_id,
                "donor_id": row.donor_id,
                "kind": row.kind,
                "amount_vnd": row.amount_vnd,
                "quantity": row.quantity,
            }),
        },
    )
}
