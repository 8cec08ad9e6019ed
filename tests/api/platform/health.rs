use crate::helpers::{series, spawn_app};

#[actix_rt::test]
async fn health_answers_and_ready_names_the_migrated_backend() {
    let app = spawn_app().await;

    let health = app
        .request(actix_web::http::Method::GET, "/health", None, None, vec![])
        .await;
    assert_eq!(health.ok(200)["status"], "ok");

    let ready = app
        .request(actix_web::http::Method::GET, "/ready", None, None, vec![])
        .await;
    let ready = ready.ok(200);
    assert_eq!(ready["status"], "ready");
    let expected = if app.db.is_postgres() {
        "postgres"
    } else {
        "sqlite"
    };
    assert_eq!(ready["database"], expected);
    // CI reads this back to prove the PostgreSQL pass ran on PostgreSQL.
    if let Ok(file) = std::env::var("SONGMAY_SEEN_BACKEND_FILE") {
        std::fs::write(file, ready["database"].as_str().unwrap()).expect("backend file written");
    }
}

#[actix_rt::test]
async fn migrations_are_applied_and_seed_loaded_once_on_this_backend() {
    let app = spawn_app().await;
    let db = app.db.connect();
    let mut conn = db.get().unwrap();
    assert!(
        conn.migrations_current().unwrap(),
        "every migration applied"
    );
    // A second start over the same database applies nothing and seeds nothing.
    assert!(db.migrate().unwrap().is_empty());
    assert!(
        songmay::registry::admin_units::queries::seed_if_empty(&mut conn)
            .unwrap()
            .is_none()
    );
    assert_eq!(
        songmay::registry::admin_units::queries::count(&mut conn).unwrap(),
        162
    );
}

