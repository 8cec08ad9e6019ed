use actix_web::http::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, student, TestApp};
use crate::needs::coverage_counts::assert_counts_match_rows;

/// A valid IMEI: 14 digits and their Luhn check digit.
fn imei(n: u64) -> String {
    let body = format!("35693803{n:06}");
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = (b - b'0') as u32;
            if i % 2 == 0 {
                let x = d * 2;
                x / 10 + x % 10
            } else {
                d
            }
        })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}

struct World {
    admin: String,
    officer: String,
    warehouse_officer: String,
    staff: String,
    warehouse: i64,
    city_warehouse: i64,
    receipt: i64,
    approved: Vec<i64>,
}

/// `students` poor students without devices at TH-DABAC (Đà Bắc) with
/// approved device needs, a pledge of tablets earmarked for Đà Bắc and its
/// receipt of `tablets`, a warehouse in Đà Bắc (with its officer) and one in the city.
async fn world(app: &TestApp, students: usize, tablets: i64) -> World {
    let admin = app.admin_token().await;
    let schools = app.seed_schools(&admin).await;
    let roster: Vec<Value> = (0..students)
        .map(|i| student(&format!("D{i:03}"), "TH-DABAC", 1 + (i % 5) as i64))
        .collect();
    app.sync_students(&admin, "", &roster).await.ok(200);
    let officer = app
        .user_token(
            "officer.db",
            "district_officer",
            json!({"admin_unit_code": "150"}),
        )
        .await;
    app.post(
        "/api/v1/needs/generate",
        Some(&officer),
        &json!({"admin_unit_code": "150"}),
    )
    .await;
    let needs = app
        .get("/api/v1/needs?kind=device&limit=500", &officer)
        .await
        .ok(200);
    let ids: Vec<i64> = needs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_i64().unwrap())
        .collect();
    for to in ["verified", "approved"] {
        app.post(
            "/api/v1/needs/transitions",
            Some(&officer),
            &json!({"ids": ids, "to": to}),
        )
        .await
        .ok(200);
    }
    let staff = app
        .user_token(
            "staff.db",
            "school_staff",
            json!({"school_id": schools["TH-DABAC"]}),
        )
        .await;

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
    let donor = app
        .post(
            "/api/v1/donors",
            Some(&admin),
            &json!({"kind": "organisation", "name": "Công ty Sông Đà", "inside_province": true}),
        )
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    let pledge = app
        .post("/api/v1/pledges", Some(&admin), &json!({"donor_id": donor, "campaign_id": campaign, "kind": "device", "device_type": "tablet", "quantity": tablets, "device_condition": "used", "earmark_admin_unit": "150"}))
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    let warehouse_officer = app
        .user_token("kho.db", "warehouse_officer", json!({}))
        .await;
    let receipt = app
        .post("/api/v1/receipts", Some(&warehouse_officer), &json!({"campaign_id": campaign, "pledge_id": pledge, "receipt_type": "donation", "kind": "device", "device_type": "tablet", "quantity": tablets, "received_on": "2021-10-05"}))
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    let warehouse = app
        .post(
            "/api/v1/warehouses",
            Some(&admin),
            &json!({"name": "Kho Đà Bắc", "admin_unit_code": "150"}),
        )
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    let city_warehouse = app
        .post(
            "/api/v1/warehouses",
            Some(&admin),
            &json!({"name": "Kho Thành phố", "admin_unit_code": "148"}),
        )
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    let users = app
        .get("/api/v1/users?role=warehouse_officer", &admin)
        .await
        .ok(200);
    let kho = users["items"][0]["id"].as_i64().unwrap();
    app.request(
        Method::POST,
        &format!("/api/v1/warehouses/{warehouse}/officers"),
        Some(&admin),
        Some("application/json"),
        json!({"user_id": kho}).to_string().into_bytes(),
    )
    .await;
    World {
        admin,
        officer,
        warehouse_officer,
        staff,
        warehouse,
        city_warehouse,
        receipt,
        approved: ids,
    }
}

/// Verifies and approves one need.
async fn approve(app: &TestApp, token: &str, need: i64) {
    for to in ["verified", "approved"] {
        app.post(
            &format!("/api/v1/needs/{need}/transitions"),
            Some(token),
            &json!({"to": to}),
        )
        .await
        .ok(200);
    }
}

