//! Route-wide guarantees, walked from the committed spec so that a route is
//! covered the day it is documented (and every route is documented: the
//! document is collected from the handlers). For every operation:
//! without a token, 401 unless it is public; with a token of each role, 403
//! exactly for the roles its `x-roles` leaves out, never for the others;
//! with a path id nobody has, its documented 404.

use std::collections::BTreeMap;

use awc::http::Method;
use serde_json::{json, Value};

use crate::contract::{resolve, spec};
use crate::helpers::{spawn_app, TestApp};

/// Every role an account or client can have.
const ROLES: [&str; 11] = [
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
    "programme_officer",
];

/// The separated duties: an admin needs them among its extra roles (the
/// bootstrap admin the walk signs in as holds both).
const DUTIES: [&str; 2] = ["finance_officer", "programme_officer"];

/// One documented operation, with a request the server can parse: path
/// ids nobody has, the required query parameters, the documented example
/// body.
struct Operation {
    method: Method,
    template: String,
    path: String,
    content_type: Option<String>,
    body: Vec<u8>,
    if_match: bool,
    public: bool,
    has_path_id: bool,
    roles: Vec<String>,
    documented: Vec<String>,
}

impl Operation {
    fn name(&self) -> String {
        format!("{} {}", self.method, self.template)
    }

    async fn send(&self, app: &TestApp, token: Option<&str>) -> crate::helpers::Reply {
        // The walk is a program: it asks for JSON (the public site's pages
        // answer it with problem+json where a browser gets a page).
        let mut headers = vec![("Accept", "application/json".to_owned())];
        if let Some(token) = token {
            headers.push(("Authorization", format!("Bearer {token}")));
        }
        if let Some(content_type) = &self.content_type {
            headers.push(("Content-Type", content_type.clone()));
        }
        if self.if_match {
            headers.push(("If-Match", "*".to_owned()));
        }
        app.send(self.method.clone(), &self.path, &headers, self.body.clone())
            .await
    }
}

/// A value for a parameter the server will parse.
fn sample(parameter: &Value) -> String {
    if let Some(example) = parameter.get("example") {
        return match example {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
    }
    let schema = resolve(&parameter["schema"]);
    let schema = schema
        .get("oneOf")
        .or_else(|| schema.get("anyOf"))
        .and_then(|alternatives| alternatives.get(0))
        .map(resolve)
        .unwrap_or(schema);
    if let Some(first) = schema.get("enum").and_then(|e| e.get(0)) {
        return first
            .as_str()
            .map(str::to_owned)
            .unwrap_or(first.to_string());
    }
    match (schema["type"].as_str(), schema["format"].as_str()) {
        (Some("integer"), _) => "1".into(),
        (_, Some("date")) => "2026-01-01".into(),
        _ => "x".into(),
    }
}

/// A schema's example; for an array without one, one item's example.
fn example_of(schema: &Value) -> Option<Value> {
    let schema = resolve(schema);
    if let Some(example) = schema.get("example") {
        return Some(example.clone());
    }
    let items = schema.get("items")?;
    let item = items
        .get("anyOf")
        .or_else(|| items.get("oneOf"))
        .and_then(|alternatives| alternatives.get(0))
        .unwrap_or(items);
    Some(json!([example_of(item)?]))
}

fn operations() -> Vec<Operation> {
    let mut out = Vec::new();
    for (template, item) in spec()["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let Ok(method) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            // The operator's metrics token, not a role: walked in
            // `platform::health::metrics_need_their_own_token_and_are_off_without_one`.
            if op["security"] == json!([{"metrics_token": []}]) {
                continue;
            }
            let mut path = template.clone();
            let mut query = Vec::new();
            let mut if_match = false;
            let mut has_path_id = false;
            for parameter in op["parameters"].as_array().into_iter().flatten() {
                let parameter = resolve(parameter);
                let name = parameter["name"].as_str().unwrap_or_default();
                match parameter["in"].as_str() {
                    Some("path") => {
                        has_path_id = true;
                        let unknown = if resolve(&parameter["schema"])["type"] == "integer" {
                            "987654321".to_owned()
                        } else {
                            "NOBODY-HAS-THIS".to_owned()
                        };
                        path = path.replace(&format!("{{{name}}}"), &unknown);
                    }
                    Some("query") if parameter["required"] == true => {
                        query.push(format!("{name}={}", sample(parameter)))
                    }
                    Some("header") if name == "If-Match" => if_match = true,
                    _ => {}
                }
            }
            if !query.is_empty() {
                path = format!("{path}?{}", query.join("&"));
            }
            let (content_type, body) = match op["requestBody"]["content"].as_object() {
                Some(content) => {
                    let (content_type, media) = content.iter().next().expect("a media type");
                    let example = media
                        .get("example")
                        .cloned()
                        .or_else(|| example_of(&media["schema"]));
                    let body = match example {
                        Some(Value::String(text)) => text.into_bytes(),
                        Some(value) => value.to_string().into_bytes(),
                        None => {
                            panic!("{method} {template}: the request body has no example to send")
                        }
                    };
                    (Some(content_type.clone()), body)
                }
                None => (None, Vec::new()),
            };
            let roles = op["x-roles"]
                .as_array()
                .map(|roles| {
                    roles
                        .iter()
                        .map(|r| r.as_str().expect("a role").to_owned())
                        .collect()
                })
                .unwrap_or_default();
            out.push(Operation {
                method,
                template: template.clone(),
                path,
                content_type,
                body,
                if_match,
                public: op["security"] == json!([]),
                has_path_id,
                roles,
                documented: op["responses"]
                    .as_object()
                    .expect("responses")
                    .keys()
                    .cloned()
                    .collect(),
            });
        }
    }
    out
}

