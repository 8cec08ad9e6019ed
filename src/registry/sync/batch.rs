//! What every batch write shares (sync endpoints and CSV imports): reading
//! the array, decoding each record on its own, the per-row report, and the
//! size limit.

use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::de::DeserializeOwned;
use serde::Serialize;
use utoipa::ToSchema;
use validator::Validate;

use crate::platform::auth::Principal;
use crate::platform::db::DbConn;
use crate::platform::error::{Failure, FieldError};
use crate::platform::http::ApiError;
use crate::platform::idempotency::{self, IdempotencyKey};
use crate::platform::state::AppState;

/// Most records one batch may carry.
pub const MAX_BATCH: usize = 5_000;

/// The schema of a batch body: an array of 1 to [`MAX_BATCH`] records, from
/// the same constant the parser enforces.
///
/// Each record is read on its own: one that is not a valid record (a wrong
/// type, a missing field, not even an object) does not refuse the batch but
/// is reported in `rejected_rows` (or, with `atomic=true`, refuses it with
/// 422). So the items are "a record, or anything else, reported".
pub fn batch_schema<T: ToSchema>() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{AnyOfBuilder, ArrayBuilder, ObjectBuilder, SchemaType};
    let anything = ObjectBuilder::new().schema_type(SchemaType::AnyValue);
    let item = AnyOfBuilder::new()
        .item(utoipa::openapi::Ref::from_schema_name(T::name()))
        .item(anything)
        .description(Some(format!(
            "A `{}`; anything else is reported in `rejected_rows` (or refuses an atomic batch)",
            T::name()
        )));
    ArrayBuilder::new()
        .items(item)
        .min_items(Some(1))
        .max_items(Some(MAX_BATCH))
        .into()
}

/// Declares a named batch schema over a record type.
macro_rules! batch_of {
    ($(#[doc = $doc:literal])* $name:ident => $record:ty) => {
        $(#[doc = $doc])*
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                $crate::registry::sync::batch::batch_schema::<$record>()
            }
        }

        impl utoipa::ToSchema for $name {
            fn schemas(
                schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>,
            ) {
                schemas.push((<$record as utoipa::ToSchema>::name().into_owned(), <$record as utoipa::PartialSchema>::schema()));
                <$record as utoipa::ToSchema>::schemas(schemas);
            }
        }
    };
}
pub(crate) use batch_of;

/// Why one record of a batch was not applied.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RowReport {
    /// 0-based position of the record in the batch (or data line in a CSV file).
    pub index: usize,
    /// The CSV line, for imports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// The record's key (`external_id` of a student, `moet_code` of a school), when readable.
    pub key: Option<String>,
    pub errors: Vec<FieldError>,
}

/// The outcome of a batch. Rows are counted once each.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct BatchReport {
    pub inserted: usize,
    pub updated: usize,
    /// Identical to what was stored: nothing written, `version` unchanged.
    pub unchanged: usize,
    pub rejected: usize,
    /// One entry per rejected record.
    pub rejected_rows: Vec<RowReport>,
    /// Schools: pre-reform codes read through the 2025 mapping for schools
    /// already re-homed (absent when none was).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub translated: Vec<Translation>,
}

/// A pre-reform admin-unit code a record was sent with, and the new unit
/// it was read as (the school's decided successor, else the default).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Translation {
    pub key: String,
    pub from: String,
    pub to: String,
}

/// One record of a batch (or line of a file), decoded on its own.
#[derive(Debug)]
pub struct Decoded<T> {
    pub index: usize,
    /// The CSV line, for imports.
    pub line: Option<u64>,
    /// The record's key as sent, for the report.
    pub key: Option<String>,
    pub record: Result<T, Vec<FieldError>>,
}

impl BatchReport {
    /// Reports one record as rejected.
    pub fn reject(
        &mut self,
        index: usize,
        line: Option<u64>,
        key: Option<String>,
        errors: Vec<FieldError>,
    ) {
        self.rejected_rows.push(RowReport {
            index,
            line,
            key,
            errors,
        });
        self.rejected = self.rejected_rows.len();
    }

    /// With `atomic`, any rejected row refuses the whole batch.
    pub fn refuse_if_atomic(&self, atomic: bool) -> Result<(), Failure> {
        if atomic && self.rejected > 0 {
            let rows = serde_json::to_value(&self.rejected_rows).unwrap_or_default();
            return Err(Failure::invalid_field(
                "body",
                "rejected_rows",
                format!(
                    "{} record(s) are invalid and atomic=true: nothing was applied",
                    self.rejected
                ),
            )
            .with_rows(rows));
        }
        Ok(())
    }
}

