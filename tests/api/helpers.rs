//! The test harness: every test gets its own fresh database (a temporary
//! SQLite file, or a new PostgreSQL database when SONGMAY_TEST_DATABASE_URL
//! names a server) and the real application listening on a free port, and
//! talks to it over HTTP.

use std::collections::HashMap;
use std::time::Duration;

use actix_web::http::{Method, StatusCode};
use awc::http::header::HeaderMap;
use diesel::{Connection, PgConnection, RunQueryDsl};
use serde_json::{json, Value};
use songmay::app::Application;
use songmay::platform::config::Config;

pub const ADMIN_PASSWORD: &str = "test admin password";
pub const JWT_SECRET: &str = "test-secret-that-is-long-enough-for-hs256-0123456789";

/// A throwaway database, removed when dropped.
pub enum TestDatabase {
    Sqlite {
        _dir: tempfile::TempDir,
        url: String,
    },
    Postgres {
        server_url: String,
        name: String,
        url: String,
    },
}

impl TestDatabase {
    pub fn create() -> Self {
        match std::env::var("SONGMAY_TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            Some(server_url) => Self::create_postgres(&server_url, None),
            None => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = dir.path().join("songmay.db").to_string_lossy().into_owned();
                TestDatabase::Sqlite { _dir: dir, url }
            }
        }
    }

    /// A new PostgreSQL database, empty or a copy of `template`.
    fn create_postgres(server_url: &str, template: Option<&str>) -> Self {
        let name = format!(
            "songmay_test_{}",
            songmay::platform::random::random_token(9)
                .to_lowercase()
                .replace(['-', '_'], "x")
        );
        let mut admin =
            server_connection(server_url).expect("connect to SONGMAY_TEST_DATABASE_URL");
        let create = match template {
            Some(template) => format!("CREATE DATABASE {name} TEMPLATE {template}"),
            None => format!("CREATE DATABASE {name}"),
        };
        // Copies of one template are made one at a time by PostgreSQL; a
        // copy racing another may be told the template is busy: try again.
        let mut attempts = 0;
        while let Err(error) = diesel::sql_query(&create).execute(&mut admin) {
            attempts += 1;
            assert!(attempts < 50, "create test database: {error}");
            std::thread::sleep(Duration::from_millis(20 * attempts));
        }
        TestDatabase::Postgres {
            server_url: server_url.to_owned(),
            url: database_url(server_url, &name),
            name,
        }
    }

    /// A database migrated and seeded exactly as a first start leaves it
    /// (admin units, the bootstrap admin), cloned from a template made once
    /// per test run: `CREATE DATABASE … TEMPLATE` on PostgreSQL, a file
    /// copy on SQLite. Tests about the first start itself use
    /// [`TestDatabase::create`].
    pub fn prepared() -> Self {
        let template = template();
        match template {
            Template::Sqlite { file, .. } => {
                let dir = tempfile::tempdir().expect("temp dir");
                let path = dir.path().join("songmay.db");
                std::fs::copy(file, &path).expect("copy the template");
                TestDatabase::Sqlite {
                    _dir: dir,
                    url: path.to_string_lossy().into_owned(),
                }
            }
            Template::Postgres { server_url, name } => {
                Self::create_postgres(server_url, Some(name))
            }
        }
    }

    pub fn url(&self) -> &str {
        match self {
            TestDatabase::Sqlite { url, .. } | TestDatabase::Postgres { url, .. } => url,
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, TestDatabase::Postgres { .. })
    }

    /// This database on the streaming replica named by
    /// SONGMAY_TEST_READ_DATABASE_URL (CI starts one beside the test
    /// server); instances of the service read from it when it is set.
    pub fn replica_url(&self) -> Option<String> {
        let TestDatabase::Postgres { name, .. } = self else {
            return None;
        };
        std::env::var("SONGMAY_TEST_READ_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
            .map(|server| database_url(&server, name))
    }

    /// A direct connection, for checks that must not go through the API.
    pub fn connect(&self) -> songmay::platform::db::Db {
        songmay::platform::db::Db::connect(
            &songmay::platform::db::DatabaseLocation::parse(self.url()),
            2,
        )
        .expect("connect")
    }
}

