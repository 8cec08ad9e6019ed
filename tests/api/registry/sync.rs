use actix_web::http::Method;
use serde_json::{json, Value};

use crate::helpers::{column, spawn_app, student, TestApp};

async fn count_students(app: &TestApp, admin: &str) -> usize {
    let pages = app.all_pages("/api/v1/students?limit=500", admin).await;
    pages
        .iter()
        .map(|p| p["items"].as_array().unwrap().len())
        .sum()
}

#[actix_rt::test]
async fn sync_inserts_then_keeps_identical_rows_untouched() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.seed_schools(&admin).await;
    let sync = app.client_token("sync_client").await;
    let batch: Vec<Value> = (0..30)
        .map(|i| student(&format!("E{i:03}"), "TH-DABAC", 1 + i % 5))
        .collect();

    let first = app.sync_students(&sync, "", &batch).await.ok(200);
    assert_eq!(
        first,
        json!({"inserted": 30, "updated": 0, "unchanged": 0, "rejected": 0, "rejected_rows": []})
    );
    let before = app.get("/api/v1/students?limit=1", &admin).await.ok(200)["items"][0].clone();

    let second = app.sync_students(&sync, "", &batch).await.ok(200);
    assert_eq!(
        (second["unchanged"].as_i64(), second["updated"].as_i64()),
        (Some(30), Some(0))
    );
    let after = app.get("/api/v1/students?limit=1", &admin).await.ok(200)["items"][0].clone();
    assert_eq!(before, after, "version and updated_at untouched");

    let mut changed = batch.clone();
    changed[0]["device_status"] = json!("adequate");
    changed[1]["school_code"] = json!("THCS-DABAC");
    changed[1]["grade"] = json!(7);
    let third = app.sync_students(&sync, "", &changed).await.ok(200);
    assert_eq!(
        (third["updated"].as_i64(), third["unchanged"].as_i64()),
        (Some(2), Some(28))
    );
    let moved = app.get("/api/v1/students?limit=2", &admin).await.ok(200);
    assert_eq!(column(&moved, "version"), vec!["2", "2"]);
    assert_eq!(moved["items"][1]["school_code"], "THCS-DABAC");
    assert_eq!(count_students(&app, &admin).await, 30);
}

