use actix_web::http::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, student, TestApp};

/// Students in Đà Bắc (150) and the city (148) with every mix of device and
/// connection; returns the admin token and the roster as sent.
async fn roster(app: &TestApp) -> (String, Vec<Value>) {
    let admin = app.admin_token().await;
    app.seed_schools(&admin).await;
    let devices = ["none", "shared", "inadequate", "adequate"];
    let connections = ["none", "mobile_weak", "mobile_ok", "fixed"];
    let schools = [
        ("TH-DABAC", 3),
        ("THCS-DABAC", 7),
        ("TH-THAIBINH", 2),
        ("THPT-TP", 11),
    ];
    let mut batch = Vec::new();
    for i in 0..40 {
        let (school, grade) = schools[i % 4];
        let mut s = student(&format!("ST-{i:03}"), school, grade);
        s["full_name"] = json!(format!("Bí Mật Học Sinh {i:03}"));
        s["birth_date"] = json!(format!("2014-0{}-1{}", 1 + i % 9, i % 10));
        s["device_status"] = json!(devices[i % 4]);
        s["connectivity_status"] = json!(connections[(i / 4) % 4]);
        s["household_status"] = json!(if i % 3 == 0 { "near_poor" } else { "other" });
        batch.push(s);
    }
    app.sync_students(&admin, "", &batch).await.ok(200);
    app.generate_needs(&admin).await;
    (admin, batch)
}

fn expected(batch: &[Value], schools: &[&str]) -> (i64, i64, i64, i64) {
    let rows: Vec<&Value> = batch
        .iter()
        .filter(|s| schools.contains(&s["school_code"].as_str().unwrap()))
        .collect();
    let device = |s: &Value| s["device_status"] == "adequate";
    let connected =
        |s: &Value| s["connectivity_status"] == "mobile_ok" || s["connectivity_status"] == "fixed";
    let count = |f: &dyn Fn(&Value) -> bool| rows.iter().filter(|s| f(s)).count() as i64;
    (
        rows.len() as i64,
        count(&device),
        count(&connected),
        count(&|s| device(s) && connected(s)),
    )
}

fn counts(row: &Value) -> (i64, i64, i64, i64) {
    (
        row["students"].as_i64().unwrap(),
        row["with_device"].as_i64().unwrap(),
        row["with_connectivity"].as_i64().unwrap(),
        row["ready"].as_i64().unwrap(),
    )
}

