//! What a caller may do: the roles of accounts and machine clients
//! (README: "Who sees what").

use crate::platform::db::text_enum;

text_enum! {
    /// What a caller may do (README: "Who sees what").
    pub enum Role {
        /// Department of Education and Training: users and machine clients,
        /// and everything not reserved to a duty below (unless the account
        /// holds that duty too).
        Admin => "admin",
        /// Students, needs and schools inside one admin-unit subtree.
        DistrictOfficer => "district_officer",
        /// One school: report needs, record handovers.
        SchoolStaff => "school_staff",
        /// Receipts, inventory and movements in their warehouses.
        WarehouseOfficer => "warehouse_officer",
        /// Their own pledges and where the gifts went.
        Donor => "donor",
        /// Coverage gaps assigned to their operator.
        Telecom => "telecom",
        /// Machine client: the student sync endpoints only.
        SyncClient => "sync_client",
        /// Machine client: aggregated statistics only.
        StatsReader => "stats_reader",
        /// A technology firm: its own online-teaching platform offers.
        TechPartner => "tech_partner",
        /// Programme finance: confirms pledges, reverses receipts, records
        /// purchases and suppliers, reads the ledger.
        FinanceOfficer => "finance_officer",
        /// Programme management: campaigns, drives, priority rules and
        /// lockdown flags anywhere in the province.
        ProgrammeOfficer => "programme_officer",
    }
}

impl Role {
    /// Duties an admin does not have by being admin: the account must hold
    /// the role, or have it among its `extra_roles`.
    pub fn is_separated_duty(self) -> bool {
        matches!(self, Role::FinanceOfficer | Role::ProgrammeOfficer)
    }

    /// The words of `extra_roles` as stored (`finance_officer,programme_officer`).
    pub fn parse_list(stored: &str) -> Vec<Role> {
        stored
            .split(',')
            .filter_map(|word| word.trim().parse().ok())
            .collect()
    }

    /// `roles` as stored: sorted, once each.
    pub fn store_list(roles: &[Role]) -> String {
        let mut words: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        words.sort_unstable();
        words.dedup();
        words.join(",")
    }

    /// Roles held by machine clients rather than people.
    pub fn is_machine(self) -> bool {
        matches!(self, Role::SyncClient | Role::StatsReader)
    }
}
