//! The process log: `RUST_LOG` chooses what is written (default `info`),
//! `SONGMAY_LOG_FORMAT` how — `text` (default; one line for a person) or
//! `json` (one JSON object per line for a log shipper: `timestamp`,
//! `level`, `target`, `message`, and for each answered request
//! `request_id`, `method`, `route`, `status`, `duration_ms`, `caller`).
//! What is logged never holds a token, a body, a query string or personal
//! data: requests are named by their route template.

use std::io::Write;

use log::kv::{Key, Value, VisitSource};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    /// `SONGMAY_LOG_FORMAT`; anything but `json` is text.
    pub fn from_setting(value: Option<&str>) -> Self {
        match value.map(str::trim) {
            Some(v) if v.eq_ignore_ascii_case("json") => Self::Json,
            _ => Self::Text,
        }
    }
}

/// Starts the process log (once, first thing in `main`).
pub fn init() {
    let format = LogFormat::from_setting(std::env::var("SONGMAY_LOG_FORMAT").ok().as_deref());
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    match format {
        // The request's fields are in the message already.
        LogFormat::Text => builder.format_key_values(|_, _| Ok(())),
        LogFormat::Json => {
            builder.format(|buf, record| writeln!(buf, "{}", json_line(record, chrono::Utc::now())))
        }
    };
    builder.init();
}

/// One record as a JSON object (its key-values as fields of their own).
pub fn json_line(record: &log::Record<'_>, at: chrono::DateTime<chrono::Utc>) -> String {
    let mut line = serde_json::Map::new();
    line.insert(
        "timestamp".into(),
        at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            .into(),
    );
    line.insert("level".into(), record.level().as_str().into());
    line.insert("target".into(), record.target().into());
    line.insert("message".into(), record.args().to_string().into());
    let mut fields = Fields(&mut line);
    let _ = record.key_values().visit(&mut fields);
    serde_json::Value::Object(line).to_string()
}

struct Fields<'a>(&'a mut serde_json::Map<String, serde_json::Value>);

impl<'kvs> VisitSource<'kvs> for Fields<'_> {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), log::kv::Error> {
        let value = if let Some(n) = value.to_u64() {
            n.into()
        } else if let Some(n) = value.to_f64() {
            n.into()
        } else {
            value.to_string().into()
        };
        self.0.insert(key.as_str().to_owned(), value);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_becomes_one_json_object_with_its_fields() {
        let fields: [(&str, Value); 3] = [
            ("route", Value::from("/api/v1/needs/{id}")),
            ("status", Value::from(404u64)),
            ("request_id", Value::from("abc")),
        ];
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-03T08:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let line = json_line(
            &log::Record::builder()
                .level(log::Level::Info)
                .target("songmay::access")
                .args(format_args!("GET /api/v1/needs/{{id}} 404"))
                .key_values(&fields)
                .build(),
            at,
        );
        assert!(!line.contains('\n'));
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["level"], "INFO");
        assert_eq!(parsed["timestamp"], "2026-12-03T08:00:00.000Z");
        assert_eq!(parsed["route"], "/api/v1/needs/{id}");
        assert_eq!(parsed["status"], 404);
        assert_eq!(parsed["request_id"], "abc");
        assert_eq!(LogFormat::from_setting(Some("JSON")), LogFormat::Json);
        assert_eq!(LogFormat::from_setting(None), LogFormat::Text);
    }
}
