//! The OpenAPI document. Paths are collected from the handlers themselves
//! (utoipa-actix-web), so a route cannot exist undocumented; this module
//! finishes the document with what is common to all operations and what
//! utoipa's model cannot say: the servers, the request headers as shared
//! parameters with their syntax, the response headers, `security: []` on
//! public operations, and every error response an operation can give,
//! derived from one table of rules ([`COMMON_ERRORS`]).
//!
//! The finished document is plain JSON: it is what `songmay openapi`
//! prints, what `/api-docs/openapi.json` serves and what the tests compare
//! with `openapi/openapi.json` and check every response against.

use serde_json::{json, Map, Value};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa::{Modify, OpenApi};

use crate::platform::error::FieldError;
use crate::platform::http::tabular::XLSX;
use crate::platform::http::{Problem, PROBLEM_JSON};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "songmay",
        description = "Sóng và máy tính cho em — Hòa Bình's programme to give every student a device and a connection for online learning. Needs, pledges, inventory and distribution.\n\nErrors are RFC 9457 `application/problem+json` (`type`, `title`, `status`, `detail`, and for invalid input `errors`: one `{field, code, message}` per problem; messages never repeat the value sent). An unknown id named in a request body is 422 with `code: unknown` on that field; an unknown id in the path is 404, as is a record outside the caller's scope. Lists use keyset pagination (`limit`, `cursor`, `next_cursor`). Counts on public pages that are between 1 and 4 are the string `\"<5\"` (see `PublicCount`).",
        license(name = "MIT"),
        contact(name = "Sở Giáo dục và Đào tạo (the Department of Education and Training), which runs the service")
    ),
    tags(
        (name = "auth", description = "Tokens and the current caller"),
        (name = "accounts", description = "Users and machine clients (admin)"),
        (name = "admin-units", description = "Provinces, districts and communes (GSO codes)"),
        (name = "audit", description = "Who wrote what (admin)"),
        (name = "webhooks", description = "Signed event deliveries to other systems (admin); the events are in `webhooks`"),
        (name = "schools", description = "Schools by MOET code"),
        (name = "students", description = "Students (personal data: admins, district officers and school staff in scope)"),
        (name = "sync", description = "Batch sync and change feed for the education data system"),
        (name = "needs", description = "Needs: who lacks a device or a connection, their workflow and priority"),
        (name = "coverage", description = "Telecom operators and places without mobile internet"),
        (name = "donations", description = "Donors, campaigns, pledges, receipts and the money"),
        (name = "inventory", description = "Warehouses, devices, packages and the stock ledger"),
        (name = "distribution", description = "Allocations of stock to approved needs, and handovers"),
        (name = "outreach", description = "The open letter, news and stories: written by staff, published by the Department"),
        (name = "teaching", description = "Online-teaching platforms: offered by technology partners, recommended by the Department, used by schools"),
        (name = "stats", description = "Aggregated statistics (JSON, CSV, XLSX); no personal data"),
        (name = "public", description = "Public transparency pages: no token, aggregates only"),
        (name = "site", description = "The public site: HTML pages for people (Vietnamese, English with `lang=en`), the figures of the public pages"),
        (name = "operations", description = "Liveness and readiness probes, and metrics for Prometheus"),
    ),
    components(schemas(Problem, FieldError, crate::platform::webhooks::WebhookEvent, crate::platform::http::tabular::Format, crate::platform::http::tabular::TableOrChart, crate::platform::http::tabular::Lang, crate::donations::receipts::LetterFormat, crate::reporting::report::ReportFormat)),
    modifiers(&BearerScheme)
)]
pub struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("From POST /api/v1/auth/token"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "metrics_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The operator's SONGMAY_METRICS_TOKEN (GET /metrics only)",
                    ))
                    .build(),
            ),
        );
    }
}

/// What an operation looks like to the error rules.
struct OperationFacts<'a> {
    path: &'a str,
    secured: bool,
    has_body: bool,
    has_path_id: bool,
    /// Query parameters naming a record the server looks up (404 if unknown).
    names_a_unit: bool,
    if_match: Option<bool>,
    idempotent: bool,
}

/// A shared error response: status, component name, description, and
/// which operations can give it.
type CommonError = (
    &'static str,
    &'static str,
    &'static str,
    fn(&OperationFacts) -> bool,
);

