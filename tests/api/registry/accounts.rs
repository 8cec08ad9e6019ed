use serde_json::json;
use songmay::platform::auth::{Account, Principal, Role, Scope};
use songmay::platform::error::Failure;

use crate::helpers::{column, spawn_app};

#[actix_rt::test]
async fn admin_creates_a_district_officer_whose_token_carries_the_scope() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let created = app
        .post(
            "/api/v1/users",
            Some(&admin),
            &json!({"username": "Officer.DaBac", "password": "a long passphrase", "role": "district_officer", "admin_unit_code": "150"}),
        )
        .await;
    assert_eq!(created.status.as_u16(), 201);
    let user = created.json();
    assert_eq!(
        user["username"], "officer.dabac",
        "usernames are stored in lowercase"
    );
    assert_eq!(
        created.header("location"),
        Some(format!("/api/v1/users/{}", user["id"]))
    );
    assert!(user.get("password_hash").is_none() && !created.json().to_string().contains("argon2"));

    let token = app.token_for("officer.dabac", "a long passphrase").await;
    let me = app.get("/api/v1/me", &token).await.ok(200);
    assert_eq!(me["role"], "district_officer");
    assert_eq!(
        me["scope"],
        json!({"kind": "admin_unit", "admin_unit_code": "150"})
    );

    let fetched = app
        .get(&format!("/api/v1/users/{}", user["id"]), &admin)
        .await
        .ok(200);
    assert_eq!(fetched["admin_unit_code"], "150");
}

#[actix_rt::test]
async fn roles_and_scopes_must_agree() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let cases = [
        (
            json!({"role": "district_officer"}),
            "admin_unit_code",
            "required",
        ),
        (
            json!({"role": "district_officer", "admin_unit_code": "99999"}),
            "admin_unit_code",
            "unknown",
        ),
        (
            json!({"role": "donor", "admin_unit_code": "150"}),
            "admin_unit_code",
            "not_allowed",
        ),
        (json!({"role": "school_staff"}), "school_id", "required"),
        (
            json!({"role": "telecom", "school_id": 4}),
            "school_id",
            "not_allowed",
        ),
        (json!({"role": "sync_client"}), "role", "machine_role"),
    ];
    for (extra, field, code) in cases {
        let mut body = json!({"username": "someone", "password": "a long passphrase"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let problem = app
            .post("/api/v1/users", Some(&admin), &body)
            .await
            .problem(422);
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
        assert_eq!(problem["errors"][0]["code"], code, "{body}");
    }
    // None of the refused users exists.
    let users = app.get("/api/v1/users", &admin).await.ok(200);
    assert_eq!(users["items"].as_array().unwrap().len(), 1);
}

#[actix_rt::test]
async fn only_admins_manage_accounts_or_import() {
    let app = spawn_app().await;
    let officer = app
        .user_token(
            "officer.x",
            "district_officer",
            json!({"admin_unit_code": "150"}),
        )
        .await;
    let (client_id, secret) = app.client_credentials("stats_reader").await;
    let reader = app
        .post(
            "/api/v1/auth/token",
            None,
            &json!({"client_id": client_id, "client_secret": secret}),
        )
        .await
        .ok(200)["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    for token in [&officer, &reader] {
        let problem = app.get("/api/v1/users", token).await.problem(403);
        assert!(problem["detail"].as_str().unwrap().contains("admin"));
        app.post(
            "/api/v1/users",
            Some(token),
            &json!({"username": "sneaky", "password": "a long passphrase", "role": "admin"}),
        )
        .await
        .problem(403);
        app.post(
            "/api/v1/clients",
            Some(token),
            &json!({"name": "x", "role": "sync_client"}),
        )
        .await
        .problem(403);
        app.get("/api/v1/audit-log", token).await.problem(403);
        app.request(
            actix_web::http::Method::POST,
            "/api/v1/admin-units/import",
            Some(token),
            Some("text/csv"),
            b"code,parent_code,level,name\n99,,province,X\n".to_vec(),
        )
        .await
        .problem(403);
        // Reference data is readable by every role.
        app.get("/api/v1/admin-units?parent_code=17", token)
            .await
            .ok(200);
    }
    // Nothing was written by the refused calls.
    let admin = app.admin_token().await;
    let audit = app
        .get("/api/v1/audit-log?entity=user&action=create", &admin)
        .await
        .ok(200);
    assert_eq!(
        audit["items"].as_array().unwrap().len(),
        2,
        "bootstrap admin and officer.x only"
    );
}

#[actix_rt::test]
async fn the_last_active_admin_cannot_be_disabled() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.patch("/api/v1/users/1", &admin, &json!({"disabled": true}))
        .await
        .problem(409);
    app.get("/api/v1/me", &admin).await.ok(200);

    app.post(
        "/api/v1/users",
        Some(&admin),
        &json!({"username": "admin2", "password": "a long passphrase", "role": "admin"}),
    )
    .await
    .ok(201);
    let user = app
        .patch("/api/v1/users/1", &admin, &json!({"disabled": true}))
        .await
        .ok(200);
    assert_eq!(user["disabled"], true);
    app.get("/api/v1/me", &admin).await.problem(401);
}

