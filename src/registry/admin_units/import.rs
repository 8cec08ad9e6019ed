//! Reading an admin-unit CSV (`code,parent_code,level,name`, UTF-8, the GSO
//! files in `data/`) and checking the tree it would produce. Every problem
//! names its line; one bad line rejects the whole file.

use std::collections::HashMap;

use super::model::{AdminUnitRow, Level};
use super::scheme::Scheme;
use crate::platform::error::{Failure, FieldError};

const HEADER: [&str; 4] = ["code", "parent_code", "level", "name"];
/// Stop collecting after this many problems: the file needs fixing anyway.
const MAX_REPORTED: usize = 100;

/// One data line of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitLine {
    pub line: u64,
    pub code: String,
    pub parent_code: Option<String>,
    pub level: Level,
    pub name: String,
}

/// Parses a file of the pre-reform tree (`vn2008`, bare codes).
pub fn parse(bytes: &[u8]) -> Result<Vec<UnitLine>, Failure> {
    parse_in(bytes, Scheme::Vn2008)
}

/// Parses a file of `scheme`'s tree: the file holds GSO codes, stored
/// with the scheme's prefix. On any bad line, a 422 listing every bad line.
pub fn parse_in(bytes: &[u8], scheme: Scheme) -> Result<Vec<UnitLine>, Failure> {
    let records = data_lines(bytes, &HEADER)?;

    let mut units = Vec::new();
    let mut errors = Vec::new();
    let mut first_line_of: HashMap<String, u64> = HashMap::new();
    for record in records {
        if errors.len() >= MAX_REPORTED {
            break;
        }
        let (line, record) = match record {
            Ok(found) => found,
            Err(error) => {
                errors.push(error);
                continue;
            }
        };
        match check_line(line, &record[0], &record[1], &record[2], &record[3]) {
            Ok(mut unit) => {
                unit.code = scheme.qualify(&unit.code);
                unit.parent_code = unit.parent_code.map(|parent| scheme.qualify(&parent));
                if let Some(first) = first_line_of.insert(unit.code.clone(), line) {
                    errors.push(
                        FieldError::new(
                            "code",
                            "duplicate",
                            format!("code {} is already on line {first}", unit.code),
                        )
                        .on_line(line),
                    );
                } else {
                    units.push(unit);
                }
            }
            Err(mut line_errors) => errors.append(&mut line_errors),
        }
    }
    if !errors.is_empty() {
        return Err(Failure::validation(errors));
    }
    if units.is_empty() {
        return Err(file_error(2, "line", "empty", "the file has no data lines"));
    }
    Ok(units)
}

fn check_line(
    line: u64,
    code: &str,
    parent: &str,
    level: &str,
    name: &str,
) -> Result<UnitLine, Vec<FieldError>> {
    let mut errors = Vec::new();
    if code.is_empty() || code.len() > 16 || !code.bytes().all(|b| b.is_ascii_digit()) {
        errors.push(
            FieldError::new("code", "format", "must be 1 to 16 digits (a GSO code)").on_line(line),
        );
    }
    if !parent.is_empty() && (parent.len() > 16 || !parent.bytes().all(|b| b.is_ascii_digit())) {
        errors.push(
            FieldError::new("parent_code", "format", "must be empty or 1 to 16 digits")
                .on_line(line),
        );
    }
    let level = match level.parse::<Level>() {
        Ok(level) => Some(level),
        Err(message) => {
            errors.push(FieldError::new("level", "unknown", message).on_line(line));
            None
        }
    };
    if name.is_empty() || name.chars().count() > 200 {
        errors.push(FieldError::new("name", "length", "must be 1 to 200 characters").on_line(line));
    }
    match level {
        Some(Level::Province) if !parent.is_empty() => errors.push(
            FieldError::new("parent_code", "province_parent", "a province has no parent")
                .on_line(line),
        ),
        Some(Level::District | Level::Commune) if parent.is_empty() => errors.push(
            FieldError::new(
                "parent_code",
                "required",
                "only a province may have no parent",
            )
            .on_line(line),
        ),
        _ => {}
    }
    match (level, errors.is_empty()) {
        (Some(level), true) => Ok(UnitLine {
            line,
            code: code.to_owned(),
            parent_code: (!parent.is_empty()).then(|| parent.to_owned()),
            level,
            name: name.to_owned(),
        }),
        _ => Err(errors),
    }
}

/// Checks the tree that results from applying `lines` over `existing`: every
/// parent exists (in the file or already stored) and sits above its child
/// (a district under a province; a commune under a district or, after the
/// 2025 reform, directly under a province).
pub fn check_tree(
    lines: &[UnitLine],
    existing: &HashMap<String, AdminUnitRow>,
) -> Result<(), Failure> {
    let mut levels: HashMap<&str, Level> = existing
        .iter()
        .map(|(code, row)| (code.as_str(), row.level))
        .collect();
    for unit in lines {
        levels.insert(&unit.code, unit.level);
    }
    let mut errors = Vec::new();
    let mut check = |code: &str, parent: Option<&str>, level: Level, line: Option<u64>| {
        let Some(parent) = parent else { return };
        let problem = match levels.get(parent) {
            None => Some((
                "unknown_parent",
                format!("parent {parent} of {code} is neither in the file nor stored"),
            )),
            Some(parent_level) if !fits_under(level, *parent_level) => Some((
                "parent_level",
                format!("a {level} cannot sit under the {parent_level} {parent}"),
            )),
            _ => None,
        };
        if let Some((kind, message)) = problem {
            let error = FieldError::new("parent_code", kind, message);
            errors.push(match line {
                Some(line) => error.on_line(line),
                None => error,
            });
        }
    };
    for unit in lines {
        check(
            &unit.code,
            unit.parent_code.as_deref(),
            unit.level,
            Some(unit.line),
        );
    }
    // Stored units whose parent's level the file changes.
    let in_file: HashMap<&str, &UnitLine> = lines.iter().map(|u| (u.code.as_str(), u)).collect();
    for row in existing.values() {
        if in_file.contains_key(row.code.as_str()) {
            continue;
        }
        if row
            .parent_code
            .as_deref()
            .is_some_and(|p| in_file.contains_key(p))
        {
            check(&row.code, row.parent_code.as_deref(), row.level, None);
        }
    }
    errors.truncate(MAX_REPORTED);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Failure::validation(errors))
    }
}