/// Every error an operation can answer besides those it declares itself
/// (409s, and 404s for other reasons, are declared by the handlers).
const COMMON_ERRORS: &[CommonError] = &[
    (
        "400",
        "BadRequest",
        "Malformed JSON, or an invalid path or query parameter (the problem's `detail` names it)",
        |_| true,
    ),
    (
        "401",
        "Unauthorized",
        "Missing, expired or invalid access token, or a disabled account (or one whose password, role or scope changed since the token was issued)",
        |op| op.secured,
    ),
    (
        "403",
        "Forbidden",
        "The caller's role may not do this",
        |op| op.secured,
    ),
    (
        "404",
        "NotFound",
        "No such record, or one outside the caller's scope (the two are not told apart)",
        |op| op.has_path_id || op.names_a_unit,
    ),
    (
        "409",
        "Conflict",
        "The request conflicts with the data (the `detail` says how): the record changed while you were updating it, or a request with the same `Idempotency-Key` is still being processed",
        |op| op.idempotent || op.if_match.is_some(),
    ),
    (
        "412",
        "PreconditionFailed",
        "`If-Match` names a version that is no longer current: read the record again",
        |op| op.if_match.is_some(),
    ),
    (
        "413",
        "PayloadTooLarge",
        "The body is larger than the limit",
        |op| op.has_body,
    ),
    (
        "415",
        "UnsupportedMediaType",
        "The body is not in the documented media type",
        |op| op.has_body,
    ),
    (
        "422",
        "ValidationFailed",
        "The body is well-formed but some fields are invalid; `errors` names each field and a `code` (`unknown` for an id that names nothing)",
        |op| op.has_body,
    ),
    (
        "428",
        "PreconditionRequired",
        "This update needs `If-Match` with the version you read",
        |op| op.if_match == Some(true),
    ),
    (
        "429",
        "TooManyRequests",
        "Too many requests from this address; retry after `Retry-After` seconds",
        |op| is_rate_limited(op.path),
    ),
    (
        "503",
        "Unavailable",
        "The database is unreachable or busy; nothing was written; retry after `Retry-After` seconds",
        |_| true,
    ),
];

