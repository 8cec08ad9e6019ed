//! Every kind of bad request answers problem+json with the right 4xx, and
//! none reaches a 500.

use actix_web::http::Method;
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with};

/// (case, method, path, content type, body, expected status, expected problem type)
type Case<'a> = (
    &'a str,
    Method,
    &'a str,
    Option<&'a str>,
    Vec<u8>,
    u16,
    &'a str,
);

#[actix_rt::test]
async fn bad_requests_get_the_right_problem() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let valid_user =
        json!({"username": "x.user", "password": "long enough password", "role": "stats_reader"});
    let json = Some("application/json");

    let cases: Vec<Case> = vec![
        ("malformed JSON", Method::POST, "/api/v1/users", json, b"{\"username\": ".to_vec(), 400, "malformed-body"),
        ("not JSON at all", Method::POST, "/api/v1/users", json, b"username=x".to_vec(), 400, "malformed-body"),
        ("wrong content type", Method::POST, "/api/v1/users", Some("text/plain"), valid_user.to_string().into_bytes(), 415, "unsupported-media-type"),
        ("no content type", Method::POST, "/api/v1/users", None, valid_user.to_string().into_bytes(), 415, "unsupported-media-type"),
        ("missing field", Method::POST, "/api/v1/users", json, br#"{"username":"x.user","role":"admin"}"#.to_vec(), 422, "validation"),
        ("wrong type", Method::POST, "/api/v1/users", json, br#"{"username":"x.user","password":"long enough password","role":5}"#.to_vec(), 422, "validation"),
        ("unknown role", Method::POST, "/api/v1/users", json, br#"{"username":"x.user","password":"long enough password","role":"king"}"#.to_vec(), 422, "validation"),
        ("unknown field", Method::POST, "/api/v1/users", json, br#"{"username":"x.user","password":"long enough password","role":"admin","is_root":true}"#.to_vec(), 422, "validation"),
        ("array instead of object", Method::POST, "/api/v1/users", json, b"[]".to_vec(), 422, "validation"),
        ("bad path parameter", Method::GET, "/api/v1/users/abc", None, vec![], 400, "bad-request"),
        ("path parameter overflow", Method::GET, "/api/v1/users/99999999999999999999999", None, vec![], 400, "bad-request"),
        ("bad query parameter type", Method::GET, "/api/v1/admin-units?limit=many", None, vec![], 400, "bad-request"),
        ("bad enum in query", Method::GET, "/api/v1/admin-units?level=hamlet", None, vec![], 400, "bad-request"),
        ("limit too large", Method::GET, "/api/v1/admin-units?limit=501", None, vec![], 400, "bad-request"),
        ("limit zero", Method::GET, "/api/v1/admin-units?limit=0", None, vec![], 400, "bad-request"),
        ("forged cursor", Method::GET, "/api/v1/admin-units?cursor=not-ours", None, vec![], 400, "bad-request"),
        ("bad boolean filter", Method::GET, "/api/v1/users?disabled=maybe", None, vec![], 400, "bad-request"),
        ("bad timestamp filter", Method::GET, "/api/v1/audit-log?since=yesterday", None, vec![], 400, "bad-request"),
        ("unknown route", Method::GET, "/api/v1/nothing-here", None, vec![], 404, "not-found"),
        ("unknown top-level route", Method::GET, "/wp-admin", None, vec![], 404, "not-found"),
        ("unknown id", Method::GET, "/api/v1/users/424242", None, vec![], 404, "not-found"),
        ("unknown admin unit", Method::GET, "/api/v1/admin-units/99999", None, vec![], 404, "not-found"),
        ("wrong method", Method::DELETE, "/api/v1/users", None, vec![], 405, "method-not-allowed"),
        ("wrong method on a parameterised path", Method::PUT, "/api/v1/admin-units/17", None, vec![], 405, "method-not-allowed"),
        ("csv to a JSON endpoint", Method::POST, "/api/v1/clients", Some("text/csv"), b"a,b".to_vec(), 415, "unsupported-media-type"),
        ("json to the CSV import", Method::POST, "/api/v1/admin-units/import", json, b"{}".to_vec(), 415, "unsupported-media-type"),
    ];

    for (case, method, path, content_type, body, status, kind) in cases {
        let reply = app
            .request(method, path, Some(&admin), content_type, body)
            .await;
        assert_eq!(
            reply.status.as_u16(),
            status,
            "case `{case}`: {}",
            String::from_utf8_lossy(&reply.body)
        );
        let problem = reply.problem(status);
        assert_eq!(
            problem["type"],
            format!("urn:songmay:problem:{kind}"),
            "case `{case}`"
        );
        let text = problem.to_string().to_lowercase();
        for leak in ["select ", "insert ", "sqlite", "diesel", "panicked", "src/"] {
            assert!(!text.contains(leak), "case `{case}` leaks `{leak}`: {text}");
        }
    }
}

#[actix_rt::test]
async fn wrong_method_lists_the_allowed_ones() {
    let app = spawn_app().await;
    let reply = app
        .request(Method::DELETE, "/api/v1/users", None, None, vec![])
        .await;
    reply.problem(405);
    assert_eq!(reply.header("allow").as_deref(), Some("GET, POST"));
}

#[actix_rt::test]
async fn validation_errors_name_each_field() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let reply = app
        .post(
            "/api/v1/users",
            Some(&admin),
            &json!({"username": "A B", "password": "short", "role": "district_officer"}),
        )
        .await;
    let problem = reply.problem(422);
    let mut fields: Vec<(String, String)> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        vec![
            ("password".into(), "length".into()),
            ("username".into(), "charset".into())
        ]
    );
    for error in problem["errors"].as_array().unwrap() {
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // A missing or an unknown field is named too; a wrong type is about the body.
    for (body, field, code) in [
        (
            json!({"username": "x.user", "role": "admin"}),
            "password",
            "missing",
        ),
        (
            json!({"username": "x.user", "password": "long enough password", "role": "admin", "is_root": true}),
            "is_root",
            "unknown",
        ),
        (
            json!({"username": "x.user", "password": "long enough password", "role": 5}),
            "role",
            "invalid",
        ),
    ] {
        let problem = app
            .post("/api/v1/users", Some(&admin), &body)
            .await
            .problem(422);
        assert_eq!(
            (
                &problem["errors"][0]["field"],
                &problem["errors"][0]["code"]
            ),
            (&json!(field), &json!(code)),
            "{body}"
        );
    }
}

#[actix_rt::test]
async fn oversize_bodies_are_refused_with_413() {
    let app = spawn_app_with(|env| {
        env.insert("SONGMAY_MAX_JSON_BYTES", "2048".into());
        env.insert("SONGMAY_MAX_UPLOAD_BYTES", "4096".into());
    })
    .await;
    let admin = app.admin_token().await;

    let big_json = json!({"name": "x".repeat(5000), "role": "stats_reader"}).to_string();
    let reply = app
        .request(
            Method::POST,
            "/api/v1/clients",
            Some(&admin),
            Some("application/json"),
            big_json.into_bytes(),
        )
        .await;
    assert_eq!(
        reply.problem(413)["type"],
        "urn:songmay:problem:payload-too-large"
    );

    let big_csv = format!(
        "code,parent_code,level,name\n{}",
        "99,,province,X\n".repeat(1000)
    );
    let reply = app
        .request(
            Method::POST,
            "/api/v1/admin-units/import",
            Some(&admin),
            Some("text/csv"),
            big_csv.into_bytes(),
        )
        .await;
    reply.problem(413);
}

#[actix_rt::test]
async fn duplicate_unique_value_is_a_conflict_not_a_500() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let body =
        json!({"username": "dup.user", "password": "long enough password", "role": "stats_reader"});
    app.post("/api/v1/users", Some(&admin), &body).await.ok(201);
    let problem = app
        .post("/api/v1/users", Some(&admin), &body)
        .await
        .problem(409);
    assert!(problem["detail"].as_str().unwrap().contains("dup.user"));
}

/// When the database goes away, requests get 503 problem+json with a
/// retry hint (and the cause only in the log). PostgreSQL: the database
/// stops taking connections and every backend is terminated. SQLite has no
/// server to lose; its way of being unavailable is a write lock held past
/// the busy timeout by another process, which the SQLite pass exercises
/// instead (reads still work there, so only the write is checked).
#[actix_rt::test]
async fn database_down_is_503() {
    let app = spawn_app_with(|env| {
        env.insert("SONGMAY_DB_POOL_SIZE", "1".into());
    })
    .await;
    app.hold_the_database();
    let admin = app.admin_token().await;
    let user = json!({"username": "while.down", "password": "long enough password", "role": "stats_reader"});
    let reply = match &app.db {
        crate::helpers::TestDatabase::Postgres {
            server_url, name, ..
        } => {
            use diesel::RunQueryDsl;
            let mut server = crate::helpers::server_connection(server_url).unwrap();
            diesel::sql_query(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
                .execute(&mut server)
                .unwrap();
            diesel::sql_query(format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
            ))
            .execute(&mut server)
            .unwrap();
            let ready = app.request(Method::GET, "/ready", None, None, vec![]).await;
            assert_eq!(
                ready.problem(503)["type"],
                "urn:songmay:problem:unavailable"
            );
            let read = app.get("/api/v1/admin-units", &admin).await;
            read.problem(503);
            let reply = app.post("/api/v1/users", Some(&admin), &user).await;
            diesel::sql_query(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
                .execute(&mut server)
                .unwrap();
            reply
        }
        crate::helpers::TestDatabase::Sqlite { url, .. } => {
            use diesel::RunQueryDsl;
            let mut holder = crate::helpers::hold_sqlite_write_lock(url);
            let reply = app.post("/api/v1/users", Some(&admin), &user).await;
            diesel::sql_query("ROLLBACK").execute(&mut holder).unwrap();
            reply
        }
    };
    let problem = reply.problem(503);
    assert_eq!(problem["type"], "urn:songmay:problem:unavailable");
    let retry_after: u64 = reply
        .header("retry-after")
        .expect("a retry hint")
        .parse()
        .expect("whole seconds");
    assert!(retry_after >= 1);
    let text = problem.to_string();
    for internal in ["5432", "connection", "locked", "terminat", "diesel"] {
        assert!(
            !text.contains(internal),
            "no internals ({internal}): {text}"
        );
    }
    // Back up: the user was not created by the refused request, and the
    // retry creates it once.
    let mut created = None;
    for _ in 0..5 {
        let reply = app.post("/api/v1/users", Some(&admin), &user).await;
        if reply.status.as_u16() == 201 {
            created = Some(reply.json());
            break;
        }
        reply.problem(503);
        actix_rt::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert_eq!(
        created.expect("the retry succeeds")["username"],
        "while.down"
    );
}
