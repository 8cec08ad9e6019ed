//! Donors: creating them (one record per phone, email or tax code), reading
//! them within the caller's donor scope.

use diesel::prelude::*;
use serde_json::json;

use super::model::*;
use crate::platform::auth::Reach;
use crate::platform::auth::Role;
use crate::platform::db::page::PageRequest;
use crate::platform::db::schema::donors;
use crate::platform::db::{with_conn, DbConn};
use crate::platform::error::{Failure, OrUnknown};

pub fn find(conn: &mut DbConn, id: i64) -> Result<DonorRow, Failure> {
    let row: Option<DonorRow> = with_conn!(conn, |c| donors::table
        .find(id)
        .select(DonorRow::as_select())
        .first(c)
        .optional())?;
    row.ok_or_else(|| Failure::not_found(String::from("no donor has this id")))
}

/// The donor a `donor` user manages, if any.
pub fn of_user(conn: &mut DbConn, user_id: i64) -> Result<Option<DonorRow>, Failure> {
    let row = with_conn!(conn, |c| donors::table
        .filter(donors::user_id.eq(user_id))
        .select(DonorRow::as_select())
        .first(c)
        .optional())?;
    Ok(row)
}

pub fn find_visible(conn: &mut DbConn, scope: &Reach, id: i64) -> Result<DonorRow, Failure> {
    let donor = find(conn, id)?;
    if scope.allows_donor(Some(donor.id)) {
        Ok(donor)
    } else {
        Err(Failure::not_found(String::from("no donor has this id")))
    }
}

/// A donor other than `except` with the same tax code, phone or e-mail
/// (canonical forms, so a number written another way is still the same).
fn duplicate_of(
    conn: &mut DbConn,
    except: Option<i64>,
    tax_code: Option<&str>,
    phone: Option<&str>,
    email: Option<&str>,
) -> Result<Option<(i64, &'static str)>, Failure> {
    for (field, value) in [("tax_code", tax_code), ("phone", phone), ("email", email)] {
        let Some(value) = value else { continue };
        let found: Option<i64> = with_conn!(conn, |c| {
            let mut query = donors::table.select(donors::id).into_boxed();
            query = match field {
                "tax_code" => query.filter(donors::tax_code.eq(value)),
                "phone" => query.filter(donors::phone.eq(value)),
                _ => query.filter(donors::email.eq(value.to_lowercase())),
            };
            if let Some(except) = except {
                query = query.filter(donors::id.ne(except));
            }
            query.first(c).optional()
        })?;
        if let Some(id) = found {
            return Ok(Some((id, field)));
        }
    }
    Ok(None)
}

pub fn create(conn: &mut DbConn, actor: &str, mut input: CreateDonor) -> Result<DonorRow, Failure> {
    input.email = input.email.map(|e| e.to_lowercase());
    conn.transaction(|conn| {
        let duplicate = duplicate_of(
            conn,
            None,
            input.tax_code.as_ref().map(|t| t.as_str()),
            input.phone.as_ref().map(|p| p.as_str()),
            input.email.as_deref(),
        )?;
        if let Some((existing, field)) = duplicate {
            return Err(Failure::conflict(format!("donor {existing} has the same {field}")));
        }
        if let Some(user_id) = input.user_id {
            let user = crate::registry::accounts::queries::find_user(conn, user_id)
                .or_unknown("user_id")?;
            if user.role != Role::Donor {
                return Err(Failure::invalid_field("user_id", "role", "the user must have the role donor"));
            }
            if of_user(conn, user_id)?.is_some() {
                return Err(Failure::conflict(format!("user {user_id} already manages a donor")));
            }
        }
        let now = crate::platform::db::now();
        let row: DonorRow = with_conn!(conn, |c| diesel::insert_into(donors::table)
            .values((
                donors::kind.eq(input.kind),
                donors::name.eq(&input.name),
                donors::inside_province.eq(input.inside_province),
                donors::tax_code.eq(input.tax_code.as_ref().map(|t| t.as_str())),
                donors::phone.eq(input.phone.as_ref().map(|p| p.as_str())),
                donors::email.eq(&input.email),
                donors::address.eq(&input.address),
                donors::anonymous_publicly.eq(input.anonymous_publicly),
                donors::keep_contact.eq(input.keep_contact),
                donors::user_id.eq(input.user_id),
                donors::created_at.eq(now),
                donors::updated_at.eq(now),
            ))
            .returning(DonorRow::as_returning())
            .get_result(c))?;
        crate::platform::audit::record(
            conn,
            actor,
            "create",
            "donor",
            &row.id.to_string(),
            json!({"kind": row.kind, "inside_province": row.inside_province, "user_id": row.user_id}),
        )?;
        Ok(row)
    })
}

