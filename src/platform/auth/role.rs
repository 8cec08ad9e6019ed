//! What a caller may do: the roles of accounts and machine clients
//! (README: "Who sees what").

use crate::platform::db::text_enum;

text_enum! {
    /// What a caller may do (README: "Who sees what").
    pub enum Role {
        /// Department of Education and Training: everything.
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
    }
}

impl Role {
    /// Roles held by machine clients rather than people.
    pub fn is_machine(self) -> bool {
        matches!(self, Role::SyncClient | Role::StatsReader)
    }
}
