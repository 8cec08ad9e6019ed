//! Accounts: the request and response shapes of users and machine clients.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::{Validate, ValidationError};

use crate::platform::auth::Role;
// The account rows belong to the ground floor: every request reads them.
pub use crate::platform::auth::accounts::{ClientRow, UserRow};
use crate::platform::db::schema::{api_clients, users};

pub const MIN_PASSWORD_CHARS: u64 = 12;

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUserRow {
    pub username: String,
    pub password_hash: String,
    pub role: Role,
    pub admin_unit_code: Option<String>,
    pub school_id: Option<i64>,
    pub operator_id: Option<i64>,
    pub disabled: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub extra_roles: String,
}

/// A person who signs in. The password hash never leaves the service.
#[derive(Debug, Serialize, ToSchema)]
pub struct User {
    pub id: i64,
    #[schema(example = "officer.dabac")]
    pub username: String,
    pub role: Role,
    /// The subtree a district officer works in.
    #[schema(example = "150")]
    pub admin_unit_code: Option<String>,
    /// The school a school staff member works at.
    pub school_id: Option<i64>,
    /// The telecom operator a `telecom` user works for.
    pub operator_id: Option<i64>,
    /// Duties held besides the role: `finance_officer`, `programme_officer`
    /// (an admin needs them to move money or run the programme).
    pub extra_roles: Vec<Role>,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        Self {
            id: row.id,
            username: row.username,
            role: row.role,
            admin_unit_code: row.admin_unit_code,
            school_id: row.school_id,
            operator_id: row.operator_id,
            extra_roles: Role::parse_list(&row.extra_roles),
            disabled: row.disabled,
            created_at: crate::platform::db::to_utc(row.created_at),
            updated_at: crate::platform::db::to_utc(row.updated_at),
        }
    }
}

fn username_chars(username: &str) -> Result<(), ValidationError> {
    // Stored in lowercase, so `Officer.DaBac` and `officer.dabac` are one name.
    let ok = username
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new("charset")
            .with_message("use ASCII letters, digits, `.`, `_` and `-` only".into()))
    }
}

/// A new user. District officers need `admin_unit_code`, school staff
/// `school_id`, telecom users `operator_id`; other roles take none.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"username": "officer.dabac", "password": "a long passphrase", "role": "district_officer", "admin_unit_code": "150"}))]
pub struct CreateUser {
    #[validate(
        length(min = 3, max = 64, message = "must be 3 to 64 characters"),
        custom(function = "username_chars")
    )]
    #[schema(min_length = 3, max_length = 64, pattern = "^[A-Za-z0-9._-]+$")]
    pub username: String,
    #[validate(length(min = 12, max = 256, message = "must be 12 to 256 characters"))]
    #[schema(min_length = 12, max_length = 256)]
    pub password: String,
    pub role: Role,
    pub admin_unit_code: Option<String>,
    pub school_id: Option<i64>,
    pub operator_id: Option<i64>,
    /// Duties besides the role: `finance_officer` and/or `programme_officer`.
    #[serde(default)]
    pub extra_roles: Vec<Role>,
}

/// Changes to a user; send only what changes.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"extra_roles": ["finance_officer"]}))]
pub struct UpdateUser {
    /// A disabled user cannot get tokens, and tokens already issued stop working.
    pub disabled: Option<bool>,
    #[validate(length(min = 12, max = 256, message = "must be 12 to 256 characters"))]
    #[schema(min_length = 12, max_length = 256)]
    pub password: Option<String>,
    /// The duties held besides the role, replacing the current ones
    /// (`[]` takes them all away).
    pub extra_roles: Option<Vec<Role>>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserFilter {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    pub items: Vec<User>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = api_clients)]
pub struct NewClientRow {
    pub client_id: String,
    pub secret_hash: String,
    pub name: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A machine client (the education data system, a statistics script).
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiClient {
    pub id: i64,
    /// Send this as `client_id` to `POST /api/v1/auth/token`.
    #[schema(example = "cl_Q2hvb3NlIGEgbG9uZw")]
    pub client_id: String,
    #[schema(example = "Education data system (student roster sync)")]
    pub name: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<ClientRow> for ApiClient {
    fn from(row: ClientRow) -> Self {
        Self {
            id: row.id,
            client_id: row.client_id,
            name: row.name,
            role: row.role,
            disabled: row.disabled,
            created_at: crate::platform::db::to_utc(row.created_at),
            updated_at: crate::platform::db::to_utc(row.updated_at),
        }
    }
}

/// A new machine client: `sync_client` or `stats_reader`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Education data system", "role": "sync_client"}))]
pub struct CreateClient {
    #[validate(length(min = 1, max = 100, message = "must be 1 to 100 characters"))]
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    pub role: Role,
}

/// The new client with its secret. The secret is shown only here, once;
/// the service keeps only its hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedClient {
    pub client: ApiClient,
    pub client_secret: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"disabled": true}))]
pub struct UpdateClient {
    /// A disabled client cannot get tokens, and tokens already issued stop working.
    pub disabled: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClientPage {
    pub items: Vec<ApiClient>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}
