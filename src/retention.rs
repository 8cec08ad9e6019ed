//! Personal data kept no longer than the programme needs it (README,
//! "Retention"): one policy over every domain's personal fields, applied
//! by `songmay purge` and `POST /api/v1/retention/purge` (admin), a dry run
//! unless asked. Where statistics, the ledger or a donation's trace need
//! the row, the purge **anonymises** it instead of deleting it, so every
//! published figure is the same before and after; each field it blanks is
//! one no figure reads. A second run changes nothing (each row records
//! when it was purged). One audit row per committed run, with the counts.
//!
//! - students who left (inactive or deleted, unchanged for the period) and
//!   have no open need: name, birth date, household status and the
//!   education system's id are replaced; school, grade, gender and what
//!   they received stay (the coverage and trace figures count them);
//! - donors whose last gift is older than the period and who did not agree
//!   to be kept in touch (`keep_contact`): phone, email and address are
//!   removed; the name stays (it is the public record of the gift, or
//!   hidden already when they asked to be anonymous);
//! - handovers older than the period: the receiver's name is removed
//!   (relation, date and the device stay: they are the trace);
//! - stored answers of the idempotency store older than 24 hours.

use actix_web::{post, web};
use chrono::{NaiveDate, NaiveDateTime, TimeDelta};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::Text;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::needs::workflow::NeedStatus;
use crate::platform::auth::Principal;
use crate::platform::config::RetentionPolicy;
use crate::platform::db::schema::{donors, handovers, idempotency_keys, needs, receipts, students};
use crate::platform::db::{with_conn, DbConn};
use crate::platform::error::{Failure, FieldError};
use crate::platform::http::json::Json;
use crate::platform::http::ApiError;
use crate::platform::state::AppState;

/// What an anonymised student is called.
pub const PURGED_NAME: &str = "Học sinh đã rời trường";
/// The birth date every anonymised student gets.
const PURGED_BIRTH_DATE: (i32, u32, u32) = (1900, 1, 1);
/// Ids per `IN (…)` list.
const CHUNK: usize = 5_000;

/// A purge run: periods in days, each at least the configured one.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"dry_run": true}))]
pub struct PurgeRequest {
    /// `true` (default): count what would be purged, change nothing.
    pub dry_run: Option<bool>,
    /// Days a student who left is kept (default and minimum: the configured period).
    #[schema(maximum = 36500)]
    pub student_days: Option<u32>,
    /// Days a donor's contact data is kept after their last gift.
    #[schema(maximum = 36500)]
    pub donor_contact_days: Option<u32>,
    /// Days a handover receiver's name is kept.
    #[schema(maximum = 36500)]
    pub receiver_name_days: Option<u32>,
}

/// The periods a run used, in days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Periods {
    pub student_days: u32,
    pub donor_contact_days: u32,
    pub receiver_name_days: u32,
}

/// How many records a run anonymised (or, dry, would).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PurgeCounts {
    pub students: i64,
    pub donor_contacts: i64,
    pub receiver_names: i64,
    /// Stored idempotent answers older than 24 hours (deleted).
    pub idempotency_answers: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PurgeReport {
    pub dry_run: bool,
    pub periods: Periods,
    pub purged: PurgeCounts,
}

/// The periods of a request: the configured ones, or longer ones asked for
/// (a shorter one is refused, naming its field).
pub fn periods(policy: &RetentionPolicy, request: &PurgeRequest) -> Result<Periods, Failure> {
    let mut errors = Vec::new();
    let mut pick = |field: &str, asked: Option<u32>, configured: u32| match asked {
        Some(days) if days > RetentionPolicy::MAX_DAYS => {
            errors.push(FieldError::new(
                field,
                "too_long",
                format!("must be at most {} days", RetentionPolicy::MAX_DAYS),
            ));
            configured
        }
        Some(days) if days < configured => {
            errors.push(FieldError::new(
                field,
                "below_policy",
                format!("must be at least the configured {configured} days"),
            ));
            configured
        }
        Some(days) => days,
        None => configured,
    };
    let periods = Periods {
        student_days: pick("student_days", request.student_days, policy.student_days),
        donor_contact_days: pick(
            "donor_contact_days",
            request.donor_contact_days,
            policy.donor_contact_days,
        ),
        receiver_name_days: pick(
            "receiver_name_days",
            request.receiver_name_days,
            policy.receiver_name_days,
        ),
    };
    if errors.is_empty() {
        Ok(periods)
    } else {
        Err(Failure::validation(errors))
    }
}

