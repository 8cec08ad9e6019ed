//! Needs: reporting, generating from the roster, moving through the workflow
//! one by one or in bulk, the summary, within the caller's scope.

use std::collections::HashSet;

use diesel::prelude::*;
use serde_json::json;

use super::model::*;
use super::priority::{Facts, Scorer};
use super::workflow::{self, Mover, NeedStatus, Refusal};
use crate::platform::auth::Reach;
use crate::platform::db::page::PageRequest;
use crate::platform::db::schema::{need_events, needs, schools, students};
use crate::platform::db::{with_conn, DbConn};
use crate::platform::error::{Failure, OrUnknown};
use crate::platform::outbox::{Event, EventType};
use crate::registry::schools::SchoolRow;
use crate::registry::students::{ConnectivityStatus, DeviceStatus, StudentRow};

const CHUNK: usize = 1_000;

fn visible(scope: &Reach, need: &NeedRow) -> bool {
    scope.allows_place(need.school_id, &need.admin_unit_code)
}

/// A need the caller may see; 404 otherwise, as for one that does not exist.
pub fn find_visible(conn: &mut DbConn, scope: &Reach, id: i64) -> Result<NeedRow, Failure> {
    let row: Option<NeedRow> = with_conn!(conn, |c| needs::table
        .find(id)
        .select(NeedRow::as_select())
        .first(c)
        .optional())?;
    row.filter(|need| visible(scope, need))
        .ok_or_else(|| Failure::not_found(String::from("no need has this id")))
}

fn open_statuses() -> Vec<NeedStatus> {
    NeedStatus::OPEN.to_vec()
}

/// Fills each need's current allocation and handover (two queries for a
/// whole page). The tables are read through the shared schema: needs know
/// the rows that serve them, not the distribution code.
pub fn with_links(conn: &mut DbConn, mut needs: Vec<Need>) -> Result<Vec<Need>, Failure> {
    use crate::platform::db::schema::{allocations, handovers};
    let ids: Vec<i64> = needs.iter().map(|n| n.id).collect();
    let mut serving: std::collections::HashMap<i64, i64> = std::collections::HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let rows: Vec<(i64, i64)> = with_conn!(conn, |c| allocations::table
            .filter(allocations::need_id.eq_any(chunk))
            .filter(allocations::status.ne("cancelled"))
            .order(allocations::id)
            .select((allocations::need_id, allocations::id))
            .load(c))?;
        // The latest wins, should there ever be two.
        serving.extend(rows);
    }
    let allocation_ids: Vec<i64> = serving.values().copied().collect();
    let mut handed: std::collections::HashMap<i64, i64> = std::collections::HashMap::new();
    for chunk in allocation_ids.chunks(CHUNK) {
        let rows: Vec<(i64, i64)> = with_conn!(conn, |c| handovers::table
            .filter(handovers::allocation_id.eq_any(chunk))
            .order(handovers::id)
            .select((handovers::allocation_id, handovers::id))
            .load(c))?;
        handed.extend(rows);
    }
    for need in &mut needs {
        need.allocation_id = serving.get(&need.id).copied();
        need.handover_id = need.allocation_id.and_then(|a| handed.get(&a).copied());
    }
    Ok(needs)
}

/// The outbox event of a need reaching `status`.
fn announcement(need: &NeedRow) -> Event {
    let event_type = match need.status {
        NeedStatus::Reported => EventType::NeedReported,
        NeedStatus::Verified => EventType::NeedVerified,
        NeedStatus::Approved => EventType::NeedApproved,
        NeedStatus::Allocated => EventType::NeedAllocated,
        NeedStatus::Fulfilled => EventType::NeedFulfilled,
        NeedStatus::Rejected => EventType::NeedRejected,
        NeedStatus::Cancelled => EventType::NeedCancelled,
    };
    // Ids, kind, status and place: never the student's name or situation.
    Event {
        event_type,
        entity: "need",
        entity_id: need.id,
        admin_unit_code: Some(need.admin_unit_code.clone()),
        data: json!({
            "need_id": need.id,
            "status": need.status,
            "kind": need.kind,
            "school_id": need.school_id,
            "student_id": need.student_id,
            "priority": need.priority,
        }),
    }
}

