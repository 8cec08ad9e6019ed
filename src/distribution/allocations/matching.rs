//! Automatic allocation as a pure function: needs and stock in, matches and
//! the reason for every unmatched need out. No database here, so it can be
//! measured on its own.
//!
//! Order: needs by priority (highest first), then the oldest, then the
//! lowest id — so the same data always gives the same plan. For each need,
//! stock is looked for in the need's own admin unit, then its parent, then
//! the province, then anywhere ("nearest in the tree"); within one level the
//! lowest stock id wins. Earmarked stock only goes to needs inside its
//! earmark. Optional quotas cap the matches per school and per district.

use std::collections::{BTreeSet, HashMap};

crate::platform::db::text_enum! {
    /// What a need may take: a device, a unit of a data package, or a
    /// software licence (package stock of kind `software`).
    pub enum StockKind {
        Device => "device",
        DataPackage => "data_package",
        Software => "software",
    }
}

#[derive(Debug, Clone)]
pub struct NeedCandidate {
    pub id: i64,
    pub priority: i32,
    pub created_at: chrono::NaiveDateTime,
    pub admin_unit: String,
    /// Where the need's school stood before the 2025 reform re-homed it:
    /// stock earmarked for those old units may still reach it.
    pub pre_reform_unit: Option<String>,
    pub school_id: i64,
    pub kind: StockKind,
}

