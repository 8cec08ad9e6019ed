use actix_web::http::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

struct Setup {
    admin: String,
    donor: String,
    warehouse: String,
    campaign: i64,
    donor_id: i64,
}

/// An open campaign, a donor company with its own donor user, a warehouse officer.
async fn setup(app: &TestApp) -> Setup {
    let admin = app.admin_token().await;
    let campaign = app
        .post("/api/v1/campaigns", Some(&admin), &json!({"name": "Thư ngỏ: Sóng và máy tính cho em", "starts_on": "2021-09-01", "targets": {"money_vnd": 5_000_000_000i64, "devices": {"tablet": 2000}}, "priority_admin_units": ["150"]}))
        .await
        .ok(201);
    let campaign = campaign["id"].as_i64().unwrap();
    app.post(
        &format!("/api/v1/campaigns/{campaign}/status"),
        Some(&admin),
        &json!({"status": "open"}),
    )
    .await
    .ok(200);
    let user = app
        .post(
            "/api/v1/users",
            Some(&admin),
            &json!({"username": "songda", "password": "a long passphrase", "role": "donor"}),
        )
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    let donor_id = app
        .post("/api/v1/donors", Some(&admin), &json!({"kind": "organisation", "name": "Công ty Cổ phần Sông Đà", "inside_province": true, "tax_code": "5400123456", "email": "LienHe@SongDa.example", "user_id": user}))
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    let donor = app.token_for("songda", "a long passphrase").await;
    let warehouse = app
        .user_token("kho.tinh", "warehouse_officer", json!({}))
        .await;
    Setup {
        admin,
        donor,
        warehouse,
        campaign,
        donor_id,
    }
}

async fn receipt(app: &TestApp, token: &str, body: Value) -> crate::helpers::Reply {
    app.post("/api/v1/receipts", Some(token), &body).await
}

