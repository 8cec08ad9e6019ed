//! The coverage statistics read pre-aggregated counts kept by triggers. These
//! tests change students and needs through every kind of write the API has,
//! in a random order, and compare the counts with a count of the rows after
//! each step.

use std::collections::BTreeMap;

use actix_web::http::Method;
use diesel::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use songmay::platform::db::schema::{
    coverage_count_parts, coverage_counts, coverage_school_count_parts, coverage_school_counts,
    needs, students,
};
use songmay::platform::db::with_conn;

use crate::helpers::{series, spawn_app, student, TestApp};

/// The thirteen counted columns, in `coverage_counts` order.
type Counts = [i64; 13];

const OPEN: [&str; 4] = ["reported", "verified", "approved", "allocated"];

/// Counts every school and grade from the rows themselves (grade 0: needs of
/// a school, without a student); groups that count nothing are left out.
fn recount(app: &TestApp) -> BTreeMap<(i64, i32), Counts> {
    let db = app.db.connect();
    let mut conn = db.get().unwrap();
    let conn = &mut conn;
    type StudentCounted = (i64, i64, i32, String, String, bool, bool, bool, bool);
    let student_rows: Vec<StudentCounted> = with_conn!(conn, |c| students::table
        .select((
            students::id,
            students::school_id,
            students::grade,
            students::device_status,
            students::connectivity_status,
            students::active,
            students::deleted,
            students::held_device,
            students::held_connectivity,
        ))
        .load(c))
    .unwrap();
    let need_rows: Vec<(i64, Option<i64>, String, String)> = with_conn!(conn, |c| needs::table
        .select((
            needs::school_id,
            needs::student_id,
            needs::kind,
            needs::status
        ))
        .load(c))
    .unwrap();
    let mut grade_of = BTreeMap::new();
    let mut counts: BTreeMap<(i64, i32), Counts> = BTreeMap::new();
    for (
        id,
        school,
        grade,
        device,
        connectivity,
        active,
        deleted,
        held_device,
        held_connectivity,
    ) in student_rows
    {
        grade_of.insert(id, grade);
        if !active || deleted {
            continue;
        }
        // What the roster says, or what the programme handed over.
        let has_device = device == "adequate" || held_device;
        let connected = connectivity == "mobile_ok" || connectivity == "fixed" || held_connectivity;
        let c = counts.entry((school, grade)).or_default();
        c[0] += 1;
        c[1] += has_device as i64;
        c[2] += connected as i64;
        c[3] += (has_device && connected) as i64;
    }
    for (school, student, kind, status) in need_rows {
        let grade = student.map_or(0, |s| grade_of[&s]);
        let c = counts.entry((school, grade)).or_default();
        if OPEN.contains(&status.as_str()) {
            match kind.as_str() {
                "device" => c[4] += 1,
                "connectivity" => c[5] += 1,
                "data_package" => c[6] += 1,
                "software" => c[12] += 1,
                other => panic!("a need of kind {other}"),
            }
        }
        match status.as_str() {
            "reported" => c[7] += 1,
            "verified" => c[8] += 1,
            "approved" => c[9] += 1,
            "allocated" => c[10] += 1,
            "fulfilled" => c[11] += 1,
            _ => {}
        }
    }
    counts.retain(|_, c| *c != Counts::default());
    counts
}

/// The rows of a count table or view keyed by `$key`, summed per key (a
/// view has a row for the folded counts and one per noted delta), without
/// those that have gone back to zero.
macro_rules! kept {
    ($app:expr, $counts:ident, $key:expr) => {{
        let db = $app.db.connect();
        let mut conn = db.get().unwrap();
        let conn = &mut conn;
        let rows: Vec<(
            _,
            (
                i32,
                i32,
                i32,
                i32,
                i32,
                i32,
                i32,
                i32,
                i32,
                i32,
                i32,
                i32,
                i32,
            ),
        )> = with_conn!(conn, |c| $counts::table
            .select((
                $key,
                (
                    $counts::students,
                    $counts::with_device,
                    $counts::with_connectivity,
                    $counts::ready,
                    $counts::open_device_needs,
                    $counts::open_connectivity_needs,
                    $counts::open_data_package_needs,
                    $counts::needs_reported,
                    $counts::needs_verified,
                    $counts::needs_approved,
                    $counts::needs_allocated,
                    $counts::needs_fulfilled,
                    $counts::open_software_needs,
                ),
            ))
            .load(c))
        .unwrap();
        let mut summed: BTreeMap<_, Counts> = BTreeMap::new();
        for (key, (a, b, c, d, e, f, g, h, i, j, k, l, m)) in rows {
            let total = summed.entry(key).or_default();
            let part = [a, b, c, d, e, f, g, h, i, j, k, l, m].map(i64::from);
            for (t, n) in total.iter_mut().zip(part) {
                *t += n;
            }
        }
        summed.retain(|_, c| *c != Counts::default());
        summed
    }};
}

