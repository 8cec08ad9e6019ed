use serde_json::json;

use crate::helpers::{column, spawn_app};

#[actix_rt::test]
async fn operators_report_progress_and_officers_confirm() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let viettel = app
        .post(
            "/api/v1/operators",
            Some(&admin),
            &json!({"code": "viettel", "name": "Viettel Hòa Bình"}),
        )
        .await
        .ok(201);
    let vnpt = app
        .post(
            "/api/v1/operators",
            Some(&admin),
            &json!({"code": "vnpt", "name": "VNPT Hòa Bình"}),
        )
        .await
        .ok(201);
    app.post(
        "/api/v1/operators",
        Some(&admin),
        &json!({"code": "vnpt", "name": "again"}),
    )
    .await
    .problem(409);
    let (viettel, vnpt) = (
        viettel["id"].as_i64().unwrap(),
        vnpt["id"].as_i64().unwrap(),
    );
    let schools = app.seed_schools(&admin).await;

    let officer = app
        .user_token(
            "officer.db",
            "district_officer",
            json!({"admin_unit_code": "150"}),
        )
        .await;
    let gap = app
        .post(
            "/api/v1/coverage-gaps",
            Some(&officer),
            &json!({"admin_unit_code": "04840", "place_name": "Xóm Bưa", "latitude": 20.88, "longitude": 105.1,
                    "school_ids": [schools["TH-DABAC"]], "students_affected": 42, "operator_id": viettel}),
        )
        .await
        .ok(201);
    assert_eq!(
        (gap["status"].as_str(), gap["school_ids"].clone()),
        (Some("open"), json!([schools["TH-DABAC"]]))
    );
    let gap = gap["id"].as_i64().unwrap();
    app.post(
        "/api/v1/coverage-gaps",
        Some(&officer),
        &json!({"admin_unit_code": "04789", "place_name": "Tổ 5"}),
    )
    .await
    .problem(422);
    app.post(
        "/api/v1/coverage-gaps",
        Some(&officer),
        &json!({"admin_unit_code": "04840", "place_name": "X", "school_ids": [4242]}),
    )
    .await
    .problem(422);
    let city_gap = app
        .post(
            "/api/v1/coverage-gaps",
            Some(&admin),
            &json!({"admin_unit_code": "04789", "place_name": "Tổ 5", "operator_id": vnpt}),
        )
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();

    app.post(
        "/api/v1/users",
        Some(&admin),
        &json!({"username": "tel.x", "password": "a long passphrase", "role": "telecom"}),
    )
    .await
    .problem(422);
    let telecom = app
        .user_token("tel.viettel", "telecom", json!({"operator_id": viettel}))
        .await;
    // Telecom users work with gaps, never with students or needs.
    app.get("/api/v1/students", &telecom).await.problem(403);
    app.get("/api/v1/needs", &telecom).await.problem(403);
    let mine = app.get("/api/v1/coverage-gaps", &telecom).await.ok(200);
    assert_eq!(column(&mine, "id"), vec![gap.to_string()]);
    app.get(&format!("/api/v1/coverage-gaps/{city_gap}"), &telecom)
        .await
        .problem(404);
    let go = |to: &str, date: Option<&str>| {
        let mut body = json!({"to": to});
        if let Some(date) = date {
            body["date"] = json!(date);
        }
        body
    };
    let path = format!("/api/v1/coverage-gaps/{gap}/transitions");
    app.post(
        &format!("/api/v1/coverage-gaps/{city_gap}/transitions"),
        Some(&telecom),
        &go("planned", Some("2026-12-01")),
    )
    .await
    .problem(404);
    app.post(&path, Some(&telecom), &go("planned", None))
        .await
        .problem(422);
    app.post(&path, Some(&telecom), &go("covered", None))
        .await
        .problem(409);
    app.post(&path, Some(&officer), &go("planned", Some("2026-12-01")))
        .await
        .problem(403);
    assert_eq!(
        app.post(&path, Some(&telecom), &go("planned", Some("2026-12-01")))
            .await
            .ok(200)["planned_for"],
        "2026-12-01"
    );
    app.post(
        &path,
        Some(&telecom),
        &go("in_progress", Some("2026-12-02")),
    )
    .await
    .ok(200);
    let covered = app
        .post(&path, Some(&telecom), &go("covered", Some("2026-12-20")))
        .await
        .ok(200);
    assert_eq!(
        (covered["status"].as_str(), covered["covered_on"].as_str()),
        (Some("covered"), Some("2026-12-20"))
    );
    app.post(&path, Some(&telecom), &go("confirmed", None))
        .await
        .problem(403);
    let officer_city = app
        .user_token(
            "officer.tp",
            "district_officer",
            json!({"admin_unit_code": "148"}),
        )
        .await;
    app.post(&path, Some(&officer_city), &go("confirmed", None))
        .await
        .problem(404);
    let confirmed = app
        .post(&path, Some(&officer), &go("confirmed", None))
        .await
        .ok(200);
    assert_eq!(
        (
            confirmed["status"].as_str(),
            confirmed["confirmed_by"].as_str()
        ),
        (Some("confirmed"), Some("user:officer.db"))
    );
    app.post(&path, Some(&admin), &go("open", None))
        .await
        .problem(409);

    // Officers see their subtree, statistics readers everything, others nothing.
    assert_eq!(
        column(
            &app.get("/api/v1/coverage-gaps", &officer_city)
                .await
                .ok(200),
            "id"
        ),
        vec![city_gap.to_string()]
    );
    let reader = app.client_token("stats_reader").await;
    assert_eq!(
        app.get("/api/v1/coverage-gaps?status=open", &reader)
            .await
            .ok(200)["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let donor = app.user_token("donor.x", "donor", json!({})).await;
    app.get("/api/v1/coverage-gaps", &donor).await.problem(403);
    assert_eq!(
        app.get("/api/v1/operators", &donor).await.ok(200)["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Reassigning moves the gap to the other operator's list; an edit based
    // on an old read (If-Match) is refused.
    let gap_path = format!("/api/v1/coverage-gaps/{city_gap}");
    let read = app.get(&gap_path, &admin).await.ok(200)["version"].clone();
    let moved = app
        .patch_if_match(
            &gap_path,
            &admin,
            &format!("\"{read}\""),
            &json!({"operator_id": viettel}),
        )
        .await
        .ok(200);
    assert_eq!(moved["operator_id"], viettel);
    app.patch_if_match(
        &gap_path,
        &admin,
        &format!("\"{read}\""),
        &json!({"students_affected": 1}),
    )
    .await
    .problem(412);
    assert_eq!(
        app.get("/api/v1/coverage-gaps", &telecom).await.ok(200)["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    app.patch(
        &format!("/api/v1/coverage-gaps/{city_gap}"),
        &telecom,
        &json!({"operator_id": vnpt}),
    )
    .await
    .problem(403);
    app.patch(
        &format!("/api/v1/coverage-gaps/{city_gap}"),
        &admin,
        &json!({"operator_id": 999}),
    )
    .await
    .problem(422);
}