#[actix_rt::test]
async fn the_open_letter_story_adds_up_to_the_dong() {
    let app = spawn_app().await;
    let s = setup(&app).await;

    // The donor pledges 50 tablets and 20,000,000 VND, earmarked for Đà Bắc.
    let tablets = app
        .post("/api/v1/pledges", Some(&s.donor), &json!({"campaign_id": s.campaign, "kind": "device", "device_type": "tablet", "quantity": 50, "device_condition": "new", "earmark_admin_unit": "150"}))
        .await
        .ok(201);
    assert_eq!(
        (tablets["status"].as_str(), tablets["confirmed_by"].clone()),
        (Some("pledged"), Value::Null)
    );
    assert_eq!(tablets["donor_id"], s.donor_id);
    let money = app
        .post("/api/v1/pledges", Some(&s.donor), &json!({"campaign_id": s.campaign, "kind": "money", "amount_vnd": 20_000_000, "earmark_admin_unit": "150",
            "instalments": [{"due_on": "2021-10-01", "amount_vnd": 10_000_000}, {"due_on": "2099-10-01", "amount_vnd": 10_000_000}]}))
        .await
        .ok(201);
    let (tablets, money) = (
        tablets["id"].as_i64().unwrap(),
        money["id"].as_i64().unwrap(),
    );
    let confirmed = app
        .post(
            &format!("/api/v1/pledges/{tablets}/confirm"),
            Some(&s.admin),
            &json!({}),
        )
        .await
        .ok(200);
    assert_eq!(confirmed["confirmed_by"], "user:admin");

    // "Pledged but not paid": the first instalment is past due.
    let overdue = app
        .get("/api/v1/pledges?overdue=true", &s.admin)
        .await
        .ok(200);
    assert_eq!(overdue["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        (
            overdue["items"][0]["id"].as_i64(),
            overdue["items"][0]["due_so_far_vnd"].as_i64()
        ),
        (Some(money), Some(10_000_000))
    );

    // The tablets arrive in two deliveries, the money by bank transfer.
    let tablet_receipt = |quantity: i64| json!({"campaign_id": s.campaign, "pledge_id": tablets, "receipt_type": "donation", "kind": "device", "device_type": "tablet", "quantity": quantity, "received_on": "2021-10-05"});
    receipt(&app, &s.warehouse, tablet_receipt(30))
        .await
        .ok(201);
    assert_eq!(
        app.get(&format!("/api/v1/pledges/{tablets}"), &s.donor)
            .await
            .ok(200)["status"],
        "partly_received"
    );
    receipt(&app, &s.warehouse, tablet_receipt(20))
        .await
        .ok(201);
    let done = app
        .get(&format!("/api/v1/pledges/{tablets}"), &s.donor)
        .await
        .ok(200);
    assert_eq!(
        (
            done["status"].as_str(),
            done["received_quantity"].as_i64(),
            done["over_received"].as_bool()
        ),
        (Some("received"), Some(50), Some(false))
    );
    let transfer = receipt(
        &app,
        &s.warehouse,
        json!({"campaign_id": s.campaign, "pledge_id": money, "receipt_type": "donation", "kind": "money", "amount_vnd": 20_000_000, "bank_reference": "FT21278123456", "received_on": "2021-10-06"}),
    )
    .await
    .ok(201);
    let paid = app
        .get(&format!("/api/v1/pledges/{money}"), &s.donor)
        .await
        .ok(200);
    assert_eq!(
        (paid["status"].as_str(), paid["overdue"].as_bool()),
        (Some("received"), Some(false))
    );
    assert_eq!(
        app.get("/api/v1/pledges?overdue=true", &s.admin)
            .await
            .ok(200)["items"],
        json!([])
    );

    // Ten phones bought at the negotiated price.
    let supplier = app
        .post(
            "/api/v1/suppliers",
            Some(&s.admin),
            &json!({"name": "Công ty TNHH Thiết bị Giáo dục Hòa Bình", "tax_code": "5400987654"}),
        )
        .await
        .ok(201);
    let purchase = app
        .post("/api/v1/purchases", Some(&s.admin), &json!({"campaign_id": s.campaign, "supplier_id": supplier["id"], "kind": "device", "device_type": "phone", "unit_price_vnd": 1_490_000, "quantity": 10}))
        .await
        .ok(201);
    assert_eq!(purchase["total_vnd"], 14_900_000);
    receipt(&app, &s.warehouse, json!({"campaign_id": s.campaign, "purchase_id": purchase["id"], "receipt_type": "purchase", "kind": "device", "device_type": "phone", "quantity": 10, "received_on": "2021-10-20"}))
        .await
        .ok(201);

    let ledger = app
        .get(
            &format!("/api/v1/funds/ledger?campaign_id={}", s.campaign),
            &s.admin,
        )
        .await
        .ok(200);
    let entries: Vec<(String, i64)> = ledger["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["entry_type"].as_str().unwrap().to_owned(),
                e["amount_vnd"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        entries,
        vec![
            ("donation".to_owned(), 20_000_000),
            ("purchase".to_owned(), 14_900_000)
        ],
        "every entry moves a positive amount from one account to another"
    );
    assert_eq!(
        ledger["items"][0]["credit_account"],
        format!("donor:{}", s.donor_id)
    );
    let balance = app
        .get(
            &format!("/api/v1/funds/balance?campaign_id={}", s.campaign),
            &s.warehouse,
        )
        .await
        .ok(200);
    assert_eq!(
        balance,
        json!({"campaign_id": s.campaign, "received_vnd": 20_000_000, "spent_vnd": 14_900_000, "reversed_vnd": 0, "balance_vnd": 5_100_000})
    );

    // The donor's thank-you letter, in Vietnamese.
    let letter = app
        .get(
            &format!("/api/v1/receipts/{}/acknowledgement", transfer["id"]),
            &s.donor,
        )
        .await
        .ok(200);
    assert_eq!(letter["gift"], "20.000.000 đồng");
    let html = app
        .request(
            Method::GET,
            &format!(
                "/api/v1/receipts/{}/acknowledgement?format=html",
                transfer["id"]
            ),
            Some(&s.donor),
            None,
            vec![],
        )
        .await;
    assert!(html
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    let page = String::from_utf8(html.body).unwrap();
    assert!(
        page.contains("THƯ CẢM ƠN")
            && page.contains("Công ty Cổ phần Sông Đà")
            && page.contains("FT21278123456"),
        "{page}"
    );
}

#[actix_rt::test]
async fn receipts_are_corrected_by_reversal_never_edited() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let pledge = app
        .post("/api/v1/pledges", Some(&s.admin), &json!({"donor_id": s.donor_id, "campaign_id": s.campaign, "kind": "money", "amount_vnd": 5_000_000}))
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    let body = json!({"campaign_id": s.campaign, "pledge_id": pledge, "receipt_type": "donation", "kind": "money", "amount_vnd": 5_000_000, "bank_reference": "FT0001", "received_on": "2021-10-06"});
    let first = receipt(&app, &s.warehouse, body.clone()).await.ok(201);
    let id = first["id"].as_i64().unwrap();
    assert!(
        receipt(&app, &s.warehouse, body.clone()).await.problem(409)["detail"]
            .as_str()
            .unwrap()
            .contains(&id.to_string())
    );

    for method in [Method::PATCH, Method::PUT, Method::DELETE] {
        app.request(
            method,
            &format!("/api/v1/receipts/{id}"),
            Some(&s.admin),
            Some("application/json"),
            b"{}".to_vec(),
        )
        .await
        .problem(405);
    }
    app.post(
        &format!("/api/v1/receipts/{id}/reversal"),
        Some(&s.warehouse),
        &json!({"reason": "typo"}),
    )
    .await
    .problem(403);
    app.post(
        &format!("/api/v1/receipts/{id}/reversal"),
        Some(&s.admin),
        &json!({}),
    )
    .await
    .problem(422);
    let reversal = app
        .post(
            &format!("/api/v1/receipts/{id}/reversal"),
            Some(&s.admin),
            &json!({"reason": "recorded on the wrong campaign"}),
        )
        .await
        .ok(201);
    assert_eq!(
        (
            reversal["amount_vnd"].as_i64(),
            reversal["reverses_id"].as_i64()
        ),
        (Some(-5_000_000), Some(id))
    );
    app.post(
        &format!("/api/v1/receipts/{id}/reversal"),
        Some(&s.admin),
        &json!({"reason": "again"}),
    )
    .await
    .problem(409);
    app.post(
        &format!("/api/v1/receipts/{}/reversal", reversal["id"]),
        Some(&s.admin),
        &json!({"reason": "undo"}),
    )
    .await
    .problem(409);

    let original = app
        .get(&format!("/api/v1/receipts/{id}"), &s.admin)
        .await
        .ok(200);
    assert_eq!(
        original["amount_vnd"], 5_000_000,
        "the original stays as it was"
    );
    let pledge = app
        .get(&format!("/api/v1/pledges/{pledge}"), &s.admin)
        .await
        .ok(200);
    assert_eq!(
        (
            pledge["status"].as_str(),
            pledge["received_amount_vnd"].as_i64()
        ),
        (Some("pledged"), Some(0))
    );
    let balance = app
        .get(
            &format!("/api/v1/funds/balance?campaign_id={}", s.campaign),
            &s.admin,
        )
        .await
        .ok(200);
    assert_eq!(
        (
            balance["balance_vnd"].as_i64(),
            balance["reversed_vnd"].as_i64()
        ),
        (Some(0), Some(-5_000_000))
    );
}

#[actix_rt::test]
async fn bad_donation_input_is_refused() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let pledge = |extra: Value| {
        let mut body = json!({"campaign_id": s.campaign, "kind": "money"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    for (case, body) in [
        ("zero", pledge(json!({"amount_vnd": 0}))),
        ("negative", pledge(json!({"amount_vnd": -5}))),
        ("float", pledge(json!({"amount_vnd": 1.5}))),
        ("string with decimals", pledge(json!({"amount_vnd": "100.50"}))),
        ("beyond i64", serde_json::from_str(&format!("{{\"campaign_id\": {}, \"kind\": \"money\", \"amount_vnd\": 99999999999999999999}}", s.campaign)).unwrap()),
        ("missing amount", pledge(json!({}))),
        ("quantity on money", pledge(json!({"amount_vnd": 10, "quantity": 3}))),
        ("instalments that do not add up", pledge(json!({"amount_vnd": 10, "instalments": [{"due_on": "2022-01-01", "amount_vnd": 4}]}))),
        ("unknown device type", json!({"campaign_id": s.campaign, "kind": "device", "device_type": "abacus", "quantity": 1, "device_condition": "new"})),
        ("device without type", json!({"campaign_id": s.campaign, "kind": "device", "quantity": 1, "device_condition": "new"})),
        ("unknown earmark", pledge(json!({"amount_vnd": 10, "earmark_admin_unit": "00000"}))),
    ] {
        app.post("/api/v1/pledges", Some(&s.donor), &body).await.problem(422);
        let _ = case;
    }

    // Pledging into a closed campaign.
    let closed = app
        .post(
            "/api/v1/campaigns",
            Some(&s.admin),
            &json!({"name": "Đợt 2", "starts_on": "2022-01-01"}),
        )
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    app.post(
        "/api/v1/pledges",
        Some(&s.donor),
        &pledge(json!({"campaign_id": closed, "amount_vnd": 10})),
    )
    .await
    .problem(409);
    app.post(
        &format!("/api/v1/campaigns/{closed}/status"),
        Some(&s.admin),
        &json!({"status": "closed"}),
    )
    .await
    .problem(409);
    app.post(
        &format!("/api/v1/campaigns/{closed}/status"),
        Some(&s.admin),
        &json!({"status": "open"}),
    )
    .await
    .ok(200);
    app.post(
        &format!("/api/v1/campaigns/{closed}/status"),
        Some(&s.admin),
        &json!({"status": "closed"}),
    )
    .await
    .ok(200);
    app.post(
        "/api/v1/pledges",
        Some(&s.donor),
        &pledge(json!({"campaign_id": closed, "amount_vnd": 10})),
    )
    .await
    .problem(409);

    // Duplicate donors.
    let dup = app.post("/api/v1/donors", Some(&s.admin), &json!({"kind": "organisation", "name": "Sông Đà 2", "inside_province": true, "email": "lienhe@songda.example"})).await;
    assert!(dup.problem(409)["detail"]
        .as_str()
        .unwrap()
        .contains(&s.donor_id.to_string()));

    // Another donor's pledge is "not found"; a donor cannot pledge for someone else.
    let other = app.post("/api/v1/donors", Some(&s.admin), &json!({"kind": "individual", "name": "Nguyễn Văn Tâm", "inside_province": false, "phone": "0912345678"})).await.ok(201)["id"].as_i64().unwrap();
    let theirs = app
        .post(
            "/api/v1/pledges",
            Some(&s.admin),
            &pledge(json!({"donor_id": other, "amount_vnd": 1_000_000})),
        )
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    app.get(&format!("/api/v1/pledges/{theirs}"), &s.donor)
        .await
        .problem(404);
    app.get(&format!("/api/v1/donors/{other}"), &s.donor)
        .await
        .problem(404);
    app.post(
        "/api/v1/pledges",
        Some(&s.donor),
        &pledge(json!({"donor_id": other, "amount_vnd": 10})),
    )
    .await
    .problem(422);
    assert_eq!(
        app.get("/api/v1/pledges", &s.donor).await.ok(200)["items"],
        json!([])
    );

    // A receipt must match its pledge's campaign.
    let second = app
        .post(
            "/api/v1/campaigns",
            Some(&s.admin),
            &json!({"name": "Đợt 3", "starts_on": "2022-01-01"}),
        )
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    let wrong = receipt(&app, &s.warehouse, json!({"campaign_id": second, "pledge_id": theirs, "receipt_type": "donation", "kind": "money", "amount_vnd": 10, "bank_reference": "X1", "received_on": "2022-01-02"})).await;
    assert_eq!(wrong.problem(422)["errors"][0]["code"], "other_campaign");
    receipt(&app, &s.warehouse, json!({"campaign_id": s.campaign, "receipt_type": "donation", "kind": "money", "amount_vnd": 10, "received_on": "2022-01-02"})).await.problem(422);

    // A purchase beyond the balance.
    let supplier = app
        .post(
            "/api/v1/suppliers",
            Some(&s.admin),
            &json!({"name": "Nhà cung cấp"}),
        )
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    let buy = json!({"campaign_id": s.campaign, "supplier_id": supplier, "kind": "device", "device_type": "laptop", "unit_price_vnd": 9_000_000, "quantity": 1});
    let before = app.row_counts();
    assert!(app
        .post("/api/v1/purchases", Some(&s.admin), &buy)
        .await
        .problem(409)["detail"]
        .as_str()
        .unwrap()
        .contains("0 đồng left"));
    let huge = json!({"campaign_id": s.campaign, "supplier_id": supplier, "kind": "device", "device_type": "laptop", "unit_price_vnd": i64::MAX, "quantity": 2});
    app.post("/api/v1/purchases", Some(&s.admin), &huge)
        .await
        .problem_naming(422, "unit_price_vnd", "invalid");
    app.assert_nothing_written(&before, "purchases above the balance or the bounds");
}

/// Rounds of eight simultaneous purchases, each 6,000,000 đồng from a fund of
/// 10,000,000: in every round exactly one goes through. Without the
/// campaign lock, PostgreSQL lets several read the same balance.
#[actix_rt::test]
async fn purchases_at_once_cannot_overspend() {
    let app = crate::helpers::spawn_app_with(|env| {
        env.insert("SONGMAY_WORKERS", "4".into());
        env.insert("SONGMAY_DB_POOL_SIZE", "10".into());
    })
    .await;
    let s = setup(&app).await;
    let supplier = app
        .post(
            "/api/v1/suppliers",
            Some(&s.admin),
            &json!({"name": "Nhà cung cấp"}),
        )
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    for round in 0..6 {
        let campaign = app
            .post(
                "/api/v1/campaigns",
                Some(&s.admin),
                &json!({"name": format!("Đợt {round}"), "starts_on": "2022-01-01"}),
            )
            .await
            .ok(201)["id"]
            .as_i64()
            .unwrap();
        receipt(&app, &s.warehouse, json!({"campaign_id": campaign, "donor_id": s.donor_id, "receipt_type": "donation", "kind": "money", "amount_vnd": 10_000_000, "bank_reference": format!("FT-{round}"), "received_on": "2022-01-01"}))
            .await
            .ok(201);
        let buy = json!({"campaign_id": campaign, "supplier_id": supplier, "kind": "device", "device_type": "tablet", "unit_price_vnd": 3_000_000, "quantity": 2});
        let replies = futures_util::future::join_all(
            (0..8).map(|_| app.post("/api/v1/purchases", Some(&s.admin), &buy)),
        )
        .await;
        let mut statuses: Vec<u16> = replies.iter().map(|r| r.status.as_u16()).collect();
        statuses.sort();
        assert_eq!(
            statuses,
            vec![201, 409, 409, 409, 409, 409, 409, 409],
            "round {round}: exactly one purchase fits"
        );
        let balance = app
            .get(
                &format!("/api/v1/funds/balance?campaign_id={campaign}"),
                &s.admin,
            )
            .await
            .ok(200);
        assert_eq!(balance["balance_vnd"], 4_000_000);
    }
    // The lists page through everything once: seven campaigns, one
    // purchase in each round's campaign, the supplier.
    let pages = app.all_pages("/api/v1/campaigns?limit=3", &s.admin).await;
    let ids: Vec<i64> = pages
        .iter()
        .flat_map(|page| page["items"].as_array().unwrap().clone())
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert_eq!((pages.len(), ids.len()), (3, 7));
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "oldest first");
    let last = ids[6];
    let purchases = app
        .get(&format!("/api/v1/purchases?campaign_id={last}"), &s.admin)
        .await
        .ok(200);
    assert_eq!(purchases["items"].as_array().unwrap().len(), 1);
    assert_eq!(purchases["items"][0]["total_vnd"], 6_000_000);
    let suppliers = app.get("/api/v1/suppliers", &s.warehouse).await.ok(200);
    assert_eq!(suppliers["items"][0]["id"], supplier);
    app.get("/api/v1/suppliers?limit=0", &s.admin)
        .await
        .problem(400);
}

#[actix_rt::test]
async fn a_retried_pledge_is_recorded_once() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let send = |body: Value| {
        let (app, donor) = (&app, s.donor.clone());
        async move {
            app.post_with_key("/api/v1/pledges", &donor, "pledge-2021-10-01", &body)
                .await
        }
    };
    let body = json!({"campaign_id": s.campaign, "kind": "software", "product": "Phần mềm dạy học K12", "quantity": 100, "months": 12});
    let first = send(body.clone()).await;
    let again = send(body.clone()).await;
    assert_eq!((first.status.as_u16(), again.status.as_u16()), (201, 201));
    assert_eq!(again.header("idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(first.json(), again.json());
    let mut other = body;
    other["quantity"] = json!(200);
    send(other).await.problem(422);
    assert_eq!(
        app.get("/api/v1/pledges", &s.donor).await.ok(200)["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Receipts and purchases too: a retried transfer or purchase is recorded once.
    let money = json!({"campaign_id": s.campaign, "donor_id": s.donor_id, "receipt_type": "donation", "kind": "money", "amount_vnd": 7_000_000, "bank_reference": "FT-RETRY", "received_on": "2021-10-02"});
    for _ in 0..2 {
        app.post_with_key("/api/v1/receipts", &s.warehouse, "receipt-1", &money)
            .await
            .ok(201);
    }
    let supplier = app
        .post(
            "/api/v1/suppliers",
            Some(&s.admin),
            &json!({"name": "FPT Shop"}),
        )
        .await
        .ok(201)["id"]
        .clone();
    let buy = json!({"campaign_id": s.campaign, "supplier_id": supplier, "kind": "device", "device_type": "phone", "unit_price_vnd": 2_000_000, "quantity": 2});
    for _ in 0..2 {
        app.post_with_key("/api/v1/purchases", &s.admin, "purchase-1", &buy)
            .await
            .ok(201);
    }
    let mut other = buy.clone();
    other["quantity"] = json!(1);
    app.post_with_key("/api/v1/purchases", &s.admin, "purchase-1", &other)
        .await
        .problem(422);
    let balance = app
        .get(
            &format!("/api/v1/funds/balance?campaign_id={}", s.campaign),
            &s.admin,
        )
        .await
        .ok(200);
    assert_eq!(
        balance["balance_vnd"], 3_000_000,
        "7,000,000 received once, 4,000,000 spent once"
    );
}

/// A pledge that will not come is cancelled or marked lapsed with a reason;
/// nothing can be received against it afterwards, and a pledge already
/// received stays received.
#[actix_rt::test]
async fn pledges_are_cancelled_or_lapse_with_a_reason() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let pledge = |body: Value| {
        let (app, admin) = (&app, s.admin.clone());
        async move {
            app.post("/api/v1/pledges", Some(&admin), &body)
                .await
                .ok(201)["id"]
                .as_i64()
                .unwrap()
        }
    };
    let money = pledge(json!({"donor_id": s.donor_id, "campaign_id": s.campaign, "kind": "money", "amount_vnd": 5_000_000})).await;
    let phones = pledge(json!({"donor_id": s.donor_id, "campaign_id": s.campaign, "kind": "device", "device_type": "phone", "quantity": 2, "device_condition": "new"})).await;
    let close = |id: i64, body: Value, token: String| {
        let app = &app;
        async move {
            app.post(
                &format!("/api/v1/pledges/{id}/transitions"),
                Some(&token),
                &body,
            )
            .await
        }
    };

    let no_reason = close(money, json!({"to": "lapsed"}), s.admin.clone())
        .await
        .problem(422);
    assert_eq!(no_reason["errors"][0]["field"], "reason");
    close(
        money,
        json!({"to": "received", "reason": "x"}),
        s.admin.clone(),
    )
    .await
    .problem(422);
    close(
        money,
        json!({"to": "cancelled", "reason": "x"}),
        s.donor.clone(),
    )
    .await
    .problem(403);
    close(
        9_999_999,
        json!({"to": "cancelled", "reason": "x"}),
        s.admin.clone(),
    )
    .await
    .problem(404);
    let lapsed = close(
        money,
        json!({"to": "lapsed", "reason": "không chuyển khoản sau hai lần nhắc"}),
        s.admin.clone(),
    )
    .await
    .ok(200);
    assert_eq!(
        (lapsed["status"].clone(), lapsed["status_reason"].clone()),
        (
            json!("lapsed"),
            json!("không chuyển khoản sau hai lần nhắc")
        )
    );
    // Nothing arrives against a lapsed pledge, and it does not come back.
    receipt(&app, &s.warehouse, json!({"campaign_id": s.campaign, "pledge_id": money, "receipt_type": "donation", "kind": "money", "amount_vnd": 5_000_000, "bank_reference": "FT-LATE", "received_on": "2021-12-01"}))
        .await
        .problem(409);
    close(
        money,
        json!({"to": "cancelled", "reason": "x"}),
        s.admin.clone(),
    )
    .await
    .problem(409);

    // A pledge that arrived in full cannot be cancelled afterwards.
    receipt(&app, &s.warehouse, json!({"campaign_id": s.campaign, "pledge_id": phones, "receipt_type": "donation", "kind": "device", "device_type": "phone", "quantity": 2, "received_on": "2021-10-10"}))
        .await
        .ok(201);
    close(
        phones,
        json!({"to": "cancelled", "reason": "x"}),
        s.admin.clone(),
    )
    .await
    .problem(409);
    let audit = app
        .get(
            &format!("/api/v1/audit-log?entity=pledge&entity_id={money}"),
            &s.admin,
        )
        .await
        .ok(200);
    let closes = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "close")
        .count();
    assert_eq!(closes, 1, "the close is audited once: {audit}");
}

/// A pledge cancelled after part of it arrived stays cancelled when one of
/// its receipts is later reversed: the reversal takes the amount back, it
/// does not reopen the pledge (receipts only move open pledges).
#[actix_rt::test]
async fn a_reversal_never_reopens_a_cancelled_pledge() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let pledge = app
        .post("/api/v1/pledges", Some(&s.admin), &json!({"donor_id": s.donor_id, "campaign_id": s.campaign, "kind": "money", "amount_vnd": 9_000_000}))
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    let first = receipt(&app, &s.warehouse, json!({"campaign_id": s.campaign, "pledge_id": pledge, "receipt_type": "donation", "kind": "money", "amount_vnd": 3_000_000, "bank_reference": "FT-PART-1", "received_on": "2021-10-02"}))
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    app.post(
        &format!("/api/v1/pledges/{pledge}/transitions"),
        Some(&s.admin),
        &json!({"to": "cancelled", "reason": "công ty giải thể"}),
    )
    .await
    .ok(200);
    app.post(
        &format!("/api/v1/receipts/{first}/reversal"),
        Some(&s.admin),
        &json!({"reason": "chuyển nhầm tài khoản"}),
    )
    .await
    .ok(201);
    let after = app
        .get(&format!("/api/v1/pledges/{pledge}"), &s.admin)
        .await
        .ok(200);
    assert_eq!(
        (
            after["status"].clone(),
            after["received_amount_vnd"].clone()
        ),
        (json!("cancelled"), json!(0)),
        "{after}"
    );
    // And nothing more can arrive against it.
    receipt(&app, &s.warehouse, json!({"campaign_id": s.campaign, "pledge_id": pledge, "receipt_type": "donation", "kind": "money", "amount_vnd": 3_000_000, "bank_reference": "FT-PART-2", "received_on": "2021-10-09"}))
        .await
        .problem(409);
}

/// An admin edits a donor (a new e-mail, an address cleared, anonymous on
/// public pages) and a campaign's plan with the version read: without
/// `If-Match` 428, with a stale one 412, a tax code another donor has 409,
/// an impossible plan 422 — each refusal writes nothing — and the edit is
/// stored, versioned and audited by field name.
#[actix_rt::test]
async fn donors_and_campaigns_are_edited_with_the_version_read() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let path = format!("/api/v1/donors/{}", s.donor_id);
    let read = app.get(&path, &s.admin).await;
    assert_eq!(read.header("etag").as_deref(), Some("\"1\""));
    let other = app
        .post("/api/v1/donors", Some(&s.admin), &json!({"kind": "organisation", "name": "Hội Khuyến học", "inside_province": true, "tax_code": "5400999999"}))
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();

    let change =
        json!({"email": "Quy@SongDa.example", "address": null, "anonymous_publicly": true});
    app.request(
        Method::PATCH,
        &path,
        Some(&s.admin),
        Some("application/json"),
        change.to_string().into_bytes(),
    )
    .await
    .problem(428);
    app.patch_if_match(&path, &s.warehouse, "\"1\"", &change)
        .await
        .problem(403);
    app.patch_if_match(&path, &s.admin, "\"1\"", &json!({"tax_code": "5400999999"}))
        .await
        .problem(409);
    app.patch_if_match(
        &path,
        &s.admin,
        "\"1\"",
        &json!({"email": "not an address"}),
    )
    .await
    .problem_naming(422, "email", "email");
    app.patch_if_match(&path, &s.admin, "\"1\"", &json!({"kind": "individual"}))
        .await
        .problem(422);
    app.patch_if_match("/api/v1/donors/99999999", &s.admin, "*", &change)
        .await
        .problem(404);
    let edited = app
        .patch_if_match(&path, &s.admin, "\"1\"", &change)
        .await
        .ok(200);
    assert_eq!(
        (
            edited["email"].clone(),
            edited["address"].clone(),
            edited["anonymous_publicly"].clone(),
            edited["version"].clone(),
            edited["tax_code"].clone(),
        ),
        (
            json!("quy@songda.example"),
            Value::Null,
            json!(true),
            json!(2),
            json!("5400123456")
        )
    );
    assert_eq!(app.get(&path, &s.admin).await.ok(200), edited);
    app.patch_if_match(&path, &s.admin, "\"1\"", &json!({"name": "Sông Đà"}))
        .await
        .problem(412);
    // The donor itself stays apart from the other.
    assert_eq!(
        app.get(&format!("/api/v1/donors/{other}"), &s.admin)
            .await
            .ok(200)["tax_code"],
        "5400999999"
    );
    let audit = app
        .get(
            &format!("/api/v1/audit-log?entity=donor&entity_id={}", s.donor_id),
            &s.admin,
        )
        .await
        .ok(200);
    let update = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "update")
        .cloned()
        .expect("the edit is audited");
    assert_eq!(
        update["changes"]["changed"],
        json!(["email", "address", "anonymous_publicly"]),
        "{update}"
    );
    assert!(
        !update.to_string().contains("quy@songda"),
        "values are not audited: {update}"
    );

    // A campaign's plan.
    let path = format!("/api/v1/campaigns/{}", s.campaign);
    let read = app.get(&path, &s.admin).await;
    let tag = read.header("etag").expect("an ETag");
    let campaign = read.ok(200);
    assert_eq!(tag, format!("\"{}\"", campaign["version"]));
    app.patch_if_match(&path, &s.admin, &tag, &json!({"ends_on": "2021-08-01"}))
        .await
        .problem_naming(422, "ends_on", "before_start");
    app.patch_if_match(
        &path,
        &s.admin,
        &tag,
        &json!({"priority_admin_units": ["99999"]}),
    )
    .await
    .problem_naming(422, "priority_admin_units", "unknown");
    app.patch_if_match(&path, &s.admin, &tag, &json!({"status": "closed"}))
        .await
        .problem(422);
    let plan = json!({"ends_on": "2022-06-30", "targets": {"money_vnd": 6_000_000_000i64, "devices": {"tablet": 2500}}});
    let edited = app
        .patch_if_match(&path, &s.admin, &tag, &plan)
        .await
        .ok(200);
    assert_eq!(
        (
            edited["ends_on"].clone(),
            edited["targets"]["devices"]["tablet"].clone(),
            edited["status"].clone(),
            edited["name"].clone()
        ),
        (
            json!("2022-06-30"),
            json!(2500),
            json!("open"),
            campaign["name"].clone()
        )
    );
    assert_eq!(app.get(&path, &s.admin).await.ok(200), edited);
    // Closing it is a change too: the tag read before is stale.
    let tag = format!("\"{}\"", edited["version"]);
    app.post(
        &format!("{path}/status"),
        Some(&s.admin),
        &json!({"status": "closed"}),
    )
    .await
    .ok(200);
    app.patch_if_match(&path, &s.admin, &tag, &json!({"ends_on": null}))
        .await
        .problem(412);
}

