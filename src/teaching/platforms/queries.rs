//! Platform offers: submission, edits, the review's moves (each an event
//! and an audit entry), and schools' adoptions with their uptake.

use std::collections::HashMap;

use chrono::NaiveDate;
use diesel::prelude::*;
use serde_json::json;

use super::model::*;
use super::workflow::{self, Reviewer};
use crate::platform::auth::Reach;
use crate::platform::db::page::PageRequest;
use crate::platform::db::schema::{platform_adoptions, platform_offer_events, platform_offers};
use crate::platform::db::{with_conn, DbConn};
use crate::platform::error::{Failure, FieldError, OrUnknown};
use crate::registry::schools::SchoolLevel;

/// Whose offers a caller works on: every partner's (`None`, the
/// Department) or one partner account's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Department,
    Partner(i64),
}

impl Owner {
    fn reviewer(self) -> Reviewer {
        match self {
            Owner::Department => Reviewer::Department,
            Owner::Partner(_) => Reviewer::Partner,
        }
    }
}

pub fn find(conn: &mut DbConn, id: i64) -> Result<OfferRow, Failure> {
    let row: Option<OfferRow> = with_conn!(conn, |c| platform_offers::table
        .find(id)
        .select(OfferRow::as_select())
        .first(c)
        .optional())?;
    row.ok_or_else(|| Failure::not_found("no platform offer has this id"))
}

/// An offer the caller may work on: another partner's offer answers 404,
/// exactly like one that does not exist.
pub fn find_owned(conn: &mut DbConn, owner: Owner, id: i64) -> Result<OfferRow, Failure> {
    let row = find(conn, id)?;
    match owner {
        Owner::Partner(user) if row.submitted_by != user => {
            Err(Failure::not_found("no platform offer has this id"))
        }
        _ => Ok(row),
    }
}

/// The offer's moves, oldest first.
pub fn history(conn: &mut DbConn, id: i64) -> Result<Vec<OfferEventRow>, Failure> {
    Ok(with_conn!(conn, |c| platform_offer_events::table
        .filter(platform_offer_events::offer_id.eq(id))
        .order(platform_offer_events::id)
        .select(OfferEventRow::as_select())
        .load(c))?)
}

/// The rules of an offer's terms and audience beyond each field's own:
/// the price fields that go with the pricing, a period that ends after it
/// starts, grades inside the levels, each level once, a web address.
fn check_offer(
    terms: Option<&Terms>,
    suits: Option<&Suits>,
    website: Option<&str>,
) -> Result<(), Failure> {
    let mut errors = Vec::new();
    if let Some(terms) = terms {
        let (needs_discount, needs_price) = match terms.pricing {
            Pricing::Free => (false, false),
            Pricing::Discount => (true, false),
            Pricing::PerStudent => (false, true),
        };
        for (field, needed, present) in [
            (
                "terms.discount_percent",
                needs_discount,
                terms.discount_percent.is_some(),
            ),
            (
                "terms.price_per_student_vnd",
                needs_price,
                terms.price_per_student_vnd.is_some(),
            ),
        ] {
            if needed && !present {
                errors.push(FieldError::new(
                    field,
                    "required",
                    format!("{} pricing needs it", terms.pricing),
                ));
            } else if present && !needed {
                errors.push(FieldError::new(
                    field,
                    "not_allowed",
                    format!("{} pricing has no such figure", terms.pricing),
                ));
            }
        }
        if terms
            .available_until
            .is_some_and(|end| end < terms.available_from)
        {
            errors.push(FieldError::new(
                "terms.available_until",
                "before_start",
                "must not be before available_from",
            ));
        }
    }
    if let Some(suits) = suits {
        if suits.grade_from > suits.grade_to {
            errors.push(FieldError::new(
                "suits.grade_to",
                "before_start",
                "must not be below grade_from",
            ));
        }
        let mut seen = Vec::new();
        for level in &suits.levels {
            if seen.contains(level) {
                errors.push(FieldError::new(
                    "suits.levels",
                    "repeated",
                    "name each level once",
                ));
                break;
            }
            seen.push(*level);
        }
        let taught = |grade: i32| {
            suits
                .levels
                .iter()
                .any(|level| level.grades().contains(&grade))
        };
        let grades_taught = taught(suits.grade_from) && taught(suits.grade_to);
        if !suits.levels.is_empty() && !grades_taught {
            errors.push(FieldError::new(
                "suits.grade_from",
                "outside_levels",
                "the grades must be taught at the levels named",
            ));
        }
    }
    if let Some(url) = website {
        if let Err(refusal) = crate::platform::webhooks::target::parse(url) {
            errors.push(FieldError::new("website", "url", refusal.reason()));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Failure::validation(errors))
    }
}