/// Runs the purge at `now` in one transaction.
pub fn purge(
    conn: &mut DbConn,
    actor: &str,
    periods: &Periods,
    dry_run: bool,
    now: NaiveDateTime,
) -> Result<PurgeReport, Failure> {
    conn.transaction(|conn| {
        let days = |n: u32| now - TimeDelta::days(n.into());
        let purged = PurgeCounts {
            students: students_who_left(conn, days(periods.student_days), dry_run, now)?,
            donor_contacts: donor_contacts(
                conn,
                days(periods.donor_contact_days).date(),
                dry_run,
                now,
            )?,
            receiver_names: receiver_names(
                conn,
                days(periods.receiver_name_days).date(),
                dry_run,
                now,
            )?,
            idempotency_answers: idempotency_answers(conn, now - TimeDelta::hours(24), dry_run)?,
        };
        if !dry_run {
            crate::platform::audit::record(
                conn,
                actor,
                "purge",
                "retention",
                &now.format("%Y-%m-%dT%H:%M:%S").to_string(),
                json!({"periods": periods, "purged": purged}),
            )?;
        }
        Ok(PurgeReport {
            dry_run,
            periods: periods.clone(),
            purged,
        })
    })
}

/// Students who left before `cutoff`, with no open need, not yet purged.
fn students_who_left(
    conn: &mut DbConn,
    cutoff: NaiveDateTime,
    dry_run: bool,
    now: NaiveDateTime,
) -> Result<i64, Failure> {
    let open: Vec<&str> = NeedStatus::OPEN.iter().map(|s| s.as_str()).collect();
    let ids: Vec<i64> = with_conn!(conn, |c| students::table
        .filter(students::active.eq(false).or(students::deleted.eq(true)))
        .filter(students::updated_at.lt(cutoff))
        .filter(students::purged_at.is_null())
        .filter(diesel::dsl::not(diesel::dsl::exists(
            needs::table
                .filter(needs::student_id.eq(students::id.nullable()))
                .filter(needs::status.eq_any(&open)),
        )))
        .select(students::id)
        .load(c))?;
    if !dry_run {
        let (y, m, d) = PURGED_BIRTH_DATE;
        let birth = NaiveDate::from_ymd_opt(y, m, d).expect("a real date");
        for chunk in ids.chunks(CHUNK) {
            with_conn!(conn, |c| diesel::update(
                students::table.filter(students::id.eq_any(chunk))
            )
            .set((
                students::full_name.eq(PURGED_NAME),
                students::birth_date.eq(birth),
                students::household_status.eq("other"),
                // Unique like the id it replaces; never a real one.
                students::external_id.eq(sql::<Text>("'purged-' || CAST(id AS TEXT)")),
                students::purged_at.eq(now),
                students::version.eq(students::version + 1),
            ))
            .execute(c))?;
        }
    }
    Ok(ids.len() as i64)
}