/// Deliveries of one pledge recorded at the same moment by several
/// officers: every one counts towards the pledge (on PostgreSQL two
/// transactions would otherwise both add to the same old total).
#[actix_rt::test]
async fn deliveries_recorded_at_once_all_count() {
    let app = crate::helpers::spawn_app_with(|env| {
        env.insert("SONGMAY_WORKERS", "4".into());
        env.insert("SONGMAY_DB_POOL_SIZE", "10".into());
    })
    .await;
    let s = setup(&app).await;
    let pledge = app
        .post("/api/v1/pledges", Some(&s.admin), &json!({"donor_id": s.donor_id, "campaign_id": s.campaign, "kind": "device", "device_type": "tablet", "quantity": 20, "device_condition": "new"}))
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    let delivery = json!({"campaign_id": s.campaign, "pledge_id": pledge, "receipt_type": "donation", "kind": "device", "device_type": "tablet", "quantity": 2, "received_on": "2021-10-05"});
    let replies = futures_util::future::join_all(
        (0..8).map(|_| receipt(&app, &s.warehouse, delivery.clone())),
    )
    .await;
    for reply in replies {
        reply.ok(201);
    }
    let after = app
        .get(&format!("/api/v1/pledges/{pledge}"), &s.admin)
        .await
        .ok(200);
    assert_eq!(
        (after["received_quantity"].clone(), after["status"].clone()),
        (json!(16), json!("partly_received"))
    );
    // Two more at once fill it: received, and the second is over nothing.
    let replies = futures_util::future::join_all(
        (0..2).map(|_| receipt(&app, &s.warehouse, delivery.clone())),
    )
    .await;
    let flags: Vec<bool> = replies
        .into_iter()
        .map(|r| r.ok(201)["over_pledge"].as_bool().unwrap())
        .collect();
    assert_eq!(flags, [false, false], "20 of 20 is not over the pledge");
    let after = app
        .get(&format!("/api/v1/pledges/{pledge}"), &s.admin)
        .await
        .ok(200);
    assert_eq!(
        (after["received_quantity"].clone(), after["status"].clone()),
        (json!(20), json!("received"))
    );
}

