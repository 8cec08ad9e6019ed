//! Platform offers from submission to recommendation, schools recording
//! the platforms they use, and the uptake the public and statistics see.

use awc::http::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Reply, TestApp};

fn offer_body(product: &str) -> Value {
    json!({
        "provider": "Công ty Cổ phần Công nghệ Giáo dục Sao Mai",
        "product": product,
        "kind": "video_classes",
        "description": "Lớp học trực tuyến qua video, chạy được trên điện thoại 3G.",
        "website": "https://saomai.example.vn",
        "terms": {"pricing": "discount", "discount_percent": 50, "available_from": "2021-09-01", "available_until": "2022-06-30"},
        "suits": {"levels": ["primary", "lower_secondary"], "grade_from": 1, "grade_to": 9},
        "data_residency": "Dữ liệu lưu tại Việt Nam.",
        "child_safety": "Không quảng cáo."
    })
}

async fn submit(app: &TestApp, partner: &str, product: &str) -> i64 {
    let offer = app
        .post(
            "/api/v1/platform-offers",
            Some(partner),
            &offer_body(product),
        )
        .await
        .ok(201);
    assert_eq!(offer["status"], "proposed");
    offer["id"].as_i64().unwrap()
}

async fn move_offer(app: &TestApp, token: &str, id: i64, to: &str, reason: Option<&str>) -> Reply {
    let mut body = json!({"to": to});
    if let Some(reason) = reason {
        body["reason"] = json!(reason);
    }
    app.post(
        &format!("/api/v1/platform-offers/{id}/transitions"),
        Some(token),
        &body,
    )
    .await
}

async fn recommend(app: &TestApp, admin: &str, id: i64) {
    move_offer(app, admin, id, "under_review", None)
        .await
        .ok(200);
    let offer = move_offer(app, admin, id, "recommended", None)
        .await
        .ok(200);
    assert_eq!(offer["status"], "recommended");
}

async fn put_adoption(app: &TestApp, token: &str, school: i64, offer: i64, students: i64) -> Reply {
    app.request(
        Method::PUT,
        &format!("/api/v1/schools/{school}/platforms/{offer}"),
        Some(token),
        Some("application/json"),
        json!({"student_count": students, "started_on": "2021-10-04"})
            .to_string()
            .into_bytes(),
    )
    .await
}

/// The uptake of `offer` on the public list (`None` when it is not listed).
async fn public_uptake(app: &TestApp, offer: i64) -> Option<Value> {
    let list = app.get("/api/v1/public/platforms", "").await.ok(200);
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["id"] == offer)
        .map(|item| item["uptake"].clone())
}