/// Donors with contact data whose last gift (or, without one, their
/// record) is older than `cutoff` and who did not ask to be kept.
fn donor_contacts(
    conn: &mut DbConn,
    cutoff: NaiveDate,
    dry_run: bool,
    now: NaiveDateTime,
) -> Result<i64, Failure> {
    let candidates: Vec<(i64, NaiveDateTime)> = with_conn!(conn, |c| donors::table
        .filter(donors::keep_contact.eq(false))
        .filter(donors::contact_purged_at.is_null())
        .filter(
            donors::phone
                .is_not_null()
                .or(donors::email.is_not_null())
                .or(donors::address.is_not_null()),
        )
        .select((donors::id, donors::created_at))
        .load(c))?;
    let ids: Vec<i64> = candidates.iter().map(|(id, _)| *id).collect();
    let mut last_gift: std::collections::HashMap<i64, NaiveDate> = Default::default();
    for chunk in ids.chunks(CHUNK) {
        let rows: Vec<(Option<i64>, Option<NaiveDate>)> = with_conn!(conn, |c| receipts::table
            .filter(receipts::donor_id.eq_any(chunk))
            .group_by(receipts::donor_id)
            .select((receipts::donor_id, diesel::dsl::max(receipts::received_on)))
            .load(c))?;
        for (donor, day) in rows {
            if let (Some(donor), Some(day)) = (donor, day) {
                last_gift.insert(donor, day);
            }
        }
    }
    let due: Vec<i64> = candidates
        .into_iter()
        .filter(|(id, created)| last_gift.get(id).copied().unwrap_or(created.date()) < cutoff)
        .map(|(id, _)| id)
        .collect();
    if !dry_run {
        for chunk in due.chunks(CHUNK) {
            with_conn!(conn, |c| diesel::update(
                donors::table.filter(donors::id.eq_any(chunk))
            )
            .set((
                donors::phone.eq(None::<String>),
                donors::email.eq(None::<String>),
                donors::address.eq(None::<String>),
                donors::contact_purged_at.eq(now),
                donors::version.eq(donors::version + 1),
            ))
            .execute(c))?;
        }
    }
    Ok(due.len() as i64)
}

/// Handovers before `cutoff` whose receiver's name is still kept.
fn receiver_names(
    conn: &mut DbConn,
    cutoff: NaiveDate,
    dry_run: bool,
    now: NaiveDateTime,
) -> Result<i64, Failure> {
    let ids: Vec<i64> = with_conn!(conn, |c| handovers::table
        .filter(handovers::handed_on.lt(cutoff))
        .filter(handovers::receiver_purged_at.is_null())
        .select(handovers::id)
        .load(c))?;
    if !dry_run {
        for chunk in ids.chunks(CHUNK) {
            with_conn!(conn, |c| diesel::update(
                handovers::table.filter(handovers::id.eq_any(chunk))
            )
            .set((
                handovers::received_by_name.eq(""),
                handovers::receiver_purged_at.eq(now),
            ))
            .execute(c))?;
        }
    }
    Ok(ids.len() as i64)
}

/// Stored idempotent answers older than `cutoff`.
fn idempotency_answers(
    conn: &mut DbConn,
    cutoff: NaiveDateTime,
    dry_run: bool,
) -> Result<i64, Failure> {
    let expired = idempotency_keys::table.filter(idempotency_keys::created_at.lt(cutoff));
    Ok(if dry_run {
        with_conn!(conn, |c| expired.count().get_result::<i64>(c))?
    } else {
        with_conn!(conn, |c| diesel::delete(expired).execute(c))? as i64
    })
}

/// Purge personal data past its retention period.
///
/// Admin. A dry run unless `dry_run` is `false`: counts what would be
/// anonymised. Students who left, donors' contact data, handover receivers'
/// names and stored idempotent answers, by the configured periods (a
/// request may ask for longer ones, never shorter: 422). Statistics, the
/// ledger and traces are the same before and after. README, "Retention".
#[utoipa::path(
    tag = "operations",
    security(("bearer" = [])),
    request_body = PurgeRequest,
    responses((status = 200, description = "What was (or would be) anonymised", body = PurgeReport))
)]
#[post("/retention/purge")]
pub async fn purge_endpoint(
    state: web::Data<AppState>,
    policy: web::Data<RetentionPolicy>,
    principal: Principal,
    body: Json<PurgeRequest>,
) -> Result<web::Json<PurgeReport>, ApiError> {
    principal.require_admin()?;
    let request = body.into_inner();
    let periods = periods(&policy, &request)?;
    let dry_run = request.dry_run.unwrap_or(true);
    let actor = principal.actor();
    let report = state
        .db
        .run(move |conn| purge(conn, &actor, &periods, dry_run, crate::platform::db::now()))
        .await?;
    Ok(web::Json(report))
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(purge_endpoint);
}