/// Closing a campaign twice at once closes it once; a pledge after the
/// close is refused.
#[actix_rt::test]
async fn a_campaign_closes_once() {
    let app = crate::helpers::spawn_app_with(|env| {
        env.insert("SONGMAY_WORKERS", "4".into());
        env.insert("SONGMAY_DB_POOL_SIZE", "8".into());
    })
    .await;
    let s = setup(&app).await;
    let path = format!("/api/v1/campaigns/{}/status", s.campaign);
    let close = json!({"status": "closed"});
    let replies =
        futures_util::future::join_all((0..4).map(|_| app.post(&path, Some(&s.admin), &close)))
            .await;
    let mut codes: Vec<u16> = replies.iter().map(|r| r.status.as_u16()).collect();
    codes.sort();
    assert_eq!(codes, [200, 409, 409, 409]);
    let audit = app
        .get(
            &format!(
                "/api/v1/audit-log?entity=campaign&entity_id={}&action=set_status",
                s.campaign
            ),
            &s.admin,
        )
        .await
        .ok(200);
    assert_eq!(
        audit["items"].as_array().unwrap().len(),
        2,
        "open, then close once"
    );
    app.post("/api/v1/pledges", Some(&s.admin), &json!({"donor_id": s.donor_id, "campaign_id": s.campaign, "kind": "money", "amount_vnd": 1_000_000}))
        .await
        .problem(409);
}

