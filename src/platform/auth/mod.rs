//! Authentication: tokens for users and machine clients, the caller
//! extractor, roles and what a caller reaches. Files import each other
//! directly (not through this one), so the floor has no circle.

pub mod accounts;
mod extractor;
pub mod jwt;
pub mod password;
mod principal;
pub mod rate_limit;
mod reach;
pub mod remembered;
mod role;
mod routes;

pub use principal::{unit_and_ancestors, Account, Principal, Scope};
pub use reach::{unit_and_descendants, Reach, Realm};
pub use role::Role;
pub use routes::configure;