/// Announces these needs (all just moved to the same status) in the outbox.
fn announce_many(conn: &mut DbConn, ids: &[i64]) -> Result<(), Failure> {
    for chunk in ids.chunks(CHUNK) {
        let rows: Vec<NeedRow> = with_conn!(conn, |c| needs::table
            .filter(needs::id.eq_any(chunk))
            .select(NeedRow::as_select())
            .load(c))?;
        crate::platform::outbox::emit_many(conn, rows.iter().map(announcement).collect())?;
    }
    Ok(())
}

fn insert_event(
    conn: &mut DbConn,
    need_id: i64,
    from: Option<NeedStatus>,
    to: NeedStatus,
    actor: &str,
    reason: Option<&str>,
) -> Result<(), Failure> {
    with_conn!(conn, |c| diesel::insert_into(need_events::table)
        .values((
            need_events::need_id.eq(need_id),
            need_events::from_status.eq(from),
            need_events::to_status.eq(to),
            need_events::actor.eq(actor),
            need_events::reason.eq(reason),
            need_events::at.eq(crate::platform::db::now()),
        ))
        .execute(c))?;
    Ok(())
}

/// Reports one need for a student or a school in the caller's scope.
pub fn report(
    conn: &mut DbConn,
    actor: &str,
    scope: &Reach,
    input: ReportNeed,
) -> Result<NeedRow, Failure> {
    conn.transaction(|conn| {
        let (school, student) = match (input.student_id, input.school_id) {
            (Some(student_id), None) => {
                let (student, school) = crate::registry::students::queries::find_visible(conn, scope, student_id)
                    .or_unknown("student_id")?;
                if student.deleted || !student.active {
                    return Err(Failure::invalid_field(
                        "student_id",
                        "inactive",
                        "the student is no longer on the roster",
                    ));
                }
                (school, Some(student))
            }
            (None, Some(school_id)) => {
                if input.kind == NeedKind::DataPackage {
                    return Err(Failure::invalid_field("kind", "student_only", "data packages are for students"));
                }
                let school = crate::registry::schools::queries::find(conn, school_id).or_unknown("school_id")?;
                if !scope.allows_place(school.id, &school.admin_unit_code) {
                    return Err(Failure::unknown_reference("school_id"));
                }
                (school, None)
            }
            _ => {
                return Err(Failure::invalid_field(
                    "student_id",
                    "exclusive",
                    "send either student_id or school_id",
                ))
            }
        };
        if let Some(student) = &student {
            if let Some(existing) = open_need_of(conn, student.id, input.kind)? {
                return Err(Failure::conflict(format!(
                    "student {} already has the open {} need {existing}",
                    student.id, input.kind
                )));
            }
            if input.quantity.is_some_and(|q| q != 1) {
                return Err(Failure::invalid_field("quantity", "student_quantity", "a student's need is for 1"));
            }
        }
        let mut scorer = Scorer::load(conn, chrono::Utc::now().date_naive())?;
        let lockdown = scorer.in_lockdown(conn, &school.admin_unit_code)?;
        let (priority, reasons) = scorer.score(&Facts {
            kind: input.kind,
            lockdown,
            student: student.as_ref(),
        });
        let now = crate::platform::db::now();
        let row: NeedRow = with_conn!(conn, |c| diesel::insert_into(needs::table)
            .values((
                needs::kind.eq(input.kind),
                needs::student_id.eq(student.as_ref().map(|s| s.id)),
                needs::school_id.eq(school.id),
                needs::admin_unit_code.eq(&school.admin_unit_code),
                needs::school_level.eq(school.level),
                needs::quantity.eq(input.quantity.unwrap_or(1)),
                needs::note.eq(&input.note),
                needs::status.eq(NeedStatus::Reported),
                needs::priority.eq(priority),
                needs::priority_reasons.eq(json!(reasons).to_string()),
                needs::reported_by.eq(actor),
                needs::created_at.eq(now),
                needs::updated_at.eq(now),
            ))
            .returning(NeedRow::as_returning())
            .get_result(c))?;
        insert_event(conn, row.id, None, NeedStatus::Reported, actor, None)?;
        crate::platform::outbox::emit(conn, announcement(&row))?;
        crate::platform::audit::record(
            conn,
            actor,
            "create",
            "need",
            &row.id.to_string(),
            json!({"kind": row.kind, "school_id": row.school_id, "student_id": row.student_id, "priority": row.priority}),
        )?;
        Ok(row)
    })
}

