//! Managing accounts: users and machine clients, their scope checks,
//! disabling and password resets (which end older tokens), the bootstrap
//! admin.

use diesel::prelude::*;
use serde_json::json;

use super::model::*;
use crate::platform::auth::accounts::find_user_by_name;
use crate::platform::auth::{password, Role};
use crate::platform::db::page::PageRequest;
use crate::platform::db::schema::{api_clients, operators, users};
use crate::platform::db::{with_conn, DbConn};
use crate::platform::error::{Failure, FieldError};
use crate::platform::random::random_token;

pub fn find_user(conn: &mut DbConn, id: i64) -> Result<UserRow, Failure> {
    let row: Option<UserRow> = with_conn!(conn, |c| users::table
        .find(id)
        .select(UserRow::as_select())
        .first(c)
        .optional())?;
    row.ok_or_else(|| Failure::not_found(String::from("no user has this id")))
}

/// Role and scope must agree: district officers have an admin unit, school
/// staff a school, everyone else neither; machine roles belong to clients.
fn check_user_scope(conn: &mut DbConn, input: &CreateUser) -> Result<(), Failure> {
    let mut errors = Vec::new();
    if input.role == Role::SyncClient {
        errors.push(FieldError::new(
            "role",
            "machine_role",
            "sync_client is for API clients: POST /api/v1/clients",
        ));
    }
    match (input.role, &input.admin_unit_code) {
        (Role::DistrictOfficer, None) => errors.push(FieldError::new(
            "admin_unit_code",
            "required",
            "a district officer needs the admin unit they work in",
        )),
        (Role::DistrictOfficer, Some(code)) => {
            if crate::registry::admin_units::queries::find(conn, code)?.is_none() {
                errors.push(FieldError::new(
                    "admin_unit_code",
                    "unknown",
                    format!("no admin unit has code {code}"),
                ));
            }
        }
        (_, Some(_)) => errors.push(FieldError::new(
            "admin_unit_code",
            "not_allowed",
            "only district officers are scoped to an admin unit",
        )),
        (_, None) => {}
    }
    match (input.role, input.school_id) {
        (Role::SchoolStaff, None) => errors.push(FieldError::new(
            "school_id",
            "required",
            "school staff need the school they work at",
        )),
        (Role::SchoolStaff, Some(id)) => {
            // Only "no such row" is the client's mistake; a lost
            // connection is the database's and must stay a 503.
            if let Err(error) = crate::registry::schools::queries::find(conn, id) {
                if !error.is_not_found() {
                    return Err(error);
                }
                errors.push(FieldError::new(
                    "school_id",
                    "unknown",
                    format!("no school has id {id}"),
                ));
            }
        }
        (_, None) => {}
        (_, Some(_)) => errors.push(FieldError::new(
            "school_id",
            "not_allowed",
            "only school staff are scoped to a school",
        )),
    }
    match (input.role, input.operator_id) {
        (Role::Telecom, None) => errors.push(FieldError::new(
            "operator_id",
            "required",
            "a telecom user needs the operator they work for",
        )),
        (Role::Telecom, Some(id)) => {
            // Only "no such row" is the client's mistake; a lost
            // connection is the database's and must stay a 503.
            // Operators are managed by the needs domain; here only their
            // existence matters, read straight from the table.
            let known: i64 = with_conn!(conn, |c| operators::table.find(id).count().get_result(c))?;
            if known == 0 {
                errors.push(FieldError::new(
                    "operator_id",
                    "unknown",
                    format!("no operator has id {id}"),
                ));
            }
        }
        (_, None) => {}
        (_, Some(_)) => errors.push(FieldError::new(
            "operator_id",
            "not_allowed",
            "only telecom users work for an operator",
        )),
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Failure::validation(errors))
    }
}