#[actix_rt::test]
async fn a_recommended_platform_shows_its_adoption_on_the_public_list_and_in_statistics() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let schools = app.seed_schools(&admin).await;
    let partner = app
        .user_token("partner.saomai", "tech_partner", json!({}))
        .await;
    let offer = submit(&app, &partner, "Lớp học Sao Mai").await;
    let other = submit(&app, &partner, "Thư viện Sao Mai").await;
    assert_eq!(
        public_uptake(&app, offer).await,
        None,
        "a proposed offer is not public"
    );
    recommend(&app, &admin, offer).await;
    recommend(&app, &admin, other).await;
    assert_eq!(
        public_uptake(&app, offer).await,
        Some(json!({"schools": 0, "students": 0}))
    );

    // School staff record their own school; a district officer one in the area.
    let staff = app
        .user_token(
            "staff.dabac",
            "school_staff",
            json!({"school_id": schools["TH-DABAC"]}),
        )
        .await;
    let officer = app
        .user_token(
            "officer.tp",
            "district_officer",
            json!({"admin_unit_code": "148"}),
        )
        .await;
    let first = put_adoption(&app, &staff, schools["TH-DABAC"], offer, 200)
        .await
        .ok(201);
    assert_eq!(first["student_count"], 200);
    assert_eq!(first["recorded_by"], "user:staff.dabac");
    // Recording again changes the count: one record per school and platform.
    let again = put_adoption(&app, &staff, schools["TH-DABAC"], offer, 240)
        .await
        .ok(200);
    assert_eq!(again["student_count"], 240);
    put_adoption(&app, &officer, schools["THPT-TP"], offer, 310)
        .await
        .ok(201);
    put_adoption(&app, &officer, schools["TH-THAIBINH"], offer, 90)
        .await
        .ok(201);
    put_adoption(&app, &admin, schools["THCS-DABAC"], other, 55)
        .await
        .ok(201);

    let listed = app
        .get(
            &format!("/api/v1/schools/{}/platforms", schools["TH-DABAC"]),
            &staff,
        )
        .await
        .ok(200);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed["items"][0]["offer_id"], offer);
    assert_eq!(listed["items"][0]["offer_status"], "recommended");

    assert_eq!(
        public_uptake(&app, offer).await,
        Some(json!({"schools": 3, "students": 240 + 310 + 90}))
    );
    assert_eq!(
        public_uptake(&app, other).await,
        Some(json!({"schools": 1, "students": 55}))
    );

    // Statistics: by district and school level, each platform's total the
    // sum of its rows and equal to the public figure.
    let stats = app
        .get("/api/v1/stats/platforms?admin_unit=17", &admin)
        .await
        .ok(200);
    let rows = stats["rows"].as_array().unwrap();
    let row = |unit: &str, level: &str, id: i64| {
        rows.iter()
            .find(|r| r["key"] == unit && r["level"] == level && r["offer_id"] == id)
            .map(|r| {
                (
                    r["schools"].as_i64().unwrap(),
                    r["students"].as_i64().unwrap(),
                )
            })
    };
    assert_eq!(row("150", "primary", offer), Some((1, 240)));
    assert_eq!(row("148", "upper_secondary", offer), Some((1, 310)));
    assert_eq!(row("148", "primary", offer), Some((1, 90)));
    assert_eq!(row("150", "lower_secondary", other), Some((1, 55)));
    assert_eq!(rows.len(), 4, "{stats}");
    for total in stats["platforms"].as_array().unwrap() {
        let id = total["offer_id"].as_i64().unwrap();
        let (schools_sum, students_sum) =
            rows.iter()
                .filter(|r| r["offer_id"] == id)
                .fold((0, 0), |(s, n), r| {
                    (
                        s + r["schools"].as_i64().unwrap(),
                        n + r["students"].as_i64().unwrap(),
                    )
                });
        assert_eq!(
            (
                total["schools"].as_i64().unwrap(),
                total["students"].as_i64().unwrap()
            ),
            (schools_sum, students_sum)
        );
        let public = public_uptake(&app, id).await.unwrap();
        assert_eq!(
            public,
            json!({"schools": schools_sum, "students": students_sum})
        );
    }
    // A district officer's statistics keep to their district; by level.
    let district = app
        .get("/api/v1/stats/platforms?level=primary", &officer)
        .await
        .ok(200);
    assert_eq!(district["admin_unit"], "148");
    let district_rows = district["rows"].as_array().unwrap();
    assert_eq!(district_rows.len(), 1, "{district}");
    assert_eq!(district_rows[0]["students"], 90);
    app.get("/api/v1/stats/platforms?admin_unit=150", &officer)
        .await
        .problem(404);
    // CSV for spreadsheets, one line per row.
    let csv = app
        .get("/api/v1/stats/platforms?admin_unit=17&format=csv", &admin)
        .await;
    assert_eq!(csv.status.as_u16(), 200);
    assert_eq!(
        String::from_utf8(csv.body.clone()).unwrap().lines().count(),
        1 + 4
    );

    // A school that stops using a platform leaves its uptake.
    let removed = app
        .request(
            Method::DELETE,
            &format!("/api/v1/schools/{}/platforms/{offer}", schools["THPT-TP"]),
            Some(&officer),
            None,
            Vec::new(),
        )
        .await;
    assert_eq!(removed.status.as_u16(), 204);
    assert_eq!(
        public_uptake(&app, offer).await,
        Some(json!({"schools": 2, "students": 240 + 90}))
    );
    // Withdrawn: off the public list, its past uptake still in statistics.
    move_offer(
        &app,
        &partner,
        offer,
        "withdrawn",
        Some("Sản phẩm ngừng cung cấp"),
    )
    .await
    .ok(200);
    assert_eq!(public_uptake(&app, offer).await, None);
    let stats = app.get("/api/v1/stats/platforms", &admin).await.ok(200);
    let total = stats["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["offer_id"] == offer)
        .cloned()
        .unwrap();
    assert_eq!(total["offer_status"], "withdrawn");
    assert_eq!(total["students"], 330);
    // Every write is audited.
    let audit = app
        .get("/api/v1/audit-log?entity=platform_adoption", &admin)
        .await
        .ok(200);
    assert_eq!(audit["items"].as_array().unwrap().len(), 6, "{audit}");
}

