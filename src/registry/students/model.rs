//! Students: rows, the sync record, the patch, the filters, and the statuses
//! of device, connection and household.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::{Validate, ValidationError};

use crate::platform::db::schema::students;
use crate::platform::db::text_enum;

text_enum! {
    pub enum Gender {
        Female => "female",
        Male => "male",
        Other => "other",
    }
}

text_enum! {
    /// From the official poor / near-poor household lists.
    pub enum HouseholdStatus {
        Poor => "poor",
        NearPoor => "near_poor",
        Other => "other",
    }
}

text_enum! {
    /// The device the student can learn online with.
    pub enum DeviceStatus {
        NoDevice => "none",
        /// Shares one device with siblings or parents.
        Shared => "shared",
        /// Has one, but it cannot run online lessons.
        Inadequate => "inadequate",
        Adequate => "adequate",
    }
}

text_enum! {
    /// The connection the student can learn online with.
    pub enum ConnectivityStatus {
        NoConnection => "none",
        MobileWeak => "mobile_weak",
        MobileOk => "mobile_ok",
        Fixed => "fixed",
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = students)]
pub struct StudentRow {
    pub id: i64,
    pub external_id: String,
    pub school_id: i64,
    pub grade: i32,
    pub full_name: String,
    pub birth_date: NaiveDate,
    pub gender: Gender,
    pub household_status: HouseholdStatus,
    pub device_status: DeviceStatus,
    pub connectivity_status: ConnectivityStatus,
    pub active: bool,
    pub deleted: bool,
    pub last_seen_run: Option<String>,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub held_device: bool,
    pub held_connectivity: bool,
}

impl StudentRow {
    /// The roster does not (yet) show what the programme handed over: it
    /// says the student lacks a device, or a connection, that they hold.
    pub fn roster_conflict(&self) -> bool {
        (self.held_device && self.device_status != DeviceStatus::Adequate)
            || (self.held_connectivity
                && !matches!(
                    self.connectivity_status,
                    ConnectivityStatus::MobileOk | ConnectivityStatus::Fixed
                ))
    }
}

/// A student. Personal data (name, birth date, gender, household status):
/// only admins, the district officers and school staff in whose scope the
/// student is, and the sync client see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Student {
    pub id: i64,
    /// The education data system's id.
    #[schema(example = "HB-2024-000123")]
    pub external_id: String,
    pub school_id: i64,
    #[schema(example = "17150001")]
    pub school_code: String,
    #[schema(example = 7)]
    pub grade: i32,
    #[schema(example = "Nguyễn Thị Lan")]
    pub full_name: String,
    pub birth_date: NaiveDate,
    pub gender: Gender,
    pub household_status: HouseholdStatus,
    pub device_status: DeviceStatus,
    pub connectivity_status: ConnectivityStatus,
    /// In the latest full roster of the education data system.
    pub active: bool,
    /// Removed by an officer; kept for history.
    pub deleted: bool,
    /// The programme handed the student a device that has not come back:
    /// they count as having one, whatever `device_status` says.
    pub held_device: bool,
    /// The programme handed the student a data package: they count as
    /// connected, whatever `connectivity_status` says.
    pub held_connectivity: bool,
    /// The roster says the student lacks what the programme handed over
    /// (the education data system has not caught up, or disagrees): a
    /// case for an officer to look at. Filter with `?roster_conflict=true`.
    pub roster_conflict: bool,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Student {
    pub fn from_row(row: StudentRow, school_code: String) -> Self {
        let roster_conflict = row.roster_conflict();
        Self {
            id: row.id,
            external_id: row.external_id,
            school_id: row.school_id,
            school_code,
            grade: row.grade,
            full_name: row.full_name,
            birth_date: row.birth_date,
            gender: row.gender,
            household_status: row.household_status,
            device_status: row.device_status,
            connectivity_status: row.connectivity_status,
            active: row.active,
            deleted: row.deleted,
            roster_conflict,
            held_device: row.held_device,
            held_connectivity: row.held_connectivity,
            version: row.version,
            created_at: crate::platform::db::to_utc(row.created_at),
            updated_at: crate::platform::db::to_utc(row.updated_at),
        }
    }
}