fn fits_under(child: Level, parent: Level) -> bool {
    matches!(
        (parent, child),
        (Level::Province, Level::District)
            | (Level::Province, Level::Commune)
            | (Level::District, Level::Commune)
    )
}

/// The data lines of a UTF-8 CSV file (a byte-order mark is skipped) whose
/// first line must be `header`: each with its line number, or the error
/// naming a line that cannot be read or has the wrong number of columns.
/// The admin-unit and mapping files share it.
pub(super) fn data_lines<'a>(
    bytes: &'a [u8],
    header: &[&str],
) -> Result<impl Iterator<Item = Result<(u64, csv::StringRecord), FieldError>> + 'a, Failure> {
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(bytes);
    let found = reader
        .headers()
        .map_err(|e| file_error(1, "header", "unreadable", &e.to_string()))?
        .clone();
    if found.iter().collect::<Vec<_>>() != header {
        return Err(file_error(
            1,
            "header",
            "header",
            &format!("the first line must be `{}`", header.join(",")),
        ));
    }
    let columns = header.len();
    let mut lines = crate::platform::text::CsvLines::new(bytes);
    Ok(reader.into_records().map(move |record| {
        let record = record.map_err(|e| {
            let line = e.position().map(|p| lines.line(p)).unwrap_or(0);
            FieldError::new("line", "unreadable", e.to_string()).on_line(line)
        })?;
        let line = record.position().map(|p| lines.line(p)).unwrap_or(0);
        if record.len() != columns {
            return Err(FieldError::new(
                "line",
                "columns",
                format!("expected {columns} columns, found {}", record.len()),
            )
            .on_line(line));
        }
        Ok((line, record))
    }))
}

fn file_error(line: u64, field: &str, code: &str, message: &str) -> Failure {
    Failure::validation(vec![FieldError::new(field, code, message).on_line(line)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_shipped_hoa_binh_file() {
        let lines =
            parse(include_bytes!("../../../data/admin_units_hoa_binh.csv")).expect("valid file");
        assert_eq!(lines.len(), 162);
        assert_eq!(
            lines.iter().filter(|u| u.level == Level::District).count(),
            10
        );
        check_tree(&lines, &HashMap::new()).expect("consistent tree");
    }

    #[test]
    fn names_each_bad_line() {
        let csv = "code,parent_code,level,name\n17,,province,Tỉnh Hoà Bình\n150,17,hamlet,X\n151,,district,Y\n17,,province,Again\n";
        let error = parse(csv.as_bytes()).unwrap_err();
        let lines: Vec<(u64, &str)> = error
            .errors()
            .iter()
            .map(|e| (e.line.unwrap(), e.code.as_str()))
            .collect();
        assert_eq!(
            lines,
            vec![(3, "unknown"), (4, "required"), (5, "duplicate")]
        );
    }

    #[test]
    fn reads_the_shipped_2025_file_as_a_two_level_tree_of_its_own() {
        let lines = parse_in(
            include_bytes!("../../../data/admin_units_vn_2025.csv"),
            Scheme::Vn2025,
        )
        .expect("valid file");
        assert_eq!(lines.len(), 34 + 3321);
        assert_eq!(
            lines.iter().filter(|u| u.level == Level::District).count(),
            0
        );
        let tan_hoa = lines.iter().find(|u| u.code == "vn2025:04792").unwrap();
        assert_eq!(tan_hoa.parent_code.as_deref(), Some("vn2025:25"));
        check_tree(&lines, &HashMap::new()).expect("every commune under its province");
    }

    #[test]
    fn rejects_a_wrong_header() {
        let error = parse(b"ma,cha,cap,ten\n1,,province,A\n").unwrap_err();
        assert_eq!(error.errors()[0].code, "header");
    }

    #[test]
    fn tree_allows_two_levels_and_rejects_inversions() {
        let two_levels =
            parse("code,parent_code,level,name\n17,,province,P\n04789,17,commune,C\n".as_bytes())
                .unwrap();
        check_tree(&two_levels, &HashMap::new()).expect("commune under province is allowed");

        let inverted = parse(
            "code,parent_code,level,name\n17,,province,P\n1,2,district,D\n2,17,commune,C\n"
                .as_bytes(),
        )
        .unwrap();
        let error = check_tree(&inverted, &HashMap::new()).unwrap_err();
        assert_eq!(error.errors()[0].code, "parent_level");
        assert_eq!(error.errors()[0].line, Some(3));
    }
}
