//! Integration tests over real HTTP against the real application, on SQLite
//! by default and on PostgreSQL when SONGMAY_TEST_DATABASE_URL is set.

mod accounts;
mod admin_units;
mod audit;
mod auth;
mod claims;
mod contract;
mod coverage;
mod coverage_counts;
mod distribution;
mod donations;
mod errors;
mod first_start;
mod hardening;
mod health;
mod helpers;
mod layout;
mod needs;
mod openapi;
mod promises;
mod reconciliation;
mod routes;
mod schools;
mod stats;
mod students;
mod sync;
mod webhooks;
