//! README promises that had no test of their own: idempotency keys (per
//! caller, bounded, bound to the body, kept 24 hours, on spreadsheet
//! imports), a donor reading only their own gifts, workbooks of every
//! statistic, the spreadsheet format's column rules and size cap, and the
//! client address behind a trusted proxy.

use actix_web::http::Method;
use diesel::prelude::*;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, student, TestApp};
use crate::reporting::reconciliation::story;

const CSV_HEADER: &str = "external_id,school_code,grade,full_name,birth_date,gender,household_status,device_status,connectivity_status";

fn students_at(app: &TestApp, prefix: &str) -> i64 {
    use songmay::platform::db::schema::students;
    let db = app.db.connect();
    let mut conn = db.get().unwrap();
    songmay::platform::db::with_conn!(&mut conn, |c| students::table
        .filter(students::external_id.like(format!("{prefix}%")))
        .count()
        .get_result(c))
    .unwrap()
}

#[actix_rt::test]
async fn idempotency_keys_are_per_caller_bounded_bound_to_the_body_and_kept_a_day() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.seed_schools(&admin).await;
    let first = app.client_token("sync_client").await;
    let second = app.client_token("sync_client").await;
    let batch = |prefix: &str| Value::from(vec![student(&format!("{prefix}-1"), "TH-DABAC", 2)]);

    // Per caller: two clients may use the same key for different batches.
    let a = app
        .post_with_key("/api/v1/sync/students", &first, "batch-1", &batch("IA"))
        .await;
    assert_eq!(a.ok(200)["inserted"], 1);
    let b = app
        .post_with_key("/api/v1/sync/students", &second, "batch-1", &batch("IB"))
        .await;
    assert_eq!(b.header("idempotent-replayed"), None);
    assert_eq!(b.ok(200)["inserted"], 1);
    assert_eq!((students_at(&app, "IA-"), students_at(&app, "IB-")), (1, 1));

    // The same key with another body is refused and applies nothing.
    let before = app.row_counts();
    app.post_with_key("/api/v1/sync/students", &first, "batch-1", &batch("IC"))
        .await
        .problem(422);
    app.assert_nothing_written(&before, "a reused key with another body");

    // 1 to 255 visible ASCII characters.
    for key in ["k".repeat(256), "with space".into(), "khóa".into()] {
        let reply = app
            .post_with_key("/api/v1/sync/students", &first, &key, &batch("ID"))
            .await;
        let problem = reply.problem(reply.status.as_u16());
        assert!(matches!(reply.status.as_u16(), 400 | 422), "{problem}");
        assert!(problem.to_string().contains("Idempotency-Key"), "{problem}");
        assert!(!problem.to_string().contains(&key), "{problem}");
    }
    assert_eq!(students_at(&app, "ID-"), 0);
    let longest = "k".repeat(255);
    app.post_with_key("/api/v1/sync/students", &first, &longest, &batch("IE"))
        .await
        .ok(200);

    // Kept 24 hours: a day later the key is forgotten and the request is
    // applied as new (here: an update of the same student, so `unchanged`).
    {
        use songmay::platform::db::schema::idempotency_keys;
        let db = app.db.connect();
        let mut conn = db.get().unwrap();
        let day_ago = chrono::Utc::now().naive_utc() - chrono::Duration::hours(25);
        let aged = songmay::platform::db::with_conn!(&mut conn, |c| diesel::update(
            idempotency_keys::table.filter(idempotency_keys::idem_key.eq("batch-1"))
        )
        .set(idempotency_keys::created_at.eq(day_ago))
        .execute(c))
        .unwrap();
        assert_eq!(aged, 2, "one key per caller");
    }
    let again = app
        .post_with_key("/api/v1/sync/students", &first, "batch-1", &batch("IC"))
        .await;
    assert_eq!(again.header("idempotent-replayed"), None);
    assert_eq!(again.ok(200)["inserted"], 1);

    // A spreadsheet import replays too, and writes nothing the second time.
    let file = format!("{CSV_HEADER}\nIF-1,TH-DABAC,1,Lò Văn F,2019-05-01,male,poor,none,none\n");
    let once = import_with_key(&app, &admin, &file, "file-1").await;
    assert_eq!(once.ok(200)["inserted"], 1);
    let before = app.row_counts();
    let twice = import_with_key(&app, &admin, &file, "file-1").await;
    assert_eq!(twice.header("idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(twice.ok(200)["inserted"], 1, "the first answer, again");
    app.assert_nothing_written(&before, "a replayed import");
}

#[actix_rt::test]
async fn a_donor_reads_only_their_own_gifts_and_letters() {
    let app = spawn_app().await;
    let s = story(&app).await;
    let mut logins = Vec::new();
    let mut receipts = Vec::new();
    for (i, name) in ["donor.a", "donor.b"].into_iter().enumerate() {
        let user = app
            .post(
                "/api/v1/users",
                Some(&s.admin),
                &json!({"username": name, "password": "a password long enough", "role": "donor"}),
            )
            .await
            .ok(201);
        let donor = app
            .post(
                "/api/v1/donors",
                Some(&s.admin),
                &json!({"kind": "individual", "name": format!("Nhà hảo tâm {i}"), "inside_province": true, "user_id": user["id"]}),
            )
            .await
            .ok(201)["id"]
            .as_i64()
            .unwrap();
        receipts.push(
            s.receipt(
                &app,
                json!({"donor_id": donor, "receipt_type": "donation", "kind": "money", "amount_vnd": 1_000_000 * (i as i64 + 1), "bank_reference": format!("FT-DONOR-{i}")}),
            )
            .await,
        );
        logins.push((donor, app.token_for(name, "a password long enough").await));
    }
    let (own_donor, token) = &logins[0];
    let listed = app.get("/api/v1/receipts", token).await.ok(200);
    let ids: Vec<i64> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![receipts[0]], "only their own receipt");
    app.get(&format!("/api/v1/receipts/{}", receipts[0]), token)
        .await
        .ok(200);
    let letter = app
        .get(
            &format!("/api/v1/receipts/{}/acknowledgement", receipts[0]),
            token,
        )
        .await;
    assert_eq!(letter.status.as_u16(), 200);
    for path in [
        format!("/api/v1/receipts/{}", receipts[1]),
        format!("/api/v1/receipts/{}/acknowledgement", receipts[1]),
        format!("/api/v1/donors/{}", logins[1].0),
    ] {
        let problem = app.get(&path, token).await.problem(404);
        assert!(!problem.to_string().contains("Nhà hảo tâm 1"), "{problem}");
    }
    let donors = app.get("/api/v1/donors", token).await.ok(200);
    let visible: Vec<i64> = donors["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_i64().unwrap())
        .collect();
    assert_eq!(visible, vec![*own_donor]);
}

#[actix_rt::test]
async fn every_statistic_comes_as_a_workbook() {
    let app = spawn_app().await;
    let s = story(&app).await;
    s.one_student_and_a_tablet_for_them(&app, "XL-1").await;
    let reader = app.client_token("stats_reader").await;
    for path in [
        "/api/v1/stats/coverage?format=xlsx",
        "/api/v1/stats/donations?format=xlsx",
        "/api/v1/stats/inventory?format=xlsx",
        "/api/v1/stats/timeseries?metric=needs_reported&interval=week&format=xlsx",
        "/api/v1/stats/coverage?format=xlsx&lang=vi",
    ] {
        let reply = app.get(path, &reader).await;
        assert_eq!(reply.status.as_u16(), 200, "{path}");
        assert_eq!(
            reply.header("content-type").as_deref(),
            Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            "{path}"
        );
        assert!(reply.body.starts_with(b"PK"), "{path}: a zip container");
        assert!(
            reply.body.len() > 1000,
            "{path}: {} bytes",
            reply.body.len()
        );
    }
}

#[actix_rt::test]
async fn spreadsheet_columns_come_in_any_order_extra_ones_are_ignored_and_files_are_capped() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.seed_schools(&admin).await;
    let shuffled = "note,grade,external_id,connectivity_status,school_code,device_status,full_name,gender,household_status,birth_date\n\
                    không dùng,2,CO-1,none,TH-DABAC,none,Lò Thị Cột,female,poor,2018-04-02\n";
    let report = app
        .request(
            Method::POST,
            "/api/v1/students/import",
            Some(&admin),
            Some("text/csv"),
            shuffled.as_bytes().to_vec(),
        )
        .await
        .ok(200);
    assert_eq!(report["inserted"], 1, "{report}");
    let export = app.get("/api/v1/students/export", &admin).await;
    assert_eq!(export.status.as_u16(), 200);
    assert!(
        export.body.starts_with("\u{feff}".as_bytes()),
        "a byte order mark"
    );
    let text = String::from_utf8_lossy(&export.body[3..]).to_string();
    assert!(
        text.starts_with(&format!("{CSV_HEADER},active,version")),
        "the documented column order: {}",
        text.lines().next().unwrap_or_default()
    );
    assert!(text.contains("CO-1,TH-DABAC,2,Lò Thị Cột,2018-04-02,female,poor,none,none"));

    let mut big = String::from(CSV_HEADER);
    for i in 0..50_001 {
        big.push_str(&format!(
            "\nCAP-{i},TH-DABAC,1,Học Sinh,2019-05-01,male,other,none,none"
        ));
    }
    let before = app.row_counts();
    let reply = app
        .request(
            Method::POST,
            "/api/v1/students/import",
            Some(&admin),
            Some("text/csv"),
            big.into_bytes(),
        )
        .await;
    let status = reply.status.as_u16();
    let problem = reply.problem(status);
    assert!(matches!(status, 413 | 422), "{status}: {problem}");
    assert!(
        problem.to_string().contains("50"),
        "names the cap: {problem}"
    );
    app.assert_nothing_written(&before, "a file over the line cap");
}