pub fn create(
    conn: &mut DbConn,
    actor: &str,
    submitted_by: i64,
    input: CreateOffer,
) -> Result<OfferRow, Failure> {
    check_offer(
        Some(&input.terms),
        Some(&input.suits),
        input.website.as_deref(),
    )?;
    conn.transaction(|conn| {
        let now = crate::platform::db::now();
        let terms = &input.terms;
        let row: OfferRow = with_conn!(conn, |c| diesel::insert_into(platform_offers::table)
            .values((
                platform_offers::submitted_by.eq(submitted_by),
                platform_offers::provider.eq(&input.provider),
                platform_offers::product.eq(&input.product),
                platform_offers::kind.eq(input.kind),
                platform_offers::description.eq(&input.description),
                platform_offers::website.eq(&input.website),
                platform_offers::pricing.eq(terms.pricing),
                platform_offers::discount_percent.eq(terms.discount_percent),
                platform_offers::price_per_student_vnd
                    .eq(terms.price_per_student_vnd.map(|v| v.get())),
                platform_offers::available_from.eq(terms.available_from),
                platform_offers::available_until.eq(terms.available_until),
                platform_offers::conditions.eq(&terms.conditions),
                platform_offers::levels.eq(levels_text(&input.suits.levels)),
                platform_offers::grade_from.eq(input.suits.grade_from),
                platform_offers::grade_to.eq(input.suits.grade_to),
                platform_offers::data_residency.eq(&input.data_residency),
                platform_offers::child_safety.eq(&input.child_safety),
                platform_offers::status.eq(OfferStatus::Proposed),
                platform_offers::created_at.eq(now),
                platform_offers::updated_at.eq(now),
            ))
            .returning(OfferRow::as_returning())
            .get_result(c))?;
        record_event(conn, row.id, None, OfferStatus::Proposed, actor, None)?;
        crate::platform::audit::record(
            conn,
            actor,
            "create",
            "platform_offer",
            &row.id.to_string(),
            json!({"kind": row.kind, "pricing": row.pricing}),
        )?;
        Ok(row)
    })
}

/// A page of the offers a caller works on, oldest first.
pub fn page(
    conn: &mut DbConn,
    owner: Owner,
    filter: &OfferFilter,
    page: &PageRequest<i64>,
) -> Result<OfferPage, Failure> {
    let rows: Vec<OfferRow> = with_conn!(conn, |c| {
        let mut query = platform_offers::table
            .order(platform_offers::id)
            .limit(page.fetch())
            .select(OfferRow::as_select())
            .into_boxed();
        if let Owner::Partner(user) = owner {
            query = query.filter(platform_offers::submitted_by.eq(user));
        }
        if let Some(after) = page.after {
            query = query.filter(platform_offers::id.gt(after));
        }
        if let Some(status) = filter.status {
            query = query.filter(platform_offers::status.eq(status));
        }
        if let Some(kind) = filter.kind {
            query = query.filter(platform_offers::kind.eq(kind));
        }
        query.load(c)
    })?;
    let (rows, next_cursor) = page.finish(rows, |row| row.id);
    Ok(OfferPage {
        items: rows.into_iter().map(|row| Offer::of(row, None)).collect(),
        next_cursor,
    })
}

