//! The delivery worker, one per replica, beside the HTTP server: it fans
//! new outbox events out to subscriptions, claims due deliveries and posts
//! them — a few at once, each cut off at the timeout, never on a request's
//! path, so a slow or huge receiver cannot hold up the API.

use std::time::{Duration, Instant};

use chrono::TimeDelta;

use super::queries::{self, Job, Outcome, RetryPolicy};
use super::{signing, target};
use crate::platform::config::WebhookSettings;
use crate::platform::db::Db;

/// Deliveries posted at once by one replica.
const BATCH: i64 = 20;
/// The longest part of a receiver's answer read (and then dropped).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Runs until the process stops.
pub async fn run(db: Db, settings: WebhookSettings) {
    let client = awc::Client::builder()
        .timeout(settings.timeout)
        .disable_redirects()
        .add_default_header(("User-Agent", "songmay-webhooks/1"))
        .finish();
    loop {
        if let Err(error) = step(&db, &client, &settings).await {
            // The database may be away for a while; try again next round.
            log::warn!("webhook worker: {error}");
        }
        actix_web::rt::time::sleep(settings.poll).await;
    }
}

/// One round: dispatch every waiting event, then deliver until nothing is due.
async fn step(
    db: &Db,
    client: &awc::Client,
    settings: &WebhookSettings,
) -> Result<(), crate::platform::error::Failure> {
    while db.run(|conn| queries::dispatch(conn, 200)).await? > 0 {}
    let lease = TimeDelta::from_std(settings.timeout + Duration::from_secs(30))
        .unwrap_or(TimeDelta::minutes(1));
    loop {
        let jobs = db
            .run(move |conn| queries::claim(conn, BATCH, lease))
            .await?;
        if jobs.is_empty() {
            return Ok(());
        }
        let attempts = jobs.into_iter().map(|job| async move {
            let outcome = post(client, &job, settings).await;
            (job, outcome)
        });
        let policy = RetryPolicy {
            first_retry: TimeDelta::from_std(settings.first_retry)
                .unwrap_or(TimeDelta::seconds(30)),
            give_up_after: TimeDelta::from_std(settings.give_up_after)
                .unwrap_or(TimeDelta::days(1)),
            disable_after: settings.disable_after,
        };
        let attempted = futures_util::future::join_all(attempts).await;
        db.run(move |conn| queries::record_all(conn, &attempted, policy))
            .await?;
    }
}

/// One attempt: check where the URL points now, sign, post.
async fn post(client: &awc::Client, job: &Job, settings: &WebhookSettings) -> Outcome {
    let started = Instant::now();
    let failed = |error: String, status_code: Option<u16>| Outcome {
        status_code,
        error: Some(error),
        duration_ms: started.elapsed().as_millis() as i64,
    };
    let destination = match target::parse(&job.url) {
        Ok(destination) => destination,
        Err(refusal) => return failed(refusal.reason().to_owned(), None),
    };
    if let Err(refusal) = target::check(&destination, settings.allow_private).await {
        return failed(refusal.reason().to_owned(), None);
    }
    let id = format!("evt_{}", job.event_id);
    let timestamp = chrono::Utc::now().timestamp();
    let signature = signing::sign(&job.secret, &id, timestamp, job.body.as_bytes());
    let sent = client
        .post(destination.uri.clone())
        .insert_header(("Content-Type", "application/json"))
        .insert_header(("webhook-id", id.as_str()))
        .insert_header(("webhook-timestamp", timestamp.to_string()))
        .insert_header(("webhook-signature", signature))
        .send_body(job.body.clone())
        .await;
    match sent {
        Ok(mut answer) => {
            // Read (a bounded part of) the answer so the connection can be
            // reused; its content is not kept.
            let _ = answer.body().limit(MAX_ANSWER_BYTES).await;
            let status = answer.status();
            if status.is_success() {
                Outcome {
                    status_code: Some(status.as_u16()),
                    error: None,
                    duration_ms: started.elapsed().as_millis() as i64,
                }
            } else {
                failed(
                    format!("the receiver answered {status}"),
                    Some(status.as_u16()),
                )
            }
        }
        Err(error) => failed(describe(&error), None),
    }
}

/// A sending error in a few words (no URL, no answer body).
fn describe(error: &awc::error::SendRequestError) -> String {
    use awc::error::SendRequestError as E;
    match error {
        E::Timeout => "no answer within the timeout".into(),
        E::Connect(_) => "the connection could not be made".into(),
        E::Send(_) | E::Response(_) => "the connection failed during the exchange".into(),
        _ => "the request could not be sent".into(),
    }
}
