//! Drives: starting them, recording what they hand over (a receipt and
//! its contributors, in one transaction), and their progress net of
//! reversals.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use serde_json::json;

use super::model::*;
use crate::donations::kinds::DonationKind;
use crate::donations::receipts::{ReceiptRow, ReceiptType};
use crate::platform::db::page::PageRequest;
use crate::platform::db::schema::{drive_receipts, drives, receipts};
use crate::platform::db::{with_conn, DbConn};
use crate::platform::error::{Failure, OrUnknown};

pub fn find(conn: &mut DbConn, id: i64) -> Result<DriveRow, Failure> {
    let row: Option<DriveRow> = with_conn!(conn, |c| drives::table
        .find(id)
        .select(DriveRow::as_select())
        .first(c)
        .optional())?;
    row.ok_or_else(|| Failure::not_found("no drive has this id"))
}

pub fn create(conn: &mut DbConn, actor: &str, input: CreateDrive) -> Result<DriveRow, Failure> {
    if input.ends_on.is_some_and(|end| end < input.starts_on) {
        return Err(Failure::invalid_field(
            "ends_on",
            "before_start",
            "must not be before starts_on",
        ));
    }
    conn.transaction(|conn| {
        crate::donations::campaigns::queries::find(conn, input.campaign_id)
            .or_unknown("campaign_id")?;
        let now = crate::platform::db::now();
        let row: DriveRow = with_conn!(conn, |c| diesel::insert_into(drives::table)
            .values((
                drives::campaign_id.eq(input.campaign_id),
                drives::organisation.eq(&input.organisation),
                drives::organisation_kind.eq(input.organisation_kind),
                drives::target_vnd.eq(input.target_vnd.map(|v| v.get())),
                drives::starts_on.eq(input.starts_on),
                drives::ends_on.eq(input.ends_on),
                drives::contact_name.eq(&input.contact_name),
                drives::contact_phone.eq(input.contact_phone.as_ref().map(|p| p.as_str())),
                drives::created_by.eq(actor),
                drives::created_at.eq(now),
                drives::updated_at.eq(now),
            ))
            .returning(DriveRow::as_returning())
            .get_result(c))?;
        crate::platform::audit::record(
            conn,
            actor,
            "create",
            "drive",
            &row.id.to_string(),
            json!({"campaign_id": row.campaign_id, "organisation_kind": row.organisation_kind}),
        )?;
        Ok(row)
    })
}

/// Records what a drive hands over: the receipt (through the receipts'
/// own rules: pledge, ledger, duplicate bank reference) and the drive's
/// link to it with the number of contributors, in one transaction. The
/// receipt must be a gift to the drive's campaign within its period.
pub fn record_handover(
    conn: &mut DbConn,
    actor: &str,
    drive_id: i64,
    input: DriveHandover,
) -> Result<ReceiptRow, Failure> {
    conn.transaction(|conn| {
        let drive = find(conn, drive_id)?;
        let receipt = &input.receipt;
        if receipt.campaign_id != drive.campaign_id {
            return Err(Failure::invalid_field(
                "receipt.campaign_id",
                "other_campaign",
                "a drive hands over to its own campaign",
            ));
        }
        if receipt.receipt_type != ReceiptType::Donation {
            return Err(Failure::invalid_field(
                "receipt.receipt_type",
                "not_allowed",
                "a drive hands over gifts (donation), not purchases",
            ));
        }
        let before = receipt.received_on < drive.starts_on;
        let after = drive.ends_on.is_some_and(|end| receipt.received_on > end);
        if before || after {
            return Err(Failure::invalid_field(
                "receipt.received_on",
                "outside_drive",
                "the drive did not run on this date",
            ));
        }
        // The receipt's own refusals name its fields inside `receipt`.
        let row = crate::donations::receipts::queries::create(conn, actor, input.receipt)
            .map_err(|failure| failure.under("receipt"))?;
        let names = (!input.contributors.is_empty()).then(|| json!(input.contributors).to_string());
        with_conn!(conn, |c| diesel::insert_into(drive_receipts::table)
            .values((
                drive_receipts::receipt_id.eq(row.id),
                drive_receipts::drive_id.eq(drive_id),
                drive_receipts::contributor_count.eq(input.contributor_count),
                drive_receipts::contributors.eq(names),
                drive_receipts::created_at.eq(crate::platform::db::now()),
            ))
            .execute(c))?;
        crate::platform::audit::record(
            conn,
            actor,
            "handover",
            "drive",
            &drive_id.to_string(),
            json!({"receipt_id": row.id, "contributor_count": input.contributor_count, "contributor_names": input.contributors.len()}),
        )?;
        Ok(row)
    })
}