/// Changes a proposed or refused offer (its partner, or the Department).
pub fn update(
    conn: &mut DbConn,
    actor: &str,
    owner: Owner,
    id: i64,
    patch: OfferPatch,
    if_match: Option<i64>,
) -> Result<OfferRow, Failure> {
    if patch.is_empty() {
        return Err(Failure::invalid_field(
            "body",
            "empty",
            "send at least one field to change",
        ));
    }
    check_offer(
        patch.terms.as_ref(),
        patch.suits.as_ref(),
        patch.website.as_deref(),
    )?;
    conn.transaction(|conn| {
        let current = find_owned(conn, owner, id)?;
        crate::platform::db::ensure_current(if_match, current.version)?;
        if !workflow::editable(current.status) {
            return Err(Failure::conflict(format!(
                "a {} offer is not edited: withdraw it and submit a new one",
                current.status
            )));
        }
        let terms = patch.terms.clone().unwrap_or_else(|| current.terms());
        let (levels, grade_from, grade_to) = match &patch.suits {
            Some(suits) => (levels_text(&suits.levels), suits.grade_from, suits.grade_to),
            None => (current.levels.clone(), current.grade_from, current.grade_to),
        };
        let row: Option<OfferRow> = with_conn!(conn, |c| diesel::update(
            platform_offers::table
                .filter(platform_offers::id.eq(id))
                .filter(platform_offers::version.eq(current.version))
        )
        .set((
            platform_offers::product.eq(patch.product.as_ref().unwrap_or(&current.product)),
            platform_offers::kind.eq(patch.kind.unwrap_or(current.kind)),
            platform_offers::description
                .eq(patch.description.as_ref().unwrap_or(&current.description)),
            platform_offers::website.eq(patch.website.as_ref().or(current.website.as_ref())),
            platform_offers::pricing.eq(terms.pricing),
            platform_offers::discount_percent.eq(terms.discount_percent),
            platform_offers::price_per_student_vnd.eq(terms.price_per_student_vnd.map(|v| v.get())),
            platform_offers::available_from.eq(terms.available_from),
            platform_offers::available_until.eq(terms.available_until),
            platform_offers::conditions.eq(&terms.conditions),
            platform_offers::levels.eq(levels),
            platform_offers::grade_from.eq(grade_from),
            platform_offers::grade_to.eq(grade_to),
            platform_offers::data_residency.eq(patch
                .data_residency
                .as_ref()
                .or(current.data_residency.as_ref())),
            platform_offers::child_safety.eq(patch
                .child_safety
                .as_ref()
                .or(current.child_safety.as_ref())),
            platform_offers::version.eq(platform_offers::version + 1),
            platform_offers::updated_at.eq(crate::platform::db::now()),
        ))
        .returning(OfferRow::as_returning())
        .get_result(c)
        .optional())?;
        let row = row.ok_or_else(|| Failure::changed_meanwhile(current.version + 1, if_match))?;
        let sent = crate::platform::audit::sent_fields(&[
            ("product", patch.product.is_some()),
            ("kind", patch.kind.is_some()),
            ("description", patch.description.is_some()),
            ("website", patch.website.is_some()),
            ("terms", patch.terms.is_some()),
            ("suits", patch.suits.is_some()),
            ("data_residency", patch.data_residency.is_some()),
            ("child_safety", patch.child_safety.is_some()),
        ]);
        crate::platform::audit::record(
            conn,
            actor,
            "update",
            "platform_offer",
            &id.to_string(),
            json!({"fields": sent}),
        )?;
        Ok(row)
    })
}

/// Moves an offer through the review, if the table allows it and the
/// caller may make that move; the reason is kept on the offer and in its
/// history.
pub fn transition(
    conn: &mut DbConn,
    actor: &str,
    owner: Owner,
    id: i64,
    request: OfferTransition,
) -> Result<OfferRow, Failure> {
    if workflow::needs_reason(request.to) && request.reason.is_none() {
        return Err(Failure::invalid_field(
            "reason",
            "required",
            format!("say why the offer becomes {}", request.to),
        ));
    }
    conn.transaction(|conn| {
        let current = find_owned(conn, owner, id)?;
        workflow::check(current.status, request.to, owner.reviewer())?;
        let reason = if workflow::needs_reason(request.to) {
            request.reason.clone()
        } else {
            None
        };
        let row: Option<OfferRow> = with_conn!(conn, |c| diesel::update(
            platform_offers::table
                .filter(platform_offers::id.eq(id))
                .filter(platform_offers::status.eq(current.status))
        )
        .set((
            platform_offers::status.eq(request.to),
            platform_offers::status_reason.eq(&reason),
            platform_offers::version.eq(platform_offers::version + 1),
            platform_offers::updated_at.eq(crate::platform::db::now()),
        ))
        .returning(OfferRow::as_returning())
        .get_result(c)
        .optional())?;
        let row =
            row.ok_or_else(|| Failure::conflict("the offer changed meanwhile; read it again"))?;
        record_event(
            conn,
            id,
            Some(current.status),
            request.to,
            actor,
            request.reason.as_deref(),
        )?;
        crate::platform::audit::record(
            conn,
            actor,
            "transition",
            "platform_offer",
            &id.to_string(),
            json!({"from": current.status, "to": request.to}),
        )?;
        Ok(row)
    })
}

