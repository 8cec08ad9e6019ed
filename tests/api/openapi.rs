//! The committed OpenAPI document: equal to the code's, complete (every
//! operation describes itself, its security and its errors), and true to
//! its own examples. That it is true to the wire is checked on every
//! response every test receives (`contract.rs`).

use actix_web::http::Method;
use serde_json::{json, Value};

use crate::helpers::spawn_app;

const SPEC_FILE: &str = "openapi/openapi.json";

fn committed() -> Value {
    serde_json::from_str(&std::fs::read_to_string(SPEC_FILE).expect("the committed spec"))
        .expect("the committed spec is JSON")
}

#[test]
fn committed_spec_matches_the_code() {
    let generated = serde_json::to_string_pretty(&songmay::app::openapi()).unwrap();
    let committed = std::fs::read_to_string(SPEC_FILE).unwrap_or_default();
    assert!(
        committed.trim_end() == generated.trim_end(),
        "{SPEC_FILE} is out of date with the code. Regenerate it with\n    cargo run -- openapi > {SPEC_FILE}\nand commit the result."
    );
}

#[test]
fn every_operation_documents_itself_its_security_and_its_errors() {
    let spec = committed();
    assert_eq!(spec["openapi"], "3.1.0");
    assert_eq!(spec["servers"][0]["url"], "/");
    assert_eq!(
        spec["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let mut operations = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            let name = format!("{} {path}", method.to_uppercase());
            for field in ["summary", "description", "operationId"] {
                assert!(
                    op[field].as_str().is_some_and(|t| !t.trim().is_empty()),
                    "{name} has no {field}"
                );
            }
            assert!(
                op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{name} has no tag"
            );
            let responses = op["responses"].as_object().unwrap();
            let has = |status: &str| responses.contains_key(status);
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{name} has no success response"
            );
            assert!(has("400") && has("503"), "{name}: 400 and 503");
            let site = op["tags"] == json!(["site"]);
            let public = ["/health", "/ready", "/api/v1/auth/token"].contains(&path.as_str())
                || path.starts_with("/api/v1/public/")
                || site;
            if public {
                assert_eq!(op["security"], json!([]), "{name}: public, security: []");
            } else if path == "/metrics" {
                // The operator's token (SONGMAY_METRICS_TOKEN), not a user's.
                assert_eq!(
                    op["security"],
                    json!([{"metrics_token": []}]),
                    "{name}: security"
                );
                assert!(
                    has("401") && has("403") && has("404"),
                    "{name}: 401, 403 and 404 (off)"
                );
            } else {
                assert_eq!(op["security"], json!([{"bearer": []}]), "{name}: security");
                assert!(has("401") && has("403"), "{name}: 401 and 403");
            }
            if path.contains('{') {
                assert!(has("404"), "{name}: a path id may name nothing: 404");
            }
            if op.get("requestBody").is_some() {
                assert!(
                    has("413") && has("415") && has("422"),
                    "{name}: a body can be too large, of another type, or invalid"
                );
            }
            let headers: Vec<&str> = op["parameters"]
                .as_array()
                .map(|list| list.iter().filter_map(|p| p["$ref"].as_str()).collect())
                .unwrap_or_default();
            if headers.iter().any(|r| r.ends_with("/IfMatch")) {
                assert!(has("412"), "{name}: If-Match can be stale");
            }
            if headers.iter().any(|r| r.ends_with("/IfMatchRequired")) {
                assert!(has("412") && has("428"), "{name}: If-Match required");
            }
            if headers.iter().any(|r| r.ends_with("/IdempotencyKey")) {
                assert!(has("409"), "{name}: a retry may meet the first in flight");
            }
            for (status, response) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    let content = match response["$ref"].as_str() {
                        Some(reference) => spec.pointer(reference.trim_start_matches('#')).unwrap()
                            ["content"]
                            .clone(),
                        None => response["content"].clone(),
                    };
                    assert!(
                        content.get("application/problem+json").is_some(),
                        "{name} {status} is not a problem"
                    );
                }
            }
        }
    }
    assert!(operations >= 100, "found only {operations} operations");
}

/// Every enum in the document lists the words the server speaks: those
/// the parser accepts, never Rust variant names.
#[test]
fn enum_schemas_list_the_words_on_the_wire() {
    let spec = committed();
    let schemas = spec["components"]["schemas"].as_object().unwrap();
    let role = &schemas["Role"]["enum"];
    assert_eq!(
        role,
        &json!([
            "admin",
            "district_officer",
            "school_staff",
            "warehouse_officer",
            "donor",
            "telecom",
            "sync_client",
            "stats_reader",
            "tech_partner",
            "finance_officer",
            "programme_officer"
        ])
    );
    let mut enums = 0;
    for (name, schema) in schemas {
        if let Some(words) = schema["enum"].as_array() {
            enums += 1;
            for word in words {
                let word = word.as_str().unwrap();
                assert!(
                    // snake_case words, dotted for event types (`need.approved`).
                    word.chars().all(|c| c.is_ascii_lowercase()
                        || c == '_'
                        || c == '.'
                        || c.is_ascii_digit()),
                    "{name}: `{word}` is not a word the server speaks"
                );
            }
        }
    }
    assert!(enums >= 26, "only {enums} enum schemas");
    let count = &schemas["PublicCount"]["oneOf"];
    assert_eq!(count[0]["type"], "integer");
    assert_eq!(count[1]["enum"], json!(["<5", "x"]));
}

