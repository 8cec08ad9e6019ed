//! Statistics latency benchmark (issue: statistics and transparency).
//!
//! PostgreSQL: all of Vietnam's admin units, a school per commune,
//! 1,000,000 students, 300,000 needs, 200,000 devices and 150,000 handovers
//! (COPY). SQLite: Hòa Bình with 200,000 students (and needs, devices and
//! handovers in the same proportions). The release server is then loaded
//! with wrk (Debian package `wrk`) at 16 connections for `BENCH_SECONDS`
//! per endpoint; p50/p95 come from `bench/percentiles.lua`.
//!
//!     cargo bench --bench stats
//!
//! Settings: BENCH_PG_URL, BENCH_STUDENTS (1000000), BENCH_SQLITE_STUDENTS
//! (200000), BENCH_SECONDS (10), BENCH_BACKENDS (postgres,sqlite).

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use diesel::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use songmay::platform::db::schema::{
    admin_units, allocations, campaigns, handovers, inventory_items, needs, receipts, students,
    warehouses,
};
use songmay::platform::db::{with_conn, DatabaseLocation, Db, DbConn};

use common::{env_or, PgDatabase, Server, StudentInsert, ADMIN_PASSWORD};

#[derive(Insertable)]
#[diesel(table_name = needs, treat_none_as_default_value = false)]
struct NeedInsert {
    kind: &'static str,
    student_id: Option<i64>,
    school_id: i64,
    admin_unit_code: String,
    school_level: &'static str,
    quantity: i32,
    status: &'static str,
    priority: i32,
    priority_reasons: &'static str,
    reported_by: &'static str,
    created_at: chrono::NaiveDateTime,
    updated_at: chrono::NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = inventory_items, treat_none_as_default_value = false)]
struct ItemInsert {
    device_type: &'static str,
    serial: Option<String>,
    condition: &'static str,
    receipt_id: i64,
    warehouse_id: i64,
    status: &'static str,
    created_at: chrono::NaiveDateTime,
    updated_at: chrono::NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = allocations, treat_none_as_default_value = false)]
struct AllocationInsert {
    need_id: i64,
    item_id: Option<i64>,
    status: &'static str,
    created_by: &'static str,
    created_at: chrono::NaiveDateTime,
    updated_at: chrono::NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = handovers, treat_none_as_default_value = false)]
struct HandoverInsert {
    allocation_id: i64,
    received_by_name: &'static str,
    relation: &'static str,
    handed_on: NaiveDate,
    handed_by: &'static str,
    acknowledged: bool,
    created_at: chrono::NaiveDateTime,
}

/// Inserts `rows` in one COPY (PostgreSQL) or one transaction of multi-row inserts (SQLite).
macro_rules! bulk {
    ($conn:expr, $table:expr, $rows:expr) => {
        match $conn {
            DbConn::Postgres(c) => {
                diesel::copy_from($table)
                    .from_insertable($rows)
                    .execute(&mut ***c)
                    .unwrap();
            }
            DbConn::Sqlite(c) => {
                c.transaction(|c| {
                    for chunk in $rows.chunks(1000) {
                        diesel::insert_into($table).values(chunk).execute(c)?;
                    }
                    diesel::QueryResult::Ok(())
                })
                .unwrap();
            }
        }
    };
}

