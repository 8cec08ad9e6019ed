//! Roster sync benchmark (issue: schools and students).
//!
//! Generates a synthetic roster over Hòa Bình's real communes, starts the
//! release server, and syncs it over HTTP in batches: a first load, then a
//! re-sync where 5% of the students changed. Beside it, in the same run, the
//! same rows are loaded straight into a fresh database (PostgreSQL: COPY;
//! SQLite: one transaction of prepared single-row INSERTs) as the baseline.
//!
//!     cargo bench --bench sync
//!
//! Settings: BENCH_STUDENTS (200000), BENCH_BATCH (1000), BENCH_PG_URL
//! (postgres://postgres@127.0.0.1:5432/postgres; set it empty to skip
//! PostgreSQL), BENCH_BACKENDS (sqlite,postgres), BENCH_CONCURRENCY (1:
//! batches in flight at once), BENCH_ORDER (random: students of all schools
//! mixed in every batch; school: the roster sorted by school, as the
//! education data system exports it, so batches in flight at once touch
//! different schools' count rows), BENCH_SUBSCRIBER (unset; `paused`: a
//! paused webhook subscription to `student.changed`, so every change also
//! writes its event and the worker fans it out to a waiting delivery, as
//! for a subscriber; prints when the last event was dispatched;
//! `receiver`: the subscription active and a receiver in this process
//! answering 204, printing also when the last delivery was recorded).

mod common;

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use diesel::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use songmay::platform::db::schema::{schools, students};
use songmay::platform::db::{with_conn, DatabaseLocation, Db, DbConn};

use common::{env_or, post, PgDatabase, Server, StudentInsert, ADMIN_PASSWORD};

struct School {
    code: String,
    commune: String,
    level: &'static str,
    grades: (i64, i64),
}

fn schools_over_communes() -> Vec<School> {
    let csv = std::fs::read_to_string("data/admin_units_hoa_binh.csv")
        .expect("run from the repository root");
    let communes: Vec<String> = csv
        .lines()
        .skip(1)
        .filter(|l| l.split(',').nth(2) == Some("commune"))
        .map(|l| l.split(',').next().unwrap().to_owned())
        .collect();
    // About 500 schools: every commune a primary and a lower-secondary
    // school, every other one a second primary school, every third an
    // upper-secondary school and every third a combined primary and
    // lower-secondary one.
    let mut schools = Vec::new();
    for (i, commune) in communes.iter().enumerate() {
        let mut levels = vec![
            ("TH", "primary", (1, 5)),
            ("THCS", "lower_secondary", (6, 9)),
        ];
        if i % 3 == 0 {
            levels.push(("THPT", "upper_secondary", (10, 12)));
        }
        if i % 2 == 0 {
            levels.push(("TH2", "primary", (1, 5)));
        }
        if i % 3 == 1 {
            levels.push(("TH-THCS", "multi", (1, 9)));
        }
        for (prefix, level, grades) in levels {
            schools.push(School {
                code: format!("{prefix}-{commune}"),
                commune: commune.clone(),
                level,
                grades,
            });
        }
    }
    schools
}

const FAMILY: [&str; 12] = [
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Bùi", "Đinh", "Quách", "Xa", "Hà", "Lò", "Sa",
];
const MIDDLE: [&str; 6] = ["Văn", "Thị", "Đức", "Minh", "Thu", "Hữu"];
const GIVEN: [&str; 12] = [
    "An", "Bình", "Cường", "Dũng", "Giang", "Hương", "Lan", "Mai", "Nam", "Phúc", "Quân", "Tâm",
];
const HOUSEHOLD: [&str; 3] = ["poor", "near_poor", "other"];
const DEVICE: [&str; 4] = ["none", "shared", "inadequate", "adequate"];
const CONNECTIVITY: [&str; 4] = ["none", "mobile_weak", "mobile_ok", "fixed"];

/// The roster, never held whole: student `i` is made from its own seed
/// whenever it is needed (a million students as JSON values would take
/// gigabytes), and `order` is the sequence they are sent in.
struct Roster<'a> {
    schools: &'a [School],
    order: Vec<u32>,
}

