//! Safe internet on the devices children hold: of the devices handed over
//! and not returned, how many carry the current device profile in full, an
//! older one (or one with failures), or none — by part of the subtree.
//! Counted from the rows on every request.

use std::collections::BTreeMap;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::coverage::UnitTree;
use crate::distribution::profiles::queries::{current_version, state_of};
use crate::distribution::profiles::ProfileState;
use crate::platform::db::schema::{allocations, handovers, inventory_items, needs};
use crate::platform::db::{with_conn, DbConn};
use crate::platform::error::Failure;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SafeDevicesQuery {
    /// The subtree (default: the caller's scope; the whole country for
    /// admins); its rows are its child units (a province's districts).
    pub admin_unit: Option<String>,
    /// `json` (default), `csv` or `xlsx`.
    pub format: Option<crate::platform::http::tabular::Format>,
    /// Column titles of CSV and XLSX: `en` (field names, default) or `vi`.
    pub lang: Option<crate::platform::http::tabular::Lang>,
}

/// Devices with children in one part, by the profile they carry.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct SafeDevicesRow {
    /// The admin unit code (`*` for the whole country).
    pub key: String,
    pub name: String,
    /// Devices handed over and not returned.
    pub handed_over: i64,
    /// … carrying the current profile in full.
    pub with_current_profile: i64,
    /// … carrying an older version, or the current one with failures.
    pub with_older_profile: i64,
    /// … handed over before any profile was applied to them.
    pub without_profile: i64,
}

impl SafeDevicesRow {
    fn add(&mut self, state: Carried) {
        self.handed_over += 1;
        match state {
            Carried::Current => self.with_current_profile += 1,
            Carried::Older => self.with_older_profile += 1,
            Carried::None => self.without_profile += 1,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SafeDevices {
    pub admin_unit: Option<String>,
    /// The current device profile version (none published yet: `null`).
    pub current_profile_version: Option<i32>,
    pub total: SafeDevicesRow,
    pub rows: Vec<SafeDevicesRow>,
}

#[derive(Clone, Copy)]
enum Carried {
    Current,
    Older,
    None,
}

/// The devices with children in `root`'s subtree (everywhere when `None`).
pub fn safe_devices(conn: &mut DbConn, root: Option<&str>) -> Result<SafeDevices, Failure> {
    let tree = UnitTree::load(conn, root)?;
    let units: Option<Vec<String>> = root.map(|_| tree.codes());
    let current = current_version(conn)?;
    let held: Vec<(String, Option<i32>, Option<String>)> = with_conn!(conn, |c| {
        let mut query = handovers::table
            .inner_join(allocations::table.inner_join(needs::table))
            .inner_join(
                inventory_items::table.on(allocations::item_id.eq(inventory_items::id.nullable())),
            )
            .filter(handovers::returned_on.is_null())
            .select((
                needs::admin_unit_code,
                inventory_items::profile_version,
                inventory_items::profile_failures,
            ))
            .into_boxed();
        if let Some(units) = &units {
            query = query.filter(needs::admin_unit_code.eq_any(units));
        }
        query.load(c)
    })?;
    let mut total = SafeDevicesRow {
        key: root.unwrap_or("*").to_owned(),
        name: root.map_or_else(|| "Việt Nam".to_owned(), |r| tree.name(r)),
        ..Default::default()
    };
    let mut rows: BTreeMap<String, SafeDevicesRow> = BTreeMap::new();
    for (unit, version, failures) in held {
        let carried = match (version, state_of(current, version, failures.as_deref())) {
            (None, _) => Carried::None,
            (Some(_), ProfileState::Current) => Carried::Current,
            (Some(_), _) => Carried::Older,
        };
        let part = tree.part_of(root, &unit);
        let row = rows.entry(part.clone()).or_insert_with(|| SafeDevicesRow {
            name: tree.name(&part),
            key: part,
            ..Default::default()
        });
        row.add(carried);
        total.add(carried);
    }
    Ok(SafeDevices {
        admin_unit: root.map(str::to_owned),
        current_profile_version: current,
        total,
        rows: rows.into_values().collect(),
    })
}