/// Loads the data set; returns (province, district) to query, and every
/// province (SQLite: every district).
fn load(
    conn: &mut DbConn,
    whole_country: bool,
    student_count: usize,
) -> (String, String, Vec<String>) {
    let file = if whole_country {
        "data/admin_units_vn.csv"
    } else {
        "data/admin_units_hoa_binh.csv"
    };
    let lines =
        songmay::registry::admin_units::import::parse(&std::fs::read(file).unwrap()).unwrap();
    songmay::registry::admin_units::queries::import(conn, "bench", lines).unwrap();
    let units: Vec<(String, String)> = with_conn!(conn, |c| admin_units::table
        .select((admin_units::code, admin_units::level))
        .order(admin_units::code)
        .load(c))
    .unwrap();
    let now = songmay::platform::db::now();
    let communes: Vec<&String> = units
        .iter()
        .filter(|(_, l)| l == "commune")
        .map(|(c, _)| c)
        .collect();
    let school_rows: Vec<(i64, String)> = common::school_per_commune(conn, &communes, |_| "multi")
        .into_iter()
        .map(|(id, unit, _)| (id, unit))
        .collect();
    let warehouse: i64 = with_conn!(conn, |c| diesel::insert_into(warehouses::table)
        .values((
            warehouses::name.eq("Kho"),
            warehouses::admin_unit_code.eq(&units[0].0),
            warehouses::created_at.eq(now)
        ))
        .returning(warehouses::id)
        .get_result(c))
    .unwrap();
    let campaign: i64 = with_conn!(conn, |c| diesel::insert_into(campaigns::table)
        .values((
            campaigns::name.eq("Bench"),
            campaigns::starts_on.eq(now.date()),
            campaigns::status.eq("open"),
            campaigns::created_at.eq(now),
            campaigns::updated_at.eq(now)
        ))
        .returning(campaigns::id)
        .get_result(c))
    .unwrap();
    let item_count = student_count / 5;
    let receipt: i64 = with_conn!(conn, |c| diesel::insert_into(receipts::table)
        .values((
            receipts::campaign_id.eq(campaign),
            receipts::receipt_type.eq("donation"),
            receipts::kind.eq("device"),
            receipts::quantity.eq(item_count as i32),
            receipts::device_type.eq("tablet"),
            receipts::received_on.eq(now.date()),
            receipts::received_by.eq("bench"),
            receipts::created_at.eq(now),
        ))
        .returning(receipts::id)
        .get_result(c))
    .unwrap();

    let mut rng = StdRng::seed_from_u64(2021);
    let devices = ["none", "shared", "inadequate", "adequate"];
    let connections = ["none", "mobile_weak", "mobile_ok", "fixed"];
    let mut school_of = Vec::with_capacity(student_count);
    let rows: Vec<StudentInsert> = (0..student_count)
        .map(|i| {
            let s = rng.random_range(0..school_rows.len());
            school_of.push(s);
            StudentInsert {
                external_id: format!("VN-{i:08}"),
                school_id: school_rows[s].0,
                grade: rng.random_range(1..=12),
                full_name: "Học Sinh".to_owned(),
                birth_date: NaiveDate::from_ymd_opt(2012, 1, 1).unwrap(),
                gender: "female".to_owned(),
                household_status: "other".to_owned(),
                device_status: devices[rng.random_range(0..4)].to_owned(),
                connectivity_status: connections[rng.random_range(0..4)].to_owned(),
                active: true,
                deleted: false,
                last_seen_run: None,
                version: 1,
                created_at: now,
                updated_at: now,
            }
        })
        .collect();
    bulk!(conn, students::table, &rows);
    drop(rows);
    let first_student: i64 = with_conn!(conn, |c| students::table
        .select(diesel::dsl::min(students::id))
        .first::<Option<i64>>(c))
    .unwrap()
    .unwrap();
    // 30% of students have a need; half of those are fulfilled.
    let need_count = student_count * 3 / 10;
    let handover_count = need_count / 2;
    let statuses = ["reported", "verified", "approved"];
    let need_rows: Vec<NeedInsert> = (0..need_count)
        .map(|i| {
            let (school_id, unit) = &school_rows[school_of[i]];
            NeedInsert {
                kind: "device",
                student_id: Some(first_student + i as i64),
                school_id: *school_id,
                admin_unit_code: unit.clone(),
                school_level: "multi",
                quantity: 1,
                status: if i < handover_count {
                    "fulfilled"
                } else {
                    statuses[i % 3]
                },
                priority: rng.random_range(0..150),
                priority_reasons: "[]",
                reported_by: "bench",
                created_at: now,
                updated_at: now,
            }
        })
        .collect();
    bulk!(conn, needs::table, &need_rows);
    let item_rows: Vec<ItemInsert> = (0..item_count)
        .map(|i| ItemInsert {
            device_type: "tablet",
            serial: Some(format!("B-{i:08}")),
            condition: "new",
            receipt_id: receipt,
            warehouse_id: warehouse,
            status: if i < handover_count {
                "handed_over"
            } else {
                "ready"
            },
            created_at: now,
            updated_at: now,
        })
        .collect();
    bulk!(conn, inventory_items::table, &item_rows);
    let first_need: i64 = with_conn!(conn, |c| needs::table
        .select(diesel::dsl::min(needs::id))
        .first::<Option<i64>>(c))
    .unwrap()
    .unwrap();
    let first_item: i64 = with_conn!(conn, |c| inventory_items::table
        .select(diesel::dsl::min(inventory_items::id))
        .first::<Option<i64>>(c))
    .unwrap()
    .unwrap();
    let allocation_rows: Vec<AllocationInsert> = (0..handover_count)
        .map(|i| AllocationInsert {
            need_id: first_need + i as i64,
            item_id: Some(first_item + i as i64),
            status: "handed_over",
            created_by: "bench",
            created_at: now,
            updated_at: now,
        })
        .collect();
    bulk!(conn, allocations::table, &allocation_rows);
    let first_allocation: i64 = with_conn!(conn, |c| allocations::table
        .select(diesel::dsl::min(allocations::id))
        .first::<Option<i64>>(c))
    .unwrap()
    .unwrap();
    let handover_rows: Vec<HandoverInsert> = (0..handover_count)
        .map(|i| HandoverInsert {
            allocation_id: first_allocation + i as i64,
            received_by_name: "Phụ huynh",
            relation: "parent",
            handed_on: NaiveDate::from_ymd_opt(2021, 10, 1).unwrap()
                + chrono::Days::new((i % 90) as u64),
            handed_by: "bench",
            acknowledged: true,
            created_at: now,
        })
        .collect();
    bulk!(conn, handovers::table, &handover_rows);
    // The bulk load noted its coverage deltas (PostgreSQL, migration 000024);
    // fold them now, as a running service would have while the data came
    // in, so that the measured reads do not each sum a million students'
    // backlog.
    while songmay::reporting::stats::coverage::fold_noted_counts(conn, 500).unwrap() > 0 {}
    match conn {
        DbConn::Postgres(c) => {
            diesel::sql_query("ANALYZE").execute(&mut ***c).unwrap();
        }
        DbConn::Sqlite(c) => {
            diesel::sql_query("ANALYZE").execute(c).unwrap();
        }
    }
    // The province and district with the most schools: realistic sizes.
    let province = if whole_country {
        "01".to_owned()
    } else {
        "17".to_owned()
    };
    let district = if whole_country {
        "001".to_owned()
    } else {
        "150".to_owned()
    };
    // Different questions of one size for the mixed load: every province
    // (SQLite: every district of Hòa Bình).
    let part = if whole_country {
        "province"
    } else {
        "district"
    };
    let provinces = units
        .iter()
        .filter(|(_, level)| level == part)
        .map(|(code, _)| code.clone())
        .collect();
    (province, district, provinces)
}