/// Moves every delta noted by writes into the count rows, as the service's
/// folder does (PostgreSQL; test instances never fold by themselves, see
/// `SONGMAY_COUNT_FOLD_MS` in `helpers::test_env`); returns how many
/// noted rows it moved.
pub fn fold_noted_counts(app: &TestApp) -> usize {
    let db = app.db.connect();
    let mut conn = db.get().unwrap();
    songmay::reporting::stats::coverage::fold_noted_counts(&mut conn, i32::MAX).unwrap()
}

/// Noted rows of deltas not folded yet (PostgreSQL; SQLite has none).
fn noted_deltas(app: &TestApp) -> i64 {
    if !app.db.is_postgres() {
        return 0;
    }
    let db = app.db.connect();
    let mut conn = db.get().unwrap();
    with_conn!(&mut conn, |c| diesel::select(diesel::dsl::sql::<
        diesel::sql_types::BigInt,
    >(
        "(SELECT count(*) FROM coverage_count_deltas)"
    ))
    .get_result(c))
    .unwrap()
}

/// Fails unless what the service reads (the count rows plus the deltas not
/// folded yet) and the coverage endpoint equal a count of the rows; then
/// folds the deltas and fails unless the count rows alone equal it too.
/// Returns how many noted rows the fold moved.
pub async fn assert_counts_match_rows(app: &TestApp, token: &str, step: &str) -> usize {
    let rows = recount(app);
    let per_grade = kept!(
        app,
        coverage_count_parts,
        (coverage_count_parts::school_id, coverage_count_parts::grade)
    );
    assert_eq!(per_grade, rows, "per school and grade, after {step}");
    let mut schools: BTreeMap<i64, Counts> = BTreeMap::new();
    for ((school, _), c) in &rows {
        let total = schools.entry(*school).or_default();
        for (t, n) in total.iter_mut().zip(c) {
            *t += n;
        }
    }
    schools.retain(|_, c| *c != Counts::default());
    let per_school = kept!(
        app,
        coverage_school_count_parts,
        coverage_school_count_parts::school_id
    );
    assert_eq!(per_school, schools, "per school, after {step}");
    let coverage = app
        .get("/api/v1/stats/coverage?group_by=school", token)
        .await
        .ok(200);
    let mut by_school: BTreeMap<i64, i64> = BTreeMap::new();
    let mut open_needs: BTreeMap<i64, i64> = BTreeMap::new();
    for ((school, _), c) in &rows {
        *by_school.entry(*school).or_default() += c[0];
        *open_needs.entry(*school).or_default() += c[4] + c[5] + c[6] + c[12];
    }
    // Every school with students has its line (so the loop below cannot
    // pass by seeing nothing).
    let listed: std::collections::BTreeSet<i64> = coverage["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["key"].as_str().unwrap().parse().unwrap())
        .collect();
    for (school, students) in &by_school {
        assert!(
            *students == 0 || listed.contains(school),
            "school {school} with {students} students has no coverage line after {step}"
        );
    }
    for row in coverage["rows"].as_array().unwrap() {
        let school: i64 = row["key"].as_str().unwrap().parse().unwrap();
        assert_eq!(
            row["students"].as_i64().unwrap(),
            by_school.get(&school).copied().unwrap_or(0),
            "students of school {school} after {step}"
        );
        let (ready, with_device): (i64, i64) = rows
            .iter()
            .filter(|((s, _), _)| *s == school)
            .fold((0, 0), |(r, d), (_, c)| (r + c[3], d + c[1]));
        assert_eq!(
            row["ready"].as_i64().unwrap(),
            ready,
            "ready at school {school} after {step}"
        );
        assert_eq!(
            row["with_device"].as_i64().unwrap(),
            with_device,
            "with a device at school {school} after {step}"
        );
        let open = [
            "open_device_needs",
            "open_connectivity_needs",
            "open_data_package_needs",
            "open_software_needs",
        ]
        .iter()
        .map(|f| row[f].as_i64().unwrap())
        .sum::<i64>();
        assert_eq!(
            open,
            open_needs.get(&school).copied().unwrap_or(0),
            "open needs of school {school} after {step}"
        );
    }

    // Folding moves the noted deltas into the count rows and changes no figure.
    let folded = fold_noted_counts(app);
    assert_eq!(noted_deltas(app), 0, "deltas left after folding, {step}");
    let per_grade = kept!(
        app,
        coverage_counts,
        (coverage_counts::school_id, coverage_counts::grade)
    );
    assert_eq!(
        per_grade, rows,
        "folded, per school and grade, after {step}"
    );
    let per_school = kept!(
        app,
        coverage_school_counts,
        coverage_school_counts::school_id
    );
    assert_eq!(per_school, schools, "folded, per school, after {step}");
    folded
}

const SCHOOLS: [(&str, std::ops::RangeInclusive<i64>); 4] = [
    ("TH-DABAC", 1..=5),
    ("THCS-DABAC", 6..=9),
    ("TH-THAIBINH", 1..=5),
    ("THPT-TP", 10..=12),
];
const DEVICES: [&str; 4] = ["none", "shared", "inadequate", "adequate"];
const CONNECTIONS: [&str; 4] = ["none", "mobile_weak", "mobile_ok", "fixed"];

fn random_student(rng: &mut StdRng, external_id: &str) -> Value {
    let (school, grades) = &SCHOOLS[rng.random_range(0..SCHOOLS.len())];
    let mut s = student(external_id, school, rng.random_range(grades.clone()));
    s["device_status"] = json!(DEVICES[rng.random_range(0..4)]);
    s["connectivity_status"] = json!(CONNECTIONS[rng.random_range(0..4)]);
    s
}

async fn list(app: &TestApp, token: &str, path: &str) -> Vec<Value> {
    app.all_pages(path, token)
        .await
        .iter()
        .flat_map(|p| p["items"].as_array().unwrap().clone())
        .collect()
}

#[actix_rt::test]
async fn coverage_counts_equal_the_rows_after_every_kind_of_write() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let schools = app.seed_schools(&admin).await;
    let mut rng = StdRng::seed_from_u64(7);
    let mut roster: Vec<Value> = (0..40)
        .map(|i| random_student(&mut rng, &format!("R-{i:03}")))
        .collect();
    app.sync_students(&admin, "", &roster).await.ok(200);
    let mut folded = assert_counts_match_rows(&app, &admin, "the first sync").await;

    for step in 0..40 {
        let students = list(&app, &admin, "/api/v1/students?limit=500").await;
        let pick = &students[rng.random_range(0..students.len())];
        let id = pick["id"].as_i64().unwrap();
        let what = match rng.random_range(0..8) {
            0 => {
                // A re-sync that changes some records (grade, school,
                // statuses) and adds a new one, reactivating any missing.
                for s in roster.iter_mut() {
                    if rng.random_bool(0.3) {
                        let external_id = s["external_id"].as_str().unwrap().to_owned();
                        *s = random_student(&mut rng, &external_id);
                    }
                }
                roster.push(random_student(&mut rng, &format!("R-new-{step}")));
                app.sync_students(&admin, "", &roster).await.ok(200);
                "a re-sync"
            }
            1 => {
                let mut body = json!({
                    "device_status": DEVICES[rng.random_range(0..4)],
                    "connectivity_status": CONNECTIONS[rng.random_range(0..4)],
                });
                let school = pick["school_id"].as_i64().unwrap();
                let (_, grades) = SCHOOLS
                    .iter()
                    .find(|(code, _)| schools[*code] == school)
                    .unwrap();
                if rng.random_bool(0.5) {
                    body["grade"] = json!(rng.random_range(grades.clone()));
                }
                let version = format!("\"{}\"", pick["version"]);
                app.patch_if_match(&format!("/api/v1/students/{id}"), &admin, &version, &body)
                    .await
                    .ok(200);
                "a PATCH"
            }
            2 => {
                let reply = app
                    .request(
                        Method::DELETE,
                        &format!("/api/v1/students/{id}"),
                        Some(&admin),
                        None,
                        vec![],
                    )
                    .await;
                assert_eq!(reply.status.as_u16(), 204);
                "a soft delete"
            }
            3 => {
                app.generate_needs(&admin).await;
                "generating needs"
            }
            4 => {
                let (code, _) = &SCHOOLS[rng.random_range(0..SCHOOLS.len())];
                app.post(
                    "/api/v1/needs",
                    Some(&admin),
                    &json!({"kind": "connectivity", "school_id": schools[*code]}),
                )
                .await
                .ok(201);
                "a school's need"
            }
            5 => {
                let subset: Vec<Value> = roster
                    .iter()
                    .filter(|_| rng.random_bool(0.8))
                    .cloned()
                    .collect();
                let run = format!("run-{step}");
                app.sync_students(&admin, &format!("?run_id={run}"), &subset)
                    .await
                    .ok(200);
                app.post(
                    "/api/v1/sync/students/complete",
                    Some(&admin),
                    &json!({"run_id": run}),
                )
                .await
                .ok(200);
                "a full-roster run that deactivates the missing"
            }
            _ => {
                let open = list(&app, &admin, "/api/v1/needs?limit=500")
                    .await
                    .into_iter()
                    .filter(|n| OPEN[..3].contains(&n["status"].as_str().unwrap()))
                    .collect::<Vec<_>>();
                if open.is_empty() {
                    continue;
                }
                let need = &open[rng.random_range(0..open.len())];
                let to = match (need["status"].as_str().unwrap(), rng.random_range(0..4)) {
                    (_, 0) => "rejected",
                    (_, 1) => "cancelled",
                    ("reported", _) => "verified",
                    _ => "approved",
                };
                let to = if need["status"] == "approved" && to == "approved" {
                    "cancelled"
                } else {
                    to
                };
                app.post(
                    &format!("/api/v1/needs/{}/transitions", need["id"]),
                    Some(&admin),
                    &json!({"to": to, "reason": "checked on site"}),
                )
                .await
                .ok(200);
                "a need's transition"
            }
        };
        folded += assert_counts_match_rows(&app, &admin, &format!("step {step}: {what}")).await;
    }
    // On PostgreSQL the writes noted deltas, and every check above read them
    // before they were folded.
    assert_eq!(
        folded > 0,
        app.db.is_postgres(),
        "noted rows folded over the steps: {folded}"
    );
}