/// A token for each role, scoped to real records so that scope checks run.
async fn tokens(app: &TestApp) -> BTreeMap<&'static str, String> {
    let admin = app.admin_token().await;
    let schools = app.seed_schools(&admin).await;
    let operator = app
        .post(
            "/api/v1/operators",
            Some(&admin),
            &json!({"code": "viettel", "name": "Viettel Hòa Bình"}),
        )
        .await
        .ok(201)["id"]
        .clone();
    let mut tokens = BTreeMap::new();
    for role in ROLES {
        let token = match role {
            "admin" => admin.clone(),
            "sync_client" => app.client_token(role).await,
            "district_officer" => {
                app.user_token("walk.officer", role, json!({"admin_unit_code": "150"}))
                    .await
            }
            "school_staff" => {
                app.user_token(
                    "walk.staff",
                    role,
                    json!({"school_id": schools["TH-DABAC"]}),
                )
                .await
            }
            "telecom" => {
                app.user_token("walk.telecom", role, json!({"operator_id": operator}))
                    .await
            }
            other => {
                app.user_token(&format!("walk.{other}"), other, json!({}))
                    .await
            }
        };
        tokens.insert(role, token);
    }
    tokens
}

#[actix_rt::test]
async fn every_operation_answers_401_without_a_token_unless_public() {
    let app = spawn_app().await;
    let operations = operations();
    assert!(
        operations.len() > 90,
        "the walk found {} operations",
        operations.len()
    );
    let mut wrong = Vec::new();
    for op in &operations {
        let reply = op.send(&app, None).await;
        let status = reply.status.as_u16();
        if op.public {
            // The token endpoint's 401 is about the credentials sent.
            if (status == 401 && op.template != "/api/v1/auth/token") || status == 403 {
                wrong.push(format!("{}: public, answered {status}", op.name()));
            }
        } else if status != 401 {
            wrong.push(format!("{}: {status} without a token", op.name()));
        } else {
            let problem = reply.problem(401);
            assert!(problem["detail"].is_string(), "{}: {problem}", op.name());
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[actix_rt::test]
async fn every_role_the_operation_leaves_out_gets_403_and_the_others_do_not() {
    let app = spawn_app().await;
    let tokens = tokens(&app).await;
    let mut wrong = Vec::new();
    let mut matrix = Vec::new();
    let words = spec()["components"]["schemas"]["Role"]["enum"].clone();
    assert_eq!(
        words,
        json!(ROLES),
        "the walk tries every role the spec names"
    );
    for op in operations().iter().filter(|op| !op.public) {
        let duty = !op.roles.iter().any(|r| r == "admin");
        assert!(
            !duty
                || (!op.roles.is_empty() && op.roles.iter().all(|r| DUTIES.contains(&r.as_str()))),
            "{}: no x-roles, or admin left out of an operation that is no duty: {:?}",
            op.name(),
            op.roles
        );
        let mut line = Vec::new();
        for (role, token) in &tokens {
            let status = op.send(&app, Some(token)).await.status.as_u16();
            line.push(format!("{role}={status}"));
            let allowed = op.roles.iter().any(|r| r == role) || (duty && *role == "admin");
            if allowed == (status == 403) || status == 401 {
                wrong.push(format!("{}: {role} answered {status}", op.name()));
            }
        }
        matrix.push(format!("{} {}", op.name(), line.join(" ")));
    }
    if std::env::var("SONGMAY_PRINT_ROLES").is_ok() {
        println!("{}", matrix.join("\n"));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[actix_rt::test]
async fn every_path_id_nobody_has_answers_the_documented_404() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let walked: Vec<Operation> = operations()
        .into_iter()
        .filter(|op| op.has_path_id)
        .collect();
    assert!(
        walked.len() > 30,
        "the walk found {} operations with a path id",
        walked.len()
    );
    let mut wrong = Vec::new();
    for op in &walked {
        if !op.documented.iter().any(|s| s == "404") {
            wrong.push(format!("{}: 404 not documented", op.name()));
            continue;
        }
        let token = (!op.public).then_some(admin.as_str());
        let reply = op.send(&app, token).await;
        if reply.status.as_u16() != 404 {
            wrong.push(format!("{}: answered {}", op.name(), reply.status));
            continue;
        }
        let problem = reply.problem(404);
        let detail = problem["detail"].as_str().unwrap_or_default();
        if detail.contains("987654321") || detail.contains("NOBODY-HAS-THIS") {
            wrong.push(format!("{}: the 404 repeats the id: {detail}", op.name()));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