fn wrk(url: &str, token: &str, seconds: &str) -> String {
    wrk_with(url, token, seconds, "bench/percentiles.lua", &[])
}

/// wrk at 16 connections with `script` and its settings `env`.
fn wrk_with(url: &str, token: &str, seconds: &str, script: &str, env: &[(&str, &str)]) -> String {
    let output = Command::new("wrk")
        .args([
            "-t2",
            "-c16",
            "-d",
            &format!("{seconds}s"),
            "--timeout",
            "10s",
            "-s",
            script,
        ])
        .envs(env.iter().copied())
        .args(["-H", &format!("Authorization: Bearer {token}"), url])
        .output();
    match output {
        Ok(out) => String::from_utf8_lossy(&out.stdout)
            .lines()
            .find(|l| l.starts_with("RESULT"))
            .map(|l| l.trim_start_matches("RESULT ").to_owned())
            .unwrap_or_else(|| format!("wrk failed: {}", String::from_utf8_lossy(&out.stderr))),
        Err(_) => "wrk is not installed (apt-get install wrk)".to_owned(),
    }
}

fn first_request_ms(url: &str) -> f64 {
    first_request_ms_with(url, "")
}

/// One request's time, with `token` when not empty.
fn first_request_ms_with(url: &str, token: &str) -> f64 {
    actix_rt::System::new().block_on(async {
        let started = Instant::now();
        let mut request = awc::Client::default()
            .get(url)
            .timeout(std::time::Duration::from_secs(300));
        if !token.is_empty() {
            request = request.insert_header(("Authorization", format!("Bearer {token}")));
        }
        let mut response = request.send().await.expect("request");
        assert!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
        response.body().limit(64 << 20).await.expect("body");
        started.elapsed().as_secs_f64() * 1000.0
    })
}

