//! Needs latency benchmark (issue: needs).
//!
//! Loads all of Vietnam's admin units, one school per commune, 1,000,000
//! students and 300,000 open needs into a fresh PostgreSQL database (COPY),
//! starts the release server and measures, over HTTP with `BENCH_CONCURRENCY`
//! requests in flight, p50/p95 of 200 requests each to:
//! `GET /api/v1/needs?admin_unit=<district>&status=verified` (first page) and
//! `GET /api/v1/needs/summary?admin_unit=` for a province and a district.
//!
//!     cargo bench --bench needs
//!
//! Settings: BENCH_PG_URL, BENCH_STUDENTS (1000000), BENCH_NEEDS (300000),
//! BENCH_REQUESTS (200), BENCH_CONCURRENCY (4).

mod common;

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use diesel::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use songmay::platform::db::schema::{needs, students};
use songmay::platform::db::{with_conn, DbConn};

use common::{env_or, PgDatabase, Server, StudentInsert};

const DISTRICT: &str = "150"; // Huyện Đà Bắc, Hòa Bình
const PROVINCE: &str = "17"; // Tỉnh Hoà Bình

#[derive(Insertable)]
#[diesel(table_name = needs, treat_none_as_default_value = false)]
struct NeedInsert {
    kind: String,
    student_id: Option<i64>,
    school_id: i64,
    admin_unit_code: String,
    school_level: String,
    quantity: i32,
    note: Option<String>,
    status: String,
    priority: i32,
    priority_reasons: String,
    reported_by: String,
    version: i64,
    created_at: chrono::NaiveDateTime,
    updated_at: chrono::NaiveDateTime,
}

fn load(conn: &mut DbConn, student_count: usize, need_count: usize) -> Duration {
    let started = Instant::now();
    let vn = std::fs::read("data/admin_units_vn.csv").expect("run from the repository root");
    let lines = songmay::registry::admin_units::import::parse(&vn).unwrap();
    songmay::registry::admin_units::queries::import(conn, "bench", lines).unwrap();

    let communes: Vec<String> =
        with_conn!(conn, |c| songmay::platform::db::schema::admin_units::table
            .filter(songmay::platform::db::schema::admin_units::level.eq("commune"))
            .select(songmay::platform::db::schema::admin_units::code)
            .order(songmay::platform::db::schema::admin_units::code)
            .load(c))
        .unwrap();
    let levels = ["primary", "lower_secondary", "upper_secondary", "multi"];
    let now = songmay::platform::db::now();
    let school_rows = common::school_per_commune(conn, &communes, |i| levels[i % 4]);

    let mut rng = StdRng::seed_from_u64(2021);
    let birth = NaiveDate::from_ymd_opt(2014, 5, 1).unwrap();
    let mut school_of = Vec::with_capacity(student_count);
    let students_rows: Vec<StudentInsert> = (0..student_count)
        .map(|i| {
            let s = rng.random_range(0..school_rows.len());
            school_of.push(s);
            StudentInsert {
                external_id: format!("VN-{i:08}"),
                school_id: school_rows[s].0,
                grade: 6,
                full_name: "Học Sinh".to_owned(),
                birth_date: birth,
                gender: "female".to_owned(),
                household_status: "poor".to_owned(),
                device_status: "none".to_owned(),
                connectivity_status: "none".to_owned(),
                active: true,
                deleted: false,
                last_seen_run: None,
                version: 1,
                created_at: now,
                updated_at: now,
            }
        })
        .collect();
    let DbConn::Postgres(pg) = conn else {
        panic!("PostgreSQL only")
    };
    diesel::copy_from(students::table)
        .from_insertable(&students_rows)
        .execute(&mut ***pg)
        .unwrap();
    drop(students_rows);
    let first_student: i64 = students::table
        .select(diesel::dsl::min(students::id))
        .first::<Option<i64>>(&mut ***pg)
        .unwrap()
        .unwrap();

    let statuses = ["reported", "verified", "approved"];
    let need_rows: Vec<NeedInsert> = (0..need_count)
        .map(|i| {
            let (school_id, unit, level) = &school_rows[school_of[i]];
            NeedInsert {
                kind: if i % 3 == 0 { "connectivity" } else { "device" }.to_owned(),
                student_id: Some(first_student + i as i64),
                school_id: *school_id,
                admin_unit_code: unit.clone(),
                school_level: level.clone(),
                quantity: 1,
                note: None,
                status: statuses[rng.random_range(0..3)].to_owned(),
                priority: rng.random_range(0..150),
                priority_reasons: "[]".to_owned(),
                reported_by: "bench".to_owned(),
                version: 1,
                created_at: now,
                updated_at: now,
            }
        })
        .collect();
    diesel::copy_from(needs::table)
        .from_insertable(&need_rows)
        .execute(&mut ***pg)
        .unwrap();
    diesel::sql_query("ANALYZE").execute(&mut ***pg).unwrap();
    started.elapsed()
}

