//! What is given: donors, campaigns, pledges, receipts and the money
//! (ledger, suppliers, purchases). Imports `registry` at most.

pub mod campaigns;
pub mod donors;
pub mod funds;
pub mod kinds;
pub mod pledges;
pub mod receipts;
