mod coverage;
pub mod coverage_counts;
use serde_json::{json, Value};

use crate::helpers::{column, spawn_app, student, TestApp};

/// Schools and a roster; returns (admin token, ids of students by external id).
async fn setup(app: &TestApp) -> (String, std::collections::HashMap<String, i64>) {
    let admin = app.admin_token().await;
    app.seed_schools(&admin).await;
    let mut poor_no_device = student("N-POOR", "TH-DABAC", 2);
    poor_no_device["household_status"] = json!("poor");
    poor_no_device["device_status"] = json!("none");
    poor_no_device["connectivity_status"] = json!("none");
    let mut other_inadequate = student("N-OTHER", "THCS-DABAC", 9);
    other_inadequate["household_status"] = json!("other");
    other_inadequate["device_status"] = json!("inadequate");
    other_inadequate["connectivity_status"] = json!("mobile_ok");
    let mut city_ok = student("N-CITY", "TH-THAIBINH", 3);
    city_ok["device_status"] = json!("adequate");
    city_ok["connectivity_status"] = json!("fixed");
    let mut city_shared = student("N-CITY-2", "TH-THAIBINH", 4);
    city_shared["device_status"] = json!("shared");
    city_shared["connectivity_status"] = json!("mobile_ok");
    app.sync_students(
        &admin,
        "",
        &[poor_no_device, other_inadequate, city_ok, city_shared],
    )
    .await
    .ok(200);
    let all = app.get("/api/v1/students", &admin).await.ok(200);
    let ids = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["external_id"].as_str().unwrap().to_owned(),
                s["id"].as_i64().unwrap(),
            )
        })
        .collect();
    (admin, ids)
}

async fn move_need(
    app: &TestApp,
    token: &str,
    id: i64,
    to: &str,
    reason: Option<&str>,
) -> crate::helpers::Reply {
    let mut body = json!({"to": to});
    if let Some(reason) = reason {
        body["reason"] = json!(reason);
    }
    app.post(
        &format!("/api/v1/needs/{id}/transitions"),
        Some(token),
        &body,
    )
    .await
}