#[actix_rt::test]
async fn behind_a_trusted_proxy_each_client_address_has_its_own_limit() {
    for trusted in [true, false] {
        let app = spawn_app_with(|env| {
            env.insert("SONGMAY_PUBLIC_RATE_BURST", "2".into());
            env.insert("SONGMAY_PUBLIC_RATE_PER_MINUTE", "1".into());
            env.insert("SONGMAY_TRUST_PROXY", trusted.to_string());
        })
        .await;
        from(&app, "203.0.113.7").await.ok(200);
        from(&app, "203.0.113.7").await.ok(200);
        from(&app, "203.0.113.7").await.problem(429);
        let other = from(&app, "198.51.100.9").await;
        if trusted {
            // Another client behind the same proxy has its own allowance.
            other.ok(200);
        } else {
            // Untrusted, the header is ignored: everyone is the proxy.
            other.problem(429);
        }
    }
}

/// A rate-limited route says its quota (`RateLimit-Policy`) and what is
/// left (`RateLimit`) on every answer, and on the 429 when it comes back;
/// governor's own `x-ratelimit-*` headers are not sent.
#[actix_rt::test]
async fn rate_limited_routes_say_their_quota_and_what_is_left() {
    let app = spawn_app_with(|env| {
        env.insert("SONGMAY_PUBLIC_RATE_BURST", "3".into());
        env.insert("SONGMAY_PUBLIC_RATE_PER_MINUTE", "6".into());
    })
    .await;
    let mut left = Vec::new();
    for _ in 0..3 {
        let reply = app
            .send(Method::GET, "/api/v1/public/progress", &[], Vec::new())
            .await;
        assert_eq!(reply.status.as_u16(), 200);
        assert_eq!(
            reply.header("ratelimit-policy").as_deref(),
            Some("\"public\";q=3;w=30"),
            "3 at once, one back every 10 s"
        );
        assert!(reply.header("x-ratelimit-remaining").is_none());
        left.push(reply.header("ratelimit").unwrap());
    }
    assert_eq!(
        left,
        [
            "\"public\";r=2;t=10",
            "\"public\";r=1;t=20",
            "\"public\";r=0;t=30"
        ]
    );
    let refused = app
        .send(Method::GET, "/api/v1/public/progress", &[], Vec::new())
        .await;
    let wait = refused.header("retry-after").expect("Retry-After");
    assert_eq!(
        refused.header("ratelimit"),
        Some(format!("\"public\";r=0;t={wait}"))
    );
    assert!(refused.header("ratelimit-policy").is_some());
    refused.problem(429);
    // The token route has its own policy, per address.
    let token = app
        .post(
            "/api/v1/auth/token",
            None,
            &json!({"username": "admin", "password": "wrong password here"}),
        )
        .await;
    assert_eq!(token.status.as_u16(), 401);
    assert!(token
        .header("ratelimit-policy")
        .is_some_and(|p| p.starts_with("\"per-address\";q=")));
    // Routes without a limit say nothing of one.
    assert!(app
        .send(Method::GET, "/health", &[], Vec::new())
        .await
        .header("ratelimit")
        .is_none());
}

