//! Uptake of online-teaching platforms: schools that record a platform and
//! their students, by part of the subtree, school level and platform.
//! Counted from the adoption rows on every request.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::coverage::UnitTree;
use crate::platform::db::DbConn;
use crate::platform::error::Failure;
use crate::registry::schools::SchoolLevel;
use crate::teaching::platforms::OfferStatus;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PlatformStatsQuery {
    /// The subtree (default: the caller's scope; the whole country for
    /// admins); its rows are its child units (a province's districts).
    pub admin_unit: Option<String>,
    /// Only schools of this level.
    pub level: Option<SchoolLevel>,
    /// `json` (default), `csv` or `xlsx`.
    pub format: Option<crate::platform::http::tabular::Format>,
    /// Column titles of CSV and XLSX: `en` (field names, default) or `vi`.
    pub lang: Option<crate::platform::http::tabular::Lang>,
}

/// Schools of one part and level that use one platform.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct PlatformUptakeRow {
    /// The admin unit code of the part (a child of the subtree's root).
    pub key: String,
    pub name: String,
    pub level: SchoolLevel,
    pub offer_id: i64,
    pub product: String,
    pub schools: i64,
    pub students: i64,
}

/// One platform's uptake in the whole subtree.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct PlatformUptakeTotal {
    pub offer_id: i64,
    pub product: String,
    /// Its status now: a withdrawn platform's past uptake stays counted.
    pub offer_status: OfferStatus,
    pub schools: i64,
    pub students: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PlatformStats {
    pub admin_unit: Option<String>,
    pub level: Option<SchoolLevel>,
    /// Per platform, oldest offer first; each equals the sum of its rows.
    pub platforms: Vec<PlatformUptakeTotal>,
    /// Per part, level and platform.
    pub rows: Vec<PlatformUptakeRow>,
}

/// The uptake of every platform in `root`'s subtree (everywhere when
/// `None`), of schools of `level` when given.
pub fn platform_stats(
    conn: &mut DbConn,
    root: Option<&str>,
    level: Option<SchoolLevel>,
) -> Result<PlatformStats, Failure> {
    let tree = UnitTree::load(conn, root)?;
    let units: Option<Vec<String>> = root.map(|_| tree.codes());
    let facts = crate::teaching::platforms::queries::adoption_facts(conn, units.as_deref(), level)?;
    let mut rows: BTreeMap<(String, SchoolLevel, i64), PlatformUptakeRow> = BTreeMap::new();
    let mut totals: BTreeMap<i64, PlatformUptakeTotal> = BTreeMap::new();
    for fact in facts {
        let part = tree.part_of(root, &fact.admin_unit_code);
        let row = rows
            .entry((part.clone(), fact.level, fact.offer_id))
            .or_insert_with(|| PlatformUptakeRow {
                name: tree.name(&part),
                key: part,
                level: fact.level,
                offer_id: fact.offer_id,
                product: fact.product.clone(),
                schools: 0,
                students: 0,
            });
        row.schools += 1;
        row.students += fact.students;
        let total = totals
            .entry(fact.offer_id)
            .or_insert_with(|| PlatformUptakeTotal {
                offer_id: fact.offer_id,
                product: fact.product,
                offer_status: fact.offer_status,
                schools: 0,
                students: 0,
            });
        total.schools += 1;
        total.students += fact.students;
    }
    Ok(PlatformStats {
        admin_unit: root.map(str::to_owned),
        level,
        platforms: totals.into_values().collect(),
        rows: rows.into_values().collect(),
    })
}
