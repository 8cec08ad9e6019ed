//! What an operator alerts on, in Prometheus' text format (`GET /metrics`,
//! README "Operations"): requests by route template and status with their
//! latency, the connection pool, sync rows, allocation runs and the webhook
//! backlog. One registry per process; domains count their own events
//! through the functions here and never see the registry. Labels are
//! templates and words, never ids, codes or personal data, so the number
//! of series stays bounded.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// Latency buckets in seconds: 5 ms to 30 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pool_connections: IntGaugeVec,
    pool_wait: HistogramVec,
    sync_rows: IntCounterVec,
    allocation_runs: IntCounterVec,
    webhook_backlog: IntGaugeVec,
    routed_reads: IntCounterVec,
    shared_reads: IntCounterVec,
    list_pages: IntCounterVec,
    noted_counts_folded: IntCounter,
    noted_counts_waiting: IntGauge,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let registry = Registry::new();
    let requests = IntCounterVec::new(
        Opts::new("songmay_http_requests_total", "HTTP requests answered"),
        &["method", "route", "status"],
    )
    .expect("a valid metric");
    let latency = HistogramVec::new(
        HistogramOpts::new(
            "songmay_http_request_duration_seconds",
            "Time from the request's arrival to its answer",
        )
        .buckets(LATENCY_BUCKETS.to_vec()),
        &["method", "route", "status"],
    )
    .expect("a valid metric");
    let pool_connections = IntGaugeVec::new(
        Opts::new(
            "songmay_db_pool_connections",
            "Database connections by state: in_use, idle, max",
        ),
        &["state"],
    )
    .expect("a valid metric");
    let pool_wait = HistogramVec::new(
        HistogramOpts::new(
            "songmay_db_pool_wait_seconds",
            "Time to check a connection out of the pool (outcome: ok or timeout)",
        )
        .buckets(LATENCY_BUCKETS.to_vec()),
        &["outcome"],
    )
    .expect("a valid metric");
    let sync_rows = IntCounterVec::new(
        Opts::new(
            "songmay_sync_rows_total",
            "Rows of roster sync batches by kind (students, schools) and outcome (accepted, rejected)",
        ),
        &["kind", "outcome"],
    )
    .expect("a valid metric");
    let allocation_runs = IntCounterVec::new(
        Opts::new(
            "songmay_allocation_runs_total",
            "Automatic allocation runs (mode: dry_run or commit)",
        ),
        &["mode"],
    )
    .expect("a valid metric");
    let webhook_backlog = IntGaugeVec::new(
        Opts::new(
            "songmay_webhook_deliveries",
            "Webhook backlog: deliveries pending or failed, outbox events undispatched",
        ),
        &["state"],
    )
    .expect("a valid metric");
    let routed_reads = IntCounterVec::new(
        Opts::new(
            "songmay_routed_reads_total",
            "Reads that may use the read replica, by the database that served them (primary, replica)",
        ),
        &["database"],
    )
    .expect("a valid metric");
    let shared_reads = IntCounterVec::new(
        Opts::new(
            "songmay_shared_reads_total",
            "Callers of reads computed once for everyone asking at the same time, by what served them (computed, joined, alone)",
        ),
        &["outcome"],
    )
    .expect("a valid metric");
    let list_pages = IntCounterVec::new(
        Opts::new(
            "songmay_list_pages_total",
            "Pages of the student and need lists by how they were answered (read, or kept from a moment ago)",
        ),
        &["outcome"],
    )
    .expect("a valid metric");
    let noted_counts_folded = IntCounter::new(
        "songmay_noted_counts_folded_total",
        "Coverage count deltas noted by writes that this instance folded into the count rows (PostgreSQL)",
    )
    .expect("a valid metric");
    let noted_counts_waiting = IntGauge::new(
        "songmay_noted_counts_waiting",
        "Coverage count deltas noted by writes and not yet folded, after this instance's last fold (PostgreSQL)",
    )
    .expect("a valid metric");
    for collector in [
        Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
        Box::new(latency.clone()),
        Box::new(pool_connections.clone()),
        Box::new(pool_wait.clone()),
        Box::new(sync_rows.clone()),
        Box::new(allocation_runs.clone()),
        Box::new(webhook_backlog.clone()),
        Box::new(routed_reads.clone()),
        Box::new(shared_reads.clone()),
        Box::new(list_pages.clone()),
        Box::new(noted_counts_folded.clone()),
        Box::new(noted_counts_waiting.clone()),
    ] {
        registry.register(collector).expect("each metric once");
    }
    Metrics {
        registry,
        requests,
        latency,
        pool_connections,
        pool_wait,
        sync_rows,
        allocation_runs,
        webhook_backlog,
        routed_reads,
        shared_reads,
        list_pages,
        noted_counts_folded,
        noted_counts_waiting,
    }
});