fn open_need_of(
    conn: &mut DbConn,
    student_id: i64,
    kind: NeedKind,
) -> Result<Option<i64>, Failure> {
    let id = with_conn!(conn, |c| needs::table
        .filter(needs::student_id.eq(student_id))
        .filter(needs::kind.eq(kind))
        .filter(needs::status.eq_any(open_statuses()))
        .select(needs::id)
        .first::<i64>(c)
        .optional())?;
    Ok(id)
}

/// Needs in `scope`, highest priority first (ties: oldest first); the
/// cursor is the last (priority, id).
///
/// On PostgreSQL a page of a known set of units (a district officer's
/// scope, `admin_unit=`) is read per unit: each unit's first page from the
/// index on (admin_unit_code, priority DESC, id), merged. That reads about
/// `units × page` rows instead of every need of the district and a sort
/// (1.5 ms instead of 9 ms for Đà Bắc's 7,500 needs, README "Benchmarks").
pub fn list(
    conn: &mut DbConn,
    scope: &Reach,
    filter: &NeedFilter,
    units: Option<&[String]>,
    page: &PageRequest<(i32, i64)>,
) -> Result<NeedPage, Failure> {
    let scope_units = scope.unit_codes();
    let units_asked: Option<Vec<String>> = match (&scope_units, units) {
        (None, None) => None,
        (Some(scope), None) => Some(scope.iter().map(|u| (*u).clone()).collect()),
        (None, Some(asked)) => Some(asked.to_vec()),
        (Some(scope), Some(asked)) => {
            let scope: HashSet<&String> = scope.iter().copied().collect();
            Some(
                asked
                    .iter()
                    .filter(|u| scope.contains(u))
                    .cloned()
                    .collect(),
            )
        }
    };
    // One diesel page, compiled for each backend.
    macro_rules! one_query {
        ($c:ident) => {{
            let mut query = needs::table
                .select(NeedRow::as_select())
                .order((needs::priority.desc(), needs::id.asc()))
                .limit(page.fetch())
                .into_boxed();
            if let Some((priority, id)) = page.after {
                query = query.filter(
                    needs::priority
                        .lt(priority)
                        .or(needs::priority.eq(priority).and(needs::id.gt(id))),
                );
            }
            if let Some(units) = &units_asked {
                query = query.filter(needs::admin_unit_code.eq_any(units));
            }
            if let Some(id) = scope.school() {
                query = query.filter(needs::school_id.eq(id));
            }
            if let Some(status) = filter.status {
                query = query.filter(needs::status.eq(status));
            }
            if let Some(kind) = filter.kind {
                query = query.filter(needs::kind.eq(kind));
            }
            if let Some(school_id) = filter.school_id {
                query = query.filter(needs::school_id.eq(school_id));
            }
            if let Some(min) = filter.priority_min {
                query = query.filter(needs::priority.ge(min));
            }
            if let Some(max) = filter.priority_max {
                query = query.filter(needs::priority.le(max));
            }
            query.load($c)
        }};
    }
    let rows: Vec<NeedRow> = crate::platform::db::per_backend!(conn,
        sqlite: |c| one_query!(c),
        postgres: |c| match &units_asked {
            Some(units) => match UnitPagesMerged::for_page(scope, filter, units, page) {
                Some(merged) => merged.load(c),
                None => per_unit_page(scope, filter, units, page).load(c),
            },
            None => one_query!(c),
        },
    )?;
    let (rows, next_cursor) = page.finish(rows, |row| (row.priority, row.id));
    Ok(NeedPage {
        items: with_links(conn, rows.into_iter().map(Need::from).collect())?,
        next_cursor,
    })
}

/// PostgreSQL, for the common page of a few units (a district, a commune;
/// optionally one status and one kind): one ordered index range per unit,
/// `UNION ALL`ed under one `ORDER BY … LIMIT`. PostgreSQL runs it as a
/// Merge Append and stops once the page is full, reading about a page of
/// rows where the array form ([`per_unit_page`]) reads a page per unit.
///
/// It is only faster as a statement prepared once and reused: planning a
/// branch per unit costs more than running them. So its text depends only
/// on its shape, never on the values, which are bound; diesel keeps it per
/// connection, keyed by its text. The row count is written into the text,
/// not bound: with a bound `LIMIT` PostgreSQL kept planning each execution
/// anew (pgbench on the reads benchmark's database: 1,000 executions a
/// second with it bound, 5,500 written in, 2,000 for the array form).
///
/// Diesel's statement cache and PostgreSQL's plans are per connection and
/// never evicted, and one prepared plan of 32 branches holds about 1 MB of
/// the server's memory (64 branches: 2.4 MB, `pg_backend_memory_contexts`).
/// So the shapes are few: the units padded with NULL branches to 4, 8, 16
/// or 32; a fixed row count (pages of up to 63, the extra rows cut by the
/// caller's `page.finish`); status and kind present or not. At most 16
/// statements per connection. Only first pages: with a cursor bound
/// (`priority < $p OR …`) PostgreSQL chose to plan every execution anew
/// and the form fell to 670 executions a second. Any other page (a later
/// one, more units, a bigger page, a school, a priority range) is read in
/// the array form.
struct UnitPagesMerged {
    units: Vec<Option<String>>,
    status: Option<workflow::NeedStatus>,
    kind: Option<NeedKind>,
}

