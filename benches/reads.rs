//! Authenticated reads against PostgreSQL itself, in one run (issue: speed
//! and scale). The baseline is `pgbench -S -M prepared` (one primary-key
//! SELECT per transaction) on the same server at the same concurrency; the
//! service is loaded with wrk: `GET /students/{id}` (a random student per
//! request, as the admin: verify the token, re-read the account, read the
//! row) and `GET /needs?admin_unit=<district>` (a page of 50), the list
//! twice: as served (a page asked again within `SONGMAY_LIST_CACHE_MS` is
//! the one kept) and by a second instance that reads every page
//! (`SONGMAY_LIST_CACHE_MS=0`). Prints each run's rates and p99, the ratios
//! to pgbench, and their min/median/max.
//!
//! Then where a single read's time goes, in the same runs: the service's
//! own SELECT of a student and its school (the statement diesel sends,
//! prepared, through pgbench: PostgreSQL's side alone) and `GET /me`
//! (token, account, routing, middleware, JSON: the HTTP side alone, no
//! database). A read costs roughly both sides plus joining them.
//!
//!     cargo bench --bench reads
//!
//! Settings: BENCH_PG_URL, BENCH_STUDENTS (200000), BENCH_SECONDS (10),
//! BENCH_RUNS (3), BENCH_CONCURRENCY (16). Needs wrk and pgbench (Debian
//! packages `wrk` and `postgresql-client`/`postgresql-contrib`).

mod common;

use std::process::Command;

use chrono::NaiveDate;
use diesel::prelude::*;
use songmay::platform::db::schema::{admin_units, students};
use songmay::platform::db::{with_conn, DbConn};

use common::{env_or, PgDatabase, Server, StudentInsert};

/// Hòa Bình's schools (one per commune) and `count` students in them;
/// a third of the students get an open device need. Answers the first
/// and last student id.
fn load(conn: &mut DbConn, count: usize) -> (i64, i64) {
    let communes: Vec<String> = with_conn!(conn, |c| admin_units::table
        .filter(admin_units::level.eq("commune"))
        .select(admin_units::code)
        .order(admin_units::code)
        .load(c))
    .unwrap();
    let schools = common::school_per_commune(conn, &communes, |_| "multi");
    let now = songmay::platform::db::now();
    let rows: Vec<StudentInsert> = (0..count)
        .map(|i| StudentInsert {
            external_id: format!("R-{i:08}"),
            school_id: schools[i % schools.len()].0,
            grade: (i % 12) as i32 + 1,
            full_name: "Học Sinh".to_owned(),
            birth_date: NaiveDate::from_ymd_opt(2012, 1, 1).unwrap(),
            gender: "female".to_owned(),
            household_status: "other".to_owned(),
            device_status: if i % 3 == 0 { "none" } else { "adequate" }.to_owned(),
            connectivity_status: "mobile_ok".to_owned(),
            active: true,
            deleted: false,
            last_seen_run: None,
            version: 1,
            created_at: now,
            updated_at: now,
        })
        .collect();
    let DbConn::Postgres(pg) = conn else {
        panic!("PostgreSQL only")
    };
    diesel::copy_from(students::table)
        .from_insertable(&rows)
        .execute(&mut ***pg)
        .unwrap();
    drop(rows);
    diesel::sql_query(
        "INSERT INTO needs (kind, student_id, school_id, admin_unit_code, school_level, quantity, \
         status, priority, priority_reasons, reported_by, created_at, updated_at) \
         SELECT 'device', s.id, s.school_id, k.admin_unit_code, 'multi', 1, 'reported', \
         s.id % 150, '[]', 'bench', now(), now() \
         FROM students s JOIN schools k ON k.id = s.school_id WHERE s.device_status = 'none'",
    )
    .execute(&mut ***pg)
    .unwrap();
    diesel::sql_query("ANALYZE").execute(&mut ***pg).unwrap();
    with_conn!(conn, |c| students::table
        .select((
            diesel::dsl::min(students::id),
            diesel::dsl::max(students::id)
        ))
        .first::<(Option<i64>, Option<i64>)>(c))
    .map(|(a, b)| (a.unwrap(), b.unwrap()))
    .unwrap()
}