#[actix_rt::test]
async fn partners_work_on_their_own_offers_and_only_the_department_reviews() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let partner = app.user_token("partner.a", "tech_partner", json!({})).await;
    let rival = app.user_token("partner.b", "tech_partner", json!({})).await;
    let id = submit(&app, &partner, "Lớp học A").await;
    submit(&app, &rival, "Lớp học B").await;

    // Another partner's offer is as good as absent, and untouched.
    let path = format!("/api/v1/platform-offers/{id}");
    app.get(&path, &rival).await.problem(404);
    app.patch_if_match(&path, &rival, "\"1\"", &json!({"product": "Của tôi"}))
        .await
        .problem(404);
    move_offer(&app, &rival, id, "withdrawn", Some("x"))
        .await
        .problem(404);
    let own = app.get("/api/v1/platform-offers", &partner).await.ok(200);
    assert_eq!(crate::helpers::column(&own, "product"), ["Lớp học A"]);
    let all = app.get("/api/v1/platform-offers", &admin).await.ok(200);
    assert_eq!(all["items"].as_array().unwrap().len(), 2);

    // Reviewing is the Department's.
    let refused = move_offer(&app, &partner, id, "under_review", None)
        .await
        .problem(403);
    assert!(refused["detail"].as_str().unwrap().contains("Department"));
    move_offer(&app, &admin, id, "under_review", None)
        .await
        .ok(200);
    // A partner cannot change an offer under review.
    let current = app.get(&path, &partner).await.ok(200);
    let version = format!("\"{}\"", current["version"]);
    app.patch_if_match(&path, &partner, &version, &json!({"product": "Đổi tên"}))
        .await
        .problem(409);
    // Refusing needs a reason.
    move_offer(&app, &admin, id, "not_recommended", None)
        .await
        .problem_naming(422, "reason", "required");
    let refused = move_offer(
        &app,
        &admin,
        id,
        "not_recommended",
        Some("Thu thập số điện thoại học sinh"),
    )
    .await
    .ok(200);
    assert_eq!(refused["status_reason"], "Thu thập số điện thoại học sinh");
    // The partner revises and resubmits.
    let version = format!("\"{}\"", refused["version"]);
    let revised = app
        .patch_if_match(
            &path,
            &partner,
            &version,
            &json!({"child_safety": "Không thu thập số điện thoại."}),
        )
        .await
        .ok(200);
    assert_eq!(revised["child_safety"], "Không thu thập số điện thoại.");
    assert_eq!(revised["product"], "Lớp học A", "what was not sent stays");
    app.patch_if_match(&path, &partner, &version, &json!({"product": "Cũ"}))
        .await
        .problem(412);
    move_offer(&app, &partner, id, "proposed", None)
        .await
        .ok(200);
    // A move the review does not have.
    move_offer(&app, &admin, id, "recommended", None)
        .await
        .problem(409);
    move_offer(&app, &partner, id, "withdrawn", Some("Đổi sản phẩm"))
        .await
        .ok(200);
    move_offer(&app, &partner, id, "proposed", None)
        .await
        .problem(409);

    // The history: every move, who made it and why.
    let offer = app.get(&path, &admin).await.ok(200);
    let moves: Vec<(Value, Value, Value)> = offer["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["to"].clone(), e["actor"].clone(), e["reason"].clone()))
        .collect();
    assert_eq!(
        moves,
        [
            (json!("proposed"), json!("user:partner.a"), Value::Null),
            (json!("under_review"), json!("user:admin"), Value::Null),
            (
                json!("not_recommended"),
                json!("user:admin"),
                json!("Thu thập số điện thoại học sinh")
            ),
            (json!("proposed"), json!("user:partner.a"), Value::Null),
            (
                json!("withdrawn"),
                json!("user:partner.a"),
                json!("Đổi sản phẩm")
            ),
        ]
    );
    // Other roles have no part in offers.
    let staff = app.user_token("reader.x", "donor", json!({})).await;
    app.get("/api/v1/platform-offers", &staff)
        .await
        .problem(403);
    app.post("/api/v1/platform-offers", Some(&staff), &offer_body("X"))
        .await
        .problem(403);
}

