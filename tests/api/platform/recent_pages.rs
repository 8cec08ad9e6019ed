//! List pages kept for a moment (`SONGMAY_LIST_CACHE_MS`,
//! `src/platform/http/recent_pages.rs`): served again only to the caller
//! who asked, forgotten at every write this instance answers, and never
//! older than the setting.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, student, TestApp};

/// Six students, three in each of two districts (Đà Bắc 150 and Hòa Bình
/// city 148), each with an open device need; returns the admin's token
/// and the schools' ids by code.
async fn roster(app: &TestApp) -> (String, HashMap<String, i64>) {
    let admin = app.admin_token().await;
    let schools = app.seed_schools(&admin).await;
    let batch: Vec<Value> = (0..6)
        .map(|i| {
            if i % 2 == 0 {
                student(&format!("KEPT-{i}"), "TH-DABAC", 2)
            } else {
                student(&format!("KEPT-{i}"), "THPT-TP", 11)
            }
        })
        .collect();
    app.sync_students(&admin, "", &batch).await.ok(200);
    app.generate_needs(&admin).await;
    (admin, schools)
}

/// Moves a need through `base` (this instance or another one).
async fn verify(base: &str, token: &str, id: i64) {
    let answer = awc::Client::default()
        .post(format!("{base}/api/v1/needs/{id}/transitions"))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .send_json(&json!({"to": "verified"}))
        .await
        .expect("the transition is answered")
        .status();
    assert_eq!(answer.as_u16(), 200);
}

fn status_of(page: &Value, id: i64) -> String {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|need| need["id"] == id)
        .map(|need| need["status"].as_str().unwrap().to_owned())
        .expect("the need is on the page")
}

#[actix_rt::test]
async fn a_page_is_kept_for_its_caller_until_a_write_through_this_instance() {
    let app = spawn_app_with(|env| {
        env.insert("SONGMAY_LIST_CACHE_MS", "5000".into());
    })
    .await;
    let elsewhere = app.start_replica(|_| {});
    let (admin, _) = roster(&app).await;
    let path = "/api/v1/needs?kind=device&limit=50";
    let before = app.get(path, &admin).await.ok(200);
    assert_eq!(before["items"].as_array().unwrap().len(), 6, "{before}");
    let first = before["items"][0]["id"].as_i64().unwrap();
    let second = before["items"][1]["id"].as_i64().unwrap();

    // A write through another instance: this one serves its kept page
    // (for at most the setting), but reads the record itself afresh.
    verify(&elsewhere, &admin, first).await;
    let kept = app.get(path, &admin).await.ok(200);
    assert_eq!(kept, before, "the page was kept");
    let record = app
        .get(&format!("/api/v1/needs/{first}"), &admin)
        .await
        .ok(200);
    assert_eq!(record["status"], "verified", "a record is never kept");

    // A write answered here ends every kept page: both moves show.
    verify(&app.base, &admin, second).await;
    let after = app.get(path, &admin).await.ok(200);
    assert_eq!(status_of(&after, first), "verified");
    assert_eq!(status_of(&after, second), "verified");
}

#[actix_rt::test]
async fn a_page_is_read_afresh_once_the_setting_has_passed() {
    let app = spawn_app_with(|env| {
        env.insert("SONGMAY_LIST_CACHE_MS", "300".into());
    })
    .await;
    let elsewhere = app.start_replica(|_| {});
    let (admin, _) = roster(&app).await;
    let path = "/api/v1/needs?kind=device&limit=50";
    let before = app.get(path, &admin).await.ok(200);
    let first = before["items"][0]["id"].as_i64().unwrap();
    assert_eq!(status_of(&before, first), "reported");
    verify(&elsewhere, &admin, first).await;
    actix_rt::time::sleep(Duration::from_millis(400)).await;
    let after = app.get(path, &admin).await.ok(200);
    assert_eq!(status_of(&after, first), "verified");
}

#[actix_rt::test]
async fn a_kept_page_is_never_served_to_another_caller() {
    let app = spawn_app_with(|env| {
        env.insert("SONGMAY_LIST_CACHE_MS", "5000".into());
    })
    .await;
    let (admin, schools) = roster(&app).await;
    let officer = app
        .user_token(
            "officer.kept",
            "district_officer",
            json!({"admin_unit_code": "150"}),
        )
        .await;
    let staff = app
        .user_token(
            "staff.kept",
            "school_staff",
            json!({"school_id": schools["THPT-TP"]}),
        )
        .await;
    let donor = app.user_token("donor.kept", "donor", json!({})).await;
    let schools_on = |page: &Value| -> Vec<i64> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["school_id"].as_i64().unwrap())
            .collect()
    };
    for path in [
        "/api/v1/students?limit=100",
        "/api/v1/needs?kind=device&limit=100",
    ] {
        // Each caller twice: the second answer is the kept one.
        for _ in 0..2 {
            let everyone = app.get(path, &admin).await.ok(200);
            assert_eq!(schools_on(&everyone).len(), 6, "{path}: {everyone}");
            let district = app.get(path, &officer).await.ok(200);
            assert_eq!(
                schools_on(&district),
                vec![schools["TH-DABAC"]; 3],
                "{path}: the officer sees Đà Bắc only"
            );
            let school = app.get(path, &staff).await.ok(200);
            assert_eq!(
                schools_on(&school),
                vec![schools["THPT-TP"]; 3],
                "{path}: the staff see their school only"
            );
            app.get(path, &donor).await.problem(403);
        }
    }
}