#[derive(Debug, Clone)]
pub struct StockCandidate {
    /// Device id, or package id.
    pub id: i64,
    pub kind: StockKind,
    pub warehouse_id: i64,
    pub warehouse_unit: String,
    pub earmark: Option<String>,
    /// 1 for a device; the units left of a package.
    pub available: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Match {
    pub need_id: i64,
    pub kind: StockKind,
    /// The device, or the package one unit is taken from.
    pub stock_id: i64,
    pub warehouse_id: i64,
    pub priority: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Unmatched {
    pub need_id: i64,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Quotas {
    pub per_school: Option<u32>,
    pub per_district: Option<u32>,
}

/// The chain of a unit: itself, its parent, …, then "" (anywhere).
fn chain(unit: &str, parents: &HashMap<String, Option<String>>) -> Vec<String> {
    let mut out = vec![unit.to_owned()];
    let mut current = unit.to_owned();
    while let Some(Some(parent)) = parents.get(&current) {
        if out.len() > 8 {
            break;
        }
        out.push(parent.clone());
        current = parent.clone();
    }
    out.push(String::new());
    out
}

type BucketKey = (StockKind, String, Option<String>);

/// Matches needs to stock (see the module comment for the order); every
/// need not matched comes back with the reason.
pub fn plan(
    mut needs: Vec<NeedCandidate>,
    stock: Vec<StockCandidate>,
    parents: &HashMap<String, Option<String>>,
    district_of: &dyn Fn(&str) -> Option<String>,
    quotas: Quotas,
) -> (Vec<Match>, Vec<Unmatched>) {
    needs.sort_by(|a, b| {
        b.priority
            .cmp(&a.priority)
            .then(a.created_at.cmp(&b.created_at))
            .then(a.id.cmp(&b.id))
    });
    let mut shelves = Shelves::new(stock, parents);
    let mut counts = QuotaCounts::default();
    let (mut matches, mut unmatched) = (Vec::new(), Vec::new());
    for need in needs {
        let district = district_of(&need.admin_unit);
        if let Some(reason) = counts.reached(&quotas, &need, district.as_deref()) {
            unmatched.push(Unmatched {
                need_id: need.id,
                reason,
            });
            continue;
        }
        let Some((stock_id, warehouse_id)) = shelves.take(&need) else {
            let what = match need.kind {
                StockKind::Device => "no ready device",
                StockKind::DataPackage => "no data package in stock",
                StockKind::Software => "no software licence in stock",
            };
            unmatched.push(Unmatched {
                need_id: need.id,
                reason: format!("{what} that this need may receive (earmarks respected)"),
            });
            continue;
        };
        matches.push(Match {
            need_id: need.id,
            kind: need.kind,
            stock_id,
            warehouse_id,
            priority: need.priority,
        });
        counts.add(&need, district);
    }
    (matches, unmatched)
}

/// The stock still available, filed so the nearest line for a need is one
/// lookup per level: every line sits in one bucket per unit of its
/// warehouse's chain (and its earmark), each bucket ordered by stock id.
struct Shelves<'p> {
    buckets: HashMap<BucketKey, BTreeSet<i64>>,
    lines: HashMap<(StockKind, i64), StockCandidate>,
    chains: HashMap<String, Vec<String>>,
    parents: &'p HashMap<String, Option<String>>,
}

impl<'p> Shelves<'p> {
    fn new(stock: Vec<StockCandidate>, parents: &'p HashMap<String, Option<String>>) -> Self {
        let mut shelves = Shelves {
            buckets: HashMap::new(),
            lines: HashMap::new(),
            chains: HashMap::new(),
            parents,
        };
        for line in stock.into_iter().filter(|s| s.available > 0) {
            for level in shelves.chain_of(&line.warehouse_unit) {
                shelves
                    .buckets
                    .entry((line.kind, level, line.earmark.clone()))
                    .or_default()
                    .insert(line.id);
            }
            shelves.lines.insert((line.kind, line.id), line);
        }
        shelves
    }

    /// A unit's chain, computed once per unit.
    fn chain_of(&mut self, unit: &str) -> Vec<String> {
        let parents = self.parents;
        self.chains
            .entry(unit.to_owned())
            .or_insert_with(|| chain(unit, parents))
            .clone()
    }

    /// Takes one unit of the nearest stock this need may receive: its own
    /// unit first, then up the tree; unearmarked stock, or stock earmarked
    /// for any unit the need lies in. Returns (stock id, warehouse id).
    fn take(&mut self, need: &NeedCandidate) -> Option<(i64, i64)> {
        let levels = self.chain_of(&need.admin_unit);
        let before = match &need.pre_reform_unit {
            Some(unit) => self.chain_of(unit),
            None => Vec::new(),
        };
        let earmarks: Vec<Option<String>> = std::iter::once(None)
            .chain(
                levels
                    .iter()
                    .chain(&before)
                    .filter(|l| !l.is_empty())
                    .map(|l| Some(l.clone())),
            )
            .collect();
        let stock_id = levels.iter().find_map(|level| {
            earmarks
                .iter()
                .filter_map(|earmark| {
                    self.buckets
                        .get(&(need.kind, level.clone(), earmark.clone()))
                        .and_then(|b| b.first().copied())
                })
                .min()
        })?;
        let line = self.lines.get_mut(&(need.kind, stock_id))?;
        line.available -= 1;
        let (warehouse_id, emptied) = (line.warehouse_id, line.available == 0);
        if emptied {
            let (kind, earmark, unit) =
                (line.kind, line.earmark.clone(), line.warehouse_unit.clone());
            for level in self.chain_of(&unit) {
                if let Some(bucket) = self.buckets.get_mut(&(kind, level, earmark.clone())) {
                    bucket.remove(&stock_id);
                }
            }
        }
        Some((stock_id, warehouse_id))
    }
}

/// Matches so far per school and per district, against the quotas.
#[derive(Default)]
struct QuotaCounts {
    per_school: HashMap<i64, u32>,
    per_district: HashMap<String, u32>,
}

impl QuotaCounts {
    /// Why this need gets nothing more, when a quota is reached.
    fn reached(
        &self,
        quotas: &Quotas,
        need: &NeedCandidate,
        district: Option<&str>,
    ) -> Option<String> {
        if let Some(q) = quotas.per_school {
            if self.per_school.get(&need.school_id).copied().unwrap_or(0) >= q {
                return Some(format!("the quota of {q} per school is reached"));
            }
        }
        if let (Some(q), Some(d)) = (quotas.per_district, district) {
            if self.per_district.get(d).copied().unwrap_or(0) >= q {
                return Some(format!("the quota of {q} per district is reached"));
            }
        }
        None
    }

    fn add(&mut self, need: &NeedCandidate, district: Option<String>) {
        *self.per_school.entry(need.school_id).or_default() += 1;
        if let Some(d) = district {
            *self.per_district.entry(d).or_default() += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parents() -> HashMap<String, Option<String>> {
        [
            ("17", None),
            ("150", Some("17")),
            ("148", Some("17")),
            ("04831", Some("150")),
            ("04789", Some("148")),
            ("vn2025:25", None),
            ("vn2025:04831", Some("vn2025:25")),
        ]
        .into_iter()
        .map(|(c, p)| (c.to_owned(), p.map(str::to_owned)))
        .collect()
    }

    fn need(id: i64, priority: i32, unit: &str) -> NeedCandidate {
        NeedCandidate {
            id,
            priority,
            created_at: chrono::NaiveDateTime::default(),
            admin_unit: unit.into(),
            pre_reform_unit: None,
            school_id: id,
            kind: StockKind::Device,
        }
    }

    fn device(id: i64, warehouse_unit: &str, earmark: Option<&str>) -> StockCandidate {
        StockCandidate {
            id,
            kind: StockKind::Device,
            warehouse_id: id * 10,
            warehouse_unit: warehouse_unit.into(),
            earmark: earmark.map(str::to_owned),
            available: 1,
        }
    }

    #[test]
    fn highest_priority_first_nearest_stock_first() {
        let needs = vec![
            need(1, 10, "04789"),
            need(2, 50, "04831"),
            need(3, 30, "04831"),
        ];
        let stock = vec![device(7, "148", None), device(8, "150", None)];
        let (matches, unmatched) = plan(needs, stock, &parents(), &|_| None, Quotas::default());
        let pairs: Vec<(i64, i64)> = matches.iter().map(|m| (m.need_id, m.stock_id)).collect();
        // Need 2 (priority 50) takes the Đà Bắc device; need 3 then takes the
        // city's (anywhere is better than nothing); need 1 is left.
        assert_eq!(pairs, vec![(2, 8), (3, 7)]);
        assert_eq!(unmatched.len(), 1);
        assert_eq!(unmatched[0].need_id, 1);
    }

    #[test]
    fn earmarked_stock_stays_inside_its_earmark() {
        let needs = vec![need(1, 90, "04789"), need(2, 10, "04831")];
        let stock = vec![device(5, "17", Some("150"))];
        let (matches, unmatched) = plan(needs, stock, &parents(), &|_| None, Quotas::default());
        assert_eq!(
            matches.iter().map(|m| m.need_id).collect::<Vec<_>>(),
            vec![2],
            "only Đà Bắc gets it"
        );
        assert!(unmatched[0].reason.contains("earmarks"));
    }

    #[test]
    fn stock_earmarked_in_the_old_tree_reaches_a_school_re_homed_out_of_it() {
        let mut moved = need(1, 10, "vn2025:04831");
        moved.pre_reform_unit = Some("04831".into());
        let stranger = need(2, 90, "vn2025:04831");
        let stock = vec![device(5, "vn2025:25", Some("150"))];
        let (matches, unmatched) = plan(
            vec![moved, stranger],
            stock,
            &parents(),
            &|_| None,
            Quotas::default(),
        );
        assert_eq!(
            matches.iter().map(|m| m.need_id).collect::<Vec<_>>(),
            vec![1],
            "the school that stood in Đà Bắc gets it; one that never did does not"
        );
        assert_eq!(unmatched[0].need_id, 2);
    }

    #[test]
    fn quotas_cap_matches() {
        let mut needs = vec![need(1, 50, "04831"), need(2, 40, "04831")];
        for n in &mut needs {
            n.school_id = 9;
        }
        let stock = vec![device(5, "150", None), device(6, "150", None)];
        let quotas = Quotas {
            per_school: Some(1),
            per_district: None,
        };
        let (matches, unmatched) = plan(needs, stock, &parents(), &|_| None, quotas);
        assert_eq!(matches.len(), 1);
        assert!(unmatched[0].reason.contains("quota"));
    }

    #[test]
    fn ties_are_broken_by_age_then_id() {
        let needs = vec![need(4, 10, "04831"), need(3, 10, "04831")];
        let stock = vec![device(9, "150", None)];
        let (matches, _) = plan(needs, stock, &parents(), &|_| None, Quotas::default());
        assert_eq!(matches[0].need_id, 3);
    }
}