async fn import_with_key(
    app: &TestApp,
    token: &str,
    file: &str,
    key: &str,
) -> crate::helpers::Reply {
    let headers = [
        ("Authorization", format!("Bearer {token}")),
        ("Content-Type", "text/csv".to_owned()),
        ("Idempotency-Key", key.to_owned()),
    ];
    app.send(
        Method::POST,
        "/api/v1/students/import",
        &headers,
        file.as_bytes().to_vec(),
    )
    .await
}

async fn from(app: &TestApp, address: &str) -> crate::helpers::Reply {
    let headers = [("X-Forwarded-For", address.to_owned())];
    app.send(
        Method::GET,
        "/api/v1/public/needs-board",
        &headers,
        Vec::new(),
    )
    .await
}

#[actix_rt::test]
async fn every_answer_carries_a_request_id_and_problems_name_it() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    // The client's id is kept, echoed and named in a problem.
    let reply = app
        .send(
            Method::GET,
            "/api/v1/students/987654321",
            &[
                ("Authorization", format!("Bearer {admin}")),
                ("X-Request-ID", "dashboard-0001".to_owned()),
            ],
            Vec::new(),
        )
        .await;
    assert_eq!(
        reply.header("x-request-id").as_deref(),
        Some("dashboard-0001")
    );
    assert_eq!(
        reply.problem(404)["instance"],
        "urn:songmay:request:dashboard-0001"
    );
    // Without one (or with one that is not a sensible token) the service
    // makes one up, different each time.
    let mut made_up = Vec::new();
    for sent in [None, Some("has a space"), Some(&*"x".repeat(129))] {
        let mut headers = vec![("Authorization", format!("Bearer {admin}"))];
        if let Some(sent) = sent {
            headers.push(("X-Request-ID", sent.to_owned()));
        }
        let reply = app
            .send(Method::GET, "/api/v1/me", &headers, Vec::new())
            .await;
        reply.ok(200);
        let id = reply.header("x-request-id").expect("an id");
        assert!(!id.is_empty() && id.len() <= 128 && Some(id.as_str()) != sent);
        made_up.push(id);
    }
    made_up.sort();
    made_up.dedup();
    assert_eq!(made_up.len(), 3, "a new id each time");
}