#[actix_rt::test]
async fn bad_records_are_reported_by_index_and_the_rest_applied() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.seed_schools(&admin).await;
    let sync = app.client_token("sync_client").await;
    let mut long_name = student("E-LONG", "TH-DABAC", 2);
    long_name["full_name"] = json!("Trần ".repeat(10_000));
    let mut bad_date = student("E-DATE", "TH-DABAC", 2);
    bad_date["birth_date"] = json!("2015-02-30");
    let mut future = student("E-FUTURE", "TH-DABAC", 2);
    future["birth_date"] = json!("2999-01-01");
    let mut missing = student("E-MISSING", "TH-DABAC", 2);
    missing.as_object_mut().unwrap().remove("household_status");
    let mut wrong_type = student("E-TYPE", "TH-DABAC", 2);
    wrong_type["grade"] = json!("Nguyễn Văn Bí Mật");
    let batch = vec![
        student("E-OK-1", "TH-DABAC", 1),
        student("E-SCHOOL", "NO-SUCH-SCHOOL", 1),
        student("E-GRADE", "TH-DABAC", 13),
        student("E-LEVEL", "TH-DABAC", 8),
        bad_date,
        student("E-DUP", "TH-DABAC", 1),
        student("E-DUP", "TH-DABAC", 2),
        long_name,
        missing,
        wrong_type,
        future,
        json!("not an object"),
        student("E-OK-2", "THPT-TP", 11),
    ];
    let reply = app.sync_students(&sync, "", &batch).await;
    let report = reply.ok(200);
    assert_eq!(
        (report["inserted"].as_i64(), report["rejected"].as_i64()),
        (Some(2), Some(11))
    );
    let rejected: Vec<(i64, String, String)> = report["rejected_rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["index"].as_i64().unwrap(),
                r["errors"][0]["field"].as_str().unwrap().to_owned(),
                r["errors"][0]["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(i64, &str, &str)> = vec![
        (1, "school_code", "unknown"),
        (2, "grade", "range"),
        (3, "grade", "school_level"),
        (4, "birth_date", "invalid"),
        (5, "external_id", "duplicate"),
        (6, "external_id", "duplicate"),
        (7, "full_name", "length"),
        (8, "household_status", "missing"),
        (9, "grade", "invalid"),
        (10, "birth_date", "range"),
        (11, "record", "invalid"),
    ];
    let expected: Vec<(i64, String, String)> = expected
        .into_iter()
        .map(|(i, f, c)| (i, f.into(), c.into()))
        .collect();
    assert_eq!(rejected, expected);
    assert_eq!(report["rejected_rows"][0]["key"], "E-SCHOOL");
    assert!(report["rejected_rows"][6]["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("200"));

    let text = String::from_utf8_lossy(&reply.body);
    for private in ["Nguyễn", "Trần", "2015-03-14", "poor", "Bí Mật"] {
        assert!(!text.contains(private), "the report repeats `{private}`");
    }
    assert_eq!(count_students(&app, &admin).await, 2);
}

#[actix_rt::test]
async fn an_atomic_batch_with_one_bad_record_writes_nothing() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.seed_schools(&admin).await;
    let sync = app.client_token("sync_client").await;
    let mut batch: Vec<Value> = (0..20)
        .map(|i| student(&format!("A{i}"), "TH-DABAC", 3))
        .collect();
    batch.push(student("A-BAD", "TH-DABAC", 9));
    let problem = app
        .sync_students(&sync, "?atomic=true", &batch)
        .await
        .problem(422);
    assert_eq!(problem["rows"][0]["index"], 20);
    assert_eq!(problem["rows"][0]["key"], "A-BAD");
    assert_eq!(count_students(&app, &admin).await, 0);
    let changes = app
        .get("/api/v1/sync/students/changes", &sync)
        .await
        .ok(200);
    assert_eq!(changes["items"], json!([]));

    batch.pop();
    assert_eq!(
        app.sync_students(&sync, "?atomic=true", &batch)
            .await
            .ok(200)["inserted"],
        20
    );
}

#[actix_rt::test]
async fn batch_shape_and_size_are_checked() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.seed_schools(&admin).await;
    let sync = app.client_token("sync_client").await;

    let too_many: Vec<Value> = (0..5_001)
        .map(|i| student(&format!("B{i}"), "TH-DABAC", 1))
        .collect();
    let problem = app.sync_students(&sync, "", &too_many).await.problem(422);
    assert_eq!(problem["errors"][0]["code"], "batch_size");
    assert!(problem["detail"].as_str().unwrap().contains("5000"));

    let exactly: Vec<Value> = (0..5_000)
        .map(|i| student(&format!("B{i}"), "TH-DABAC", 1))
        .collect();
    assert_eq!(
        app.sync_students(&sync, "", &exactly).await.ok(200)["inserted"],
        5_000
    );

    for (body, status, code) in [
        ("[]", 422, "empty"),
        ("{\"external_id\": \"x\"}", 422, "array"),
        ("\"students\"", 422, "array"),
        ("[{\"external_id\": ", 400, ""),
    ] {
        let reply = app
            .request(
                Method::POST,
                "/api/v1/sync/students",
                Some(&sync),
                Some("application/json"),
                body.as_bytes().to_vec(),
            )
            .await;
        let problem = reply.problem(status);
        if !code.is_empty() {
            assert_eq!(problem["errors"][0]["code"], code, "{body}");
        }
    }
    let reply = app
        .request(
            Method::POST,
            "/api/v1/sync/students",
            Some(&sync),
            Some("text/plain"),
            b"[]".to_vec(),
        )
        .await;
    reply.problem(415);
    app.request(
        Method::POST,
        "/api/v1/sync/students?run_id=",
        Some(&sync),
        Some("application/json"),
        b"[]".to_vec(),
    )
    .await
    .problem(400);
}