/// The URL of database `name` on the server of `server_url`.
fn database_url(server_url: &str, name: &str) -> String {
    let (path, query) = server_url.split_once('?').unwrap_or((server_url, ""));
    let base = path.rsplit_once('/').map(|(base, _)| base).unwrap_or(path);
    without_tls(&format!("{base}/{name}?{query}"))
}

/// The migrated, seeded database every test database is copied from.
enum Template {
    Sqlite {
        _dir: tempfile::TempDir,
        file: std::path::PathBuf,
    },
    Postgres {
        server_url: String,
        name: String,
    },
}

/// Makes the template on first use: migrations, the seed and the bootstrap
/// admin, by the service's own start-up code. A PostgreSQL template is
/// named after this process and dropped by the next run (a template cannot
/// be dropped while the tests copy it, and a test process has no end hook).
fn template() -> &'static Template {
    static TEMPLATE: std::sync::OnceLock<Template> = std::sync::OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let server_url = std::env::var("SONGMAY_TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty());
        let (template, url) = match &server_url {
            Some(server_url) => {
                let name = format!("songmay_template_{}", std::process::id());
                let mut admin = server_connection(server_url).expect("connect");
                drop_stale_templates(&mut admin);
                diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .expect("drop an old template");
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .expect("create the template");
                let url = database_url(server_url, &name);
                (
                    Template::Postgres {
                        server_url: server_url.clone(),
                        name,
                    },
                    url,
                )
            }
            None => {
                let dir = tempfile::tempdir().expect("temp dir");
                let file = dir.path().join("template.db");
                let url = file.to_string_lossy().into_owned();
                (Template::Sqlite { _dir: dir, file }, url)
            }
        };
        {
            let config = Config::from_lookup(|name| match name {
                "DATABASE_URL" => Some(url.clone()),
                "SONGMAY_JWT_SECRET" => Some(JWT_SECRET.to_owned()),
                "SONGMAY_ADMIN_PASSWORD" => Some(ADMIN_PASSWORD.to_owned()),
                _ => None,
            })
            .expect("template config");
            let db = songmay::platform::db::Db::connect(&config.database, 1).expect("connect");
            songmay::app::prepare_database(&db, &config).expect("prepare the template");
            if matches!(template, Template::Sqlite { .. }) {
                // Everything into the main file, so a copy of it is whole.
                let mut conn = db.get().expect("a connection");
                songmay::platform::db::with_conn!(&mut conn, |c| diesel::sql_query(
                    "PRAGMA wal_checkpoint(TRUNCATE)"
                )
                .execute(c))
                .expect("checkpoint");
            }
            // The pool closes its connections here: a PostgreSQL template
            // cannot be copied while anyone is connected to it.
        }
        template
    })
}

/// Drops the templates of test runs whose process has ended.
fn drop_stale_templates(admin: &mut PgConnection) {
    #[derive(diesel::QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        datname: String,
    }
    let names: Vec<Name> = diesel::sql_query(
        "SELECT datname FROM pg_database WHERE datname LIKE 'songmay_template_%'",
    )
    .load(admin)
    .unwrap_or_default();
    for Name { datname } in names {
        let pid = datname.trim_start_matches("songmay_template_");
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {datname} WITH (FORCE)"))
                .execute(admin);
        }
    }
}

/// The URL with `sslmode=disable` unless it names a mode. No TLS to the
/// local test server: libpq's OpenSSL is torn down at process exit while r2d2
/// threads may still be reconnecting to a dropped test database, and that
/// crashed the test binary after every test had passed (diesel-rs/diesel#3441).
fn without_tls(url: &str) -> String {
    match url.split_once('?') {
        Some((_, query)) if query.contains("sslmode=") => url.to_owned(),
        Some((path, "")) => format!("{path}?sslmode=disable"),
        Some(_) => format!("{url}&sslmode=disable"),
        None => format!("{url}?sslmode=disable"),
    }
}

