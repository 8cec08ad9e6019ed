//! What is given: donors, campaigns, drives, pledges, receipts and the
//! money (ledger, suppliers, purchases). Imports `registry` at most.

pub mod approvals;
pub mod campaigns;
pub mod donors;
pub mod drives;
pub mod funds;
pub mod kinds;
pub mod pledges;
pub mod receipts;