#[actix_rt::test]
async fn a_created_record_says_where_it_is_read() {
    let app = spawn_app().await;
    let s = story(&app).await;
    let donor = app
        .post(
            "/api/v1/donors",
            Some(&s.admin),
            &json!({"kind": "organisation", "name": "Quỹ Khuyến học", "inside_province": true}),
        )
        .await;
    let location = donor.header("location").expect("a Location");
    let created = donor.ok(201);
    assert_eq!(location, format!("/api/v1/donors/{}", created["id"]));
    assert_eq!(app.get(&location, &s.admin).await.ok(200), created);
    // A reversal is a receipt of its own, read under /receipts.
    let receipt = s
        .receipt(
            &app,
            json!({"donor_id": created["id"], "receipt_type": "donation", "kind": "money", "amount_vnd": 2_000_000, "bank_reference": "FT-LOC-1"}),
        )
        .await;
    let reversal = app
        .post(
            &format!("/api/v1/receipts/{receipt}/reversal"),
            Some(&s.admin),
            &json!({"reason": "the transfer was returned by the bank"}),
        )
        .await;
    let location = reversal.header("location").expect("a Location");
    let reversed = reversal.ok(201);
    assert_eq!(location, format!("/api/v1/receipts/{}", reversed["id"]));
    app.get(&location, &s.admin).await.ok(200);
    // The spec says which creations carry it, and the wire agrees.
    let spec = crate::contract::spec();
    assert!(
        spec["paths"]["/api/v1/donors"]["post"]["responses"]["201"]["headers"]
            .get("Location")
            .is_some()
    );
}