#[actix_rt::test]
async fn a_need_is_reported_scored_and_moved_through_its_workflow() {
    let app = spawn_app().await;
    let (admin, students) = setup(&app).await;
    let officer = app
        .user_token(
            "officer.db",
            "district_officer",
            json!({"admin_unit_code": "150"}),
        )
        .await;
    let staff_school = app
        .get("/api/v1/schools/by-code/TH-DABAC", &admin)
        .await
        .ok(200)["id"]
        .as_i64()
        .unwrap();
    let staff = app
        .user_token(
            "staff.db",
            "school_staff",
            json!({"school_id": staff_school}),
        )
        .await;

    let reply = app.post("/api/v1/needs", Some(&staff), &json!({"kind": "device", "student_id": students["N-POOR"], "note": "no phone at home"})).await;
    let need = reply.ok(201);
    assert_eq!(need["status"], "reported");
    assert_eq!(need["admin_unit_code"], "04831");
    assert_eq!(
        need["priority"],
        30 + 25,
        "connection rules do not count for a device need"
    );
    assert_eq!(
        column(&json!({"items": need["priority_reasons"]}), "rule"),
        vec!["household_poor", "no_device"]
    );
    let id = need["id"].as_i64().unwrap();

    // One open need per student and kind.
    let dup = app
        .post(
            "/api/v1/needs",
            Some(&officer),
            &json!({"kind": "device", "student_id": students["N-POOR"]}),
        )
        .await;
    assert!(dup.problem(409)["detail"]
        .as_str()
        .unwrap()
        .contains(&id.to_string()));

    move_need(&app, &staff, id, "verified", None)
        .await
        .problem(403);
    let skipped = move_need(&app, &officer, id, "approved", None)
        .await
        .problem(409);
    assert!(
        skipped["detail"]
            .as_str()
            .unwrap()
            .contains("verified, rejected, cancelled"),
        "{skipped}"
    );
    move_need(&app, &officer, id, "allocated", None)
        .await
        .problem(409);
    assert_eq!(
        move_need(&app, &officer, id, "verified", None)
            .await
            .ok(200)["status"],
        "verified"
    );
    assert_eq!(
        move_need(&app, &officer, id, "approved", None)
            .await
            .ok(200)["status"],
        "approved"
    );
    move_need(&app, &officer, id, "rejected", None)
        .await
        .problem(422);
    move_need(&app, &officer, id, "rejected", Some("   "))
        .await
        .problem(422);
    move_need(
        &app,
        &staff,
        id,
        "cancelled",
        Some("the family bought a laptop"),
    )
    .await
    .ok(200);
    let closed = move_need(&app, &admin, id, "approved", None)
        .await
        .problem(409);
    assert!(
        closed["detail"].as_str().unwrap().contains("none"),
        "{closed}"
    );

    let events = app
        .get(&format!("/api/v1/needs/{id}/events"), &officer)
        .await
        .ok(200);
    let steps: Vec<(Value, Value, Value)> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["from_status"].clone(),
                e["to_status"].clone(),
                e["actor"].clone(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        vec![
            (Value::Null, json!("reported"), json!("user:staff.db")),
            (
                json!("reported"),
                json!("verified"),
                json!("user:officer.db")
            ),
            (
                json!("verified"),
                json!("approved"),
                json!("user:officer.db")
            ),
            (
                json!("approved"),
                json!("cancelled"),
                json!("user:staff.db")
            ),
        ]
    );
    assert_eq!(events[3]["reason"], "the family bought a laptop");

    // Cancelled, the student may get a new device need.
    app.post(
        "/api/v1/needs",
        Some(&staff),
        &json!({"kind": "device", "student_id": students["N-POOR"]}),
    )
    .await
    .ok(201);
}

