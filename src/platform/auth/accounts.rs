//! The accounts behind credentials and tokens: checking a password or a
//! client secret, and finding the caller a token stands for on every
//! request. Managing accounts (creating, listing, disabling) is the
//! `registry::accounts` domain; reading them to authenticate is the ground
//! floor's, so that no domain sits under authentication.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::jwt::Claims;
use super::password;
use super::principal::{Account, Principal, Scope};
use super::role::Role;
use crate::platform::db::schema::{api_clients, users};
use crate::platform::db::{with_conn, DbConn};
use crate::platform::error::Failure;

/// Credentials, once the request's shape has been checked.
pub enum Credentials {
    User {
        username: String,
        password: String,
    },
    Client {
        client_id: String,
        client_secret: String,
    },
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub role: Role,
    pub admin_unit_code: Option<String>,
    pub school_id: Option<i64>,
    pub disabled: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub operator_id: Option<i64>,
    /// Bumped by a password reset, a disable or an enable: tokens name it.
    pub token_version: i64,
    /// Duties held besides the role, comma-separated.
    pub extra_roles: String,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_clients)]
pub struct ClientRow {
    pub id: i64,
    pub client_id: String,
    pub secret_hash: String,
    pub name: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Bumped by a disable or an enable: tokens name it.
    pub token_version: i64,
}

/// Checks credentials. `None` for a wrong secret, an unknown or a disabled
/// account: the caller cannot tell which.
pub fn authenticate(
    conn: &mut DbConn,
    credentials: &Credentials,
) -> Result<Option<Principal>, Failure> {
    match credentials {
        Credentials::User {
            username,
            password: given,
        } => {
            let row = find_user_by_name(conn, &username.to_lowercase())?;
            let valid = password::verify(given, row.as_ref().map(|r| r.password_hash.as_str()));
            Ok(row.filter(|r| valid && !r.disabled).map(user_principal))
        }
        Credentials::Client {
            client_id,
            client_secret,
        } => {
            let row: Option<ClientRow> = with_conn!(conn, |c| api_clients::table
                .filter(api_clients::client_id.eq(client_id))
                .select(ClientRow::as_select())
                .first(c)
                .optional())?;
            let valid =
                password::verify(client_secret, row.as_ref().map(|r| r.secret_hash.as_str()));
            Ok(row.filter(|r| valid && !r.disabled).map(client_principal))
        }
    }
}

fn user_principal(row: UserRow) -> Principal {
    Principal {
        scope: Scope::for_role(
            row.role,
            row.admin_unit_code,
            row.school_id,
            row.operator_id,
        ),
        role: row.role,
        extra_roles: Role::parse_list(&row.extra_roles),
        token_version: row.token_version,
        account: Account::User {
            id: row.id,
            username: row.username,
        },
    }
}

fn client_principal(row: ClientRow) -> Principal {
    Principal {
        scope: Scope::for_role(row.role, None, None, None),
        role: row.role,
        extra_roles: Vec::new(),
        token_version: row.token_version,
        account: Account::Client {
            id: row.id,
            client_id: row.client_id,
        },
    }
}

/// The caller a verified token stands for, if its account is still active
/// and still has the role and scope the token was issued with.
pub fn principal_for_claims(conn: &mut DbConn, claims: &Claims) -> Result<Principal, Failure> {
    let gone = || {
        Failure::unauthenticated("the account behind this token is disabled or no longer exists")
    };
    let principal = match claims.sub.split_once(':') {
        Some(("user", id)) => {
            let id: i64 = id.parse().map_err(|_| gone())?;
            let row: Option<UserRow> = with_conn!(conn, |c| users::table
                .find(id)
                .select(UserRow::as_select())
                .first(c)
                .optional())?;
            row.filter(|r| !r.disabled).map(user_principal)
        }
        Some(("client", id)) => {
            let id: i64 = id.parse().map_err(|_| gone())?;
            let row: Option<ClientRow> = with_conn!(conn, |c| api_clients::table
                .find(id)
                .select(ClientRow::as_select())
                .first(c)
                .optional())?;
            row.filter(|r| !r.disabled).map(client_principal)
        }
        _ => None,
    }
    .ok_or_else(gone)?;
    if principal.role != claims.role
        || principal.scope.claim() != claims.scope
        || principal.token_version != claims.ver
    {
        return Err(Failure::unauthenticated(
            "the account's password, role, scope or status has changed since this token was issued; request a new token",
        ));
    }
    Ok(principal)
}

/// The user with this (lowercase) name.
pub fn find_user_by_name(conn: &mut DbConn, username: &str) -> Result<Option<UserRow>, Failure> {
    let row = with_conn!(conn, |c| users::table
        .filter(users::username.eq(username))
        .select(UserRow::as_select())
        .first(c)
        .optional())?;
    Ok(row)
}
