//! Read-only figures over every other domain: statistics for staff, the
//! public pages (progress, needs board, donations and their traces), the
//! public site that shows them to people, their charts, and the periodic
//! report to the Provincial People's Committee.

pub mod charts;
pub mod public;
pub mod report;
pub mod site;
pub mod stats;

/// A moment as read in Vietnam (UTC+7 all year: no summer time), as every
/// page, chart and report dates its figures.
pub fn vietnam_time(at: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::FixedOffset> {
    at.with_timezone(&chrono::FixedOffset::east_opt(7 * 3600).expect("UTC+7 is a valid offset"))
}