/// The letter a donor keeps: a PDF that opens (`%PDF`), with its fonts
/// embedded, whose text reads as a Vietnamese letter — the donor, the
/// amount in figures and in words, the place and date, the reference to
/// follow the gift and the configured signer, never an account id. A
/// reversed receipt has no letter.
#[actix_rt::test]
async fn the_thank_you_letter_is_a_pdf_that_reads_as_a_letter_in_vietnamese() {
    let app = crate::helpers::spawn_app_with(|env| {
        // The reversal below is carried out at once (no second officer here).
        env.insert("SONGMAY_FOUR_EYES_VND", "1000000000".into());
        env.insert("SONGMAY_LETTER_SIGNER_TITLE", "Giám đốc Sở".into());
        env.insert("SONGMAY_LETTER_SIGNER_NAME", "Nguyễn Văn Hùng".into());
    })
    .await;
    let s = setup(&app).await;
    let gift = receipt(
        &app,
        &s.warehouse,
        json!({"campaign_id": s.campaign, "donor_id": s.donor_id, "receipt_type": "donation", "kind": "money", "amount_vnd": 150_000_000, "bank_reference": "FT21258000001", "received_on": "2021-09-15"}),
    )
    .await
    .ok(201);
    let id = gift["id"].as_i64().unwrap();
    let letter = app
        .get(&format!("/api/v1/receipts/{id}/acknowledgement"), &s.donor)
        .await
        .ok(200);
    assert_eq!(letter["amount_in_words"], "Một trăm năm mươi triệu đồng");
    assert_eq!(letter["dated"], "Hòa Bình, ngày 15 tháng 9 năm 2021");
    assert_eq!(letter["signer_name"], "Nguyễn Văn Hùng");

    let reply = app
        .request(
            Method::GET,
            &format!("/api/v1/receipts/{id}/acknowledgement?format=pdf"),
            Some(&s.donor),
            None,
            vec![],
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type").as_deref(),
        Some("application/pdf")
    );
    assert!(reply.body.starts_with(b"%PDF"), "not a PDF");
    assert!(
        reply.body.windows(9).any(|w| w == b"/FontFile"),
        "the font is embedded"
    );
    let text = pdf_extract::extract_text_from_mem(&reply.body).expect("the PDF's text reads");
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for expected in [
        "THƯ CẢM ƠN",
        "Kính gửi: Công ty Cổ phần Sông Đà",
        "150.000.000 đồng",
        "Một trăm năm mươi triệu đồng",
        "Hòa Bình, ngày 15 tháng 9 năm 2021",
        "Sở Giáo dục và Đào tạo tỉnh Hòa Bình",
        "Giám đốc Sở",
        "Nguyễn Văn Hùng",
        gift["public_ref"].as_str().expect("a public reference"),
    ] {
        assert!(
            text.contains(expected),
            "the letter lacks {expected:?}: {text}"
        );
    }
    // No account id, no empty phrase left by a missing value.
    assert!(
        !text.contains("user:") && !text.contains("kho.tinh"),
        "{text}"
    );
    assert!(!text.contains("()") && !text.contains(" ,"), "{text}");

    // Reversed, the gift has no letter in any form.
    app.post(
        &format!("/api/v1/receipts/{id}/reversal"),
        Some(&s.admin),
        &json!({"reason": "chuyển nhầm"}),
    )
    .await
    .ok(201);
    for format in ["json", "html", "pdf"] {
        app.get(
            &format!("/api/v1/receipts/{id}/acknowledgement?format={format}"),
            &s.donor,
        )
        .await
        .problem(409);
    }
}