pub fn create_user(conn: &mut DbConn, actor: &str, input: CreateUser) -> Result<UserRow, Failure> {
    let password_hash = password::hash(&input.password)?;
    conn.transaction(|conn| {
        check_user_scope(conn, &input)?;
        check_extra_roles(&input.extra_roles)?;
        let username = input.username.to_lowercase();
        if find_user_by_name(conn, &username)?.is_some() {
            return Err(Failure::conflict(format!(
                "the username {username} is taken"
            )));
        }
        let now = crate::platform::db::now();
        let new = NewUserRow {
            username,
            password_hash,
            role: input.role,
            admin_unit_code: input.admin_unit_code,
            school_id: input.school_id,
            operator_id: input.operator_id,
            disabled: false,
            created_at: now,
            updated_at: now,
            extra_roles: Role::store_list(&input.extra_roles),
        };
        let row: UserRow = with_conn!(conn, |c| diesel::insert_into(users::table)
            .values(&new)
            .returning(UserRow::as_returning())
            .get_result(c))?;
        crate::platform::audit::record(
            conn,
            actor,
            "create",
            "user",
            &row.id.to_string(),
            json!({
                "username": row.username,
                "role": row.role,
                "admin_unit_code": row.admin_unit_code,
                "school_id": row.school_id,
                "operator_id": row.operator_id,
                "extra_roles": row.extra_roles,
            }),
        )?;
        Ok(row)
    })
}

/// Only the separated duties can be held besides a role.
fn check_extra_roles(roles: &[Role]) -> Result<(), Failure> {
    if roles.iter().all(|r| r.is_separated_duty()) {
        Ok(())
    } else {
        Err(Failure::invalid_field(
            "extra_roles",
            "not_a_duty",
            "only finance_officer and programme_officer can be held besides a role",
        ))
    }
}

pub fn update_user(
    conn: &mut DbConn,
    actor: &str,
    id: i64,
    input: UpdateUser,
) -> Result<UserRow, Failure> {
    if input.disabled.is_none() && input.password.is_none() && input.extra_roles.is_none() {
        return Err(Failure::invalid_field(
            "body",
            "empty",
            "send `disabled`, `password` and/or `extra_roles`",
        ));
    }
    if let Some(extra) = &input.extra_roles {
        check_extra_roles(extra)?;
    }
    let password_hash = input.password.as_deref().map(password::hash).transpose()?;
    conn.transaction(|conn| {
        let current = find_user(conn, id)?;
        if input.disabled == Some(true) && current.role == Role::Admin && !current.disabled {
            conn.lock(crate::platform::db::WriteLock::Admins)?;
            let active_admins: i64 = with_conn!(conn, |c| users::table
                .filter(users::role.eq(Role::Admin))
                .filter(users::disabled.eq(false))
                .count()
                .get_result(c))?;
            if active_admins <= 1 {
                return Err(Failure::conflict(
                    "this is the last active admin; create another admin first",
                ));
            }
        }
        let now = crate::platform::db::now();
        let disabled = input.disabled.unwrap_or(current.disabled);
        let hash = password_hash
            .clone()
            .unwrap_or_else(|| current.password_hash.clone());
        // A new password, or a change of status, ends every token issued
        // before it (they name the old version).
        let ends_tokens = password_hash.is_some() || disabled != current.disabled;
        let version = current.token_version + i64::from(ends_tokens);
        let extra_roles = input
            .extra_roles
            .as_deref()
            .map_or_else(|| current.extra_roles.clone(), Role::store_list);
        let row: UserRow = with_conn!(conn, |c| diesel::update(users::table.find(id))
            .set((
                users::extra_roles.eq(&extra_roles),
                users::disabled.eq(disabled),
                users::password_hash.eq(&hash),
                users::token_version.eq(version),
                users::updated_at.eq(now),
            ))
            .returning(UserRow::as_returning())
            .get_result(c))?;
        let mut changes = serde_json::Map::new();
        if current.disabled != row.disabled {
            changes.insert("disabled".into(), json!(row.disabled));
        }
        if password_hash.is_some() {
            changes.insert("password".into(), json!("changed"));
        }
        if current.extra_roles != row.extra_roles {
            changes.insert("extra_roles".into(), json!(row.extra_roles));
        }
        crate::platform::audit::record(
            conn,
            actor,
            "update",
            "user",
            &id.to_string(),
            changes.into(),
        )?;
        Ok(row)
    })
}

pub fn list_users(
    conn: &mut DbConn,
    filter: &UserFilter,
    page: &PageRequest<i64>,
) -> Result<UserPage, Failure> {
    let rows: Vec<UserRow> = with_conn!(conn, |c| {
        let mut query = users::table
            .select(UserRow::as_select())
            .order(users::id.asc())
            .limit(page.fetch())
            .into_boxed();
        if let Some(after) = page.after {
            query = query.filter(users::id.gt(after));
        }
        if let Some(role) = filter.role {
            query = query.filter(users::role.eq(role));
        }
        if let Some(disabled) = filter.disabled {
            query = query.filter(users::disabled.eq(disabled));
        }
        query.load(c)
    })?;
    let (rows, next_cursor) = page.finish(rows, |row| row.id);
    Ok(UserPage {
        items: rows.into_iter().map(User::from).collect(),
        next_cursor,
    })
}

