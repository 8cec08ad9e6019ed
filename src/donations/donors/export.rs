//! Everything the programme holds about one donor, for the donor's right to
//! see their data (a data-subject export): the record with its contact
//! data, every pledge with its instalments, every receipt (gifts and their
//! reversals) and the audit trail of changes to the donor record (who
//! changed which fields, when; never values).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::model::Donor;
use crate::donations::pledges::model::{Pledge, PledgeRow};
use crate::donations::receipts::model::{Receipt, ReceiptRow};
use crate::platform::db::schema::{audit_log, pledges, receipts};
use crate::platform::db::{with_conn, DbConn};
use crate::platform::error::Failure;

/// A change to the donor record, as the audit log has it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DonorChange {
    pub at: DateTime<Utc>,
    pub action: String,
    /// The fields changed (never their values).
    pub changes: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DonorExport {
    pub donor: Donor,
    pub pledges: Vec<Pledge>,
    pub receipts: Vec<Receipt>,
    pub changes: Vec<DonorChange>,
    pub exported_at: DateTime<Utc>,
}

pub fn export(conn: &mut DbConn, id: i64) -> Result<DonorExport, Failure> {
    let donor = super::queries::find(conn, id)?;
    let pledge_rows: Vec<PledgeRow> = with_conn!(conn, |c| pledges::table
        .filter(pledges::donor_id.eq(id))
        .order(pledges::id)
        .select(PledgeRow::as_select())
        .load(c))?;
    let receipt_rows: Vec<ReceiptRow> = with_conn!(conn, |c| receipts::table
        .filter(receipts::donor_id.eq(id))
        .order(receipts::id)
        .select(ReceiptRow::as_select())
        .load(c))?;
    let changes: Vec<(chrono::NaiveDateTime, String, String)> =
        with_conn!(conn, |c| audit_log::table
            .filter(audit_log::entity.eq("donor"))
            .filter(audit_log::entity_id.eq(id.to_string()))
            .order(audit_log::id)
            .select((audit_log::at, audit_log::action, audit_log::changes))
            .load(c))?;
    Ok(DonorExport {
        donor: donor.into(),
        pledges: crate::donations::pledges::queries::with_details(conn, pledge_rows)?,
        receipts: receipt_rows.into_iter().map(Receipt::from).collect(),
        changes: changes
            .into_iter()
            .map(|(at, action, changes)| DonorChange {
                at: crate::platform::db::to_utc(at),
                action,
                changes: serde_json::from_str(&changes).unwrap_or(serde_json::Value::Null),
            })
            .collect(),
        exported_at: Utc::now(),
    })
}
