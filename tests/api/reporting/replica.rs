//! Statistics read from a PostgreSQL streaming replica
//! (`SONGMAY_READ_DATABASE_URL`, README "Scaling"): the replica serves
//! them, a caller never misses a write made through the same instance, and
//! a replica that cannot be reached leaves the primary answering.

use std::time::{Duration, Instant};

use actix_web::http::Method;
use diesel::sql_types::{Bool, Text};
use diesel::{Connection, PgConnection, RunQueryDsl};
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with, student, TestApp};

#[derive(diesel::QueryableByName)]
struct Position {
    #[diesel(sql_type = Text)]
    lsn: String,
}

#[derive(diesel::QueryableByName)]
struct Reached {
    #[diesel(sql_type = Bool)]
    reached: bool,
}

/// Students, and those with a device, in Hòa Bình (17).
async fn province_counts(app: &TestApp, token: &str) -> (i64, i64) {
    let coverage = app
        .get("/api/v1/stats/coverage?admin_unit=17", token)
        .await
        .ok(200);
    (
        coverage["total"]["students"].as_i64().unwrap(),
        coverage["total"]["with_device"].as_i64().unwrap(),
    )
}

/// Resumes WAL replay on the replica however the test ends: a paused
/// replica would hold every later reader back.
struct ResumeReplay(String);

impl Drop for ResumeReplay {
    fn drop(&mut self) {
        if let Ok(mut replica) = PgConnection::establish(&self.0) {
            let _ = diesel::sql_query("SELECT pg_wal_replay_resume()").execute(&mut replica);
        }
    }
}

/// Waits until the replica has replayed everything the primary has
/// written so far (one committed transaction first, so the replica's
/// "last replayed" time is now).
fn wait_until_replayed(primary: &mut PgConnection, replica_url: &str) {
    diesel::sql_query("SELECT txid_current()")
        .execute(primary)
        .unwrap();
    let Position { lsn } = diesel::sql_query("SELECT pg_current_wal_lsn()::text AS lsn")
        .get_result(primary)
        .unwrap();
    let started = Instant::now();
    loop {
        let reached = PgConnection::establish(replica_url)
            .ok()
            .and_then(|mut replica| {
                diesel::sql_query(format!(
                    "SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn AS reached"
                ))
                .get_result::<Reached>(&mut replica)
                .ok()
            })
            .is_some_and(|r| r.reached);
        if reached {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the replica did not replay up to {lsn} in 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Run by CI beside a real streaming replica (`.ci/run`, "the read
/// replica"): `SONGMAY_TEST_READ_DATABASE_URL` names it, and the test fails
/// without it rather than pass having proven nothing.
#[actix_rt::test]
#[ignore = "needs a streaming replica of the test server: SONGMAY_TEST_READ_DATABASE_URL (CI starts one)"]
async fn statistics_come_from_the_replica_and_never_miss_this_instances_writes() {
    let app = spawn_app().await;
    let replica_url = app
        .db
        .replica_url()
        .expect("SONGMAY_TEST_DATABASE_URL and SONGMAY_TEST_READ_DATABASE_URL must both be set");
    let admin = app.admin_token().await;
    app.seed_schools(&admin).await;
    let mut first = student("RP-1", "TH-DABAC", 3);
    first["device_status"] = json!("none");
    app.sync_students(&admin, "", std::slice::from_ref(&first))
        .await
        .ok(200);
    // Just after this instance's write: it is there, from wherever it came.
    assert_eq!(province_counts(&app, &admin).await, (1, 0));

    let mut primary = PgConnection::establish(app.db.url()).unwrap();
    wait_until_replayed(&mut primary, &replica_url);
    let mut replica = PgConnection::establish(&replica_url).unwrap();
    let _resume = ResumeReplay(replica_url.clone());
    diesel::sql_query("SELECT pg_wal_replay_pause()")
        .execute(&mut replica)
        .unwrap();

    // A write this instance did not make (another instance, a script): the
    // paused replica does not have it, and the statistics, read there, do
    // not show it yet. This is what proves the replica answered.
    diesel::sql_query("UPDATE students SET device_status = 'adequate' WHERE external_id = 'RP-1'")
        .execute(&mut primary)
        .unwrap();
    assert_eq!(
        province_counts(&app, &admin).await,
        (1, 0),
        "the statistics were not read from the (paused) replica"
    );

    // A write through this instance: the replica has not replayed it, so
    // the next read goes to the primary and sees it, and the other write.
    let mut second = student("RP-2", "TH-DABAC", 4);
    second["device_status"] = json!("none");
    first["device_status"] = json!("adequate");
    app.sync_students(&admin, "", &[first, second])
        .await
        .ok(200);
    assert_eq!(province_counts(&app, &admin).await, (2, 1));

    // Replay resumed, the replica catches up and serves the same figures.
    diesel::sql_query("SELECT pg_wal_replay_resume()")
        .execute(&mut replica)
        .unwrap();
    wait_until_replayed(&mut primary, &replica_url);
    assert_eq!(province_counts(&app, &admin).await, (2, 1));
}

/// A replica that does not answer never takes the statistics down: the
/// primary serves them. SQLite has no replicas, and the setting is refused
/// there by name.
#[actix_rt::test]
async fn an_unreachable_replica_leaves_the_primary_answering() {
    let probe = crate::helpers::TestDatabase::create();
    if !probe.is_postgres() {
        let refused = songmay::platform::config::Config::from_lookup(|name| match name {
            "DATABASE_URL" => Some(probe.url().to_owned()),
            "SONGMAY_READ_DATABASE_URL" => Some("postgres://postgres@127.0.0.1:1/songmay".into()),
            _ => None,
        })
        .expect_err("a replica beside SQLite is refused");
        assert_eq!(refused.name, "SONGMAY_READ_DATABASE_URL");
        return;
    }
    drop(probe);
    let app = spawn_app_with(|env| {
        // Nothing listens on port 1.
        env.insert(
            "SONGMAY_READ_DATABASE_URL",
            "postgres://postgres@127.0.0.1:1/songmay?connect_timeout=1".into(),
        );
    })
    .await;
    let admin = app.admin_token().await;
    app.seed_schools(&admin).await;
    let mut one = student("RP-9", "THCS-DABAC", 7);
    one["device_status"] = json!("adequate");
    app.sync_students(&admin, "", &[one]).await.ok(200);
    assert_eq!(province_counts(&app, &admin).await, (1, 1));
    // And again once the replica has been set aside.
    assert_eq!(province_counts(&app, &admin).await, (1, 1));
    let progress = app
        .send(Method::GET, "/api/v1/public/progress", &[], Vec::new())
        .await
        .ok(200);
    let province = progress["units"]
        .as_array()
        .unwrap()
        .iter()
        .find(|line| line["admin_unit"] == "17")
        .expect("Hòa Bình, whose one student the primary holds");
    assert_eq!(province["students"], json!("<5"));
}