/// One answered request: `route` is the matched template
/// (`/api/v1/needs/{id}`) or `unmatched`.
pub fn observe_request(method: &str, route: &str, status: u16, took: Duration) {
    let status = status.to_string();
    let labels = [method, route, status.as_str()];
    METRICS.requests.with_label_values(&labels).inc();
    METRICS
        .latency
        .with_label_values(&labels)
        .observe(took.as_secs_f64());
}

/// One checkout from the connection pool.
pub fn observe_pool_wait(took: Duration, ok: bool) {
    METRICS
        .pool_wait
        .with_label_values(&[if ok { "ok" } else { "timeout" }])
        .observe(took.as_secs_f64());
}

/// Seconds callers have waited inside the pool for a connection, all told.
#[cfg(test)]
pub(crate) fn pool_wait_seconds_total() -> f64 {
    METRICS
        .pool_wait
        .with_label_values(&["ok"])
        .get_sample_sum()
}

/// One read routed between the primary and the replica (`database`).
pub fn count_routed_read(database: &str) {
    METRICS.routed_reads.with_label_values(&[database]).inc();
}

/// One caller of a shared read (`platform::shared_reads`): it `computed`
/// for its batch, `joined` a batch's answer, or computed `alone` after its
/// batch failed.
pub fn count_shared_read(outcome: &str) {
    METRICS.shared_reads.with_label_values(&[outcome]).inc();
}

/// One page of a list (`platform::http::recent_pages`): `read` from the
/// database, or `kept` from a moment ago.
pub fn count_list_page(outcome: &str) {
    METRICS.list_pages.with_label_values(&[outcome]).inc();
}

/// One round of the coverage count folder: how many noted deltas it
/// folded, and how many were left waiting when it ended.
pub fn observe_count_fold(folded: u64, waiting: i64) {
    METRICS.noted_counts_folded.inc_by(folded);
    METRICS.noted_counts_waiting.set(waiting);
}

/// Rows of one sync batch (`kind`: `students` or `schools`).
pub fn count_sync_rows(kind: &str, accepted: u64, rejected: u64) {
    METRICS
        .sync_rows
        .with_label_values(&[kind, "accepted"])
        .inc_by(accepted);
    METRICS
        .sync_rows
        .with_label_values(&[kind, "rejected"])
        .inc_by(rejected);
}

/// One automatic allocation run.
pub fn count_allocation_run(dry_run: bool) {
    METRICS
        .allocation_runs
        .with_label_values(&[if dry_run { "dry_run" } else { "commit" }])
        .inc();
}

/// What is read at scrape time rather than counted.
pub struct Snapshot {
    pub pool_in_use: i64,
    pub pool_idle: i64,
    pub pool_max: i64,
    pub webhooks_pending: i64,
    pub webhooks_failed: i64,
    pub webhooks_undispatched: i64,
}

/// The text exposition of every metric, with `snapshot`'s gauges set.
pub fn render(snapshot: &Snapshot) -> String {
    let gauges = &METRICS.pool_connections;
    gauges
        .with_label_values(&["in_use"])
        .set(snapshot.pool_in_use);
    gauges.with_label_values(&["idle"]).set(snapshot.pool_idle);
    gauges.with_label_values(&["max"]).set(snapshot.pool_max);
    let backlog = &METRICS.webhook_backlog;
    backlog
        .with_label_values(&["pending"])
        .set(snapshot.webhooks_pending);
    backlog
        .with_label_values(&["failed"])
        .set(snapshot.webhooks_failed);
    backlog
        .with_label_values(&["undispatched"])
        .set(snapshot.webhooks_undispatched);
    let mut out = Vec::new();
    // Encoding into memory cannot fail for the text format.
    let _ = TextEncoder::new().encode(&METRICS.registry.gather(), &mut out);
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_shows_up_by_route_template_with_its_latency() {
        observe_request("GET", "/api/v1/needs/{id}", 200, Duration::from_millis(12));
        count_sync_rows("students", 3, 1);
        let text = render(&Snapshot {
            pool_in_use: 2,
            pool_idle: 6,
            pool_max: 8,
            webhooks_pending: 4,
            webhooks_failed: 1,
            webhooks_undispatched: 0,
        });
        assert!(text.contains(
            r#"songmay_http_requests_total{method="GET",route="/api/v1/needs/{id}",status="200"}"#
        ));
        assert!(text.contains(
            r#"songmay_http_request_duration_seconds_bucket{method="GET",route="/api/v1/needs/{id}",status="200",le="0.025"}"#
        ));
        assert!(text.contains(r#"songmay_db_pool_connections{state="in_use"} 2"#));
        assert!(text.contains(r#"songmay_webhook_deliveries{state="pending"} 4"#));
        assert!(text.contains(r#"songmay_sync_rows_total{kind="students",outcome="rejected"}"#));
    }
}
