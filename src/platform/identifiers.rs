//! Identifiers people type in many ways, each kept in one canonical form
//! so that one donor or supplier is one record: a Vietnamese phone number
//! (`0912 345 670`, `0912.345.670`, `+84 912 345 670` are one number, kept
//! as `+84912345670`) and a tax code (`0100 109 106` is `0100109106`).
//! Parsed where the JSON is read; anything else is refused with 422.
//!
//! Written here rather than with a phone-number library: only Vietnamese
//! numbers (and E.164 numbers from abroad, kept as given) matter, and the
//! libphonenumber port would add a 15 MB crate with an XML build step.

use serde::{Deserialize, Serialize};

/// The characters people put between digits.
fn is_separator(c: char) -> bool {
    matches!(c, ' ' | '.' | '-' | '(' | ')')
}

/// A phone number in E.164 form (`+84912345670`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Phone(String);

impl Phone {
    /// The canonical form of `text`, if it is a phone number: a Vietnamese
    /// number written nationally (`0` and 9 or 10 digits) or with its
    /// country code (`84…`, `+84…`, `0084…`), or any other E.164 number
    /// (`+` and 8 to 15 digits).
    pub fn parse(text: &str) -> Option<Self> {
        if text.chars().count() > 24 {
            return None;
        }
        if !text
            .chars()
            .all(|c| c.is_ascii_digit() || c == '+' || is_separator(c))
        {
            return None;
        }
        let compact: String = text.chars().filter(|c| !is_separator(*c)).collect();
        let national = |digits: &str| {
            (digits.len() == 9 || digits.len() == 10) && digits.bytes().all(|b| b.is_ascii_digit())
        };
        let canonical = if let Some(rest) = compact.strip_prefix("+84") {
            national(rest.trim_start_matches('0'))
                .then(|| format!("+84{}", rest.trim_start_matches('0')))
        } else if let Some(rest) = compact.strip_prefix("0084") {
            national(rest).then(|| format!("+84{rest}"))
        } else if let Some(rest) = compact.strip_prefix('+') {
            ((8..=15).contains(&rest.len()) && rest.bytes().all(|b| b.is_ascii_digit()))
                .then(|| compact.clone())
        } else if let Some(rest) = compact.strip_prefix('0') {
            national(rest).then(|| format!("+84{rest}"))
        } else if let Some(rest) = compact.strip_prefix("84") {
            national(rest).then(|| format!("+84{rest}"))
        } else {
            None
        }?;
        Some(Self(canonical))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Phone {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Phone::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(
                "must be a phone number: a Vietnamese number (0912 345 670, +84 912 345 670) or +country code and digits",
            )
        })
    }
}

impl utoipa::PartialSchema for Phone {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(r"^[+0-9 ().-]{8,24}$"))
            .max_length(Some(24))
            .description(Some(
                "A phone number as people write it (0912 345 670, 0912.345.670, +84 912 345 670); kept and shown as +84912345670",
            ))
            .examples(["0912 345 670"])
            .into()
    }
}

impl utoipa::ToSchema for Phone {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("Phone")
    }
}

/// A Vietnamese tax code: 10 digits, or 10 digits, a dash and the 3 digits
/// of a branch (`0100109106-001`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct TaxCode(String);

impl TaxCode {
    pub fn parse(text: &str) -> Option<Self> {
        if text.chars().count() > 20
            || !text
                .chars()
                .all(|c| c.is_ascii_digit() || c == ' ' || c == '-')
        {
            return None;
        }
        let compact: String = text.chars().filter(|c| *c != ' ').collect();
        let (main, branch) = match compact.split_once('-') {
            Some((main, branch)) => (main, Some(branch)),
            None => (compact.as_str(), None),
        };
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        let valid = digits(main, 10) && branch.is_none_or(|b| digits(b, 3));
        valid.then_some(Self(compact))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for TaxCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        TaxCode::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(
                "must be a tax code: 10 digits, or 10 digits, a dash and 3 digits (spaces allowed)",
            )
        })
    }
}

impl utoipa::PartialSchema for TaxCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(r"^[0-9 -]{10,20}$"))
            .max_length(Some(20))
            .description(Some(
                "A tax code: 10 digits, or 10 digits, a dash and the branch's 3 digits; spaces are dropped",
            ))
            .examples(["5400123456"])
            .into()
    }
}

impl utoipa::ToSchema for TaxCode {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("TaxCode")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_vietnamese_number_written_four_ways_is_one_number() {
        for written in [
            "0912345670",
            "0912 345 670",
            "0912.345.670",
            "+84912345670",
            "+84 (0) 912 345 670",
            "84912345670",
            "0084912345670",
        ] {
            assert_eq!(
                Phone::parse(written).unwrap().as_str(),
                "+84912345670",
                "{written}"
            );
        }
        assert_eq!(
            Phone::parse("+33 1 23 45 67 89").unwrap().as_str(),
            "+33123456789"
        );
        for bad in [
            "12345",
            "0912abc670",
            "+84 912",
            "",
            "091234567012345678901234567",
        ] {
            assert!(Phone::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn tax_codes_lose_their_spaces_and_keep_their_branch() {
        assert_eq!(
            TaxCode::parse("0100 109 106").unwrap().as_str(),
            "0100109106"
        );
        assert_eq!(
            TaxCode::parse("0100109106 - 001").unwrap().as_str(),
            "0100109106-001"
        );
        for bad in ["010010910", "01001091066", "0100109106-01", "abc"] {
            assert!(TaxCode::parse(bad).is_none(), "{bad}");
        }
    }
}
