//! songmay — the backend of "Sóng và máy tính cho em": every student of
//! Hòa Bình with a device and a connection for online learning.
//!
//! One room per resource (`admin_units`, `accounts`, `audit`, …), each with
//! its routes (`mod.rs`), rows and DTOs (`model.rs`) and diesel queries
//! (`queries.rs`); cross-cutting rules live once in `error`, `auth`, `http`
//! and `db`.

pub mod accounts;
pub mod admin_units;
pub mod allocations;
pub mod audit;
pub mod auth;
pub mod campaigns;
pub mod config;
pub mod coverage;
pub mod db;
pub mod donors;
pub mod error;
pub mod funds;
pub mod handovers;
pub mod health;
pub mod http;
pub mod idempotency;
pub mod identifiers;
pub mod inventory;
pub mod maintenance;
pub mod money;
pub mod needs;
pub mod openapi;
pub mod pledges;
pub mod public;
pub mod receipts;
pub mod schools;
pub mod startup;
pub mod stats;
pub mod students;
pub mod sync;
pub mod text;
pub mod warehouses;