#[actix_rt::test]
async fn password_change_takes_effect_and_empty_patch_is_refused() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.user_token("changer", "donor", json!({})).await;
    let users = app.get("/api/v1/users?role=donor", &admin).await.ok(200);
    let id = users["items"][0]["id"].as_i64().unwrap();

    app.patch(&format!("/api/v1/users/{id}"), &admin, &json!({}))
        .await
        .problem(422);
    app.patch(
        &format!("/api/v1/users/{id}"),
        &admin,
        &json!({"password": "short"}),
    )
    .await
    .problem(422);
    app.patch(
        &format!("/api/v1/users/{id}"),
        &admin,
        &json!({"password": "a brand new passphrase"}),
    )
    .await
    .ok(200);
    app.post(
        "/api/v1/auth/token",
        None,
        &json!({"username": "changer", "password": "a password long enough"}),
    )
    .await
    .problem(401);
    app.token_for("changer", "a brand new passphrase").await;
    app.patch("/api/v1/users/4242", &admin, &json!({"disabled": true}))
        .await
        .problem(404);
    app.patch("/api/v1/clients/4242", &admin, &json!({"disabled": true}))
        .await
        .problem(404);
}

#[actix_rt::test]
async fn users_are_listed_in_pages() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for i in 0..7 {
        app.post("/api/v1/users", Some(&admin), &json!({"username": format!("donor.{i}"), "password": "a long passphrase", "role": "donor"}))
            .await
            .ok(201);
    }
    let pages = app
        .all_pages("/api/v1/users?role=donor&limit=3", &admin)
        .await;
    assert_eq!(pages.len(), 3);
    let seen: Vec<String> = pages
        .iter()
        .flat_map(|page| column(page, "username"))
        .collect();
    let expected: Vec<String> = (0..7).map(|i| format!("donor.{i}")).collect();
    assert_eq!(seen, expected);
}

/// The scope guard every later resource uses: an officer of Đà Bắc (150)
/// reaches its communes, and a commune of Hòa Bình city (148) is "not found".
#[actix_rt::test]
async fn scope_guard_hides_rows_outside_the_subtree() {
    let app = spawn_app().await;
    let db = app.db.connect();
    let mut conn = db.get().unwrap();
    let principal = |role, scope| Principal {
        account: Account::User {
            id: 99,
            username: "t".into(),
        },
        role,
        extra_roles: Vec::new(),
        scope,
        token_version: 1,
    };
    let officer = principal(
        Role::DistrictOfficer,
        Scope::AdminUnit {
            admin_unit_code: "150".into(),
        },
    );
    let dabac_commune = "04831"; // Thị trấn Đà Bắc
    let city_commune = "04789"; // Phường Thái Bình, Thành phố Hòa Bình
    assert_eq!(
        songmay::registry::admin_units::queries::find(&mut conn, dabac_commune)
            .unwrap()
            .unwrap()
            .parent_code
            .as_deref(),
        Some("150")
    );
    officer
        .ensure_admin_unit_in_scope(&mut conn, dabac_commune)
        .unwrap();
    officer
        .ensure_admin_unit_in_scope(&mut conn, "150")
        .unwrap();
    for outside in [city_commune, "148", "17", "99999"] {
        let error = officer
            .ensure_admin_unit_in_scope(&mut conn, outside)
            .unwrap_err();
        assert!(matches!(error, Failure::NotFound(_)), "{outside}: {error}");
    }
    let admin = principal(Role::Admin, Scope::Everywhere);
    admin
        .ensure_admin_unit_in_scope(&mut conn, city_commune)
        .unwrap();
    // Admins too get 404 for a code that names no unit.
    assert!(matches!(
        admin
            .ensure_admin_unit_in_scope(&mut conn, "99999")
            .unwrap_err(),
        Failure::NotFound(_)
    ));
    let donor = principal(Role::Donor, Scope::OwnRecords);
    assert!(matches!(
        donor
            .ensure_admin_unit_in_scope(&mut conn, dabac_commune)
            .unwrap_err(),
        Failure::NotFound(_)
    ));

    assert!(officer.require(&[Role::DistrictOfficer]).is_ok());
    assert!(matches!(
        officer.require(&[Role::SchoolStaff]).unwrap_err(),
        Failure::Forbidden(_)
    ));
    assert!(
        admin.require(&[Role::SchoolStaff]).is_ok(),
        "admins may do everything"
    );
}

