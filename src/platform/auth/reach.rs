//! What a caller reaches: the one resolved scope every domain's queries
//! filter by. A token carries a claim (`Scope`: a unit, a school, an
//! operator); the rows behind it depend on what is being asked for, so the
//! claim is resolved once per request, for one realm, into a `Reach`.

use std::collections::HashSet;

use diesel::prelude::*;

use super::principal::{Account, Principal, Scope};
use super::role::Role;
use crate::platform::db::schema::{donors, warehouse_staff, warehouses};
use crate::platform::db::{with_conn, DbConn};
use crate::platform::error::Failure;

/// What kind of rows a request is about: the same officer reaches a
/// district's students and that district's warehouses, a donor only their
/// own donations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Realm {
    /// Students, schools, needs, allocations and handovers (by school and unit).
    Students,
    /// Donors, pledges and receipts (by donor).
    Donations,
    /// Coverage gaps (by unit or operator).
    CoverageGaps,
    /// Warehouses and their stock (by warehouse).
    Warehouses,
}

/// The rows a caller may see and write in one realm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// Every row.
    Everywhere,
    /// Rows in these admin units: a district officer's subtree.
    Units(HashSet<String>),
    /// One school's rows (school staff).
    School(i64),
    /// One telecom operator's gaps.
    Operator(i64),
    /// One donor's records; `None` for a donor user not linked to a donor yet.
    Donor(Option<i64>),
    /// These warehouses: a warehouse officer's own, a district officer's in
    /// the subtree.
    Warehouses(HashSet<i64>),
}

impl Principal {
    /// The caller's reach in `realm`; 403 when the role has none there
    /// (handlers check roles first, so this is the second fence).
    pub fn reach(&self, conn: &mut DbConn, realm: Realm) -> Result<Reach, Failure> {
        match realm {
            Realm::Students => match &self.scope {
                Scope::Everywhere => Ok(Reach::Everywhere),
                Scope::AdminUnit { admin_unit_code } => {
                    Ok(Reach::Units(unit_and_descendants(conn, admin_unit_code)?))
                }
                Scope::School { school_id } => Ok(Reach::School(*school_id)),
                Scope::Operator { .. } | Scope::OwnRecords => {
                    Err(Failure::forbidden("this role has no access to students"))
                }
            },
            Realm::CoverageGaps => match &self.scope {
                Scope::Everywhere => Ok(Reach::Everywhere),
                Scope::AdminUnit { admin_unit_code } => {
                    Ok(Reach::Units(unit_and_descendants(conn, admin_unit_code)?))
                }
                Scope::Operator { operator_id } => Ok(Reach::Operator(*operator_id)),
                Scope::School { .. } | Scope::OwnRecords => Err(Failure::forbidden(
                    "this role has no access to coverage gaps",
                )),
            },
            Realm::Donations => match (&self.account, self.role) {
                (Account::User { id, .. }, Role::Donor) => {
                    let donor: Option<i64> = with_conn!(conn, |c| donors::table
                        .filter(donors::user_id.eq(*id))
                        .select(donors::id)
                        .first(c)
                        .optional())?;
                    Ok(Reach::Donor(donor))
                }
                (_, Role::Admin | Role::WarehouseOfficer | Role::FinanceOfficer) => {
                    Ok(Reach::Everywhere)
                }
                _ => Err(Failure::forbidden("this role has no access to donations")),
            },
            Realm::Warehouses => match (self.role, &self.account, &self.scope) {
                (Role::Admin, _, _) => Ok(Reach::Everywhere),
                (Role::WarehouseOfficer, Account::User { id, .. }, _) => {
                    let ids: Vec<i64> = with_conn!(conn, |c| warehouse_staff::table
                        .filter(warehouse_staff::user_id.eq(*id))
                        .select(warehouse_staff::warehouse_id)
                        .load(c))?;
                    Ok(Reach::Warehouses(ids.into_iter().collect()))
                }
                (Role::DistrictOfficer, _, Scope::AdminUnit { admin_unit_code }) => {
                    let units: Vec<String> = unit_and_descendants(conn, admin_unit_code)?
                        .into_iter()
                        .collect();
                    let ids: Vec<i64> = with_conn!(conn, |c| warehouses::table
                        .filter(warehouses::admin_unit_code.eq_any(&units))
                        .select(warehouses::id)
                        .load(c))?;
                    Ok(Reach::Warehouses(ids.into_iter().collect()))
                }
                _ => Err(Failure::forbidden("this role has no access to warehouses")),
            },
        }
    }
}

impl Reach {
    pub fn is_everywhere(&self) -> bool {
        matches!(self, Reach::Everywhere)
    }