/// Every versioned record (a pledge, a device, a student) answers with
/// `ETag: "<version>"`; a read that names the current tag in
/// `If-None-Match` (weakly, in a list, or `*`) is `304` with no body, and
/// once the record changes the same read gets the new record.
#[actix_rt::test]
async fn every_versioned_record_has_an_etag_and_answers_304_when_unchanged() {
    let app = spawn_app().await;
    let s = story(&app).await;
    let pledge = s
        .pledge(&app, json!({"donor_id": s.donors[0], "kind": "device", "device_type": "tablet", "quantity": 1, "device_condition": "used"}))
        .await;
    let receipt = s
        .receipt(&app, json!({"pledge_id": pledge, "receipt_type": "donation", "kind": "device", "device_type": "tablet", "quantity": 1}))
        .await;
    let device = s.devices(&app, receipt, 1, &mut 900).await[0];
    app.sync_students(&s.admin, "", &[student("ETAG-1", "TH-DABAC", 3)])
        .await
        .ok(200);
    let pupil = app
        .get("/api/v1/students?external_id=ETAG-1", &s.admin)
        .await
        .ok(200)["items"][0]["id"]
        .as_i64()
        .unwrap();
    let conditional = |path: String, tag: String| {
        let (app, admin) = (&app, s.admin.clone());
        async move {
            app.send(
                Method::GET,
                &path,
                &[
                    ("Authorization", format!("Bearer {admin}")),
                    ("If-None-Match", tag),
                ],
                Vec::new(),
            )
            .await
        }
    };
    for path in [
        format!("/api/v1/pledges/{pledge}"),
        format!("/api/v1/inventory/items/{device}"),
        format!("/api/v1/students/{pupil}"),
    ] {
        let read = app.get(&path, &s.admin).await;
        let tag = read.header("etag").expect("an ETag");
        let record = read.ok(200);
        assert_eq!(tag, format!("\"{}\"", record["version"]), "{path}");
        for asked in [
            tag.clone(),
            format!("W/{tag}"),
            format!("\"999999\", {tag}"),
            "*".to_owned(),
        ] {
            let unchanged = conditional(path.clone(), asked.clone()).await;
            assert_eq!(unchanged.status.as_u16(), 304, "{path} with {asked}");
            assert!(unchanged.body.is_empty(), "{path}: a 304 has no body");
            assert_eq!(unchanged.header("etag").as_deref(), Some(tag.as_str()));
        }
        let stale = conditional(path.clone(), "\"999999\"".to_owned()).await;
        assert_eq!(
            stale.ok(200),
            record,
            "{path}: another tag reads the record"
        );
    }
    // A change makes the old tag stale: the read answers the new version.
    let open = s
        .pledge(
            &app,
            json!({"donor_id": s.donors[0], "kind": "money", "amount_vnd": 1_000_000}),
        )
        .await;
    let path = format!("/api/v1/pledges/{open}");
    let old = app.get(&path, &s.admin).await.header("etag").unwrap();
    app.post(
        &format!("/api/v1/pledges/{open}/transitions"),
        Some(&s.admin),
        &json!({"to": "cancelled", "reason": "đổi ý"}),
    )
    .await
    .ok(200);
    let after = conditional(path.clone(), old.clone()).await;
    let tag = after.header("etag").unwrap();
    let changed = after.ok(200);
    assert_ne!(tag, old);
    assert_eq!(tag, format!("\"{}\"", changed["version"]));
    // The spec documents the tag and the 304 on the reads.
    let spec = crate::contract::spec();
    let read = &spec["paths"]["/api/v1/pledges/{id}"]["get"];
    assert!(read["responses"]["304"].is_object(), "{read}");
    assert!(read["responses"]["200"]["headers"].get("ETag").is_some());
}