/// Registers `n` used tablets and makes them ready (checked and wiped).
async fn ready_tablets(app: &TestApp, w: &World, n: u64) -> Vec<i64> {
    let devices: Vec<Value> = (0..n)
        .map(|i| json!({"serial": format!("TAB-{i:04}"), "imei": imei(i)}))
        .collect();
    let intake = app
        .post("/api/v1/inventory/intake", Some(&w.warehouse_officer), &json!({"receipt_id": w.receipt, "warehouse_id": w.warehouse, "condition": "used_good", "devices": devices}))
        .await
        .ok(201);
    let ids: Vec<i64> = intake["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    let profile = app.device_profile().await;
    for id in &ids {
        app.post(
            &format!("/api/v1/inventory/items/{id}/check"),
            Some(&w.warehouse_officer),
            &json!({"wiped": true, "condition": "used_good", "profile": {"version": profile}}),
        )
        .await
        .ok(200);
        app.post(
            &format!("/api/v1/inventory/items/{id}/transitions"),
            Some(&w.warehouse_officer),
            &json!({"to": "ready"}),
        )
        .await
        .ok(200);
    }
    ids
}

#[actix_rt::test]
async fn a_donated_tablet_reaches_a_child() {
    let app = spawn_app().await;
    let w = world(&app, 3, 2).await;

    let intake = app
        .post("/api/v1/inventory/intake", Some(&w.warehouse_officer), &json!({"receipt_id": w.receipt, "warehouse_id": w.warehouse, "condition": "used_good", "devices": [{"serial": "TAB-1", "imei": imei(1)}]}))
        .await
        .ok(201);
    let item = intake["items"][0]["id"].as_i64().unwrap();
    assert_eq!(
        (
            intake["items"][0]["status"].as_str(),
            intake["items"][0]["earmark_admin_unit"].as_str()
        ),
        (Some("intake"), Some("150"))
    );
    let path = format!("/api/v1/inventory/items/{item}/transitions");
    assert!(app
        .post(&path, Some(&w.warehouse_officer), &json!({"to": "ready"}))
        .await
        .problem(409)["detail"]
        .as_str()
        .unwrap()
        .contains("wipe"));
    app.post(
        &format!("/api/v1/inventory/items/{item}/check"),
        Some(&w.warehouse_officer),
        &json!({"wiped": false, "condition": "used_good"}),
    )
    .await
    .problem(422);
    let profile = app.device_profile().await;
    let checked = app
        .post(
            &format!("/api/v1/inventory/items/{item}/check"),
            Some(&w.warehouse_officer),
            &json!({"wiped": true, "condition": "used_good", "profile": {"version": profile}}),
        )
        .await
        .ok(200);
    assert_eq!(checked["checked_by"], "user:kho.db");
    app.post(&path, Some(&w.warehouse_officer), &json!({"to": "ready"}))
        .await
        .ok(200);

    // A dry run plans without writing; the real run allocates by priority.
    let dry = app
        .post(
            "/api/v1/allocations/run",
            Some(&w.officer),
            &json!({"admin_unit": "150", "kinds": ["device"], "dry_run": true}),
        )
        .await
        .ok(200);
    assert_eq!(
        (
            dry["matches"].as_array().unwrap().len(),
            dry["unmatched"].as_array().unwrap().len()
        ),
        (1, 2)
    );
    assert_eq!(dry["allocation_ids"], json!([]));
    assert!(dry["unmatched"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("no ready device"));
    let run = app
        .post(
            "/api/v1/allocations/run",
            Some(&w.officer),
            &json!({"admin_unit": "150", "kinds": ["device"]}),
        )
        .await
        .ok(200);
    assert_eq!(
        run["matches"], dry["matches"],
        "the run does what the dry run planned"
    );
    let need = run["matches"][0]["need_id"].as_i64().unwrap();
    assert_eq!(
        app.get(&format!("/api/v1/needs/{need}"), &w.officer)
            .await
            .ok(200)["status"],
        "allocated"
    );
    assert_eq!(
        app.get(
            &format!("/api/v1/inventory/items/{item}"),
            &w.warehouse_officer
        )
        .await
        .ok(200)["status"],
        "reserved"
    );

    let stock = app
        .get(
            &format!("/api/v1/inventory/stock?warehouse={}", w.warehouse),
            &w.warehouse_officer,
        )
        .await
        .ok(200);
    assert_eq!(
        stock,
        json!([{"warehouse_id": w.warehouse, "stock": "device:tablet", "status": "reserved", "count": 1}])
    );

    // The school hands it to the child's mother.
    let allocation = run["allocation_ids"][0].as_i64().unwrap();
    // From a school with a weak signal the app retries with the same key:
    // the handover is recorded once and the retry gets the first answer.
    let body = json!({"allocation_id": allocation, "received_by_name": "Đinh Thị Mẹ", "relation": "parent", "handed_on": "2021-10-25", "acknowledged": true});
    let key = format!("handover-{allocation}");
    let hand_over = || app.post_with_key("/api/v1/handovers", &w.staff, &key, &body);
    let handover = hand_over().await.ok(201);
    let retry = hand_over().await;
    assert_eq!(retry.header("idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(retry.ok(201), handover);
    assert_eq!(handover["trace"]["receipt_id"], w.receipt);
    // Traceable to the pledge and donor the receipt was recorded against.
    let receipt = app
        .get(&format!("/api/v1/receipts/{}", w.receipt), &w.admin)
        .await
        .ok(200);
    assert_eq!(
        handover["trace"]["pledge_id"], receipt["pledge_id"],
        "{handover}"
    );
    assert_eq!(
        handover["trace"]["donor_id"], receipt["donor_id"],
        "{handover}"
    );
    assert!(receipt["pledge_id"].is_i64(), "{receipt}");
    assert_eq!(
        app.get(&format!("/api/v1/needs/{need}"), &w.officer)
            .await
            .ok(200)["status"],
        "fulfilled"
    );
    assert_eq!(
        app.get(
            &format!("/api/v1/inventory/items/{item}"),
            &w.warehouse_officer
        )
        .await
        .ok(200)["status"],
        "handed_over"
    );
    let before = app.row_counts();
    let twice = app.post("/api/v1/handovers", Some(&w.staff), &json!({"allocation_id": allocation, "received_by_name": "X", "relation": "student", "handed_on": "2021-10-26", "acknowledged": true}))
        .await
        .problem(409);
    assert!(
        twice["detail"]
            .as_str()
            .unwrap()
            .contains("is handed_over, not active"),
        "{twice}"
    );
    // A handed-over device cannot be allocated again.
    let other_need = w.approved.iter().find(|n| **n != need).copied().unwrap();
    let again = app
        .post(
            "/api/v1/allocations",
            Some(&w.officer),
            &json!({"need_id": other_need, "item_id": item}),
        )
        .await
        .problem(409);
    assert!(
        again["detail"]
            .as_str()
            .unwrap()
            .contains("handed_over, not ready"),
        "{again}"
    );
    app.assert_nothing_written(
        &before,
        "a second handover and a second allocation of one device",
    );
    let audit = app
        .get("/api/v1/audit-log?entity=handover", &w.admin)
        .await
        .ok(200)
        .to_string();
    assert!(!audit.contains("Đinh Thị Mẹ"), "no names in the audit log");

    // It comes back: returned, and checked again before anyone else gets it.
    let back = app
        .post(
            &format!("/api/v1/handovers/{}/return", handover["id"]),
            Some(&w.staff),
            &json!({"reason": "the family moved"}),
        )
        .await
        .ok(200);
    assert!(back["returned_on"].is_string());
    assert_eq!(
        app.get(
            &format!("/api/v1/inventory/items/{item}"),
            &w.warehouse_officer
        )
        .await
        .ok(200)["status"],
        "returned"
    );
    app.post(&path, Some(&w.warehouse_officer), &json!({"to": "ready"}))
        .await
        .problem(409);
    // Checked and wiped again, but without the profile it is not ready:
    // a return clears the profile as it clears the check.
    app.post(
        &format!("/api/v1/inventory/items/{item}/check"),
        Some(&w.warehouse_officer),
        &json!({"wiped": true, "condition": "used_good"}),
    )
    .await
    .ok(200);
    app.post(&path, Some(&w.warehouse_officer), &json!({"to": "ready"}))
        .await
        .problem(409);
    app.post(
        &format!("/api/v1/inventory/items/{item}/check"),
        Some(&w.warehouse_officer),
        &json!({"wiped": true, "condition": "used_good", "profile": {"version": profile}}),
    )
    .await
    .ok(200);
    app.post(&path, Some(&w.warehouse_officer), &json!({"to": "ready"}))
        .await
        .ok(200);
    let stock = app
        .get(
            "/api/v1/inventory/stock?admin_unit=150",
            &w.warehouse_officer,
        )
        .await
        .ok(200);
    assert_eq!(
        stock,
        json!([{"warehouse_id": w.warehouse, "stock": "device:tablet", "status": "ready", "count": 1}])
    );
    assert_counts_match_rows(&app, &w.admin, "allocation, handover and return").await;
}

/// A school app lists its own handovers and opens any allocation of its
/// needs by id; a district officer elsewhere sees neither (404, an empty
/// list), and the filters narrow the list as named.
#[actix_rt::test]
async fn handovers_and_allocations_are_listed_and_read_in_scope() {
    let app = spawn_app().await;
    let w = world(&app, 2, 2).await;
    let items = ready_tablets(&app, &w, 2).await;
    let mut allocations = Vec::new();
    for (need, item) in w.approved.iter().zip(&items) {
        let allocation = app
            .post(
                "/api/v1/allocations",
                Some(&w.officer),
                &json!({"need_id": need, "item_id": item}),
            )
            .await
            .ok(201);
        allocations.push(allocation["id"].as_i64().unwrap());
    }
    let handed = app
        .post("/api/v1/handovers", Some(&w.staff), &json!({"allocation_id": allocations[0], "received_by_name": "Đinh Thị Mẹ", "relation": "parent", "handed_on": "2021-10-25", "acknowledged": true}))
        .await
        .ok(201);
    let elsewhere = app
        .user_token(
            "officer.city",
            "district_officer",
            json!({"admin_unit_code": "148"}),
        )
        .await;

    // A need links to what serves it: its allocation, then its handover.
    let fulfilled = app
        .get(&format!("/api/v1/needs/{}", w.approved[0]), &w.staff)
        .await
        .ok(200);
    assert_eq!(
        (
            fulfilled["status"].as_str(),
            fulfilled["allocation_id"].as_i64(),
            fulfilled["handover_id"].as_i64()
        ),
        (
            Some("fulfilled"),
            Some(allocations[0]),
            handed["id"].as_i64()
        )
    );
    let allocated = app
        .get("/api/v1/needs?status=allocated", &w.officer)
        .await
        .ok(200)["items"][0]
        .clone();
    assert_eq!(
        (
            allocated["id"].as_i64(),
            allocated["allocation_id"].as_i64(),
            allocated["handover_id"].clone()
        ),
        (Some(w.approved[1]), Some(allocations[1]), Value::Null)
    );

    // One allocation by id, for those who see its need.
    for token in [&w.admin, &w.officer, &w.staff] {
        let one = app
            .get(&format!("/api/v1/allocations/{}", allocations[1]), token)
            .await
            .ok(200);
        assert_eq!(
            (
                one["id"].as_i64(),
                one["need_id"].as_i64(),
                one["status"].as_str()
            ),
            (Some(allocations[1]), Some(w.approved[1]), Some("active"))
        );
    }
    app.get(
        &format!("/api/v1/allocations/{}", allocations[1]),
        &elsewhere,
    )
    .await
    .problem(404);
    app.get("/api/v1/allocations/99999999", &w.admin)
        .await
        .problem(404);
    app.get(
        &format!("/api/v1/allocations/{}", allocations[1]),
        &w.warehouse_officer,
    )
    .await
    .problem(403);

    // The school's handovers, with their trace.
    let page = app.get("/api/v1/handovers", &w.staff).await.ok(200);
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1), "{page}");
    assert_eq!(page["items"][0], handed);
    assert!(page["next_cursor"].is_null());
    assert_eq!(page["items"][0]["trace"]["receipt_id"], w.receipt);
    let count = |path: String, token: String| {
        let app = &app;
        async move {
            app.get(&path, &token).await.ok(200)["items"]
                .as_array()
                .map(Vec::len)
                .unwrap()
        }
    };
    let a = allocations[0];
    let cases = [
        (
            format!("/api/v1/handovers?allocation_id={a}"),
            &w.officer,
            1,
        ),
        (
            format!("/api/v1/handovers?allocation_id={}", allocations[1]),
            &w.officer,
            0,
        ),
        (
            format!("/api/v1/handovers?need_id={}", w.approved[0]),
            &w.admin,
            1,
        ),
        ("/api/v1/handovers?returned=false".to_owned(), &w.admin, 1),
        ("/api/v1/handovers?returned=true".to_owned(), &w.admin, 0),
        ("/api/v1/handovers?admin_unit=150".to_owned(), &w.admin, 1),
        ("/api/v1/handovers?admin_unit=148".to_owned(), &w.admin, 0),
        ("/api/v1/handovers".to_owned(), &elsewhere, 0),
    ];
    for (path, token, expected) in cases {
        assert_eq!(count(path.clone(), token.clone()).await, expected, "{path}");
    }
    app.get("/api/v1/handovers?admin_unit=99999", &w.admin)
        .await
        .problem(404);
    app.get("/api/v1/handovers", &w.warehouse_officer)
        .await
        .problem(403);

    // A cancelled allocation serves nothing: the need is approved again, unlinked.
    app.post(
        &format!("/api/v1/allocations/{}/cancel", allocations[1]),
        Some(&w.officer),
        &json!({"reason": "the family moved away"}),
    )
    .await
    .ok(200);
    let approved = app
        .get(&format!("/api/v1/needs/{}", w.approved[1]), &w.officer)
        .await
        .ok(200);
    assert_eq!(
        (
            approved["status"].as_str(),
            approved["allocation_id"].clone()
        ),
        (Some("approved"), Value::Null)
    );

    // Once the device comes back, the filter follows.
    app.post(
        &format!("/api/v1/handovers/{}/return", handed["id"]),
        Some(&w.staff),
        &json!({"reason": "chuyển trường"}),
    )
    .await
    .ok(200);
    assert_eq!(
        count(
            "/api/v1/handovers?returned=true".to_owned(),
            w.admin.clone()
        )
        .await,
        1
    );
    assert_eq!(
        count(
            "/api/v1/handovers?returned=false".to_owned(),
            w.admin.clone()
        )
        .await,
        0
    );
}

#[actix_rt::test]
async fn stock_rules_hold() {
    let app = spawn_app().await;
    let w = world(&app, 2, 5).await;
    // Bad IMEIs and duplicates refuse the whole intake.
    let bad = app
        .post(
            "/api/v1/inventory/intake",
            Some(&w.warehouse_officer),
            &json!({"receipt_id": w.receipt, "warehouse_id": w.warehouse, "condition": "new",
            "devices": [{"serial": "A"}, {"serial": "A"}, {"imei": "356938035643808"}, {}]}),
        )
        .await;
    let problem = bad.problem(422);
    let codes: Vec<(i64, String)> = problem["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["index"].as_i64().unwrap(),
                r["errors"][0]["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        codes,
        vec![
            (1, "duplicate".into()),
            (2, "check_digit".into()),
            (3, "required".into())
        ]
    );
    assert_eq!(
        app.get("/api/v1/inventory/items", &w.warehouse_officer)
            .await
            .ok(200)["items"],
        json!([]),
        "nothing half-written"
    );
    let csv = format!(
        "serial,imei,model\nC-1,{},Galaxy Tab A7\nC-2,,Galaxy Tab A7\n",
        imei(77)
    );
    let via_csv = app
        .request(
            Method::POST,
            &format!(
                "/api/v1/inventory/intake/csv?receipt_id={}&warehouse_id={}&condition=new",
                w.receipt, w.warehouse
            ),
            Some(&w.warehouse_officer),
            Some("text/csv"),
            csv.into_bytes(),
        )
        .await
        .ok(201);
    assert_eq!(via_csv["registered"], 2);
    let ids: Vec<i64> = via_csv["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    let again = app
        .post("/api/v1/inventory/intake", Some(&w.warehouse_officer), &json!({"receipt_id": w.receipt, "warehouse_id": w.warehouse, "condition": "new", "devices": [{"serial": "C-1"}]}))
        .await;
    assert_eq!(
        again.problem(422)["rows"][0]["errors"][0]["code"],
        "duplicate"
    );
    let too_many: Vec<Value> = (0..4)
        .map(|i| json!({"serial": format!("X-{i}")}))
        .collect();
    app.post("/api/v1/inventory/intake", Some(&w.warehouse_officer), &json!({"receipt_id": w.receipt, "warehouse_id": w.warehouse, "condition": "new", "devices": too_many}))
        .await
        .problem(422);

    // Another warehouse's officer sees nothing of this one.
    let other = app
        .user_token("kho.tp", "warehouse_officer", json!({}))
        .await;
    app.get(&format!("/api/v1/inventory/items/{}", ids[0]), &other)
        .await
        .problem(404);
    app.post(
        &format!("/api/v1/inventory/items/{}/transitions", ids[0]),
        Some(&other),
        &json!({"to": "ready"}),
    )
    .await
    .problem(404);
    app.post("/api/v1/inventory/intake", Some(&other), &json!({"receipt_id": w.receipt, "warehouse_id": w.warehouse, "condition": "new", "devices": [{"serial": "Z"}]}))
        .await
        .problem_naming(422, "warehouse_id", "unknown");

    // New devices need no wipe (but the safe profile, like every device);
    // write-off needs a reason; a transfer goes through in_transit.
    let (a, b) = (ids[0], ids[1]);
    let profile = app.device_profile().await;
    app.post(
        &format!("/api/v1/inventory/items/{a}/check"),
        Some(&w.warehouse_officer),
        &json!({"wiped": false, "condition": "new", "profile": {"version": profile}}),
    )
    .await
    .ok(200);
    app.post(
        &format!("/api/v1/inventory/items/{a}/transitions"),
        Some(&w.warehouse_officer),
        &json!({"to": "ready"}),
    )
    .await
    .ok(200);
    app.post(
        &format!("/api/v1/inventory/items/{b}/transitions"),
        Some(&w.warehouse_officer),
        &json!({"to": "written_off"}),
    )
    .await
    .problem(422);
    app.post(
        &format!("/api/v1/inventory/items/{b}/transitions"),
        Some(&w.warehouse_officer),
        &json!({"to": "written_off", "reason": "stolen from the office"}),
    )
    .await
    .ok(200);
    app.post(
        &format!("/api/v1/inventory/items/{b}/transitions"),
        Some(&w.warehouse_officer),
        &json!({"to": "ready"}),
    )
    .await
    .problem(409);

    // Allocation refusals.
    let need = w.approved[0];
    let allocate = |item: i64, need: i64| {
        let (app, officer) = (&app, w.officer.clone());
        async move {
            app.post(
                "/api/v1/allocations",
                Some(&officer),
                &json!({"need_id": need, "item_id": item}),
            )
            .await
        }
    };
    allocate(b, need).await.problem(409); // written off
    let first = allocate(a, need).await.ok(201);
    allocate(a, w.approved[1]).await.problem(409); // reserved
    allocate(a, need).await.problem(409); // the need is allocated, no longer approved
    let cancelled = app
        .post(
            &format!("/api/v1/allocations/{}/cancel", first["id"]),
            Some(&w.officer),
            &json!({"reason": "wrong child"}),
        )
        .await
        .ok(200);
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(
        app.get(&format!("/api/v1/needs/{need}"), &w.officer)
            .await
            .ok(200)["status"],
        "approved"
    );
    assert_eq!(
        app.get(
            &format!("/api/v1/inventory/items/{a}"),
            &w.warehouse_officer
        )
        .await
        .ok(200)["status"],
        "ready"
    );
    app.post("/api/v1/handovers", Some(&w.staff), &json!({"allocation_id": first["id"], "received_by_name": "X", "relation": "student", "handed_on": "2021-10-26", "acknowledged": true}))
        .await
        .problem(409);
    let reported = app.post("/api/v1/needs", Some(&w.officer), &json!({"kind": "device", "school_id": app.get("/api/v1/schools/by-code/TH-DABAC", &w.admin).await.ok(200)["id"], "quantity": 2})).await.ok(201);
    allocate(a, reported["id"].as_i64().unwrap())
        .await
        .problem(409); // not approved

    // Across the earmark: move the device to the city and offer it to a city need.
    let city_school = app
        .get("/api/v1/schools/by-code/TH-THAIBINH", &w.admin)
        .await
        .ok(200)["id"]
        .as_i64()
        .unwrap();
    let city_need = app
        .post(
            "/api/v1/needs",
            Some(&w.admin),
            &json!({"kind": "device", "school_id": city_school}),
        )
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    approve(&app, &w.admin, city_need).await;
    let across = app
        .post(
            "/api/v1/allocations",
            Some(&w.admin),
            &json!({"need_id": city_need, "item_id": a}),
        )
        .await
        .problem(409);
    assert!(across["detail"].as_str().unwrap().contains("earmarked"));
    app.post(
        &format!("/api/v1/inventory/items/{a}/transitions"),
        Some(&w.warehouse_officer),
        &json!({"to": "in_transit", "warehouse_id": w.city_warehouse}),
    )
    .await
    .ok(200);
    let stock = app.get("/api/v1/inventory/stock", &w.admin).await.ok(200);
    assert!(
        stock
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["warehouse_id"] == w.warehouse
                && l["status"] == "in_transit"
                && l["count"] == 1),
        "{stock}"
    );
    app.post(
        &format!("/api/v1/inventory/items/{a}/transitions"),
        Some(&w.admin),
        &json!({"to": "ready"}),
    )
    .await
    .ok(200);
    // Counted in transit at the sender, then ready at the receiver.
    let stock = app
        .get("/api/v1/inventory/stock?admin_unit=148", &w.admin)
        .await
        .ok(200);
    assert_eq!(
        stock,
        json!([{"warehouse_id": w.city_warehouse, "stock": "device:tablet", "status": "ready", "count": 1}])
    );
    app.post(
        "/api/v1/allocations",
        Some(&w.admin),
        &json!({"need_id": city_need, "item_id": a}),
    )
    .await
    .problem(409);
}

#[actix_rt::test]
async fn fifty_officers_allocating_one_device_at_once_one_wins() {
    let app = spawn_app_with(|env| {
        env.insert("SONGMAY_WORKERS", "4".into());
        env.insert("SONGMAY_DB_POOL_SIZE", "12".into());
    })
    .await;
    let w = world(&app, 50, 1).await;
    let item = ready_tablets(&app, &w, 1).await[0];
    let bodies: Vec<Value> = w
        .approved
        .iter()
        .map(|need| json!({"need_id": need, "item_id": item}))
        .collect();
    let replies = futures_util::future::join_all(
        bodies
            .iter()
            .map(|body| app.post("/api/v1/allocations", Some(&w.officer), body)),
    )
    .await;
    let won = replies.iter().filter(|r| r.status.as_u16() == 201).count();
    let lost = replies.iter().filter(|r| r.status.as_u16() == 409).count();
    assert_eq!((won, lost), (1, 49));
    let allocated = app
        .get("/api/v1/needs?status=allocated", &w.officer)
        .await
        .ok(200);
    assert_eq!(allocated["items"].as_array().unwrap().len(), 1);
}

#[actix_rt::test]
async fn two_runs_at_once_never_use_a_device_or_need_twice() {
    let app = spawn_app_with(|env| {
        env.insert("SONGMAY_WORKERS", "4".into());
        env.insert("SONGMAY_DB_POOL_SIZE", "8".into());
    })
    .await;
    let w = world(&app, 12, 8).await;
    ready_tablets(&app, &w, 8).await;
    let body = json!({"admin_unit": "150", "kinds": ["device"]});
    let (a, b) = futures_util::future::join(
        app.post("/api/v1/allocations/run", Some(&w.officer), &body),
        app.post("/api/v1/allocations/run", Some(&w.admin), &body),
    )
    .await;
    let (a, b) = (a.ok(200), b.ok(200));
    let mut needs: Vec<i64> = Vec::new();
    let mut items: Vec<i64> = Vec::new();
    for run in [&a, &b] {
        for m in run["matches"].as_array().unwrap() {
            needs.push(m["need_id"].as_i64().unwrap());
            items.push(m["stock_id"].as_i64().unwrap());
        }
    }
    assert_eq!(
        needs.len(),
        8,
        "together the runs allocate what one run would: every device once"
    );
    needs.sort();
    needs.dedup();
    items.sort();
    items.dedup();
    assert_eq!((needs.len(), items.len()), (8, 8));
    // Each run's allocation_ids follow its matches, one for one.
    let listed = app
        .get("/api/v1/allocations?limit=500", &w.admin)
        .await
        .ok(200);
    let made: std::collections::HashMap<i64, (i64, i64)> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let id = a["id"].as_i64().unwrap();
            (
                id,
                (
                    a["need_id"].as_i64().unwrap(),
                    a["item_id"].as_i64().unwrap(),
                ),
            )
        })
        .collect();
    for run in [&a, &b] {
        let pairs: Vec<(i64, i64)> = run["matches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["need_id"].as_i64().unwrap(),
                    m["stock_id"].as_i64().unwrap(),
                )
            })
            .collect();
        let ids = run["allocation_ids"].as_array().unwrap();
        assert_eq!(ids.len(), pairs.len());
        for (id, pair) in ids.iter().zip(pairs) {
            assert_eq!(made[&id.as_i64().unwrap()], pair);
        }
    }
    // The officer pages through the district's allocations; an officer of
    // another district and a filter on another district see none of them.
    let pages = app
        .all_pages("/api/v1/allocations?limit=3", &w.officer)
        .await;
    assert_eq!(pages.len(), 3);
    let paged: Vec<i64> = pages
        .iter()
        .flat_map(|page| page["items"].as_array().unwrap().clone())
        .map(|a| a["id"].as_i64().unwrap())
        .collect();
    let mut all: Vec<i64> = made.keys().copied().collect();
    all.sort();
    assert_eq!(paged, all, "every allocation once, oldest first");
    let city = app
        .user_token(
            "officer.city",
            "district_officer",
            json!({"admin_unit_code": "148"}),
        )
        .await;
    let seen = app.get("/api/v1/allocations", &city).await.ok(200);
    assert_eq!(seen["items"], json!([]));
    let seen = app
        .get("/api/v1/allocations?admin_unit=148", &w.admin)
        .await
        .ok(200);
    assert_eq!(seen["items"], json!([]));
    app.get("/api/v1/allocations?admin_unit=99999", &w.admin)
        .await
        .problem(404);
    assert_counts_match_rows(&app, &w.admin, "two allocation runs at once").await;
}