#[actix_rt::test]
async fn coverage_reconciles_with_the_rows() {
    let app = spawn_app().await;
    let (admin, batch) = roster(&app).await;
    let reader = app.client_token("stats_reader").await;

    let province = app
        .get("/api/v1/stats/coverage?admin_unit=17", &reader)
        .await
        .ok(200);
    assert_eq!(
        counts(&province["total"]),
        expected(
            &batch,
            &["TH-DABAC", "THCS-DABAC", "TH-THAIBINH", "THPT-TP"]
        )
    );
    let rows = province["rows"].as_array().unwrap();
    let dabac = rows.iter().find(|r| r["key"] == "150").unwrap();
    let city = rows.iter().find(|r| r["key"] == "148").unwrap();
    assert_eq!(counts(dabac), expected(&batch, &["TH-DABAC", "THCS-DABAC"]));
    assert_eq!(counts(city), expected(&batch, &["TH-THAIBINH", "THPT-TP"]));
    assert_eq!(dabac["name"], "Huyện Đà Bắc");
    let (total, _, _, ready) = expected(&batch, &["TH-DABAC", "THCS-DABAC"]);
    assert_eq!(
        dabac["percent_ready"].as_f64().unwrap(),
        (ready as f64 * 10000.0 / total as f64).round() / 100.0
    );

    // Open needs reconcile with the needs list.
    let needs = app
        .all_pages("/api/v1/needs?admin_unit=150&kind=device&limit=500", &admin)
        .await;
    let listed: usize = needs
        .iter()
        .map(|p| p["items"].as_array().unwrap().len())
        .sum();
    assert_eq!(dabac["open_device_needs"].as_i64().unwrap(), listed as i64);

    // Every breakdown adds up to the same total.
    for group in ["school", "school_level", "grade"] {
        let parts = app
            .get(
                &format!("/api/v1/stats/coverage?admin_unit=17&group_by={group}"),
                &reader,
            )
            .await
            .ok(200);
        let sum: i64 = parts["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["students"].as_i64().unwrap())
            .sum();
        assert_eq!(sum, 40, "group_by={group}");
    }
    let communes = app
        .get("/api/v1/stats/coverage?admin_unit=150", &reader)
        .await
        .ok(200);
    let keys: Vec<&str> = communes["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        vec!["04831", "150"],
        "a commune, and the district's own school"
    );

    // CSV and XLSX.
    let csv = app
        .request(
            Method::GET,
            "/api/v1/stats/coverage?admin_unit=17&format=csv",
            Some(&reader),
            None,
            vec![],
        )
        .await;
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    let text = String::from_utf8(csv.body).unwrap();
    assert!(
        text.starts_with("\u{feff}key,name,students,with_device"),
        "a byte order mark, then the header: {text}"
    );
    assert_eq!(text.lines().count(), 1 + 1 + 2);
    let accept = app
        .send(
            Method::GET,
            "/api/v1/stats/coverage?admin_unit=17",
            &[
                ("Authorization", format!("Bearer {reader}")),
                ("Accept", "text/csv".into()),
            ],
            vec![],
        )
        .await;
    assert!(accept
        .header("content-type")
        .unwrap()
        .starts_with("text/csv"));
    let xlsx = app
        .request(
            Method::GET,
            "/api/v1/stats/coverage?admin_unit=17&format=xlsx",
            Some(&reader),
            None,
            vec![],
        )
        .await;
    assert_eq!(xlsx.status.as_u16(), 200);
    assert!(xlsx.body.starts_with(b"PK"), "an XLSX file is a zip");
    app.get("/api/v1/stats/coverage?format=pdf", &reader)
        .await
        .problem(400);
    app.get("/api/v1/stats/coverage?admin_unit=99999", &reader)
        .await
        .problem(404);

    // Officers see their subtree only.
    let officer = app
        .user_token(
            "officer.db",
            "district_officer",
            json!({"admin_unit_code": "150"}),
        )
        .await;
    let own = app.get("/api/v1/stats/coverage", &officer).await.ok(200);
    assert_eq!(counts(&own["total"]), counts(dabac));
    app.get("/api/v1/stats/coverage?admin_unit=148", &officer)
        .await
        .problem(404);
    let donor = app.user_token("donor.x", "donor", json!({})).await;
    app.get("/api/v1/stats/coverage", &donor).await.problem(403);
}

#[actix_rt::test]
async fn the_public_sees_aggregates_with_small_numbers_hidden() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.seed_schools(&admin).await;
    let batch: Vec<Value> = (0..3)
        .map(|i| student(&format!("P{i}"), "TH-DABAC", 2))
        .collect();
    app.sync_students(&admin, "", &batch).await.ok(200);
    app.generate_needs(&admin).await;

    let progress = app
        .request(Method::GET, "/api/v1/public/progress", None, None, vec![])
        .await;
    assert_eq!(
        progress.header("cache-control").as_deref(),
        Some("public, max-age=60")
    );
    let progress = progress.ok(200);
    let province = progress["units"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["admin_unit"] == "17")
        .unwrap();
    assert_eq!(
        (
            province["students"].clone(),
            province["percent_ready"].clone()
        ),
        (json!("<5"), Value::Null)
    );
    let board = app
        .request(
            Method::GET,
            "/api/v1/public/needs-board",
            None,
            None,
            vec![],
        )
        .await
        .ok(200);
    assert_eq!(board[0]["commune"], "04831");
    assert_eq!(board[0]["open_needs"], "<5");
}