/// Every record a list shows can be opened by its id — warehouses,
/// package lines, suppliers, purchases, operators — and a warehouse
/// officer opens only their own warehouses' (another is 404, as is an
/// unknown id).
#[actix_rt::test]
async fn every_listed_record_opens_by_its_id() {
    let app = spawn_app().await;
    let s = story(&app).await;
    let pledge = s
        .pledge(
            &app,
            json!({"donor_id": s.donors[0], "kind": "data_package", "quantity": 5,
            "operator_name": "Viettel", "data_gb_per_month": 4, "months": 6}),
        )
        .await;
    let receipt = s
        .receipt(&app, json!({"pledge_id": pledge, "receipt_type": "donation", "kind": "data_package", "quantity": 5}))
        .await;
    let package = s.packages(&app, receipt).await;
    s.receipt(&app, json!({"donor_id": s.donors[2], "receipt_type": "donation", "kind": "money", "amount_vnd": 10_000_000, "bank_reference": "FT-OPEN-1"}))
        .await;
    let purchase = app
        .post(
            "/api/v1/purchases",
            Some(&s.admin),
            &json!({"campaign_id": s.campaign, "supplier_id": s.supplier,
            "kind": "device", "device_type": "tablet", "unit_price_vnd": 3_000_000, "quantity": 2}),
        )
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    let operator = app
        .post(
            "/api/v1/operators",
            Some(&s.admin),
            &json!({"code": "viettel", "name": "Viettel Hòa Bình"}),
        )
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    let elsewhere = app
        .post(
            "/api/v1/warehouses",
            Some(&s.admin),
            &json!({"name": "Kho Đà Bắc", "admin_unit_code": "150"}),
        )
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();

    // Each opens to what its list shows.
    let listed = |path: &'static str, id: i64, token: String| {
        let app = &app;
        async move {
            app.all_pages(path, &token)
                .await
                .iter()
                .flat_map(|page| page["items"].as_array().unwrap().clone())
                .find(|item| item["id"] == id)
                .unwrap_or_else(|| panic!("{id} in {path}"))
        }
    };
    let cases = [
        ("/api/v1/warehouses", s.warehouse, s.kho.clone()),
        ("/api/v1/inventory/packages", package, s.kho.clone()),
        ("/api/v1/suppliers", s.supplier, s.kho.clone()),
        ("/api/v1/operators", operator, s.officer.clone()),
    ];
    for (path, id, token) in cases {
        let one = app.get(&format!("{path}/{id}"), &token).await.ok(200);
        assert_eq!(one, listed(path, id, token.clone()).await, "{path}/{id}");
        app.get(&format!("{path}/99999999"), &token)
            .await
            .problem(404);
    }
    let bought = app
        .get(&format!("/api/v1/purchases/{purchase}"), &s.kho)
        .await
        .ok(200);
    assert_eq!(
        (
            bought["id"].as_i64(),
            bought["supplier_id"].as_i64(),
            bought["quantity"].as_i64()
        ),
        (Some(purchase), Some(s.supplier), Some(2))
    );
    app.get("/api/v1/purchases/99999999", &s.admin)
        .await
        .problem(404);
    // A warehouse officer's scope: not another warehouse.
    app.get(&format!("/api/v1/warehouses/{elsewhere}"), &s.kho)
        .await
        .problem(404);
    app.get(&format!("/api/v1/warehouses/{elsewhere}"), &s.admin)
        .await
        .ok(200);
    // Roles: a district officer reads no supplier.
    app.get(&format!("/api/v1/suppliers/{}", s.supplier), &s.officer)
        .await
        .problem(403);
}