impl UnitPagesMerged {
    const UNITS_AT_MOST: usize = 32;
    const ROWS: i64 = 64;

    /// `None` unless the page has the shape this form serves.
    fn for_page(
        scope: &Reach,
        filter: &NeedFilter,
        units: &[String],
        page: &PageRequest<(i32, i64)>,
    ) -> Option<Self> {
        let common = units.len() <= Self::UNITS_AT_MOST
            && page.after.is_none()
            && page.fetch() <= Self::ROWS
            && scope.school().is_none()
            && filter.school_id.is_none()
            && filter.priority_min.is_none()
            && filter.priority_max.is_none();
        if !common {
            return None;
        }
        let mut padded: Vec<Option<String>> = units.iter().cloned().map(Some).collect();
        padded.resize(units.len().max(4).next_power_of_two(), None);
        Some(UnitPagesMerged {
            units: padded,
            status: filter.status,
            kind: filter.kind,
        })
    }
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for UnitPagesMerged {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Nullable, Text};
        let order_and_limit = format!(
            " ORDER BY needs.priority DESC, needs.id LIMIT {})",
            Self::ROWS
        );
        out.push_sql("SELECT * FROM (");
        for (i, unit) in self.units.iter().enumerate() {
            if i > 0 {
                out.push_sql(" UNION ALL ");
            }
            out.push_sql("(SELECT needs.* FROM needs WHERE needs.admin_unit_code = ");
            out.push_bind_param::<Nullable<Text>, _>(unit)?;
            if let Some(status) = &self.status {
                out.push_sql(" AND needs.status = ");
                out.push_bind_param::<Text, _>(status)?;
            }
            if let Some(kind) = &self.kind {
                out.push_sql(" AND needs.kind = ");
                out.push_bind_param::<Text, _>(kind)?;
            }
            out.push_sql(&order_and_limit);
        }
        out.push_sql(&format!(
            ") AS page ORDER BY page.priority DESC, page.id LIMIT {}",
            Self::ROWS
        ));
        Ok(())
    }
}