/// The body must be a JSON array of 1 to [`MAX_BATCH`] records.
pub fn parse_array(body: &[u8]) -> Result<Vec<serde_json::Value>, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::malformed_json(format!(
            "the body is not valid JSON: {}",
            crate::platform::http::describe_serde(&e)
        ))
    })?;
    let serde_json::Value::Array(rows) = value else {
        return Err(ApiError::invalid_field(
            "body",
            "array",
            "the body must be a JSON array of records",
        ));
    };
    if rows.is_empty() {
        return Err(ApiError::invalid_field(
            "body",
            "empty",
            "the batch is empty",
        ));
    }
    if rows.len() > MAX_BATCH {
        return Err(ApiError::invalid_field(
            "body",
            "batch_size",
            format!(
                "a batch holds at most {MAX_BATCH} records; this one has {}: split it",
                rows.len()
            ),
        ));
    }
    Ok(rows)
}

/// Decodes and validates one record. Error messages never repeat the
/// record's values (they may be a child's name or birth date).
pub fn decode<T: DeserializeOwned + Validate>(
    value: serde_json::Value,
) -> Result<T, Vec<FieldError>> {
    let record: T = crate::platform::http::json::decode_value(value, "record")?;
    record
        .validate()
        .map_err(|errors| Failure::from(errors).errors().to_vec())?;
    Ok(record)
}

/// The key of a raw record, for the report: the sender's own identifier
/// of the row, so it can match the report to its rows. Only a key the text
/// rule accepts is repeated (in its normalised form); a key that is itself
/// refused is left out, and the row is known by its index.
pub fn raw_key(value: &serde_json::Value, field: &str) -> Option<String> {
    let key = value.get(field)?.as_str()?;
    let key = crate::platform::text::clean(key).ok()?;
    Some(key.chars().take(64).collect())
}

/// Reads a JSON array body and decodes each record; `key_field` names the
/// record's key for the report.
pub fn decode_array<T: DeserializeOwned + Validate>(
    body: &[u8],
    key_field: &str,
) -> Result<Vec<Decoded<T>>, ApiError> {
    Ok(parse_array(body)?
        .into_iter()
        .enumerate()
        .map(|(index, value)| Decoded {
            index,
            line: None,
            key: raw_key(&value, key_field),
            record: decode(value),
        })
        .collect())
}

/// How many valid records carry each key: a key seen twice makes both
/// records ambiguous.
pub fn key_counts<T>(records: &[Decoded<T>], key: impl Fn(&T) -> &str) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for record in records.iter().filter_map(|d| d.record.as_ref().ok()) {
        *counts.entry(key(record).to_owned()).or_default() += 1;
    }
    counts
}

/// What every batch endpoint shares once the caller's role and the media
/// type are checked: decode the body, then apply it in one transaction
/// together with the Idempotency-Key's claim and stored answer.
pub async fn apply<T, Parse, Apply>(
    kind: &'static str,
    state: &AppState,
    principal: Principal,
    req: &HttpRequest,
    body: web::Bytes,
    parse: Parse,
    apply: Apply,
) -> Result<HttpResponse, ApiError>
where
    T: Send + 'static,
    Parse: FnOnce(&[u8]) -> Result<Vec<Decoded<T>>, ApiError> + Send + 'static,
    Apply: FnOnce(&mut DbConn, &Principal, Vec<Decoded<T>>) -> Result<BatchReport, Failure>
        + Send
        + 'static,
{
    let key = IdempotencyKey::from_request(req, &body)?;
    let (answer, replayed) = state
        .db
        .run(move |conn| {
            // Parsing runs here, off the async workers (a roster is large);
            // a body that cannot be read is refused as a request error
            // (the inner result) before anything is stored.
            let records = match parse(&body) {
                Ok(records) => records,
                Err(refused) => return Ok(Err(refused)),
            };
            let actor = principal.actor();
            let mut rows = None;
            let answer = idempotency::run_once(conn, &actor, key.as_ref(), |conn| {
                let report = apply(conn, &principal, records)?;
                rows = Some((
                    report.inserted + report.updated + report.unchanged,
                    report.rejected,
                ));
                idempotency::json_answer(&report)
            })?;
            // Counted once committed; a replayed answer applied nothing.
            if let Some((accepted, rejected)) = rows {
                crate::platform::metrics::count_sync_rows(kind, accepted as u64, rejected as u64);
            }
            Ok(Ok(answer))
        })
        .await??;
    Ok(answer.into_response(replayed))
}