#[test]
fn three_instances_starting_at_once_on_one_new_database_all_start_and_set_it_up_once() {
    let db = crate::helpers::TestDatabase::create();
    let url = db.url().to_owned();
    let start = std::sync::Barrier::new(3);
    // Three instances, each in its own thread and runtime as in its own
    // process, prepare the same empty database at the same moment.
    let started: Vec<Result<u16, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..3)
            .map(|_| {
                let (url, start) = (url.clone(), &start);
                scope.spawn(move || {
                    let env = crate::helpers::test_env(&url);
                    let config =
                        songmay::platform::config::Config::from_lookup(|n| env.get(n).cloned())
                            .expect("valid test config");
                    start.wait();
                    actix_rt::System::new().block_on(async move {
                        songmay::app::Application::build(config)
                            .map(|app| app.port())
                            .map_err(|e| e.to_string())
                    })
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for result in &started {
        assert!(result.is_ok(), "an instance failed to start: {result:?}");
    }
    // Set up once: every migration, the seed once, one bootstrap admin.
    let pool = db.connect();
    let mut conn = pool.get().unwrap();
    assert!(conn.migrations_current().unwrap());
    assert_eq!(
        songmay::registry::admin_units::queries::count(&mut conn).unwrap(),
        162
    );
    #[derive(diesel::QueryableByName)]
    struct Admins {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    use diesel::RunQueryDsl;
    let admins = songmay::platform::db::with_conn!(&mut conn, |c| diesel::sql_query(
        "SELECT COUNT(*) AS n FROM users WHERE username = 'admin'"
    )
    .get_result::<Admins>(c))
    .unwrap();
    assert_eq!(admins.n, 1, "one bootstrap admin");
}

#[derive(diesel::QueryableByName)]
struct Pragma {
    #[diesel(sql_type = diesel::sql_types::Text)]
    value: String,
}

#[actix_rt::test]
async fn sqlite_connections_use_wal_busy_timeout_and_foreign_keys() {
    let app = spawn_app().await;
    if app.db.is_postgres() {
        return; // PostgreSQL has none of these pragmas; its foreign keys are always on.
    }
    let db = app.db.connect();
    let songmay::platform::db::DbConn::Sqlite(mut conn) = db.get().unwrap() else {
        unreachable!()
    };
    use diesel::RunQueryDsl;
    let pragma = |conn: &mut diesel::SqliteConnection, name: &str, column: &str| -> String {
        diesel::sql_query(format!(
            "SELECT CAST({column} AS TEXT) AS value FROM pragma_{name}"
        ))
        .get_result::<Pragma>(conn)
        .unwrap()
        .value
    };
    assert_eq!(pragma(&mut conn, "journal_mode", "journal_mode"), "wal");
    assert_eq!(pragma(&mut conn, "foreign_keys", "foreign_keys"), "1");
    assert_eq!(pragma(&mut conn, "busy_timeout", "timeout"), "5000");
}

#[actix_rt::test]
async fn cors_allows_only_the_configured_origins() {
    let app = crate::helpers::spawn_app_with(|env| {
        env.insert(
            "SONGMAY_CORS_ORIGINS",
            "https://portal.hoabinh.example".into(),
        );
    })
    .await;
    let preflight = |origin: &'static str| {
        let base = app.base.clone();
        async move {
            awc::Client::default()
                .request(
                    actix_web::http::Method::OPTIONS,
                    format!("{base}/api/v1/me"),
                )
                .insert_header(("Origin", origin))
                .insert_header(("Access-Control-Request-Method", "GET"))
                .insert_header(("Access-Control-Request-Headers", "authorization"))
                .send()
                .await
                .unwrap()
        }
    };
    let allowed = preflight("https://portal.hoabinh.example").await;
    assert_eq!(
        allowed
            .headers()
            .get("access-control-allow-origin")
            .unwrap(),
        "https://portal.hoabinh.example"
    );
    let other = preflight("https://elsewhere.example").await;
    assert!(other.headers().get("access-control-allow-origin").is_none());

    // A browser app may send the request headers the API reads, and read
    // the response headers it needs.
    let asking = awc::Client::default()
        .request(
            actix_web::http::Method::OPTIONS,
            format!("{}/api/v1/pledges/1", app.base),
        )
        .insert_header(("Origin", "https://portal.hoabinh.example"))
        .insert_header(("Access-Control-Request-Method", "GET"))
        .insert_header((
            "Access-Control-Request-Headers",
            "authorization, x-request-id, if-none-match, if-match, idempotency-key",
        ))
        .send()
        .await
        .unwrap();
    assert!(asking.status().is_success(), "{}", asking.status());
    let read = awc::Client::default()
        .get(format!("{}/health", app.base))
        .insert_header(("Origin", "https://portal.hoabinh.example"))
        .send()
        .await
        .unwrap();
    let exposed = read
        .headers()
        .get("access-control-expose-headers")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    for header in [
        "etag",
        "location",
        "x-request-id",
        "idempotent-replayed",
        "retry-after",
    ] {
        assert!(exposed.contains(header), "{header} in {exposed}");
    }

    // Without the setting, no origin is allowed.
    let closed = spawn_app().await;
    let reply = awc::Client::default()
        .get(format!("{}/health", closed.base))
        .insert_header(("Origin", "https://portal.hoabinh.example"))
        .send()
        .await
        .unwrap();
    assert!(reply.headers().get("access-control-allow-origin").is_none());
}

/// The container's healthcheck: `songmay healthcheck` exits 0 while the
/// service on `SONGMAY_BIND`'s port is ready, and fails (naming the
/// address) when nothing answers there.
#[actix_rt::test]
async fn the_healthcheck_command_passes_on_a_ready_service_and_fails_without_one() {
    let app = spawn_app().await;
    let port = app.base.rsplit(':').next().unwrap().to_owned();
    let run = |bind: String| {
        std::process::Command::new(env!("CARGO_BIN_EXE_songmay"))
            .arg("healthcheck")
            .env("SONGMAY_BIND", bind)
            .output()
            .expect("the binary runs")
    };
    let ready = actix_web::rt::task::spawn_blocking({
        let port = port.clone();
        move || run(format!("0.0.0.0:{port}"))
    })
    .await
    .unwrap();
    assert!(
        ready.status.success(),
        "{}",
        String::from_utf8_lossy(&ready.stderr)
    );
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_port = free.local_addr().unwrap().port();
    drop(free);
    let dead = actix_web::rt::task::spawn_blocking(move || run(format!("0.0.0.0:{dead_port}")))
        .await
        .unwrap();
    assert!(!dead.status.success());
    assert!(String::from_utf8_lossy(&dead.stderr).contains(&format!("127.0.0.1:{dead_port}/ready")));
}

/// The value of one series in a Prometheus text exposition (0 if absent).
#[actix_rt::test]
async fn metrics_need_their_own_token_and_are_off_without_one() {
    let off = spawn_app().await;
    let problem = off
        .request_with_auth_header("/metrics", "Bearer anything-at-all-long")
        .await
        .problem(404);
    assert!(
        problem["detail"].as_str().unwrap().contains("off"),
        "{problem}"
    );

    let token = "a-metrics-token-of-some-length";
    let app = crate::helpers::spawn_app_with(|env| {
        env.insert("SONGMAY_METRICS_TOKEN", token.into());
    })
    .await;
    let admin = app.admin_token().await;
    app.request_with_auth_header("/metrics", "Basic abc")
        .await
        .problem(401);
    app.request_with_auth_header("/metrics", &format!("Bearer {admin}"))
        .await
        .problem(403);
    let scrape = || async {
        let reply = app
            .request_with_auth_header("/metrics", &format!("Bearer {token}"))
            .await;
        assert_eq!(reply.status.as_u16(), 200);
        assert!(reply
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/plain; version=0.0.4")));
        String::from_utf8(reply.body.clone()).unwrap()
    };
    // Counters are per process (tests share one): compare before and after.
    let rejected = r#"songmay_sync_rows_total{kind="schools",outcome="rejected"}"#;
    let accepted = r#"songmay_sync_rows_total{kind="schools",outcome="accepted"}"#;
    let before = scrape().await;
    let batch = serde_json::json!([
        {"moet_code": "TH-METRIC", "name": "Trường đo", "admin_unit_code": "04831", "level": "primary"},
        {"moet_code": "TH-BAD", "name": "Trường sai", "admin_unit_code": "NOWHERE", "level": "primary"}
    ]);
    app.post("/api/v1/sync/schools", Some(&admin), &batch)
        .await
        .ok(200);
    let after = scrape().await;
    assert!(
        series(&after, rejected) >= series(&before, rejected) + 1.0,
        "{after}"
    );
    assert!(
        series(&after, accepted) >= series(&before, accepted) + 1.0,
        "{after}"
    );
    let sync_route =
        r#"songmay_http_requests_total{method="POST",route="/api/v1/sync/schools",status="200"}"#;
    assert!(series(&after, sync_route) >= 1.0, "{after}");
    assert!(series(&after, r#"songmay_db_pool_connections{state="max"}"#) >= 1.0);
}
