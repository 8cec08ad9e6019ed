//! Device profiles: rows and the request and response shapes.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use crate::platform::db::schema::device_profiles;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = device_profiles)]
pub struct ProfileRow {
    pub version: i32,
    pub name: String,
    /// JSON: the list of [`ProfileSoftware`].
    pub software: String,
    /// JSON: the list of DNS server addresses.
    pub safe_dns: String,
    pub filtering: String,
    pub notes: Option<String>,
    pub published_by: String,
    pub published_at: NaiveDateTime,
}

/// A program every device gets.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileSoftware {
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// What it is for (the learning platform, parental controls, …).
    #[validate(length(min = 1, max = 500, message = "must be 1 to 500 characters"))]
    #[schema(min_length = 1, max_length = 500)]
    pub purpose: String,
}

/// A new version of the device profile (admin). It becomes the current
/// one: devices are made ready with it from now on.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "Hồ sơ an toàn cho thiết bị học tập 2021",
    "software": [
        {"name": "Lớp học Sao Mai", "purpose": "học trực tuyến"},
        {"name": "Google Family Link", "purpose": "phụ huynh quản lý thời gian và ứng dụng"}
    ],
    "safe_dns": ["1.1.1.3", "1.0.0.3"],
    "filtering": "DNS gia đình (chặn nội dung người lớn và mã độc); SafeSearch bật trong trình duyệt; không cài cửa hàng ứng dụng ngoài.",
    "notes": "Áp dụng cho máy tính bảng và máy tính xách tay."
}))]
pub struct PublishProfile {
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[validate(length(max = 50, message = "at most 50 programs"), nested)]
    #[schema(max_items = 50)]
    pub software: Vec<ProfileSoftware>,
    /// Safe-browsing DNS servers (IPv4 or IPv6 addresses), e.g. a family filter.
    #[validate(length(min = 1, max = 4, message = "name 1 to 4 DNS servers"))]
    #[schema(min_items = 1, max_items = 4)]
    pub safe_dns: Vec<String>,
    /// The safe-browsing and filtering settings, as the technician applies them.
    #[validate(length(min = 1, max = 4000, message = "must be 1 to 4000 characters"))]
    #[schema(min_length = 1, max_length = 4000)]
    pub filtering: String,
    #[validate(length(min = 1, max = 4000, message = "must be 1 to 4000 characters"))]
    #[schema(min_length = 1, max_length = 4000)]
    pub notes: Option<String>,
}

/// A version of the device profile.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeviceProfile {
    /// 1, 2, 3, …: the highest is the current one.
    pub version: i32,
    pub current: bool,
    pub name: String,
    pub software: Vec<ProfileSoftware>,
    pub safe_dns: Vec<String>,
    pub filtering: String,
    pub notes: Option<String>,
    pub published_by: String,
    pub published_at: DateTime<Utc>,
}

impl DeviceProfile {
    pub fn of(row: ProfileRow, current: bool) -> Self {
        DeviceProfile {
            version: row.version,
            current,
            name: row.name,
            // Written by this service from validated lists.
            software: serde_json::from_str(&row.software).unwrap_or_default(),
            safe_dns: serde_json::from_str(&row.safe_dns).unwrap_or_default(),
            filtering: row.filtering,
            notes: row.notes,
            published_by: row.published_by,
            published_at: crate::platform::db::to_utc(row.published_at),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeviceProfileList {
    /// Newest first.
    pub items: Vec<DeviceProfile>,
}

/// The profile applied at a device's check: the version, and what did not
/// apply (an empty list: all of it).
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppliedProfile {
    /// The current version (422 for another).
    pub version: i32,
    /// What failed to apply (a program, the DNS setting); the device is not
    /// ready for a child until a check applies everything.
    #[serde(default)]
    #[validate(length(max = 50, message = "at most 50 entries"))]
    #[schema(max_items = 50)]
    pub failed: Vec<String>,
}

/// Where a device stands against the current profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileState {
    /// No profile has been published yet.
    NoneYet,
    /// The current version applied in full.
    Current,
    /// Never applied, an older version, or the current one with failures.
    Missing { current: i32 },
}