#[actix_rt::test]
async fn data_packages_are_stock_drawn_down_by_allocation() {
    let app = spawn_app().await;
    let w = world(&app, 3, 1).await;
    // Each sees the warehouses they work with.
    let names = |page: Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = app
        .get("/api/v1/warehouses?limit=1", &w.admin)
        .await
        .ok(200);
    assert_eq!(names(all.clone()), ["Kho Đà Bắc"]);
    let rest = app
        .get(
            &format!(
                "/api/v1/warehouses?limit=1&cursor={}",
                all["next_cursor"].as_str().unwrap()
            ),
            &w.admin,
        )
        .await
        .ok(200);
    assert_eq!(
        (names(rest.clone()), rest["next_cursor"].clone()),
        (vec!["Kho Thành phố".to_owned()], Value::Null)
    );
    for token in [&w.warehouse_officer, &w.officer] {
        let theirs = app.get("/api/v1/warehouses", token).await.ok(200);
        assert_eq!(names(theirs), ["Kho Đà Bắc"]);
    }

    // Three children in Đà Bắc need data; Viettel gives two SIM packages.
    let students = app.get("/api/v1/students", &w.officer).await.ok(200);
    for s in students["items"].as_array().unwrap() {
        let need = app
            .post(
                "/api/v1/needs",
                Some(&w.officer),
                &json!({"kind": "data_package", "student_id": s["id"]}),
            )
            .await
            .ok(201)["id"]
            .as_i64()
            .unwrap();
        approve(&app, &w.officer, need).await;
    }
    let campaign = app.get("/api/v1/campaigns", &w.admin).await.ok(200)["items"][0]["id"]
        .as_i64()
        .unwrap();
    let donor = app
        .post(
            "/api/v1/donors",
            Some(&w.admin),
            &json!({"kind": "organisation", "name": "Viettel Hòa Bình", "inside_province": true}),
        )
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    let pledge = app
        .post("/api/v1/pledges", Some(&w.admin), &json!({"donor_id": donor, "campaign_id": campaign, "kind": "data_package", "operator_name": "Viettel", "quantity": 2, "data_gb_per_month": 4, "months": 12}))
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    let receipt = app
        .post("/api/v1/receipts", Some(&w.warehouse_officer), &json!({"campaign_id": campaign, "pledge_id": pledge, "receipt_type": "donation", "kind": "data_package", "quantity": 2, "received_on": "2021-10-06"}))
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    // Only the warehouse's own officer (or an admin) takes packages in.
    let other = app
        .user_token("kho.city", "warehouse_officer", json!({}))
        .await;
    app.post(
        "/api/v1/inventory/packages",
        Some(&other),
        &json!({"receipt_id": receipt, "warehouse_id": w.warehouse}),
    )
    .await
    .problem_naming(422, "warehouse_id", "unknown");
    // The operator's child-safe option is recorded with the package.
    let package = app
        .post(
            "/api/v1/inventory/packages",
            Some(&w.warehouse_officer),
            &json!({"receipt_id": receipt, "warehouse_id": w.warehouse, "child_safe": "enabled"}),
        )
        .await
        .ok(201);
    assert_eq!(
        (
            package["name"].clone(),
            package["months"].clone(),
            package["available"].clone(),
            package["child_safe"].clone()
        ),
        (json!("Viettel"), json!(12), json!(2), json!("enabled"))
    );
    let listed = app
        .get("/api/v1/inventory/packages", &w.warehouse_officer)
        .await
        .ok(200);
    assert_eq!(listed["items"], json!([package.clone()]));
    let listed = app.get("/api/v1/inventory/packages", &other).await.ok(200);
    assert_eq!(listed["items"], json!([]), "not their warehouse");

    // The run gives the two packages to two of the three needs, by priority.
    let run = app
        .post(
            "/api/v1/allocations/run",
            Some(&w.officer),
            &json!({"admin_unit": "150", "kinds": ["data_package"]}),
        )
        .await
        .ok(200);
    assert_eq!(
        (
            run["matches"].as_array().unwrap().len(),
            run["unmatched"].as_array().unwrap().len()
        ),
        (2, 1)
    );
    assert!(run["matches"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["stock_id"] == package["id"]));
    let available = |listed: Value| listed["items"][0]["available"].clone();
    assert_eq!(
        available(
            app.get("/api/v1/inventory/packages", &w.warehouse_officer)
                .await
                .ok(200)
        ),
        json!(0)
    );
    let stock = app
        .get(
            &format!("/api/v1/inventory/stock?warehouse={}", w.warehouse),
            &w.warehouse_officer,
        )
        .await
        .ok(200);
    let key = format!("package:{}", package["id"]);
    assert!(
        stock
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["stock"] == key && l["status"] == "reserved" && l["count"] == 2),
        "{stock}"
    );
    // A third allocation by hand finds nothing left.
    let waiting = run["unmatched"][0]["need_id"].as_i64().unwrap();
    app.post(
        "/api/v1/allocations",
        Some(&w.officer),
        &json!({"need_id": waiting, "package_id": package["id"]}),
    )
    .await
    .problem(409);
    // Cancelling one puts a package back.
    let first = run["allocation_ids"][0].as_i64().unwrap();
    app.post(
        &format!("/api/v1/allocations/{first}/cancel"),
        Some(&w.officer),
        &json!({"reason": "the family moved away"}),
    )
    .await
    .ok(200);
    assert_eq!(
        available(
            app.get("/api/v1/inventory/packages", &w.warehouse_officer)
                .await
                .ok(200)
        ),
        json!(1)
    );
    let second = app
        .post(
            "/api/v1/allocations",
            Some(&w.officer),
            &json!({"need_id": waiting, "package_id": package["id"]}),
        )
        .await
        .ok(201);
    // The school hands the SIM to the child: the need is fulfilled, the
    // package unit counted as handed over, the gift traceable to Viettel.
    let handover = app
        .post("/api/v1/handovers", Some(&w.staff), &json!({"allocation_id": second["id"], "received_by_name": "Hà Văn Bố", "relation": "parent", "handed_on": "2021-10-20", "acknowledged": true}))
        .await
        .ok(201);
    assert_eq!(handover["trace"]["pledge_id"], pledge);
    assert_eq!(
        app.get(&format!("/api/v1/needs/{waiting}"), &w.officer)
            .await
            .ok(200)["status"],
        "fulfilled"
    );
    let stock = app
        .get(
            &format!("/api/v1/inventory/stock?warehouse={}", w.warehouse),
            &w.warehouse_officer,
        )
        .await
        .ok(200);
    let count = |status: &str| {
        stock
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["stock"] == key && l["status"] == status)
            .map(|l| l["count"].clone())
    };
    assert_eq!(
        (count("reserved"), count("handed_over")),
        (Some(json!(1)), Some(json!(1)))
    );
    // A SIM in use does not come back as stock.
    let returned = app
        .post(
            &format!("/api/v1/handovers/{}/return", handover["id"]),
            Some(&w.staff),
            &json!({"reason": "the family moved away"}),
        )
        .await
        .problem(409);
    assert!(returned["detail"]
        .as_str()
        .unwrap()
        .contains("not returned"));
    assert_counts_match_rows(&app, &w.admin, "data packages allocated").await;
}

