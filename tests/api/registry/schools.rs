use actix_web::http::Method;
use serde_json::json;

use crate::helpers::{column, query_escape, spawn_app};

#[actix_rt::test]
async fn schools_are_created_found_and_filtered() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let created = app
        .post(
            "/api/v1/schools",
            Some(&admin),
            &json!({"moet_code": "17150999", "name": "Trường Tiểu học Đà Bắc", "admin_unit_code": "04831", "level": "primary", "has_mobile_coverage": true}),
        )
        .await;
    let school = created.ok(201);
    assert_eq!(created.header("etag").as_deref(), Some("\"1\""));
    assert_eq!(school["active"], true);
    assert_eq!(school["has_fixed_internet"], false);
    let id = school["id"].as_i64().unwrap();

    assert_eq!(
        app.get(&format!("/api/v1/schools/{id}"), &admin)
            .await
            .ok(200)["moet_code"],
        "17150999"
    );
    assert_eq!(
        app.get("/api/v1/schools/by-code/17150999", &admin)
            .await
            .ok(200)["id"],
        id
    );
    app.get("/api/v1/schools/by-code/nope", &admin)
        .await
        .problem(404);
    app.get("/api/v1/schools/99999", &admin).await.problem(404);

    app.seed_schools(&admin).await;
    let in_dabac = app
        .get("/api/v1/schools?admin_unit=150", &admin)
        .await
        .ok(200);
    assert_eq!(
        column(&in_dabac, "moet_code"),
        vec!["17150999", "TH-DABAC", "THCS-DABAC"]
    );
    let primary = app
        .get("/api/v1/schools?level=primary", &admin)
        .await
        .ok(200);
    assert_eq!(
        column(&primary, "moet_code"),
        vec!["17150999", "TH-DABAC", "TH-THAIBINH"]
    );
    let by_name = app
        .get(
            &format!("/api/v1/schools?q={}", query_escape("TIỂU HỌC đà")),
            &admin,
        )
        .await
        .ok(200);
    assert_eq!(
        column(&by_name, "moet_code"),
        vec!["17150999"],
        "case-insensitive, with diacritics"
    );
    let wildcard = app.get("/api/v1/schools?q=%25", &admin).await.ok(200);
    assert_eq!(
        column(&wildcard, "moet_code"),
        Vec::<String>::new(),
        "% is matched literally"
    );
    app.get("/api/v1/schools?admin_unit=00000", &admin)
        .await
        .problem(404);

    // Every role reads schools.
    let donor = app.user_token("donor.a", "donor", json!({})).await;
    app.get("/api/v1/schools?admin_unit=148", &donor)
        .await
        .ok(200);
}

#[actix_rt::test]
async fn school_writes_are_checked() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let ids = app.seed_schools(&admin).await;
    let body = |code: &str, unit: &str| json!({"moet_code": code, "name": "Trường Mới", "admin_unit_code": unit, "level": "multi"});

    app.post("/api/v1/schools", Some(&admin), &body("TH-DABAC", "150"))
        .await
        .problem(409);
    let problem = app
        .post("/api/v1/schools", Some(&admin), &body("NEW-1", "00000"))
        .await
        .problem(422);
    assert_eq!(problem["errors"][0]["field"], "admin_unit_code");

    // A district officer of Đà Bắc works inside Đà Bắc only.
    let officer = app
        .user_token(
            "officer.db",
            "district_officer",
            json!({"admin_unit_code": "150"}),
        )
        .await;
    app.post("/api/v1/schools", Some(&officer), &body("NEW-DB", "04831"))
        .await
        .ok(201);
    app.post("/api/v1/schools", Some(&officer), &body("NEW-TP", "04789"))
        .await
        .problem(422);
    let city_school = ids["TH-THAIBINH"];
    app.patch(
        &format!("/api/v1/schools/{city_school}"),
        &officer,
        &json!({"name": "Đổi tên"}),
    )
    .await
    .problem(404);
    let own = ids["TH-DABAC"];
    app.patch(
        &format!("/api/v1/schools/{own}"),
        &officer,
        &json!({"admin_unit_code": "04789"}),
    )
    .await
    .problem(422);
    let staff_school = app
        .user_token("staff.x", "school_staff", json!({"school_id": own}))
        .await;
    app.post(
        "/api/v1/schools",
        Some(&staff_school),
        &body("NEW-X", "04831"),
    )
    .await
    .problem(403);

    // Optimistic concurrency.
    let stale = app
        .request(
            Method::PATCH,
            &format!("/api/v1/schools/{own}"),
            Some(&officer),
            Some("application/json"),
            br#"{"has_fixed_internet":true}"#.to_vec(),
        )
        .await;
    assert_eq!(stale.ok(200)["version"], 2);
    let reply = app
        .patch_if_match(
            &format!("/api/v1/schools/{own}"),
            &officer,
            "\"1\"",
            &json!({"active": false}),
        )
        .await;
    assert!(reply.problem(412)["detail"]
        .as_str()
        .unwrap()
        .contains("version is 2"));
    let reply = app
        .patch_if_match(
            &format!("/api/v1/schools/{own}"),
            &officer,
            "\"2\"",
            &json!({"active": false}),
        )
        .await;
    assert_eq!(reply.ok(200)["version"], 3);
    // Patching nothing new keeps the version.
    let same = app
        .patch(
            &format!("/api/v1/schools/{own}"),
            &officer,
            &json!({"active": false}),
        )
        .await
        .ok(200);
    assert_eq!(same["version"], 3);

    let users = app.post("/api/v1/users", Some(&admin), &json!({"username": "staff.bad", "password": "a long passphrase", "role": "school_staff", "school_id": 424242})).await;
    assert_eq!(users.problem(422)["errors"][0]["code"], "unknown");
}

#[actix_rt::test]
async fn school_sync_reports_bad_records_and_keeps_identical_ones() {
    let app = spawn_app().await;
    let sync = app.client_token("sync_client").await;
    let batch = json!([
        {"moet_code": "S1", "name": "Một", "admin_unit_code": "150", "level": "primary"},
        {"moet_code": "S2", "name": "Hai", "admin_unit_code": "99999", "level": "primary"},
        {"moet_code": "S3", "name": "Ba", "admin_unit_code": "150", "level": "kindergarten"},
        {"moet_code": "S1", "name": "Một lần nữa", "admin_unit_code": "150", "level": "primary"},
        {"moet_code": "S4", "name": "Bốn", "admin_unit_code": "148", "level": "multi"}
    ]);
    let report = app
        .post("/api/v1/sync/schools", Some(&sync), &batch)
        .await
        .ok(200);
    assert_eq!(
        (report["inserted"].as_i64(), report["rejected"].as_i64()),
        (Some(1), Some(4))
    );
    let rejected: Vec<(i64, String)> = report["rejected_rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["index"].as_i64().unwrap(),
                r["errors"][0]["field"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rejected,
        vec![
            (0, "moet_code".into()),
            (1, "admin_unit_code".into()),
            (2, "level".into()),
            (3, "moet_code".into())
        ]
    );
    let again = app.post("/api/v1/sync/schools", Some(&sync), &json!([{"moet_code": "S4", "name": "Bốn", "admin_unit_code": "148", "level": "multi"}])).await.ok(200);
    assert_eq!(again["unchanged"], 1);
    let school = app.get("/api/v1/schools/by-code/S4", &sync).await.ok(200);
    assert_eq!(school["version"], 1);
}
