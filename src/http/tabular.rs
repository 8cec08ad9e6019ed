//! Tables out: statistics answer JSON by default, CSV with `Accept:
//! text/csv` or `?format=csv`, and an Excel workbook with `?format=xlsx`
//! (rust_xlsxwriter) for officers who live in spreadsheets.

use actix_web::http::header::ACCEPT;
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;

use crate::db::text_enum;
use crate::error::ApiError;

text_enum! {
    /// The form of a table: `?format=` on statistics and exports.
    pub enum Format {
        /// The JSON document described for the operation.
        Json => "json",
        /// UTF-8 CSV with a header row.
        Csv => "csv",
        /// An Excel workbook with one sheet.
        Xlsx => "xlsx",
    }
}

/// The media type of an Excel workbook.
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// `?format=` wins over `Accept`; JSON when neither asks for anything else.
pub fn negotiate(req: &HttpRequest, format: Option<Format>) -> Result<Format, ApiError> {
    if let Some(format) = format {
        return Ok(format);
    }
    let accept = req
        .headers()
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    Ok(if accept.contains("text/csv") {
        Format::Csv
    } else if accept.contains("spreadsheetml") {
        Format::Xlsx
    } else {
        Format::Json
    })
}

fn csv_bytes<R: Serialize>(rows: &[R]) -> Result<Vec<u8>, ApiError> {
    let mut out = csv::Writer::from_writer(Vec::new());
    for row in rows {
        out.serialize(row)
            .map_err(|e| ApiError::internal(format!("cannot write CSV: {e}")))?;
    }
    out.into_inner()
        .map_err(|e| ApiError::internal(format!("cannot finish CSV: {e}")))
}

fn xlsx_bytes(csv: &[u8], sheet: &str) -> Result<Vec<u8>, ApiError> {
    use rust_xlsxwriter::{Format as CellFormat, Workbook};
    let fail =
        |e: rust_xlsxwriter::XlsxError| ApiError::internal(format!("cannot write XLSX: {e}"));
    let mut workbook = Workbook::new();
    let worksheet = workbook.add_worksheet();
    worksheet.set_name(sheet).map_err(fail)?;
    let bold = CellFormat::new().set_bold();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(csv);
    for (r, record) in reader.records().enumerate() {
        let record = record.map_err(|e| ApiError::internal(format!("cannot reread CSV: {e}")))?;
        for (c, value) in record.iter().enumerate() {
            let (row, col) = (r as u32, c as u16);
            match (r, value.parse::<f64>()) {
                (0, _) => worksheet
                    .write_string_with_format(row, col, value, &bold)
                    .map(|_| ()),
                (_, Ok(number)) => worksheet.write_number(row, col, number).map(|_| ()),
                (_, Err(_)) => worksheet.write_string(row, col, value).map(|_| ()),
            }
            .map_err(fail)?;
        }
    }
    workbook.save_to_buffer().map_err(fail)
}

/// Answers `json` as JSON, or `rows` as CSV or XLSX named `name`.
pub fn respond<J: Serialize, R: Serialize>(
    format: Format,
    name: &str,
    json: &J,
    rows: &[R],
) -> Result<HttpResponse, ApiError> {
    match format {
        Format::Json => Ok(HttpResponse::Ok().json(json)),
        Format::Csv => Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                "Content-Disposition",
                format!("attachment; filename=\"{name}.csv\""),
            ))
            .body(csv_bytes(rows)?)),
        Format::Xlsx => Ok(HttpResponse::Ok()
            .content_type(XLSX)
            .insert_header((
                "Content-Disposition",
                format!("attachment; filename=\"{name}.xlsx\""),
            ))
            .body(xlsx_bytes(&csv_bytes(rows)?, name)?)),
    }
}
