//! Everything the public pages show, computed together from the same code
//! the statistics use (coverage counts, donation figures), with disclosure
//! control applied once over the whole admin-unit tree: each page is then a
//! view of one protected table, so two pages (or two filters of one page)
//! can never be combined to recover a hidden count.

use crate::platform::error::Failure;
use std::collections::{BTreeMap, HashMap, HashSet};

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use serde::Serialize;
use utoipa::ToSchema;

use super::disclosure::{protect_alone, PublicCount, SumTree};
use crate::donations::kinds::{DeviceType, DonationKind};
use crate::donations::receipts::ReceiptType;
use crate::needs::workflow::NeedStatus;
use crate::needs::NeedKind;
use crate::platform::db::schema::{
    admin_units, coverage_school_count_parts, donors, needs, pledges, receipts, schools,
};
use crate::platform::db::{with_conn, DbConn};
use crate::registry::admin_units::queries::UnitNode;
use crate::registry::admin_units::{Scheme, SchemeView};
use crate::reporting::stats::donations::kind_key;

/// What public outputs call a donor who asked not to be named.
pub const ANONYMOUS: &str = "Nhà hảo tâm ẩn danh";

/// One unit's readiness for the public.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicProgressLine {
    #[schema(example = "150")]
    pub admin_unit: String,
    #[schema(example = "Huyện Đà Bắc")]
    pub name: String,
    /// `province`, `district` or `commune`.
    #[schema(example = "district")]
    pub level: String,
    pub parent: Option<String>,
    /// Active students in the unit's schools.
    pub students: PublicCount,
    /// Of them, ready for online learning (a device and a connection; what
    /// the programme handed over counts from the handover on).
    pub ready: PublicCount,
    /// ready / students in percent; absent unless both are shown exactly
    /// (a percentage would give a hidden count away).
    pub percent_ready: Option<f64>,
}