#[actix_rt::test]
async fn offer_terms_and_audience_are_checked_field_by_field() {
    let app = spawn_app().await;
    let partner = app.user_token("partner.c", "tech_partner", json!({})).await;
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({"terms": {"pricing": "discount", "available_from": "2021-09-01"}}),
            "terms.discount_percent",
            "required",
        ),
        (
            json!({"terms": {"pricing": "free", "price_per_student_vnd": 10000, "available_from": "2021-09-01"}}),
            "terms.price_per_student_vnd",
            "not_allowed",
        ),
        (
            json!({"terms": {"pricing": "free", "available_from": "2021-09-01", "available_until": "2021-08-01"}}),
            "terms.available_until",
            "before_start",
        ),
        (
            json!({"suits": {"levels": ["primary"], "grade_from": 5, "grade_to": 3}}),
            "suits.grade_to",
            "before_start",
        ),
        (
            json!({"suits": {"levels": ["primary"], "grade_from": 1, "grade_to": 9}}),
            "suits.grade_from",
            "outside_levels",
        ),
        (
            json!({"suits": {"levels": ["primary", "primary"], "grade_from": 1, "grade_to": 5}}),
            "suits.levels",
            "repeated",
        ),
        (json!({"website": "javascript:alert(1)"}), "website", "url"),
    ];
    for (change, field, code) in cases {
        let mut body = offer_body("Sai");
        for (key, value) in change.as_object().unwrap() {
            body[key] = value.clone();
        }
        app.post("/api/v1/platform-offers", Some(&partner), &body)
            .await
            .problem_naming(422, field, code);
    }
    let before = app.row_counts();
    assert_eq!(before["platform_offers"], 0, "no refused offer was written");
    // A discount out of range is refused where it is read.
    let mut body = offer_body("Sai");
    body["terms"]["discount_percent"] = json!(100);
    app.post("/api/v1/platform-offers", Some(&partner), &body)
        .await
        .problem_naming(422, "terms.discount_percent", "range");
}

#[actix_rt::test]
async fn schools_record_only_recommended_platforms_and_only_their_own() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let schools = app.seed_schools(&admin).await;
    let partner = app.user_token("partner.d", "tech_partner", json!({})).await;
    let offer = submit(&app, &partner, "Lớp học D").await;
    let staff = app
        .user_token(
            "staff.d",
            "school_staff",
            json!({"school_id": schools["TH-DABAC"]}),
        )
        .await;
    // Not recommended yet.
    let refused = put_adoption(&app, &staff, schools["TH-DABAC"], offer, 100)
        .await
        .problem(409);
    assert!(refused["detail"].as_str().unwrap().contains("recommended"));
    recommend(&app, &admin, offer).await;
    // Another school, an unknown school, an unknown offer.
    put_adoption(&app, &staff, schools["TH-THAIBINH"], offer, 100)
        .await
        .problem(404);
    app.get(
        &format!("/api/v1/schools/{}/platforms", schools["TH-THAIBINH"]),
        &staff,
    )
    .await
    .problem(404);
    put_adoption(&app, &admin, 999_999, offer, 100)
        .await
        .problem(404);
    put_adoption(&app, &staff, schools["TH-DABAC"], 999_999, 100)
        .await
        .problem(404);
    put_adoption(&app, &staff, schools["TH-DABAC"], offer, 0)
        .await
        .problem_naming(422, "student_count", "range");
    let removed = app
        .request(
            Method::DELETE,
            &format!("/api/v1/schools/{}/platforms/{offer}", schools["TH-DABAC"]),
            Some(&staff),
            None,
            Vec::new(),
        )
        .await;
    assert_eq!(removed.status.as_u16(), 404, "nothing recorded to remove");
    assert_eq!(app.row_counts()["platform_adoptions"], 0);
    // A partner is no school.
    put_adoption(&app, &partner, schools["TH-DABAC"], offer, 100)
        .await
        .problem(403);
}