/// Who may call each operation that needs a token, published as the
/// operation's `x-roles` (and a line of its description) so front-ends know
/// which buttons to show. The handlers' own guards decide; the route-wide
/// test (`routes::every_role_the_operation_leaves_out_gets_403_and_the_others_do_not`)
/// proves on the wire that each role left out here gets 403 and each role
/// named does not, so this table cannot drift from them. Scope still
/// applies within a role (a record outside it answers 404).
const ACCESS: &[(&str, &str, &[&str])] = &[
    ("get", "/api/v1/me", EVERY_ROLE),
    ("get", "/api/v1/users", &["admin"]),
    ("post", "/api/v1/users", &["admin"]),
    ("get", "/api/v1/users/{id}", &["admin"]),
    ("patch", "/api/v1/users/{id}", &["admin"]),
    ("get", "/api/v1/clients", &["admin"]),
    ("post", "/api/v1/clients", &["admin"]),
    ("patch", "/api/v1/clients/{id}", &["admin"]),
    ("post", "/api/v1/admin-units/import", &["admin"]),
    ("get", "/api/v1/admin-units", EVERY_ROLE),
    ("get", "/api/v1/admin-units/{code}", EVERY_ROLE),
    ("post", "/api/v1/admin-units/mappings/import", &["admin"]),
    ("post", "/api/v1/admin-units/rehome", &["admin"]),
    ("get", "/api/v1/admin-units/{code}/successors", EVERY_ROLE),
    ("get", "/api/v1/admin-units/{code}/predecessors", EVERY_ROLE),
    (
        "get",
        "/api/v1/admin-units/split-schools",
        &["admin", "district_officer"],
    ),
    (
        "put",
        "/api/v1/schools/{id}/successor-unit",
        &["admin", "district_officer"],
    ),
    ("get", "/api/v1/audit-log", &["admin"]),
    ("post", "/api/v1/webhooks", &["admin"]),
    ("patch", "/api/v1/warehouses/{id}", &["admin"]),
    ("patch", "/api/v1/operators/{id}", &["admin"]),
    ("patch", "/api/v1/suppliers/{id}", &["finance_officer"]),
    ("get", "/api/v1/webhooks", &["admin"]),
    ("get", "/api/v1/webhooks/{id}", &["admin"]),
    ("patch", "/api/v1/webhooks/{id}", &["admin"]),
    ("get", "/api/v1/webhooks/{id}/deliveries", &["admin"]),
    (
        "post",
        "/api/v1/webhooks/{id}/deliveries/{delivery_id}/replay",
        &["admin"],
    ),
    ("get", "/api/v1/schools", EVERY_ROLE),
    ("post", "/api/v1/schools", &["admin", "district_officer"]),
    ("get", "/api/v1/schools/by-code/{code}", EVERY_ROLE),
    ("get", "/api/v1/schools/{id}", EVERY_ROLE),
    (
        "patch",
        "/api/v1/schools/{id}",
        &["admin", "district_officer"],
    ),
    (
        "post",
        "/api/v1/students/import",
        &["admin", "district_officer", "school_staff"],
    ),
    (
        "get",
        "/api/v1/students/export",
        &["admin", "district_officer", "school_staff"],
    ),
    (
        "get",
        "/api/v1/students",
        &["admin", "district_officer", "school_staff"],
    ),
    (
        "get",
        "/api/v1/students/{id}",
        &["admin", "district_officer", "school_staff"],
    ),
    (
        "delete",
        "/api/v1/students/{id}",
        &["admin", "district_officer"],
    ),
    (
        "patch",
        "/api/v1/students/{id}",
        &["admin", "district_officer", "school_staff"],
    ),
    ("post", "/api/v1/sync/students", &["admin", "sync_client"]),
    ("post", "/api/v1/sync/schools", &["admin", "sync_client"]),
    (
        "post",
        "/api/v1/sync/students/complete",
        &["admin", "sync_client"],
    ),
    (
        "get",
        "/api/v1/sync/students/changes",
        &["admin", "sync_client"],
    ),
    (
        "post",
        "/api/v1/needs/generate",
        &["admin", "district_officer", "programme_officer"],
    ),
    (
        "post",
        "/api/v1/needs/transitions",
        &["admin", "district_officer", "programme_officer"],
    ),
    (
        "get",
        "/api/v1/needs/summary",
        &[
            "admin",
            "district_officer",
            "school_staff",
            "stats_reader",
            "programme_officer",
        ],
    ),
    (
        "get",
        "/api/v1/needs/export",
        &["admin", "district_officer", "school_staff"],
    ),
    (
        "get",
        "/api/v1/needs",
        &["admin", "district_officer", "school_staff"],
    ),
    (
        "post",
        "/api/v1/needs",
        &["admin", "district_officer", "school_staff"],
    ),
    (
        "get",
        "/api/v1/needs/{id}",
        &["admin", "district_officer", "school_staff"],
    ),
    (
        "post",
        "/api/v1/needs/{id}/transitions",
        &["admin", "district_officer", "school_staff"],
    ),
    (
        "get",
        "/api/v1/needs/{id}/events",
        &["admin", "district_officer", "school_staff"],
    ),
    ("get", "/api/v1/priority-rules", EVERY_ROLE),
    (
        "put",
        "/api/v1/priority-rules/{rule}",
        &["programme_officer"],
    ),
    ("get", "/api/v1/admin-units/{code}/flags", EVERY_ROLE),
    (
        "put",
        "/api/v1/admin-units/{code}/flags",
        &["admin", "district_officer", "programme_officer"],
    ),
    ("get", "/api/v1/operators", EVERY_ROLE),
    ("get", "/api/v1/operators/{id}", EVERY_ROLE),
    ("post", "/api/v1/operators", &["admin"]),
    (
        "get",
        "/api/v1/coverage-gaps",
        &["admin", "district_officer", "telecom", "stats_reader"],
    ),
    (
        "post",
        "/api/v1/coverage-gaps",
        &["admin", "district_officer"],
    ),
    (
        "get",
        "/api/v1/coverage-gaps/{id}",
        &["admin", "district_officer", "telecom", "stats_reader"],
    ),
    (
        "patch",
        "/api/v1/coverage-gaps/{id}",
        &["admin", "district_officer"],
    ),
    (
        "post",
        "/api/v1/coverage-gaps/{id}/transitions",
        &["admin", "district_officer", "telecom"],
    ),
    (
        "get",
        "/api/v1/donors",
        &["admin", "warehouse_officer", "donor"],
    ),
    ("post", "/api/v1/donors", &["admin"]),
    (
        "get",
        "/api/v1/donors/{id}",
        &["admin", "warehouse_officer", "donor"],
    ),
    ("patch", "/api/v1/donors/{id}", &["admin"]),
    ("get", "/api/v1/donors/{id}/export", &["admin"]),
    ("post", "/api/v1/retention/purge", &["admin"]),
    ("post", "/api/v1/articles", &["admin", "district_officer"]),
    ("get", "/api/v1/articles", &["admin", "district_officer"]),
    (
        "get",
        "/api/v1/articles/{id}",
        &["admin", "district_officer"],
    ),
    (
        "patch",
        "/api/v1/articles/{id}",
        &["admin", "district_officer"],
    ),
    (
        "post",
        "/api/v1/articles/{id}/transitions",
        &["admin", "district_officer"],
    ),
    (
        "post",
        "/api/v1/articles/{id}/consent",
        &["admin", "district_officer"],
    ),
    (
        "post",
        "/api/v1/platform-offers",
        &["admin", "tech_partner"],
    ),
    ("get", "/api/v1/platform-offers", &["admin", "tech_partner"]),
    (
        "get",
        "/api/v1/platform-offers/{id}",
        &["admin", "tech_partner"],
    ),
    (
        "patch",
        "/api/v1/platform-offers/{id}",
        &["admin", "tech_partner"],
    ),
    (
        "post",
        "/api/v1/platform-offers/{id}/transitions",
        &["admin", "tech_partner"],
    ),
    (
        "get",
        "/api/v1/schools/{id}/platforms",
        &["admin", "district_officer", "school_staff"],
    ),
    (
        "put",
        "/api/v1/schools/{id}/platforms/{offer_id}",
        &["admin", "district_officer", "school_staff"],
    ),
    (
        "delete",
        "/api/v1/schools/{id}/platforms/{offer_id}",
        &["admin", "district_officer", "school_staff"],
    ),
    (
        "get",
        "/api/v1/stats/safe-devices",
        &["admin", "district_officer", "stats_reader"],
    ),
    (
        "get",
        "/api/v1/stats/platforms",
        &["admin", "district_officer", "stats_reader"],
    ),
    ("post", "/api/v1/device-profiles", &["admin"]),
    (
        "get",
        "/api/v1/device-profiles",
        &["admin", "warehouse_officer"],
    ),
    (
        "get",
        "/api/v1/device-profiles/current",
        &["admin", "warehouse_officer"],
    ),
    (
        "get",
        "/api/v1/device-profiles/{version}",
        &["admin", "warehouse_officer"],
    ),
    ("get", "/api/v1/campaigns", EVERY_ROLE),
    ("post", "/api/v1/campaigns", &["programme_officer"]),
    ("get", "/api/v1/campaigns/{id}", EVERY_ROLE),
    ("patch", "/api/v1/campaigns/{id}", &["programme_officer"]),
    (
        "post",
        "/api/v1/campaigns/{id}/status",
        &["programme_officer"],
    ),
    (
        "get",
        "/api/v1/pledges",
        &["admin", "warehouse_officer", "donor"],
    ),
    ("post", "/api/v1/pledges", &["admin", "donor"]),
    (
        "get",
        "/api/v1/pledges/{id}",
        &["admin", "warehouse_officer", "donor"],
    ),
    ("post", "/api/v1/pledges/{id}/confirm", &["finance_officer"]),
    (
        "post",
        "/api/v1/pledges/{id}/transitions",
        &["finance_officer"],
    ),
    (
        "get",
        "/api/v1/receipts",
        &["admin", "warehouse_officer", "donor"],
    ),
    ("post", "/api/v1/receipts", &["admin", "warehouse_officer"]),
    ("post", "/api/v1/drives", &["programme_officer"]),
    ("get", "/api/v1/drives", &["admin", "warehouse_officer"]),
    (
        "get",
        "/api/v1/drives/{id}",
        &["admin", "warehouse_officer"],
    ),
    (
        "post",
        "/api/v1/drives/{id}/receipts",
        &["admin", "warehouse_officer"],
    ),
    (
        "get",
        "/api/v1/receipts/{id}",
        &["admin", "warehouse_officer", "donor"],
    ),
    (
        "post",
        "/api/v1/receipts/{id}/reversal",
        &["finance_officer"],
    ),
    (
        "get",
        "/api/v1/receipts/{id}/acknowledgement",
        &["admin", "warehouse_officer", "donor"],
    ),
    (
        "get",
        "/api/v1/funds/ledger",
        &["admin", "stats_reader", "finance_officer"],
    ),
    (
        "get",
        "/api/v1/funds/balance",
        &[
            "admin",
            "warehouse_officer",
            "stats_reader",
            "finance_officer",
        ],
    ),
    (
        "get",
        "/api/v1/funds/trial-balance",
        &[
            "admin",
            "warehouse_officer",
            "stats_reader",
            "finance_officer",
        ],
    ),
    (
        "get",
        "/api/v1/suppliers",
        &["admin", "warehouse_officer", "finance_officer"],
    ),
    (
        "get",
        "/api/v1/suppliers/{id}",
        &["admin", "warehouse_officer", "finance_officer"],
    ),
    ("post", "/api/v1/suppliers", &["finance_officer"]),
    (
        "get",
        "/api/v1/purchases",
        &["admin", "warehouse_officer", "finance_officer"],
    ),
    (
        "get",
        "/api/v1/purchases/{id}",
        &["admin", "warehouse_officer", "finance_officer"],
    ),
    ("post", "/api/v1/purchases", &["finance_officer"]),
    ("get", "/api/v1/approvals/{id}", &["finance_officer"]),
    (
        "post",
        "/api/v1/approvals/{id}/approve",
        &["finance_officer"],
    ),
    (
        "post",
        "/api/v1/approvals/{id}/reject",
        &["finance_officer"],
    ),
    (
        "get",
        "/api/v1/warehouses",
        &["admin", "district_officer", "warehouse_officer"],
    ),
    (
        "get",
        "/api/v1/warehouses/{id}",
        &["admin", "district_officer", "warehouse_officer"],
    ),
    ("post", "/api/v1/warehouses", &["admin"]),
    ("post", "/api/v1/warehouses/{id}/officers", &["admin"]),
    (
        "post",
        "/api/v1/inventory/intake/csv",
        &["admin", "warehouse_officer"],
    ),
    (
        "post",
        "/api/v1/inventory/intake",
        &["admin", "warehouse_officer"],
    ),
    (
        "get",
        "/api/v1/inventory/items",
        &["admin", "district_officer", "warehouse_officer"],
    ),
    (
        "get",
        "/api/v1/inventory/items/{id}",
        &["admin", "district_officer", "warehouse_officer"],
    ),
    (
        "post",
        "/api/v1/inventory/items/{id}/check",
        &["admin", "warehouse_officer"],
    ),
    (
        "post",
        "/api/v1/inventory/items/{id}/transitions",
        &["admin", "warehouse_officer"],
    ),
    (
        "get",
        "/api/v1/inventory/packages",
        &["admin", "district_officer", "warehouse_officer"],
    ),
    (
        "get",
        "/api/v1/inventory/packages/{id}",
        &["admin", "district_officer", "warehouse_officer"],
    ),
    (
        "post",
        "/api/v1/inventory/packages",
        &["admin", "warehouse_officer"],
    ),
    (
        "get",
        "/api/v1/inventory/stock",
        &["admin", "district_officer", "warehouse_officer"],
    ),
    (
        "post",
        "/api/v1/allocations/run",
        &["admin", "district_officer"],
    ),
    (
        "get",
        "/api/v1/allocations",
        &["admin", "district_officer", "school_staff"],
    ),
    (
        "post",
        "/api/v1/allocations",
        &["admin", "district_officer"],
    ),
    (
        "get",
        "/api/v1/allocations/{id}",
        &["admin", "district_officer", "school_staff"],
    ),
    (
        "post",
        "/api/v1/allocations/{id}/cancel",
        &["admin", "district_officer"],
    ),
    (
        "post",
        "/api/v1/handovers",
        &["admin", "district_officer", "school_staff"],
    ),
    (
        "get",
        "/api/v1/handovers",
        &["admin", "district_officer", "school_staff"],
    ),
    (
        "get",
        "/api/v1/handovers/{id}",
        &["admin", "district_officer", "school_staff"],
    ),
    (
        "post",
        "/api/v1/handovers/{id}/return",
        &["admin", "district_officer", "school_staff"],
    ),
    (
        "get",
        "/api/v1/stats/coverage",
        &["admin", "district_officer", "stats_reader"],
    ),
    ("get", "/api/v1/stats/donations", &["admin", "stats_reader"]),
    (
        "get",
        "/api/v1/reports/progress",
        &[
            "admin",
            "district_officer",
            "stats_reader",
            "programme_officer",
        ],
    ),
    ("get", "/api/v1/stats/inventory", &["admin", "stats_reader"]),
    (
        "get",
        "/api/v1/stats/timeseries",
        &["admin", "district_officer", "stats_reader"],
    ),
];

