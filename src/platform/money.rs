//! Money: whole đồng, in one type with its bounds, and sums that cannot
//! overflow a read.
//!
//! One amount (a pledge, an instalment, a receipt, a unit price, a
//! purchase's total) is 1 to [`MAX_VND`] đồng: a trillion đồng (about
//! 40 million US dollars) is far beyond any single gift or purchase of a
//! provincial programme, keeps every total of realistic size inside
//! JavaScript's exact integers (2^53), and lets no stored combination
//! overflow a sum: money sums are computed in two halves ([`split_sum`])
//! and joined without overflow.

use diesel::dsl::sql;
use diesel::expression::SqlLiteral;
use diesel::sql_types::BigInt;
use serde::{Deserialize, Serialize};

/// The largest amount one record may carry, in đồng.
pub const MAX_VND: i64 = 1_000_000_000_000;

/// An amount of money: whole đồng, from 1 to [`MAX_VND`]. Floats, strings,
/// zero, negative and larger numbers are refused where the JSON is read.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, diesel::AsExpression,
)]
#[serde(transparent)]
#[diesel(sql_type = BigInt)]
pub struct Vnd(i64);

impl<DB> diesel::serialize::ToSql<BigInt, DB> for Vnd
where
    DB: diesel::backend::Backend,
    i64: diesel::serialize::ToSql<BigInt, DB>,
{
    fn to_sql<'b>(
        &'b self,
        out: &mut diesel::serialize::Output<'b, '_, DB>,
    ) -> diesel::serialize::Result {
        <i64 as diesel::serialize::ToSql<BigInt, DB>>::to_sql(&self.0, out)
    }
}

impl Vnd {
    pub fn new(amount: i64) -> Option<Self> {
        (1..=MAX_VND).contains(&amount).then_some(Self(amount))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl<'de> Deserialize<'de> for Vnd {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // i64 alone: serde refuses floats and strings as the wrong type.
        let amount = i64::deserialize(deserializer)?;
        Vnd::new(amount).ok_or_else(|| {
            serde::de::Error::custom("must be a whole number of đồng from 1 to 1000000000000")
        })
    }
}

impl utoipa::PartialSchema for Vnd {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Integer)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Int64,
            )))
            .minimum(Some(1))
            .maximum(Some(MAX_VND))
            .description(Some("Whole đồng, 1 to 1,000,000,000,000"))
            .into()
    }
}

impl utoipa::ToSchema for Vnd {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("Vnd")
    }
}

/// 2^32: the two halves of a money sum split each value here.
const HALF: i64 = 1 << 32;

/// The SQL of a sum of `expression` that cannot overflow: the sums of its
/// high and low halves (each value `x = (x / 2^32) · 2^32 + x % 2^32`,
/// truncating, on both backends), to be joined by [`join`]. Each half's sum
/// stays inside 64 bits for up to two billion rows whatever the values.
pub fn split_sum(expression: &str) -> (SqlLiteral<BigInt>, SqlLiteral<BigInt>) {
    (
        sql::<BigInt>(&format!(
            "CAST(COALESCE(SUM(({expression}) / {HALF}), 0) AS BIGINT)"
        )),
        sql::<BigInt>(&format!(
            "CAST(COALESCE(SUM(({expression}) % {HALF}), 0) AS BIGINT)"
        )),
    )
}

