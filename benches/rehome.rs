//! Re-homing benchmark (issue 17): one province of 500 schools, 200,000
//! students and 60,000 open needs moved onto the 2025 tree.
//!
//! Each run creates two fresh PostgreSQL databases with the same data (the
//! service's seed, Hòa Bình; the 2025 tree and the mapping; schools over its
//! 151 communes, students and approved needs generated in SQL), then:
//! - service: `POST /api/v1/admin-units/rehome` over HTTP, a dry run and
//!   then the commit (schools, open needs, one audit row per moved record,
//!   all in one transaction);
//! - baseline: the same moves written by hand in SQL on the other database
//!   (three statements in one transaction: schools through the mapping's
//!   defaults, their open needs, one audit row per moved record).
//!
//!     cargo bench --bench rehome
//!
//! Settings: BENCH_PG_URL, BENCH_SCHOOLS (500), BENCH_STUDENTS (200000),
//! BENCH_NEEDS (60000), BENCH_RUNS (3).

mod common;

use std::time::{Duration, Instant};

use diesel::prelude::*;
use songmay::platform::db::DbConn;
use songmay::registry::admin_units::{import, mapping, queries, Scheme};

use common::{env_or, PgDatabase, Server};

const UNITS_2025: &[u8] = include_bytes!("../data/admin_units_vn_2025.csv");
const MAPPING: &[u8] = include_bytes!("../data/admin_units_2025_mapping.csv");

/// A fresh database with the service's schema and seed, the 2025 tree, the
/// mapping, and the generated schools, students and needs of Hòa Bình.
fn prepare(pg: &str, name: &str, schools: usize, students: usize, needs: usize) -> PgDatabase {
    let database = PgDatabase::create(pg, name).expect("a PostgreSQL server");
    let db = common::prepared(&database);
    let mut conn = db.get().unwrap();
    let lines = import::parse_in(UNITS_2025, Scheme::Vn2025).unwrap();
    queries::import(&mut conn, "bench", lines).unwrap();
    mapping::import(&mut conn, "bench", mapping::parse(MAPPING).unwrap()).unwrap();
    let DbConn::Postgres(pg) = &mut conn else {
        panic!("PostgreSQL only")
    };
    for statement in [
        format!(
            "INSERT INTO schools (moet_code, name, name_search, admin_unit_code, level, created_at, updated_at) \
             SELECT 'RH-' || g, 'Trường ' || g, 'trường ' || g, c.code, 'primary', now(), now() \
             FROM generate_series(0, {}) g \
             JOIN (SELECT code, row_number() OVER (ORDER BY code) - 1 AS n FROM admin_units \
                   WHERE level = 'commune' AND code NOT LIKE 'vn2025:%') c ON c.n = g % 151",
            schools - 1
        ),
        format!(
            "INSERT INTO students (external_id, school_id, grade, full_name, birth_date, gender, \
               household_status, device_status, connectivity_status, created_at, updated_at) \
             SELECT 'RH-' || g, s.id, 1 + g % 12, 'Học Sinh', DATE '2014-05-01', 'female', \
               'poor', 'none', 'mobile_ok', now(), now() \
             FROM generate_series(0, {}) g \
             JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM schools) s \
               ON s.n = g % {schools}",
            students - 1
        ),
        format!(
            "INSERT INTO needs (kind, student_id, school_id, admin_unit_code, school_level, status, \
               priority, priority_reasons, reported_by, created_at, updated_at) \
             SELECT 'device', st.id, st.school_id, sc.admin_unit_code, sc.level, 'approved', \
               50, '[]', 'bench', now(), now() \
             FROM students st JOIN schools sc ON sc.id = st.school_id \
             ORDER BY st.id LIMIT {needs}"
        ),
        "ANALYZE".to_owned(),
    ] {
        diesel::sql_query(statement).execute(&mut ***pg).unwrap();
    }
    database
}