#[actix_rt::test]
async fn needs_stay_inside_the_callers_scope() {
    let app = spawn_app().await;
    let (admin, students) = setup(&app).await;
    let city_school = app
        .get("/api/v1/schools/by-code/TH-THAIBINH", &admin)
        .await
        .ok(200)["id"]
        .as_i64()
        .unwrap();
    let staff = app
        .user_token(
            "staff.tp",
            "school_staff",
            json!({"school_id": city_school}),
        )
        .await;
    let officer = app
        .user_token(
            "officer.db",
            "district_officer",
            json!({"admin_unit_code": "150"}),
        )
        .await;

    app.post(
        "/api/v1/needs",
        Some(&staff),
        &json!({"kind": "device", "student_id": students["N-POOR"]}),
    )
    .await
    .problem_naming(422, "student_id", "unknown");
    let own = app
        .post(
            "/api/v1/needs",
            Some(&staff),
            &json!({"kind": "device", "student_id": students["N-CITY-2"]}),
        )
        .await
        .ok(201);
    let id = own["id"].as_i64().unwrap();
    app.get(&format!("/api/v1/needs/{id}"), &officer)
        .await
        .problem(404);
    move_need(&app, &officer, id, "verified", None)
        .await
        .problem(404);
    app.get(&format!("/api/v1/needs/{id}/events"), &officer)
        .await
        .problem(404);

    let lab = app.post("/api/v1/needs", Some(&staff), &json!({"kind": "device", "school_id": city_school, "quantity": 20, "note": "computer lab"})).await.ok(201);
    assert_eq!(
        (lab["student_id"].clone(), lab["quantity"].clone()),
        (Value::Null, json!(20))
    );
    app.post(
        "/api/v1/needs",
        Some(&staff),
        &json!({"kind": "data_package", "school_id": city_school}),
    )
    .await
    .problem(422);
    app.post("/api/v1/needs", Some(&staff), &json!({"kind": "device"}))
        .await
        .problem(422);
    let dabac = app
        .get("/api/v1/schools/by-code/TH-DABAC", &admin)
        .await
        .ok(200)["id"]
        .as_i64()
        .unwrap();
    app.post(
        "/api/v1/needs",
        Some(&staff),
        &json!({"kind": "device", "school_id": dabac}),
    )
    .await
    .problem_naming(422, "school_id", "unknown");

    for role in ["donor", "warehouse_officer"] {
        let token = app.user_token(&format!("u.{role}"), role, json!({})).await;
        app.get("/api/v1/needs", &token).await.problem(403);
        app.post(
            "/api/v1/needs",
            Some(&token),
            &json!({"kind": "device", "school_id": city_school}),
        )
        .await
        .problem(403);
    }
    let listed = app.get("/api/v1/needs", &staff).await.ok(200);
    assert_eq!(listed["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        app.get("/api/v1/needs", &officer).await.ok(200)["items"],
        json!([])
    );
}

#[actix_rt::test]
async fn generating_twice_creates_nothing_new() {
    let app = spawn_app().await;
    let (admin, _) = setup(&app).await;
    let officer = app
        .user_token(
            "officer.db",
            "district_officer",
            json!({"admin_unit_code": "150"}),
        )
        .await;

    let first = app
        .post(
            "/api/v1/needs/generate",
            Some(&officer),
            &json!({"admin_unit_code": "150"}),
        )
        .await
        .ok(200);
    // N-POOR: device + connectivity; N-OTHER: device (inadequate).
    assert_eq!(
        first,
        json!({"students": 2, "created": 3, "already_open": 0})
    );
    let second = app
        .post(
            "/api/v1/needs/generate",
            Some(&officer),
            &json!({"admin_unit_code": "150"}),
        )
        .await
        .ok(200);
    assert_eq!(
        second,
        json!({"students": 2, "created": 0, "already_open": 3})
    );

    app.post(
        "/api/v1/needs/generate",
        Some(&officer),
        &json!({"admin_unit_code": "148"}),
    )
    .await
    .problem_naming(422, "admin_unit_code", "unknown");
    app.post("/api/v1/needs/generate", Some(&officer), &json!({}))
        .await
        .problem(422);
    let whole = app
        .post(
            "/api/v1/needs/generate",
            Some(&admin),
            &json!({"admin_unit_code": "17"}),
        )
        .await
        .ok(200);
    assert_eq!(
        (whole["created"].as_i64(), whole["already_open"].as_i64()),
        (Some(0), Some(3)),
        "N-CITY-2 only shares a device"
    );

    let needs = app.get("/api/v1/needs", &admin).await.ok(200);
    let priorities: Vec<i64> = needs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["priority"].as_i64().unwrap())
        .collect();
    assert!(
        priorities.windows(2).all(|w| w[0] >= w[1]),
        "highest priority first: {priorities:?}"
    );
    let events = app
        .get(
            &format!("/api/v1/needs/{}/events", needs["items"][0]["id"]),
            &admin,
        )
        .await
        .ok(200);
    assert_eq!(events[0]["reason"], "generated from the student records");
}

