//! Part 4 of the plan, managing online teaching: the platforms technology
//! firms offer free or at a discount, the Department's review and
//! recommendation, and which recommended platforms schools use, with how
//! many students.

pub mod platforms;