fn record_event(
    conn: &mut DbConn,
    offer_id: i64,
    from: Option<OfferStatus>,
    to: OfferStatus,
    actor: &str,
    reason: Option<&str>,
) -> Result<(), Failure> {
    with_conn!(conn, |c| diesel::insert_into(platform_offer_events::table)
        .values((
            platform_offer_events::offer_id.eq(offer_id),
            platform_offer_events::from_status.eq(from),
            platform_offer_events::to_status.eq(to),
            platform_offer_events::actor.eq(actor),
            platform_offer_events::reason.eq(reason),
            platform_offer_events::at.eq(crate::platform::db::now()),
        ))
        .execute(c))?;
    Ok(())
}

/// A school the caller reaches (404 otherwise, as for one that does not
/// exist).
fn school_in_reach(
    conn: &mut DbConn,
    reach: &Reach,
    school_id: i64,
) -> Result<crate::registry::schools::SchoolRow, Failure> {
    let school = crate::registry::schools::queries::find(conn, school_id)
        .or_not_found(|| "no school has this id".to_owned())?;
    if !reach.allows_place(school.id, &school.admin_unit_code) {
        return Err(Failure::not_found("no school has this id"));
    }
    Ok(school)
}

/// Records that a school uses a recommended platform, or updates its
/// student count (`true` when the record is new).
pub fn record_adoption(
    conn: &mut DbConn,
    actor: &str,
    reach: &Reach,
    school_id: i64,
    offer_id: i64,
    input: RecordAdoption,
) -> Result<(AdoptionRow, OfferRow, bool), Failure> {
    conn.transaction(|conn| {
        school_in_reach(conn, reach, school_id)?;
        let offer = find(conn, offer_id)?;
        if offer.status != OfferStatus::Recommended {
            return Err(Failure::conflict(format!(
                "only recommended platforms are recorded; this one is {}",
                offer.status
            )));
        }
        let now = crate::platform::db::now();
        let key = (school_id, offer_id);
        let existing: Option<AdoptionRow> = with_conn!(conn, |c| platform_adoptions::table
            .find(key)
            .select(AdoptionRow::as_select())
            .first(c)
            .optional())?;
        let created = existing.is_none();
        let row: AdoptionRow = if created {
            with_conn!(conn, |c| diesel::insert_into(platform_adoptions::table)
                .values((
                    platform_adoptions::school_id.eq(school_id),
                    platform_adoptions::offer_id.eq(offer_id),
                    platform_adoptions::student_count.eq(input.student_count),
                    platform_adoptions::started_on.eq(input.started_on),
                    platform_adoptions::recorded_by.eq(actor),
                    platform_adoptions::created_at.eq(now),
                    platform_adoptions::updated_at.eq(now),
                ))
                .returning(AdoptionRow::as_returning())
                .get_result(c))?
        } else {
            with_conn!(conn, |c| diesel::update(
                platform_adoptions::table.find(key)
            )
            .set((
                platform_adoptions::student_count.eq(input.student_count),
                platform_adoptions::started_on.eq(input.started_on),
                platform_adoptions::recorded_by.eq(actor),
                platform_adoptions::updated_at.eq(now),
            ))
            .returning(AdoptionRow::as_returning())
            .get_result(c))?
        };
        crate::platform::audit::record(
            conn,
            actor,
            if created { "create" } else { "update" },
            "platform_adoption",
            &format!("{school_id}/{offer_id}"),
            json!({"student_count": input.student_count}),
        )?;
        Ok((row, offer, created))
    })
}

/// The school no longer uses the platform.
pub fn remove_adoption(
    conn: &mut DbConn,
    actor: &str,
    reach: &Reach,
    school_id: i64,
    offer_id: i64,
) -> Result<(), Failure> {
    conn.transaction(|conn| {
        school_in_reach(conn, reach, school_id)?;
        let removed = with_conn!(conn, |c| diesel::delete(
            platform_adoptions::table.find((school_id, offer_id))
        )
        .execute(c))?;
        if removed == 0 {
            return Err(Failure::not_found(
                "the school has not recorded this platform",
            ));
        }
        crate::platform::audit::record(
            conn,
            actor,
            "delete",
            "platform_adoption",
            &format!("{school_id}/{offer_id}"),
            json!({}),
        )
    })
}