/// An agency's drive: its handovers are receipts of the campaign (so they
/// roll up into the campaign's figures), its progress is net of reversals,
/// and the public sees it only once 5 or more people gave — never a name.
#[actix_rt::test]
async fn a_drive_hands_over_receipts_that_roll_up_and_reach_the_public_page() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let drive = app
        .post(
            "/api/v1/drives",
            Some(&s.admin),
            &json!({"campaign_id": s.campaign, "organisation": "Sở Tài chính tỉnh Hòa Bình", "organisation_kind": "agency", "target_vnd": 50_000_000, "starts_on": "2021-09-01", "ends_on": "2021-10-31", "contact_name": "Phòng Tổ chức", "contact_phone": "0218 3852 123"}),
        )
        .await
        .ok(201);
    let id = drive["id"].as_i64().unwrap();
    let small = app
        .post(
            "/api/v1/drives",
            Some(&s.admin),
            &json!({"campaign_id": s.campaign, "organisation": "Hiệp hội Doanh nghiệp", "organisation_kind": "association", "starts_on": "2021-09-01", "contact_name": "Văn phòng Hiệp hội"}),
        )
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    let staff = app
        .post(
            &format!("/api/v1/drives/{id}/receipts"),
            Some(&s.warehouse),
            &json!({"receipt": {"campaign_id": s.campaign, "receipt_type": "donation", "kind": "money", "amount_vnd": 12_500_000, "bank_reference": "FT21270000777", "received_on": "2021-09-27"}, "contributor_count": 48, "contributors": ["Trần Văn Bí Mật", "Lê Thị Riêng Tư"]}),
        )
        .await
        .ok(201);
    assert_eq!(staff["drive_id"], id);
    assert_eq!(staff["receipt"]["amount_vnd"], 12_500_000);
    app.post(
        &format!("/api/v1/drives/{id}/receipts"),
        Some(&s.warehouse),
        &json!({"receipt": {"campaign_id": s.campaign, "receipt_type": "donation", "kind": "device", "device_type": "tablet", "quantity": 3, "received_on": "2021-10-02"}, "contributor_count": 2}),
    )
    .await
    .ok(201);
    app.post(
        &format!("/api/v1/drives/{small}/receipts"),
        Some(&s.warehouse),
        &json!({"receipt": {"campaign_id": s.campaign, "receipt_type": "donation", "kind": "money", "amount_vnd": 700_000, "bank_reference": "FT21270000778", "received_on": "2021-09-28"}, "contributor_count": 2}),
    )
    .await
    .ok(201);

    let progress = app
        .get(&format!("/api/v1/drives/{id}"), &s.admin)
        .await
        .ok(200)["progress"]
        .clone();
    assert_eq!(
        progress,
        json!({"money_received_vnd": 12_500_000, "goods_received": 3, "contributors": 50, "handovers": 2})
    );
    // The drives' receipts are the campaign's: they roll up into its figures.
    let stats = app
        .get(
            &format!("/api/v1/stats/donations?campaign={}", s.campaign),
            &s.admin,
        )
        .await
        .ok(200);
    assert_eq!(stats["money_received_vnd"], 13_200_000, "{stats}");
    let by_drive = app
        .get(
            &format!("/api/v1/drives?campaign_id={}", s.campaign),
            &s.warehouse,
        )
        .await
        .ok(200);
    let summed: i64 = by_drive["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["progress"]["money_received_vnd"].as_i64().unwrap())
        .sum();
    assert_eq!(
        summed, 13_200_000,
        "the campaign broken down by drive adds up"
    );

    let public = app.get("/api/v1/public/drives", "").await;
    let text = String::from_utf8(public.body.clone()).unwrap();
    assert!(
        !text.contains("Bí Mật") && !text.contains("Riêng Tư") && !text.contains("0218"),
        "{text}"
    );
    let public = public.ok(200);
    assert_eq!(public[0]["contributors"], 50);
    assert_eq!(public[0]["money_received_vnd"], 12_500_000);
    // Two people: their gifts could be read off, so nothing but "<5".
    assert_eq!(public[1]["contributors"], "<5");
    assert!(public[1]["money_received_vnd"].is_null(), "{public}");

    // A reversed handover leaves the drive's progress.
    app.post(
        &format!("/api/v1/receipts/{}/reversal", staff["receipt"]["id"]),
        Some(&s.admin),
        &json!({"reason": "chuyển nhầm tài khoản"}),
    )
    .await
    .ok(201);
    let progress = app
        .get(&format!("/api/v1/drives/{id}"), &s.admin)
        .await
        .ok(200)["progress"]
        .clone();
    assert_eq!(
        progress,
        json!({"money_received_vnd": 0, "goods_received": 3, "contributors": 2, "handovers": 1})
    );
    let public = app.get("/api/v1/public/drives", "").await.ok(200);
    assert_eq!(public[0]["contributors"], "<5");
}