/// Admins disabling each other at the same moment (each the next in a
/// ring): however the requests interleave, one admin stays.
#[actix_rt::test]
async fn admins_disabling_each_other_at_once_leave_one() {
    let app = crate::helpers::spawn_app_with(|env| {
        env.insert("SONGMAY_WORKERS", "4".into());
        env.insert("SONGMAY_DB_POOL_SIZE", "10".into());
    })
    .await;
    let admin = app.admin_token().await;
    let mut ids = vec![1_i64];
    let mut tokens = vec![admin.clone()];
    for n in 2..=6 {
        let name = format!("admin{n}");
        ids.push(
            app.post(
                "/api/v1/users",
                Some(&admin),
                &json!({"username": name, "password": "a long passphrase", "role": "admin"}),
            )
            .await
            .ok(201)["id"]
                .as_i64()
                .unwrap(),
        );
        tokens.push(app.token_for(&name, "a long passphrase").await);
    }
    let paths: Vec<String> = (0..6)
        .map(|i| format!("/api/v1/users/{}", ids[(i + 1) % 6]))
        .collect();
    let body = json!({"disabled": true});
    let replies =
        futures_util::future::join_all((0..6).map(|i| app.patch(&paths[i], &tokens[i], &body)))
            .await;
    let codes: Vec<u16> = replies.iter().map(|r| r.status.as_u16()).collect();
    assert!(
        codes.iter().all(|c| [200, 401, 409].contains(c)),
        "{codes:?}"
    );
    let mut left = 0;
    for token in &tokens {
        if app.get("/api/v1/me", token).await.status.as_u16() == 200 {
            left += 1;
        }
    }
    assert!(left >= 1, "no admin is left: {codes:?}");
    // Every disable that answered 200 took effect and no other did.
    let disabled = codes.iter().filter(|c| **c == 200).count();
    assert_eq!(left + disabled, 6, "{codes:?}");
}

