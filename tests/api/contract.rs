//! The committed OpenAPI document, checked against every response a test
//! receives: the status must be documented for that operation, the content
//! type must be one the operation declares for that status, and a JSON body
//! must validate against the declared schema (JSON Schema 2020-12). A test
//! that receives a response breaking the spec fails, naming the operation,
//! the status and the first schema error.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use actix_web::dev::ResourceDef;
use serde_json::{json, Value};

const SPEC_FILE: &str = "openapi/openapi.json";

/// Responses validated so far in this test process.
pub static VALIDATED: AtomicUsize = AtomicUsize::new(0);

/// Paths served outside the API document (Swagger UI and the document itself).
const UNDOCUMENTED_PREFIXES: [&str; 2] = ["/docs", "/api-docs/"];

struct Contract {
    spec: Value,
    /// (matcher, template, number of literal segments)
    routes: Vec<(ResourceDef, String, usize)>,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

/// The committed OpenAPI document, as the tests read it.
pub fn spec() -> &'static Value {
    &contract().spec
}

/// `node`, or what its `$ref` points to in the committed spec.
pub fn resolve(node: &Value) -> &Value {
    contract().resolve(node)
}

fn contract() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| {
        let text = std::fs::read_to_string(SPEC_FILE).expect("the committed spec");
        let spec: Value = serde_json::from_str(&text).expect("the committed spec is JSON");
        let routes = spec["paths"]
            .as_object()
            .expect("paths")
            .keys()
            .map(|template| {
                let literal = template
                    .split('/')
                    .filter(|s| !s.is_empty() && !s.starts_with('{'))
                    .count();
                (
                    ResourceDef::new(template.as_str()),
                    template.clone(),
                    literal,
                )
            })
            .collect();
        Contract {
            spec,
            routes,
            validators: Mutex::new(HashMap::new()),
        }
    })
}

impl Contract {
    /// The template the server routes `path` to: of the documented
    /// templates matching it, the one with the most literal segments
    /// (`/needs/generate` before `/needs/{id}`).
    fn template_of(&self, path: &str) -> Option<&str> {
        self.routes
            .iter()
            .filter(|(def, _, _)| def.is_match(path))
            .max_by_key(|(_, _, literal)| *literal)
            .map(|(_, template, _)| template.as_str())
    }

    fn resolve<'a>(&'a self, node: &'a Value) -> &'a Value {
        match node.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let pointer = reference.trim_start_matches('#');
                self.resolve(self.spec.pointer(pointer).unwrap_or(&Value::Null))
            }
            None => node,
        }
    }

    fn validator(&self, key: &str, schema: &Value) -> Arc<jsonschema::Validator> {
        let mut cache = self.validators.lock().unwrap();
        if let Some(found) = cache.get(key) {
            return found.clone();
        }
        // Local references (#/components/...) resolve inside the wrapped schema.
        let mut wrapped = schema.clone();
        if let Some(object) = wrapped.as_object_mut() {
            object.insert("components".into(), self.spec["components"].clone());
        } else {
            wrapped = json!({"allOf": [schema], "components": self.spec["components"]});
        }
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .should_ignore_unknown_formats(true)
            .build(&wrapped)
            .unwrap_or_else(|e| panic!("the spec's schema at {key} does not compile: {e}"));
        let validator = Arc::new(validator);
        cache.insert(key.to_owned(), validator.clone());
        validator
    }

    fn check_body(&self, key: &str, schema: &Value, body: &[u8]) -> Result<(), String> {
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| format!("the body is not JSON ({e}): {}", preview(body)))?;
        let validator = self.validator(key, schema);
        if let Some(error) = validator.iter_errors(&value).next() {
            return Err(format!(
                "the body breaks the schema at {}: {error} (instance path {})\nbody: {}",
                key,
                error.instance_path(),
                preview(body)
            ));
        }
        Ok(())
    }

    fn check(
        &self,
        method: &str,
        path: &str,
        status: u16,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<(), String> {
        let method = method.to_ascii_lowercase();
        let media = content_type
            .and_then(|c| c.split(';').next())
            .map(|c| c.trim().to_ascii_lowercase());
        let operation = self
            .template_of(path)
            .and_then(|t| self.spec["paths"][t].get(&method).map(|op| (t, op)));
        let Some((template, operation)) = operation else {
            // No such operation: only a problem (404 or 405) may answer.
            if !matches!(status, 404 | 405) {
                return Err(format!(
                    "{method} {path} is not in the spec, yet answered {status}"
                ));
            }
            if media.as_deref() != Some("application/problem+json") {
                return Err(format!(
                    "{method} {path} ({status}) is not problem+json but {media:?}"
                ));
            }
            return self.check_body(
                "#/components/schemas/Problem",
                &json!({"$ref": "#/components/schemas/Problem"}),
                body,
            );
        };
        let where_ = format!("{} {template} → {status}", method.to_ascii_uppercase());
        let responses = &operation["responses"];
        let response = responses
            .get(status.to_string())
            .or_else(|| responses.get("default"))
            .ok_or_else(|| {
                format!(
                    "{where_}: status {status} is not documented (documented: {:?}); body: {}",
                    responses
                        .as_object()
                        .map(|r| r.keys().cloned().collect::<Vec<_>>())
                        .unwrap_or_default(),
                    preview(body)
                )
            })?;
        let response = self.resolve(response);
        let Some(content) = response.get("content").and_then(Value::as_object) else {
            return if body.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "{where_}: documented without a body, but one came: {}",
                    preview(body)
                ))
            };
        };
        let media = media.ok_or_else(|| format!("{where_}: no Content-Type"))?;
        let declared = content.get(&media).ok_or_else(|| {
            format!(
                "{where_}: Content-Type {media} is not documented (documented: {:?})",
                content.keys().collect::<Vec<_>>()
            )
        })?;
        if media == "application/json" || media.ends_with("+json") {
            let key = format!("{where_} {media}");
            self.check_body(&key, &declared["schema"], body)
                .map_err(|e| format!("{where_}: {e}"))?;
        }
        Ok(())
    }
}

fn preview(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut preview: String = text.chars().take(600).collect();
    if text.chars().count() > 600 {
        preview.push('…');
    }
    preview
}

/// Checks one response against the committed spec; panics with the reason
/// when it breaks it. `path` may carry a query string.
#[track_caller]
pub fn assert_conforms(
    method: &str,
    path: &str,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) {
    let path = path.split('?').next().unwrap_or(path);
    if method.eq_ignore_ascii_case("OPTIONS")
        || UNDOCUMENTED_PREFIXES
            .iter()
            .any(|prefix| path == prefix.trim_end_matches('/') || path.starts_with(prefix))
    {
        return;
    }
    if let Err(reason) = contract().check(method, path, status, content_type, body) {
        panic!("response breaks openapi/openapi.json: {reason}");
    }
    record_one();
}

/// Counts one validated response and, when CI asks for it
/// (`SONGMAY_VALIDATED_COUNT_FILE`), writes the running total there, under
/// a lock so the file always ends with the final count.
fn record_one() {
    static WRITING: Mutex<()> = Mutex::new(());
    let _guard = WRITING.lock().unwrap_or_else(|e| e.into_inner());
    let total = VALIDATED.fetch_add(1, Ordering::Relaxed) + 1;
    if let Ok(file) = std::env::var("SONGMAY_VALIDATED_COUNT_FILE") {
        let _ = std::fs::write(file, total.to_string());
    }
}