// Cached by its text (no static query id), loaded by column name.
impl diesel::query_builder::QueryId for UnitPagesMerged {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::Query for UnitPagesMerged {
    type SqlType = diesel::sql_types::Untyped;
}

impl<Conn> RunQueryDsl<Conn> for UnitPagesMerged {}

/// PostgreSQL: the page of each unit in `units` (every filter applied
/// inside, so each is one index range), merged into the page asked for.
fn per_unit_page(
    scope: &Reach,
    filter: &NeedFilter,
    units: &[String],
    page: &PageRequest<(i32, i64)>,
) -> diesel::query_builder::BoxedSqlQuery<'static, diesel::pg::Pg, diesel::query_builder::SqlQuery>
{
    use diesel::sql_types::{Array, BigInt, Integer, Text};
    let mut conditions = vec!["needs.admin_unit_code = unit.code".to_owned()];
    let mut next = 2; // $1 is the unit list
    let mut placeholder = || {
        next += 1;
        format!("${}", next - 1)
    };
    if page.after.is_some() {
        let (p1, p2, p3) = (placeholder(), placeholder(), placeholder());
        conditions.push(format!(
            "(needs.priority < {p1} OR (needs.priority = {p2} AND needs.id > {p3}))"
        ));
    }
    let school = scope.school();
    if school.is_some() {
        conditions.push(format!("needs.school_id = {}", placeholder()));
    }
    if filter.status.is_some() {
        conditions.push(format!("needs.status = {}", placeholder()));
    }
    if filter.kind.is_some() {
        conditions.push(format!("needs.kind = {}", placeholder()));
    }
    if filter.school_id.is_some() {
        conditions.push(format!("needs.school_id = {}", placeholder()));
    }
    if filter.priority_min.is_some() {
        conditions.push(format!("needs.priority >= {}", placeholder()));
    }
    if filter.priority_max.is_some() {
        conditions.push(format!("needs.priority <= {}", placeholder()));
    }
    let limit = placeholder();
    let sql = format!(
        "SELECT page.* FROM unnest($1::text[]) AS unit(code) \
         CROSS JOIN LATERAL (SELECT needs.* FROM needs WHERE {} \
           ORDER BY needs.priority DESC, needs.id LIMIT {limit}) AS page \
         ORDER BY page.priority DESC, page.id LIMIT {limit}",
        conditions.join(" AND ")
    );
    // Binds in the order of the placeholders above.
    let mut query = diesel::sql_query(sql)
        .into_boxed::<diesel::pg::Pg>()
        .bind::<Array<Text>, _>(units.to_vec());
    if let Some((priority, id)) = page.after {
        query = query
            .bind::<Integer, _>(priority)
            .bind::<Integer, _>(priority)
            .bind::<BigInt, _>(id);
    }
    if let Some(id) = school {
        query = query.bind::<BigInt, _>(id);
    }
    if let Some(status) = filter.status {
        query = query.bind::<Text, _>(status.as_str());
    }
    if let Some(kind) = filter.kind {
        query = query.bind::<Text, _>(kind.as_str());
    }
    if let Some(school_id) = filter.school_id {
        query = query.bind::<BigInt, _>(school_id);
    }
    if let Some(min) = filter.priority_min {
        query = query.bind::<Integer, _>(min);
    }
    if let Some(max) = filter.priority_max {
        query = query.bind::<Integer, _>(max);
    }
    query.bind::<BigInt, _>(page.fetch())
}

fn refusal(from: NeedStatus, to: NeedStatus, refusal: Refusal) -> Failure {
    match refusal {
        Refusal::Illegal { allowed } => {
            let allowed: Vec<&str> = allowed.iter().map(|s| s.as_str()).collect();
            let next = if allowed.is_empty() {
                "none (it is closed)".to_owned()
            } else {
                allowed.join(", ")
            };
            Failure::conflict(format!(
                "a {from} need cannot become {to}; allowed next: {next}"
            ))
        }
        Refusal::Forbidden => {
            Failure::forbidden(format!("your role may not move a need from {from} to {to}"))
        }
        Refusal::ReasonRequired => {
            Failure::invalid_field("reason", "required", format!("say why the need is {to}"))
        }
    }
}

/// Moves a need along the workflow. Of two concurrent moves from the same
/// state exactly one succeeds: the UPDATE only matches the state it read.
pub fn transition(
    conn: &mut DbConn,
    actor: &str,
    mover: Mover,
    scope: &Reach,
    id: i64,
    to: NeedStatus,
    reason: Option<&str>,
) -> Result<NeedRow, Failure> {
    conn.transaction(|conn| {
        let need = find_visible(conn, scope, id)?;
        workflow::check(need.status, to, mover, reason).map_err(|r| refusal(need.status, to, r))?;
        let row: Option<NeedRow> = with_conn!(conn, |c| diesel::update(
            needs::table
                .filter(needs::id.eq(id))
                .filter(needs::status.eq(need.status))
        )
        .set((
            needs::status.eq(to),
            needs::version.eq(needs::version + 1),
            needs::updated_at.eq(crate::platform::db::now()),
        ))
        .returning(NeedRow::as_returning())
        .get_result(c)
        .optional())?;
        let row = row.ok_or_else(|| {
            Failure::conflict(format!(
                "need {id} was changed by someone else meanwhile; read it again"
            ))
        })?;
        insert_event(conn, id, Some(need.status), to, actor, reason)?;
        crate::platform::outbox::emit(conn, announcement(&row))?;
        crate::platform::audit::record(
            conn,
            actor,
            "transition",
            "need",
            &id.to_string(),
            json!({"from": need.status, "to": to, "reason": reason}),
        )?;
        Ok(row)
    })
}

pub fn events(conn: &mut DbConn, scope: &Reach, id: i64) -> Result<Vec<NeedEvent>, Failure> {
    find_visible(conn, scope, id)?;
    let events = with_conn!(conn, |c| need_events::table
        .filter(need_events::need_id.eq(id))
        .order(need_events::id.asc())
        .select((
            need_events::id,
            need_events::from_status,
            need_events::to_status,
            need_events::actor,
            need_events::reason,
            need_events::at,
        ))
        .load::<NeedEvent>(c))?;
    Ok(events)
}

/// Creates the needs that the student records of `schools_in` imply: a
/// device need for no or an inadequate device, a connectivity need for no
/// connection. A student's open need of the same kind is never duplicated,
/// so running it twice creates nothing the second time.
pub fn generate(
    conn: &mut DbConn,
    actor: &str,
    schools_in: &[SchoolRow],
) -> Result<GenerateReport, Failure> {
    conn.transaction(|conn| {
        let (students_seen, mut wanted) = wanted_needs(conn, schools_in)?;
        let already_open = drop_already_open(conn, &mut wanted)?;
        let created = insert_generated(conn, actor, &wanted)?;
        announce_many(conn, &created)?;
        let report = GenerateReport {
            students: students_seen,
            created: created.len(),
            already_open,
        };
        crate::platform::audit::record(
            conn,
            actor,
            "generate",
            "needs",
            "*",
            json!({"schools": schools_in.len(), "students": report.students, "created": report.created, "already_open": report.already_open}),
        )?;
        Ok(report)
    })
}

/// A need the student records call for: the school, the student, the kind.
type Wanted<'s> = (&'s SchoolRow, StudentRow, NeedKind);

