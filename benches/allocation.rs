//! Automatic allocation benchmark (issue: inventory and distribution).
//!
//! Loads Vietnam's admin units, a warehouse per district, a school per
//! commune, 100,000 approved device needs and 100,000 ready devices (10%
//! earmarked for their province) into a fresh PostgreSQL database, then
//! times the matching alone in-process, a dry run and a committing run over
//! HTTP (`POST /api/v1/allocations/run`, the whole country); then, as the
//! same run's baseline, the committing run on a second copy of the data with
//! the coverage-count triggers switched off.
//!
//!     cargo bench --bench allocation
//!
//! Settings: BENCH_PG_URL, BENCH_NEEDS (100000), BENCH_ITEMS (100000).

mod common;

use std::time::{Duration, Instant};

use diesel::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use songmay::platform::db::schema::{
    admin_units, campaigns, inventory_items, needs, receipts, warehouses,
};
use songmay::platform::db::{with_conn, Db, DbConn};

use common::{env_or, post, PgDatabase, Server};

#[derive(Insertable)]
#[diesel(table_name = needs, treat_none_as_default_value = false)]
struct NeedInsert {
    kind: &'static str,
    student_id: Option<i64>,
    school_id: i64,
    admin_unit_code: String,
    school_level: &'static str,
    quantity: i32,
    note: Option<String>,
    status: &'static str,
    priority: i32,
    priority_reasons: &'static str,
    reported_by: &'static str,
    version: i64,
    created_at: chrono::NaiveDateTime,
    updated_at: chrono::NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = inventory_items, treat_none_as_default_value = false)]
struct ItemInsert {
    device_type: &'static str,
    model: Option<String>,
    serial: Option<String>,
    imei: Option<String>,
    condition: &'static str,
    receipt_id: i64,
    warehouse_id: i64,
    transfer_to: Option<i64>,
    earmark_admin_unit: Option<String>,
    status: &'static str,
    checked_by: Option<String>,
    checked_at: Option<chrono::NaiveDateTime>,
    status_reason: Option<String>,
    version: i64,
    created_at: chrono::NaiveDateTime,
    updated_at: chrono::NaiveDateTime,
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn load(conn: &mut DbConn, need_count: usize, item_count: usize) {
    let vn = std::fs::read("data/admin_units_vn.csv").expect("run from the repository root");
    songmay::registry::admin_units::queries::import(
        conn,
        "bench",
        songmay::registry::admin_units::import::parse(&vn).unwrap(),
    )
    .unwrap();
    let units: Vec<(String, Option<String>, String)> = with_conn!(conn, |c| admin_units::table
        .select((
            admin_units::code,
            admin_units::parent_code,
            admin_units::level
        ))
        .order(admin_units::code)
        .load(c))
    .unwrap();
    let parent: std::collections::HashMap<String, Option<String>> = units
        .iter()
        .map(|(c, p, _)| (c.clone(), p.clone()))
        .collect();
    let now = songmay::platform::db::now();
    let districts: Vec<&String> = units
        .iter()
        .filter(|(_, _, l)| l == "district")
        .map(|(c, _, _)| c)
        .collect();
    let communes: Vec<&String> = units
        .iter()
        .filter(|(_, _, l)| l == "commune")
        .map(|(c, _, _)| c)
        .collect();
    for chunk in districts.chunks(500) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|d| {
                (
                    warehouses::name.eq(format!("Kho {d}")),
                    warehouses::admin_unit_code.eq((*d).clone()),
                    warehouses::created_at.eq(now),
                )
            })
            .collect();
        with_conn!(conn, |c| diesel::insert_into(warehouses::table)
            .values(&rows)
            .execute(c))
        .unwrap();
    }
    let school_rows: Vec<(i64, String)> =
        common::school_per_commune(conn, &communes, |_| "primary")
            .into_iter()
            .map(|(id, unit, _)| (id, unit))
            .collect();
    let warehouse_rows: Vec<(i64, String)> = with_conn!(conn, |c| warehouses::table
        .select((warehouses::id, warehouses::admin_unit_code))
        .order(warehouses::id)
        .load(c))
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
    let need_rows: Vec<NeedInsert> = (0..need_count)
        .map(|_| {
            let (school_id, unit) = &school_rows[rng.random_range(0..school_rows.len())];
            NeedInsert {
                kind: "device",
                student_id: None,
                school_id: *school_id,
                admin_unit_code: unit.clone(),
                school_level: "primary",
                quantity: 1,
                note: None,
                status: "approved",
                priority: rng.random_range(0..150),
                priority_reasons: "[]",
                reported_by: "bench",
                version: 1,
                created_at: now,
                updated_at: now,
            }
        })
        .collect();
    let item_rows: Vec<ItemInsert> = (0..item_count)
        .map(|i| {
            let (warehouse_id, district) =
                &warehouse_rows[rng.random_range(0..warehouse_rows.len())];
            let province = parent.get(district).cloned().flatten();
            ItemInsert {
                device_type: "tablet",
                model: None,
                serial: Some(format!("BENCH-{i:07}")),
                imei: None,
                condition: "new",
                receipt_id: receipt,
                warehouse_id: *warehouse_id,
                transfer_to: None,
                earmark_admin_unit: if i % 10 == 0 { province } else { None },
                status: "ready",
                checked_by: None,
                checked_at: None,
                status_reason: None,
                version: 1,
                created_at: now,
                updated_at: now,
            }
        })
        .collect();
    let DbConn::Postgres(pg) = conn else {
        panic!("PostgreSQL only")
    };
    diesel::copy_from(needs::table)
        .from_insertable(&need_rows)
        .execute(&mut ***pg)
        .unwrap();
    diesel::copy_from(inventory_items::table)
        .from_insertable(&item_rows)
        .execute(&mut ***pg)
        .unwrap();
    diesel::sql_query("ANALYZE").execute(&mut ***pg).unwrap();
}