/// Each drive's progress, net of reversals: a reversed handover counts
/// neither its money, its goods nor its contributors.
pub fn progress(
    conn: &mut DbConn,
    drive_ids: &[i64],
) -> Result<HashMap<i64, DriveProgress>, Failure> {
    let links: Vec<(i64, i64, i32)> = with_conn!(conn, |c| drive_receipts::table
        .filter(drive_receipts::drive_id.eq_any(drive_ids))
        .select((
            drive_receipts::drive_id,
            drive_receipts::receipt_id,
            drive_receipts::contributor_count
        ))
        .load(c))?;
    let receipt_ids: Vec<i64> = links.iter().map(|(_, r, _)| *r).collect();
    let reversed: HashSet<i64> = with_conn!(conn, |c| receipts::table
        .filter(receipts::reverses_id.eq_any(&receipt_ids))
        .select(receipts::reverses_id)
        .load::<Option<i64>>(c))?
    .into_iter()
    .flatten()
    .collect();
    let amounts: HashMap<i64, (DonationKind, Option<i64>, Option<i32>)> =
        with_conn!(conn, |c| receipts::table
            .filter(receipts::id.eq_any(&receipt_ids))
            .select((
                receipts::id,
                receipts::kind,
                receipts::amount_vnd,
                receipts::quantity
            ))
            .load::<(i64, DonationKind, Option<i64>, Option<i32>)>(c))?
        .into_iter()
        .map(|(id, kind, amount, quantity)| (id, (kind, amount, quantity)))
        .collect();
    let mut out: HashMap<i64, DriveProgress> = drive_ids
        .iter()
        .map(|id| (*id, DriveProgress::default()))
        .collect();
    for (drive, receipt, contributors) in links {
        if reversed.contains(&receipt) {
            continue;
        }
        let Some((kind, amount, quantity)) = amounts.get(&receipt) else {
            continue;
        };
        let line = out.entry(drive).or_default();
        line.handovers += 1;
        line.contributors += i64::from(contributors);
        match kind {
            DonationKind::Money => line.money_received_vnd += amount.unwrap_or(0),
            _ => line.goods_received += i64::from(quantity.unwrap_or(0)),
        }
    }
    Ok(out)
}

/// A page of drives (of one campaign when given), oldest first, each with
/// its progress: a campaign's figures broken down by drive.
pub fn page(
    conn: &mut DbConn,
    campaign: Option<i64>,
    page: &PageRequest<i64>,
) -> Result<DrivePage, Failure> {
    let rows = load(conn, campaign, page.after, Some(page.fetch()))?;
    let (rows, next_cursor) = page.finish(rows, |row| row.id);
    Ok(DrivePage {
        items: with_progress(conn, rows)?
            .into_iter()
            .map(|(row, progress)| Drive::of(row, progress))
            .collect(),
        next_cursor,
    })
}

/// Every drive (of one campaign when given) with its progress, for the
/// public page.
pub fn all_with_progress(
    conn: &mut DbConn,
    campaign: Option<i64>,
) -> Result<Vec<(DriveRow, DriveProgress)>, Failure> {
    let rows = load(conn, campaign, None, None)?;
    with_progress(conn, rows)
}

/// Drives in id order: of one campaign when given, after an id, at most
/// `limit`.
fn load(
    conn: &mut DbConn,
    campaign: Option<i64>,
    after: Option<i64>,
    limit: Option<i64>,
) -> Result<Vec<DriveRow>, Failure> {
    let rows = with_conn!(conn, |c| {
        let mut query = drives::table
            .order(drives::id)
            .select(DriveRow::as_select())
            .into_boxed();
        if let Some(limit) = limit {
            query = query.limit(limit);
        }
        if let Some(after) = after {
            query = query.filter(drives::id.gt(after));
        }
        if let Some(campaign) = campaign {
            query = query.filter(drives::campaign_id.eq(campaign));
        }
        query.load(c)
    })?;
    Ok(rows)
}

/// Each drive beside its progress (one set of queries for all of them).
pub fn with_progress(
    conn: &mut DbConn,
    rows: Vec<DriveRow>,
) -> Result<Vec<(DriveRow, DriveProgress)>, Failure> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut progress = progress(conn, &ids)?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let p = progress.remove(&row.id).unwrap_or_default();
            (row, p)
        })
        .collect())
}