/// An admin edits a warehouse, an operator and a supplier with the version
/// read (ETag): without `If-Match` 428, with a stale one 412, by anyone
/// else 403, a supplier's tax code another has 409; the edit is stored and
/// audited by field name.
#[actix_rt::test]
async fn warehouses_operators_and_suppliers_are_edited_with_the_version_read() {
    let app = spawn_app().await;
    let s = story(&app).await;
    let operator = app
        .post(
            "/api/v1/operators",
            Some(&s.admin),
            &json!({"code": "vnpt", "name": "VNPT Hòa Bình"}),
        )
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    let other_supplier = app
        .post(
            "/api/v1/suppliers",
            Some(&s.admin),
            &json!({"name": "Công ty Sao Mai", "tax_code": "5400111222"}),
        )
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    let cases = [
        (
            format!("/api/v1/warehouses/{}", s.warehouse),
            json!({"address": "Số 1 Trần Hưng Đạo, TP Hòa Bình"}),
            "address",
            "warehouse",
        ),
        (
            format!("/api/v1/operators/{operator}"),
            json!({"name": "VNPT Hòa Bình (Viễn thông tỉnh)"}),
            "name",
            "operator",
        ),
        (
            format!("/api/v1/suppliers/{}", s.supplier),
            json!({"contact": "Chị Hoa, 0218 3852 111", "tax_code": null}),
            "contact",
            "supplier",
        ),
    ];
    for (path, change, field, entity) in cases {
        let read = app.get(&path, &s.admin).await;
        let tag = read.header("etag").expect("an ETag");
        let before = read.ok(200);
        assert_eq!(tag, format!("\"{}\"", before["version"]));
        app.request(
            Method::PATCH,
            &path,
            Some(&s.admin),
            Some("application/json"),
            change.to_string().into_bytes(),
        )
        .await
        .problem(428);
        app.patch_if_match(&path, &s.kho, &tag, &change)
            .await
            .problem(403);
        app.patch_if_match(&path, &s.admin, "\"999\"", &change)
            .await
            .problem(412);
        app.patch_if_match(&path, &s.admin, &tag, &json!({"created_at": "2020-01-01"}))
            .await
            .problem(422);
        let after = app
            .patch_if_match(&path, &s.admin, &tag, &change)
            .await
            .ok(200);
        assert_eq!(after[field], change[field], "{path}");
        assert_eq!(after["version"], before["version"].as_i64().unwrap() + 1);
        assert_eq!(app.get(&path, &s.admin).await.ok(200), after);
        let audit = app
            .get(
                &format!("/api/v1/audit-log?entity={entity}&action=update"),
                &s.admin,
            )
            .await
            .ok(200);
        assert!(
            audit["items"][0]["changes"]["changed"]
                .as_array()
                .is_some_and(|fields| fields.contains(&json!(field))),
            "{audit}"
        );
    }
    let supplier = format!("/api/v1/suppliers/{}", s.supplier);
    assert_eq!(
        app.get(&supplier, &s.admin).await.ok(200)["tax_code"],
        Value::Null
    );
    let tag = app.get(&supplier, &s.admin).await.header("etag").unwrap();
    app.patch_if_match(
        &supplier,
        &s.admin,
        &tag,
        &json!({"tax_code": "5400 111 222"}),
    )
    .await
    .problem(409);
    app.patch_if_match(
        &format!("/api/v1/suppliers/{other_supplier}"),
        &s.admin,
        "*",
        &json!({"name": "Công ty CP Sao Mai"}),
    )
    .await
    .ok(200);
}

#[actix_rt::test]
async fn quotas_cap_an_automatic_run_per_school_and_per_district() {
    let app = spawn_app().await;
    let s = story(&app).await;
    // Two students without a device at each of three schools: two schools
    // in Đà Bắc (150), one in the city (148).
    let schools = [
        ("TH-DABAC", 3, "150"),
        ("THCS-DABAC", 7, "150"),
        ("THPT-TP", 11, "148"),
    ];
    let mut roster = Vec::new();
    for (school, grade, _) in schools {
        for n in 0..2 {
            let mut record = student(&format!("Q-{school}-{n}"), school, grade);
            record["connectivity_status"] = json!("mobile_ok");
            roster.push(record);
        }
    }
    app.sync_students(&s.admin, "", &roster).await.ok(200);
    let mut district_of_school = std::collections::HashMap::new();
    for (school, _, district) in schools {
        let id = app
            .get(&format!("/api/v1/schools/by-code/{school}"), &s.admin)
            .await
            .ok(200)["id"]
            .as_i64()
            .unwrap();
        app.post(
            "/api/v1/needs/generate",
            Some(&s.officer),
            &json!({"school_id": id}),
        )
        .await
        .ok(200);
        district_of_school.insert(id, district);
    }
    s.approve_reported(&app).await;
    let pledge = s
        .pledge(&app, json!({"donor_id": s.donors[0], "kind": "device", "device_type": "tablet", "quantity": 6, "device_condition": "used"}))
        .await;
    let receipt = s
        .receipt(&app, json!({"pledge_id": pledge, "receipt_type": "donation", "kind": "device", "device_type": "tablet", "quantity": 6}))
        .await;
    let mut serial = 700;
    s.devices(&app, receipt, 6, &mut serial).await;

    // Where each planned match goes: (school, district).
    let places = |plan: Value| {
        let app = &app;
        let admin = s.admin.clone();
        let district_of_school = district_of_school.clone();
        async move {
            let mut places = Vec::new();
            for m in plan["matches"].as_array().unwrap() {
                let need = app
                    .get(&format!("/api/v1/needs/{}", m["need_id"]), &admin)
                    .await
                    .ok(200);
                let school = need["school_id"].as_i64().unwrap();
                places.push((school, district_of_school[&school]));
            }
            places
        }
    };
    let count = |places: &[(i64, &str)], by_school: bool| {
        let mut counts = std::collections::HashMap::new();
        for (school, district) in places {
            let key = if by_school {
                school.to_string()
            } else {
                district.to_string()
            };
            *counts.entry(key).or_insert(0) += 1;
        }
        counts
    };
    let unlimited = places(run_with(&app, &s.officer, json!({})).await.ok(200)).await;
    assert_eq!(
        unlimited.len(),
        6,
        "enough tablets for all six: {unlimited:?}"
    );
    let per_school = places(
        run_with(&app, &s.officer, json!({"quota_per_school": 1}))
            .await
            .ok(200),
    )
    .await;
    let counts = count(&per_school, true);
    assert_eq!(counts.len(), 3, "every school served: {per_school:?}");
    assert!(
        counts.values().all(|n| *n == 1),
        "one per school: {counts:?}"
    );
    let per_district = places(
        run_with(&app, &s.officer, json!({"quota_per_district": 1}))
            .await
            .ok(200),
    )
    .await;
    let counts = count(&per_district, false);
    assert_eq!(counts.len(), 2, "both districts served: {per_district:?}");
    assert!(
        counts.values().all(|n| *n == 1),
        "one per district: {counts:?}"
    );
    // A real run keeps the quota too, and writes exactly what it planned.
    let done = app
        .post(
            "/api/v1/allocations/run",
            Some(&s.officer),
            &json!({"admin_unit": "17", "kinds": ["device"], "quota_per_district": 2}),
        )
        .await
        .ok(200);
    assert_eq!(
        done["allocation_ids"].as_array().unwrap().len(),
        4,
        "{done}"
    );
    let made = places(done).await;
    assert!(count(&made, false).values().all(|n| *n == 2), "{made:?}");
    // A quota of 0 means nothing can be planned: refused, naming the field.
    run_with(&app, &s.officer, json!({"quota_per_district": 0}))
        .await
        .problem_naming(422, "quota_per_district", "range");
}