/// Officers registering the devices of one receipt at the same time
/// cannot together register more than the receipt brought.
#[actix_rt::test]
async fn intakes_at_once_never_exceed_the_receipt() {
    let app = spawn_app_with(|env| {
        env.insert("SONGMAY_WORKERS", "4".into());
        env.insert("SONGMAY_DB_POOL_SIZE", "8".into());
    })
    .await;
    let w = world(&app, 1, 4).await;
    let intake = |first: u64| {
        let devices: Vec<Value> = (first..first + 2)
            .map(|i| json!({"serial": format!("TAB-{i:04}"), "imei": imei(i)}))
            .collect();
        let body = json!({"receipt_id": w.receipt, "warehouse_id": w.warehouse, "condition": "new", "devices": devices});
        let (app, token) = (&app, w.warehouse_officer.clone());
        async move {
            app.post("/api/v1/inventory/intake", Some(&token), &body)
                .await
        }
    };
    // Four officers, two tablets each, for a receipt of four.
    let replies = futures_util::future::join_all((0..4).map(|i| intake(i * 10))).await;
    let mut codes: Vec<u16> = replies.iter().map(|r| r.status.as_u16()).collect();
    codes.sort();
    assert_eq!(codes, [201, 201, 422, 422]);
    for reply in replies.into_iter().filter(|r| r.status.as_u16() == 422) {
        assert_eq!(reply.problem(422)["errors"][0]["code"], "too_many");
    }
    let items = app
        .get("/api/v1/inventory/items?limit=500", &w.warehouse_officer)
        .await
        .ok(200);
    assert_eq!(items["items"].as_array().unwrap().len(), 4);
}

