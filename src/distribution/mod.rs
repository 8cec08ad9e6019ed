//! Getting gifts to children: warehouses, the stock, allocations of stock
//! to approved needs, and handovers. Imports `needs`, `donations` and
//! `registry`.

pub mod allocations;
pub mod handovers;
pub mod inventory;
pub mod warehouses;
