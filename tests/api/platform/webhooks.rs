//! Webhooks against a real receiver: an actix server in the test, on a
//! local port, that records what it is sent and answers as told.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::helpers::{spawn_app_with, student, TestApp};
use crate::reporting::reconciliation::story;

/// One POST the receiver got.
#[derive(Debug, Clone)]
struct Received {
    id: String,
    timestamp: String,
    signature: String,
    body: Vec<u8>,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// What the receiver answers next: a status, or a delay before it.
#[derive(Debug, Clone, Copy)]
enum Answer {
    Status(u16),
    HangFor(Duration),
}

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    answers: Arc<Mutex<VecDeque<Answer>>>,
}

impl Receiver {
    fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    fn answer_next(&self, answers: &[Answer]) {
        self.answers.lock().unwrap().extend(answers.iter().copied());
    }

    /// Waits (at most 20 s) until `done` holds for what arrived.
    async fn until(&self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        for _ in 0..200 {
            let got = self.got();
            if done(&got) {
                return got;
            }
            actix_rt::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{what}: the receiver got {:#?}", self.got());
    }
}

async fn receive(
    receiver: web::Data<Receiver>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    receiver.got.lock().unwrap().push(Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body: body.to_vec(),
    });
    let answer = receiver.answers.lock().unwrap().pop_front();
    match answer {
        Some(Answer::HangFor(delay)) => {
            actix_rt::time::sleep(delay).await;
            HttpResponse::Ok().finish()
        }
        Some(Answer::Status(status)) => {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).finish()
        }
        None => HttpResponse::NoContent().finish(),
    }
}