#[actix_rt::test]
async fn a_retried_batch_with_the_same_key_is_applied_once() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.seed_schools(&admin).await;
    let sync = app.client_token("sync_client").await;
    let batch = Value::from(
        (0..10)
            .map(|i| student(&format!("K{i}"), "TH-DABAC", 2))
            .collect::<Vec<_>>(),
    );
    let send = |key: &'static str, body: Value| {
        let (app, sync) = (&app, sync.clone());
        async move {
            let reply = app
                .post_with_key("/api/v1/sync/students", &sync, key, &body)
                .await;
            (
                reply.status.as_u16(),
                reply.header("idempotent-replayed").is_some(),
                reply.json(),
            )
        }
    };
    let (status, replayed, first) = send("batch-0001", batch.clone()).await;
    assert_eq!(
        (status, replayed, first["inserted"].as_i64()),
        (200, false, Some(10))
    );

    // Meanwhile someone changes a student; the replay must not undo it.
    let sid = app.get("/api/v1/students?limit=1", &admin).await.ok(200)["items"][0]["id"]
        .as_i64()
        .unwrap();
    app.patch_if_match(
        &format!("/api/v1/students/{sid}"),
        &admin,
        "\"1\"",
        &json!({"device_status": "adequate"}),
    )
    .await
    .ok(200);

    let (status, replayed, again) = send("batch-0001", batch.clone()).await;
    assert_eq!((status, replayed), (200, true));
    assert_eq!(again, first, "the first answer, replayed");
    let student = app
        .get(&format!("/api/v1/students/{sid}"), &admin)
        .await
        .ok(200);
    assert_eq!(
        (
            student["version"].as_i64(),
            student["device_status"].as_str()
        ),
        (Some(2), Some("adequate"))
    );

    let mut other = batch.clone();
    other[0]["grade"] = json!(3);
    let (status, _, problem) = send("batch-0001", other).await;
    assert_eq!(status, 422);
    assert_eq!(problem["errors"][0]["code"], "reused");

    // Without a key, the same batch is simply synced again.
    let (_, replayed, plain) = send("batch-0002", batch).await;
    assert!(!replayed);
    assert_eq!(
        plain["updated"], 1,
        "the officer's change is overwritten by the roster"
    );
}

#[actix_rt::test]
async fn completing_a_full_roster_run_deactivates_the_missing() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.seed_schools(&admin).await;
    let sync = app.client_token("sync_client").await;
    let roster: Vec<Value> = (0..6)
        .map(|i| student(&format!("R{i}"), "TH-DABAC", 4))
        .collect();
    app.sync_students(&sync, "?run_id=run-1", &roster)
        .await
        .ok(200);
    app.post(
        "/api/v1/sync/students/complete",
        Some(&sync),
        &json!({"run_id": "run-1"}),
    )
    .await
    .ok(200);

    // The next roster lacks R4 and R5, in two batches. R0 and R1 come
    // unchanged first; R1 comes again, moved up a grade, in the second
    // batch: seen twice by the run, counted once.
    let first = app
        .sync_students(&sync, "?run_id=run-2", &roster[..2])
        .await
        .ok(200);
    assert_eq!(first["unchanged"], 2);
    let mut second = roster[1..4].to_vec();
    second[0]["grade"] = json!(5);
    let second = app
        .sync_students(&sync, "?run_id=run-2", &second)
        .await
        .ok(200);
    assert_eq!(
        (&second["updated"], &second["unchanged"]),
        (&json!(1), &json!(2))
    );
    let report = app
        .post(
            "/api/v1/sync/students/complete",
            Some(&sync),
            &json!({"run_id": "run-2"}),
        )
        .await
        .ok(200);
    assert_eq!(
        report,
        json!({"run_id": "run-2", "seen": 4, "deactivated": 2})
    );
    let inactive = app
        .get("/api/v1/students?active=false", &admin)
        .await
        .ok(200);
    assert_eq!(column(&inactive, "external_id"), vec!["R4", "R5"]);
    // Each deactivation is a change in the feed, carrying the student as
    // they are now (inactive), so the consumer hears of it.
    let mut deactivated = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = app
            .get(
                &format!("/api/v1/sync/students/changes?limit=50&cursor={cursor}"),
                &sync,
            )
            .await
            .ok(200);
        for item in page["items"].as_array().unwrap() {
            if item["operation"] == "update" && item["student"]["active"] == false {
                deactivated.push(item["student"]["external_id"].as_str().unwrap().to_owned());
            }
        }
        cursor = page["next_cursor"].as_str().unwrap_or_default().to_owned();
        if page["has_more"] != true {
            break;
        }
    }
    deactivated.sort();
    assert_eq!(
        deactivated,
        vec!["R4", "R5"],
        "one feed entry per deactivated student"
    );

    // A student who comes back is active again.
    app.sync_students(&sync, "?run_id=run-3", &roster[4..5])
        .await
        .ok(200);
    assert_eq!(
        app.get("/api/v1/students?active=false", &admin)
            .await
            .ok(200)["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    app.post(
        "/api/v1/sync/students/complete",
        Some(&sync),
        &json!({"run_id": "never-sent"}),
    )
    .await
    .problem(409);
    app.post("/api/v1/sync/students/complete", Some(&sync), &json!({}))
        .await
        .problem(422);
}

