//! Webhook delivery throughput (issue: integrators).
//!
//! A release server on a fresh PostgreSQL database and a local receiver (an
//! actix server in this process). Baseline: `BENCH_EVENTS` pledges written
//! one after another with no subscription — the write path alone. Then a
//! subscription to `pledge.made`, and the same number of pledges again:
//! the time from the first write until the receiver holds every event.
//! Three runs of each; events delivered per second, and the delivery run's
//! time as a ratio of the baseline's (the machine's noise cancels out).
//!
//!     cargo bench --bench webhooks
//!
//! Settings: BENCH_PG_URL, BENCH_EVENTS (500), BENCH_POLL_MS (1000, the
//! default of `SONGMAY_WEBHOOK_POLL_MS`).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpResponse, HttpServer};
use serde_json::json;

use common::{admin_token, env_or, post, PgDatabase, Server};

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

fn main() {
    let pg = env_or(
        "BENCH_PG_URL",
        "postgres://postgres@127.0.0.1:5432/postgres",
    );
    let events: usize = env_or("BENCH_EVENTS", "500").parse().unwrap();
    let poll = env_or("BENCH_POLL_MS", "1000");
    let Some(database) = PgDatabase::create(&pg, "songmay_bench_webhooks") else {
        println!("no PostgreSQL at {pg}: skipped");
        return;
    };
    let server = Server::start_with(
        &database.url(),
        &[
            ("SONGMAY_WEBHOOK_ALLOW_PRIVATE", "true"),
            ("SONGMAY_WEBHOOK_POLL_MS", poll.as_str()),
        ],
    );
    let base = server.base.clone();
    actix_rt::System::new().block_on(async move {
        let received = Arc::new(AtomicUsize::new(0));
        let counter = web::Data::new(received.clone());
        let receiver = HttpServer::new(move || {
            App::new().app_data(counter.clone()).route(
                "/hook",
                web::post().to(|count: web::Data<Arc<AtomicUsize>>| async move {
                    count.fetch_add(1, Ordering::SeqCst);
                    HttpResponse::NoContent().finish()
                }),
            )
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .unwrap();
        let hook = format!("http://127.0.0.1:{}/hook", receiver.addrs()[0].port());
        actix_rt::spawn(receiver.run());

        let client = awc::Client::builder()
            .timeout(Duration::from_secs(60))
            .finish();
        let token = admin_token(&client, &base).await;
        let call = |path: &str, body: serde_json::Value| {
            let (client, url, token) = (&client, format!("{base}{path}"), token.clone());
            async move { post(client, &url, Some(&token), body.to_string().into_bytes()).await }
        };
        let campaign = call(
            "/api/v1/campaigns",
            json!({"name": "Thư ngỏ (benchmark)", "starts_on": "2021-09-01"}),
        )
        .await["id"]
            .as_i64()
            .unwrap();
        call(&format!("/api/v1/campaigns/{campaign}/status"), json!({"status": "open"})).await;
        let donor = call(
            "/api/v1/donors",
            json!({"kind": "organisation", "name": "Công ty (benchmark)", "inside_province": true}),
        )
        .await["id"]
            .as_i64()
            .unwrap();
        let pledges = |n: usize| {
            let call = &call;
            async move {
                for i in 0..n {
                    call(
                        "/api/v1/pledges",
                        json!({"campaign_id": campaign, "donor_id": donor, "kind": "money",
                               "amount_vnd": 1_000_000 + i as i64}),
                    )
                    .await;
                }
            }
        };

        let mut baseline = Vec::new();
        for run in 1..=3 {
            let started = Instant::now();
            pledges(events).await;
            let seconds = started.elapsed().as_secs_f64();
            println!("baseline run {run}: {events} pledges written in {seconds:.2} s ({:.0}/s)", events as f64 / seconds);
            baseline.push(seconds);
        }

        call(
            "/api/v1/webhooks",
            json!({"url": hook, "event_types": ["pledge.made"]}),
        )
        .await;
        let mut delivered = Vec::new();
        for run in 1..=3 {
            let before = received.load(Ordering::SeqCst);
            let started = Instant::now();
            pledges(events).await;
            let written = started.elapsed().as_secs_f64();
            while received.load(Ordering::SeqCst) < before + events {
                assert!(started.elapsed() < Duration::from_secs(600), "deliveries stalled");
                actix_rt::time::sleep(Duration::from_millis(5)).await;
            }
            let seconds = started.elapsed().as_secs_f64();
            println!(
                "delivery run {run}: {events} pledges written in {written:.2} s, all delivered after {seconds:.2} s ({:.0} events/s end to end)",
                events as f64 / seconds
            );
            delivered.push(seconds);
        }
        actix_rt::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(received.load(Ordering::SeqCst), 3 * events, "each event once");

        let rates: Vec<f64> = delivered.iter().map(|s| events as f64 / s).collect();
        let ratios: Vec<f64> = delivered
            .iter()
            .map(|s| s / median(baseline.clone()))
            .collect();
        let (mut low, mut high) = (rates.clone(), ratios.clone());
        low.sort_by(|a, b| a.total_cmp(b));
        high.sort_by(|a, b| a.total_cmp(b));
        println!(
            "events delivered per second (write + deliver), min/median/max: {:.0} / {:.0} / {:.0}",
            low[0],
            median(rates.clone()),
            low[2]
        );
        println!(
            "time to deliver everything ÷ time to write it without webhooks (median baseline {:.2} s), min/median/max: {:.2} / {:.2} / {:.2}",
            median(baseline.clone()),
            high[0],
            median(ratios),
            high[2]
        );
    });
    drop(server);
    drop(database);
}
