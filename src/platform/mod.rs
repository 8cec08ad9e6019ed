//! The ground floor: what every domain stands on and that knows no domain —
//! the shared state handlers receive, settings, the database, HTTP rules
//! (problems, paging, versions, spreadsheets), tokens and the one scope
//! type, the audit log, idempotency, text and identifier rules, money,
//! the process log and its metrics.
//! Nothing here imports a domain (a test in `tests/api/layout.rs` fences it).

pub mod audit;
pub mod auth;
pub mod config;
pub mod db;
pub mod error;
pub mod health;
pub mod http;
pub mod idempotency;
pub mod identifiers;
pub mod logging;
pub mod metrics;
pub mod money;
pub mod outbox;
pub mod random;
pub mod shared_reads;
pub mod state;
pub mod text;
pub mod unit_tree;
pub mod webhooks;