/// Every role, for operations any signed-in caller may use.
const EVERY_ROLE: &[&str] = &[
    "admin",
    "district_officer",
    "school_staff",
    "telecom",
    "warehouse_officer",
    "donor",
    "sync_client",
    "stats_reader",
    "tech_partner",
    "finance_officer",
    "programme_officer",
];

/// Whether a 201 of `POST path` is a record with its own `GET` route: the
/// rule `platform::http::conventions::created_location` applies on the
/// wire (walk up the path; the first `<base>/{id}` with a `GET` is it).
fn creates_a_readable_record(path: &str, readable: &[String]) -> bool {
    crate::platform::http::conventions::path_and_parents(path).any(|base| {
        let prefix = format!("{base}/{{");
        readable
            .iter()
            .any(|t| t.starts_with(&prefix) && !t[prefix.len()..].contains('/'))
    })
}

/// The routes behind a per-address rate limit.
fn is_rate_limited(path: &str) -> bool {
    path == "/api/v1/auth/token" || path.starts_with("/api/v1/public/")
}

/// Query parameters that name a record the server looks up, so an unknown
/// value answers 404 rather than an empty list.
const LOOKED_UP_QUERY_PARAMETERS: &[&str] = &["admin_unit", "parent_code"];

/// The events a subscription receives (OpenAPI 3.1 `webhooks`): one entry
/// per event type, each a signed `POST` of a `WebhookEvent`.
fn webhooks() -> Value {
    use crate::platform::outbox::EventType;
    let header = |name: &str, description: &str, example: &str| {
        json!({"name": name, "in": "header", "required": true, "description": description,
               "schema": {"type": "string"}, "example": example})
    };
    let parameters = json!([
        header("webhook-id", "The event's id (`evt_<n>`): the same on retries and replays", "evt_4812"),
        header("webhook-timestamp", "When this attempt was signed, in Unix seconds: refuse one more than five minutes away from your clock", "1764576902"),
        header("webhook-signature", "`v1,` and the base64 HMAC-SHA256 of `<webhook-id>.<webhook-timestamp>.<body>`, keyed with the base64-decoded part of your secret after `whsec_`", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
    ]);
    let mut events = Map::new();
    for event_type in EventType::ALL {
        events.insert(
            event_type.as_str().to_owned(),
            json!({"post": {
                "summary": format!("`{}`", event_type.as_str()),
                "description": "Answer 2xx within the timeout (10 s by default) to acknowledge; anything else is retried with exponential backoff for 24 hours. Verify the signature before trusting the body.",
                "tags": ["webhooks"],
                "parameters": parameters,
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/WebhookEvent"}}}},
                "responses": {"2XX": {"description": "Received"}}
            }}),
        );
    }
    Value::Object(events)
}

/// Request headers every operation that takes them documents the same way.
fn shared_parameters() -> Value {
    json!({
        "IdempotencyKey": {
            "name": "Idempotency-Key",
            "in": "header",
            "required": false,
            "description": "Makes a retry safe: a request repeated with the same key (per caller, kept 24 hours) gets the first answer again with `Idempotent-Replayed: true` and writes nothing twice. The same key with another body is refused (422). Any printable ASCII text, e.g. a UUID.",
            "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7E]+$"},
            "example": "2026-11-25-batch-0001"
        },
        "IfMatch": {
            "name": "If-Match",
            "in": "header",
            "required": false,
            "description": "The ETag (`\"<version>\"`) of the record as you read it; `*` matches any current version. A stale version answers 412.",
            "schema": {"type": "string", "pattern": "^(\\*|\"[0-9]+\")$"},
            "example": "\"3\""
        },
        "RequestId": {
            "name": "X-Request-ID",
            "in": "header",
            "required": false,
            "description": "Your id for this request: kept when it is 1 to 128 visible ASCII characters, echoed in the response's `X-Request-ID`, written in the access log and named in a problem's `instance`. Any other value is never refused: the service makes an id up instead, as it does when the header is absent.",
            "schema": {"type": "string"},
            "example": "dashboard-2026-12-01-0001"
        },
        "IfNoneMatch": {
            "name": "If-None-Match",
            "in": "header",
            "required": false,
            "description": "The ETag of your copy (or `*`): when it is still current the answer is `304 Not Modified` with no body. Compared weakly (`W/\"3\"` matches `\"3\"`).",
            "schema": {"type": "string"},
            "example": "\"3\""
        },
        "IfMatchRequired": {
            "name": "If-Match",
            "in": "header",
            "required": true,
            "description": "The ETag (`\"<version>\"`) of the record as you read it; `*` matches any current version. Without it 428, with a stale version 412.",
            "schema": {"type": "string", "pattern": "^(\\*|\"[0-9]+\")$"},
            "example": "\"3\""
        }
    })
}