/// Starts a receiver; returns it and the URL to subscribe.
fn start_receiver() -> (Receiver, String) {
    let receiver = Receiver::default();
    let data = web::Data::new(receiver.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/hook", web::post().to(receive))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .expect("a local port");
    let port = server.addrs()[0].port();
    actix_rt::spawn(server.run());
    (receiver, format!("http://127.0.0.1:{port}/hook"))
}

/// An instance that may call the local receiver, quickly.
async fn app_for_webhooks(extra: &[(&'static str, &str)]) -> TestApp {
    let extra: Vec<(&'static str, String)> =
        extra.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
    spawn_app_with(move |env| {
        env.insert("SONGMAY_WEBHOOK_ALLOW_PRIVATE", "true".into());
        env.insert("SONGMAY_WEBHOOK_POLL_MS", "100".into());
        env.insert("SONGMAY_WEBHOOK_RETRY_MS", "200".into());
        env.extend(extra);
    })
    .await
}

/// Verifies a delivery's signature with the secret, independently of the
/// service's code: HMAC-SHA256 over `id.timestamp.body`, base64.
fn signature_verifies(secret: &str, got: &Received) -> bool {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").expect("a whsec_ secret"))
        .expect("a base64 key");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.", got.id, got.timestamp).as_bytes());
    mac.update(&got.body);
    let expected = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    got.signature == expected
}

async fn subscribe(app: &TestApp, admin: &str, body: Value) -> Value {
    app.post("/api/v1/webhooks", Some(admin), &body)
        .await
        .ok(201)
}

/// A need's whole life reaches a subscriber of its part of the province:
/// reported, verified, approved, allocated, fulfilled, with the allocation
/// and the handover — each signed, in order, without the child's personal
/// data; events of other kinds are not sent to it.
/// The subscription's deliveries once `done` holds of them (or after
/// five seconds): a receiver has its answer a moment before the worker
/// records it.
async fn settled(
    app: &TestApp,
    admin: &str,
    id: i64,
    query: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Value {
    let mut deliveries = Value::Null;
    for _ in 0..100 {
        deliveries = app
            .get(&format!("/api/v1/webhooks/{id}/deliveries{query}"), admin)
            .await
            .ok(200);
        if deliveries["items"]
            .as_array()
            .is_some_and(|items| done(items))
        {
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    deliveries
}

#[actix_rt::test]
async fn a_needs_whole_life_reaches_a_subscriber_signed_and_in_order() {
    let app = app_for_webhooks(&[]).await;
    // Two instances of the service on the one database, both delivering.
    app.start_replica(|env| {
        env.insert("SONGMAY_WEBHOOK_ALLOW_PRIVATE", "true".into());
        env.insert("SONGMAY_WEBHOOK_POLL_MS", "100".into());
    });
    let s = story(&app).await;
    let (receiver, url) = start_receiver();
    let created = subscribe(
        &app,
        &s.admin,
        json!({"url": url, "admin_unit_code": "17", "event_types": [
            "need.reported", "need.verified", "need.approved", "need.allocated",
            "need.fulfilled", "allocation.made", "handover.recorded"]}),
    )
    .await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{created}");
    let id = created["id"].as_i64().unwrap();
    let shown = app
        .get(&format!("/api/v1/webhooks/{id}"), &s.admin)
        .await
        .ok(200);
    assert!(
        shown.get("secret").is_none(),
        "the secret is shown once: {shown}"
    );
    // A subscription elsewhere in the province hears nothing of it.
    let (elsewhere, elsewhere_url) = start_receiver();
    subscribe(
        &app,
        &s.admin,
        json!({"url": elsewhere_url, "admin_unit_code": "148", "event_types": ["need.reported"]}),
    )
    .await;

    let (roster, roster_url) = start_receiver();
    subscribe(
        &app,
        &s.admin,
        json!({"url": roster_url, "admin_unit_code": "17", "event_types": ["student.changed"]}),
    )
    .await;

    let record = s.one_student_and_a_tablet_for_them(&app, "HOOK-1").await;
    let need = app
        .get("/api/v1/needs?status=approved", &s.admin)
        .await
        .ok(200)["items"][0]["id"]
        .as_i64()
        .unwrap();
    let item = app
        .get("/api/v1/inventory/items?status=ready", &s.admin)
        .await
        .ok(200)["items"][0]["id"]
        .clone();
    let allocation = app
        .post(
            "/api/v1/allocations",
            Some(&s.officer),
            &json!({"need_id": need, "item_id": item}),
        )
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    let handover = app
        .post("/api/v1/handovers", Some(&s.officer), &json!({"allocation_id": allocation, "received_by_name": "Đinh Thị Mẹ", "relation": "parent", "handed_on": "2021-10-25", "acknowledged": true}))
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();

    let got = receiver.until("seven events", |got| got.len() >= 7).await;
    let now = chrono::Utc::now().timestamp();
    for delivery in &got {
        assert!(signature_verifies(&secret, delivery), "{delivery:?}");
        let at: i64 = delivery.timestamp.parse().unwrap();
        assert!((now - at).abs() < 60, "a fresh timestamp");
        let body = delivery.json();
        assert_eq!(body["id"], delivery.id, "the header names the body's event");
        let text = String::from_utf8_lossy(&delivery.body);
        for private in [
            record["full_name"].as_str().unwrap(),
            record["birth_date"].as_str().unwrap(),
            "Đinh Thị Mẹ",
            "poor",
        ] {
            assert!(!text.contains(private), "{private} in {text}");
        }
    }
    // In the order the changes happened, each once.
    let mut by_event: BTreeMap<i64, Value> = BTreeMap::new();
    for delivery in &got {
        let number: i64 = delivery.id.trim_start_matches("evt_").parse().unwrap();
        assert!(
            by_event.insert(number, delivery.json()).is_none(),
            "delivered twice"
        );
    }
    let types: Vec<String> = by_event
        .values()
        .map(|b| b["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        types,
        [
            "need.reported",
            "need.verified",
            "need.approved",
            "need.allocated",
            "allocation.made",
            "need.fulfilled",
            "handover.recorded"
        ]
    );
    let last = by_event.values().last().unwrap();
    assert_eq!(
        (
            last["entity"].clone(),
            last["entity_id"].clone(),
            last["data"]["need_id"].clone()
        ),
        (json!("handover"), json!(handover), json!(need))
    );
    assert!(by_event.values().all(|b| b["admin_unit_code"].is_string()));

    // The admin sees every delivery delivered, once each.
    let deliveries = settled(&app, &s.admin, id, "", |items| {
        items.len() == 7 && items.iter().all(|d| d["status"] == "delivered")
    })
    .await;
    let items = deliveries["items"].as_array().unwrap();
    assert_eq!(items.len(), 7, "{deliveries}");
    assert!(
        items
            .iter()
            .all(|d| d["status"] == "delivered" && d["attempts"] == 1),
        "{deliveries}"
    );
    // The student's arrival, by id only.
    let arrived = roster
        .until("the student's arrival", |got| !got.is_empty())
        .await;
    let change = arrived[0].json();
    assert_eq!(
        (
            change["type"].clone(),
            change["data"]["operation"].clone(),
            change["data"]["active"].clone()
        ),
        (json!("student.changed"), json!("insert"), json!(true))
    );
    assert!(change["data"]["student_id"].is_i64());
    assert!(change["data"]["school_id"].is_i64(), "{change}");
    assert_eq!(change["data"]["version"], 1, "{change}");
    let text = String::from_utf8_lossy(&arrived[0].body);
    assert!(
        !text.contains(record["full_name"].as_str().unwrap()),
        "{text}"
    );
    assert!(
        !text.contains(record["birth_date"].as_str().unwrap()),
        "{text}"
    );
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    assert!(
        elsewhere.got().is_empty(),
        "nothing of Hòa Bình city's subtree happened"
    );
    assert_eq!(receiver.got().len(), 7, "nothing more arrived");
}

/// A receiver that fails gets the same event again (same `webhook-id`)
/// until it answers 2xx; a refused change sends nothing; an admin replays
/// a delivery; a paused subscription hears nothing until it is resumed.
#[actix_rt::test]
async fn a_failed_delivery_is_retried_and_a_refused_change_sends_nothing() {
    let app = app_for_webhooks(&[]).await;
    let s = story(&app).await;
    let (receiver, url) = start_receiver();
    receiver.answer_next(&[Answer::Status(500), Answer::Status(503)]);
    let created = subscribe(
        &app,
        &s.admin,
        json!({"url": url, "event_types": ["pledge.made", "pledge.closed"]}),
    )
    .await;
    let id = created["id"].as_i64().unwrap();
    let pledge = s
        .pledge(
            &app,
            json!({"donor_id": s.donors[0], "kind": "money", "amount_vnd": 2_000_000}),
        )
        .await;
    let got = receiver.until("three attempts", |got| got.len() >= 3).await;
    assert!(
        got.iter().all(|g| g.id == got[0].id),
        "one event, retried: {got:?}"
    );
    assert_eq!(got[0].json()["data"]["pledge_id"], pledge);
    let deliveries = settled(&app, &s.admin, id, "?status=delivered", |items| {
        !items.is_empty()
    })
    .await;
    let delivery = deliveries["items"][0].clone();
    assert_eq!(
        (
            delivery["attempts"].clone(),
            delivery["last_status_code"].clone()
        ),
        (json!(3), json!(204)),
        "{deliveries}"
    );

    // Refused changes write no event, so nothing is sent.
    app.post(
        &format!("/api/v1/pledges/{pledge}/transitions"),
        Some(&s.admin),
        &json!({"to": "lapsed"}),
    )
    .await
    .problem(422);
    app.post(
        &format!("/api/v1/pledges/{pledge}/transitions"),
        Some(&s.admin),
        &json!({"to": "received", "reason": "x"}),
    )
    .await
    .problem(422);
    actix_rt::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(receiver.got().len(), 3, "nothing for a refused change");

    // A replay sends the same event again.
    let replayed = app
        .post(
            &format!("/api/v1/webhooks/{id}/deliveries/{}/replay", delivery["id"]),
            Some(&s.admin),
            &json!({}),
        )
        .await
        .ok(200);
    assert_eq!(replayed["status"], "pending");
    let got = receiver.until("the replay", |got| got.len() >= 4).await;
    assert_eq!(got[3].id, got[0].id);
    app.post(
        &format!("/api/v1/webhooks/{id}/deliveries/99999999/replay"),
        Some(&s.admin),
        &json!({}),
    )
    .await
    .problem(404);

    // Paused: the event waits; resumed: it goes out.
    let paused = app
        .patch(
            &format!("/api/v1/webhooks/{id}"),
            &s.admin,
            &json!({"active": false}),
        )
        .await
        .ok(200);
    assert_eq!(paused["active"], false);
    app.post(
        &format!("/api/v1/webhooks/{id}/deliveries/{}/replay", delivery["id"]),
        Some(&s.admin),
        &json!({}),
    )
    .await
    .problem(409);
    app.post(
        &format!("/api/v1/pledges/{pledge}/transitions"),
        Some(&s.admin),
        &json!({"to": "cancelled", "reason": "công ty đổi kế hoạch"}),
    )
    .await
    .ok(200);
    actix_rt::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        receiver.got().len(),
        4,
        "a paused subscription hears nothing"
    );
    app.patch(
        &format!("/api/v1/webhooks/{id}"),
        &s.admin,
        &json!({"active": true}),
    )
    .await
    .ok(200);
    let got = receiver.until("the closing", |got| got.len() >= 5).await;
    assert_eq!(got[4].json()["type"], "pledge.closed");
    assert_eq!(got[4].json()["data"]["status"], "cancelled");
}

/// A receiver that hangs is cut off at the timeout; one that keeps failing
/// is given up when its time runs out, and after enough failures in a row
/// its subscription is disabled until an admin resumes it.
#[actix_rt::test]
async fn a_receiver_that_keeps_failing_is_given_up_and_disabled() {
    let app = app_for_webhooks(&[
        ("SONGMAY_WEBHOOK_TIMEOUT_SECONDS", "1"),
        ("SONGMAY_WEBHOOK_GIVE_UP_SECONDS", "2"),
        ("SONGMAY_WEBHOOK_DISABLE_AFTER", "1"),
    ])
    .await;
    let s = story(&app).await;
    let (receiver, url) = start_receiver();
    receiver.answer_next(&[Answer::HangFor(Duration::from_secs(3))]);
    receiver.answer_next(&[Answer::Status(500); 50]);
    let id = subscribe(
        &app,
        &s.admin,
        json!({"url": url, "event_types": ["pledge.made"]}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    s.pledge(
        &app,
        json!({"donor_id": s.donors[0], "kind": "money", "amount_vnd": 1_000_000}),
    )
    .await;
    let mut subscription = Value::Null;
    for _ in 0..100 {
        subscription = app
            .get(&format!("/api/v1/webhooks/{id}"), &s.admin)
            .await
            .ok(200);
        if subscription["active"] == false {
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(subscription["active"], false, "{subscription}");
    assert!(subscription["disabled_reason"].is_string());
    assert_eq!(subscription["consecutive_failures"], 1);
    let deliveries = app
        .get(&format!("/api/v1/webhooks/{id}/deliveries"), &s.admin)
        .await
        .ok(200);
    let delivery = &deliveries["items"][0];
    assert_eq!(delivery["status"], "failed", "{deliveries}");
    assert!(delivery["attempts"].as_i64().unwrap() >= 2, "{deliveries}");
    assert!(receiver.got().len() >= 2);
    // The first attempt was cut off, not waited out.
    assert!(
        delivery["last_error"].as_str().is_some() || delivery["last_status_code"] == 500,
        "{deliveries}"
    );
}

/// A new subscription hears what happens from then on: an event written
/// just before it — not yet fanned out by a slow worker — is not sent to it.
#[actix_rt::test]
async fn a_subscription_hears_only_what_happens_after_it() {
    let app = app_for_webhooks(&[("SONGMAY_WEBHOOK_POLL_MS", "3000")]).await;
    let s = story(&app).await;
    let (receiver, url) = start_receiver();
    let before = s
        .pledge(
            &app,
            json!({"donor_id": s.donors[0], "kind": "money", "amount_vnd": 1_000_000}),
        )
        .await;
    subscribe(
        &app,
        &s.admin,
        json!({"url": url, "event_types": ["pledge.made"]}),
    )
    .await;
    let after = s
        .pledge(
            &app,
            json!({"donor_id": s.donors[0], "kind": "money", "amount_vnd": 2_000_000}),
        )
        .await;
    receiver
        .until("the later pledge", |got| !got.is_empty())
        .await;
    actix_rt::time::sleep(Duration::from_millis(3500)).await;
    let got = receiver.got();
    let pledges: Vec<Value> = got
        .iter()
        .map(|g| g.json()["data"]["pledge_id"].clone())
        .collect();
    assert_eq!(pledges, [json!(after)], "not {before}");
}

/// Two instances on one database deliver every event once: each delivery
/// is claimed by one of them (PostgreSQL: `FOR UPDATE SKIP LOCKED`).
#[actix_rt::test]
async fn two_instances_deliver_each_event_once() {
    let app = app_for_webhooks(&[]).await;
    app.start_replica(|env| {
        env.insert("SONGMAY_WEBHOOK_ALLOW_PRIVATE", "true".into());
        env.insert("SONGMAY_WEBHOOK_POLL_MS", "50".into());
    });
    let s = story(&app).await;
    let (receiver, url) = start_receiver();
    subscribe(
        &app,
        &s.admin,
        json!({"url": url, "event_types": ["pledge.made"]}),
    )
    .await;
    const PLEDGES: usize = 30;
    for n in 0..PLEDGES {
        s.pledge(&app, json!({"donor_id": s.donors[n % s.donors.len()], "kind": "money", "amount_vnd": 1_000_000 + n as i64}))
            .await;
    }
    let got = receiver
        .until("every pledge", |got| got.len() >= PLEDGES)
        .await;
    actix_rt::time::sleep(Duration::from_millis(1500)).await;
    let got_after = receiver.got();
    assert_eq!(got_after.len(), got.len(), "nothing arrives twice later");
    let mut ids: Vec<&str> = got_after.iter().map(|g| g.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(
        ids.len(),
        PLEDGES,
        "each event once: {} deliveries",
        got_after.len()
    );
}

/// Only admins subscribe; a URL must be http(s), name a host, carry no
/// credentials and — unless configured — point to a public address.
#[actix_rt::test]
async fn subscriptions_refuse_private_and_malformed_targets() {
    let app = spawn_app_with(|_| {}).await;
    let s = story(&app).await;
    let cases = [
        ("http://127.0.0.1:9/hook", "private_target"),
        ("http://10.0.0.5/hook", "private_target"),
        ("http://[::1]/hook", "private_target"),
        ("http://169.254.169.254/latest/meta-data", "private_target"),
        ("ftp://203.113.131.1/hook", "url"),
        ("https://user:secret@203.113.131.1/hook", "url"),
        ("/relative/hook", "url"),
    ];
    for (url, code) in cases {
        let refused = app
            .post(
                "/api/v1/webhooks",
                Some(&s.admin),
                &json!({"url": url, "event_types": ["need.approved"]}),
            )
            .await
            .problem_naming(422, "url", code);
        assert!(
            !refused.to_string().contains("secret@"),
            "the URL is not echoed"
        );
    }
    app.post(
        "/api/v1/webhooks",
        Some(&s.admin),
        &json!({"url": "https://203.113.131.1/hook", "event_types": ["need.sold"]}),
    )
    .await
    .problem(422);
    app.post(
        "/api/v1/webhooks",
        Some(&s.admin),
        &json!({"url": "https://203.113.131.1/hook", "event_types": []}),
    )
    .await
    .problem_naming(422, "event_types", "length");
    app.post("/api/v1/webhooks", Some(&s.admin), &json!({"url": "https://203.113.131.1/hook", "event_types": ["need.approved"], "admin_unit_code": "99999"}))
        .await
        .problem_naming(422, "admin_unit_code", "unknown");
    app.post(
        "/api/v1/webhooks",
        Some(&s.officer),
        &json!({"url": "https://203.113.131.1/hook", "event_types": ["need.approved"]}),
    )
    .await
    .problem(403);
    // A public address is accepted (no network is needed to check an IP).
    let created = subscribe(
        &app,
        &s.admin,
        json!({"url": "https://203.113.131.1/hook", "event_types": ["need.approved", "need.approved"]}),
    )
    .await;
    assert_eq!(created["event_types"], json!(["need.approved"]));
    let listed = app.get("/api/v1/webhooks", &s.admin).await.ok(200);
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));
    assert!(listed["items"][0].get("secret").is_none());
    let audit = app
        .get("/api/v1/audit-log?entity=webhook_subscription", &s.admin)
        .await
        .ok(200);
    assert_eq!(audit["items"].as_array().map(Vec::len), Some(1), "{audit}");
}

/// An event no subscription listens for is not written (a roster sync
/// would otherwise write, and then mark dispatched, one per student); once
/// one listens, the next write's event is kept and delivered, and events
/// of other types still are not.
#[actix_rt::test]
async fn events_nobody_listens_for_are_not_written() {
    let app = app_for_webhooks(&[]).await;
    let admin = app.admin_token().await;
    app.seed_schools(&admin).await;
    app.sync_students(&admin, "", &[student("QUIET-1", "TH-DABAC", 2)])
        .await
        .ok(200);
    app.generate_needs(&admin).await;
    assert_eq!(app.row_counts()["outbox_events"], 0, "nobody listens yet");

    let (receiver, url) = start_receiver();
    subscribe(
        &app,
        &admin,
        json!({"url": url, "event_types": ["student.changed"]}),
    )
    .await;
    app.sync_students(&admin, "", &[student("QUIET-2", "TH-DABAC", 3)])
        .await
        .ok(200);
    // Needs are reported for QUIET-2 now, and nobody listens for that.
    assert!(
        app.generate_needs(&admin).await["created"]
            .as_i64()
            .unwrap()
            > 0
    );
    assert_eq!(
        app.row_counts()["outbox_events"],
        1,
        "only the student's change is kept"
    );
    let got = receiver
        .until("the second student's change", |got| !got.is_empty())
        .await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["type"], "student.changed");
}

/// A subscription made while syncs go on hears every change stamped at or
/// after its creation: writes look for listeners under a lock they share
/// and that creating a subscription takes alone (PostgreSQL; SQLite runs
/// one write at a time), so no write can miss a subscription made before
/// it stamps its changes.
#[actix_rt::test]
async fn a_subscription_made_during_syncs_hears_every_change_after_it() {
    use diesel::prelude::*;
    use futures_util::StreamExt;
    use songmay::platform::db::schema::{outbox_events, student_changes, webhook_subscriptions};
    use songmay::platform::db::with_conn;

    let app = app_for_webhooks(&[]).await;
    let admin = app.admin_token().await;
    app.seed_schools(&admin).await;
    let (_receiver, url) = start_receiver();
    let batches: Vec<Vec<Value>> = (0..40)
        .map(|b| {
            (0..5)
                .map(|i| student(&format!("RACE-{b:02}-{i}"), "TH-DABAC", 2))
                .collect()
        })
        .collect();
    let syncs = futures_util::stream::iter(
        batches
            .iter()
            .map(|batch| app.sync_students(&admin, "", batch)),
    )
    .buffer_unordered(3)
    .collect::<Vec<_>>();
    let subscribing = async {
        // Once a few batches are in, while the rest are on their way.
        while app.row_counts()["student_changes"] < 10 {
            actix_rt::time::sleep(Duration::from_millis(5)).await;
        }
        subscribe(
            &app,
            &admin,
            json!({"url": url, "event_types": ["student.changed"]}),
        )
        .await
    };
    let (replies, subscription) = futures_util::join!(syncs, subscribing);
    for reply in replies {
        reply.ok(200);
    }
    let id = subscription["id"].as_i64().unwrap();
    let db = app.db.connect();
    let mut conn = db.get().unwrap();
    let (created, changed, announced) = with_conn!(&mut conn, |c| {
        let created: chrono::NaiveDateTime = webhook_subscriptions::table
            .find(id)
            .select(webhook_subscriptions::created_at)
            .first(c)
            .unwrap();
        let changed: Vec<(i64, chrono::NaiveDateTime)> = student_changes::table
            .select((student_changes::student_id, student_changes::changed_at))
            .load(c)
            .unwrap();
        let announced: Vec<i64> = outbox_events::table
            .filter(outbox_events::event_type.eq("student.changed"))
            .select(outbox_events::entity_id)
            .load(c)
            .unwrap();
        (created, changed, announced)
    });
    let after: Vec<i64> = changed
        .iter()
        .filter(|(_, at)| *at >= created)
        .map(|(student, _)| *student)
        .collect();
    assert_eq!(changed.len(), 200);
    assert!(
        after.len() >= 5 && after.len() < 200,
        "the subscription came in the middle: {} changes after it",
        after.len()
    );
    let missed: Vec<&i64> = after.iter().filter(|s| !announced.contains(s)).collect();
    assert!(
        missed.is_empty(),
        "changes after the subscription without an event: {missed:?}"
    );
}

/// A worker's round fans out in bulk: a roster batch of 200 changes heard
/// by six subscriptions makes 1,200 deliveries in one round (more than one
/// statement's thousand rows), and each subscription gets each event once.
/// The subscriptions are paused, so their deliveries wait and nothing is
/// posted meanwhile.
#[actix_rt::test]
async fn a_round_fans_every_event_out_to_every_subscription_once() {
    use diesel::prelude::*;
    use songmay::platform::db::schema::{outbox_events, webhook_deliveries};
    use songmay::platform::db::with_conn;

    let app = app_for_webhooks(&[]).await;
    let admin = app.admin_token().await;
    app.seed_schools(&admin).await;
    let (receiver, url) = start_receiver();
    let mut subscriptions = Vec::new();
    for _ in 0..6 {
        let id = subscribe(
            &app,
            &admin,
            json!({"url": url, "event_types": ["student.changed"]}),
        )
        .await["id"]
            .as_i64()
            .unwrap();
        app.patch(
            &format!("/api/v1/webhooks/{id}"),
            &admin,
            &json!({"active": false}),
        )
        .await
        .ok(200);
        subscriptions.push(id);
    }
    let batch: Vec<Value> = (0..200)
        .map(|i| student(&format!("FAN-{i:03}"), "TH-DABAC", 2))
        .collect();
    app.sync_students(&admin, "", &batch).await.ok(200);

    let db = app.db.connect();
    let mut conn = db.get().unwrap();
    let mut waiting = i64::MAX;
    for _ in 0..200 {
        waiting = with_conn!(&mut conn, |c| outbox_events::table
            .filter(outbox_events::dispatched_at.is_null())
            .count()
            .get_result(c))
        .unwrap();
        if waiting == 0 {
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(waiting, 0, "the worker dispatched every event");
    let (events, deliveries) = with_conn!(&mut conn, |c| {
        let events: Vec<i64> = outbox_events::table
            .select(outbox_events::id)
            .load(c)
            .unwrap();
        let deliveries: Vec<(i64, i64, String)> = webhook_deliveries::table
            .select((
                webhook_deliveries::subscription_id,
                webhook_deliveries::event_id,
                webhook_deliveries::status,
            ))
            .load(c)
            .unwrap();
        (events, deliveries)
    });
    assert_eq!(events.len(), 200, "one event per student");
    let pairs: std::collections::BTreeSet<(i64, i64)> =
        deliveries.iter().map(|(s, e, _)| (*s, *e)).collect();
    assert_eq!(deliveries.len(), 1_200, "six subscriptions × 200 events");
    assert_eq!(pairs.len(), 1_200, "no pair twice");
    for subscription in &subscriptions {
        for event in &events {
            assert!(
                pairs.contains(&(*subscription, *event)),
                "subscription {subscription} lacks event {event}"
            );
        }
    }
    assert!(
        deliveries.iter().all(|(_, _, status)| status == "pending"),
        "paused subscriptions' deliveries wait"
    );
    assert!(receiver.got().is_empty(), "nothing was posted");
}
