//! songmay — the backend of "Sóng và máy tính cho em": every student of
//! Hòa Bình with a device and a connection for online learning.
//!
//! The house (see DESIGN.md, "Shape"): `platform` is the ground floor and
//! imports no domain; the domains `registry`, `needs`, `donations`,
//! `distribution`, `outreach`, `teaching` and `reporting` stand on it, each resource a folder with
//! its routes (`mod.rs`), rows and DTOs (`model.rs`) and queries
//! (`queries.rs`); `app` wires every domain into the service and nothing
//! imports it; beside it, `maintenance` and `retention` are operations over
//! several domains' rows (one rule each, in one place). Imports run one way: app → domains → platform
//! (`tests/api/layout.rs` is the fence).

pub mod app;
pub mod distribution;
pub mod donations;
pub mod maintenance;
pub mod needs;
pub mod openapi;
pub mod outreach;
pub mod platform;
pub mod reform;
pub mod registry;
pub mod reporting;
pub mod retention;
pub mod teaching;