#[actix_rt::test]
async fn a_lockdown_flag_and_a_rule_change_rescore_open_needs() {
    let app = spawn_app().await;
    let (admin, _) = setup(&app).await;
    app.generate_needs(&admin).await;
    let before = app.get("/api/v1/needs?kind=device", &admin).await.ok(200);
    let other = before["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["school_level"] == "lower_secondary")
        .unwrap()
        .clone();
    assert_eq!(
        other["priority"],
        12 + 10,
        "inadequate device, exam grade 9"
    );

    let today = chrono::Utc::now().date_naive();
    let flag = json!({"lockdown": true, "lockdown_from": today.to_string(), "lockdown_until": (today + chrono::Days::new(30)).to_string(), "note": "Chỉ thị 16"});
    let officer_city = app
        .user_token(
            "officer.tp",
            "district_officer",
            json!({"admin_unit_code": "148"}),
        )
        .await;
    app.request(
        actix_web::http::Method::PUT,
        "/api/v1/admin-units/150/flags",
        Some(&officer_city),
        Some("application/json"),
        flag.to_string().into_bytes(),
    )
    .await
    .problem(404);
    let set = app
        .request(
            actix_web::http::Method::PUT,
            "/api/v1/admin-units/150/flags",
            Some(&admin),
            Some("application/json"),
            flag.to_string().into_bytes(),
        )
        .await
        .ok(200);
    assert_eq!(set["rescored"], 3, "every open need of Đà Bắc");
    let after = app
        .get(&format!("/api/v1/needs/{}", other["id"]), &admin)
        .await
        .ok(200);
    assert_eq!(after["priority"], 50 + 12 + 10);
    assert_eq!(after["priority_reasons"][0]["rule"], "lockdown_area");
    assert_eq!(
        app.get("/api/v1/admin-units/04831/flags", &admin)
            .await
            .ok(200)["lockdown"],
        false,
        "the flag is on 150 itself"
    );

    let past =
        json!({"lockdown": true, "lockdown_from": "2021-07-19", "lockdown_until": "2021-09-30"});
    let reset = app
        .request(
            actix_web::http::Method::PUT,
            "/api/v1/admin-units/150/flags",
            Some(&admin),
            Some("application/json"),
            past.to_string().into_bytes(),
        )
        .await
        .ok(200);
    assert_eq!(
        reset["rescored"], 3,
        "a lockdown that ended no longer counts"
    );
    let backwards =
        json!({"lockdown": true, "lockdown_from": "2021-09-30", "lockdown_until": "2021-07-19"});
    app.request(
        actix_web::http::Method::PUT,
        "/api/v1/admin-units/150/flags",
        Some(&admin),
        Some("application/json"),
        backwards.to_string().into_bytes(),
    )
    .await
    .problem(422);

    let rule = app
        .request(
            actix_web::http::Method::PUT,
            "/api/v1/priority-rules/exam_grade",
            Some(&admin),
            Some("application/json"),
            br#"{"points": 40}"#.to_vec(),
        )
        .await
        .ok(200);
    assert_eq!(rule["rescored"], 1);
    assert_eq!(
        app.get(&format!("/api/v1/needs/{}", other["id"]), &admin)
            .await
            .ok(200)["priority"],
        12 + 40
    );
    let rules = app
        .get("/api/v1/priority-rules", &officer_city)
        .await
        .ok(200);
    assert_eq!(rules.as_array().unwrap().len(), 9);
    app.request(
        actix_web::http::Method::PUT,
        "/api/v1/priority-rules/exam_grade",
        Some(&officer_city),
        Some("application/json"),
        br#"{"points": 1}"#.to_vec(),
    )
    .await
    .problem(403);
    app.request(
        actix_web::http::Method::PUT,
        "/api/v1/priority-rules/nope",
        Some(&admin),
        Some("application/json"),
        br#"{"points": 1}"#.to_vec(),
    )
    .await
    .problem(404);
}

#[actix_rt::test]
async fn two_officers_approving_at_once_one_wins() {
    let app = spawn_app().await;
    let (admin, students) = setup(&app).await;
    let need = app
        .post(
            "/api/v1/needs",
            Some(&admin),
            &json!({"kind": "device", "student_id": students["N-OTHER"]}),
        )
        .await
        .ok(201);
    let id = need["id"].as_i64().unwrap();
    move_need(&app, &admin, id, "verified", None).await.ok(200);
    let first = app
        .user_token(
            "officer.one",
            "district_officer",
            json!({"admin_unit_code": "150"}),
        )
        .await;
    let second = app
        .user_token(
            "officer.two",
            "district_officer",
            json!({"admin_unit_code": "17"}),
        )
        .await;

    for round in 0..3 {
        let (a, b) = futures_util::future::join(
            move_need(&app, &first, id, "approved", None),
            move_need(&app, &second, id, "approved", None),
        )
        .await;
        let mut statuses = vec![a.status.as_u16(), b.status.as_u16()];
        statuses.sort();
        if round == 0 {
            assert_eq!(statuses, vec![200, 409], "exactly one approval wins");
        } else {
            assert_eq!(statuses, vec![409, 409]);
        }
    }
    let events = app
        .get(&format!("/api/v1/needs/{id}/events"), &admin)
        .await
        .ok(200);
    assert_eq!(
        events
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["to_status"] == "approved")
            .count(),
        1
    );
}