/// The active students of these schools (how many) and the needs their
/// records call for: a device when they have none or an inadequate one, a
/// connection when they have none.
fn wanted_needs<'s>(
    conn: &mut DbConn,
    schools_in: &'s [SchoolRow],
) -> Result<(usize, Vec<Wanted<'s>>), Failure> {
    let school_ids: Vec<i64> = schools_in.iter().map(|s| s.id).collect();
    let by_id: std::collections::HashMap<i64, &SchoolRow> =
        schools_in.iter().map(|s| (s.id, s)).collect();
    let mut students_seen = 0;
    let mut wanted: Vec<(&SchoolRow, StudentRow, NeedKind)> = Vec::new();
    for chunk in school_ids.chunks(CHUNK) {
        let rows: Vec<StudentRow> = with_conn!(conn, |c| students::table
            .filter(students::school_id.eq_any(chunk))
            .filter(students::active.eq(true))
            .filter(students::deleted.eq(false))
            .select(StudentRow::as_select())
            .load(c))?;
        students_seen += rows.len();
        for student in rows {
            let school = by_id[&student.school_id];
            if matches!(
                student.device_status,
                DeviceStatus::NoDevice | DeviceStatus::Inadequate
            ) {
                wanted.push((school, student.clone(), NeedKind::Device));
            }
            if student.connectivity_status == ConnectivityStatus::NoConnection {
                wanted.push((school, student, NeedKind::Connectivity));
            }
        }
    }
    Ok((students_seen, wanted))
}