/// Response headers, described once.
fn shared_headers() -> Value {
    json!({
        "RetryAfter": {
            "description": "Seconds to wait before retrying",
            "schema": {"type": "integer", "minimum": 1}
        },
        "XRequestId": {
            "description": "The request's id: the client's `X-Request-ID`, or one the service made up",
            "schema": {"type": "string", "minLength": 1, "maxLength": 128}
        },
        "Location": {
            "description": "Where the created record is read (`GET`)",
            "schema": {"type": "string", "format": "uri-reference"}
        },
        "ETag": {
            "description": "The record's version as an entity tag (`\"<version>\"`): send it in `If-Match` to update the version you read, or in `If-None-Match` to read again only when it changed",
            "schema": {"type": "string", "pattern": "^\"[0-9]+\"$"}
        },
        "RateLimit": {
            "description": "What is left of your quota on this route and when all of it is back (IETF RateLimit fields): `\"<policy>\";r=<remaining>;t=<seconds>`",
            "schema": {"type": "string"},
            "example": "\"public\";r=97;t=1"
        },
        "RateLimitPolicy": {
            "description": "The quota of this route per client address: `\"<policy>\";q=<requests>;w=<seconds>`",
            "schema": {"type": "string"},
            "example": "\"public\";q=100;w=10"
        },
        "WwwAuthenticate": {
            "description": "`Bearer realm=\"songmay\"`",
            "schema": {"type": "string"}
        }
    })
}