impl<'a> Roster<'a> {
    fn new(count: usize, schools: &'a [School], by_school: bool) -> Self {
        let mut order: Vec<u32> = (0..count as u32).collect();
        if by_school {
            order.sort_by_key(|&i| (Self::rng(i).random_range(0..schools.len()), i));
        }
        Roster { schools, order }
    }

    fn len(&self) -> usize {
        self.order.len()
    }

    fn rng(i: u32) -> StdRng {
        StdRng::seed_from_u64(2021 ^ (u64::from(i) << 20))
    }

    /// Student `i`; with `changed`, every 20th has another device status (5%).
    fn student(&self, i: u32, changed: bool) -> Value {
        let mut rng = Self::rng(i);
        let school = &self.schools[rng.random_range(0..self.schools.len())];
        let grade = rng.random_range(school.grades.0..=school.grades.1);
        let birth = NaiveDate::from_ymd_opt(
            2026 - 6 - grade as i32,
            rng.random_range(1..=12),
            rng.random_range(1..=28),
        )
        .unwrap();
        let mut device = rng.random_range(0..4);
        if changed && i.is_multiple_of(20) {
            device = (device + 1) % 4;
        }
        json!({
            "external_id": format!("HB-{i:07}"),
            "school_code": school.code,
            "grade": grade,
            "full_name": format!("{} {} {}", FAMILY[rng.random_range(0..12)], MIDDLE[rng.random_range(0..6)], GIVEN[rng.random_range(0..12)]),
            "birth_date": birth.to_string(),
            "gender": if rng.random_bool(0.5) { "female" } else { "male" },
            "household_status": HOUSEHOLD[rng.random_range(0..3)],
            "device_status": DEVICE[device],
            "connectivity_status": CONNECTIVITY[rng.random_range(0..4)],
        })
    }

    /// The request bodies of a whole run, in order.
    fn bodies(&self, batch: usize, changed: bool) -> Vec<Vec<u8>> {
        self.order
            .chunks(batch)
            .map(|chunk| {
                let rows: Vec<Value> = chunk.iter().map(|&i| self.student(i, changed)).collect();
                serde_json::to_vec(&rows).unwrap()
            })
            .collect()
    }
}

struct HttpFigures {
    first_rows_per_s: f64,
    second_secs: f64,
    second_rows_per_s: f64,
    peak_rss_mib: f64,
    /// With a subscriber: seconds from each run's start until the worker
    /// had dispatched its last event.
    dispatched_secs: Option<(f64, f64)>,
    /// With a receiver: seconds from each run's start until every delivery
    /// was recorded as delivered.
    delivered_secs: Option<(f64, f64)>,
}

/// Who listens for `student.changed` during the benchmark.
#[derive(Clone, Copy, PartialEq)]
enum Subscriber {
    Nobody,
    /// A paused subscription: events and deliveries written, nothing posted.
    Paused,
    /// An active subscription and a receiver in this process.
    Receiver,
}

