//! What every batch write shares (sync endpoints and CSV imports): reading
//! the array, decoding each record on its own, the per-row report, and the
//! size limit.

use serde::de::DeserializeOwned;
use serde::Serialize;
use utoipa::ToSchema;
use validator::Validate;

use crate::error::{ApiError, FieldError};

/// Most records one batch may carry.
pub const MAX_BATCH: usize = 5_000;

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
}

impl BatchReport {
    /// With `atomic`, any rejected row refuses the whole batch.
    pub fn refuse_if_atomic(&self, atomic: bool) -> Result<(), ApiError> {
        if atomic && self.rejected > 0 {
            let rows = serde_json::to_value(&self.rejected_rows).unwrap_or_default();
            return Err(ApiError::invalid_field(
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
            crate::http::describe_serde(&e)
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
    let record: T = serde_json::from_value(value).map_err(|e| {
        vec![FieldError::new(
            "record",
            "invalid",
            crate::http::describe_serde(&e),
        )]
    })?;
    record
        .validate()
        .map_err(|errors| ApiError::from(errors).errors().to_vec())?;
    Ok(record)
}

/// The key of a raw record, for the report.
pub fn raw_key(value: &serde_json::Value, field: &str) -> Option<String> {
    value
        .get(field)
        .and_then(|v| v.as_str())
        .map(|s| s.chars().take(64).collect())
}