#[actix_rt::test]
async fn officers_verify_in_bulk_and_the_summary_adds_up() {
    let app = spawn_app().await;
    let (admin, _) = setup(&app).await;
    app.generate_needs(&admin).await;
    let officer = app
        .user_token(
            "officer.db",
            "district_officer",
            json!({"admin_unit_code": "150"}),
        )
        .await;
    let city_school = app
        .get("/api/v1/schools/by-code/TH-THAIBINH", &admin)
        .await
        .ok(200)["id"]
        .as_i64()
        .unwrap();
    let city_need = app
        .post(
            "/api/v1/needs",
            Some(&admin),
            &json!({"kind": "connectivity", "school_id": city_school}),
        )
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    let mine: Vec<i64> = app.get("/api/v1/needs", &officer).await.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_i64().unwrap())
        .collect();
    assert_eq!(mine.len(), 3);

    let mut ids = mine.clone();
    ids.push(city_need);
    ids.push(999_999);
    let report = app
        .post(
            "/api/v1/needs/transitions",
            Some(&officer),
            &json!({"ids": ids, "to": "verified"}),
        )
        .await
        .ok(200);
    assert_eq!(
        (report["succeeded"].as_i64(), report["failed"].as_i64()),
        (Some(3), Some(2))
    );
    let statuses: Vec<i64> = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_i64().unwrap())
        .collect();
    assert_eq!(statuses, vec![200, 200, 200, 404, 404]);
    let again = app
        .post(
            "/api/v1/needs/transitions",
            Some(&officer),
            &json!({"ids": mine, "to": "verified"}),
        )
        .await
        .ok(200);
    assert_eq!(again["items"][0]["status"], 409);
    assert_eq!(again["items"][0]["need_status"], "verified");
    let too_many: Vec<i64> = (0..1001).collect();
    app.post(
        "/api/v1/needs/transitions",
        Some(&officer),
        &json!({"ids": too_many, "to": "verified"}),
    )
    .await
    .problem(422);

    // The summary counts what the rows say.
    let reader = app.client_token("stats_reader").await;
    let province = app.get("/api/v1/needs/summary", &reader).await.ok(200);
    assert_eq!(province["total"], 4);
    let district = app
        .get("/api/v1/needs/summary?admin_unit=150", &reader)
        .await
        .ok(200);
    assert_eq!(district["total"], 3);
    let verified_primary = district["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["kind"] == "device" && c["status"] == "verified" && c["school_level"] == "primary"
        })
        .unwrap();
    assert_eq!(verified_primary["count"], 1);
    let own = app.get("/api/v1/needs/summary", &officer).await.ok(200);
    assert_eq!(
        (own["admin_unit"].as_str(), own["total"].as_i64()),
        (Some("150"), Some(3))
    );
    app.get("/api/v1/needs/summary?admin_unit=148", &officer)
        .await
        .problem(404);
    let text = province.to_string();
    assert!(
        !text.contains("Nguyễn") && !text.contains("student"),
        "aggregates only: {text}"
    );
    let donor = app.user_token("donor.x", "donor", json!({})).await;
    app.get("/api/v1/needs/summary", &donor).await.problem(403);

    // The officer's CSV holds their three needs, highest priority first, no names.
    let csv = app
        .request(
            actix_web::http::Method::GET,
            "/api/v1/needs/export",
            Some(&officer),
            None,
            vec![],
        )
        .await;
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    let text = String::from_utf8(csv.body).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4);
    assert!(lines[0].starts_with("\u{feff}id,kind,status,priority,reasons"));
    assert!(lines[1].contains(",55,household_poor;no_device,"), "{text}");
    assert!(
        lines[2].contains(",50,household_poor;no_connection,"),
        "{text}"
    );
    assert!(!text.contains("Nguyễn"));
    app.request(
        actix_web::http::Method::GET,
        "/api/v1/needs/export",
        Some(&donor),
        None,
        vec![],
    )
    .await
    .problem(403);
}