/// A receiver answering 204 to every post, in the current actix system;
/// its URL.
fn start_receiver() -> String {
    use actix_web::{web, App, HttpResponse, HttpServer};
    let receiver = HttpServer::new(|| {
        App::new().route(
            "/hook",
            web::post().to(|| async { HttpResponse::NoContent().finish() }),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let url = format!("http://127.0.0.1:{}/hook", receiver.addrs()[0].port());
    actix_rt::spawn(receiver.run());
    url
}

/// Subscribes `url` to `student.changed`, then, unless `active`, pauses
/// the subscription: events are written and fanned out to deliveries that
/// wait, and nothing is posted.
async fn subscribe(client: &awc::Client, base: &str, token: &str, url: &str, active: bool) {
    let created = post(
        client,
        &format!("{base}/api/v1/webhooks"),
        Some(token),
        serde_json::to_vec(&json!({"url": url, "event_types": ["student.changed"]})).unwrap(),
    )
    .await;
    if active {
        return;
    }
    let id = created["id"].as_i64().expect("subscription id");
    let response = client
        .patch(format!("{base}/api/v1/webhooks/{id}"))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .send_json(&json!({"active": false}))
        .await
        .expect("pause the subscription");
    assert!(
        response.status().is_success(),
        "pause: {}",
        response.status()
    );
}

/// Waits until `waiting` counts nothing; seconds since `started`.
async fn until_none(db: &Db, started: Instant, waiting: fn(&mut DbConn) -> i64) -> f64 {
    while waiting(&mut db.get().unwrap()) > 0 {
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    started.elapsed().as_secs_f64()
}

/// Events the worker has not dispatched yet.
fn undispatched(conn: &mut DbConn) -> i64 {
    use songmay::platform::db::schema::outbox_events;
    with_conn!(conn, |c| outbox_events::table
        .filter(outbox_events::dispatched_at.is_null())
        .count()
        .get_result(c))
    .unwrap()
}

/// Deliveries not yet recorded as delivered.
fn undelivered(conn: &mut DbConn) -> i64 {
    use songmay::platform::db::schema::webhook_deliveries;
    with_conn!(conn, |c| webhook_deliveries::table
        .filter(webhook_deliveries::status.ne("delivered"))
        .count()
        .get_result(c))
    .unwrap()
}

fn sync_over_http(
    database_url: &str,
    schools: &[School],
    roster: &Roster,
    batch: usize,
    concurrency: usize,
    subscriber: Subscriber,
) -> HttpFigures {
    let server = if subscriber != Subscriber::Nobody {
        Server::start_with(database_url, &[("SONGMAY_WEBHOOK_ALLOW_PRIVATE", "true")])
    } else {
        Server::start(database_url)
    };
    let watcher = (subscriber != Subscriber::Nobody)
        .then(|| Db::connect(&DatabaseLocation::parse(database_url), 1).unwrap());
    let (first_bodies, second_bodies) = (roster.bodies(batch, false), roster.bodies(batch, true));
    let school_rows: Vec<Value> = schools
        .iter()
        .map(|s| json!({"moet_code": s.code, "name": format!("Trường {}", s.code), "admin_unit_code": s.commune, "level": s.level}))
        .collect();

    actix_rt::System::new().block_on(async {
        let client = awc::Client::builder()
            .timeout(Duration::from_secs(300))
            .finish();
        let token = common::admin_token(&client, &server.base).await;
        post(
            &client,
            &format!("{}/api/v1/sync/schools", server.base),
            Some(&token),
            serde_json::to_vec(&school_rows).unwrap(),
        )
        .await;
        match subscriber {
            Subscriber::Nobody => {}
            Subscriber::Paused => {
                let url = "http://127.0.0.1:9/songmay-bench";
                subscribe(&client, &server.base, &token, url, false).await;
            }
            Subscriber::Receiver => {
                let url = start_receiver();
                subscribe(&client, &server.base, &token, &url, true).await;
            }
        }

        let run = |run_id: &'static str, bodies: Vec<Vec<u8>>| {
            let (client, token, base) = (client.clone(), token.clone(), server.base.clone());
            let watcher = watcher.clone();
            async move {
                let url = format!("{base}/api/v1/sync/students?run_id={run_id}");
                let started = Instant::now();
                let mut counts = [0u64; 4];
                // `concurrency` batches in flight at once (1: one after the other).
                let mut pending = bodies.into_iter();
                loop {
                    let wave: Vec<_> = pending.by_ref().take(concurrency).collect();
                    if wave.is_empty() {
                        break;
                    }
                    let replies = futures_util::future::join_all(
                        wave.into_iter()
                            .map(|body| post(&client, &url, Some(&token), body)),
                    )
                    .await;
                    for report in replies {
                        for (slot, field) in ["inserted", "updated", "unchanged", "rejected"]
                            .iter()
                            .enumerate()
                        {
                            counts[slot] += report[field].as_u64().unwrap_or(0);
                        }
                    }
                }
                post(
                    &client,
                    &format!("{base}/api/v1/sync/students/complete"),
                    Some(&token),
                    serde_json::to_vec(&json!({"run_id": run_id})).unwrap(),
                )
                .await;
                let elapsed = started.elapsed().as_secs_f64();
                let dispatched = match &watcher {
                    Some(db) => Some(until_none(db, started, undispatched).await),
                    None => None,
                };
                let delivered = match (&watcher, subscriber) {
                    (Some(db), Subscriber::Receiver) => {
                        Some(until_none(db, started, undelivered).await)
                    }
                    _ => None,
                };
                (elapsed, counts, dispatched, delivered)
            }
        };
        let (first, counts, first_dispatched, first_delivered) = run("bench-1", first_bodies).await;
        assert_eq!(
            counts[0] as usize,
            roster.len(),
            "first load inserts every row: {counts:?}"
        );
        let (second, counts, second_dispatched, second_delivered) =
            run("bench-2", second_bodies).await;
        assert_eq!(
            counts[1] as usize,
            roster.len().div_ceil(20),
            "5% updated: {counts:?}"
        );
        HttpFigures {
            first_rows_per_s: roster.len() as f64 / first,
            second_secs: second,
            second_rows_per_s: roster.len() as f64 / second,
            peak_rss_mib: server.peak_rss_mib(),
            dispatched_secs: first_dispatched.zip(second_dispatched),
            delivered_secs: first_delivered.zip(second_delivered),
        }
    })
}

/// Loads the roster straight into a fresh, migrated database; rows/s.
fn direct_load(database_url: &str, schools_list: &[School], roster: &Roster) -> f64 {
    let config = songmay::platform::config::Config::from_lookup(|name| match name {
        "DATABASE_URL" => Some(database_url.to_owned()),
        "SONGMAY_ADMIN_PASSWORD" => Some(ADMIN_PASSWORD.to_owned()),
        _ => None,
    })
    .unwrap();
    let db = Db::connect(&DatabaseLocation::parse(database_url), 1).unwrap();
    songmay::app::prepare_database(&db, &config).unwrap();
    let mut conn = db.get().unwrap();
    let now = songmay::platform::db::now();
    let school_values: Vec<_> = schools_list
        .iter()
        .map(|s| {
            (
                schools::moet_code.eq(s.code.clone()),
                schools::name.eq(s.code.clone()),
                schools::name_search.eq(s.code.to_lowercase()),
                schools::admin_unit_code.eq(s.commune.clone()),
                schools::level.eq(s.level),
                schools::created_at.eq(now),
                schools::updated_at.eq(now),
            )
        })
        .collect();
    with_conn!(&mut conn, |c| diesel::insert_into(schools::table)
        .values(&school_values)
        .execute(c))
    .unwrap();
    let ids: std::collections::HashMap<String, i64> = with_conn!(&mut conn, |c| schools::table
        .select((schools::moet_code, schools::id))
        .load::<(String, i64)>(c))
    .unwrap()
    .into_iter()
    .collect();
    let insert = |i: u32| {
        let s = roster.student(i, false);
        StudentInsert {
            external_id: s["external_id"].as_str().unwrap().to_owned(),
            school_id: ids[s["school_code"].as_str().unwrap()],
            grade: s["grade"].as_i64().unwrap() as i32,
            full_name: s["full_name"].as_str().unwrap().to_owned(),
            birth_date: s["birth_date"].as_str().unwrap().parse().unwrap(),
            gender: s["gender"].as_str().unwrap().to_owned(),
            household_status: s["household_status"].as_str().unwrap().to_owned(),
            device_status: s["device_status"].as_str().unwrap().to_owned(),
            connectivity_status: s["connectivity_status"].as_str().unwrap().to_owned(),
            active: true,
            deleted: false,
            last_seen_run: None,
            version: 1,
            created_at: now,
            updated_at: now,
        }
    };
    // Up to a million rows per COPY (one statement for the default 200,000),
    // made before the clock starts.
    let mut elapsed = Duration::ZERO;
    for part in roster.order.chunks(1_000_000) {
        let rows: Vec<StudentInsert> = part.iter().map(|&i| insert(i)).collect();
        let started = Instant::now();
        match &mut conn {
            songmay::platform::db::DbConn::Postgres(c) => {
                diesel::copy_from(students::table)
                    .from_insertable(&rows)
                    .execute(&mut ***c)
                    .unwrap();
            }
            songmay::platform::db::DbConn::Sqlite(c) => {
                c.transaction(|c| {
                    for row in &rows {
                        diesel::insert_into(students::table)
                            .values(row)
                            .execute(c)?;
                    }
                    diesel::QueryResult::Ok(())
                })
                .unwrap();
            }
        }
        elapsed += started.elapsed();
    }
    roster.len() as f64 / elapsed.as_secs_f64()
}

fn report(backend: &str, http: &HttpFigures, direct: f64, rows: usize) {
    println!("\n{backend}: {rows} students, batches over HTTP");
    println!(
        "  first load over HTTP      {:>10.0} rows/s",
        http.first_rows_per_s
    );
    println!("  direct load (baseline)    {:>10.0} rows/s", direct);
    println!(
        "  HTTP / direct             {:>10.1} %",
        100.0 * http.first_rows_per_s / direct
    );
    println!(
        "  re-sync, 5% changed       {:>10.2} s  ({:.0} rows/s)",
        http.second_secs, http.second_rows_per_s
    );
    if let Some((first, second)) = http.dispatched_secs {
        println!("  every event dispatched    {first:>10.2} s after the first load began, {second:.2} s after the re-sync began");
    }
    if let Some((first, second)) = http.delivered_secs {
        println!("  every event delivered     {first:>10.2} s after the first load began, {second:.2} s after the re-sync began");
    }
    println!(
        "  server peak RSS           {:>10.1} MiB",
        http.peak_rss_mib
    );
}

fn main() {
    // `cargo bench` passes --bench; this benchmark takes no arguments.
    let count: usize = env_or("BENCH_STUDENTS", "200000")
        .parse()
        .expect("BENCH_STUDENTS");
    let batch: usize = env_or("BENCH_BATCH", "1000").parse().expect("BENCH_BATCH");
    let backends = env_or("BENCH_BACKENDS", "sqlite,postgres");
    let concurrency: usize = env_or("BENCH_CONCURRENCY", "1")
        .parse()
        .expect("BENCH_CONCURRENCY");
    let order = env_or("BENCH_ORDER", "random");
    let subscriber = match env_or("BENCH_SUBSCRIBER", "").as_str() {
        "" => Subscriber::Nobody,
        "paused" => Subscriber::Paused,
        "receiver" => Subscriber::Receiver,
        other => panic!("BENCH_SUBSCRIBER: unset, `paused` or `receiver`, not {other}"),
    };
    let schools = schools_over_communes();
    let roster = Roster::new(count, &schools, order == "school");
    println!(
        "roster: {count} students in {} schools over Hòa Bình's communes; batches of {batch}, {concurrency} in flight, {order} order",
        schools.len()
    );

    if backends.contains("sqlite") {
        let dir = tempfile::tempdir().unwrap();
        let http_db = dir.path().join("http.db");
        let direct_db = dir.path().join("direct.db");
        let http = sync_over_http(
            http_db.to_str().unwrap(),
            &schools,
            &roster,
            batch,
            concurrency,
            subscriber,
        );
        let direct = direct_load(direct_db.to_str().unwrap(), &schools, &roster);
        report("SQLite", &http, direct, count);
    }
    let pg = env_or(
        "BENCH_PG_URL",
        "postgres://postgres@127.0.0.1:5432/postgres",
    );
    if backends.contains("postgres") && !pg.is_empty() {
        match (
            PgDatabase::create(&pg, "songmay_bench_http"),
            PgDatabase::create(&pg, "songmay_bench_direct"),
        ) {
            (Some(http_db), Some(direct_db)) => {
                let http = sync_over_http(
                    &http_db.url(),
                    &schools,
                    &roster,
                    batch,
                    concurrency,
                    subscriber,
                );
                let direct = direct_load(&direct_db.url(), &schools, &roster);
                report("PostgreSQL", &http, direct, count);
            }
            _ => println!("\nPostgreSQL: skipped, cannot create databases at {pg}"),
        }
    }
}