/// A fresh database `name` on `pg`, migrated and loaded with the needs and
/// devices (and how long the load took); `None` without a PostgreSQL server.
fn loaded_database(
    pg: &str,
    name: &str,
    need_count: usize,
    item_count: usize,
) -> Option<(PgDatabase, Db, Duration)> {
    let database = PgDatabase::create(pg, name).filter(|_| !pg.is_empty())?;
    let db = common::prepared(&database);
    let started = Instant::now();
    load(&mut db.get().unwrap(), need_count, item_count);
    Some((database, db, started.elapsed()))
}

/// One automatic run of the whole country over HTTP: its time and report.
async fn run_over_http(
    client: &awc::Client,
    base: &str,
    token: &str,
    dry_run: bool,
) -> (f64, serde_json::Value) {
    let started = Instant::now();
    let report = post(
        client,
        &format!("{base}/api/v1/allocations/run"),
        Some(token),
        serde_json::to_vec(&serde_json::json!({"kinds": ["device"], "dry_run": dry_run})).unwrap(),
    )
    .await;
    (started.elapsed().as_secs_f64(), report)
}

fn main() {
    let pg = env_or(
        "BENCH_PG_URL",
        "postgres://postgres@127.0.0.1:5432/postgres",
    );
    let need_count: usize = env_or("BENCH_NEEDS", "100000")
        .parse()
        .expect("BENCH_NEEDS");
    let item_count: usize = env_or("BENCH_ITEMS", "100000")
        .parse()
        .expect("BENCH_ITEMS");
    let Some((database, db, loading)) =
        loaded_database(&pg, "songmay_bench_allocation", need_count, item_count)
    else {
        println!("allocation benchmark: skipped, no PostgreSQL at {pg}");
        return;
    };
    println!(
        "loaded {need_count} approved needs and {item_count} ready devices over Vietnam in {:.0} s",
        loading.as_secs_f64()
    );
    let mut conn = db.get().unwrap();

    // The matching alone, in this process.
    let rss_before = rss_mib();
    let loaded = Instant::now();
    let (needs, stock) =
        songmay::distribution::allocations::queries::candidates(&mut conn, None, &[]).unwrap();
    let loading = loaded.elapsed();
    let parents: std::collections::HashMap<String, Option<String>> =
        with_conn!(&mut conn, |c| admin_units::table
            .select((admin_units::code, admin_units::parent_code))
            .load::<(String, Option<String>)>(c))
        .unwrap()
        .into_iter()
        .collect();
    let matching = Instant::now();
    let (matches, unmatched) = songmay::distribution::allocations::matching::plan(
        needs,
        stock,
        &parents,
        &|_| None,
        Default::default(),
    );
    let matching = matching.elapsed();
    println!(
        "\nin-process: loading candidates {:.2} s, matching {:.3} s ({} matched, {} unmatched); peak RSS {:.0} MiB (was {:.0})",
        loading.as_secs_f64(),
        matching.as_secs_f64(),
        matches.len(),
        unmatched.len(),
        rss_mib(),
        rss_before
    );
    drop(conn);
    drop(db);

    let server = Server::start(&database.url());
    actix_rt::System::new().block_on(async {
        let client = awc::Client::builder()
            .timeout(Duration::from_secs(600))
            .finish();
        let token = common::admin_token(&client, &server.base).await;
        for dry_run in [true, false] {
            let (seconds, report) = run_over_http(&client, &server.base, &token, dry_run).await;
            println!(
                "{} run over HTTP: {seconds:.2} s ({} matched, {} unmatched, {} allocations written)",
                if dry_run { "dry" } else { "committing" },
                report["matches"].as_array().map_or(0, |m| m.len()),
                report["unmatched"].as_array().map_or(0, |m| m.len()),
                report["allocation_ids"].as_array().map_or(0, |m| m.len()),
            );
        }
        println!("server peak RSS {:.0} MiB", server.peak_rss_mib());
    });
    drop(server);
    drop(database);
    baseline_without_counts(&pg, need_count, item_count);
}

/// The same run's baseline: the committing run again on a fresh copy of the
/// data with the coverage-count triggers switched off, so the ratio shows
/// what keeping the statistics exact costs a run.
fn baseline_without_counts(pg: &str, need_count: usize, item_count: usize) {
    let (database, db, _) = loaded_database(
        pg,
        "songmay_bench_allocation_baseline",
        need_count,
        item_count,
    )
    .unwrap();
    let mut conn = db.get().unwrap();
    for table in ["needs", "students"] {
        with_conn!(&mut conn, |c| diesel::sql_query(format!(
            "ALTER TABLE {table} DISABLE TRIGGER USER"
        ))
        .execute(c))
        .unwrap();
    }
    drop(conn);
    drop(db);
    let server = Server::start(&database.url());
    actix_rt::System::new().block_on(async {
        let client = awc::Client::builder()
            .timeout(Duration::from_secs(600))
            .finish();
        let token = common::admin_token(&client, &server.base).await;
        let (seconds, report) = run_over_http(&client, &server.base, &token, false).await;
        println!(
            "baseline, committing run without the coverage-count triggers: {seconds:.2} s ({} allocations written)",
            report["allocation_ids"].as_array().map_or(0, |m| m.len()),
        );
    });
}
