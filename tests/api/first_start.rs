//! The README's first command, as a newcomer runs it: the real binary in an
//! empty directory with nothing configured but the port.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_songmay");

/// A running `songmay` process, killed when dropped.
struct Server {
    child: Child,
    base: String,
    log: Vec<String>,
    /// The log lines written after the start.
    more: std::sync::mpsc::Receiver<String>,
}

impl Server {
    /// The log lines written since the start, once the server has been
    /// quiet for half a second.
    fn log_since_start(&self) -> Vec<String> {
        let mut lines = Vec::new();
        while let Ok(line) = self.more.recv_timeout(Duration::from_millis(500)) {
            lines.push(line);
        }
        lines
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn command(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SONGMAY_BIND", "127.0.0.1:0")
        .env("RUST_LOG", "info");
    cmd
}

/// Starts the server and reads its log until it says where it listens.
fn start(mut cmd: Command) -> Server {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start songmay");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut log = Vec::new();
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            let address = line
                .split("listening on ")
                .nth(1)
                .map(|rest| rest.split_whitespace().next().unwrap().to_owned());
            log.push(line);
            if let Some(address) = address {
                return Server {
                    child,
                    base: address,
                    log,
                    more: rx,
                };
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("songmay did not start: {log:?}");
}

fn post_json(url: &str, body: &serde_json::Value, token: Option<&str>) -> (u16, serde_json::Value) {
    curl(url, token, Some(body))
}

/// Plain HTTP from another process, like the README's curl walk-through.
fn curl(
    url: &str,
    token: Option<&str>,
    body: Option<&serde_json::Value>,
) -> (u16, serde_json::Value) {
    let rt = actix_rt::System::new();
    rt.block_on(async {
        let client = awc::Client::default();
        let mut request = match body {
            Some(_) => client.post(url),
            None => client.get(url),
        };
        if let Some(token) = token {
            request = request.insert_header(("Authorization", format!("Bearer {token}")));
        }
        let mut response = match body {
            Some(body) => request.send_json(body).await.unwrap(),
            None => request.send().await.unwrap(),
        };
        let bytes = response.body().await.unwrap();
        let path = url
            .splitn(4, '/')
            .nth(3)
            .map(|p| format!("/{p}"))
            .unwrap_or_default();
        crate::contract::assert_conforms(
            if body.is_some() { "POST" } else { "GET" },
            &path,
            response.status().as_u16(),
            response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            &bytes,
        );
        (
            response.status().as_u16(),
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        )
    })
}

#[test]
fn first_start_creates_migrates_and_seeds_the_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = command(dir.path());
    cmd.env("SONGMAY_ADMIN_PASSWORD", "first start password");
    let server = start(cmd);

    assert!(
        dir.path().join("songmay.db").exists(),
        "songmay.db created in the working directory"
    );
    let key_file = dir.path().join("songmay.db.jwt-secret");
    assert!(
        key_file.exists(),
        "a JWT key was generated beside the database"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    let (status, ready) = curl(&format!("{}/ready", server.base), None, None);
    assert_eq!((status, ready["database"].as_str()), (200, Some("sqlite")));
    let (status, token) = post_json(
        &format!("{}/api/v1/auth/token", server.base),
        &json!({"username": "admin", "password": "first start password"}),
        None,
    );
    assert_eq!(status, 200);
    let token = token["access_token"].as_str().unwrap().to_owned();
    let (status, districts) = curl(
        &format!("{}/api/v1/admin-units?parent_code=17", server.base),
        Some(&token),
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(districts["items"].as_array().unwrap().len(), 10);

    // Restarting keeps the key: the token issued before still works.
    drop(server);
    let server = start(command(dir.path()));
    let (status, me) = curl(&format!("{}/api/v1/me", server.base), Some(&token), None);
    assert_eq!((status, me["name"].as_str()), (200, Some("admin")));
    assert!(
        !server.log.iter().any(|l| l.contains("generated password")),
        "the admin is created only once"
    );
}

/// One access-log line per request — method, path, status, duration — and
/// nothing else: no query string, no token, no body, no child's name.
#[test]
fn the_access_log_names_requests_without_tokens_or_personal_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = command(dir.path());
    cmd.env("SONGMAY_ADMIN_PASSWORD", "access log password");
    let server = start(cmd);
    let (_, token) = post_json(
        &format!("{}/api/v1/auth/token", server.base),
        &json!({"username": "admin", "password": "access log password"}),
        None,
    );
    let token = token["access_token"].as_str().unwrap().to_owned();
    let (status, _) = post_json(
        &format!("{}/api/v1/schools", server.base),
        &json!({"moet_code": "TH-LOG", "name": "Trường Tiểu học Log", "admin_unit_code": "150", "level": "primary"}),
        Some(&token),
    );
    assert_eq!(status, 201);
    let child = json!([{"external_id": "LOG-1", "school_code": "TH-LOG", "grade": 3,
        "full_name": "Lò Thị Bí Mật", "birth_date": "2014-07-21", "gender": "female",
        "household_status": "poor", "device_status": "none", "connectivity_status": "none"}]);
    let (status, _) = post_json(
        &format!("{}/api/v1/sync/students", server.base),
        &child,
        Some(&token),
    );
    assert_eq!(status, 200);
    let (status, _) = curl(
        &format!("{}/api/v1/students?q=B%C3%AD%20M%E1%BA%ADt", server.base),
        Some(&token),
        None,
    );
    assert_eq!(status, 200);
    let (status, _) = post_json(
        &format!("{}/api/v1/sync/students", server.base),
        &json!({"full_name": "Lò Thị Bí Mật"}),
        Some(&token),
    );
    assert_eq!(status, 422);

    let log = server.log_since_start();
    for expected in [
        "POST /api/v1/auth/token 200",
        "POST /api/v1/sync/students 200",
        "GET /api/v1/students 200",
        "POST /api/v1/sync/students 422",
    ] {
        assert!(
            log.iter().any(|l| l.contains(expected)),
            "no access-log line `{expected}` in {log:#?}"
        );
    }
    let text = log.join("\n");
    for secret in [
        token.as_str(),
        "access log password",
        "Bí Mật",
        "B%C3%AD",
        "2014-07-21",
        "q=",
    ] {
        assert!(!text.contains(secret), "the log shows `{secret}`: {text}");
    }
}

/// A GET with its own request id and token, from another process.
fn get_with(url: &str, request_id: &str, token: Option<&str>) -> (u16, String) {
    actix_rt::System::new().block_on(async {
        let mut request = awc::Client::default()
            .get(url)
            .insert_header(("X-Request-ID", request_id));
        if let Some(token) = token {
            request = request.insert_header(("Authorization", format!("Bearer {token}")));
        }
        let mut response = request.send().await.unwrap();
        let body = response.body().await.unwrap();
        (
            response.status().as_u16(),
            String::from_utf8_lossy(&body).into_owned(),
        )
    })
}

#[test]
fn json_logs_and_metrics_show_a_requests_id_route_and_latency() {
    let dir = tempfile::tempdir().unwrap();
    let metrics_token = "metrics-token-for-prometheus-01";
    let mut cmd = command(dir.path());
    cmd.env("SONGMAY_ADMIN_PASSWORD", "json log password")
        .env("SONGMAY_LOG_FORMAT", "json")
        .env("SONGMAY_METRICS_TOKEN", metrics_token);
    let server = start(cmd);
    let (_, token) = post_json(
        &format!("{}/api/v1/auth/token", server.base),
        &json!({"username": "admin", "password": "json log password"}),
        None,
    );
    let token = token["access_token"].as_str().unwrap().to_owned();
    let unit = format!("{}/api/v1/admin-units/150", server.base);
    let (status, _) = get_with(&unit, "trace-me-0001", Some(&token));
    assert_eq!(status, 200);
    let (status, _) = get_with(
        &format!("{}/api/v1/admin-units/999999", server.base),
        "trace-me-0002",
        Some(&token),
    );
    assert_eq!(status, 404);

    // Metrics: the credential first, then the figures.
    let metrics = format!("{}/metrics", server.base);
    assert_eq!(get_with(&metrics, "m-1", None).0, 401);
    assert_eq!(
        get_with(&metrics, "m-2", Some(&token)).0,
        403,
        "a user's token is not the metrics token"
    );
    let (status, text) = get_with(&metrics, "m-3", Some(metrics_token));
    assert_eq!(status, 200, "{text}");
    for expected in [
        r#"songmay_http_requests_total{method="GET",route="/api/v1/admin-units/{code}",status="200"} 1"#,
        r#"songmay_http_requests_total{method="GET",route="/api/v1/admin-units/{code}",status="404"} 1"#,
        r#"songmay_http_request_duration_seconds_count{method="GET",route="/api/v1/admin-units/{code}",status="200"} 1"#,
        r#"songmay_db_pool_connections{state="max"}"#,
        r#"songmay_webhook_deliveries{state="pending"} 0"#,
    ] {
        assert!(text.contains(expected), "no `{expected}` in {text}");
    }
    assert!(
        !text.contains("/api/v1/admin-units/150"),
        "paths are never labels"
    );

    // Every line is one JSON object; a request's line names it.
    let log = server.log_since_start();
    let lines: Vec<serde_json::Value> = server
        .log
        .iter()
        .chain(&log)
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    let line = lines
        .iter()
        .find(|l| l["request_id"] == "trace-me-0001")
        .unwrap_or_else(|| panic!("no line for the request in {lines:#?}"));
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["method"], "GET");
    assert_eq!(line["route"], "/api/v1/admin-units/{code}");
    assert_eq!(line["status"], 200);
    assert_eq!(line["caller"], "user");
    assert!(line["duration_ms"].as_f64().is_some(), "{line}");
    assert!(
        line["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{line}"
    );
    let missing = lines
        .iter()
        .find(|l| l["request_id"] == "trace-me-0002")
        .expect("the 404 is logged too");
    assert_eq!(
        (missing["status"].clone(), missing["level"].clone()),
        (json!(404), json!("INFO"))
    );
    let text = log.join("\n");
    for secret in [token.as_str(), metrics_token, "json log password", "999999"] {
        assert!(!text.contains(secret), "the log shows `{secret}`");
    }
}

#[test]
fn without_an_admin_password_one_is_generated_and_shown_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(command(dir.path()));
    let line = server
        .log
        .iter()
        .find(|l| l.contains("generated password"))
        .expect("password in the log");
    let password = line.rsplit(": ").next().unwrap().trim().to_owned();
    let (status, _) = post_json(
        &format!("{}/api/v1/auth/token", server.base),
        &json!({"username": "admin", "password": password}),
        None,
    );
    assert_eq!(status, 200);
}

#[test]
fn postgres_without_a_jwt_secret_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let output = command(dir.path())
        .env(
            "DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/never_used",
        )
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("SONGMAY_JWT_SECRET"), "{stderr}");
}

