//! The two trees of administrative units. Until 30 June 2025 Vietnam had
//! 63 provinces, their districts and about 10,000 communes (`vn2008`, the
//! tree of the 2008 GSO list and its amendments); from 1 July 2025 it has
//! 34 provinces and 3,321 communes directly below them (`vn2025`). The same
//! code can name different places in the two trees (commune `04792` lies
//! in province 17 before and in province 25 after), so a unit is stored
//! and named with its scheme: a `vn2008` code bare, as every client has
//! always sent it, and a `vn2025` code prefixed (`vn2025:04792`). Nothing
//! ever has to guess which tree a code belongs to.

use chrono::NaiveDate;

use crate::platform::db::text_enum;

text_enum! {
    /// A tree of administrative units.
    pub enum Scheme {
        /// Before the reform (until 30 June 2025): province → district → commune. Codes bare (`150`).
        Vn2008 => "vn2008",
        /// After the reform (from 1 July 2025): province → commune. Codes prefixed (`vn2025:25`).
        Vn2025 => "vn2025",
    }
}

/// The prefix of a `vn2025` code.
pub const VN2025_PREFIX: &str = "vn2025:";

impl Scheme {
    /// The scheme a stored code belongs to.
    pub fn of(code: &str) -> Self {
        if code.starts_with(VN2025_PREFIX) {
            Scheme::Vn2025
        } else {
            Scheme::Vn2008
        }
    }

    /// The stored code of GSO code `gso` in this scheme.
    pub fn qualify(self, gso: &str) -> String {
        match self {
            Scheme::Vn2008 => gso.to_owned(),
            Scheme::Vn2025 => format!("{VN2025_PREFIX}{gso}"),
        }
    }

    /// The first and last day the tree was the country's (`None`: still is).
    pub fn validity(self) -> (NaiveDate, Option<NaiveDate>) {
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("a real date");
        match self {
            Scheme::Vn2008 => (day(2008, 1, 1), Some(day(2025, 6, 30))),
            Scheme::Vn2025 => (day(2025, 7, 1), None),
        }
    }
}

/// The GSO code of a stored code, without its scheme.
pub fn gso_code(code: &str) -> &str {
    code.strip_prefix(VN2025_PREFIX).unwrap_or(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_names_its_scheme_and_both_trees_keep_their_own_codes() {
        assert_eq!(Scheme::of("04792"), Scheme::Vn2008);
        assert_eq!(Scheme::of("vn2025:04792"), Scheme::Vn2025);
        assert_eq!(Scheme::Vn2025.qualify("04792"), "vn2025:04792");
        assert_eq!(Scheme::Vn2008.qualify("04792"), "04792");
        assert_eq!(gso_code("vn2025:25"), "25");
        assert_eq!(gso_code("150"), "150");
        let (_, old_end) = Scheme::Vn2008.validity();
        let (new_start, new_end) = Scheme::Vn2025.validity();
        assert_eq!(old_end.unwrap().succ_opt(), Some(new_start));
        assert_eq!(new_end, None);
    }
}
