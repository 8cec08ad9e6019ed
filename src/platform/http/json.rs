//! JSON bodies, read the one way every endpoint reads them: the size limit
//! and media type checked, the syntax parsed, every string cleaned by the
//! text rule (`crate::platform::text`: control characters refused, NFC, trimmed),
//! then the request type built, with any problem named by its field path
//! and never with the value sent.

use actix_web::dev::Payload;
use actix_web::http::header::CONTENT_LENGTH;
use actix_web::{FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::platform::error::FieldError;
use crate::platform::http::ApiError;

/// The largest JSON body accepted (`SONGMAY_MAX_JSON_BYTES`), as app data.
#[derive(Debug, Clone, Copy)]
pub struct JsonLimit(pub usize);

/// A request body of type `T`, read by the rule above.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

/// Builds `T` from a parsed JSON document: strings cleaned first, then
/// deserialized; the problems name their field paths.
pub fn decode_value<T: DeserializeOwned>(
    mut value: Value,
    whole: &str,
) -> Result<T, Vec<FieldError>> {
    let refused = crate::platform::text::clean_json(&mut value);
    if !refused.is_empty() {
        return Err(refused);
    }
    serde_path_to_error::deserialize::<_, T>(value).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        let (field, code) = super::field_of(&inner, whole);
        // serde names a missing or unknown field itself; otherwise the path
        // to the value that did not fit is the field.
        let top = path == "." || path.is_empty();
        let field = match code {
            // The path ends at the value that did not fit, or (for an
            // unknown field) at the field itself.
            "invalid" | "unknown" if !top => path,
            // For a missing field the path ends at the record missing it.
            "missing" if !top => format!("{path}.{field}"),
            _ => field,
        };
        vec![FieldError::new(field, code, super::describe_serde(&inner))]
    })
}

fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .is_some_and(|v| {
            v == "application/json" || (v.starts_with("application/") && v.ends_with("+json"))
        })
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<JsonLimit>()
            .map(|l| l.0)
            .unwrap_or(1024 * 1024);
        let json = is_json(req);
        let declared = req
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if !json {
                return Err(ApiError::unsupported_media_type("application/json"));
            }
            if declared.is_some_and(|length| length > limit) {
                return Err(ApiError::payload_too_large(limit));
            }
            let mut body = web_bytes(limit);
            while let Some(chunk) = payload.next().await {
                let chunk =
                    chunk.map_err(|_| ApiError::bad_request("the body could not be read"))?;
                if body.len() + chunk.len() > limit {
                    return Err(ApiError::payload_too_large(limit));
                }
                body.extend_from_slice(&chunk);
            }
            let value: Value = serde_json::from_slice(&body).map_err(|e| {
                ApiError::malformed_json(format!(
                    "the body is not valid JSON: {}",
                    super::describe_serde(&e)
                ))
            })?;
            decode_value(value, "body")
                .map(Json)
                .map_err(ApiError::validation)
        })
    }
}

fn web_bytes(limit: usize) -> Vec<u8> {
    Vec::with_capacity(limit.min(64 * 1024))
}

/// For PATCH bodies, with `#[serde(default, deserialize_with = "present")]`
/// on an `Option<Option<T>>`: an absent field stays `None` (unchanged), a
/// field sent as `null` is `Some(None)` (cleared), a value is
/// `Some(Some(value))`.
pub fn present<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Intake {
        receipt_id: i64,
        devices: Vec<Device>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Device {
        serial: String,
    }

    #[test]
    fn problems_name_the_field_path_and_never_the_value() {
        let wrong = decode_value::<Intake>(
            serde_json::json!({"receipt_id": 1, "devices": [{"serial": "a"}, {"serial": 7}]}),
            "body",
        )
        .unwrap_err();
        assert_eq!(wrong[0].field, "devices[1].serial");
        let missing =
            decode_value::<Intake>(serde_json::json!({"devices": []}), "body").unwrap_err();
        assert_eq!(
            (missing[0].field.as_str(), missing[0].code.as_str()),
            ("receipt_id", "missing")
        );
        let unknown = decode_value::<Intake>(
            serde_json::json!({"receipt_id": 1, "devices": [], "x": "Lò Văn A"}),
            "body",
        )
        .unwrap_err();
        assert_eq!(
            (unknown[0].field.as_str(), unknown[0].code.as_str()),
            ("x", "unknown")
        );
        assert!(!unknown[0].message.contains("Lò"));
        let nul = decode_value::<Intake>(
            serde_json::json!({"receipt_id": 1, "devices": [{"serial": "a\u{0000}"}]}),
            "body",
        )
        .unwrap_err();
        assert_eq!(
            (nul[0].field.as_str(), nul[0].code.as_str()),
            ("devices[0].serial", "control_character")
        );
        let text = decode_value::<Intake>(
            serde_json::json!({"receipt_id": "Lò Văn A", "devices": []}),
            "body",
        )
        .unwrap_err();
        assert_eq!(text[0].field, "receipt_id");
        assert!(!text[0].message.contains("Lò"), "{}", text[0].message);
    }
}