#[actix_rt::test]
async fn no_device_reaches_a_child_without_the_current_safe_internet_profile() {
    let app = spawn_app().await;
    let w = world(&app, 1, 1).await;
    let intake = app
        .post("/api/v1/inventory/intake", Some(&w.warehouse_officer), &json!({"receipt_id": w.receipt, "warehouse_id": w.warehouse, "condition": "used_good", "devices": [{"serial": "SAFE-1", "imei": imei(7)}]}))
        .await
        .ok(201);
    let item = intake["items"][0]["id"].as_i64().unwrap();
    let check = format!("/api/v1/inventory/items/{item}/check");
    let ready = format!("/api/v1/inventory/items/{item}/transitions");
    let to_ready = json!({"to": "ready"});
    let make_ready = || app.post(&ready, Some(&w.warehouse_officer), &to_ready);

    // Checked and wiped, but no profile exists yet: not ready for a child.
    app.post(
        &check,
        Some(&w.warehouse_officer),
        &json!({"wiped": true, "condition": "used_good"}),
    )
    .await
    .ok(200);
    let refused = make_ready().await.problem(409);
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("no device profile is published"),
        "{refused}"
    );

    // The Department publishes the profile; warehouses read, never write it.
    let body = json!({"name": "Hồ sơ an toàn 2021", "software": [{"name": "Lớp học Sao Mai", "purpose": "học trực tuyến"}], "safe_dns": ["1.1.1.3", "1.0.0.3"], "filtering": "DNS gia đình; SafeSearch bật."});
    app.post("/api/v1/device-profiles", Some(&w.warehouse_officer), &body)
        .await
        .problem(403);
    let mut bad = body.clone();
    bad["safe_dns"] = json!(["1.1.1.3", "family-dns"]);
    app.post("/api/v1/device-profiles", Some(&w.admin), &bad)
        .await
        .problem_naming(422, "safe_dns[1]", "ip_address");
    let v1 = app
        .post("/api/v1/device-profiles", Some(&w.admin), &body)
        .await
        .ok(201);
    assert_eq!(
        (v1["version"].clone(), v1["current"].clone()),
        (json!(1), json!(true))
    );
    let current = app
        .get("/api/v1/device-profiles/current", &w.warehouse_officer)
        .await
        .ok(200);
    assert_eq!(current["safe_dns"], json!(["1.1.1.3", "1.0.0.3"]));

    // A check that was before the profile existed does not count.
    make_ready().await.problem(409);
    // Another version than the current one is refused at the check.
    app.post(
        &check,
        Some(&w.warehouse_officer),
        &json!({"wiped": true, "condition": "used_good", "profile": {"version": 2}}),
    )
    .await
    .problem_naming(422, "profile.version", "not_current");
    // What failed is recorded, and the device waits.
    let partial = app
        .post(&check, Some(&w.warehouse_officer), &json!({"wiped": true, "condition": "used_good", "profile": {"version": 1, "failed": ["safe_dns"]}}))
        .await
        .ok(200);
    assert_eq!(partial["profile"]["failed"], json!(["safe_dns"]));
    make_ready().await.problem(409);
    let applied = app
        .post(
            &check,
            Some(&w.warehouse_officer),
            &json!({"wiped": true, "condition": "used_good", "profile": {"version": 1}}),
        )
        .await
        .ok(200);
    assert_eq!(
        (
            applied["profile"]["version"].clone(),
            applied["profile"]["failed"].clone()
        ),
        (json!(1), json!([]))
    );
    make_ready().await.ok(200);

    // Allocated; then the Department publishes version 2 before the handover.
    let allocation = app
        .post(
            "/api/v1/allocations",
            Some(&w.officer),
            &json!({"need_id": w.approved[0], "item_id": item}),
        )
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    app.post("/api/v1/device-profiles", Some(&w.admin), &body)
        .await
        .ok(201);
    let listed = app.get("/api/v1/device-profiles", &w.admin).await.ok(200);
    let versions: Vec<(Value, Value)> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["version"].clone(), p["current"].clone()))
        .collect();
    assert_eq!(
        versions,
        [(json!(2), json!(true)), (json!(1), json!(false))]
    );
    let handover = json!({"allocation_id": allocation, "received_by_name": "Đinh Thị Mẹ", "relation": "parent", "handed_on": "2021-10-25", "acknowledged": true});
    let refused = app
        .post("/api/v1/handovers", Some(&w.staff), &handover)
        .await
        .problem(409);
    assert!(
        refused["detail"].as_str().unwrap().contains("version 2"),
        "{refused}"
    );
    // The reserved device is checked again with version 2, and reaches the child.
    app.post(
        &check,
        Some(&w.warehouse_officer),
        &json!({"wiped": true, "condition": "needs_repair", "profile": {"version": 2}}),
    )
    .await
    .problem(409);
    app.post(
        &check,
        Some(&w.warehouse_officer),
        &json!({"wiped": true, "condition": "used_good", "profile": {"version": 2}}),
    )
    .await
    .ok(200);
    let handed = app
        .post("/api/v1/handovers", Some(&w.staff), &handover)
        .await
        .ok(201);

    // Statistics: devices with children, by the profile they carry.
    let stats = app
        .get("/api/v1/stats/safe-devices?admin_unit=17", &w.admin)
        .await
        .ok(200);
    assert_eq!(stats["current_profile_version"], 2);
    assert_eq!(
        (
            stats["total"]["handed_over"].clone(),
            stats["total"]["with_current_profile"].clone()
        ),
        (json!(1), json!(1))
    );
    assert_eq!(stats["rows"][0]["key"], "150");
    assert_eq!(stats["rows"][0]["with_current_profile"], 1);
    // A newer version makes it an older profile; a district officer sees their district.
    app.post("/api/v1/device-profiles", Some(&w.admin), &body)
        .await
        .ok(201);
    let stats = app
        .get("/api/v1/stats/safe-devices", &w.officer)
        .await
        .ok(200);
    assert_eq!(stats["admin_unit"], "150");
    assert_eq!(
        (
            stats["total"]["with_current_profile"].clone(),
            stats["total"]["with_older_profile"].clone(),
            stats["total"]["without_profile"].clone()
        ),
        (json!(0), json!(1), json!(0))
    );
    // It comes back: its profile is applied again before anyone else gets it.
    let back = app
        .post(
            &format!("/api/v1/handovers/{}/return", handed["id"]),
            Some(&w.staff),
            &json!({"reason": "the family moved"}),
        )
        .await
        .ok(200);
    assert!(back["returned_on"].is_string());
    let item_now = app
        .get(
            &format!("/api/v1/inventory/items/{item}"),
            &w.warehouse_officer,
        )
        .await
        .ok(200);
    assert_eq!(item_now["profile"], Value::Null);
    let stats = app
        .get("/api/v1/stats/safe-devices?admin_unit=17", &w.admin)
        .await
        .ok(200);
    assert_eq!(
        stats["total"]["handed_over"], 0,
        "a returned device is with no child"
    );
    // Every publication is audited.
    let audit = app
        .get("/api/v1/audit-log?entity=device_profile", &w.admin)
        .await
        .ok(200);
    assert_eq!(audit["items"].as_array().unwrap().len(), 3);
}