/// Roles became rows (migration 000015; SQLite rebuilds `users` for it):
/// every account keeps its id, role, links and token version, the tables
/// that point at accounts still do, and a role that is no row is refused
/// by the database itself.
#[test]
fn the_roles_migration_keeps_every_account_and_what_points_at_it() {
    use diesel::prelude::*;
    use songmay::platform::db::schema::{donors, users};
    use songmay::platform::db::with_conn;

    let database = crate::helpers::TestDatabase::create();
    let db = database.connect();
    db.migrate_until("2026-12-01-000014")
        .expect("migrations up to 000014");
    let mut conn = db.get().unwrap();
    let conn = &mut conn;
    let now = chrono::Utc::now().naive_utc();
    for (id, name, role, version) in [
        (1i64, "admin", "admin", 1i64),
        (2, "donor.a", "donor", 3),
        (3, "stats.a", "stats_reader", 2),
    ] {
        with_conn!(conn, |c| diesel::insert_into(users::table)
            .values((
                users::id.eq(id),
                users::username.eq(name),
                users::password_hash.eq("$argon2id$not-a-real-hash"),
                users::role.eq(role),
                users::disabled.eq(id == 3),
                users::created_at.eq(now),
                users::updated_at.eq(now),
                users::token_version.eq(version),
            ))
            .execute(c))
        .unwrap();
    }
    with_conn!(conn, |c| diesel::insert_into(donors::table)
        .values((
            donors::id.eq(7i64),
            donors::kind.eq("individual"),
            donors::name.eq("Nhà hảo tâm"),
            donors::inside_province.eq(true),
            donors::anonymous_publicly.eq(false),
            donors::user_id.eq(Some(2i64)),
            donors::created_at.eq(now),
            donors::updated_at.eq(now),
        ))
        .execute(c))
    .unwrap();
    type Account = (i64, String, String, bool, i64);
    let read = |conn: &mut songmay::platform::db::DbConn| -> Vec<Account> {
        with_conn!(conn, |c| users::table
            .order(users::id)
            .select((
                users::id,
                users::username,
                users::role,
                users::disabled,
                users::token_version
            ))
            .load(c))
        .unwrap()
    };
    let before = read(conn);

    let applied = db
        .migrate_until("2026-12-03-000015")
        .expect("the roles migration");
    assert_eq!(applied.len(), 1);
    assert_eq!(read(conn), before, "every account as it was");
    let linked: Vec<(i64, String)> = with_conn!(conn, |c| donors::table
        .inner_join(users::table.on(donors::user_id.eq(users::id.nullable())))
        .select((donors::id, users::username))
        .load(c))
    .unwrap();
    assert_eq!(
        linked,
        [(7, "donor.a".to_owned())],
        "the donor still points at its account"
    );
    // The new role is a row; a word that is none is refused by the database.
    let insert = |conn: &mut songmay::platform::db::DbConn, id: i64, role: &str| {
        with_conn!(conn, |c| diesel::insert_into(users::table)
            .values((
                users::id.eq(id),
                users::username.eq(format!("user.{id}")),
                users::password_hash.eq("$argon2id$not-a-real-hash"),
                users::role.eq(role),
                users::disabled.eq(false),
                users::created_at.eq(now),
                users::updated_at.eq(now),
            ))
            .execute(c))
    };
    insert(conn, 10, "tech_partner").expect("tech_partner is a role");
    assert!(insert(conn, 11, "superuser").is_err(), "no such role");
    // Foreign keys are on again after SQLite's rebuild.
    assert!(
        with_conn!(conn, |c| diesel::update(donors::table.find(7i64))
            .set(donors::user_id.eq(Some(999i64)))
            .execute(c))
        .is_err(),
        "a donor cannot point at an account that does not exist"
    );
}