/// Totals of the gifts, from the same figures as `GET /stats/donations`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicTotals {
    /// Money received as gifts, net of reversals, in đồng.
    pub money_received_vnd: i64,
    /// Devices that arrived, given or bought.
    pub devices_received: i64,
    /// Devices with students now.
    pub devices_handed_over: PublicCount,
    /// Data packages that arrived, given or bought.
    pub packages_received: i64,
    /// Data packages handed over.
    pub packages_handed_over: PublicCount,
    /// Software licences handed over.
    pub software_handed_over: PublicCount,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NeedsBoardLine {
    pub commune: String,
    pub commune_name: String,
    pub district: Option<String>,
    pub kind: NeedKind,
    /// Open needs.
    pub open_needs: PublicCount,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicDonation {
    /// The donor's name, or "Nhà hảo tâm ẩn danh".
    pub donor: String,
    /// `money` (VND) or `device:<type>`, `data_package`, `software` (count).
    #[schema(example = "device:tablet")]
    pub kind: String,
    /// What arrived as gifts, net of reversals (what a donor gave is not a
    /// count of children and is shown exactly).
    pub received: i64,
}

/// One gift line before the page's filter: with its earmark.
#[derive(Debug, Clone)]
struct GiftLine {
    donor: String,
    kind: String,
    earmark: Option<String>,
    received: i64,
}

/// The protected public table.
#[derive(Debug)]
pub struct PublicFigures {
    units: HashMap<String, PublicProgressLine>,
    parents: HashMap<String, Option<String>>,
    children: HashMap<String, Vec<String>>,
    /// Provinces with students, in code order.
    provinces: Vec<String>,
    needs_board: Vec<NeedsBoardLine>,
    gifts: Vec<GiftLine>,
    pub totals: PublicTotals,
    pub computed_at: chrono::DateTime<chrono::Utc>,
}

fn depth(parents: &HashMap<String, Option<String>>, code: &str) -> usize {
    let mut depth = 0;
    let mut current = code.to_owned();
    while let Some(Some(parent)) = parents.get(&current) {
        depth += 1;
        if depth > 8 {
            break;
        }
        current = parent.clone();
    }
    depth
}

impl PublicFigures {
    /// The figures where each record is stored now (`view` absent), or
    /// counted in one tree (README, "The 2025 reform"): then the table
    /// holds only that tree's units and every record counts under one of
    /// them (or under its own code when the mapping does not reach it).
    pub fn compute(conn: &mut DbConn, view: Option<&SchemeView>) -> Result<Self, Failure> {
        let nodes: Vec<UnitNode> =
            crate::registry::admin_units::queries::subtree_nodes(conn, None)?
                .into_iter()
                .filter(|node| view.is_none_or(|v| Scheme::of(&node.code) == v.scheme()))
                .collect();
        // Students and ready ones in the schools directly at each unit.
        let own: HashMap<String, (i64, i64)> = match view {
            None => with_conn!(conn, |c| coverage_school_count_parts::table
                .inner_join(schools::table)
                .group_by(schools::admin_unit_code)
                .select((
                    schools::admin_unit_code,
                    sql::<BigInt>("CAST(SUM(coverage_school_count_parts.students) AS BIGINT)"),
                    sql::<BigInt>("CAST(SUM(coverage_school_count_parts.ready) AS BIGINT)"),
                ))
                .load::<(String, i64, i64)>(c))?
            .into_iter()
            .map(|(u, s, r)| (u, (s, r)))
            .collect(),
            Some(view) => {
                let per_school: Vec<(i64, String, Option<String>, i64, i64)> =
                    with_conn!(conn, |c| coverage_school_count_parts::table
                        .inner_join(schools::table)
                        .group_by((
                            schools::id,
                            schools::admin_unit_code,
                            schools::pre_reform_unit_code
                        ))
                        .select((
                            schools::id,
                            schools::admin_unit_code,
                            schools::pre_reform_unit_code,
                            sql::<BigInt>(
                                "CAST(SUM(coverage_school_count_parts.students) AS BIGINT)"
                            ),
                            sql::<BigInt>("CAST(SUM(coverage_school_count_parts.ready) AS BIGINT)"),
                        ))
                        .load(c))?;
                let mut own: HashMap<String, (i64, i64)> = HashMap::new();
                for (id, unit, before, students, ready) in per_school {
                    let at = own
                        .entry(view.school_unit(id, &unit, before.as_deref()))
                        .or_default();
                    at.0 += students;
                    at.1 += ready;
                }
                own
            }
        };
        // A unit the view's tree does not hold is a root of its own.
        let mut nodes = nodes;
        let known: HashSet<String> = nodes.iter().map(|n| n.code.clone()).collect();
        for code in own.keys().filter(|c| !known.contains(*c)) {
            nodes.push(UnitNode {
                code: code.clone(),
                parent_code: None,
                level: crate::registry::admin_units::Level::Commune,
                name: code.clone(),
            });
        }
        let parents: HashMap<String, Option<String>> = nodes
            .iter()
            .map(|n| (n.code.clone(), n.parent_code.clone()))
            .collect();
        let mut children: HashMap<String, Vec<String>> = HashMap::new();
        for node in &nodes {
            if let Some(parent) = &node.parent_code {
                children
                    .entry(parent.clone())
                    .or_default()
                    .push(node.code.clone());
            }
        }
        for list in children.values_mut() {
            list.sort();
        }

        // Parents before children, then the sums from the leaves up.
        let mut order: Vec<&UnitNode> = nodes.iter().collect();
        order.sort_by_key(|n| (depth(&parents, &n.code), n.code.clone()));
        let mut totals: HashMap<String, (i64, i64)> = HashMap::new();
        for node in order.iter().rev() {
            let (mut students, mut ready) = own.get(&node.code).copied().unwrap_or((0, 0));
            for child in children.get(&node.code).into_iter().flatten() {
                let (s, r) = totals.get(child).copied().unwrap_or((0, 0));
                students += s;
                ready += r;
            }
            totals.insert(node.code.clone(), (students, ready));
        }

        // One tree per count, every unit a published cell, plus a cell for
        // the schools directly at a unit that has children (a reader can
        // work it out as the difference, so it is protected like the rest).
        let mut trees = [SumTree::default(), SumTree::default()];
        let mut index: HashMap<String, usize> = HashMap::new();
        for (t, tree) in trees.iter_mut().enumerate() {
            let pick = |(s, r): (i64, i64)| if t == 0 { s } else { r };
            let root_value: i64 = order
                .iter()
                .filter(|n| n.parent_code.is_none())
                .map(|n| pick(totals[&n.code]))
                .sum();
            let root = tree.add(root_value, None, false);
            for node in &order {
                let parent = node
                    .parent_code
                    .as_ref()
                    .and_then(|p| index.get(p).copied())
                    .unwrap_or(root);
                let at = tree.add(pick(totals[&node.code]), Some(parent), true);
                if t == 0 {
                    index.insert(node.code.clone(), at);
                }
                // The same cells in both trees, so indices agree.
                let (own_students, own_ready) = own.get(&node.code).copied().unwrap_or((0, 0));
                if children.contains_key(&node.code) && own_students > 0 {
                    tree.add(pick((own_students, own_ready)), Some(at), true);
                }
            }
        }
        let [students_tree, ready_tree] = trees;
        let (students_shown, ready_shown) = (students_tree.protect(), ready_tree.protect());
        let units: HashMap<String, PublicProgressLine> = nodes
            .iter()
            .map(|node| {
                let at = index[&node.code];
                let (students, ready) = (students_shown[at], ready_shown[at]);
                let percent_ready = match (students, ready) {
                    (PublicCount::Exact(s), PublicCount::Exact(r)) if s > 0 => {
                        Some((r as f64 * 10_000.0 / s as f64).round() / 100.0)
                    }
                    _ => None,
                };
                (
                    node.code.clone(),
                    PublicProgressLine {
                        admin_unit: node.code.clone(),
                        name: node.name.clone(),
                        level: node.level.to_string(),
                        parent: node.parent_code.clone(),
                        students,
                        ready,
                        percent_ready,
                    },
                )
            })
            .collect();
        let mut provinces: Vec<String> = nodes
            .iter()
            .filter(|n| n.parent_code.is_none() && totals[&n.code].0 > 0)
            .map(|n| n.code.clone())
            .collect();
        provinces.sort();

        let stats = crate::reporting::stats::donations::donation_stats(conn, None, None)?;
        let sum =
            |prefix: &str, field: fn(&crate::reporting::stats::donations::DonationLine) -> i64| {
                stats
                    .lines
                    .iter()
                    .filter(|l| l.kind.starts_with(prefix))
                    .map(field)
                    .sum::<i64>()
            };
        let totals = PublicTotals {
            money_received_vnd: stats.money_received_vnd,
            devices_received: sum("device:", |l| l.received_as_gifts + l.bought),
            devices_handed_over: protect_alone(sum("device:", |l| l.handed_over)),
            packages_received: sum("data_package", |l| l.received_as_gifts + l.bought),
            packages_handed_over: protect_alone(sum("data_package", |l| l.handed_over)),
            software_handed_over: protect_alone(sum("software", |l| l.handed_over)),
        };

        Ok(Self {
            needs_board: needs_board(conn, &nodes, &parents, view)?,
            gifts: gifts(conn, view)?,
            units,
            parents,
            children,
            provinces,
            totals,
            computed_at: chrono::Utc::now(),
        })
    }

    /// Whether `code` is `root` or below it.
    fn within(&self, code: &str, root: &str) -> bool {
        let mut current = Some(code.to_owned());
        while let Some(c) = current {
            if c == root {
                return true;
            }
            current = self.parents.get(&c).cloned().flatten();
        }
        false
    }

    /// A unit's name, when the table knows it.
    pub fn name_of(&self, code: &str) -> Option<&str> {
        self.units.get(code).map(|line| line.name.as_str())
    }

    /// Whether the table knows the unit.
    pub fn knows(&self, code: &str) -> bool {
        self.units.contains_key(code)
    }

    /// The unit and its children; without a unit, the provinces with
    /// students and their districts.
    pub fn progress(&self, root: Option<&str>) -> Vec<PublicProgressLine> {
        let line = |code: &String| self.units.get(code).cloned();
        match root {
            Some(root) => std::iter::once(root.to_owned())
                .chain(self.children.get(root).cloned().unwrap_or_default())
                .filter_map(|c| line(&c))
                .collect(),
            None => self
                .provinces
                .iter()
                .flat_map(|p| {
                    std::iter::once(p.clone())
                        .chain(self.children.get(p).cloned().unwrap_or_default())
                })
                .filter_map(|c| line(&c))
                .collect(),
        }
    }

    /// Open needs by commune and kind, in `root`'s subtree (all without one).
    pub fn needs_board(&self, root: Option<&str>) -> Vec<NeedsBoardLine> {
        self.needs_board
            .iter()
            .filter(|l| root.is_none_or(|r| self.within(&l.commune, r)))
            .cloned()
            .collect()
    }

    /// Gifts by donor and kind; with a unit, those earmarked for its subtree.
    pub fn donations(&self, root: Option<&str>) -> Vec<PublicDonation> {
        let mut totals: BTreeMap<(String, String), i64> = BTreeMap::new();
        for gift in &self.gifts {
            let inside = match root {
                None => true,
                Some(r) => gift.earmark.as_deref().is_some_and(|e| self.within(e, r)),
            };
            if inside {
                let total = totals
                    .entry((gift.donor.clone(), gift.kind.clone()))
                    .or_default();
                *total = total.saturating_add(gift.received);
            }
        }
        totals
            .into_iter()
            .filter(|(_, received)| *received != 0)
            .map(|((donor, kind), received)| PublicDonation {
                donor,
                kind,
                received,
            })
            .collect()
    }
}

/// Open needs by commune and kind: single cells (no total of them is
/// published), each protected on its own.
fn needs_board(
    conn: &mut DbConn,
    nodes: &[UnitNode],
    parents: &HashMap<String, Option<String>>,
    view: Option<&SchemeView>,
) -> Result<Vec<NeedsBoardLine>, Failure> {
    // Per school as well: in a view, a re-homed school's needs count
    // where the school counts.
    let stored: Vec<(String, i64, NeedKind, i64)> = with_conn!(conn, |c| needs::table
        .filter(needs::status.eq_any(NeedStatus::OPEN))
        .group_by((needs::admin_unit_code, needs::school_id, needs::kind))
        .select((
            needs::admin_unit_code,
            needs::school_id,
            needs::kind,
            diesel::dsl::count_star(),
        ))
        .load(c))?;
    let before: HashMap<i64, String> = match view {
        None => HashMap::new(),
        Some(_) => with_conn!(conn, |c| schools::table
            .filter(schools::pre_reform_unit_code.is_not_null())
            .select((schools::id, schools::pre_reform_unit_code.assume_not_null()))
            .load::<(i64, String)>(c))?
        .into_iter()
        .collect(),
    };
    // In a view several stored units may count as one.
    let mut counted: BTreeMap<(String, NeedKind), i64> = BTreeMap::new();
    for (unit, school, kind, count) in stored {
        let unit = view.map_or(unit.clone(), |v| {
            v.school_unit(school, &unit, before.get(&school).map(String::as_str))
        });
        *counted.entry((unit, kind)).or_default() += count;
    }
    let names: HashMap<&str, &str> = nodes
        .iter()
        .map(|n| (n.code.as_str(), n.name.as_str()))
        .collect();
    Ok(counted
        .into_iter()
        .map(|((unit, kind), count)| NeedsBoardLine {
            commune_name: names
                .get(unit.as_str())
                .copied()
                .unwrap_or_default()
                .to_owned(),
            district: parents.get(&unit).cloned().flatten(),
            commune: unit,
            kind,
            open_needs: protect_alone(count),
        })
        .collect())
}

/// Gifts that arrived (net of reversals) by donor, kind and earmark.
fn gifts(conn: &mut DbConn, view: Option<&SchemeView>) -> Result<Vec<GiftLine>, Failure> {
    type Row = (
        Option<i64>,
        DonationKind,
        Option<DeviceType>,
        Option<String>,
        Option<String>,
        i64,
        i64,
    );
    let (high, low) =
        crate::platform::money::split_sum("COALESCE(receipts.amount_vnd, receipts.quantity)");
    let rows: Vec<Row> = with_conn!(conn, |c| receipts::table
        .left_join(pledges::table.on(pledges::id.nullable().eq(receipts::pledge_id)))
        .left_join(schools::table.on(schools::id.nullable().eq(pledges::earmark_school_id)))
        .filter(receipts::receipt_type.eq(ReceiptType::Donation))
        .group_by((
            receipts::donor_id,
            receipts::kind,
            receipts::device_type,
            pledges::earmark_admin_unit,
            schools::admin_unit_code,
        ))
        .select((
            receipts::donor_id,
            receipts::kind,
            receipts::device_type,
            pledges::earmark_admin_unit.nullable(),
            schools::admin_unit_code.nullable(),
            high,
            low,
        ))
        .load(c))?;
    let names: HashMap<i64, String> = with_conn!(conn, |c| donors::table
        .select((donors::id, donors::name, donors::anonymous_publicly))
        .load::<(i64, String, bool)>(c))?
    .into_iter()
    .map(|(id, name, anonymous)| {
        (
            id,
            if anonymous {
                ANONYMOUS.to_owned()
            } else {
                name
            },
        )
    })
    .collect();
    Ok(rows
        .into_iter()
        .map(
            |(donor, kind, device, unit, school_unit, high, low)| GiftLine {
                donor: donor
                    .and_then(|d| names.get(&d).cloned())
                    .unwrap_or_else(|| ANONYMOUS.to_owned()),
                kind: kind_key(kind, device),
                earmark: unit
                    .or(school_unit)
                    .map(|e| view.map_or(e.clone(), |v| v.unit(&e))),
                received: crate::platform::money::join(high, low),
            },
        )
        .collect())
}

/// Whether an admin unit exists (for a 404 on an unknown filter).
pub fn unit_exists(conn: &mut DbConn, code: &str) -> Result<bool, Failure> {
    let found: i64 = with_conn!(conn, |c| admin_units::table
        .filter(admin_units::code.eq(code))
        .count()
        .get_result(c))?;
    Ok(found > 0)
}