/// The OpenAPI document, finished: what the service serves and commits.
pub fn finish(api: OpenApiDoc) -> Value {
    let mut doc = serde_json::to_value(&api).unwrap_or_default();
    doc["servers"] = json!([{"url": "/", "description": "this service (paths are absolute)"}]);
    let components = doc["components"]
        .as_object_mut()
        .expect("the document has components");
    components.insert("parameters".into(), shared_parameters());
    components.insert("headers".into(), shared_headers());
    let responses = components
        .entry("responses")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .expect("responses is an object");
    for (status, name, description, _) in COMMON_ERRORS {
        let mut response = json!({
            "description": description,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        });
        response["headers"] = json!({"X-Request-ID": {"$ref": "#/components/headers/XRequestId"}});
        match *status {
            "429" => {
                response["headers"]["Retry-After"] =
                    json!({"$ref": "#/components/headers/RetryAfter"});
                response["headers"]["RateLimit"] =
                    json!({"$ref": "#/components/headers/RateLimit"});
                response["headers"]["RateLimit-Policy"] =
                    json!({"$ref": "#/components/headers/RateLimitPolicy"});
            }
            "503" => {
                response["headers"]["Retry-After"] =
                    json!({"$ref": "#/components/headers/RetryAfter"})
            }
            "401" => {
                response["headers"]["WWW-Authenticate"] =
                    json!({"$ref": "#/components/headers/WwwAuthenticate"})
            }
            _ => {}
        }
        responses.insert((*name).to_owned(), response);
    }
    // The templates of records read by id (`…/{id}` with a GET).
    let readable: Vec<String> = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .filter(|(t, item)| t.ends_with('}') && item.get("get").is_some())
        .map(|(t, _)| t.clone())
        .collect();
    // Records with a `version`: their answers carry an ETag
    // (`platform::http::conventions::entity_tag` adds it on the wire).
    let versioned: Vec<String> = doc["components"]["schemas"]
        .as_object()
        .expect("schemas")
        .iter()
        .filter(|(_, schema)| schema["properties"]["version"].is_object())
        .map(|(name, _)| format!("#/components/schemas/{name}"))
        .collect();
    doc["webhooks"] = webhooks();
    let paths = doc["paths"].as_object_mut().expect("paths");
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, operation) in item.iter_mut() {
            if let Some(operation) = operation.as_object_mut() {
                finish_operation(method, path, &readable, &versioned, operation);
            }
        }
    }
    doc
}