/// A connection to the server's maintenance database (create, drop, block).
pub fn server_connection(server_url: &str) -> diesel::ConnectionResult<PgConnection> {
    PgConnection::establish(&without_tls(server_url))
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let TestDatabase::Postgres {
            server_url, name, ..
        } = self
        {
            if let Ok(mut admin) = server_connection(server_url) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin);
            }
        }
    }
}

/// Refused writes checked for writing nothing, in this test process.
static REFUSALS_CHECKED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

pub struct TestApp {
    pub base: String,
    pub db: TestDatabase,
    client: awc::Client,
    /// Requests sent so far and those in flight: a refused write is
    /// checked for writing nothing only when it ran alone.
    sent: std::sync::atomic::AtomicUsize,
    in_flight: std::sync::atomic::AtomicUsize,
    /// Off while a test holds the database itself (locks, a stopped
    /// server), where counting rows would wait on the test.
    check_refusals: std::sync::atomic::AtomicBool,
    direct: std::sync::Mutex<Option<songmay::platform::db::Db>>,
    /// The query counting every table, built once from the table list.
    count_query: std::sync::OnceLock<String>,
}

/// A response, read completely.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| {
            panic!(
                "not JSON ({}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// Asserts an RFC 9457 problem with this status and returns it.
    #[track_caller]
    pub fn problem(&self, status: u16) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(
            self.header("content-type").as_deref(),
            Some("application/problem+json")
        );
        let problem = self.json();
        assert_eq!(problem["status"], json!(status));
        for field in ["type", "title", "detail"] {
            assert!(
                problem[field].is_string(),
                "problem without {field}: {problem}"
            );
        }
        problem
    }

    /// Asserts a problem with this status whose `errors` name `field` with
    /// `code`, and returns it.
    #[track_caller]
    pub fn problem_naming(&self, status: u16, field: &str, code: &str) -> Value {
        let problem = self.problem(status);
        let named = problem["errors"].as_array().is_some_and(|errors| {
            errors
                .iter()
                .any(|e| e["field"] == field && e["code"] == code)
        });
        assert!(
            named,
            "the problem does not name {field} ({code}): {problem}"
        );
        problem
    }

    /// Asserts a success with this status and returns the JSON body.
    #[track_caller]
    pub fn ok(&self, status: u16) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            String::from_utf8_lossy(&self.body)
        );
        self.json()
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the application with the test defaults, changed by `adjust`.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut HashMap<&'static str, String>)) -> TestApp {
    let db = TestDatabase::prepared();
    let base = start_instance(&db, adjust);
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .disable_redirects()
        .finish();
    TestApp {
        base,
        db,
        client,
        sent: Default::default(),
        in_flight: Default::default(),
        check_refusals: std::sync::atomic::AtomicBool::new(true),
        direct: std::sync::Mutex::new(None),
        count_query: std::sync::OnceLock::new(),
    }
}

/// The settings every test instance starts with, on `database_url`.
pub(crate) fn test_env(database_url: &str) -> HashMap<&'static str, String> {
    HashMap::from([
        ("DATABASE_URL", database_url.to_owned()),
        ("SONGMAY_BIND", "127.0.0.1:0".to_owned()),
        ("SONGMAY_JWT_SECRET", JWT_SECRET.to_owned()),
        ("SONGMAY_ADMIN_PASSWORD", ADMIN_PASSWORD.to_owned()),
        ("SONGMAY_WORKERS", "1".to_owned()),
        ("SONGMAY_DB_POOL_SIZE", "4".to_owned()),
        ("SONGMAY_TOKEN_RATE_BURST", "1000".to_owned()),
        ("SONGMAY_TOKEN_RATE_PER_MINUTE", "6000".to_owned()),
        ("SONGMAY_TOKEN_IP_RATE_BURST", "100000".to_owned()),
        ("SONGMAY_TOKEN_IP_RATE_PER_MINUTE", "60000".to_owned()),
        ("SONGMAY_TOKEN_GLOBAL_RATE_BURST", "100000".to_owned()),
        ("SONGMAY_TOKEN_GLOBAL_RATE_PER_MINUTE", "60000".to_owned()),
        // Coverage deltas stay noted until a test folds them
        // (`needs::coverage_counts::fold_noted_counts`): every figure read
        // then goes through the noted deltas, and folding happens where a
        // test says.
        ("SONGMAY_COUNT_FOLD_MS", "0".to_owned()),
    ])
}