/// Open needs on the public board after 3 students, and again after 5 more.
async fn board_before_and_after_more_needs(app: &TestApp) -> (Value, Value) {
    let admin = app.admin_token().await;
    app.seed_schools(&admin).await;
    let board = || async {
        app.request(
            Method::GET,
            "/api/v1/public/needs-board",
            None,
            None,
            vec![],
        )
        .await
        .ok(200)[0]["open_needs"]
            .clone()
    };
    for range in [0..3, 3..8] {
        let batch: Vec<Value> = range
            .map(|i| student(&format!("C{i}"), "TH-DABAC", 2))
            .collect();
        app.sync_students(&admin, "", &batch).await.ok(200);
        app.generate_needs(&admin).await;
        if batch.len() == 3 {
            assert_eq!(board().await, "<5");
        }
    }
    (json!("<5"), board().await)
}

#[actix_rt::test]
async fn public_pages_are_computed_once_per_cache_period() {
    let cached = spawn_app().await;
    assert_eq!(
        board_before_and_after_more_needs(&cached).await,
        (json!("<5"), json!("<5"))
    );
    let uncached = spawn_app_with(|env| {
        env.insert("SONGMAY_PUBLIC_CACHE_SECONDS", "0".into());
    })
    .await;
    assert_eq!(
        board_before_and_after_more_needs(&uncached).await,
        (json!("<5"), json!(8))
    );
}

#[actix_rt::test]
async fn donations_are_public_but_anonymous_donors_stay_anonymous() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let campaign = app
        .post(
            "/api/v1/campaigns",
            Some(&admin),
            &json!({"name": "Thư ngỏ", "starts_on": "2021-09-01"}),
        )
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    app.post(
        &format!("/api/v1/campaigns/{campaign}/status"),
        Some(&admin),
        &json!({"status": "open"}),
    )
    .await
    .ok(200);
    let named = app
        .post(
            "/api/v1/donors",
            Some(&admin),
            &json!({"kind": "organisation", "name": "Công ty Sông Đà", "inside_province": true}),
        )
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    let hidden = app.post("/api/v1/donors", Some(&admin), &json!({"kind": "individual", "name": "Ông Giấu Tên", "inside_province": false, "anonymous_publicly": true})).await.ok(201)["id"].as_i64().unwrap();
    for (donor, reference, amount) in [(named, "FT-A", 5_000_000), (hidden, "FT-B", 2_000_000)] {
        app.post("/api/v1/receipts", Some(&admin), &json!({"campaign_id": campaign, "donor_id": donor, "receipt_type": "donation", "kind": "money", "amount_vnd": amount, "bank_reference": reference, "received_on": "2021-10-01"}))
            .await
            .ok(201);
    }
    let public = app
        .request(Method::GET, "/api/v1/public/donations", None, None, vec![])
        .await
        .ok(200);
    let text = public.to_string();
    assert!(
        text.contains("Công ty Sông Đà")
            && text.contains("Nhà hảo tâm ẩn danh")
            && !text.contains("Giấu Tên"),
        "{text}"
    );
    let trace = app
        .request(
            Method::GET,
            "/api/v1/public/donations/FT-B/trace",
            None,
            None,
            vec![],
        )
        .await
        .ok(200);
    assert_eq!(
        (trace["donor"].as_str(), trace["amount_vnd"].as_i64()),
        (Some("Nhà hảo tâm ẩn danh"), Some(2_000_000))
    );
    assert_eq!(trace["students_reached"], 0);
    app.request(
        Method::GET,
        "/api/v1/public/donations/NOPE/trace",
        None,
        None,
        vec![],
    )
    .await
    .problem(404);

    let reader = app.client_token("stats_reader").await;
    let stats = app
        .get(
            &format!("/api/v1/stats/donations?campaign={campaign}"),
            &reader,
        )
        .await
        .ok(200);
    assert_eq!(
        (
            stats["money_received_vnd"].as_i64(),
            stats["money_balance_vnd"].as_i64()
        ),
        (Some(7_000_000), Some(7_000_000))
    );
}