    /// The admin units a query must keep to, for a district officer
    /// (`None`: no unit limit from this reach).
    pub fn unit_codes(&self) -> Option<Vec<&String>> {
        match self {
            Reach::Units(units) => Some(units.iter().collect()),
            _ => None,
        }
    }

    /// The school a query must keep to, for school staff.
    pub fn school(&self) -> Option<i64> {
        match self {
            Reach::School(id) => Some(*id),
            _ => None,
        }
    }

    /// A row at `school_id` in unit `admin_unit_code` (a student, a need,
    /// an allocation, a handover).
    pub fn allows_place(&self, school_id: i64, admin_unit_code: &str) -> bool {
        match self {
            Reach::Everywhere => true,
            Reach::Units(units) => units.contains(admin_unit_code),
            Reach::School(id) => *id == school_id,
            Reach::Operator(_) | Reach::Donor(_) | Reach::Warehouses(_) => false,
        }
    }

    /// An admin unit as a whole (a unit-level filter or a gap's unit).
    pub fn allows_unit(&self, admin_unit_code: &str) -> bool {
        match self {
            Reach::Everywhere => true,
            Reach::Units(units) => units.contains(admin_unit_code),
            _ => false,
        }
    }

    /// A coverage gap in `admin_unit_code`, assigned to `operator_id`.
    pub fn allows_gap(&self, admin_unit_code: &str, operator_id: Option<i64>) -> bool {
        match self {
            Reach::Operator(id) => operator_id == Some(*id),
            _ => self.allows_unit(admin_unit_code),
        }
    }

    /// A record of donor `donor_id` (`None`: an anonymous gift, staff only).
    pub fn allows_donor(&self, donor_id: Option<i64>) -> bool {
        match self {
            Reach::Everywhere => true,
            Reach::Donor(Some(own)) => donor_id == Some(*own),
            _ => false,
        }
    }

    /// The donor a query must keep to: `None` for staff, `Some(None)` for a
    /// donor user linked to no donor (who sees nothing).
    pub fn donor(&self) -> Option<Option<i64>> {
        match self {
            Reach::Everywhere => None,
            Reach::Donor(own) => Some(*own),
            _ => Some(None),
        }
    }

    /// The warehouses a query must keep to (`None`: all).
    pub fn warehouse_ids(&self) -> Option<Vec<i64>> {
        match self {
            Reach::Everywhere => None,
            Reach::Warehouses(ids) => Some(ids.iter().copied().collect()),
            _ => Some(Vec::new()),
        }
    }

    pub fn allows_warehouse(&self, warehouse_id: i64) -> bool {
        match self {
            Reach::Everywhere => true,
            Reach::Warehouses(ids) => ids.contains(&warehouse_id),
            _ => false,
        }
    }
}

/// `root` and every unit below it: a district officer's subtree, from
/// the process's copy of the tree (`platform::unit_tree`).
pub fn unit_and_descendants(conn: &mut DbConn, root: &str) -> Result<HashSet<String>, Failure> {
    let tree = crate::platform::unit_tree::current(conn)?;
    let units = tree.subtree(root)?;
    Ok(units.into_iter().map(str::to_owned).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(codes: &[&str]) -> Reach {
        Reach::Units(codes.iter().map(|c| c.to_string()).collect())
    }

    #[test]
    fn each_reach_allows_its_own_rows_and_nothing_else() {
        // (reach, school 7 in unit "148", donor 3, warehouse 5, gap in "148" of operator 2)
        let cases = [
            (Reach::Everywhere, true, true, true, true),
            (units(&["148"]), true, false, false, true),
            (units(&["149"]), false, false, false, false),
            (Reach::School(7), true, false, false, false),
            (Reach::School(8), false, false, false, false),
            (Reach::Operator(2), false, false, false, true),
            (Reach::Operator(9), false, false, false, false),
            (Reach::Donor(Some(3)), false, true, false, false),
            (Reach::Donor(None), false, false, false, false),
            (
                Reach::Warehouses(HashSet::from([5])),
                false,
                false,
                true,
                false,
            ),
            (
                Reach::Warehouses(HashSet::new()),
                false,
                false,
                false,
                false,
            ),
        ];
        for (reach, place, donor, warehouse, gap) in cases {
            assert_eq!(reach.allows_place(7, "148"), place, "{reach:?} place");
            assert_eq!(reach.allows_donor(Some(3)), donor, "{reach:?} donor");
            assert_eq!(reach.allows_warehouse(5), warehouse, "{reach:?} warehouse");
            assert_eq!(reach.allows_gap("148", Some(2)), gap, "{reach:?} gap");
        }
        // An anonymous gift is staff-only.
        assert!(Reach::Everywhere.allows_donor(None));
        assert!(!Reach::Donor(Some(3)).allows_donor(None));
    }
}
