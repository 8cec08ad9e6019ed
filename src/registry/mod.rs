//! Who and where: administrative units, schools, students and their sync
//! with the education data system, and the accounts that work with them.
//! Imports no other domain.

pub mod accounts;
pub mod admin_units;
pub mod schools;
pub mod students;
pub mod sync;
