//! Device profiles: publishing a version and reading them; where a device
//! stands against the current one.

use std::net::IpAddr;

use diesel::prelude::*;
use serde_json::json;

use super::model::*;
use crate::platform::db::schema::device_profiles;
use crate::platform::db::{with_conn, DbConn};
use crate::platform::error::{Failure, FieldError};

/// The current version (the highest), if any was published.
pub fn current_version(conn: &mut DbConn) -> Result<Option<i32>, Failure> {
    Ok(with_conn!(conn, |c| device_profiles::table
        .select(diesel::dsl::max(device_profiles::version))
        .first::<Option<i32>>(c))?)
}

pub fn find(conn: &mut DbConn, version: i32) -> Result<ProfileRow, Failure> {
    let row: Option<ProfileRow> = with_conn!(conn, |c| device_profiles::table
        .find(version)
        .select(ProfileRow::as_select())
        .first(c)
        .optional())?;
    row.ok_or_else(|| Failure::not_found("no device profile has this version"))
}

/// Every version, newest first.
pub fn all(conn: &mut DbConn) -> Result<Vec<ProfileRow>, Failure> {
    Ok(with_conn!(conn, |c| device_profiles::table
        .order(device_profiles::version.desc())
        .select(ProfileRow::as_select())
        .load(c))?)
}

/// Publishes the next version. Two publishers at once: the second finds
/// the version taken and is told to read again (409).
pub fn publish(
    conn: &mut DbConn,
    actor: &str,
    input: PublishProfile,
) -> Result<ProfileRow, Failure> {
    let mut errors = Vec::new();
    for (i, server) in input.safe_dns.iter().enumerate() {
        if server.parse::<IpAddr>().is_err() {
            errors.push(FieldError::new(
                format!("safe_dns[{i}]"),
                "ip_address",
                "must be an IPv4 or IPv6 address",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(Failure::validation(errors));
    }
    conn.transaction(|conn| {
        let version = current_version(conn)?.unwrap_or(0) + 1;
        let software =
            serde_json::to_string(&input.software).map_err(|e| Failure::internal(e.to_string()))?;
        let dns =
            serde_json::to_string(&input.safe_dns).map_err(|e| Failure::internal(e.to_string()))?;
        let inserted = with_conn!(conn, |c| diesel::insert_into(device_profiles::table)
            .values((
                device_profiles::version.eq(version),
                device_profiles::name.eq(&input.name),
                device_profiles::software.eq(software),
                device_profiles::safe_dns.eq(dns),
                device_profiles::filtering.eq(&input.filtering),
                device_profiles::notes.eq(&input.notes),
                device_profiles::published_by.eq(actor),
                device_profiles::published_at.eq(crate::platform::db::now()),
            ))
            .returning(ProfileRow::as_returning())
            .get_result(c));
        let row = match inserted {
            Ok(row) => row,
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => {
                return Err(Failure::conflict(
                    "another version was published meanwhile; read the profiles again",
                ))
            }
            Err(other) => return Err(other.into()),
        };
        crate::platform::audit::record(
            conn,
            actor,
            "publish",
            "device_profile",
            &version.to_string(),
            json!({"software": input.software.len(), "safe_dns": input.safe_dns.len()}),
        )?;
        Ok(row)
    })
}

/// Where a device with `applied` (version, what failed) stands.
pub fn state_of(
    current: Option<i32>,
    applied: Option<i32>,
    failures: Option<&str>,
) -> ProfileState {
    match current {
        None => ProfileState::NoneYet,
        Some(current) if applied == Some(current) && failures.is_none() => ProfileState::Current,
        Some(current) => ProfileState::Missing { current },
    }
}

/// Refuses (409) a device that does not carry the current profile in full:
/// it may not become ready for, or reach, a child.
pub fn ensure_current(
    conn: &mut DbConn,
    item_id: i64,
    applied: Option<i32>,
    failures: Option<&str>,
) -> Result<(), Failure> {
    match state_of(current_version(conn)?, applied, failures) {
        ProfileState::Current => Ok(()),
        ProfileState::NoneYet => Err(Failure::conflict(
            "no device profile is published yet: the Department publishes one (POST /device-profiles) before devices reach children",
        )),
        ProfileState::Missing { current } => Err(Failure::conflict(format!(
            "device {item_id} does not carry device profile version {current} in full: check it again with that version (POST /inventory/items/{item_id}/check)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_is_safe_only_with_the_current_version_in_full() {
        assert_eq!(state_of(None, None, None), ProfileState::NoneYet);
        assert_eq!(state_of(Some(2), Some(2), None), ProfileState::Current);
        assert_eq!(
            state_of(Some(2), Some(1), None),
            ProfileState::Missing { current: 2 }
        );
        assert_eq!(
            state_of(Some(2), None, None),
            ProfileState::Missing { current: 2 }
        );
        assert_eq!(
            state_of(Some(2), Some(2), Some("[\"safe_dns\"]")),
            ProfileState::Missing { current: 2 }
        );
    }
}