fn plausible_birth_date(date: &NaiveDate) -> Result<(), ValidationError> {
    let earliest = NaiveDate::from_ymd_opt(1990, 1, 1).unwrap_or_default();
    if *date >= earliest && *date <= Utc::now().date_naive() {
        Ok(())
    } else {
        Err(ValidationError::new("range")
            .with_message("must be between 1990-01-01 and today".into()))
    }
}

/// One student as the education data system (or a spreadsheet) sends it,
/// keyed by `external_id`. Every field is required.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "external_id": "HB-2024-000123", "school_code": "17150001", "grade": 3,
    "full_name": "Nguyễn Thị Lan", "birth_date": "2017-09-02", "gender": "female",
    "household_status": "poor", "device_status": "none", "connectivity_status": "mobile_weak"
}))]
pub struct StudentRecord {
    #[validate(length(min = 1, max = 64, message = "must be 1 to 64 characters"))]
    #[schema(min_length = 1, max_length = 64)]
    pub external_id: String,
    #[validate(length(min = 1, max = 32, message = "must be 1 to 32 characters"))]
    #[schema(min_length = 1, max_length = 32)]
    pub school_code: String,
    #[validate(range(min = 1, max = 12, message = "must be 1 to 12"))]
    #[schema(minimum = 1, maximum = 12)]
    pub grade: i32,
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200)]
    pub full_name: String,
    /// `YYYY-MM-DD`.
    #[validate(custom(function = "plausible_birth_date"))]
    pub birth_date: NaiveDate,
    pub gender: Gender,
    pub household_status: HouseholdStatus,
    pub device_status: DeviceStatus,
    pub connectivity_status: ConnectivityStatus,
}

/// Changes to a student; send only what changes, with `If-Match`.
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"device_status": "adequate"}))]
pub struct StudentPatch {
    #[validate(range(min = 1, max = 12, message = "must be 1 to 12"))]
    #[schema(minimum = 1, maximum = 12)]
    pub grade: Option<i32>,
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200)]
    pub full_name: Option<String>,
    #[validate(custom(function = "plausible_birth_date"))]
    pub birth_date: Option<NaiveDate>,
    pub gender: Option<Gender>,
    pub household_status: Option<HouseholdStatus>,
    pub device_status: Option<DeviceStatus>,
    pub connectivity_status: Option<ConnectivityStatus>,
}

#[derive(Debug, Default, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StudentFilter {
    pub school_id: Option<i64>,
    /// Students of schools in this admin unit or below.
    pub admin_unit: Option<String>,
    pub grade: Option<i32>,
    pub device_status: Option<DeviceStatus>,
    pub connectivity_status: Option<ConnectivityStatus>,
    pub active: Option<bool>,
    /// `true` lists only soft-deleted students (default: only the others).
    pub deleted: Option<bool>,
    /// `true`: only students whose roster says they lack what the programme
    /// handed them (see `Student.roster_conflict`); `false`: only the others.
    pub roster_conflict: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StudentPage {
    pub items: Vec<Student>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

text_enum! {
    pub enum ChangeOperation {
        Insert => "insert",
        Update => "update",
        Delete => "delete",
    }
}

/// One change of the feed, with the student as it is now.
#[derive(Debug, Serialize, ToSchema)]
pub struct StudentChange {
    pub operation: ChangeOperation,
    /// The version this change produced; `student.version` may already be newer.
    pub version: i64,
    pub changed_at: DateTime<Utc>,
    pub student: Student,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChangePage {
    pub items: Vec<StudentChange>,
    /// Store it and pass it as `cursor` next time; present even when no
    /// change came, so polling resumes from here.
    pub next_cursor: String,
    /// More changes are waiting: ask again at once.
    pub has_more: bool,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"run_id": "2026-11-25-full"}))]
pub struct CompleteRun {
    /// The `run_id` every batch of this full roster was sent with.
    #[validate(length(min = 1, max = 64, message = "must be 1 to 64 characters"))]
    #[schema(min_length = 1, max_length = 64)]
    pub run_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CompleteReport {
    pub run_id: String,
    /// Students the run saw (they stay active).
    pub seen: i64,
    /// Active students the run did not send, now marked inactive.
    pub deactivated: usize,
}