#[actix_rt::test]
async fn public_pages_are_rate_limited() {
    let app = spawn_app_with(|env| {
        env.insert("SONGMAY_PUBLIC_RATE_BURST", "3".into());
        env.insert("SONGMAY_PUBLIC_RATE_PER_MINUTE", "1".into());
    })
    .await;
    for _ in 0..3 {
        app.request(
            Method::GET,
            "/api/v1/public/needs-board",
            None,
            None,
            vec![],
        )
        .await
        .ok(200);
    }
    app.request(
        Method::GET,
        "/api/v1/public/needs-board",
        None,
        None,
        vec![],
    )
    .await
    .problem(429);
}

/// Crawls every public and statistics endpoint, in every format that is
/// text, after a gift reached a child, and fails if a student's name, birth
/// date, external id or household status shows. Every request must answer
/// 200 (a refusal proves nothing), and every documented public and
/// statistics path must be crawled, so a new one is covered the day it is
/// added.
#[actix_rt::test]
async fn no_personal_data_reaches_public_or_statistics_endpoints() {
    let app = spawn_app().await;
    let s = crate::reporting::reconciliation::story(&app).await;
    let mut batch = Vec::new();
    for i in 0..12 {
        let mut record = student(&format!("PRIV-{i:03}"), "TH-DABAC", 1 + i % 5);
        record["full_name"] = json!(format!("Bí Mật Học Sinh {i:03}"));
        record["birth_date"] = json!(format!("2015-0{}-1{}", 1 + i % 9, i % 10));
        record["household_status"] = json!(if i % 2 == 0 { "near_poor" } else { "poor" });
        batch.push(record);
    }
    app.sync_students(&s.admin, "", &batch).await.ok(200);
    let mut reached = s
        .one_student_and_a_tablet_for_them(&app, "PRIV-REACHED")
        .await;
    reached["full_name"] = json!("Bí Mật Người Nhận");
    app.sync_students(&s.admin, "", std::slice::from_ref(&reached))
        .await
        .ok(200);
    batch.push(reached);
    let handed = s.allocate_and_hand_over(&app, &["device"], || true).await;
    assert_eq!(handed.len(), 1, "the tablet reached the child");
    let receipts = app.get("/api/v1/receipts", &s.admin).await.ok(200);
    let public_ref = receipts["items"][0]["public_ref"]
        .as_str()
        .expect("a public reference")
        .to_owned();

    // A published article, so the public article pages have something to show.
    let article = app
        .post(
            "/api/v1/articles",
            Some(&s.admin),
            &json!({"kind": "news", "title": "Máy tính bảng đã đến trường", "body": "Các em đã nhận máy."}),
        )
        .await
        .ok(201);
    for to in ["review", "published"] {
        app.post(
            &format!("/api/v1/articles/{}/transitions", article["id"]),
            Some(&s.admin),
            &json!({"to": to}),
        )
        .await
        .ok(200);
    }
    let slug = article["slug"].as_str().unwrap().to_owned();
    // A recommended platform a school uses, so the uptake pages count something.
    let partner = app
        .user_token("partner.priv", "tech_partner", json!({}))
        .await;
    let offer = app
        .post(
            "/api/v1/platform-offers",
            Some(&partner),
            &json!({"provider": "Sao Mai", "product": "Lớp học", "kind": "lms", "description": "LMS",
                    "terms": {"pricing": "free", "available_from": "2021-09-01"},
                    "suits": {"levels": ["primary"], "grade_from": 1, "grade_to": 5}}),
        )
        .await
        .ok(201)["id"]
        .clone();
    for to in ["under_review", "recommended"] {
        app.post(
            &format!("/api/v1/platform-offers/{offer}/transitions"),
            Some(&s.admin),
            &json!({"to": to}),
        )
        .await
        .ok(200);
    }
    let school = app
        .get("/api/v1/schools/by-code/TH-DABAC", &s.admin)
        .await
        .ok(200)["id"]
        .clone();
    app.request(
        Method::PUT,
        &format!("/api/v1/schools/{school}/platforms/{offer}"),
        Some(&s.admin),
        Some("application/json"),
        json!({"student_count": 12, "started_on": "2021-10-04"})
            .to_string()
            .into_bytes(),
    )
    .await
    .ok(201);

    let reader = app.client_token("stats_reader").await;
    let requests: Vec<(&str, String)> = vec![
        ("/api/v1/public/articles", "".into()),
        ("/api/v1/public/drives", "".into()),
        ("/api/v1/public/platforms", "".into()),
        ("/api/v1/stats/platforms", "".into()),
        ("/api/v1/stats/safe-devices", "".into()),
        ("/api/v1/stats/safe-devices", "?format=csv".into()),
        ("/api/v1/stats/platforms", "?format=csv".into()),
        ("/api/v1/public/articles.atom", "".into()),
        ("/api/v1/public/articles/{slug}", slug.clone()),
        ("/api/v1/stats/coverage", "".into()),
        ("/api/v1/stats/coverage", "?format=csv".into()),
        ("/api/v1/stats/coverage", "?group_by=grade".into()),
        (
            "/api/v1/stats/coverage",
            "?group_by=school&format=csv".into(),
        ),
        ("/api/v1/stats/donations", "".into()),
        ("/api/v1/stats/donations", "?format=csv".into()),
        ("/api/v1/stats/inventory", "".into()),
        ("/api/v1/stats/inventory", "?format=csv".into()),
        (
            "/api/v1/stats/timeseries",
            "?metric=needs_reported&interval=week".into(),
        ),
        (
            "/api/v1/stats/timeseries",
            "?metric=handovers&interval=month&format=csv".into(),
        ),
        (
            "/api/v1/stats/timeseries",
            "?metric=needs_fulfilled&interval=week".into(),
        ),
        ("/api/v1/public/progress", "".into()),
        ("/api/v1/public/progress", "?admin_unit=150".into()),
        ("/api/v1/public/needs-board", "".into()),
        ("/api/v1/public/donations", "".into()),
        (
            "/api/v1/public/donations/{receipt_ref}/trace",
            public_ref.clone(),
        ),
        ("/api/v1/public/progress/chart", "?admin_unit=150".into()),
        (
            "/api/v1/stats/coverage",
            "?format=svg&group_by=school".into(),
        ),
        ("/api/v1/stats/donations", "?format=svg".into()),
        (
            "/api/v1/stats/timeseries",
            "?metric=handovers&interval=month&format=svg".into(),
        ),
        ("/api/v1/reports/progress", "?period=2021-10".into()),
        (
            "/api/v1/reports/progress",
            "?period=2021-10&format=xlsx".into(),
        ),
        // The public site: pages for people, from the same figures.
        ("/", "".into()),
        ("/", "?lang=en".into()),
        ("/donate", "".into()),
        ("/follow", "".into()),
        ("/follow/{reference}", public_ref.clone()),
        ("/districts/{code}", "150".into()),
        ("/districts/{code}", "04831".into()),
    ];
    let documented: std::collections::BTreeSet<String> = crate::contract::spec()["paths"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|p| {
            p.starts_with("/api/v1/public/")
                || p.starts_with("/api/v1/stats/")
                || p.starts_with("/api/v1/reports/")
                || crate::contract::spec()["paths"][p.as_str()]["get"]["tags"]
                    .as_array()
                    .is_some_and(|tags| tags.iter().any(|t| t == "site"))
        })
        .cloned()
        .collect();
    let crawled: std::collections::BTreeSet<String> =
        requests.iter().map(|(t, _)| t.to_string()).collect();
    assert_eq!(
        crawled, documented,
        "every public and statistics path is crawled"
    );
    for (template, query) in &requests {
        let path = if let Some(start) = template.find('{') {
            // A path parameter: `query` is its value.
            let end = template.find('}').unwrap();
            format!("{}{query}{}", &template[..start], &template[end + 1..])
        } else {
            format!("{template}{query}")
        };
        let token = (template.starts_with("/api/v1/stats/")
            || template.starts_with("/api/v1/reports/"))
        .then_some(reader.as_str());
        let reply = app.request(Method::GET, &path, token, None, vec![]).await;
        assert_eq!(
            reply.status.as_u16(),
            200,
            "{path}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        let text = String::from_utf8_lossy(&reply.body).to_string();
        for record in &batch {
            for field in ["full_name", "birth_date", "external_id"] {
                let value = record[field].as_str().unwrap();
                assert!(!text.contains(value), "{path} shows {field}");
            }
        }
        assert!(
            !text.contains("near_poor") && !text.contains("household"),
            "{path} shows household status"
        );
        if *template == "/follow/{reference}" {
            assert!(
                text.contains("data-figure=\"students_reached\">&lt;5<"),
                "the site protects the count like the API"
            );
        }
        if template.ends_with("/trace") {
            let trace = reply.json();
            assert_eq!(trace["students_reached"], "<5", "{trace}");
        }
    }
}

#[actix_rt::test]
async fn time_series_count_from_events() {
    let app = spawn_app().await;
    let (admin, _) = roster(&app).await;
    let reader = app.client_token("stats_reader").await;
    let series = app
        .get(
            "/api/v1/stats/timeseries?metric=needs_reported&interval=week",
            &reader,
        )
        .await
        .ok(200);
    let needs = app.all_pages("/api/v1/needs?limit=500", &admin).await;
    let total: usize = needs
        .iter()
        .map(|p| p["items"].as_array().unwrap().len())
        .sum();
    let points = series["points"].as_array().unwrap();
    assert_eq!(
        points.last().unwrap()["cumulative"].as_i64().unwrap(),
        total as i64
    );
    let monday =
        chrono::NaiveDate::parse_from_str(points[0]["period"].as_str().unwrap(), "%Y-%m-%d")
            .unwrap();
    assert_eq!(chrono::Datelike::weekday(&monday), chrono::Weekday::Mon);
    app.get(
        "/api/v1/stats/timeseries?metric=nothing&interval=week",
        &reader,
    )
    .await
    .problem(400);
    let inventory = app.get("/api/v1/stats/inventory", &reader).await.ok(200);
    assert_eq!(inventory["waiting_for_wipe"], 0);
}

/// The whole country's coverage (summed per province in the database) has
/// one row per province, each equal to that province's own figures, with
/// or without a level filter: a three-level province (Hòa Bình: schools in
/// communes and districts) and a two-level one as after the 2025 reform,
/// with a school in a commune and one placed at the province itself.
#[actix_rt::test]
async fn the_whole_country_is_its_provinces_each_as_counted_alone() {
    let app = spawn_app().await;
    let (admin, _) = roster(&app).await;
    let units = "code,parent_code,level,name\n\
                 98,,province,Tỉnh Thử Nghiệm\n\
                 98001,98,commune,Phường Một\n";
    app.request(
        Method::POST,
        "/api/v1/admin-units/import",
        Some(&admin),
        Some("text/csv; charset=utf-8"),
        units.as_bytes().to_vec(),
    )
    .await
    .ok(200);
    let schools = json!([
        {"moet_code": "TH-98", "name": "Trường Một", "admin_unit_code": "98001", "level": "primary"},
        {"moet_code": "THPT-98", "name": "Trường Tỉnh", "admin_unit_code": "98", "level": "upper_secondary"},
    ]);
    app.post("/api/v1/sync/schools", Some(&admin), &schools)
        .await
        .ok(200);
    let roster: Vec<Value> = (0..9)
        .map(|i| {
            let (school, grade) = if i % 3 == 0 {
                ("THPT-98", 11)
            } else {
                ("TH-98", 2)
            };
            let mut s = student(&format!("C-{i}"), school, grade);
            s["device_status"] = json!(if i % 2 == 0 { "adequate" } else { "none" });
            s["connectivity_status"] = json!(if i % 4 == 0 { "none" } else { "fixed" });
            s
        })
        .collect();
    app.sync_students(&admin, "", &roster).await.ok(200);
    app.generate_needs(&admin).await;
    let reader = app.client_token("stats_reader").await;

    let figures = |row: &Value| {
        let mut row = row.as_object().unwrap().clone();
        row.remove("key");
        row.remove("name");
        row
    };
    for level in ["", "level=primary"] {
        let country = app
            .get(&format!("/api/v1/stats/coverage?{level}"), &reader)
            .await
            .ok(200);
        let rows = country["rows"].as_array().unwrap();
        let keys: Vec<&str> = rows.iter().map(|r| r["key"].as_str().unwrap()).collect();
        assert_eq!(keys, ["17", "98"], "{level}");
        let mut students = 0;
        for row in rows {
            let key = row["key"].as_str().unwrap();
            let alone = app
                .get(
                    &format!("/api/v1/stats/coverage?admin_unit={key}&{level}"),
                    &reader,
                )
                .await
                .ok(200);
            assert_eq!(figures(row), figures(&alone["total"]), "{key} {level}");
            assert_eq!(row["name"], alone["total"]["name"]);
            students += row["students"].as_i64().unwrap();
        }
        assert_eq!(country["total"]["students"].as_i64().unwrap(), students);
    }
    let by_98 = app
        .get("/api/v1/stats/coverage?admin_unit=98", &reader)
        .await
        .ok(200);
    assert_eq!(by_98["total"]["students"], json!(9));
}

/// Coverage asked by many at once is computed once per batch of callers
/// (`platform::shared_reads`), yet a request that follows its own write
/// always counts that write: while six readers keep asking for the whole
/// country, a student is added ten times and each following read counts
/// every student added so far: an answer kept for later callers (a cache)
/// would miss the write. That a caller never joins a computation already
/// under way is pinned with a controlled clock by the unit tests of
/// `src/platform/shared_reads.rs` (here computations take a millisecond,
/// too short to catch it reliably).
#[actix_rt::test]
async fn coverage_asked_by_many_at_once_still_counts_the_callers_own_write() {
    let token = "a-metrics-token-of-some-length";
    let app = spawn_app_with(|env| {
        env.insert("SONGMAY_METRICS_TOKEN", token.into());
    })
    .await;
    let (admin, batch) = roster(&app).await;
    let reader = app.client_token("stats_reader").await;
    let joined = || async {
        let text = app
            .request_with_auth_header("/metrics", &format!("Bearer {token}"))
            .await
            .body;
        let text = String::from_utf8(text).unwrap();
        text.lines()
            .find_map(|line| {
                line.strip_prefix(r#"songmay_shared_reads_total{outcome="joined"}"#)?
                    .trim()
                    .parse::<f64>()
                    .ok()
            })
            .unwrap_or(0.0)
    };
    let joined_before = joined().await;
    let writing = std::sync::atomic::AtomicBool::new(true);
    let readers = futures_util::future::join_all((0..6).map(|_| async {
        while writing.load(std::sync::atomic::Ordering::SeqCst) {
            let country = app.get("/api/v1/stats/coverage", &reader).await.ok(200);
            assert!(country["total"]["students"].as_i64().unwrap() >= batch.len() as i64);
        }
    }));
    let writer = async {
        for i in 0..10 {
            let added = student(&format!("AT-ONCE-{i}"), "TH-DABAC", 4);
            app.sync_students(&admin, "", &[added]).await.ok(200);
            let country = app.get("/api/v1/stats/coverage", &reader).await.ok(200);
            assert_eq!(
                country["total"]["students"].as_i64().unwrap(),
                (batch.len() + i + 1) as i64,
                "the read after write {i} misses it"
            );
        }
        writing.store(false, std::sync::atomic::Ordering::SeqCst);
    };
    futures_util::future::join(readers, writer).await;
    assert!(
        joined().await > joined_before,
        "no request shared a computation: the test did not test sharing"
    );
}
