//! The spreadsheet format of students: UTF-8 CSV with a header line naming
//! [`HEADERS`] (any order; extra columns, such as those of an export, are
//! ignored). Each line becomes the same record a sync batch carries, so
//! both go through one validation.

use serde_json::{Map, Value};

use super::model::{Student, StudentRecord};
use crate::platform::error::{Failure, FieldError};
use crate::platform::http::tabular::CsvOut;
use crate::platform::http::ApiError;
use crate::registry::sync::batch;
use crate::registry::sync::batch::Decoded;

pub const HEADERS: [&str; 9] = [
    "external_id",
    "school_code",
    "grade",
    "full_name",
    "birth_date",
    "gender",
    "household_status",
    "device_status",
    "connectivity_status",
];

/// Most data lines one import may carry (a district at a time).
pub const MAX_LINES: usize = 50_000;

/// Reads the file into records; a line that cannot be read (bad UTF-8,
/// wrong number of fields) becomes a rejected record naming its line.
pub fn parse(bytes: &[u8]) -> Result<Vec<Decoded<StudentRecord>>, ApiError> {
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let mut lines_of_file = crate::platform::text::CsvLines::new(bytes);
    let header = reader
        .headers()
        .map_err(|e| {
            ApiError::validation(vec![
                FieldError::new("header", "unreadable", e.to_string()).on_line(1)
            ])
        })?
        .clone();
    let positions: Vec<Option<usize>> = HEADERS
        .iter()
        .map(|name| header.iter().position(|h| h == *name))
        .collect();
    let missing: Vec<&str> = HEADERS
        .iter()
        .zip(&positions)
        .filter(|(_, p)| p.is_none())
        .map(|(n, _)| *n)
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::validation(vec![FieldError::new(
            "header",
            "missing_columns",
            format!(
                "the header lacks: {} (expected: {})",
                missing.join(", "),
                HEADERS.join(",")
            ),
        )
        .on_line(1)]));
    }

    let mut records = Vec::new();
    for (index, result) in reader.records().enumerate() {
        if index >= MAX_LINES {
            return Err(ApiError::invalid_field(
                "body",
                "too_many_lines",
                format!("an import holds at most {MAX_LINES} lines; split the file"),
            ));
        }
        let record = match result {
            Ok(record) => record,
            Err(e) => {
                let line = e.position().map(|p| lines_of_file.line(p));
                // The csv error text names the position only, never the content.
                let message = match e.kind() {
                    csv::ErrorKind::Utf8 { .. } => "the line is not valid UTF-8".to_owned(),
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => {
                        format!("expected {expected_len} fields, found {len}")
                    }
                    _ => "the line cannot be read".to_owned(),
                };
                records.push(Decoded {
                    index,
                    line,
                    key: None,
                    record: Err(vec![FieldError::new("line", "unreadable", message)]),
                });
                continue;
            }
        };
        let line = record.position().map(|p| lines_of_file.line(p));
        let mut object = Map::new();
        for (name, position) in HEADERS.iter().zip(&positions) {
            // A cell this service exported with a protective apostrophe
            // reads back as it was.
            let text = crate::platform::http::tabular::unneutralise(
                position.and_then(|p| record.get(p)).unwrap_or(""),
            );
            let value = match (*name, text.parse::<i64>()) {
                ("grade", Ok(number)) => Value::from(number),
                _ => Value::from(text),
            };
            object.insert((*name).to_owned(), value);
        }
        let value = Value::Object(object);
        let key = batch::raw_key(&value, "external_id");
        records.push(Decoded {
            index,
            line,
            key,
            record: batch::decode::<StudentRecord>(value),
        });
    }
    if records.is_empty() {
        return Err(ApiError::invalid_field(
            "body",
            "empty",
            "the file has no data lines",
        ));
    }
    Ok(records)
}

/// Writes students in the import format plus `active` and `version`.
pub fn write(students: &[Student], out: &mut CsvOut) -> Result<(), Failure> {
    for s in students {
        out.row([
            s.external_id.as_str(),
            s.school_code.as_str(),
            &s.grade.to_string(),
            s.full_name.as_str(),
            &s.birth_date.to_string(),
            s.gender.as_str(),
            s.household_status.as_str(),
            s.device_status.as_str(),
            s.connectivity_status.as_str(),
            if s.active { "true" } else { "false" },
            &s.version.to_string(),
        ])?;
    }
    Ok(())
}

/// A new export file: the import format's header plus `active` and `version`.
pub fn export_file() -> Result<CsvOut, Failure> {
    let mut header: Vec<&str> = HEADERS.to_vec();
    header.extend(["active", "version"]);
    CsvOut::new(&header)
}