/// Every `example` in the document validates against the schema it
/// illustrates (what `../shared/tools/spec_examples.py` checks).
#[test]
fn every_example_validates_against_its_schema() {
    let spec = committed();
    let components = spec["components"].clone();
    let mut checked = 0;
    let mut broken = Vec::new();
    fn walk(node: &Value, at: String, out: &mut Vec<(String, Value, Value)>) {
        match node {
            Value::Object(map) => {
                if let Some(example) = map.get("example") {
                    let is_schema = ["type", "properties", "$ref", "enum", "oneOf"]
                        .iter()
                        .any(|k| map.contains_key(*k));
                    if is_schema {
                        let mut schema = map.clone();
                        schema.remove("example");
                        out.push((at.clone(), Value::Object(schema), example.clone()));
                    } else if let Some(schema) = map.get("schema") {
                        out.push((at.clone(), schema.clone(), example.clone()));
                    }
                }
                for (key, value) in map {
                    walk(value, format!("{at}/{key}"), out);
                }
            }
            Value::Array(items) => {
                for (i, value) in items.iter().enumerate() {
                    walk(value, format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
    }
    let mut examples = Vec::new();
    walk(&spec["components"], "#/components".into(), &mut examples);
    walk(&spec["paths"], "#/paths".into(), &mut examples);
    for (at, schema, example) in examples {
        let mut wrapped = schema.as_object().cloned().unwrap_or_default();
        wrapped.insert("components".into(), components.clone());
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&Value::Object(wrapped))
            .unwrap_or_else(|e| panic!("{at}: the schema does not compile: {e}"));
        checked += 1;
        let first_error = validator
            .iter_errors(&example)
            .next()
            .map(|e| e.to_string());
        if let Some(error) = first_error {
            broken.push(format!("{at}: {error}"));
        }
    }
    assert!(
        broken.is_empty(),
        "examples break their schemas:\n{}",
        broken.join("\n")
    );
    assert!(checked >= 30, "only {checked} examples checked");
}

#[actix_rt::test]
async fn the_served_spec_is_the_committed_one_and_docs_load() {
    let app = spawn_app().await;
    let served = app
        .request(Method::GET, "/api-docs/openapi.json", None, None, vec![])
        .await
        .ok(200);
    assert!(
        served == committed(),
        "/api-docs/openapi.json differs from openapi/openapi.json"
    );

    let docs = app.request(Method::GET, "/docs/", None, None, vec![]).await;
    assert_eq!(docs.status.as_u16(), 200);
    assert!(String::from_utf8_lossy(&docs.body).contains("swagger"));
    let redirect = app.request(Method::GET, "/docs", None, None, vec![]).await;
    assert!(redirect.status.is_redirection());
    assert_eq!(redirect.header("location").as_deref(), Some("/docs/"));
}

/// A literal path segment never reaches an `{id}` handler: `GET
/// /needs/generate` is 405 naming POST, not a failed id parse; and `Allow`
/// lists only the methods the path really has.
#[actix_rt::test]
async fn routing_is_exact_and_allow_is_true() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for (method, path, allow) in [
        (Method::GET, "/api/v1/needs/generate", "POST"),
        (Method::GET, "/api/v1/needs/transitions", "POST"),
        (Method::GET, "/api/v1/admin-units/import", "POST"),
        (Method::DELETE, "/api/v1/needs/summary", "GET"),
        (Method::POST, "/api/v1/allocations/run/x", ""),
        (Method::PUT, "/api/v1/students/1", "DELETE, GET, PATCH"),
    ] {
        let reply = app
            .request(method.clone(), path, Some(&admin), None, vec![])
            .await;
        if allow.is_empty() {
            reply.problem(404);
        } else {
            reply.problem(405);
            assert_eq!(
                reply.header("allow").as_deref(),
                Some(allow),
                "{method} {path}"
            );
        }
    }
    // An id that is not a number is a bad request, and the value is not echoed.
    let reply = app.get("/api/v1/needs/abc%22def", &admin).await;
    let problem = reply.problem(400);
    assert!(
        !problem["detail"].as_str().unwrap().contains("abc"),
        "{problem}"
    );
    // An unknown admin unit is 404 for everyone, admins included.
    let flag = json!({"lockdown": true, "lockdown_from": "2021-07-19"});
    app.request(
        Method::PUT,
        "/api/v1/admin-units/0/flags",
        Some(&admin),
        Some("application/json"),
        flag.to_string().into_bytes(),
    )
    .await
    .problem(404);
    app.get("/api/v1/admin-units/0/flags", &admin)
        .await
        .problem(404);
}

/// Every `$ref` in the document resolves (a query parameter whose enum
/// schema was never registered left generators guessing).
#[test]
fn every_reference_resolves() {
    let spec = committed();
    fn walk(node: &Value, spec: &Value, out: &mut Vec<String>) {
        match node {
            Value::Object(map) => {
                if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
                    if spec.pointer(reference.trim_start_matches('#')).is_none() {
                        out.push(reference.to_owned());
                    }
                }
                map.values().for_each(|v| walk(v, spec, out));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, spec, out)),
            _ => {}
        }
    }
    let mut dangling = Vec::new();
    walk(&spec, &spec, &mut dangling);
    assert!(dangling.is_empty(), "unresolved references: {dangling:?}");
}
