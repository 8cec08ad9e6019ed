//! Figures asked in one tree (`?scheme=vn2008|vn2025`) whatever tree each
//! record is stored in. After a province is re-homed its schools and open
//! needs sit on `vn2025` units while its history (a 2021 handover, a
//! fulfilled need, an earmark) keeps the old unit it happened in; a view
//! says, for every stored unit, where it counts in the asked tree, so that
//! each record counts exactly once in either view and the totals of the
//! two views are equal.
//!
//! The rules, all read from the mapping (`admin_unit_successors`):
//! - into `vn2025`: an old commune counts under its default successor (a
//!   school with an officer's decision under the commune decided); an old
//!   district or province under the new province most of its communes went
//!   to;
//! - into `vn2008`: a re-homed school counts where it stood before
//!   (`schools.pre_reform_unit_code`); another new commune under the old
//!   commune that has it as default successor (the lowest code when
//!   several do, else its lowest predecessor); a new province under the old
//!   province most of its communes came from;
//! - a unit the mapping does not reach counts under its own code (a root
//!   of its own in the view), so no record is ever dropped.

use std::collections::{BTreeMap, HashMap};

use diesel::prelude::*;

use super::scheme::Scheme;
use super::Level;
use crate::platform::db::schema::{admin_unit_successors, admin_units, school_successor_overrides};
use crate::platform::db::{with_conn, DbConn};
use crate::platform::error::Failure;

/// Where every stored unit counts in one tree.
#[derive(Debug, Clone)]
pub struct SchemeView {
    scheme: Scheme,
    /// Stored code of the other tree → code in this one.
    counts_under: HashMap<String, String>,
    /// Schools an officer sent to another successor than the default.
    decided: HashMap<i64, String>,
}

