//! Integration tests over real HTTP against the real application, on SQLite
//! by default and on PostgreSQL when SONGMAY_TEST_DATABASE_URL is set.
//! Grouped like `src/`: a folder per domain, `platform/` for the ground
//! floor, and at the top what concerns the whole service (the contract,
//! the layout, the claims register, first start).

mod claims;
mod contract;
mod distribution;
mod donations;
mod first_start;
mod helpers;
mod layout;
mod needs;
mod openapi;
mod outreach;
mod platform;
mod promises;
mod registry;
mod reporting;
mod routes;
mod teaching;
