//! People, places and schools: accounts, the admin-unit tree, schools,
//! students and the roster sync (`src/registry/`).

mod accounts;
mod admin_units;
pub(crate) mod reform;
mod schools;
mod students;
mod sync;
