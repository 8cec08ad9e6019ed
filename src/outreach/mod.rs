//! Part 1 of the plan, communication: the Department's open letter, news
//! and stories that encourage teachers and students and report what the
//! programme achieved — written by staff, published on the public site and
//! in an Atom feed.

pub mod articles;