/// Drops the wanted needs a student already has open; returns how many.
fn drop_already_open(conn: &mut DbConn, wanted: &mut Vec<Wanted<'_>>) -> Result<usize, Failure> {
    let student_ids: Vec<i64> = wanted
        .iter()
        .map(|(_, s, _)| s.id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut open: HashSet<(i64, NeedKind)> = HashSet::new();
    for chunk in student_ids.chunks(CHUNK) {
        let rows: Vec<(Option<i64>, NeedKind)> = with_conn!(conn, |c| needs::table
            .filter(needs::student_id.eq_any(chunk))
            .filter(needs::status.eq_any(open_statuses()))
            .select((needs::student_id, needs::kind))
            .load(c))?;
        open.extend(
            rows.into_iter()
                .filter_map(|(id, kind)| id.map(|id| (id, kind))),
        );
    }
    let already_open = wanted
        .iter()
        .filter(|(_, s, k)| open.contains(&(s.id, *k)))
        .count();
    wanted.retain(|(_, s, k)| !open.contains(&(s.id, *k)));
    Ok(already_open)
}

/// Inserts the needs, scored, with their first event; returns the ids.
fn insert_generated(
    conn: &mut DbConn,
    actor: &str,
    wanted: &[Wanted<'_>],
) -> Result<Vec<i64>, Failure> {
    let mut scorer = Scorer::load(conn, chrono::Utc::now().date_naive())?;
    let now = crate::platform::db::now();
    let mut created: Vec<i64> = Vec::new();
    for chunk in wanted.chunks(CHUNK) {
        let mut values = Vec::with_capacity(chunk.len());
        for (school, student, kind) in chunk {
            let lockdown = scorer.in_lockdown(conn, &school.admin_unit_code)?;
            let (priority, reasons) = scorer.score(&Facts {
                kind: *kind,
                lockdown,
                student: Some(student),
            });
            values.push((
                needs::kind.eq(*kind),
                needs::student_id.eq(Some(student.id)),
                needs::school_id.eq(school.id),
                needs::admin_unit_code.eq(school.admin_unit_code.clone()),
                needs::school_level.eq(school.level),
                needs::quantity.eq(1),
                needs::status.eq(NeedStatus::Reported),
                needs::priority.eq(priority),
                needs::priority_reasons.eq(json!(reasons).to_string()),
                needs::reported_by.eq(actor),
                needs::created_at.eq(now),
                needs::updated_at.eq(now),
            ));
        }
        // A need another request opened meanwhile is skipped by the
        // partial unique index, not duplicated.
        let ids: Vec<i64> = with_conn!(conn, |c| diesel::insert_into(needs::table)
            .values(&values)
            .on_conflict_do_nothing()
            .returning(needs::id)
            .get_results(c))?;
        created.extend(ids);
    }
    for chunk in created.chunks(CHUNK) {
        use diesel::sql_types::{Nullable, Text, Timestamp};
        with_conn!(conn, |c| diesel::insert_into(need_events::table)
            .values(needs::table.filter(needs::id.eq_any(chunk)).select((
                needs::id,
                None::<String>.into_sql::<Nullable<Text>>(),
                NeedStatus::Reported.into_sql::<Text>(),
                actor.into_sql::<Text>(),
                Some("generated from the student records").into_sql::<Nullable<Text>>(),
                now.into_sql::<Timestamp>(),
            )))
            .into_columns((
                need_events::need_id,
                need_events::from_status,
                need_events::to_status,
                need_events::actor,
                need_events::reason,
                need_events::at,
            ))
            .execute(c))?;
    }
    Ok(created)
}

/// Re-computes the priority of the open needs (of schools in `units`, or
/// all): after a rule or a lockdown flag changed. Returns how many changed.
pub fn rescore_open(conn: &mut DbConn, units: Option<&[String]>) -> Result<usize, Failure> {
    let mut scorer = Scorer::load(conn, chrono::Utc::now().date_naive())?;
    let rows: Vec<(NeedRow, Option<StudentRow>)> = with_conn!(conn, |c| {
        let mut query = needs::table
            .left_join(students::table)
            .filter(needs::status.eq_any(open_statuses()))
            .select((NeedRow::as_select(), Option::<StudentRow>::as_select()))
            .into_boxed();
        if let Some(units) = units {
            query = query.filter(needs::admin_unit_code.eq_any(units));
        }
        query.load(c)
    })?;
    // Needs that end up with the same score and reasons are updated together:
    // a rule change touches many needs but yields few distinct outcomes.
    let mut outcomes: std::collections::HashMap<(i32, String), Vec<i64>> =
        std::collections::HashMap::new();
    for (need, student) in rows {
        let lockdown = scorer.in_lockdown(conn, &need.admin_unit_code)?;
        let (priority, reasons) = scorer.score(&Facts {
            kind: need.kind,
            lockdown,
            student: student.as_ref(),
        });
        let reasons = json!(reasons).to_string();
        if priority != need.priority || reasons != need.priority_reasons {
            outcomes
                .entry((priority, reasons))
                .or_default()
                .push(need.id);
        }
    }
    let mut changed = 0;
    for ((priority, reasons), ids) in outcomes {
        changed += ids.len();
        for chunk in ids.chunks(CHUNK) {
            with_conn!(conn, |c| diesel::update(
                needs::table.filter(needs::id.eq_any(chunk))
            )
            .set((
                needs::priority.eq(priority),
                needs::priority_reasons.eq(&reasons)
            ))
            .execute(c))?;
        }
    }
    Ok(changed)
}

/// Counts by kind × status × school level, in one grouped query.
pub fn summary(
    conn: &mut DbConn,
    units: Option<&[String]>,
    school: Option<i64>,
) -> Result<Vec<SummaryCell>, Failure> {
    use diesel::dsl::count_star;
    let cells = with_conn!(conn, |c| {
        let mut query = needs::table
            .group_by((needs::kind, needs::status, needs::school_level))
            .select((
                needs::kind,
                needs::status,
                needs::school_level,
                count_star(),
            ))
            .order((needs::kind, needs::status, needs::school_level))
            .into_boxed();
        if let Some(units) = units {
            query = query.filter(needs::admin_unit_code.eq_any(units));
        }
        if let Some(school) = school {
            query = query.filter(needs::school_id.eq(school));
        }
        query.load::<SummaryCell>(c)
    })?;
    Ok(cells)
}

/// The schools of a generate target, checked against the caller's scope.
pub fn target_schools(
    conn: &mut DbConn,
    scope: &Reach,
    target: &GenerateRequest,
) -> Result<Vec<SchoolRow>, Failure> {
    match (target.school_id, &target.admin_unit_code) {
        (Some(id), None) => {
            let school =
                crate::registry::schools::queries::find(conn, id).or_unknown("school_id")?;
            if scope.allows_place(school.id, &school.admin_unit_code) {
                Ok(vec![school])
            } else {
                Err(Failure::unknown_reference("school_id"))
            }
        }
        (None, Some(code)) => {
            crate::registry::admin_units::queries::ancestry(conn, code)
                .or_unknown("admin_unit_code")?;
            let hidden = || Failure::unknown_reference("admin_unit_code");
            match scope {
                Reach::Everywhere => {}
                Reach::Units(units) if units.contains(code) => {}
                _ => return Err(hidden()),
            }
            let units = crate::registry::admin_units::queries::subtree_codes(conn, code)?;
            let rows: Vec<SchoolRow> = with_conn!(conn, |c| schools::table
                .filter(schools::admin_unit_code.eq_any(&units))
                .select(SchoolRow::as_select())
                .load(c))?;
            Ok(rows)
        }
        _ => Err(Failure::invalid_field(
            "school_id",
            "exclusive",
            "send either school_id or admin_unit_code",
        )),
    }
}

/// Moves many needs at once for the distribution code (allocation runs):
/// one UPDATE and one INSERT … SELECT of events per chunk. Every need must
/// still be in `from`; otherwise nothing moves (409).
pub fn move_many(
    conn: &mut DbConn,
    actor: &str,
    ids: &[i64],
    from: NeedStatus,
    to: NeedStatus,
) -> Result<(), Failure> {
    use diesel::sql_types::{Nullable, Text, Timestamp};
    workflow::check(from, to, Mover::Distribution, None).map_err(|r| refusal(from, to, r))?;
    let now = crate::platform::db::now();
    // School by school: each statement then updates the count rows of a few
    // schools (triggers, migration 000007) instead of touching most of them.
    let mut by_school: Vec<(i64, i64)> = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        let rows: Vec<(i64, i64)> = with_conn!(conn, |c| needs::table
            .filter(needs::id.eq_any(chunk))
            .select((needs::school_id, needs::id))
            .load(c))?;
        by_school.extend(rows);
    }
    if by_school.len() != ids.len() {
        return Err(Failure::conflict("some needs changed meanwhile; run again"));
    }
    by_school.sort_unstable();
    let ids: Vec<i64> = by_school.into_iter().map(|(_, id)| id).collect();
    for chunk in ids.chunks(CHUNK) {
        let moved = with_conn!(conn, |c| diesel::update(
            needs::table
                .filter(needs::id.eq_any(chunk))
                .filter(needs::status.eq(from))
        )
        .set((
            needs::status.eq(to),
            needs::version.eq(needs::version + 1),
            needs::updated_at.eq(now)
        ))
        .execute(c))?;
        if moved != chunk.len() {
            return Err(Failure::conflict("some needs changed meanwhile; run again"));
        }
        with_conn!(conn, |c| diesel::insert_into(need_events::table)
            .values(needs::table.filter(needs::id.eq_any(chunk)).select((
                needs::id,
                Some(from).into_sql::<Nullable<Text>>(),
                to.into_sql::<Text>(),
                actor.into_sql::<Text>(),
                None::<String>.into_sql::<Nullable<Text>>(),
                now.into_sql::<Timestamp>(),
            )))
            .into_columns((
                need_events::need_id,
                need_events::from_status,
                need_events::to_status,
                need_events::actor,
                need_events::reason,
                need_events::at,
            ))
            .execute(c))?;
    }
    announce_many(conn, &ids)?;
    Ok(())
}