#[actix_rt::test]
async fn only_the_sync_client_and_admins_use_the_sync_endpoints() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.seed_schools(&admin).await;
    let sync = app.client_token("sync_client").await;
    let reader = app.client_token("stats_reader").await;
    let officer = app
        .user_token(
            "officer.db",
            "district_officer",
            json!({"admin_unit_code": "150"}),
        )
        .await;
    let batch = vec![student("P1", "TH-DABAC", 1)];

    for token in [&officer, &reader] {
        app.sync_students(token, "", &batch).await.problem(403);
        app.get("/api/v1/sync/students/changes", token)
            .await
            .problem(403);
        app.post("/api/v1/sync/schools", Some(token), &json!([]))
            .await
            .problem(403);
    }
    app.sync_students(&admin, "", &batch).await.ok(200);
    // The sync client writes the roster but does not browse it.
    app.get("/api/v1/students", &sync).await.problem(403);
    app.get("/api/v1/students/1", &sync).await.problem(403);
    app.get("/api/v1/students", &reader).await.problem(403);
}

/// Reads the whole feed from `cursor`, returning (external_id, version, operation) and the last cursor.
async fn drain(
    app: &TestApp,
    token: &str,
    mut cursor: String,
) -> (Vec<(String, i64, String)>, String) {
    let mut seen = Vec::new();
    loop {
        let path = format!("/api/v1/sync/students/changes?limit=37&cursor={cursor}");
        let page = app.get(&path, token).await.ok(200);
        for item in page["items"].as_array().unwrap() {
            seen.push((
                item["student"]["external_id"].as_str().unwrap().to_owned(),
                item["version"].as_i64().unwrap(),
                item["operation"].as_str().unwrap().to_owned(),
            ));
        }
        cursor = page["next_cursor"].as_str().unwrap().to_owned();
        if !page["has_more"].as_bool().unwrap() {
            return (seen, cursor);
        }
    }
}

#[actix_rt::test]
async fn the_change_feed_lists_every_change_in_order() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.seed_schools(&admin).await;
    let sync = app.client_token("sync_client").await;
    let batch: Vec<Value> = (0..3)
        .map(|i| student(&format!("C{i}"), "TH-DABAC", 1))
        .collect();
    app.sync_students(&sync, "", &batch).await.ok(200);
    let (first, cursor) = drain(&app, &sync, String::new()).await;
    assert_eq!(
        first,
        vec![
            ("C0".into(), 1, "insert".into()),
            ("C1".into(), 1, "insert".into()),
            ("C2".into(), 1, "insert".into())
        ]
    );
    let (nothing, same_cursor) = drain(&app, &sync, cursor.clone()).await;
    assert!(nothing.is_empty());
    assert_eq!(same_cursor, cursor, "an empty poll keeps the position");

    let c1 = app.get("/api/v1/students?limit=2", &admin).await.ok(200)["items"][1]["id"]
        .as_i64()
        .unwrap();
    app.patch_if_match(
        &format!("/api/v1/students/{c1}"),
        &admin,
        "\"1\"",
        &json!({"connectivity_status": "fixed"}),
    )
    .await
    .ok(200);
    app.request(
        Method::DELETE,
        &format!("/api/v1/students/{c1}"),
        Some(&admin),
        None,
        vec![],
    )
    .await;
    app.sync_students(&sync, "", &batch).await.ok(200);
    let (next, _) = drain(&app, &sync, cursor).await;
    assert_eq!(
        next,
        vec![
            ("C1".into(), 2, "update".into()),
            ("C1".into(), 3, "delete".into()),
            ("C1".into(), 4, "update".into())
        ]
    );
    app.get("/api/v1/sync/students/changes?cursor=bogus", &sync)
        .await
        .problem(400);
}