/// The platforms a school records, with each offer's status now.
pub fn school_adoptions(
    conn: &mut DbConn,
    reach: &Reach,
    school_id: i64,
) -> Result<Vec<Adoption>, Failure> {
    school_in_reach(conn, reach, school_id)?;
    let rows: Vec<(AdoptionRow, OfferRow)> = with_conn!(conn, |c| platform_adoptions::table
        .inner_join(platform_offers::table)
        .filter(platform_adoptions::school_id.eq(school_id))
        .order(platform_adoptions::offer_id)
        .select((AdoptionRow::as_select(), OfferRow::as_select()))
        .load(c))?;
    Ok(rows
        .into_iter()
        .map(|(row, offer)| Adoption::of(row, &offer))
        .collect())
}

/// Schools and students per offer, counted from the adoption rows.
pub fn uptake(conn: &mut DbConn, offer_ids: &[i64]) -> Result<HashMap<i64, Uptake>, Failure> {
    let rows: Vec<(i64, i32)> = with_conn!(conn, |c| platform_adoptions::table
        .filter(platform_adoptions::offer_id.eq_any(offer_ids))
        .select((
            platform_adoptions::offer_id,
            platform_adoptions::student_count
        ))
        .load(c))?;
    let mut out: HashMap<i64, Uptake> = HashMap::new();
    for (offer, students) in rows {
        let line = out.entry(offer).or_default();
        line.schools += 1;
        line.students += i64::from(students);
    }
    Ok(out)
}

/// Every recommended offer with its uptake, oldest first: the public list.
pub fn recommended_with_uptake(conn: &mut DbConn) -> Result<Vec<(OfferRow, Uptake)>, Failure> {
    let rows: Vec<OfferRow> = with_conn!(conn, |c| platform_offers::table
        .filter(platform_offers::status.eq(OfferStatus::Recommended))
        .order(platform_offers::id)
        .select(OfferRow::as_select())
        .load(c))?;
    let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
    let mut uptake = uptake(conn, &ids)?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let line = uptake.remove(&row.id).unwrap_or_default();
            (row, line)
        })
        .collect())
}

/// One adoption as statistics read it: where the school is, its level,
/// which offer (and its product name and status), how many students.
pub struct AdoptionFact {
    pub admin_unit_code: String,
    pub level: SchoolLevel,
    pub offer_id: i64,
    pub product: String,
    pub offer_status: OfferStatus,
    pub students: i64,
    pub started_on: NaiveDate,
}

/// The adoptions of schools in `units` (every school when `None`) of
/// `level` (every level when `None`).
pub fn adoption_facts(
    conn: &mut DbConn,
    units: Option<&[String]>,
    level: Option<SchoolLevel>,
) -> Result<Vec<AdoptionFact>, Failure> {
    use crate::platform::db::schema::schools;
    let rows: Vec<(
        String,
        SchoolLevel,
        i64,
        String,
        OfferStatus,
        i32,
        NaiveDate,
    )> = with_conn!(conn, |c| {
        let mut query = platform_adoptions::table
            .inner_join(platform_offers::table)
            .inner_join(schools::table)
            .select((
                schools::admin_unit_code,
                schools::level,
                platform_offers::id,
                platform_offers::product,
                platform_offers::status,
                platform_adoptions::student_count,
                platform_adoptions::started_on,
            ))
            .into_boxed();
        if let Some(units) = units {
            query = query.filter(schools::admin_unit_code.eq_any(units));
        }
        if let Some(level) = level {
            query = query.filter(schools::level.eq(level));
        }
        query.load(c)
    })?;
    Ok(rows
        .into_iter()
        .map(
            |(admin_unit_code, level, offer_id, product, offer_status, students, started_on)| {
                AdoptionFact {
                    admin_unit_code,
                    level,
                    offer_id,
                    product,
                    offer_status,
                    students: i64::from(students),
                    started_on,
                }
            },
        )
        .collect())
}
