//! Tables out: statistics answer JSON by default, CSV with `Accept:
//! text/csv` or `?format=csv`, and an Excel workbook with `?format=xlsx`
//! (rust_xlsxwriter) for officers who live in spreadsheets.
//!
//! One CSV writer for the whole service ([`CsvOut`]): UTF-8 with a byte
//! order mark (so Excel reads Vietnamese right), a header row even when
//! there are no rows, and every text cell that a spreadsheet would run as a
//! formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage return,
//! and not a plain number) written with a leading apostrophe. Workbooks are
//! written from typed cells: the columns and their types come from the row
//! type's documented schema, so codes such as `04831` stay text, counts are
//! numbers, dates are dates, and a school named "inf" is a name.

use std::borrow::Cow;

use actix_web::http::header::ACCEPT;
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;
use serde_json::Value;
use utoipa::openapi::schema::{Schema, SchemaFormat, SchemaType, Type};
use utoipa::openapi::{KnownFormat, RefOr};

use crate::platform::db::text_enum;
use crate::platform::error::Failure;
use crate::platform::http::ApiError;

text_enum! {
    /// The form of a table: `?format=` on statistics and exports.
    pub enum Format {
        /// The JSON document described for the operation.
        Json => "json",
        /// UTF-8 CSV (with a byte order mark) with a header row.
        Csv => "csv",
        /// An Excel workbook with one sheet.
        Xlsx => "xlsx",
    }
}

text_enum! {
    /// The language of a table's column titles.
    pub enum Lang {
        /// The field names of the JSON document.
        En => "en",
        /// Vietnamese titles.
        Vi => "vi",
    }
}

text_enum! {
    /// The form of a table that also has a picture: `?format=` on the
    /// statistics that draw a chart (coverage, donations, time series).
    pub enum TableOrChart {
        /// The JSON document described for the operation.
        Json => "json",
        /// UTF-8 CSV (with a byte order mark) with a header row.
        Csv => "csv",
        /// An Excel workbook with one sheet.
        Xlsx => "xlsx",
        /// An SVG chart of the figures, titled and dated (`lang=en`: in English).
        Svg => "svg",
    }
}

impl TableOrChart {
    /// The table's form; `None` when the chart is asked for.
    pub fn table(self) -> Option<Format> {
        match self {
            TableOrChart::Json => Some(Format::Json),
            TableOrChart::Csv => Some(Format::Csv),
            TableOrChart::Xlsx => Some(Format::Xlsx),
            TableOrChart::Svg => None,
        }
    }
}

/// A chart as the answer: SVG, which proxies and scripts may keep a minute.
pub fn svg_response(svg: String) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header(("Cache-Control", "private, max-age=60"))
        .body(svg)
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

/// A text cell a spreadsheet could run as a formula, made inert: a leading
/// apostrophe, which spreadsheets show as nothing and read as "text".
/// Plain numbers (`-5`, `12.5`) are left as they are.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    let risky = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let number = cell.parse::<f64>().is_ok_and(f64::is_finite)
        && cell
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'-' || b == b'.');
    if risky && !number {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// Undoes [`neutralise`] when a file this service wrote is read back.
pub fn unneutralise(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
        _ => cell,
    }
}

/// The one CSV writer (see the module's notes).
pub struct CsvOut {
    writer: csv::Writer<Vec<u8>>,
}

impl CsvOut {
    /// A file with its byte order mark and header row.
    pub fn new<S: AsRef<str>>(header: &[S]) -> Result<Self, Failure> {
        let mut buffer = Vec::with_capacity(64 * 1024);
        buffer.extend_from_slice("\u{FEFF}".as_bytes());
        let mut out = Self {
            writer: csv::Writer::from_writer(buffer),
        };
        out.row(header.iter().map(|h| h.as_ref()))?;
        Ok(out)
    }

    /// One row; every cell is neutralised.
    pub fn row<'a>(&mut self, cells: impl IntoIterator<Item = &'a str>) -> Result<(), Failure> {
        self.writer
            .write_record(
                cells
                    .into_iter()
                    .map(|c| neutralise(c).into_owned().into_bytes()),
            )
            .map_err(|e| Failure::internal(format!("cannot write CSV: {e}")))
    }

    pub fn finish(self) -> Result<Vec<u8>, Failure> {
        self.writer
            .into_inner()
            .map_err(|e| Failure::internal(format!("cannot finish CSV: {e}")))
    }
}

/// A CSV download.
pub fn csv_response(name: &str, body: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{name}.csv\""),
        ))
        .body(body)
}