fn measure(
    label: &str,
    database_url: &str,
    (province, district, provinces): &(String, String, Vec<String>),
    seconds: &str,
) {
    let server = Server::start(database_url);
    let token = actix_rt::System::new().block_on(async {
        let client = awc::Client::default();
        common::admin_token(&client, &server.base).await
    });
    println!("\n{label}: wrk, 16 connections, {seconds} s per endpoint (latency in ms)");
    // The whole country last: its slow requests would otherwise still run
    // during the next measurement.
    for (name, path) in [
        (
            "stats/coverage, district",
            format!("/api/v1/stats/coverage?admin_unit={district}"),
        ),
        (
            "stats/coverage, province",
            format!("/api/v1/stats/coverage?admin_unit={province}"),
        ),
        ("public/progress", "/api/v1/public/progress".to_owned()),
        // The public site's pages (HTML from the same cached figures),
        // against the same run's cheapest answer.
        ("site: home page", "/".to_owned()),
        ("site: district page", format!("/districts/{district}")),
        ("baseline: /health", "/health".to_owned()),
        (
            "stats/coverage, whole country",
            "/api/v1/stats/coverage".to_owned(),
        ),
    ] {
        let url = format!("{}{}", server.base, path);
        if path.contains("/public/") || path == "/" {
            // wrk measures the page as visitors meet it, computed at most
            // once a minute; its first computation is timed on its own.
            println!(
                "  {:<34} first computation {:.0} ms",
                name,
                first_request_ms(&url)
            );
        }
        println!("  {name:<34} {}", wrk(&url, &token, seconds));
    }
    // Identical requests share a computation (README "Statistics and
    // transparency"); different ones do not: each request a province
    // picked at random, and the whole country one request at a time
    // (what one computation costs).
    let mixed: Vec<String> = provinces
        .iter()
        .map(|p| format!("/api/v1/stats/coverage?admin_unit={p}"))
        .collect();
    println!(
        "  {:<34} {}",
        "stats/coverage, random provinces",
        wrk_with(
            &server.base,
            &token,
            seconds,
            "bench/paths.lua",
            &[("BENCH_PATHS", &mixed.join(" "))]
        )
    );
    let country = format!("{}/api/v1/stats/coverage", server.base);
    let mut alone: Vec<f64> = (0..20)
        .map(|_| first_request_ms_with(&country, &token))
        .collect();
    alone.sort_by(f64::total_cmp);
    println!(
        "  {:<34} median {:.1} ms of 20",
        "whole country, one at a time", alone[10]
    );
    println!("  server peak RSS {:.0} MiB", server.peak_rss_mib());
    baseline(database_url, &server.base, &token, province);
}