/// Starts one instance of the service (its HTTP server and its webhook
/// worker) on `database_url`; returns its base URL.
fn start_instance(
    database: &TestDatabase,
    adjust: impl FnOnce(&mut HashMap<&'static str, String>),
) -> String {
    let mut env = test_env(database.url());
    if let Some(replica) = database.replica_url() {
        env.insert("SONGMAY_READ_DATABASE_URL", replica);
    }
    adjust(&mut env);
    let config = Config::from_lookup(|name| env.get(name).cloned()).expect("valid test config");
    let app = Application::build(config).expect("the application starts");
    let base = format!("http://127.0.0.1:{}", app.port());
    actix_rt::spawn(app.run_until_stopped());
    base
}

impl TestApp {
    /// Starts another instance of the service on this test's database (a
    /// second replica); returns its base URL.
    pub fn start_replica(&self, adjust: impl FnOnce(&mut HashMap<&'static str, String>)) -> String {
        start_instance(&self.db, adjust)
    }

    /// Sends a request with these headers and reads the whole answer.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Reply {
        use std::sync::atomic::Ordering::SeqCst;
        let method_name = method.to_string();
        let writes = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
        let ticket = self.sent.fetch_add(1, SeqCst);
        let alone = self.in_flight.fetch_add(1, SeqCst) == 0;
        let before =
            (writes && alone && self.check_refusals.load(SeqCst)).then(|| self.row_counts());
        let mut request = self
            .client
            .request(method, format!("{}{}", self.base, path));
        for (name, value) in headers {
            request = request.insert_header((*name, value.as_str()));
        }
        let mut response = request.send_body(body).await.expect("request sent");
        let body = response
            .body()
            .limit(64 * 1024 * 1024)
            .await
            .expect("body read")
            .to_vec();
        let reply = Reply {
            status: response.status(),
            headers: response.headers().clone(),
            body,
        };
        crate::contract::assert_conforms(
            &method_name,
            path,
            reply.status.as_u16(),
            reply.header("content-type").as_deref(),
            &reply.body,
        );
        self.in_flight.fetch_sub(1, SeqCst);
        // README: a refused request writes nothing. Every write any test
        // sends that is refused (4xx, or 503) is checked, when no other
        // request ran beside it.
        let refused = reply.status.is_client_error() || reply.status.as_u16() == 503;
        if let Some(before) = before.filter(|_| refused) {
            let nobody_else = self.sent.load(SeqCst) == ticket + 1;
            if nobody_else && self.check_refusals.load(SeqCst) {
                let checked = REFUSALS_CHECKED.fetch_add(1, SeqCst) + 1;
                if let Ok(file) = std::env::var("SONGMAY_REFUSALS_CHECKED_FILE") {
                    let _ = std::fs::write(file, checked.to_string());
                }
                self.assert_nothing_written(
                    &before,
                    &format!("{method_name} {path} ({})", reply.status),
                );
            }
        }
        reply
    }

    /// Stops checking refusals for writes (a test about to hold the
    /// database itself: a lock, a stopped server).
    pub fn hold_the_database(&self) {
        self.check_refusals
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Reply {
        let mut headers = Vec::new();
        if let Some(token) = token {
            headers.push(("Authorization", format!("Bearer {token}")));
        }
        if let Some(content_type) = content_type {
            headers.push(("Content-Type", content_type.to_owned()));
        }
        self.send(method, path, &headers, body).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.request(Method::GET, path, Some(token), None, Vec::new())
            .await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        self.request(
            Method::POST,
            path,
            token,
            Some("application/json"),
            body.to_string().into_bytes(),
        )
        .await
    }

    pub async fn patch(&self, path: &str, token: &str, body: &Value) -> Reply {
        self.request(
            Method::PATCH,
            path,
            Some(token),
            Some("application/json"),
            body.to_string().into_bytes(),
        )
        .await
    }

    pub async fn token_for(&self, username: &str, password: &str) -> String {
        let reply = self
            .post(
                "/api/v1/auth/token",
                None,
                &json!({"username": username, "password": password}),
            )
            .await;
        reply.ok(200)["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    pub async fn admin_token(&self) -> String {
        self.token_for("admin", ADMIN_PASSWORD).await
    }

    /// Creates a user with `role` (and scope fields in `extra`) and returns a token for them.
    pub async fn user_token(&self, username: &str, role: &str, extra: Value) -> String {
        let admin = self.admin_token().await;
        let mut body =
            json!({"username": username, "password": "a password long enough", "role": role});
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        self.post("/api/v1/users", Some(&admin), &body)
            .await
            .ok(201);
        self.token_for(username, "a password long enough").await
    }

    /// Creates a machine client and returns (client_id, client_secret).
    pub async fn client_credentials(&self, role: &str) -> (String, String) {
        let admin = self.admin_token().await;
        let created = self
            .post(
                "/api/v1/clients",
                Some(&admin),
                &json!({"name": "test client", "role": role}),
            )
            .await
            .ok(201);
        (
            created["client"]["client_id"].as_str().unwrap().to_owned(),
            created["client_secret"].as_str().unwrap().to_owned(),
        )
    }
}

impl TestApp {
    /// A GET with a raw Authorization header value.
    pub async fn request_with_auth_header(&self, path: &str, header: &str) -> Reply {
        self.send(
            Method::GET,
            path,
            &[("Authorization", header.to_owned())],
            Vec::new(),
        )
        .await
    }
}

/// `field` of every item of a list page, as text.
pub fn column(page: &Value, field: &str) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("a list page")
        .iter()
        .map(|item| match &item[field] {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        })
        .collect()
}

impl TestApp {
    /// POSTs JSON with an `Idempotency-Key`, as a client that retries does.
    pub async fn post_with_key(&self, path: &str, token: &str, key: &str, body: &Value) -> Reply {
        let headers = [
            ("Authorization", format!("Bearer {token}")),
            ("Content-Type", "application/json".to_owned()),
            ("Idempotency-Key", key.to_owned()),
        ];
        self.send(Method::POST, path, &headers, body.to_string().into_bytes())
            .await
    }

    /// Follows `next_cursor` from the first page of `path` to the last and
    /// returns every page.
    pub async fn all_pages(&self, path: &str, token: &str) -> Vec<Value> {
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut pages = Vec::new();
        let mut next = path.to_owned();
        loop {
            let page = self.get(&next, token).await.ok(200);
            let cursor = page["next_cursor"].as_str().map(str::to_owned);
            pages.push(page);
            match cursor {
                Some(cursor) => next = format!("{path}{separator}cursor={cursor}"),
                None => return pages,
            }
        }
    }
}

/// Four schools: two in Đà Bắc district (150), two in Hòa Bình city (148).
pub const SCHOOLS: [(&str, &str, &str); 4] = [
    ("TH-DABAC", "04831", "primary"),
    ("THCS-DABAC", "150", "lower_secondary"),
    ("TH-THAIBINH", "04789", "primary"),
    ("THPT-TP", "148", "upper_secondary"),
];

/// A valid student record for the sync and CSV formats.
pub fn student(external_id: &str, school_code: &str, grade: i64) -> Value {
    json!({
        "external_id": external_id,
        "school_code": school_code,
        "grade": grade,
        "full_name": format!("Nguyễn Thị Học Sinh {external_id}"),
        "birth_date": "2015-03-14",
        "gender": "female",
        "household_status": "poor",
        "device_status": "none",
        "connectivity_status": "mobile_weak"
    })
}

impl TestApp {
    /// Creates [`SCHOOLS`] through the school sync; returns their ids by code.
    pub async fn seed_schools(&self, admin: &str) -> HashMap<String, i64> {
        let batch: Vec<Value> = SCHOOLS
            .iter()
            .map(|(code, unit, level)| json!({"moet_code": code, "name": format!("Trường {code}"), "admin_unit_code": unit, "level": level}))
            .collect();
        let report = self
            .post("/api/v1/sync/schools", Some(admin), &Value::from(batch))
            .await
            .ok(200);
        assert_eq!(report["inserted"], 4, "{report}");
        let mut ids = HashMap::new();
        for (code, _, _) in SCHOOLS {
            let school = self
                .get(&format!("/api/v1/schools/by-code/{code}"), admin)
                .await
                .ok(200);
            ids.insert(code.to_owned(), school["id"].as_i64().unwrap());
        }
        ids
    }

    /// The current device profile version, published by the admin first
    /// when there is none: no device is made ready without it.
    pub async fn device_profile(&self) -> i64 {
        let admin = self.admin_token().await;
        let current = self.get("/api/v1/device-profiles/current", &admin).await;
        if current.status.as_u16() == 200 {
            return current.json()["version"].as_i64().unwrap();
        }
        self.post(
            "/api/v1/device-profiles",
            Some(&admin),
            &json!({"name": "Hồ sơ an toàn", "software": [{"name": "Lớp học", "purpose": "học trực tuyến"}], "safe_dns": ["1.1.1.3", "1.0.0.3"], "filtering": "DNS gia đình; SafeSearch bật."}),
        )
        .await
        .ok(201)["version"]
            .as_i64()
            .unwrap()
    }

    /// A token for a fresh machine client with `role`.
    pub async fn client_token(&self, role: &str) -> String {
        let (client_id, secret) = self.client_credentials(role).await;
        let reply = self
            .post(
                "/api/v1/auth/token",
                None,
                &json!({"client_id": client_id, "client_secret": secret}),
            )
            .await;
        reply.ok(200)["access_token"].as_str().unwrap().to_owned()
    }

    /// Generates the open needs of Hòa Bình's students (`token`: an admin's).
    pub async fn generate_needs(&self, token: &str) -> Value {
        self.post(
            "/api/v1/needs/generate",
            Some(token),
            &json!({"admin_unit_code": "17"}),
        )
        .await
        .ok(200)
    }

    pub async fn sync_students(&self, token: &str, query: &str, batch: &[Value]) -> Reply {
        self.post(
            &format!("/api/v1/sync/students{query}"),
            Some(token),
            &Value::from(batch.to_vec()),
        )
        .await
    }
}

impl TestApp {
    pub async fn patch_if_match(
        &self,
        path: &str,
        token: &str,
        version: &str,
        body: &Value,
    ) -> Reply {
        let headers = [
            ("Authorization", format!("Bearer {token}")),
            ("If-Match", version.to_owned()),
            ("Content-Type", "application/json".to_owned()),
        ];
        self.send(Method::PATCH, path, &headers, body.to_string().into_bytes())
            .await
    }
}

/// Percent-encodes a query parameter value.
pub fn query_escape(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[derive(diesel::QueryableByName)]
struct TableRows {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

impl TestApp {
    /// The number of rows in every table of the schema (the audit log and
    /// the change feed included), read directly from the database. The
    /// tables are listed by the database itself, so a new one is counted
    /// the day its migration lands.
    pub fn row_counts(&self) -> std::collections::BTreeMap<String, i64> {
        // One direct pool per test app; a test that terminates the
        // database's connections leaves it broken, so one failure makes a
        // new pool and tries again.
        let mut direct = self.direct.lock().unwrap_or_else(|e| e.into_inner());
        let db = direct.get_or_insert_with(|| self.db.connect());
        let postgres = self.db.is_postgres();
        match count_rows(db, postgres, &self.count_query) {
            Ok(counts) => counts,
            Err(_) => {
                let db = direct.insert(self.db.connect());
                count_rows(db, postgres, &self.count_query).expect("count the rows")
            }
        }
    }

    /// Runs one SQL statement on the test's database directly (to age rows
    /// a test cannot wait years for). Portable SQL only.
    pub fn execute(&self, statement: &str) {
        use diesel::RunQueryDsl;
        let db = self.db.connect();
        let mut conn = db.get().expect("a connection");
        songmay::platform::db::with_conn!(&mut conn, |c| diesel::sql_query(statement).execute(c))
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }

    /// Asserts that no table gained or lost a row since `before` (taken
    /// with [`TestApp::row_counts`] just before a refused request).
    #[track_caller]
    pub fn assert_nothing_written(
        &self,
        before: &std::collections::BTreeMap<String, i64>,
        what: &str,
    ) {
        let after = self.row_counts();
        let changed: Vec<String> = after
            .iter()
            .filter(|(table, n)| before.get(*table) != Some(n))
            .map(|(table, n)| format!("{table}: {:?} → {n}", before.get(table)))
            .collect();
        assert!(changed.is_empty(), "{what} wrote: {}", changed.join(", "));
    }
}

/// The number of rows in every table. The tables are listed by the
/// database the first time (`query` keeps the counting query built from
/// them; the schema does not change during a test).
/// Tables only the webhook worker writes.
const WORKER_TABLES: &[&str] = &["webhook_deliveries", "webhook_attempts"];

fn count_rows(
    db: &songmay::platform::db::Db,
    postgres: bool,
    query: &std::sync::OnceLock<String>,
) -> Result<std::collections::BTreeMap<String, i64>, String> {
    let mut conn = db.get().map_err(|e| e.to_string())?;
    let query = match query.get() {
        Some(query) => query,
        None => {
            let list = if postgres {
                "SELECT table_name AS name, CAST(0 AS BIGINT) AS n FROM information_schema.tables
                 WHERE table_schema = 'public' AND table_type = 'BASE TABLE'
                   AND table_name <> '__diesel_schema_migrations'"
            } else {
                "SELECT name, CAST(0 AS BIGINT) AS n FROM sqlite_master
                 WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
                   AND name <> '__diesel_schema_migrations'"
            };
            let tables: Vec<TableRows> =
                songmay::platform::db::with_conn!(&mut conn, |c| diesel::sql_query(list).load(c))
                    .map_err(|e| e.to_string())?;
            assert!(tables.len() > 20, "found only {} tables", tables.len());
            query.get_or_init(|| {
                tables
                    .iter()
                    // Written by the webhook worker beside the requests,
                    // not by them: a delivery may appear at any moment.
                    .filter(|t| !WORKER_TABLES.contains(&t.name.as_str()))
                    .map(|t| format!("SELECT '{0}' AS name, COUNT(*) AS n FROM {0}", t.name))
                    .collect::<Vec<_>>()
                    .join(" UNION ALL ")
            })
        }
    };
    let rows: Vec<TableRows> =
        songmay::platform::db::with_conn!(&mut conn, |c| diesel::sql_query(query).load(c))
            .map_err(|e| e.to_string())?;
    Ok(rows.into_iter().map(|r| (r.name, r.n)).collect())
}

/// A second connection to the SQLite file that takes its write lock and
/// keeps it until the caller rolls back: the service then finds the
/// database busy. The service's own short writes (the webhook worker
/// marking events dispatched) may hold the lock a moment first, so this
/// connection waits for them, as the service's connections do.
pub fn hold_sqlite_write_lock(url: &str) -> diesel::SqliteConnection {
    use diesel::{Connection, RunQueryDsl};
    let mut holder = diesel::SqliteConnection::establish(url).expect("open");
    diesel::sql_query("PRAGMA busy_timeout = 5000")
        .execute(&mut holder)
        .unwrap();
    diesel::sql_query("BEGIN EXCLUSIVE")
        .execute(&mut holder)
        .unwrap();
    holder
}

/// The value of one series (`name{labels}`) in a Prometheus text scrape;
/// 0 when absent.
pub fn series(text: &str, name_and_labels: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name_and_labels)?.trim().parse().ok())
        .unwrap_or(0.0)
}