/// A district's needs, paged a few at a time (read unit by unit on
/// PostgreSQL), come in priority order (ties: oldest first) with every
/// need of the district's units exactly once, filtered or not, for an
/// officer of the district and for an admin asking for it. The same holds
/// for the province. On PostgreSQL this pages both forms of the query: a
/// branch per unit (`needs::queries::UnitPagesMerged`: the district's first
/// page, no filter or a status or a kind) and one statement over an array
/// of codes (later pages; the province's more than 32 units; a priority
/// range or a school).
#[actix_rt::test]
async fn a_districts_needs_page_in_priority_order_with_each_need_once() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.seed_schools(&admin).await;
    let households = ["poor", "near_poor", "other"];
    let devices = ["none", "inadequate", "none"];
    let schools = ["TH-DABAC", "THCS-DABAC", "TH-THAIBINH", "THPT-TP"];
    let roster: Vec<Value> = (0..72)
        .map(|i| {
            let mut s = student(&format!("P-{i:03}"), schools[i % 4], 1 + (i % 9) as i64);
            s["household_status"] = json!(households[i % 3]);
            s["device_status"] = json!(devices[(i / 3) % 3]);
            s["connectivity_status"] = json!(if i % 2 == 0 { "none" } else { "fixed" });
            s
        })
        .collect();
    app.sync_students(&admin, "", &roster).await.ok(200);
    app.generate_needs(&admin).await;
    let officer = app
        .user_token(
            "officer.paging",
            "district_officer",
            json!({"admin_unit_code": "150"}),
        )
        .await;

    // Half of the needs verified, so that a status filter leaves some out.
    let reported: Vec<i64> = app.get("/api/v1/needs?limit=500", &admin).await.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_i64().unwrap())
        .step_by(2)
        .collect();
    let moved = app
        .post(
            "/api/v1/needs/transitions",
            Some(&admin),
            &json!({"ids": reported, "to": "verified"}),
        )
        .await
        .ok(200);
    assert_eq!(moved["failed"], 0, "{moved}");

    // Every need, read in one page, and the district's units (150 and its communes).
    let everything: Vec<Value> = app.get("/api/v1/needs?limit=500", &admin).await.ok(200)["items"]
        .as_array()
        .unwrap()
        .clone();
    let mut district: std::collections::HashSet<String> = app
        .all_pages("/api/v1/admin-units?parent_code=150&limit=100", &admin)
        .await
        .iter()
        .flat_map(|page| page["items"].as_array().unwrap().clone())
        .map(|unit| unit["code"].as_str().unwrap().to_owned())
        .collect();
    district.insert("150".to_owned());
    assert!(
        district.contains("04831"),
        "Đà Bắc's communes: {district:?}"
    );

    // The province's subtree: its districts and their communes.
    let mut province_units = 1;
    for district_unit in app
        .all_pages("/api/v1/admin-units?parent_code=17&limit=100", &admin)
        .await
        .iter()
        .flat_map(|page| page["items"].as_array().unwrap().clone())
    {
        let code = district_unit["code"].as_str().unwrap();
        province_units += 1 + app
            .all_pages(
                &format!("/api/v1/admin-units?parent_code={code}&limit=100"),
                &admin,
            )
            .await
            .iter()
            .map(|page| page["items"].as_array().unwrap().len())
            .sum::<usize>();
    }
    assert!(province_units > 64, "Hòa Bình has {province_units} units");

    let mut priorities: Vec<i64> = everything
        .iter()
        .map(|n| n["priority"].as_i64().unwrap())
        .collect();
    priorities.sort_unstable();
    let middle = priorities[priorities.len() / 2];
    let school = everything
        .iter()
        .find(|n| n["admin_unit_code"] == "04831")
        .expect("a need at Đà Bắc's primary school")["school_id"]
        .as_i64()
        .unwrap();
    type Keep = Box<dyn Fn(&Value) -> bool>;
    let filters: Vec<(String, Keep)> = vec![
        (String::new(), Box::new(|_| true)),
        ("&kind=device".into(), Box::new(|n| n["kind"] == "device")),
        (
            "&status=reported".into(),
            Box::new(|n| n["status"] == "reported"),
        ),
        (
            "&status=verified".into(),
            Box::new(|n| n["status"] == "verified"),
        ),
        (
            "&status=verified&kind=device".into(),
            Box::new(|n| n["status"] == "verified" && n["kind"] == "device"),
        ),
        (
            "&kind=connectivity".into(),
            Box::new(|n| n["kind"] == "connectivity"),
        ),
        (
            format!("&priority_min={middle}"),
            Box::new(move |n| n["priority"].as_i64().unwrap() >= middle),
        ),
        (
            format!("&priority_max={middle}"),
            Box::new(move |n| n["priority"].as_i64().unwrap() <= middle),
        ),
        (
            format!("&school_id={school}"),
            Box::new(move |n| n["school_id"] == school),
        ),
    ];
    for (filter, keep) in &filters {
        let ordered = |unit_in_area: &dyn Fn(&str) -> bool| -> Vec<i64> {
            let mut chosen: Vec<&Value> = everything
                .iter()
                .filter(|n| unit_in_area(n["admin_unit_code"].as_str().unwrap()))
                .filter(|n| keep(n))
                .collect();
            chosen.sort_by_key(|n| (-n["priority"].as_i64().unwrap(), n["id"].as_i64().unwrap()));
            chosen.iter().map(|n| n["id"].as_i64().unwrap()).collect()
        };
        let expected = ordered(&|unit| district.contains(unit));
        assert!(
            expected.len() > 6,
            "too few needs to page through ({filter})"
        );
        // Every seeded school is in Hòa Bình province (17), two of them
        // outside the district.
        let in_province = ordered(&|_| true);
        if filter.is_empty() {
            assert!(in_province.len() > expected.len());
        }
        let paged: Vec<i64> = app
            .all_pages(
                &format!("/api/v1/needs?admin_unit=17&limit=3{filter}"),
                &admin,
            )
            .await
            .iter()
            .flat_map(|page| page["items"].as_array().unwrap().clone())
            .map(|n| n["id"].as_i64().unwrap())
            .collect();
        assert_eq!(paged, in_province, "province: {filter}");
        for (who, token, path) in [
            (
                "officer",
                &officer,
                format!("/api/v1/needs?limit=3{filter}"),
            ),
            (
                "admin",
                &admin,
                format!("/api/v1/needs?admin_unit=150&limit=3{filter}"),
            ),
            (
                "officer asking",
                &officer,
                format!("/api/v1/needs?admin_unit=150&limit=3{filter}"),
            ),
        ] {
            let paged: Vec<i64> = app
                .all_pages(&path, token)
                .await
                .iter()
                .flat_map(|page| page["items"].as_array().unwrap().clone())
                .map(|n| n["id"].as_i64().unwrap())
                .collect();
            assert_eq!(paged, expected, "{who}: {path}");
        }
    }
}