/// The same run's baseline: one request at a time, the province's coverage
/// over HTTP (from the count tables) against counting its rows directly in
/// SQL (what the endpoint did before the counts existed), median of 20.
fn baseline(database_url: &str, base: &str, token: &str, province: &str) {
    let db = Db::connect(&DatabaseLocation::parse(database_url), 1).unwrap();
    let mut conn = db.get().unwrap();
    let codes =
        songmay::registry::admin_units::queries::subtree_codes(&mut conn, province).unwrap();
    let list = codes
        .iter()
        .map(|c| format!("'{c}'"))
        .collect::<Vec<_>>()
        .join(",");
    let students = format!(
        "SELECT s.school_id, s.grade, COUNT(*), \
         SUM(CASE WHEN device_status = 'adequate' THEN 1 ELSE 0 END), \
         SUM(CASE WHEN connectivity_status IN ('mobile_ok', 'fixed') THEN 1 ELSE 0 END), \
         SUM(CASE WHEN device_status = 'adequate' AND connectivity_status IN ('mobile_ok', 'fixed') THEN 1 ELSE 0 END) \
         FROM students s JOIN schools k ON k.id = s.school_id \
         WHERE k.admin_unit_code IN ({list}) AND s.active AND NOT s.deleted \
         GROUP BY s.school_id, s.grade"
    );
    let needs = format!(
        "SELECT n.school_id, s.grade, n.kind, n.status, COUNT(*) \
         FROM needs n LEFT JOIN students s ON s.id = n.student_id \
         WHERE n.admin_unit_code IN ({list}) GROUP BY n.school_id, s.grade, n.kind, n.status"
    );
    let median = |mut times: Vec<Duration>| {
        times.sort();
        common::percentile(&times, 0.5)
    };
    let direct = median(
        (0..20)
            .map(|_| {
                let started = Instant::now();
                for query in [&students, &needs] {
                    with_conn!(&mut conn, |c| diesel::sql_query(query.as_str()).execute(c))
                        .unwrap();
                }
                started.elapsed()
            })
            .collect(),
    );
    let url = format!("{base}/api/v1/stats/coverage?admin_unit={province}");
    let served = actix_rt::System::new().block_on(async {
        let client = awc::Client::default();
        let mut times = Vec::new();
        for _ in 0..20 {
            let started = Instant::now();
            let mut response = client
                .get(&url)
                .insert_header(("Authorization", format!("Bearer {token}")))
                .send()
                .await
                .expect("request");
            assert!(response.status().is_success());
            response.body().await.expect("body");
            times.push(started.elapsed());
        }
        median(times)
    });
    println!(
        "  one at a time, province: endpoint {served:.1} ms vs counting its rows in SQL {direct:.1} ms ({:.0}x faster)",
        direct / served
    );
}

fn main() {
    let seconds = env_or("BENCH_SECONDS", "10");
    let backends = env_or("BENCH_BACKENDS", "postgres,sqlite");
    if backends.contains("postgres") {
        let pg = env_or(
            "BENCH_PG_URL",
            "postgres://postgres@127.0.0.1:5432/postgres",
        );
        let count: usize = env_or("BENCH_STUDENTS", "1000000").parse().unwrap();
        if let Some(database) =
            PgDatabase::create(&pg, "songmay_bench_stats").filter(|_| !pg.is_empty())
        {
            let db = Db::connect(&DatabaseLocation::parse(&database.url()), 1).unwrap();
            let config = songmay::platform::config::Config::from_lookup(|n| match n {
                "DATABASE_URL" => Some(database.url()),
                "SONGMAY_ADMIN_PASSWORD" => Some(ADMIN_PASSWORD.to_owned()),
                "SONGMAY_JWT_SECRET" => Some(common::SECRET.to_owned()),
                _ => None,
            })
            .unwrap();
            songmay::app::prepare_database(&db, &config).unwrap();
            let started = Instant::now();
            let places = load(&mut db.get().unwrap(), true, count);
            println!(
                "PostgreSQL: loaded {count} students over Vietnam in {:.0} s",
                started.elapsed().as_secs_f64()
            );
            drop(db);
            measure("PostgreSQL", &database.url(), &places, &seconds);
        } else {
            println!("PostgreSQL: skipped, no server at {pg}");
        }
    }
    if backends.contains("sqlite") {
        let count: usize = env_or("BENCH_SQLITE_STUDENTS", "200000").parse().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stats.db").to_string_lossy().into_owned();
        let db = Db::connect(&DatabaseLocation::parse(&path), 1).unwrap();
        let config = songmay::platform::config::Config::from_lookup(|n| match n {
            "DATABASE_URL" => Some(path.clone()),
            "SONGMAY_ADMIN_PASSWORD" => Some(ADMIN_PASSWORD.to_owned()),
            _ => None,
        })
        .unwrap();
        songmay::app::prepare_database(&db, &config).unwrap();
        let started = Instant::now();
        let places = load(&mut db.get().unwrap(), false, count);
        println!(
            "\nSQLite: loaded {count} students over Hòa Bình in {:.0} s",
            started.elapsed().as_secs_f64()
        );
        drop(db);
        measure("SQLite", &path, &places, &seconds);
    }
}