/// A drive takes gifts to its own campaign within its period; anything
/// else is refused on the field and writes nothing.
#[actix_rt::test]
async fn a_drive_refuses_receipts_outside_its_campaign_or_period() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let other = app
        .post(
            "/api/v1/campaigns",
            Some(&s.admin),
            &json!({"name": "Khác", "starts_on": "2021-09-01", "targets": {}}),
        )
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    let id = app
        .post(
            "/api/v1/drives",
            Some(&s.admin),
            &json!({"campaign_id": s.campaign, "organisation": "Công ty Điện lực", "organisation_kind": "business", "starts_on": "2021-09-01", "ends_on": "2021-09-30", "contact_name": "Công đoàn"}),
        )
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    let gift = |campaign: i64, on: &str| json!({"receipt": {"campaign_id": campaign, "receipt_type": "donation", "kind": "money", "amount_vnd": 1_000_000, "bank_reference": "FT21253000001", "received_on": on}, "contributor_count": 10});
    let path = format!("/api/v1/drives/{id}/receipts");
    let before = app.row_counts();
    app.post(&path, Some(&s.warehouse), &gift(s.campaign, "2021-10-05"))
        .await
        .problem_naming(422, "receipt.received_on", "outside_drive");
    app.post(&path, Some(&s.warehouse), &gift(s.campaign, "2021-08-31"))
        .await
        .problem_naming(422, "receipt.received_on", "outside_drive");
    app.post(&path, Some(&s.warehouse), &gift(other, "2021-09-10"))
        .await
        .problem_naming(422, "receipt.campaign_id", "other_campaign");
    app.post(
        &path,
        Some(&s.warehouse),
        &json!({"receipt": {"campaign_id": s.campaign, "receipt_type": "donation", "kind": "money", "amount_vnd": 1_000_000, "bank_reference": "FT21253000002", "received_on": "2021-09-10"}, "contributor_count": 0}),
    )
    .await
    .problem_naming(422, "contributor_count", "range");
    // The receipt's own rules apply, named inside `receipt`.
    app.post(
        &path,
        Some(&s.warehouse),
        &json!({"receipt": {"campaign_id": s.campaign, "receipt_type": "donation", "kind": "money", "amount_vnd": 1_000_000, "received_on": "2021-09-10"}, "contributor_count": 3}),
    )
    .await
    .problem_naming(422, "receipt.bank_reference", "required");
    app.post(
        "/api/v1/drives/999999/receipts",
        Some(&s.warehouse),
        &gift(s.campaign, "2021-09-10"),
    )
    .await
    .problem(404);
    app.post(&path, Some(&s.donor), &gift(s.campaign, "2021-09-10"))
        .await
        .problem(403);
    app.post(
        "/api/v1/drives",
        Some(&s.admin),
        &json!({"campaign_id": s.campaign, "organisation": "X", "organisation_kind": "business", "starts_on": "2021-09-30", "ends_on": "2021-09-01", "contact_name": "Y"}),
    )
    .await
    .problem_naming(422, "ends_on", "before_start");
    assert_eq!(app.row_counts(), before, "no refused drive write was kept");
    app.post(&path, Some(&s.warehouse), &gift(s.campaign, "2021-09-10"))
        .await
        .ok(201);
}

