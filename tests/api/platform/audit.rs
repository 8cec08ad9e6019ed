use serde_json::json;

use crate::helpers::spawn_app;

#[actix_rt::test]
async fn every_write_is_audited_without_secrets() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let user = app
        .post("/api/v1/users", Some(&admin), &json!({"username": "officer.ls", "password": "secret passphrase 1", "role": "district_officer", "admin_unit_code": "152"}))
        .await
        .ok(201);
    let id = user["id"].as_i64().unwrap();
    app.patch(
        &format!("/api/v1/users/{id}"),
        &admin,
        &json!({"password": "secret passphrase 2", "disabled": true}),
    )
    .await
    .ok(200);
    let client = app
        .post(
            "/api/v1/clients",
            Some(&admin),
            &json!({"name": "roster sync", "role": "sync_client"}),
        )
        .await
        .ok(201);

    let log = app.get("/api/v1/audit-log?limit=10", &admin).await.ok(200);
    let entries = log["items"].as_array().unwrap();
    let summary: Vec<(&str, &str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap(),
                e["action"].as_str().unwrap(),
                e["entity"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary[..3],
        [
            ("user:admin", "create", "api_client"),
            ("user:admin", "update", "user"),
            ("user:admin", "create", "user"),
        ],
        "newest first"
    );
    assert_eq!(entries[1]["entity_id"], id.to_string());
    assert_eq!(
        entries[1]["changes"],
        json!({"disabled": true, "password": "changed"})
    );
    assert_eq!(entries[2]["changes"]["admin_unit_code"], "152");

    let text = log.to_string();
    for secret in [
        "secret passphrase",
        "argon2",
        client["client_secret"].as_str().unwrap(),
    ] {
        assert!(!text.contains(secret), "audit log leaks {secret}");
    }

    let filtered = app
        .get(
            &format!("/api/v1/audit-log?entity=user&entity_id={id}"),
            &admin,
        )
        .await
        .ok(200);
    assert_eq!(filtered["items"].as_array().unwrap().len(), 2);
    let since_future = app
        .get("/api/v1/audit-log?since=2999-01-01T00:00:00Z", &admin)
        .await
        .ok(200);
    assert_eq!(since_future["items"], json!([]));
}

#[actix_rt::test]
async fn a_refused_write_leaves_no_audit_row() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let before = app.get("/api/v1/audit-log?limit=500", &admin).await.ok(200)["items"]
        .as_array()
        .unwrap()
        .len();
    let body = json!({"username": "admin", "password": "another passphrase", "role": "admin"});
    app.post("/api/v1/users", Some(&admin), &body)
        .await
        .problem(409);
    app.patch("/api/v1/users/1", &admin, &json!({"disabled": true}))
        .await
        .problem(409);
    let after = app.get("/api/v1/audit-log?limit=500", &admin).await.ok(200)["items"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(before, after);
}

#[actix_rt::test]
async fn the_audit_log_pages_backwards_in_time() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for i in 0..5 {
        app.post(
            "/api/v1/clients",
            Some(&admin),
            &json!({"name": format!("c{i}"), "role": "stats_reader"}),
        )
        .await
        .ok(201);
    }
    let first = app
        .get("/api/v1/audit-log?entity=api_client&limit=3", &admin)
        .await
        .ok(200);
    let second = app
        .get(
            &format!(
                "/api/v1/audit-log?entity=api_client&limit=3&cursor={}",
                first["next_cursor"].as_str().unwrap()
            ),
            &admin,
        )
        .await
        .ok(200);
    let ids: Vec<i64> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["items"].as_array().unwrap())
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 5);
    assert!(
        ids.windows(2).all(|w| w[0] > w[1]),
        "strictly newest first: {ids:?}"
    );
    assert!(second["next_cursor"].is_null());
}
