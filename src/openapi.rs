//! The OpenAPI document. Paths are collected from the handlers themselves
//! (utoipa-actix-web), so a route cannot exist undocumented; this module
//! adds what is common to all: info, tags, the bearer scheme and the error
//! responses every operation can give.

use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as OpenApiDoc, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::error::{FieldError, Problem, PROBLEM_JSON};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "songmay",
        description = "Sóng và máy tính cho em — Hòa Bình's programme to give every student a device and a connection for online learning. Needs, pledges, inventory and distribution.\n\nErrors are RFC 9457 `application/problem+json`. Lists use keyset pagination (`limit`, `cursor`, `next_cursor`).",
        license(name = "MIT")
    ),
    tags(
        (name = "auth", description = "Tokens and the current caller"),
        (name = "accounts", description = "Users and machine clients (admin)"),
        (name = "admin-units", description = "Provinces, districts and communes (GSO codes)"),
        (name = "audit", description = "Who wrote what (admin)"),
        (name = "schools", description = "Schools by MOET code"),
        (name = "students", description = "Students (personal data: admins, district officers and school staff in scope)"),
        (name = "sync", description = "Batch sync and change feed for the education data system"),
        (name = "needs", description = "Needs: who lacks a device or a connection, their workflow and priority"),
        (name = "coverage", description = "Telecom operators and places without mobile internet"),
        (name = "donations", description = "Donors, campaigns, pledges, receipts and the money"),
        (name = "inventory", description = "Warehouses, devices, packages and the stock ledger"),
        (name = "distribution", description = "Allocations of stock to approved needs, and handovers"),
        (name = "stats", description = "Aggregated statistics (JSON, CSV, XLSX); no personal data"),
        (name = "public", description = "Public transparency pages: no token, aggregates only"),
        (name = "operations", description = "Liveness and readiness probes"),
    ),
    components(schemas(Problem, FieldError)),
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
    }
}

/// A shared error response: status, component name, description, and
/// which operations can give it.
type CommonError = (
    &'static str,
    &'static str,
    &'static str,
    fn(&Operation) -> bool,
);

const COMMON_ERRORS: &[CommonError] = &[
    (
        "400",
        "BadRequest",
        "Malformed JSON, or an invalid path or query parameter",
        |_| true,
    ),
    (
        "401",
        "Unauthorized",
        "Missing, expired or invalid access token, or a disabled account",
        is_secured,
    ),
    (
        "403",
        "Forbidden",
        "The caller's role may not do this",
        is_secured,
    ),
    (
        "413",
        "PayloadTooLarge",
        "The body is larger than the limit",
        has_body,
    ),
    (
        "415",
        "UnsupportedMediaType",
        "The body is not in the documented media type",
        has_body,
    ),
    (
        "422",
        "ValidationFailed",
        "The body is well-formed but some fields are invalid; see `errors`",
        has_body,
    ),
    (
        "503",
        "Unavailable",
        "The database is unreachable or busy; retry",
        |_| true,
    ),
];

fn is_secured(op: &Operation) -> bool {
    op.security.as_ref().is_some_and(|s| !s.is_empty())
}

fn has_body(op: &Operation) -> bool {
    op.request_body.is_some()
}

/// Adds the shared error responses to every operation and declares them once
/// under `components.responses`.
pub fn add_common_errors(openapi: &mut OpenApiDoc) {
    let components = openapi.components.get_or_insert_with(Default::default);
    for (_, name, description, _) in COMMON_ERRORS {
        components.responses.insert(
            (*name).to_owned(),
            RefOr::T(
                ResponseBuilder::new()
                    .description(*description)
                    .content(
                        PROBLEM_JSON,
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("Problem")))
                            .build(),
                    )
                    .build(),
            ),
        );
    }
    for item in openapi.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for op in operations.into_iter().flatten() {
            for (status, name, _, applies) in COMMON_ERRORS {
                if applies(op) {
                    op.responses
                        .responses
                        .entry((*status).to_owned())
                        .or_insert_with(|| RefOr::Ref(Ref::from_response_name(*name)));
                }
            }
        }
    }
}