/// Applies `patch` to donor `id` when its version is still `if_match`
/// (`*`: any); refuses a tax code, phone or e-mail another donor has.
/// Audited with the names of the fields changed, not their values.
pub fn update(
    conn: &mut DbConn,
    actor: &str,
    id: i64,
    patch: DonorPatch,
    if_match: Option<i64>,
) -> Result<DonorRow, Failure> {
    conn.transaction(|conn| {
        let current = find(conn, id)?;
        crate::platform::db::ensure_current(if_match, current.version)?;
        let tax_code = match &patch.tax_code {
            Some(value) => value.as_ref().map(|t| t.as_str().to_owned()),
            None => current.tax_code.clone(),
        };
        let phone = match &patch.phone {
            Some(value) => value.as_ref().map(|p| p.as_str().to_owned()),
            None => current.phone.clone(),
        };
        let email = match &patch.email {
            Some(value) => value.as_ref().map(|e| e.to_lowercase()),
            None => current.email.clone(),
        };
        let address = patch.address.clone().unwrap_or(current.address.clone());
        let duplicate = duplicate_of(
            conn,
            Some(id),
            tax_code.as_deref(),
            phone.as_deref(),
            email.as_deref(),
        )?;
        if let Some((existing, field)) = duplicate {
            return Err(Failure::conflict(format!(
                "donor {existing} has the same {field}"
            )));
        }
        let changed = crate::platform::audit::sent_fields(&[
            ("name", patch.name.is_some()),
            ("inside_province", patch.inside_province.is_some()),
            ("tax_code", patch.tax_code.is_some()),
            ("phone", patch.phone.is_some()),
            ("email", patch.email.is_some()),
            ("address", patch.address.is_some()),
            ("anonymous_publicly", patch.anonymous_publicly.is_some()),
            ("keep_contact", patch.keep_contact.is_some()),
        ]);
        // Only the version read may be replaced: a writer in between makes
        // this update match no row.
        let row: Option<DonorRow> = with_conn!(conn, |c| diesel::update(
            donors::table
                .filter(donors::id.eq(id))
                .filter(donors::version.eq(current.version))
        )
        .set((
            donors::name.eq(patch.name.as_ref().unwrap_or(&current.name)),
            donors::inside_province.eq(patch.inside_province.unwrap_or(current.inside_province)),
            donors::tax_code.eq(&tax_code),
            donors::phone.eq(&phone),
            donors::email.eq(&email),
            donors::address.eq(&address),
            donors::anonymous_publicly.eq(patch
                .anonymous_publicly
                .unwrap_or(current.anonymous_publicly)),
            donors::keep_contact.eq(patch.keep_contact.unwrap_or(current.keep_contact)),
            donors::version.eq(current.version + 1),
            donors::updated_at.eq(crate::platform::db::now()),
        ))
        .returning(DonorRow::as_returning())
        .get_result(c)
        .optional())?;
        let row = row.ok_or_else(|| Failure::changed_meanwhile(current.version + 1, if_match))?;
        crate::platform::audit::record(
            conn,
            actor,
            "update",
            "donor",
            &id.to_string(),
            json!({"changed": changed}),
        )?;
        Ok(row)
    })
}

pub fn list(
    conn: &mut DbConn,
    scope: &Reach,
    page: &PageRequest<i64>,
) -> Result<DonorPage, Failure> {
    let rows: Vec<DonorRow> = with_conn!(conn, |c| {
        let mut query = donors::table
            .select(DonorRow::as_select())
            .order(donors::id)
            .limit(page.fetch())
            .into_boxed();
        if let Some(after) = page.after {
            query = query.filter(donors::id.gt(after));
        }
        match scope.donor() {
            None => {}
            Some(Some(id)) => query = query.filter(donors::id.eq(id)),
            // A donor user linked to no donor sees nothing.
            Some(None) => query = query.filter(donors::id.eq(-1)),
        }
        query.load(c)
    })?;
    let (rows, next_cursor) = page.finish(rows, |row| row.id);
    Ok(DonorPage {
        items: rows.into_iter().map(Donor::from).collect(),
        next_cursor,
    })
}