#[actix_rt::test]
async fn a_large_purchase_or_reversal_waits_for_a_second_finance_officer() {
    let app = crate::helpers::spawn_app_with(|env| {
        env.insert("SONGMAY_FOUR_EYES_VND", "20000000".into());
    })
    .await;
    let s = setup(&app).await;
    let first = app
        .user_token("ke.toan.mot", "finance_officer", json!({}))
        .await;
    let second = app
        .user_token("ke.toan.hai", "finance_officer", json!({}))
        .await;
    let gift = |amount: i64, reference: &'static str| {
        let (app, warehouse, campaign) = (&app, s.warehouse.clone(), s.campaign);
        async move {
            receipt(app, &warehouse, json!({"campaign_id": campaign, "donor_id": s.donor_id, "receipt_type": "donation", "kind": "money", "amount_vnd": amount, "bank_reference": reference, "received_on": "2021-10-06"}))
                .await
                .ok(201)["id"]
                .as_i64()
                .unwrap()
        }
    };
    let big = gift(30_000_000, "FT-BIG").await;
    gift(10_000_000, "FT-SMALL").await;
    let supplier = app
        .post(
            "/api/v1/suppliers",
            Some(&first),
            &json!({"name": "Công ty Thiết bị Tây Bắc"}),
        )
        .await
        .ok(201)["id"]
        .clone();
    let balance = || async {
        app.get(
            &format!("/api/v1/funds/balance?campaign_id={}", s.campaign),
            &first,
        )
        .await
        .ok(200)["balance_vnd"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(balance().await, 40_000_000);

    // At or below the amount: done at once, as always.
    app.post("/api/v1/purchases", Some(&first), &json!({"campaign_id": s.campaign, "supplier_id": supplier, "kind": "device", "device_type": "tablet", "unit_price_vnd": 2_000_000, "quantity": 10}))
        .await
        .ok(201);
    assert_eq!(balance().await, 20_000_000);
    // Above it: a request, and nothing paid.
    let waiting = app
        .post("/api/v1/purchases", Some(&first), &json!({"campaign_id": s.campaign, "supplier_id": supplier, "kind": "device", "device_type": "tablet", "unit_price_vnd": 3_000_000, "quantity": 7}))
        .await
        .ok(202);
    assert_eq!(
        (
            waiting["status"].clone(),
            waiting["operation"].clone(),
            waiting["amount_vnd"].clone()
        ),
        (
            json!("pending_approval"),
            json!("purchase"),
            json!(21_000_000)
        )
    );
    assert_eq!(
        balance().await,
        20_000_000,
        "nothing reaches the ledger before approval"
    );
    let purchases = || async {
        app.get(
            &format!("/api/v1/purchases?campaign_id={}", s.campaign),
            &first,
        )
        .await
        .ok(200)["items"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(purchases().await, 1);
    let approve = format!("/api/v1/approvals/{}/approve", waiting["id"]);
    // Not by the one who asked, nor by an admin without the duty.
    let rows = app.row_counts();
    let refused = app
        .post(&approve, Some(&first), &json!({}))
        .await
        .problem(403);
    assert!(
        refused["detail"].as_str().unwrap().contains("second"),
        "{refused}"
    );
    app.assert_nothing_written(&rows, "approving one's own request");
    let plain_admin = app.user_token("admin.ba", "admin", json!({})).await;
    app.post(&approve, Some(&plain_admin), &json!({}))
        .await
        .problem(403);
    // The campaign cannot pay it (20,000,000 left): refused, still pending.
    app.post(&approve, Some(&second), &json!({}))
        .await
        .problem(409);
    let pending = app
        .get(&format!("/api/v1/approvals/{}", waiting["id"]), &second)
        .await
        .ok(200);
    assert_eq!(pending["status"], "pending_approval");
    gift(5_000_000, "FT-MORE").await;
    let approved = app.post(&approve, Some(&second), &json!({})).await.ok(200);
    assert_eq!(approved["status"], "approved");
    assert_eq!(approved["decided_by"], "user:ke.toan.hai");
    let bought = app
        .get(
            &format!("/api/v1/purchases/{}", approved["result_id"]),
            &first,
        )
        .await
        .ok(200);
    assert_eq!(bought["total_vnd"], 21_000_000);
    assert_eq!(
        bought["created_by"], "user:ke.toan.mot",
        "carried out as its requester asked"
    );
    assert_eq!(balance().await, 4_000_000);
    assert_eq!(purchases().await, 2);
    app.post(&approve, Some(&second), &json!({}))
        .await
        .problem(409);

    // A large reversal: rejected, so nothing is reversed.
    let reversal = app
        .post(
            &format!("/api/v1/receipts/{big}/reversal"),
            Some(&first),
            &json!({"reason": "bank returned the transfer"}),
        )
        .await
        .ok(202);
    assert_eq!(reversal["operation"], "reversal");
    let reject = format!("/api/v1/approvals/{}/reject", reversal["id"]);
    app.post(&reject, Some(&second), &json!({"reason": ""}))
        .await
        .problem_naming(422, "reason", "length");
    let rejected = app
        .post(
            &reject,
            Some(&second),
            &json!({"reason": "the transfer arrived; the bank's notice was wrong"}),
        )
        .await
        .ok(200);
    assert_eq!(
        (rejected["status"].clone(), rejected["result_id"].clone()),
        (json!("rejected"), Value::Null)
    );
    assert_eq!(balance().await, 4_000_000);
    let audit = app
        .get("/api/v1/audit-log?entity=money_approval", &s.admin)
        .await
        .ok(200);
    let actions: Vec<String> = crate::helpers::column(&audit, "action");
    for expected in ["request_approval", "approve", "reject"] {
        assert!(actions.iter().any(|a| a == expected), "{actions:?}");
    }
}