/// Each replica of the service folds the deltas that writes note into the
/// count rows by itself, also while writes go on, and no figure moves.
#[actix_rt::test]
async fn a_replica_folds_the_noted_counts_by_itself_while_writes_go_on() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.seed_schools(&admin).await;
    // A second instance that folds every 10 ms; this test's own never does.
    let token = "a-metrics-token-for-the-folder";
    let folder = app.start_replica(|env| {
        env.insert("SONGMAY_COUNT_FOLD_MS", "10".to_owned());
        env.insert("SONGMAY_METRICS_TOKEN", token.to_owned());
    });
    let scrape = || async {
        let mut reply = awc::Client::default()
            .get(format!("{folder}/metrics"))
            .insert_header(("Authorization", format!("Bearer {token}")))
            .send()
            .await
            .expect("the folder's metrics");
        assert_eq!(reply.status().as_u16(), 200);
        String::from_utf8(reply.body().await.expect("a scrape").to_vec()).expect("text")
    };
    let folded_before = series(&scrape().await, "songmay_noted_counts_folded_total");
    let mut rng = StdRng::seed_from_u64(11);
    for round in 0..5 {
        let rosters: Vec<Vec<Value>> = (0..3)
            .map(|part| {
                (0..40)
                    .map(|i| random_student(&mut rng, &format!("F-{round}-{part}-{i:02}")))
                    .collect()
            })
            .collect();
        let syncs = rosters
            .iter()
            .map(|roster| app.sync_students(&admin, "", roster));
        for reply in futures_util::future::join_all(syncs).await {
            reply.ok(200);
        }
    }
    // The folder runs beside the writes; wait (at most a minute) for it to
    // catch up with the last of them.
    let started = std::time::Instant::now();
    while noted_deltas(&app) > 0 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "the replica did not fold the noted counts"
        );
        actix_rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        assert_counts_match_rows(&app, &admin, "syncs while a replica folds").await,
        0,
        "the replica had folded everything"
    );
    // Its metrics say what it folded and that nothing waits (after its
    // next round). SQLite notes nothing: its writes move the count rows.
    let started = std::time::Instant::now();
    loop {
        let metrics = scrape().await;
        let folded = series(&metrics, "songmay_noted_counts_folded_total") - folded_before;
        let waiting = series(&metrics, "songmay_noted_counts_waiting");
        if !app.db.is_postgres() {
            assert_eq!((folded, waiting), (0.0, 0.0), "{metrics}");
            break;
        }
        if folded > 0.0 && waiting == 0.0 {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "folded {folded}, waiting {waiting}"
        );
        actix_rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
