//! The words for what is given, shared by every room of the domain
//! (pledges, receipts, campaigns, funds) and read by distribution and
//! reporting.

use crate::platform::db::text_enum;

text_enum! {
    /// What is given: money, devices, data packages or teaching software.
    pub enum DonationKind {
        Money => "money",
        Device => "device",
        DataPackage => "data_package",
        Software => "software",
    }
}

text_enum! {
    pub enum DeviceType {
        Laptop => "laptop",
        Tablet => "tablet",
        Phone => "phone",
        Desktop => "desktop",
    }
}