/// Several writers at once while a consumer polls: the consumer must end up
/// with exactly the changes a reader from the beginning sees, in the same
/// order. On PostgreSQL this needs change numbers handed out in commit
/// order: without the lock in `DbConn::lock_change_feed` this test fails.
#[actix_rt::test]
async fn a_polling_consumer_misses_nothing_while_writers_run() {
    const WRITERS: i64 = 8;
    const ROUNDS: i64 = 25;
    const BATCH: i64 = 4;
    let app = spawn_app_many_workers().await;
    let admin = app.admin_token().await;
    app.seed_schools(&admin).await;
    let sync = app.client_token("sync_client").await;
    let done = std::cell::Cell::new(0);

    let writers = (0..WRITERS).map(|w| {
        let (app, sync, done) = (&app, sync.clone(), &done);
        async move {
            for round in 0..ROUNDS {
                // New students in round 0, then a real change of each every round.
                let batch: Vec<Value> = (0..BATCH)
                    .map(|i| {
                        let mut s = student(&format!("W{w}-{i}"), "TH-DABAC", 1);
                        s["grade"] = json!(1 + ((i + round) % 5));
                        s
                    })
                    .collect();
                app.sync_students(&sync, "", &batch).await.ok(200);
            }
            done.set(done.get() + 1);
        }
    });
    let consumer = async {
        let mut collected = Vec::new();
        let mut cursor = String::new();
        while done.get() < WRITERS {
            let (mut seen, next) = drain(&app, &sync, cursor).await;
            collected.append(&mut seen);
            cursor = next;
        }
        let (mut rest, _) = drain(&app, &sync, cursor).await;
        collected.append(&mut rest);
        collected
    };
    let (_, collected) =
        futures_util::future::join(futures_util::future::join_all(writers), consumer).await;

    let (everything, _) = drain(&app, &sync, String::new()).await;
    assert_eq!(
        everything.len() as i64,
        WRITERS * ROUNDS * BATCH,
        "every insert and every real update"
    );
    assert_eq!(
        collected.len(),
        everything.len(),
        "the polling consumer missed changes"
    );
    assert_eq!(
        collected, everything,
        "the polling consumer saw exactly the full feed, in order"
    );
}

/// Batches sent at once that carry the same new students: each may find
/// them new, and all but one then meet the stored row (on PostgreSQL the
/// plain insert is refused and the batch falls back to the upsert). Every
/// batch succeeds, each student is stored once with one insert in the feed,
/// and the counts equal the rows.
#[actix_rt::test]
async fn batches_at_once_with_the_same_new_students_store_each_once() {
    const BATCHES: usize = 6;
    let app = spawn_app_many_workers().await;
    let admin = app.admin_token().await;
    app.seed_schools(&admin).await;
    let sync = app.client_token("sync_client").await;
    let roster: Vec<Value> = (0..40)
        .map(|i| student(&format!("SAME-{i:02}"), "TH-DABAC", 1 + i % 5))
        .collect();
    let replies =
        futures_util::future::join_all((0..BATCHES).map(|_| app.sync_students(&sync, "", &roster)))
            .await;
    for reply in replies {
        let report = reply.ok(200);
        assert_eq!(report["rejected"], 0, "{report}");
        assert_eq!(
            report["inserted"].as_i64().unwrap()
                + report["updated"].as_i64().unwrap()
                + report["unchanged"].as_i64().unwrap(),
            40,
            "{report}"
        );
    }
    assert_eq!(count_students(&app, &admin).await, 40);
    let (feed, _) = drain(&app, &sync, String::new()).await;
    let mut inserts: Vec<&str> = feed
        .iter()
        .filter(|(_, _, operation)| operation == "insert")
        .map(|(id, _, _)| id.as_str())
        .collect();
    inserts.sort_unstable();
    let expected: Vec<String> = (0..40).map(|i| format!("SAME-{i:02}")).collect();
    assert_eq!(inserts, expected, "one insert per student in the feed");
    let coverage = app
        .get("/api/v1/stats/coverage?group_by=school", &admin)
        .await
        .ok(200);
    assert_eq!(coverage["total"]["students"], 40, "counts equal the rows");
}

async fn spawn_app_many_workers() -> TestApp {
    crate::helpers::spawn_app_with(|env| {
        env.insert("SONGMAY_WORKERS", "4".into());
        env.insert("SONGMAY_DB_POOL_SIZE", "12".into());
    })
    .await
}
