//! The one rule for text the service accepts, wherever it comes from (JSON
//! bodies, sync records, CSV cells, query strings, paths):
//!
//! - control characters (NUL included, except tab, line feed and carriage
//!   return), and the invisible characters that change how text reads
//!   without showing (zero-width marks, bidirectional overrides and
//!   isolates, byte-order marks inside text) are refused: PostgreSQL cannot
//!   store NUL, and the others let two different-looking records look alike
//!   or a name reorder itself in a spreadsheet;
//! - Unicode is composed (NFC): "Hòa" typed with a combining accent and
//!   "Hòa" typed precomposed are one record, one search hit;
//! - leading and trailing white space is dropped.
//!
//! Secrets (passwords, client secrets) are only checked, never changed: a
//! password is compared as it was set.

use std::borrow::Cow;

use serde_json::Value;
use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};

use crate::platform::error::FieldError;

/// Fields whose text is a secret: checked, never rewritten.
const SECRET_FIELDS: [&str; 2] = ["password", "client_secret"];

/// Whether `c` is refused in any text.
pub fn is_forbidden(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        || matches!(
            c,
            '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}'
        )
}

/// Why a text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused;

impl Refused {
    /// The problem entry for `field` (never the text itself).
    pub fn on(self, field: &str) -> FieldError {
        FieldError::new(
            field,
            "control_character",
            "must not contain control characters or invisible formatting characters",
        )
    }
}

/// The text as the service keeps it: refused if it holds a forbidden
/// character; otherwise composed (NFC) and trimmed.
pub fn clean(text: &str) -> Result<Cow<'_, str>, Refused> {
    if text.chars().any(is_forbidden) {
        return Err(Refused);
    }
    let trimmed = text.trim();
    if is_nfc_quick(trimmed.chars()) == IsNormalized::Yes {
        Ok(Cow::Borrowed(trimmed))
    } else {
        Ok(Cow::Owned(trimmed.nfc().collect()))
    }
}

/// A secret is only checked.
pub fn check_secret(text: &str) -> Result<(), Refused> {
    if text.chars().any(is_forbidden) {
        Err(Refused)
    } else {
        Ok(())
    }
}

/// Cleans every string of a JSON document in place; returns the fields
/// refused, named by their path (`devices[3].serial`).
pub fn clean_json(value: &mut Value) -> Vec<FieldError> {
    let mut refused = Vec::new();
    walk(value, String::new(), false, &mut refused);
    refused
}

fn walk(value: &mut Value, path: String, secret: bool, refused: &mut Vec<FieldError>) {
    match value {
        Value::String(text) => {
            let field = if path.is_empty() { "body" } else { &path };
            if secret {
                if let Err(e) = check_secret(text) {
                    refused.push(e.on(field));
                }
                return;
            }
            match clean(text) {
                Ok(Cow::Borrowed(same)) if same.len() == text.len() => {}
                Ok(cleaned) => *text = cleaned.into_owned(),
                Err(e) => refused.push(e.on(field)),
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                walk(item, format!("{path}[{i}]"), secret, refused);
            }
        }
        Value::Object(fields) => {
            for (name, item) in fields.iter_mut() {
                let child = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                let secret = SECRET_FIELDS.contains(&name.as_str());
                walk(item, child, secret, refused);
            }
        }
        _ => {}
    }
}

/// `word` with its first letter upper case and the rest lower case, the
/// way a Vietnamese name or the first word of a sentence is written
/// ("nguyễn" and "NGUYỄN" become "Nguyễn").
pub fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first
            .to_uppercase()
            .chain(chars.flat_map(char::to_lowercase))
            .collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn composed_and_decomposed_text_become_one() {
        let decomposed = "HB-Ho\u{0300}a";
        assert_eq!(clean(decomposed).unwrap(), "HB-Hòa");
        assert_eq!(clean("  17150001 ").unwrap(), "17150001");
        assert!(matches!(clean("Hòa"), Ok(Cow::Borrowed(_))));
    }

    #[test]
    fn control_and_invisible_characters_are_refused() {
        for bad in [
            "admin\u{0000}",
            "a\u{0007}b",
            "\u{202E}evil",
            "zero\u{200B}width",
            "x\u{FEFF}",
            "\u{0085}",
        ] {
            assert_eq!(clean(bad), Err(Refused), "{bad:?}");
        }
        assert!(clean("dòng 1\ndòng 2\tcột").is_ok());
    }

    #[test]
    fn json_fields_are_cleaned_and_named_and_secrets_left_alone() {
        let mut body = json!({
            "full_name": " Nguye\u{0302}\u{0303}n Lan ",
            "password": "  keep  me \u{0301} ",
            "devices": [{"serial": "ok"}, {"serial": "bad\u{0000}"}],
        });
        let refused = clean_json(&mut body);
        assert_eq!(body["full_name"], "Nguyễn Lan");
        assert_eq!(body["password"], "  keep  me \u{0301} ");
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].field, "devices[1].serial");
        assert!(!refused[0].message.contains("bad"));
    }
}

/// The lines (1-based) CSV records of one file start on, for messages that
/// name them. The csv crate's own count lags by one in files with CRLF
/// line ends (spreadsheets on Windows write them): it counts a line's LF
/// only when it starts reading the next record. So lines are counted here
/// from each record's byte offset, past the line end it may start on —
/// onward from the previous record, as records come in file order.
pub struct CsvLines<'a> {
    bytes: &'a [u8],
    /// How far newlines have been counted, and how many there were.
    counted_to: usize,
    newlines: u64,
}

impl<'a> CsvLines<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            counted_to: 0,
            newlines: 0,
        }
    }

    /// The line the record at `position` starts on.
    pub fn line(&mut self, position: &csv::Position) -> u64 {
        let mut start = usize::try_from(position.byte())
            .unwrap_or(usize::MAX)
            .min(self.bytes.len());
        while matches!(self.bytes.get(start), Some(b'\r' | b'\n')) {
            start += 1;
        }
        if start < self.counted_to {
            // Out of order (an error position): count from the beginning.
            self.counted_to = 0;
            self.newlines = 0;
        }
        let counted = self.bytes[self.counted_to..start]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        self.newlines += u64::try_from(counted).unwrap_or(u64::MAX);
        self.counted_to = start;
        self.newlines + 1
    }
}

#[cfg(test)]
mod csv_line_tests {
    #[test]
    fn csv_records_are_named_by_their_line_with_either_line_end() {
        for text in ["a,b\n1,2\n\n3,4\n", "a,b\r\n1,2\r\n\r\n3,4\r\n"] {
            let bytes = text.as_bytes();
            let mut reader = csv::Reader::from_reader(bytes);
            let mut lines = super::CsvLines::new(bytes);
            let found: Vec<u64> = reader
                .records()
                .map(|r| lines.line(r.unwrap().position().unwrap()))
                .collect();
            assert_eq!(found, [2, 4], "{text:?}");
        }
    }
}