impl SchemeView {
    /// The view into `scheme`, from the units and the mapping on record.
    pub fn load(conn: &mut DbConn, scheme: Scheme) -> Result<Self, Failure> {
        let units: Vec<(String, Option<String>, Level)> = with_conn!(conn, |c| admin_units::table
            .select((
                admin_units::code,
                admin_units::parent_code,
                admin_units::level
            ))
            .load(c))?;
        let links: Vec<(String, String, bool)> =
            with_conn!(conn, |c| admin_unit_successors::table
                .order((
                    admin_unit_successors::old_code,
                    admin_unit_successors::new_code
                ))
                .select((
                    admin_unit_successors::old_code,
                    admin_unit_successors::new_code,
                    admin_unit_successors::is_default,
                ))
                .load(c))?;
        let decided: HashMap<i64, String> = match scheme {
            Scheme::Vn2025 => with_conn!(conn, |c| school_successor_overrides::table
                .select((
                    school_successor_overrides::school_id,
                    school_successor_overrides::new_code,
                ))
                .load::<(i64, String)>(c))?
            .into_iter()
            .collect(),
            Scheme::Vn2008 => HashMap::new(),
        };
        Ok(Self {
            scheme,
            counts_under: counts_under(scheme, &units, &links),
            decided,
        })
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// Where a record stored on `unit` counts in this view.
    pub fn unit(&self, unit: &str) -> String {
        if Scheme::of(unit) == self.scheme {
            return unit.to_owned();
        }
        self.counts_under
            .get(unit)
            .cloned()
            .unwrap_or_else(|| unit.to_owned())
    }

    /// Where a school (and what hangs on it) counts in this view: as
    /// [`Self::unit`], but a re-homed school counts in the old tree where it
    /// stood, and a school an officer decided for in the new tree where
    /// they decided.
    pub fn school_unit(&self, school: i64, unit: &str, pre_reform: Option<&str>) -> String {
        match (self.scheme, Scheme::of(unit)) {
            (Scheme::Vn2008, Scheme::Vn2025) => match pre_reform {
                Some(before) => before.to_owned(),
                None => self.unit(unit),
            },
            (Scheme::Vn2025, Scheme::Vn2008) => self
                .decided
                .get(&school)
                .cloned()
                .unwrap_or_else(|| self.unit(unit)),
            _ => unit.to_owned(),
        }
    }
}

/// The map of every unit of the other tree to a unit of `scheme`.
fn counts_under(
    scheme: Scheme,
    units: &[(String, Option<String>, Level)],
    links: &[(String, String, bool)],
) -> HashMap<String, String> {
    let parent: HashMap<&str, Option<&str>> = units
        .iter()
        .map(|(code, parent, _)| (code.as_str(), parent.as_deref()))
        .collect();
    let province_of = |code: &str| -> String {
        let mut current = code;
        let mut steps = 0;
        while let Some(Some(up)) = parent.get(current) {
            current = up;
            steps += 1;
            if steps > 8 {
                break;
            }
        }
        current.to_owned()
    };
    // Communes of the other tree → their commune in this one.
    let mut commune: HashMap<String, String> = HashMap::new();
    match scheme {
        Scheme::Vn2025 => {
            for (old, new, is_default) in links {
                if *is_default {
                    commune.insert(old.clone(), new.clone());
                }
            }
        }
        Scheme::Vn2008 => {
            // Links come in code order: the first default wins, else the
            // first predecessor.
            for (old, new, _) in links.iter().filter(|(_, _, is_default)| *is_default) {
                commune.entry(new.clone()).or_insert_with(|| old.clone());
            }
            for (old, new, _) in links {
                commune.entry(new.clone()).or_insert_with(|| old.clone());
            }
        }
    }
    // Each unit above a commune of the other tree → the province of this
    // tree most of the communes below it count under (ties: lowest code).
    let mut votes: HashMap<String, BTreeMap<String, usize>> = HashMap::new();
    for (from, to) in &commune {
        let target = province_of(to);
        let mut current = parent.get(from.as_str()).copied().flatten();
        while let Some(up) = current {
            *votes
                .entry(up.to_owned())
                .or_default()
                .entry(target.clone())
                .or_default() += 1;
            current = parent.get(up).copied().flatten();
        }
    }
    let mut map = commune;
    for (unit, tally) in votes {
        let mut best: Option<(&String, usize)> = None;
        for (province, count) in &tally {
            if best.is_none_or(|(_, most)| *count > most) {
                best = Some((province, *count));
            }
        }
        if let Some((province, _)) = best {
            map.insert(unit, province.clone());
        }
    }
    // Communes of the other tree the mapping leaves out: their province's.
    for (code, _, level) in units {
        if Scheme::of(code) != scheme && *level == Level::Commune && !map.contains_key(code) {
            if let Some(province) = map.get(&province_of(code)).cloned() {
                map.insert(code.clone(), province);
            }
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(code: &str, parent: Option<&str>, level: Level) -> (String, Option<String>, Level) {
        (code.into(), parent.map(Into::into), level)
    }

    fn tree() -> Vec<(String, Option<String>, Level)> {
        vec![
            unit("17", None, Level::Province),
            unit("150", Some("17"), Level::District),
            unit("04831", Some("150"), Level::Commune),
            unit("04832", Some("150"), Level::Commune),
            unit("04833", Some("150"), Level::Commune),
            unit("vn2025:25", None, Level::Province),
            unit("vn2025:04831", Some("vn2025:25"), Level::Commune),
            unit("vn2025:04840", Some("vn2025:25"), Level::Commune),
        ]
    }

    fn links() -> Vec<(String, String, bool)> {
        vec![
            ("04831".into(), "vn2025:04831".into(), true),
            ("04832".into(), "vn2025:04831".into(), false),
            ("04832".into(), "vn2025:04840".into(), true),
        ]
    }

    #[test]
    fn into_the_new_tree_communes_follow_their_default_and_districts_their_province() {
        let map = counts_under(Scheme::Vn2025, &tree(), &links());
        assert_eq!(map["04831"], "vn2025:04831");
        assert_eq!(map["04832"], "vn2025:04840");
        assert_eq!(map["150"], "vn2025:25");
        assert_eq!(map["17"], "vn2025:25");
        // Unmapped commune: its old province's new province.
        assert_eq!(map["04833"], "vn2025:25");
    }

    #[test]
    fn into_the_old_tree_a_new_commune_counts_under_the_commune_it_is_default_for() {
        let map = counts_under(Scheme::Vn2008, &tree(), &links());
        assert_eq!(map["vn2025:04831"], "04831");
        assert_eq!(map["vn2025:04840"], "04832");
        assert_eq!(map["vn2025:25"], "17");
        assert!(!map.contains_key("04831"));
    }
}
