use actix_web::http::Method;
use serde_json::Value;

use crate::helpers::spawn_app;

const SPEC_FILE: &str = "openapi/openapi.json";

#[test]
fn committed_spec_matches_the_code() {
    let generated = songmay::startup::openapi().to_pretty_json().unwrap();
    let committed = std::fs::read_to_string(SPEC_FILE).unwrap_or_default();
    assert!(
        committed.trim_end() == generated.trim_end(),
        "{SPEC_FILE} is out of date with the code. Regenerate it with\n    cargo run -- openapi > {SPEC_FILE}\nand commit the result."
    );
}

#[test]
fn every_operation_documents_its_errors_and_security() {
    let spec: Value = serde_json::to_value(songmay::startup::openapi()).unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    assert!(spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer");
    let mut operations = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            let responses = op["responses"].as_object().unwrap();
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{method} {path} has no success response"
            );
            assert!(
                responses.contains_key("400") && responses.contains_key("503"),
                "{method} {path}"
            );
            let public = ["/health", "/ready", "/api/v1/auth/token"].contains(&path.as_str())
                || path.starts_with("/api/v1/public/");
            assert_eq!(
                op.get("security").is_none(),
                public,
                "{method} {path}: security"
            );
            if !public {
                assert!(
                    responses.contains_key("401") && responses.contains_key("403"),
                    "{method} {path}"
                );
            }
            if op.get("requestBody").is_some() {
                assert!(
                    responses.contains_key("422") && responses.contains_key("413"),
                    "{method} {path}"
                );
            }
            assert!(
                op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{method} {path} has a tag"
            );
        }
    }
    assert!(operations >= 15, "found only {operations} operations");
}

#[actix_rt::test]
async fn the_served_spec_is_the_committed_one_and_docs_load() {
    let app = spawn_app().await;
    let served = app
        .request(Method::GET, "/api-docs/openapi.json", None, None, vec![])
        .await
        .ok(200);
    assert_eq!(
        served,
        serde_json::to_value(songmay::startup::openapi()).unwrap()
    );

    let docs = app.request(Method::GET, "/docs/", None, None, vec![]).await;
    assert_eq!(docs.status.as_u16(), 200);
    assert!(String::from_utf8_lossy(&docs.body).contains("swagger"));
    let redirect = app.request(Method::GET, "/docs", None, None, vec![]).await;
    assert!(redirect.status.is_redirection());
    assert_eq!(redirect.header("location").as_deref(), Some("/docs/"));
}
