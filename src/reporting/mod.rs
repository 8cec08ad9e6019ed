//! Read-only figures over every other domain: statistics for staff and the
//! public pages (progress, needs board, donations and their traces).

pub mod public;
pub mod stats;