/// The statement `GET /students/{id}` sends, as diesel renders it, as a
/// pgbench script over random ids in `ids`.
fn student_statement_script(ids: (i64, i64)) -> std::path::PathBuf {
    use songmay::platform::db::schema::schools;
    use songmay::registry::schools::model::SchoolRow;
    use songmay::registry::students::StudentRow;
    let query = students::table
        .inner_join(schools::table)
        .filter(students::id.eq(0))
        .select((StudentRow::as_select(), SchoolRow::as_select()))
        .limit(1);
    let rendered = diesel::debug_query::<diesel::pg::Pg, _>(&query).to_string();
    let sql = rendered
        .split(" -- binds:")
        .next()
        .unwrap()
        .replace("$1", ":id")
        .replace("$2", "1");
    let path =
        std::env::temp_dir().join(format!("songmay-bench-student-{}.sql", std::process::id()));
    std::fs::write(
        &path,
        format!("\\set id random({}, {})\n{sql};\n", ids.0, ids.1),
    )
    .unwrap();
    path
}

/// `pgbench -M prepared` transactions per second of `script` (pgbench's
/// own select-only transaction when `None`).
fn pgbench_script(
    url: &str,
    clients: &str,
    seconds: &str,
    script: Option<&std::path::Path>,
) -> f64 {
    let mut command = Command::new("pgbench");
    match script {
        Some(path) => command.arg("-f").arg(path),
        None => command.arg("-S"),
    };
    let out = command
        .args([
            "-M", "prepared", "-n", "-c", clients, "-j", "2", "-T", seconds, url,
        ])
        .output()
        .expect("pgbench (apt-get install postgresql-contrib)");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("pgbench: {text}{}", String::from_utf8_lossy(&out.stderr)))
}