/// The same moves written by hand: the floor a re-homing cannot go below.
fn baseline(database: &PgDatabase) -> (Duration, i64) {
    let mut conn = diesel::PgConnection::establish(&database.url()).unwrap();
    let started = Instant::now();
    let moved = conn
        .transaction::<_, diesel::result::Error, _>(|conn| {
            let schools = diesel::sql_query(
                "UPDATE schools s SET pre_reform_unit_code = s.admin_unit_code, \
                   admin_unit_code = m.new_code, version = s.version + 1, updated_at = now() \
                 FROM admin_unit_successors m \
                 WHERE m.old_code = s.admin_unit_code AND m.is_default",
            )
            .execute(conn)?;
            let needs = diesel::sql_query(
                "UPDATE needs n SET admin_unit_code = s.admin_unit_code FROM schools s \
                 WHERE s.id = n.school_id AND s.pre_reform_unit_code IS NOT NULL \
                   AND n.status IN ('reported', 'verified', 'approved', 'allocated')",
            )
            .execute(conn)?;
            diesel::sql_query(
                "INSERT INTO audit_log (at, actor, action, entity, entity_id, changes) \
                 SELECT now(), 'bench', 'rehome', 'school', id::text, \
                   json_build_object('from', pre_reform_unit_code, 'to', admin_unit_code)::text \
                 FROM schools WHERE pre_reform_unit_code IS NOT NULL \
                 UNION ALL \
                 SELECT now(), 'bench', 'rehome', 'need', n.id::text, \
                   json_build_object('from', s.pre_reform_unit_code, 'to', n.admin_unit_code)::text \
                 FROM needs n JOIN schools s ON s.id = n.school_id \
                 WHERE s.pre_reform_unit_code IS NOT NULL \
                   AND n.status IN ('reported', 'verified', 'approved', 'allocated')",
            )
            .execute(conn)?;
            Ok((schools + needs) as i64)
        })
        .unwrap();
    (started.elapsed(), moved)
}

fn main() {
    let pg = env_or(
        "BENCH_PG_URL",
        "postgres://postgres@127.0.0.1:5432/postgres",
    );
    let number = |name: &str, default: &str| -> usize {
        env_or(name, default)
            .parse()
            .unwrap_or_else(|_| panic!("{name}"))
    };
    let (schools, students, needs, runs) = (
        number("BENCH_SCHOOLS", "500"),
        number("BENCH_STUDENTS", "200000"),
        number("BENCH_NEEDS", "60000"),
        number("BENCH_RUNS", "3"),
    );
    assert!(needs <= students, "one need per student at most");
    if pg.is_empty() || diesel::PgConnection::establish(&pg).is_err() {
        println!("rehome benchmark: skipped, no PostgreSQL at {pg}");
        return;
    }
    println!(
        "re-homing Hòa Bình: {schools} schools, {students} students, {needs} open needs; {runs} runs"
    );
    println!(
        "{:>4} {:>12} {:>12} {:>12} {:>8} {:>10}",
        "run", "dry run s", "commit s", "baseline s", "ratio", "moved"
    );
    let mut ratios = Vec::new();
    let mut commits = Vec::new();
    for run in 1..=runs {
        let service_db = prepare(&pg, "songmay_bench_rehome", schools, students, needs);
        let baseline_db = prepare(&pg, "songmay_bench_rehome_sql", schools, students, needs);
        let server = Server::start(&service_db.url());
        let (dry, commit, moved) = actix_rt::System::new().block_on(async {
            let client = awc::Client::builder()
                .timeout(Duration::from_secs(600))
                .finish();
            let token = common::admin_token(&client, &server.base).await;
            let url = format!("{}/api/v1/admin-units/rehome", server.base);
            let started = Instant::now();
            let plan = common::post(
                &client,
                &url,
                Some(&token),
                br#"{"province":"17"}"#.to_vec(),
            )
            .await;
            let dry = started.elapsed();
            let started = Instant::now();
            let done = common::post(
                &client,
                &url,
                Some(&token),
                br#"{"province":"17","dry_run":false}"#.to_vec(),
            )
            .await;
            let commit = started.elapsed();
            assert_eq!(
                plan["moved"], done["moved"],
                "the commit does what the plan said"
            );
            let moved = done["moved"]["schools"].as_i64().unwrap()
                + done["moved"]["open_needs"].as_i64().unwrap();
            (dry, commit, moved)
        });
        drop(server);
        let (by_hand, by_hand_moved) = baseline(&baseline_db);
        assert_eq!(moved, by_hand_moved, "both moved the same records");
        let ratio = commit.as_secs_f64() / by_hand.as_secs_f64();
        println!(
            "{run:>4} {:>12.2} {:>12.2} {:>12.2} {:>8.1} {moved:>10}",
            dry.as_secs_f64(),
            commit.as_secs_f64(),
            by_hand.as_secs_f64(),
            ratio
        );
        ratios.push(ratio);
        commits.push(commit.as_secs_f64());
    }
    let spread = |mut values: Vec<f64>| {
        values.sort_by(f64::total_cmp);
        (
            values[0],
            values[values.len() / 2],
            values[values.len() - 1],
        )
    };
    let (low, median, high) = spread(commits);
    println!("commit seconds min/median/max: {low:.2} / {median:.2} / {high:.2}");
    let (low, median, high) = spread(ratios);
    println!("commit / hand-written SQL min/median/max: {low:.1} / {median:.1} / {high:.1}");
}