pub fn create_client(
    conn: &mut DbConn,
    actor: &str,
    input: CreateClient,
) -> Result<CreatedClient, Failure> {
    if !input.role.is_machine() {
        return Err(Failure::invalid_field(
            "role",
            "human_role",
            "API clients have the role sync_client or stats_reader",
        ));
    }
    let secret = random_token(32);
    let secret_hash = password::hash(&secret)?;
    conn.transaction(|conn| {
        let now = crate::platform::db::now();
        let new = NewClientRow {
            client_id: format!("cl_{}", random_token(12)),
            secret_hash,
            name: input.name.trim().to_owned(),
            role: input.role,
            disabled: false,
            created_at: now,
            updated_at: now,
        };
        let row: ClientRow = with_conn!(conn, |c| diesel::insert_into(api_clients::table)
            .values(&new)
            .returning(ClientRow::as_returning())
            .get_result(c))?;
        crate::platform::audit::record(
            conn,
            actor,
            "create",
            "api_client",
            &row.id.to_string(),
            json!({"client_id": row.client_id, "name": row.name, "role": row.role}),
        )?;
        Ok(CreatedClient {
            client: row.into(),
            client_secret: secret,
        })
    })
}

pub fn update_client(
    conn: &mut DbConn,
    actor: &str,
    id: i64,
    input: UpdateClient,
) -> Result<ClientRow, Failure> {
    conn.transaction(|conn| {
        let current: Option<ClientRow> = with_conn!(conn, |c| api_clients::table
            .find(id)
            .select(ClientRow::as_select())
            .first(c)
            .optional())?;
        let current =
            current.ok_or_else(|| Failure::not_found(String::from("no API client has this id")))?;
        let version = current.token_version + i64::from(current.disabled != input.disabled);
        let row: ClientRow = with_conn!(conn, |c| diesel::update(api_clients::table.find(id))
            .set((
                api_clients::disabled.eq(input.disabled),
                api_clients::token_version.eq(version),
                api_clients::updated_at.eq(crate::platform::db::now())
            ))
            .returning(ClientRow::as_returning())
            .get_result(c))?;
        let changes = if current.disabled != row.disabled {
            json!({"disabled": row.disabled})
        } else {
            json!({})
        };
        crate::platform::audit::record(
            conn,
            actor,
            "update",
            "api_client",
            &id.to_string(),
            changes,
        )?;
        Ok(row)
    })
}

pub fn list_clients(conn: &mut DbConn, page: &PageRequest<i64>) -> Result<ClientPage, Failure> {
    let rows: Vec<ClientRow> = with_conn!(conn, |c| {
        let mut query = api_clients::table
            .select(ClientRow::as_select())
            .order(api_clients::id.asc())
            .limit(page.fetch())
            .into_boxed();
        if let Some(after) = page.after {
            query = query.filter(api_clients::id.gt(after));
        }
        query.load(c)
    })?;
    let (rows, next_cursor) = page.finish(rows, |row| row.id);
    Ok(ClientPage {
        items: rows.into_iter().map(ApiClient::from).collect(),
        next_cursor,
    })
}

/// On first start (no admin at all), creates `admin` with the configured
/// password, or a generated one that is returned so it can be shown once.
pub fn ensure_bootstrap_admin(
    conn: &mut DbConn,
    configured: Option<&str>,
) -> Result<Option<String>, Failure> {
    let admins: i64 = with_conn!(conn, |c| users::table
        .filter(users::role.eq(Role::Admin))
        .count()
        .get_result(c))?;
    if admins > 0 {
        return Ok(None);
    }
    let generated = configured.is_none().then(|| random_token(18));
    let password = configured
        .or(generated.as_deref())
        .unwrap_or_default()
        .to_owned();
    // A fresh install has one person: they hold both duties until they
    // create finance and programme officers and take them away (README, "Roles").
    let input = CreateUser {
        username: "admin".to_owned(),
        password,
        role: Role::Admin,
        admin_unit_code: None,
        school_id: None,
        operator_id: None,
        extra_roles: vec![Role::FinanceOfficer, Role::ProgrammeOfficer],
    };
    validator::Validate::validate(&input)?;
    create_user(conn, "system", input)?;
    Ok(generated)
}