/// How a column's cells are written to a workbook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Number,
    Date,
    DateTime,
}

/// The columns of rows of type `R`: its documented properties, in order.
fn columns<R: utoipa::ToSchema>() -> Vec<(String, Kind)> {
    let RefOr::T(Schema::Object(object)) = R::schema() else {
        return Vec::new();
    };
    object
        .properties
        .iter()
        .map(|(name, schema)| {
            let kind = match schema {
                RefOr::T(Schema::Object(o)) => {
                    let numeric = |t: &Type| matches!(t, Type::Integer | Type::Number);
                    let is_number = match &o.schema_type {
                        SchemaType::Type(t) => numeric(t),
                        SchemaType::Array(types) => types.iter().any(numeric),
                        _ => false,
                    };
                    match &o.format {
                        Some(SchemaFormat::KnownFormat(KnownFormat::Date)) => Kind::Date,
                        Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)) => Kind::DateTime,
                        _ if is_number => Kind::Number,
                        _ => Kind::Text,
                    }
                }
                _ => Kind::Text,
            };
            (name.clone(), kind)
        })
        .collect()
}

/// A cell's text, as CSV writes it.
fn text_of(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The rows as JSON objects, for both file forms.
fn to_values<R: Serialize>(rows: &[R]) -> Result<Vec<Value>, ApiError> {
    rows.iter()
        .map(|r| serde_json::to_value(r).map_err(|e| ApiError::internal(e.to_string())))
        .collect()
}

fn csv_bytes<R: Serialize + utoipa::ToSchema>(rows: &[R], lang: Lang) -> Result<Vec<u8>, ApiError> {
    let columns = columns::<R>();
    let titles: Vec<&str> = columns.iter().map(|(n, _)| title(n, lang)).collect();
    let mut out = CsvOut::new(&titles)?;
    for value in to_values(rows)? {
        let cells: Vec<String> = columns.iter().map(|(n, _)| text_of(&value[n])).collect();
        out.row(cells.iter().map(String::as_str))?;
    }
    Ok(out.finish()?)
}

fn xlsx_bytes<R: Serialize + utoipa::ToSchema>(
    rows: &[R],
    sheet: &str,
    lang: Lang,
) -> Result<Vec<u8>, ApiError> {
    use rust_xlsxwriter::{ExcelDateTime, Format as CellFormat, Workbook};
    let fail =
        |e: rust_xlsxwriter::XlsxError| ApiError::internal(format!("cannot write XLSX: {e}"));
    let columns = columns::<R>();
    let mut workbook = Workbook::new();
    let worksheet = workbook.add_worksheet();
    worksheet.set_name(sheet).map_err(fail)?;
    let bold = CellFormat::new().set_bold();
    let date = CellFormat::new().set_num_format("yyyy-mm-dd");
    let datetime = CellFormat::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    for (c, (name, _)) in columns.iter().enumerate() {
        worksheet
            .write_string_with_format(0, c as u16, title(name, lang), &bold)
            .map_err(fail)?;
    }
    for (r, value) in to_values(rows)?.iter().enumerate() {
        let row = r as u32 + 1;
        for (c, (name, kind)) in columns.iter().enumerate() {
            let col = c as u16;
            let cell = &value[name];
            match (kind, cell) {
                (_, Value::Null) => {}
                (Kind::Number, Value::Number(n)) => {
                    worksheet
                        .write_number(row, col, n.as_f64().unwrap_or_default())
                        .map_err(fail)?;
                }
                (Kind::Date, Value::String(s)) => {
                    let parsed = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                        .ok()
                        .and_then(|d| {
                            use chrono::Datelike;
                            ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8)
                                .ok()
                        });
                    match parsed {
                        Some(d) => worksheet.write_datetime_with_format(row, col, d, &date),
                        None => worksheet.write_string(row, col, s),
                    }
                    .map_err(fail)?;
                }
                (Kind::DateTime, Value::String(s)) => {
                    let trimmed: String = s.chars().take(19).collect();
                    match ExcelDateTime::parse_from_str(&trimmed) {
                        Ok(d) => worksheet.write_datetime_with_format(row, col, d, &datetime),
                        Err(_) => worksheet.write_string(row, col, s),
                    }
                    .map_err(fail)?;
                }
                _ => {
                    worksheet
                        .write_string(row, col, text_of(cell))
                        .map_err(fail)?;
                }
            }
        }
    }
    worksheet.autofit();
    workbook.save_to_buffer().map_err(fail)
}