/// Latency of `requests` GETs of `path`, `concurrency` at a time.
async fn measure(
    client: &awc::Client,
    url: &str,
    token: &str,
    requests: usize,
    concurrency: usize,
) -> Vec<Duration> {
    let mut timings = Vec::with_capacity(requests);
    let mut sent = 0;
    while sent < requests {
        let wave = concurrency.min(requests - sent);
        let batch = (0..wave).map(|_| async {
            let started = Instant::now();
            let mut response = client
                .get(url)
                .insert_header(("Authorization", format!("Bearer {token}")))
                .send()
                .await
                .expect("request");
            let body = response.body().limit(16 << 20).await.expect("body");
            assert!(
                response.status().is_success(),
                "{url}: {}",
                String::from_utf8_lossy(&body)
            );
            started.elapsed()
        });
        timings.extend(futures_util::future::join_all(batch).await);
        sent += wave;
    }
    timings.sort();
    timings
}

fn main() {
    let pg = env_or(
        "BENCH_PG_URL",
        "postgres://postgres@127.0.0.1:5432/postgres",
    );
    let student_count: usize = env_or("BENCH_STUDENTS", "1000000")
        .parse()
        .expect("BENCH_STUDENTS");
    let need_count: usize = env_or("BENCH_NEEDS", "300000")
        .parse()
        .expect("BENCH_NEEDS");
    let requests: usize = env_or("BENCH_REQUESTS", "200")
        .parse()
        .expect("BENCH_REQUESTS");
    let concurrency: usize = env_or("BENCH_CONCURRENCY", "4")
        .parse()
        .expect("BENCH_CONCURRENCY");
    assert!(need_count <= student_count, "one need per student at most");
    let Some(database) = PgDatabase::create(&pg, "songmay_bench_needs").filter(|_| !pg.is_empty())
    else {
        println!("needs benchmark: skipped, no PostgreSQL at {pg}");
        return;
    };
    let db = common::prepared(&database);
    let loaded = load(&mut db.get().unwrap(), student_count, need_count);
    drop(db);
    println!(
        "loaded all {} provinces' admin units, one school per commune, {student_count} students and {need_count} open needs in {:.0} s",
        63,
        loaded.as_secs_f64()
    );

    let server = Server::start(&database.url());
    actix_rt::System::new().block_on(async {
        let client = awc::Client::builder()
            .timeout(Duration::from_secs(60))
            .finish();
        let token = common::admin_token(&client, &server.base).await;
        println!("\n{requests} requests each, {concurrency} in flight (milliseconds)");
        println!("{:<62} {:>7} {:>7} {:>7}", "request", "p50", "p95", "max");
        for (label, path) in [
            (
                "needs list, district, verified, first page",
                format!("/api/v1/needs?admin_unit={DISTRICT}&status=verified"),
            ),
            (
                "needs summary, province",
                format!("/api/v1/needs/summary?admin_unit={PROVINCE}"),
            ),
            (
                "needs summary, district",
                format!("/api/v1/needs/summary?admin_unit={DISTRICT}"),
            ),
            (
                "needs list, province, verified, first page",
                format!("/api/v1/needs?admin_unit={PROVINCE}&status=verified"),
            ),
            (
                "needs summary, whole country",
                "/api/v1/needs/summary".to_owned(),
            ),
        ] {
            let url = format!("{}{}", server.base, path);
            measure(&client, &url, &token, 10, concurrency).await; // warm-up
            let t = measure(&client, &url, &token, requests, concurrency).await;
            println!(
                "{:<62} {:>7.1} {:>7.1} {:>7.1}",
                format!("{label}"),
                common::percentile(&t, 0.50),
                common::percentile(&t, 0.95),
                common::percentile(&t, 1.0)
            );
        }

        // Every benchmark student is poor: this rule touches every open need.
        let started = Instant::now();
        let mut response = client
            .put(format!(
                "{}/api/v1/priority-rules/household_poor",
                server.base
            ))
            .insert_header(("Authorization", format!("Bearer {token}")))
            .send_json(&serde_json::json!({"points": 35}))
            .await
            .expect("request");
        let body: serde_json::Value =
            serde_json::from_slice(&response.body().await.unwrap()).unwrap();
        println!(
            "\nchanging a priority rule re-scored {} open needs in {:.1} s",
            body["rescored"],
            started.elapsed().as_secs_f64()
        );
    });
    drop(server);
}
