//! Statistics and the public figures, and their recount from the rows
//! (`src/reporting/`).

pub mod reconciliation;
mod replica;
mod site;
mod stats;
