//! Who is calling: the extractor every protected handler takes, the role
//! guard and the scope check. Handlers never read tokens themselves.

use serde::Serialize;
use utoipa::ToSchema;

use super::role::Role;
use crate::platform::db::DbConn;
use crate::platform::error::Failure;

/// The account behind a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Account {
    User { id: i64, username: String },
    Client { id: i64, client_id: String },
}

impl Account {
    /// The `sub` claim for this account.
    pub fn subject(&self) -> String {
        match self {
            Account::User { id, .. } => format!("user:{id}"),
            Account::Client { id, .. } => format!("client:{id}"),
        }
    }
}

/// Which rows a caller may touch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Scope {
    /// The whole province (admins, statistics readers, the sync client).
    Everywhere,
    /// One admin unit and everything under it (district officers).
    AdminUnit { admin_unit_code: String },
    /// One school (school staff).
    School { school_id: i64 },
    /// One telecom operator's coverage gaps (telecom users).
    Operator { operator_id: i64 },
    /// Only records linked to the account itself (warehouses, pledges, operators).
    OwnRecords,
}

impl Scope {
    /// The scope claim carried in a token.
    pub fn claim(&self) -> Option<String> {
        match self {
            Scope::AdminUnit { admin_unit_code } => Some(format!("admin_unit:{admin_unit_code}")),
            Scope::School { school_id } => Some(format!("school:{school_id}")),
            Scope::Operator { operator_id } => Some(format!("operator:{operator_id}")),
            Scope::Everywhere | Scope::OwnRecords => None,
        }
    }

    /// The scope an account with `role` and these links has.
    pub fn for_role(
        role: Role,
        admin_unit_code: Option<String>,
        school_id: Option<i64>,
        operator_id: Option<i64>,
    ) -> Self {
        match (role, admin_unit_code, school_id, operator_id) {
            (Role::DistrictOfficer, Some(admin_unit_code), _, _) => {
                Scope::AdminUnit { admin_unit_code }
            }
            (Role::SchoolStaff, _, Some(school_id), _) => Scope::School { school_id },
            (Role::Telecom, _, _, Some(operator_id)) => Scope::Operator { operator_id },
            (
                Role::Admin
                | Role::StatsReader
                | Role::SyncClient
                | Role::FinanceOfficer
                | Role::ProgrammeOfficer,
                _,
                _,
                _,
            ) => Scope::Everywhere,
            _ => Scope::OwnRecords,
        }
    }
}

/// An authenticated caller whose account is still active.
#[derive(Debug, Clone)]
pub struct Principal {
    pub account: Account,
    pub role: Role,
    /// Duties held besides the role (`finance_officer`, `programme_officer`).
    pub extra_roles: Vec<Role>,
    pub scope: Scope,
    /// The account's token version: a token naming another one is void.
    pub token_version: i64,
}

impl Principal {
    /// How the caller appears in the audit log: `user:<username>` or
    /// `client:<client_id>` (staff accounts, never a student).
    pub fn actor(&self) -> String {
        match &self.account {
            Account::User { username, .. } => format!("user:{username}"),
            Account::Client { client_id, .. } => format!("client:{client_id}"),
        }
    }

    /// Passes when the caller has one of `roles` (as its role or among its
    /// extra roles); admins always pass.
    /// Fails as forbidden (403): the caller may know the endpoint exists, not use it.
    pub fn require(&self, roles: &[Role]) -> Result<(), Failure> {
        if self.role == Role::Admin {
            return Ok(());
        }
        self.require_duty(roles).map_err(|_| {
            let names: Vec<&str> = std::iter::once("admin")
                .chain(roles.iter().map(|r| r.as_str()))
                .collect();
            Failure::forbidden(format!("this action needs the role {}", names.join(" or ")))
        })
    }

    /// Passes only when the caller holds one of `roles` as its role or
    /// among its extra roles — being admin is not enough. For the
    /// separated duties (finance, programme): who administers accounts
    /// does not also move the money unless given that duty.
    pub fn require_duty(&self, roles: &[Role]) -> Result<(), Failure> {
        if roles
            .iter()
            .any(|r| *r == self.role || self.extra_roles.contains(r))
        {
            return Ok(());
        }
        let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        Err(Failure::forbidden(format!(
            "this action needs the role {} (or it among your extra roles)",
            names.join(" or ")
        )))
    }

    /// Passes for admins only.
    pub fn require_admin(&self) -> Result<(), Failure> {
        self.require(&[])
    }

    /// The subtree a caller asks for, checked against their scope: the
    /// whole country (`None`) or any unit for callers scoped everywhere, a
    /// unit inside their own subtree for district officers (by default all
    /// of it). A unit outside the scope is 404.
    pub fn unit_in_scope(
        &self,
        conn: &mut DbConn,
        asked: Option<&str>,
    ) -> Result<Option<String>, Failure> {
        Ok(match (asked, &self.scope) {
            (Some(code), _) => {
                self.ensure_admin_unit_in_scope(conn, code)?;
                Some(code.to_owned())
            }
            (None, Scope::AdminUnit { admin_unit_code }) => Some(admin_unit_code.clone()),
            (None, _) => None,
        })
    }

    /// Passes when admin unit `code` exists and lies in the caller's scope. A row
    /// outside the scope answers 404, exactly like a row that does not
    /// exist, so officers cannot probe other districts.
    pub fn ensure_admin_unit_in_scope(&self, conn: &mut DbConn, code: &str) -> Result<(), Failure> {
        let hidden = Failure::unknown_admin_unit;
        match &self.scope {
            Scope::Everywhere => match unit_and_ancestors(conn, code)? {
                Some(_) => Ok(()),
                None => Err(hidden()),
            },
            Scope::AdminUnit { admin_unit_code } => match unit_and_ancestors(conn, code)? {
                Some(chain) if chain.iter().any(|unit| unit == admin_unit_code) => Ok(()),
                _ => Err(hidden()),
            },
            Scope::School { .. } | Scope::Operator { .. } | Scope::OwnRecords => Err(hidden()),
        }
    }
}

/// The codes of a unit and of every unit above it (`None` for an unknown
/// unit): scope is "this unit is yours or lies below yours", and a webhook
/// limited to a unit hears the events of units below it.
pub fn unit_and_ancestors(conn: &mut DbConn, code: &str) -> Result<Option<Vec<String>>, Failure> {
    use crate::platform::db::schema::admin_units;
    use diesel::prelude::*;
    // Deeper than any real tree (province, district, commune): a longer
    // chain is a parent loop in the data.
    const MAX_DEPTH: usize = 8;
    let mut chain = Vec::new();
    let mut next = Some(code.to_owned());
    while let Some(current) = next {
        if chain.len() >= MAX_DEPTH {
            return Err(Failure::internal(format!(
                "admin unit {code} has a parent loop"
            )));
        }
        let parent: Option<Option<String>> =
            crate::platform::db::with_conn!(conn, |c| admin_units::table
                .find(&current)
                .select(admin_units::parent_code)
                .first(c)
                .optional())?;
        let Some(parent) = parent else {
            return Ok(None);
        };
        chain.push(current);
        next = parent;
    }
    Ok(Some(chain))
}