/// Allocates device `item` to `need` and hands it to the child's mother on
/// 26 October 2021; returns the handover's id.
async fn hand_over_in_2021(app: &TestApp, w: &World, need: i64, item: i64) -> i64 {
    let allocation = app
        .post(
            "/api/v1/allocations",
            Some(&w.officer),
            &json!({"need_id": need, "item_id": item}),
        )
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    app.post("/api/v1/handovers", Some(&w.staff), &json!({"allocation_id": allocation, "received_by_name": "Đinh Thị Mẹ", "relation": "parent", "handed_on": "2021-10-26", "acknowledged": true}))
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap()
}

/// The coverage total of one view.
async fn coverage_total(app: &TestApp, token: &str, query: &str) -> Value {
    app.get(&format!("/api/v1/stats/coverage?{query}"), token)
        .await
        .ok(200)["total"]
        .clone()
}

/// The figures of one line of a coverage table, without its key and name.
fn figures(row: &Value) -> Value {
    let mut row = row.clone();
    let fields = row.as_object_mut().unwrap();
    fields.remove("key");
    fields.remove("name");
    row
}

#[actix_rt::test]
async fn history_counts_in_either_tree_and_old_earmarks_reach_re_homed_schools() {
    let app = spawn_app().await;
    let w = world(&app, 8, 4).await;
    // Two students in the city too: a count below five, for the public pages.
    app.sync_students(
        &w.admin,
        "",
        &[
            student("C1", "TH-THAIBINH", 3),
            student("C2", "TH-THAIBINH", 4),
        ],
    )
    .await
    .ok(200);
    let tablets = ready_tablets(&app, &w, 4).await;
    // A tablet handed over in October 2021, in the old tree.
    hand_over_in_2021(&app, &w, w.approved[0], tablets[0]).await;
    let reader = app.client_token("stats_reader").await;
    let stored = coverage_total(&app, &reader, "").await;
    assert_eq!(
        (stored["students"].clone(), stored["with_device"].clone()),
        (json!(10), json!(1))
    );

    // Before re-homing, the 2025 view puts the 2021 handover in commune
    // 04831 (Mường Chiềng) under that commune's default successor.
    crate::registry::reform::load_2025(&app, &w.admin).await;
    crate::registry::reform::upload(
        &app,
        &w.admin,
        "/api/v1/admin-units/mappings/import",
        crate::registry::reform::MAPPING,
    )
    .await
    .ok(200);
    let successor = app
        .get("/api/v1/admin-units/04831/successors", &w.admin)
        .await
        .ok(200);
    let successor = successor["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["is_default"] == true)
        .expect("a default successor")["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let new_view = app
        .get(
            "/api/v1/stats/coverage?scheme=vn2025&admin_unit=vn2025:25&group_by=school",
            &reader,
        )
        .await
        .ok(200);
    assert_eq!(figures(&new_view["total"]), figures(&stored));
    let by_commune = app
        .get(
            "/api/v1/stats/coverage?scheme=vn2025&admin_unit=vn2025:25",
            &reader,
        )
        .await
        .ok(200);
    let row = by_commune["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == successor.as_str())
        .unwrap_or_else(|| panic!("{successor} in {by_commune}"));
    assert_eq!(
        (row["students"].clone(), row["with_device"].clone()),
        (json!(8), json!(1))
    );

    let report = app
        .post(
            "/api/v1/admin-units/rehome",
            Some(&w.admin),
            &json!({"province": "17", "dry_run": false}),
        )
        .await
        .ok(200);
    assert_eq!(report["moved"]["schools"], 2, "{report}");

    // After: one total in every view; the old view still by district.
    let old_view = app
        .get(
            "/api/v1/stats/coverage?scheme=vn2008&admin_unit=17",
            &reader,
        )
        .await
        .ok(200);
    let new_total = coverage_total(&app, &reader, "scheme=vn2025&admin_unit=vn2025:25").await;
    assert_eq!(figures(&old_view["total"]), figures(&stored));
    assert_eq!(figures(&new_total), figures(&stored));
    assert_eq!(
        figures(&coverage_total(&app, &reader, "").await),
        figures(&stored)
    );
    let districts: Vec<(String, i64)> = old_view["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["key"].as_str().unwrap().to_owned(),
                r["students"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        districts,
        vec![("148".to_owned(), 2), ("150".to_owned(), 8)]
    );
    // Grades add up in a view as well.
    let grades = app
        .get(
            "/api/v1/stats/coverage?scheme=vn2008&admin_unit=150&group_by=grade",
            &reader,
        )
        .await
        .ok(200);
    assert_eq!(grades["total"]["students"], 8);
    // A unit of one tree asked in the other is a malformed query; an
    // unknown tree too.
    app.get(
        "/api/v1/stats/coverage?scheme=vn2025&admin_unit=17",
        &reader,
    )
    .await
    .problem(400);
    app.get("/api/v1/stats/coverage?scheme=vn1999", &reader)
        .await
        .problem(400);
    // An officer of an old district has no area in the new tree.
    app.get("/api/v1/stats/coverage?scheme=vn2025", &w.officer)
        .await
        .problem_naming(422, "scheme", "other_tree");
    let own = app
        .get("/api/v1/stats/coverage?scheme=vn2008", &w.officer)
        .await
        .ok(200);
    assert_eq!(
        own["total"]["students"], 8,
        "their old district, in the old tree"
    );
    app.request(
        Method::GET,
        "/api/v1/public/progress?scheme=vn2030",
        None,
        None,
        vec![],
    )
    .await
    .problem(400);

    // Public pages in either tree: the same students, the same protection.
    let public = |scheme: &'static str, unit: &'static str| {
        let app = &app;
        async move {
            let path = format!("/api/v1/public/progress?scheme={scheme}&admin_unit={unit}");
            app.request(Method::GET, &path, None, None, vec![])
                .await
                .ok(200)["units"]
                .clone()
        }
    };
    let old_public = public("vn2008", "17").await;
    let new_public = public("vn2025", "vn2025:25").await;
    assert_eq!(new_public[0]["name"], "Tỉnh Phú Thọ");
    assert_eq!(
        old_public[0]["students"], new_public[0]["students"],
        "the province's students, as old Hòa Bình and as its part of Phú Thọ"
    );
    let city_commune = app
        .get("/api/v1/schools/by-code/TH-THAIBINH", &w.admin)
        .await
        .ok(200)["admin_unit_code"]
        .clone();
    for (view, unit) in [(&new_public, city_commune), (&old_public, json!("148"))] {
        let city = view
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["admin_unit"] == unit)
            .unwrap_or_else(|| panic!("{unit} in {view}"));
        assert_eq!(
            city["students"], "<5",
            "two students are never shown as two"
        );
    }
    for view in [&old_public, &new_public] {
        let shown: Vec<&Value> = view
            .as_array()
            .unwrap()
            .iter()
            .map(|l| &l["students"])
            .collect();
        assert!(!shown.contains(&&json!(2)), "{view}");
        assert!(
            !(shown.contains(&&json!(10)) && shown.contains(&&json!(8))),
            "10 and 8 together would give the city's 2 away: {view}"
        );
    }
    let board = app
        .request(
            Method::GET,
            "/api/v1/public/needs-board?scheme=vn2008&admin_unit=150",
            None,
            None,
            vec![],
        )
        .await
        .ok(200);
    assert!(
        board
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["commune"] == "04831"),
        "open needs of a re-homed school count in its old commune: {board}"
    );

    // Stock earmarked for the old district still reaches the school that
    // stood in it: the run plans it and an officer may allocate by hand.
    let run = app
        .post(
            "/api/v1/allocations/run",
            Some(&w.admin),
            &json!({"kinds": ["device"], "dry_run": true}),
        )
        .await
        .ok(200);
    assert_eq!(run["matches"].as_array().unwrap().len(), 3, "{run}");
    let allocated = app
        .post(
            "/api/v1/allocations",
            Some(&w.admin),
            &json!({"need_id": w.approved[1], "item_id": tablets[1]}),
        )
        .await
        .ok(201);
    assert_eq!(allocated["need_id"], w.approved[1]);
}

/// Every figure the service publishes about this world, without the
/// moments they were computed at.
async fn published(app: &TestApp, admin: &str, reader: &str, public_ref: &str) -> Vec<Value> {
    let anonymous = |path: String| async move {
        let mut page = app
            .request(Method::GET, &path, None, None, vec![])
            .await
            .ok(200);
        if let Some(fields) = page.as_object_mut() {
            fields.remove("computed_at");
        }
        page
    };
    vec![
        app.get("/api/v1/stats/coverage", reader).await.ok(200),
        app.get("/api/v1/stats/donations", reader).await.ok(200),
        app.get("/api/v1/stats/inventory", reader).await.ok(200),
        app.get("/api/v1/funds/trial-balance", admin).await.ok(200),
        anonymous("/api/v1/public/progress".into()).await,
        anonymous("/api/v1/public/donations".into()).await,
        anonymous(format!("/api/v1/public/donations/{public_ref}/trace")).await,
    ]
}

#[actix_rt::test]
async fn a_purge_anonymises_what_is_past_its_period_and_every_figure_stays_the_same() {
    let app = spawn_app_with(|env| {
        env.insert("SONGMAY_PUBLIC_CACHE_SECONDS", "0".into());
    })
    .await;
    let w = world(&app, 6, 3).await;
    let tablets = ready_tablets(&app, &w, 2).await;
    let handover = hand_over_in_2021(&app, &w, w.approved[0], tablets[0]).await;
    // Two students left school in 2022 (their needs cancelled); a third
    // left too but still has an open need, so it is kept.
    let student_of = |need: i64| {
        let (app, token) = (&app, w.admin.clone());
        async move {
            app.get(&format!("/api/v1/needs/{need}"), &token)
                .await
                .ok(200)["student_id"]
                .as_i64()
                .unwrap()
        }
    };
    let mut left = Vec::new();
    for need in [w.approved[4], w.approved[5]] {
        app.post(
            &format!("/api/v1/needs/{need}/transitions"),
            Some(&w.admin),
            &json!({"to": "cancelled", "reason": "left school"}),
        )
        .await
        .ok(200);
        left.push(student_of(need).await);
    }
    let still_open = student_of(w.approved[3]).await;
    for id in left.iter().chain([&still_open]) {
        app.execute(&format!(
            "UPDATE students SET active = FALSE, updated_at = '2022-06-01 00:00:00' WHERE id = {id}"
        ));
    }
    // The donor of the 2021 gift, with contact data now; a donor who asked
    // to be kept in touch and one who did not, both registered in 2022.
    let donors = app.get("/api/v1/donors", &w.admin).await.ok(200);
    let giver = donors["items"][0]["id"].as_i64().unwrap();
    let version = format!("\"{}\"", donors["items"][0]["version"]);
    app.patch_if_match(
        &format!("/api/v1/donors/{giver}"),
        &w.admin,
        &version,
        &json!({"phone": "0912345678", "email": "lienhe@songda.example"}),
    )
    .await
    .ok(200);
    let register = |name: &'static str, phone: &'static str, keep: bool| {
        let (app, admin) = (&app, w.admin.clone());
        async move {
            let id = app
                .post("/api/v1/donors", Some(&admin), &json!({"kind": "individual", "name": name, "inside_province": true, "phone": phone, "keep_contact": keep}))
                .await
                .ok(201)["id"]
                .as_i64()
                .unwrap();
            app.execute(&format!(
                "UPDATE donors SET created_at = '2022-01-01 00:00:00' WHERE id = {id}"
            ));
            id
        }
    };
    let keeps = register("Bà Lò Thị Nhớ", "0987654321", true).await;
    let forgets = register("Ông Xa Văn Quên", "0977654321", false).await;
    // An idempotent answer from two days ago.
    app.post_with_key("/api/v1/sync/schools", &w.admin, "old-key-1", &json!([{"moet_code": "TH-DABAC", "name": "Trường TH-DABAC", "admin_unit_code": "04831", "level": "primary"}]))
        .await
        .ok(200);
    assert_eq!(
        app.row_counts()["idempotency_keys"],
        1,
        "the answer is stored"
    );
    app.execute("UPDATE idempotency_keys SET created_at = '2022-01-01 00:00:00' WHERE idem_key = 'old-key-1'");

    let reader = app.client_token("stats_reader").await;
    let receipt = app
        .get(&format!("/api/v1/receipts/{}", w.receipt), &w.admin)
        .await
        .ok(200);
    let public_ref = receipt["public_ref"].as_str().unwrap().to_owned();
    let before = published(&app, &w.admin, &reader, &public_ref).await;

    // Never below the policy: refused, naming the period, nothing written.
    let rows = app.row_counts();
    app.post(
        "/api/v1/retention/purge",
        Some(&w.admin),
        &json!({"dry_run": false, "student_days": 30}),
    )
    .await
    .problem_naming(422, "student_days", "below_policy");
    app.assert_nothing_written(&rows, "a period below the policy");
    // Nor beyond a hundred years (a date that far back does not exist).
    app.post(
        "/api/v1/retention/purge",
        Some(&w.admin),
        &json!({"dry_run": false, "student_days": 2_147_483_648u64}),
    )
    .await
    .problem_naming(422, "student_days", "too_long");
    app.post(
        "/api/v1/retention/purge",
        Some(&w.admin),
        &json!({"dry_run": false, "receiver_name_days": 36_501}),
    )
    .await
    .problem_naming(422, "receiver_name_days", "too_long");
    app.assert_nothing_written(&rows, "a period beyond a hundred years");

    let expected =
        json!({"students": 2, "donor_contacts": 2, "receiver_names": 1, "idempotency_answers": 1});
    let dry = app
        .post("/api/v1/retention/purge", Some(&w.admin), &json!({}))
        .await
        .ok(200);
    assert_eq!(
        (dry["dry_run"].clone(), dry["purged"].clone()),
        (json!(true), expected.clone())
    );
    assert_eq!(
        dry["periods"],
        json!({"student_days": 730, "donor_contact_days": 365, "receiver_name_days": 730})
    );
    let kept = app
        .get(&format!("/api/v1/students/{}", left[0]), &w.admin)
        .await
        .ok(200);
    assert_ne!(
        kept["full_name"],
        songmay::retention::PURGED_NAME,
        "a dry run changes nothing"
    );

    let done = app
        .post(
            "/api/v1/retention/purge",
            Some(&w.admin),
            &json!({"dry_run": false}),
        )
        .await
        .ok(200);
    assert_eq!(done["purged"], expected);
    for id in &left {
        let student = app
            .get(&format!("/api/v1/students/{id}"), &w.admin)
            .await
            .ok(200);
        assert_eq!(student["full_name"], songmay::retention::PURGED_NAME);
        assert_eq!(student["birth_date"], "1900-01-01");
        assert_eq!(student["household_status"], "other");
        assert!(
            student["external_id"]
                .as_str()
                .unwrap()
                .starts_with("purged-"),
            "{student}"
        );
    }
    let open = app
        .get(&format!("/api/v1/students/{still_open}"), &w.admin)
        .await
        .ok(200);
    assert_ne!(
        open["full_name"],
        songmay::retention::PURGED_NAME,
        "an open need keeps its student"
    );
    let donor = |id: i64| {
        let (app, admin) = (&app, w.admin.clone());
        async move {
            app.get(&format!("/api/v1/donors/{id}"), &admin)
                .await
                .ok(200)
        }
    };
    let (giver_now, keeps_now, forgets_now) =
        (donor(giver).await, donor(keeps).await, donor(forgets).await);
    assert_eq!(
        (giver_now["phone"].clone(), giver_now["email"].clone()),
        (Value::Null, Value::Null)
    );
    assert!(giver_now["contact_purged_at"].is_string());
    assert_eq!(
        giver_now["name"], "Công ty Sông Đà",
        "the name is the public record of the gift"
    );
    assert_eq!(
        keeps_now["phone"], "+84987654321",
        "consent keeps the contact"
    );
    assert_eq!(forgets_now["phone"], Value::Null);
    let handed = app
        .get(&format!("/api/v1/handovers/{handover}"), &w.staff)
        .await
        .ok(200);
    assert_eq!(
        (
            handed["received_by_name"].clone(),
            handed["relation"].clone()
        ),
        (json!(""), json!("parent"))
    );

    // Every statistic, the ledger, the public pages and the trace: the same.
    assert_eq!(
        published(&app, &w.admin, &reader, &public_ref).await,
        before
    );
    // A second run finds nothing; each committed run is one audit row.
    let again = app
        .post(
            "/api/v1/retention/purge",
            Some(&w.admin),
            &json!({"dry_run": false}),
        )
        .await
        .ok(200);
    assert_eq!(
        again["purged"],
        json!({"students": 0, "donor_contacts": 0, "receiver_names": 0, "idempotency_answers": 0})
    );
    let audit = app
        .get("/api/v1/audit-log?action=purge", &w.admin)
        .await
        .ok(200);
    assert_eq!(audit["items"].as_array().unwrap().len(), 2, "{audit}");

    // What the programme holds about the donor, for the donor who asks.
    let export = app
        .get(&format!("/api/v1/donors/{giver}/export"), &w.admin)
        .await
        .ok(200);
    assert_eq!(export["donor"]["id"], giver);
    assert_eq!(export["pledges"].as_array().unwrap().len(), 1);
    assert_eq!(export["receipts"][0]["id"], w.receipt);
    assert!(
        export["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["action"] == "update"),
        "{export}"
    );
    app.get("/api/v1/donors/987654/export", &w.admin)
        .await
        .problem(404);
}