/// Joins the halves of [`split_sum`]; a total beyond 64 bits (nine
/// quintillion đồng, which bounded amounts cannot reach) saturates.
pub fn join(high: i64, low: i64) -> i64 {
    let total = high as i128 * HALF as i128 + low as i128;
    total.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// Vietnamese digit grouping: 20000000 → "20.000.000".
pub fn group_thousands(value: i64) -> String {
    let digits = value.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    if value < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// An amount of đồng in Vietnamese words, as on a letter or an invoice:
/// 150 000 000 is "Một trăm năm mươi triệu đồng", 1 000 005 is "Một triệu
/// không trăm linh năm đồng", 21 500 is "Hai mươi mốt nghìn năm trăm đồng".
pub fn vnd_in_words(amount: i64) -> String {
    const DIGITS: [&str; 10] = [
        "không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín",
    ];
    // Groups of three digits, lowest first, and the word of each group.
    const SCALES: [&str; 7] = ["", "nghìn", "triệu", "tỷ", "nghìn tỷ", "triệu tỷ", "tỷ tỷ"];
    let mut rest = amount.unsigned_abs();
    let mut groups = Vec::new();
    while rest > 0 {
        groups.push((rest % 1000) as usize);
        rest /= 1000;
    }
    let mut words: Vec<&str> = Vec::new();
    if groups.is_empty() {
        words.push("không");
    }
    let top = groups.len().saturating_sub(1);
    for (index, &group) in groups.iter().enumerate().rev() {
        if group == 0 {
            continue;
        }
        let (hundreds, tens, units) = (group / 100, group / 10 % 10, group % 10);
        // A group after the first reads its hundreds even when zero:
        // "một triệu không trăm linh năm".
        if hundreds > 0 || index < top {
            words.extend([DIGITS[hundreds], "trăm"]);
        }
        match tens {
            0 if units > 0 && (hundreds > 0 || index < top) => words.push("linh"),
            0 => {}
            1 => words.push("mười"),
            n => words.extend([DIGITS[n], "mươi"]),
        }
        match (tens, units) {
            (_, 0) => {}
            (2..=9, 1) => words.push("mốt"),
            (1..=9, 5) => words.push("lăm"),
            (_, n) => words.push(DIGITS[n]),
        }
        if !SCALES[index].is_empty() {
            words.push(SCALES[index]);
        }
    }
    if amount < 0 {
        words.insert(0, "âm");
    }
    // The words are all lower case: capitalising the sentence's first word
    // capitalises the sentence.
    let first = crate::platform::text::capitalised(words[0]);
    words[0] = &first;
    format!("{} đồng", words.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_thousands_the_vietnamese_way() {
        assert_eq!(group_thousands(20_000_000), "20.000.000");
        assert_eq!(group_thousands(1_500), "1.500");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(-1_000), "-1.000");
    }

    #[test]
    fn amounts_are_bounded_and_whole() {
        assert_eq!(
            serde_json::from_str::<Vnd>("20000000").unwrap().get(),
            20_000_000
        );
        for refused in [
            "0",
            "-5",
            "1000000000001",
            "9223372036854775807",
            "1.5",
            "\"5\"",
        ] {
            assert!(serde_json::from_str::<Vnd>(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn halves_join_to_the_sum_for_any_sign() {
        for values in [
            vec![5i64, 7],
            vec![i64::MAX, i64::MAX],
            vec![-3, 10, -(1 << 40)],
        ] {
            let high: i64 = values.iter().map(|v| v / HALF).sum();
            let low: i64 = values.iter().map(|v| v % HALF).sum();
            let exact: i128 = values.iter().map(|v| *v as i128).sum();
            assert_eq!(
                join(high, low) as i128,
                exact.clamp(i64::MIN as i128, i64::MAX as i128)
            );
        }
    }
}

#[cfg(test)]
mod words_tests {
    use super::vnd_in_words;

    #[test]
    fn amounts_read_as_vietnamese_words() {
        let cases = [
            (0, "Không đồng"),
            (5, "Năm đồng"),
            (15, "Mười lăm đồng"),
            (21, "Hai mươi mốt đồng"),
            (105, "Một trăm linh năm đồng"),
            (110, "Một trăm mười đồng"),
            (1_000, "Một nghìn đồng"),
            (21_500, "Hai mươi mốt nghìn năm trăm đồng"),
            (1_000_005, "Một triệu không trăm linh năm đồng"),
            (2_050_000, "Hai triệu không trăm năm mươi nghìn đồng"),
            (150_000_000, "Một trăm năm mươi triệu đồng"),
            (1_000_000_000_000, "Một nghìn tỷ đồng"),
            (3_000_000_024, "Ba tỷ không trăm hai mươi bốn đồng"),
        ];
        for (amount, words) in cases {
            assert_eq!(vnd_in_words(amount), words, "{amount}");
        }
    }
}