/// A dry allocation run over the province for devices, with `quota`.
async fn run_with(app: &TestApp, token: &str, quota: Value) -> crate::helpers::Reply {
    let mut body = json!({"admin_unit": "17", "kinds": ["device"], "dry_run": true});
    body.as_object_mut()
        .unwrap()
        .extend(quota.as_object().unwrap().clone());
    app.post("/api/v1/allocations/run", Some(token), &body)
        .await
}

#[actix_rt::test]
async fn a_retry_while_the_first_is_still_running_is_409_and_nothing_is_written_twice() {
    let app = spawn_app_with(|env| {
        env.insert("SONGMAY_WORKERS", "2".into());
        env.insert("SONGMAY_DB_POOL_SIZE", "4".into());
    })
    .await;
    let admin = app.admin_token().await;
    app.seed_schools(&admin).await;
    let batch: Vec<Value> = (0..3000)
        .map(|i| student(&format!("FL-{i}"), "TH-DABAC", 1 + i % 5))
        .collect();
    let body = Value::from(batch);
    let first = app.post_with_key("/api/v1/sync/students", &admin, "in-flight-1", &body);
    let retry = async {
        // While the first is still applying its 3,000 rows.
        actix_rt::time::sleep(std::time::Duration::from_millis(200)).await;
        app.post_with_key("/api/v1/sync/students", &admin, "in-flight-1", &body)
            .await
    };
    let (first, retry) = futures_util::future::join(first, retry).await;
    assert_eq!(first.header("idempotent-replayed"), None);
    assert_eq!(first.ok(200)["inserted"], 3000);
    match retry.status.as_u16() {
        409 => {
            let problem = retry.problem(409);
            assert!(
                problem["detail"]
                    .as_str()
                    .unwrap()
                    .contains("Idempotency-Key"),
                "{problem}"
            );
        }
        // The first finished before the retry was looked at: its answer again.
        200 => assert_eq!(retry.header("idempotent-replayed").as_deref(), Some("true")),
        other => panic!(
            "a retry in flight answered {other}: {}",
            String::from_utf8_lossy(&retry.body)
        ),
    }
    assert_eq!(students_at(&app, "FL-"), 3000, "written once");
}
