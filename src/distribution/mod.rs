//! Getting gifts to children: warehouses, the stock, the safe-internet
//! device profile every device carries to a child, allocations of stock
//! to approved needs, and handovers. Imports `needs`, `donations` and
//! `registry`.

pub mod allocations;
pub mod handovers;
pub mod inventory;
pub mod profiles;
pub mod warehouses;