#[actix_rt::test]
async fn finance_and_programme_are_duties_apart_from_user_administration() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let me = app.get("/api/v1/me", &admin).await.ok(200);
    let bootstrap = app
        .get(&format!("/api/v1/users/{}", me["id"]), &admin)
        .await
        .ok(200);
    assert_eq!(
        bootstrap["extra_roles"],
        json!(["finance_officer", "programme_officer"]),
        "one person runs a fresh install: the first admin holds both duties"
    );
    let second = app
        .post("/api/v1/users", Some(&admin), &json!({"username": "admin.two", "password": "a password long enough", "role": "admin"}))
        .await
        .ok(201);
    assert_eq!(second["extra_roles"], json!([]));
    let admin_two = app.token_for("admin.two", "a password long enough").await;
    let finance = app
        .user_token("ke.toan", "finance_officer", json!({}))
        .await;
    let programme = app
        .user_token("chuong.trinh", "programme_officer", json!({}))
        .await;
    let supplier = |name: &str| json!({"name": name});
    let campaign = |name: &str| json!({"name": name, "starts_on": "2026-09-01"});

    // An admin administers accounts, not the money nor the programme.
    let refused = app
        .post(
            "/api/v1/suppliers",
            Some(&admin_two),
            &supplier("Cửa hàng A"),
        )
        .await
        .problem(403);
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("finance_officer"),
        "{refused}"
    );
    app.post(
        "/api/v1/campaigns",
        Some(&admin_two),
        &campaign("Chiến dịch A"),
    )
    .await
    .problem(403);
    // Each duty does its own work and not the other's.
    app.post("/api/v1/suppliers", Some(&finance), &supplier("Cửa hàng B"))
        .await
        .ok(201);
    app.post(
        "/api/v1/campaigns",
        Some(&finance),
        &campaign("Chiến dịch B"),
    )
    .await
    .problem(403);
    app.post(
        "/api/v1/campaigns",
        Some(&programme),
        &campaign("Chiến dịch C"),
    )
    .await
    .ok(201);
    app.post(
        "/api/v1/suppliers",
        Some(&programme),
        &supplier("Cửa hàng C"),
    )
    .await
    .problem(403);
    app.get("/api/v1/funds/trial-balance", &finance)
        .await
        .ok(200);
    app.post(
        "/api/v1/users",
        Some(&finance),
        &json!({"username": "x.y", "password": "a password long enough", "role": "admin"}),
    )
    .await
    .problem(403);

    // A duty is given (and taken) by an admin; only duties can be extra.
    let path = format!("/api/v1/users/{}", second["id"]);
    app.patch(&path, &admin, &json!({"extra_roles": ["district_officer"]}))
        .await
        .problem_naming(422, "extra_roles", "not_a_duty");
    let given = app
        .patch(&path, &admin, &json!({"extra_roles": ["finance_officer"]}))
        .await
        .ok(200);
    assert_eq!(given["extra_roles"], json!(["finance_officer"]));
    app.post(
        "/api/v1/suppliers",
        Some(&admin_two),
        &supplier("Cửa hàng D"),
    )
    .await
    .ok(201);
    app.patch(&path, &admin, &json!({"extra_roles": []}))
        .await
        .ok(200);
    app.post(
        "/api/v1/suppliers",
        Some(&admin_two),
        &supplier("Cửa hàng E"),
    )
    .await
    .problem(403);
    let suppliers = app.get("/api/v1/suppliers", &admin).await.ok(200);
    let names = crate::helpers::column(&suppliers, "name");
    assert_eq!(names.len(), 2, "only the allowed writes stored: {names:?}");
}

#[test]
fn the_duties_migration_keeps_every_admin_doing_what_it_did() {
    use diesel::prelude::*;
    use songmay::platform::db::schema::users;
    use songmay::platform::db::with_conn;

    let database = crate::helpers::TestDatabase::create();
    let db = database.connect();
    db.migrate_until("2026-12-03-000019")
        .expect("migrations up to 000019");
    let mut conn = db.get().unwrap();
    let now = chrono::Utc::now().naive_utc();
    for (id, name, role) in [
        (1i64, "admin", "admin"),
        (2, "admin.b", "admin"),
        (3, "officer", "warehouse_officer"),
    ] {
        with_conn!(&mut conn, |c| diesel::sql_query(format!(
            "INSERT INTO users (id, username, password_hash, role, disabled, created_at, updated_at, token_version) \
             VALUES ({id}, '{name}', 'x', '{role}', FALSE, '{now}', '{now}', 1)"
        ))
        .execute(c))
        .unwrap();
    }
    db.migrate_until("2026-12-03-000020")
        .expect("the duties migration");
    let held: Vec<(String, String)> = with_conn!(&mut conn, |c| users::table
        .order(users::id)
        .select((users::username, users::extra_roles))
        .load(c))
    .unwrap();
    assert_eq!(
        held,
        [
            (
                "admin".to_owned(),
                "finance_officer,programme_officer".to_owned()
            ),
            (
                "admin.b".to_owned(),
                "finance_officer,programme_officer".to_owned()
            ),
            ("officer".to_owned(), String::new()),
        ]
    );
}