/// wrk's rate and p99 (ms) for `url`.
fn wrk(
    url: &str,
    token: &str,
    clients: &str,
    seconds: &str,
    script: &str,
    ids: (i64, i64),
) -> (f64, f64) {
    let out = Command::new("wrk")
        .args([
            "-t2",
            "-c",
            clients,
            "-d",
            &format!("{seconds}s"),
            "--timeout",
            "10s",
            "-s",
            script,
        ])
        .args(["-H", &format!("Authorization: Bearer {token}"), url])
        .env("BENCH_FIRST_ID", ids.0.to_string())
        .env("BENCH_LAST_ID", ids.1.to_string())
        .output()
        .expect("wrk (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("RESULT"))
        .unwrap_or_else(|| panic!("wrk: {text}{}", String::from_utf8_lossy(&out.stderr)));
    let field = |name: &str| -> f64 {
        line.split_whitespace()
            .find_map(|f| f.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN)
    };
    assert_eq!(field("errors"), 0.0, "wrk saw errors: {line}");
    (field("rps"), field("p99"))
}

fn spread(mut values: Vec<f64>) -> String {
    values.sort_by(f64::total_cmp);
    format!(
        "{:.2} / {:.2} / {:.2}",
        values[0],
        values[values.len() / 2],
        values[values.len() - 1]
    )
}

fn main() {
    let server_url = env_or(
        "BENCH_PG_URL",
        "postgres://postgres@127.0.0.1:5432/postgres",
    );
    let count: usize = env_or("BENCH_STUDENTS", "200000").parse().unwrap();
    let seconds = env_or("BENCH_SECONDS", "10");
    let runs: usize = env_or("BENCH_RUNS", "3").parse().unwrap();
    let clients = env_or("BENCH_CONCURRENCY", "16");

    let database = PgDatabase::create(&server_url, "songmay_bench_reads").expect("PostgreSQL");
    let db = common::prepared(&database);
    let mut conn = db.get().unwrap();
    let ids = load(&mut conn, count);
    drop(conn);
    // pgbench's own tables (scale 10: a million accounts) in a database of their own.
    let baseline = PgDatabase::create(&server_url, "songmay_bench_pgbench").expect("PostgreSQL");
    let init = Command::new("pgbench")
        .args(["-i", "-q", "-s", "10", &baseline.url()])
        .output()
        .expect("pgbench");
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );

    let server = Server::start(&database.url());
    let reading = Server::start_with(&database.url(), &[("SONGMAY_LIST_CACHE_MS", "0")]);
    let token = actix_rt::System::new()
        .block_on(async { common::admin_token(&awc::Client::default(), &server.base).await });
    let student_url = format!("{}/api/v1/students/1", server.base);
    let needs_url = format!("{}/api/v1/needs?admin_unit=150&limit=50", server.base);
    let needs_read_url = format!("{}/api/v1/needs?admin_unit=150&limit=50", reading.base);
    let me_url = format!("{}/api/v1/me", server.base);
    let statement = student_statement_script(ids);
    // Warm both up (connections, caches) before measuring.
    wrk(
        &student_url,
        &token,
        &clients,
        "2",
        "bench/students.lua",
        ids,
    );
    for url in [&needs_url, &needs_read_url] {
        wrk(url, &token, &clients, "2", "bench/percentiles.lua", ids);
    }

    println!("reads: {count} students, {clients} connections, {seconds} s each, {runs} runs");
    println!("run | pgbench -S tps | GET /students/{{id}} rps (p99 ms) | ratio | GET /needs?admin_unit=150 rps (p99 ms) | ratio | the same, every page read, rps (p99 ms) | ratio");
    let (mut student_ratios, mut needs_ratios, mut read_ratios, mut p99s) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut sides = Vec::new();
    for run in 1..=runs {
        let tps = pgbench_script(&baseline.url(), &clients, &seconds, None);
        let (students, student_p99) = wrk(
            &student_url,
            &token,
            &clients,
            &seconds,
            "bench/students.lua",
            ids,
        );
        let (needs, needs_p99) = wrk(
            &needs_url,
            &token,
            &clients,
            &seconds,
            "bench/percentiles.lua",
            ids,
        );
        let (read, read_p99) = wrk(
            &needs_read_url,
            &token,
            &clients,
            &seconds,
            "bench/percentiles.lua",
            ids,
        );
        println!(
            "{run} | {tps:.0} | {students:.0} ({student_p99:.1}) | {:.3} | {needs:.0} ({needs_p99:.1}) | {:.3} | {read:.0} ({read_p99:.1}) | {:.3}",
            students / tps,
            needs / tps,
            read / tps
        );
        let statement_tps = pgbench_script(&database.url(), &clients, &seconds, Some(&statement));
        let (me, _) = wrk(
            &me_url,
            &token,
            &clients,
            &seconds,
            "bench/percentiles.lua",
            ids,
        );
        sides.push((run, students, statement_tps, me));
        student_ratios.push(students / tps);
        needs_ratios.push(needs / tps);
        read_ratios.push(read / tps);
        p99s.push(student_p99);
    }
    println!(
        "GET /students/{{id}} / pgbench, min / median / max: {}",
        spread(student_ratios)
    );
    println!(
        "GET /needs?admin_unit / pgbench, min / median / max: {}",
        spread(needs_ratios)
    );
    println!(
        "GET /needs?admin_unit, every page read / pgbench, min / median / max: {}",
        spread(read_ratios)
    );
    println!(
        "GET /students/{{id}} p99 ms, min / median / max: {}",
        spread(p99s)
    );
    println!("where a single read's time goes (same runs):");
    println!("run | GET /students/{{id}} rps | its SELECT alone, pgbench tps | ratio | GET /me (no database) rps | ratio");
    let (mut statement_ratios, mut me_ratios) = (Vec::new(), Vec::new());
    for (run, students, statement_tps, me) in sides {
        println!(
            "{run} | {students:.0} | {statement_tps:.0} | {:.3} | {me:.0} | {:.3}",
            students / statement_tps,
            students / me
        );
        statement_ratios.push(students / statement_tps);
        me_ratios.push(students / me);
    }
    println!(
        "GET /students/{{id}} / its SELECT alone, min / median / max: {}",
        spread(statement_ratios)
    );
    println!(
        "GET /students/{{id}} / GET /me, min / median / max: {}",
        spread(me_ratios)
    );
    let _ = std::fs::remove_file(&statement);
    println!(
        "server peak RSS {:.0} MiB (the instance reading every page: {:.0} MiB)",
        server.peak_rss_mib(),
        reading.peak_rss_mib()
    );
}