#[test]
fn cli_migrates_imports_and_prints_the_spec() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cli.db");
    let run = |args: &[&str]| {
        let output = command(dir.path())
            .env("DATABASE_URL", &db)
            .env("SONGMAY_ADMIN_PASSWORD", "cli admin password")
            .args(args)
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (ok, out, err) = run(&["migrate"]);
    assert!(ok, "{err}");
    let migrations = std::fs::read_dir("migrations/sqlite").unwrap().count();
    assert!(
        out.contains(&format!("{migrations} migration(s) applied")),
        "{out}"
    );

    let csv = dir.path().join("units.csv");
    std::fs::write(
        &csv,
        "code,parent_code,level,name\n97,,province,Tỉnh Thử\n97001,97,commune,Xã Thử\n",
    )
    .unwrap();
    let (ok, out, err) = run(&["import-admin-units", csv.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(
        out.contains("2 rows, 2 inserted, 0 updated, 0 unchanged"),
        "{out}"
    );

    std::fs::write(
        &csv,
        "code,parent_code,level,name\n97002,96,commune,Xã Mồ Côi\n",
    )
    .unwrap();
    let (ok, _, err) = run(&["import-admin-units", csv.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("line 2"), "{err}");

    let (ok, out, err) = run(&["create-user", "officer.cli", "district_officer", "97"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("created user officer.cli") && out.contains("password (shown once)"),
        "{out}"
    );

    // The retention purge: a dry run unless --commit; nothing to purge in
    // a new database, and the report says which periods it used.
    for args in [&["purge"][..], &["purge", "--commit"]] {
        let (ok, out, err) = run(args);
        assert!(ok, "{err}");
        let report: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(report["dry_run"], args.len() == 1, "{out}");
        assert_eq!(report["periods"]["student_days"], 730);
        assert_eq!(report["purged"]["students"], 0);
    }

    let (ok, out, _) = run(&["openapi"]);
    assert!(ok);
    let spec: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(spec, songmay::app::openapi());

    let (ok, _, err) = run(&["frobnicate"]);
    assert!(!ok && err.contains("usage"));
}

/// Each batch is one transaction: a server killed (SIGKILL) while applying
/// a 5,000-row batch leaves all of it or none, on either backend.
#[test]
fn killing_the_server_mid_batch_leaves_all_or_none() {
    use diesel::prelude::*;
    use songmay::platform::db::schema::students;

    let db = crate::helpers::TestDatabase::create();
    let dir = tempfile::tempdir().unwrap();
    let server_cmd = || {
        let mut cmd = command(dir.path());
        cmd.env("DATABASE_URL", db.url())
            .env("SONGMAY_JWT_SECRET", crate::helpers::JWT_SECRET)
            .env("SONGMAY_ADMIN_PASSWORD", crate::helpers::ADMIN_PASSWORD);
        cmd
    };
    let mut server = start(server_cmd());
    let token_url = format!("{}/api/v1/auth/token", server.base);
    let (_, token) = post_json(
        &token_url,
        &json!({"username": "admin", "password": crate::helpers::ADMIN_PASSWORD}),
        None,
    );
    let token = token["access_token"].as_str().unwrap().to_owned();
    let schools = json!([{"moet_code": "K-SCHOOL", "name": "Trường K", "admin_unit_code": "150", "level": "multi"}]);
    assert_eq!(
        post_json(
            &format!("{}/api/v1/sync/schools", server.base),
            &schools,
            Some(&token)
        )
        .0,
        200
    );

    let direct = db.connect();
    let mut outcomes = Vec::new();
    // `None`: kill as soon as the batch's transaction is seen open (it must
    // then leave nothing); a delay: kill at that moment, wherever the
    // request is (it must leave all or nothing).
    let plan = [None, None, None, Some(0u64), Some(40), Some(160), Some(400)];
    for (attempt, delay_ms) in plan.into_iter().enumerate() {
        let batch: Vec<serde_json::Value> = (0..5_000)
            .map(|i| crate::helpers::student(&format!("K{attempt}-{i}"), "K-SCHOOL", 1 + i % 12))
            .collect();
        let url = format!("{}/api/v1/sync/students", server.base);
        let (sync_token, body) = (token.clone(), serde_json::Value::from(batch));
        // The request may be refused or cut off by the kill: that is the point.
        let sender = std::thread::spawn(move || {
            actix_rt::System::new().block_on(async {
                let request = awc::Client::default()
                    .post(&url)
                    .insert_header(("Authorization", format!("Bearer {sync_token}")));
                request
                    .send_json(&body)
                    .await
                    .map(|r| r.status().as_u16())
                    .ok()
            })
        });
        let caught_inside = match delay_ms {
            Some(delay_ms) => {
                std::thread::sleep(Duration::from_millis(delay_ms));
                false
            }
            None => {
                let deadline = std::time::Instant::now() + Duration::from_secs(20);
                while !a_write_is_open(&db) {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "attempt {attempt}: the batch never opened its transaction"
                    );
                    std::thread::sleep(Duration::from_millis(2));
                }
                true
            }
        };
        drop(server); // SIGKILL, then wait
        let _ = sender.join();

        let mut conn = direct.get().unwrap();
        let stored: i64 = songmay::with_conn!(&mut conn, |c| students::table
            .filter(students::external_id.like(format!("K{attempt}-%")))
            .count()
            .get_result(c))
        .unwrap();
        assert!(
            stored == 0 || stored == 5_000,
            "attempt {attempt}: {stored} of 5000 rows survived the kill"
        );
        if caught_inside {
            assert_eq!(
                stored, 0,
                "attempt {attempt}: killed inside the transaction, yet rows were kept"
            );
        }
        outcomes.push(stored);
        server = start(server_cmd());
    }
    eprintln!("rows kept per killed batch: {outcomes:?}");
}

/// Whether another connection holds an open write transaction on the
/// test database: on PostgreSQL a backend holding a row lock on `students`
/// inside a transaction; on SQLite the write lock (a `BEGIN IMMEDIATE`
/// that cannot start at once).
fn a_write_is_open(db: &crate::helpers::TestDatabase) -> bool {
    use diesel::{Connection, RunQueryDsl};
    match db {
        crate::helpers::TestDatabase::Postgres { url, .. } => {
            #[derive(diesel::QueryableByName)]
            struct Open {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                n: i64,
            }
            let mut conn = diesel::PgConnection::establish(url).expect("connect");
            diesel::sql_query(
                "SELECT COUNT(*) AS n FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                 WHERE c.relname = 'students' AND l.mode = 'RowExclusiveLock'
                   AND l.pid <> pg_backend_pid()",
            )
            .get_result::<Open>(&mut conn)
            .expect("pg_locks")
            .n > 0
        }
        crate::helpers::TestDatabase::Sqlite { url, .. } => {
            let mut conn = diesel::SqliteConnection::establish(url).expect("open");
            diesel::sql_query("PRAGMA busy_timeout = 0")
                .execute(&mut conn)
                .unwrap();
            match diesel::sql_query("BEGIN IMMEDIATE").execute(&mut conn) {
                Ok(_) => {
                    diesel::sql_query("ROLLBACK").execute(&mut conn).unwrap();
                    false
                }
                Err(_) => true,
            }
        }
    }
}
