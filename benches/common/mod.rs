//! What the benchmarks share: the release server as a child process, fresh
//! PostgreSQL databases, a JSON POST and the admin's token, a school per
//! commune, the students table's row type and percentiles of timings.
#![allow(dead_code)] // each benchmark uses its own subset

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::NaiveDate;
use diesel::prelude::*;
use serde_json::Value;
use songmay::platform::db::schema::{schools, students};
use songmay::platform::db::{with_conn, DbConn};

/// The `p` quantile (0–1) of sorted timings, in milliseconds.
pub fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index].as_secs_f64() * 1000.0
}

pub const SECRET: &str = "benchmark-only-secret-0123456789abcdefghijkl";
pub const ADMIN_PASSWORD: &str = "benchmark admin password";

pub fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub fn start(database_url: &str) -> Self {
        Self::start_with(database_url, &[])
    }

    /// Starts the server with `extra` settings on top of the benchmark's.
    pub fn start_with(database_url: &str, extra: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_songmay"))
            .env("DATABASE_URL", database_url)
            .env("SONGMAY_BIND", format!("127.0.0.1:{port}"))
            .env("SONGMAY_JWT_SECRET", SECRET)
            .env("SONGMAY_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("SONGMAY_MAX_UPLOAD_BYTES", "67108864")
            .env("SONGMAY_PUBLIC_RATE_PER_MINUTE", "100000000")
            .env("SONGMAY_PUBLIC_RATE_BURST", "100000000")
            .env("RUST_LOG", "warn")
            .envs(extra.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the server");
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        for _ in 0..300 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the server did not start");
    }

    /// Peak resident memory so far, in MiB (VmHWM).
    pub fn peak_rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    }
}

pub async fn post(client: &awc::Client, url: &str, token: Option<&str>, body: Vec<u8>) -> Value {
    let mut request = client
        .post(url)
        .insert_header(("Content-Type", "application/json"));
    if let Some(token) = token {
        request = request.insert_header(("Authorization", format!("Bearer {token}")));
    }
    let mut response = request.send_body(body).await.expect("request");
    let status = response.status();
    let bytes = response.body().limit(64 << 20).await.expect("body");
    assert!(
        status.is_success(),
        "{url}: {status} {}",
        String::from_utf8_lossy(&bytes)
    );
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

/// A token for the seeded admin.
pub async fn admin_token(client: &awc::Client, base: &str) -> String {
    let reply = post(
        client,
        &format!("{base}/api/v1/auth/token"),
        None,
        serde_json::to_vec(&serde_json::json!({"username": "admin", "password": ADMIN_PASSWORD}))
            .unwrap(),
    )
    .await;
    reply["access_token"].as_str().unwrap().to_owned()
}

/// One school per commune (`S-<commune>`), the `i`-th of level `level(i)`;
/// answers `(id, commune, level)` in id order.
pub fn school_per_commune<S: AsRef<str>>(
    conn: &mut DbConn,
    communes: &[S],
    level: impl Fn(usize) -> &'static str,
) -> Vec<(i64, String, String)> {
    let now = songmay::platform::db::now();
    for (n, chunk) in communes.chunks(1000).enumerate() {
        let rows: Vec<_> = chunk
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let c = c.as_ref();
                (
                    schools::moet_code.eq(format!("S-{c}")),
                    schools::name.eq(format!("Trường {c}")),
                    schools::name_search.eq(format!("trường {c}")),
                    schools::admin_unit_code.eq(c.to_owned()),
                    schools::level.eq(level(n * 1000 + i)),
                    schools::created_at.eq(now),
                    schools::updated_at.eq(now),
                )
            })
            .collect();
        with_conn!(conn, |c| diesel::insert_into(schools::table)
            .values(&rows)
            .execute(c))
        .unwrap();
    }
    with_conn!(conn, |c| schools::table
        .select((schools::id, schools::admin_unit_code, schools::level))
        .order(schools::id)
        .load(c))
    .unwrap()
}

#[derive(Insertable)]
#[diesel(table_name = students, treat_none_as_default_value = false)]
pub struct StudentInsert {
    pub external_id: String,
    pub school_id: i64,
    pub grade: i32,
    pub full_name: String,
    pub birth_date: NaiveDate,
    pub gender: String,
    pub household_status: String,
    pub device_status: String,
    pub connectivity_status: String,
    pub active: bool,
    pub deleted: bool,
    pub last_seen_run: Option<String>,
    pub version: i64,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

/// One connection to `database`, migrated and seeded as the service does
/// on its first start (with the benchmarks' admin password and key).
pub fn prepared(database: &PgDatabase) -> songmay::platform::db::Db {
    let config = songmay::platform::config::Config::from_lookup(|setting| match setting {
        "DATABASE_URL" => Some(database.url()),
        "SONGMAY_ADMIN_PASSWORD" => Some(ADMIN_PASSWORD.to_owned()),
        "SONGMAY_JWT_SECRET" => Some(SECRET.to_owned()),
        _ => None,
    })
    .unwrap();
    let db = songmay::platform::db::Db::connect(
        &songmay::platform::db::DatabaseLocation::parse(&database.url()),
        1,
    )
    .unwrap();
    songmay::app::prepare_database(&db, &config).unwrap();
    db
}

/// A fresh PostgreSQL database on the server at `server_url`, dropped after use.
pub struct PgDatabase {
    server_url: String,
    name: String,
}

impl PgDatabase {
    pub fn create(server_url: &str, name: &str) -> Option<Self> {
        let mut admin = diesel::PgConnection::establish(server_url).ok()?;
        diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut admin)
            .ok()?;
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .ok()?;
        Some(Self {
            server_url: server_url.to_owned(),
            name: name.to_owned(),
        })
    }

    pub fn url(&self) -> String {
        let base = self
            .server_url
            .rsplit_once('/')
            .map_or(self.server_url.as_str(), |(b, _)| b);
        format!("{base}/{}", self.name)
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        // BENCH_KEEP_DATABASE=1 leaves it for a look at query plans.
        if std::env::var("BENCH_KEEP_DATABASE").is_ok_and(|v| v == "1") {
            println!("kept database {}", self.url());
            return;
        }
        if let Ok(mut admin) = diesel::PgConnection::establish(&self.server_url) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut admin);
        }
    }
}