/// Answers `json` as JSON, or `rows` as CSV or XLSX named `name`, with
/// column titles in `lang`.
pub fn respond<J: Serialize, R: Serialize + utoipa::ToSchema>(
    format: Format,
    lang: Option<Lang>,
    name: &str,
    json: &J,
    rows: &[R],
) -> Result<HttpResponse, ApiError> {
    let lang = lang.unwrap_or(Lang::En);
    match format {
        Format::Json => Ok(HttpResponse::Ok().json(json)),
        Format::Csv => Ok(csv_response(name, csv_bytes(rows, lang)?)),
        Format::Xlsx => Ok(HttpResponse::Ok()
            .content_type(XLSX)
            .insert_header((
                "Content-Disposition",
                format!("attachment; filename=\"{name}.xlsx\""),
            ))
            .body(xlsx_bytes(rows, name, lang)?)),
    }
}

/// A column's title: the field name, or its Vietnamese title.
pub fn title(field: &str, lang: Lang) -> &str {
    if lang == Lang::En {
        return field;
    }
    VIETNAMESE
        .iter()
        .find(|(name, _)| *name == field)
        .map_or(field, |(_, title)| title)
}

/// Vietnamese column titles of the tables the service writes.
const VIETNAMESE: &[(&str, &str)] = &[
    ("key", "Mã"),
    ("level", "Cấp học"),
    ("offer_id", "Mã nền tảng"),
    ("product", "Nền tảng"),
    ("schools", "Số trường"),
    ("handed_over", "Thiết bị đã trao"),
    ("with_current_profile", "Có hồ sơ an toàn hiện hành"),
    ("with_older_profile", "Hồ sơ cũ hoặc chưa đủ"),
    ("without_profile", "Chưa có hồ sơ an toàn"),
    ("name", "Tên"),
    ("students", "Số học sinh"),
    ("with_device", "Có thiết bị"),
    ("with_connectivity", "Có kết nối"),
    ("ready", "Sẵn sàng học trực tuyến"),
    ("percent_ready", "Tỷ lệ sẵn sàng (%)"),
    ("open_device_needs", "Nhu cầu thiết bị đang mở"),
    ("open_connectivity_needs", "Nhu cầu kết nối đang mở"),
    ("open_data_package_needs", "Nhu cầu gói cước đang mở"),
    ("open_software_needs", "Nhu cầu phần mềm đang mở"),
    ("needs_reported", "Nhu cầu đã báo"),
    ("needs_verified", "Nhu cầu đã xác minh"),
    ("needs_approved", "Nhu cầu đã duyệt"),
    ("needs_allocated", "Nhu cầu đã phân bổ"),
    ("needs_fulfilled", "Nhu cầu đã đáp ứng"),
    ("kind", "Loại"),
    ("pledged", "Đã cam kết"),
    ("pledged_earmarked", "Cam kết có chỉ định"),
    ("pledged_general", "Cam kết chung"),
    ("received_as_gifts", "Đã nhận tặng"),
    ("bought", "Đã mua"),
    ("awaiting_intake", "Chờ nhập kho"),
    ("in_stock", "Tồn kho"),
    ("allocated", "Đã phân bổ"),
    ("handed_over", "Đã bàn giao"),
    ("returned", "Đã trả lại"),
    ("written_off", "Đã thanh lý"),
    ("spent", "Đã chi"),
    ("warehouse_id", "Mã kho"),
    ("stock", "Hàng"),
    ("status", "Trạng thái"),
    ("count", "Số lượng"),
    ("average_age_days", "Tuổi bình quân (ngày)"),
    ("period", "Kỳ"),
    ("cumulative", "Lũy kế"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_made_inert_and_read_back() {
        for risky in [
            "=HYPERLINK(\"x\")",
            "+1+1",
            "-2+3",
            "@SUM(A1)",
            "\tx",
            "\rx",
        ] {
            let inert = neutralise(risky);
            assert!(inert.starts_with('\''), "{risky:?}");
            assert_eq!(unneutralise(&inert), risky);
        }
        for plain in ["-5", "12.5", "Nguyễn Thị Lan", "04831"] {
            assert_eq!(neutralise(plain), plain);
        }
    }

    #[test]
    fn csv_has_a_byte_order_mark_and_a_header_even_when_empty() {
        let out = CsvOut::new(&["a", "b"]).unwrap().finish().unwrap();
        assert_eq!(out, "\u{FEFF}a,b\n".as_bytes());
    }
}