fn finish_operation(
    method: &str,
    path: &str,
    readable: &[String],
    versioned: &[String],
    op: &mut Map<String, Value>,
) {
    let secured = op
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|s| !s.is_empty());
    if !secured {
        // Public: say so, rather than leave it to the reader's guess.
        op.insert("security".into(), json!([]));
    }
    if let Some((_, _, roles)) = ACCESS
        .iter()
        .find(|(m, p, _)| *m == method && *p == path)
        .filter(|_| secured)
    {
        let names: Vec<String> = roles.iter().map(|r| format!("`{r}`")).collect();
        let line = if roles.len() == EVERY_ROLE.len() {
            "Roles: any signed-in caller.".to_owned()
        } else if !roles.contains(&"admin") {
            // A separated duty: being admin is not enough.
            format!(
                "Roles: {} — an admin only when it holds this duty among its `extra_roles`.",
                names.join(", ")
            )
        } else {
            format!("Roles: {}.", names.join(", "))
        };
        let description = match op.get("description").and_then(Value::as_str) {
            Some(text) => format!("{text}\n\n{line}"),
            None => line,
        };
        op.insert("description".into(), Value::from(description));
        op.insert("x-roles".into(), json!(roles));
    }
    let mut if_match = None;
    let mut names_a_unit = false;
    let mut has_path_id = false;
    let mut idempotent = false;
    if let Some(parameters) = op.get_mut("parameters").and_then(Value::as_array_mut) {
        for parameter in parameters.iter_mut() {
            let name = parameter["name"].as_str().unwrap_or("").to_owned();
            let location = parameter["in"].as_str().unwrap_or("").to_owned();
            match (location.as_str(), name.as_str()) {
                ("header", "Idempotency-Key") => {
                    idempotent = true;
                    *parameter = json!({"$ref": "#/components/parameters/IdempotencyKey"})
                }
                ("header", "If-Match") => {
                    let required = parameter["required"].as_bool().unwrap_or(false);
                    if_match = Some(required);
                    *parameter = if required {
                        json!({"$ref": "#/components/parameters/IfMatchRequired"})
                    } else {
                        json!({"$ref": "#/components/parameters/IfMatch"})
                    };
                }
                ("path", _) => has_path_id = true,
                ("query", name) if LOOKED_UP_QUERY_PARAMETERS.contains(&name) => {
                    names_a_unit = true
                }
                _ => {}
            }
        }
    }
    op.entry("parameters")
        .or_insert_with(|| json!([]))
        .as_array_mut()
        .expect("parameters is a list")
        .push(json!({"$ref": "#/components/parameters/RequestId"}));
    let facts = OperationFacts {
        path,
        secured,
        has_body: op.contains_key("requestBody"),
        has_path_id,
        names_a_unit,
        if_match,
        idempotent,
    };
    let responses = op
        .entry("responses")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .expect("responses is an object");
    for (status, name, _, applies) in COMMON_ERRORS {
        if applies(&facts) && !responses.contains_key(*status) {
            responses.insert(
                (*status).to_owned(),
                json!({"$ref": format!("#/components/responses/{name}")}),
            );
        }
    }
    // Every answer carries its request id; a creation says where the new
    // record is read; a versioned record has its ETag.
    let mut conditional = false;
    for (status, response) in responses.iter_mut() {
        if response.get("$ref").is_some() {
            continue;
        }
        let is_versioned = response["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .is_some_and(|r| versioned.iter().any(|v| v == r));
        conditional |= is_versioned && status == "200" && method == "get";
        let headers = response
            .as_object_mut()
            .expect("a response object")
            .entry("headers")
            .or_insert_with(|| json!({}));
        headers["X-Request-ID"] = json!({"$ref": "#/components/headers/XRequestId"});
        if status == "201" && creates_a_readable_record(path, readable) {
            headers["Location"] = json!({"$ref": "#/components/headers/Location"});
        }
        if is_versioned {
            headers["ETag"] = json!({"$ref": "#/components/headers/ETag"});
        }
        if is_rate_limited(path) {
            headers["RateLimit"] = json!({"$ref": "#/components/headers/RateLimit"});
            headers["RateLimit-Policy"] = json!({"$ref": "#/components/headers/RateLimitPolicy"});
        }
    }
    if conditional {
        responses.insert(
            "304".into(),
            json!({
                "description": "Not modified: the copy named in If-None-Match is current",
                "headers": {
                    "ETag": {"$ref": "#/components/headers/ETag"},
                    "X-Request-ID": {"$ref": "#/components/headers/XRequestId"}
                }
            }),
        );
    }
    // A workbook is bytes, not text.
    for response in responses.values_mut() {
        if let Some(content) = response.get_mut("content").and_then(Value::as_object_mut) {
            if let Some(xlsx) = content.get_mut(XLSX) {
                xlsx["schema"] = json!({"type": "string", "format": "binary"});
            }
        }
    }
    // Statuses in numeric order, for readers and stable diffs.
    let mut sorted: Vec<(String, Value)> = std::mem::take(responses).into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    responses.extend(sorted);
    if conditional {
        op.entry("parameters")
            .or_insert_with(|| json!([]))
            .as_array_mut()
            .expect("parameters is a list")
            .push(json!({"$ref": "#/components/parameters/IfNoneMatch"}));
    }
}
