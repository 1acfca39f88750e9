//! The violations a refusal lists: one per field, naming the field as the caller sent it, a
//! stable rule code and a bilingual sentence for the clerk who fixes the row. Every stage
//! builds its refusals from these, stores them in one JSON form and answers them as
//! `RowRefusal`s.

use sieve_proto::common::v1 as common;

use crate::error::Error;

/// One rule a row broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Field path as the caller sent it, e.g. `"debtor.id_number"`.
    pub field: &'static str,
    /// Stable dotted rule code, e.g. `"id_number.check_character"` (see [`rule`]).
    pub rule: &'static str,
    /// Short sentence in Chinese, then English, for the clerk. It never holds a full ID number
    /// or phone number (masked) nor an overlong value (cut short or not echoed).
    pub description: String,
}

/// How a field is named to the clerk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Label {
    pub zh: &'static str,
    pub en: &'static str,
}

/// Rule codes every stage shares. Clients may match on them; never rename one. Each stage
/// adds its own next to these.
pub mod rule {
    /// A required field is missing or blank.
    pub const REQUIRED: &str = "required";
    /// A text field is longer than its limit (counted in characters; the protobuf contract).
    pub const MAX_LENGTH: &str = "max_length";
    /// Resident ID is not 18 characters (GB 11643).
    pub const ID_NUMBER_LENGTH: &str = "id_number.length";
    /// One of the first 17 characters of the resident ID is not a digit (GB 11643); where only
    /// natural persons are held, also an 18th that is neither digit nor X.
    pub const ID_NUMBER_NON_DIGIT: &str = "id_number.non_digit";
    /// The region code is no province (GB 11643, GB/T 2260).
    pub const ID_NUMBER_REGION: &str = "id_number.region";
    /// The birth date does not exist (GB 11643).
    pub const ID_NUMBER_BIRTH_DATE: &str = "id_number.birth_date";
    /// The birth date is after today (RULES.md "Scope (intake)").
    pub const ID_NUMBER_BIRTH_DATE_FUTURE: &str = "id_number.birth_date_future";
    /// The check character is wrong (GB 11643, ISO 7064 MOD 11-2).
    pub const ID_NUMBER_CHECK_CHARACTER: &str = "id_number.check_character";
    /// An amount is negative.
    pub const AMOUNT_NEGATIVE: &str = "amount.negative";
}

/// A required field that is missing or blank.
pub fn required(field: &'static str, label: Label) -> Violation {
    Violation {
        field,
        rule: rule::REQUIRED,
        description: format!("{}未填写。 {} is missing.", label.zh, label.en),
    }
}

/// A text field over its limit. Never echoes the value: it may be megabytes long.
pub fn too_long(field: &'static str, label: Label, max_chars: usize) -> Violation {
    Violation {
        field,
        rule: rule::MAX_LENGTH,
        description: format!(
            "{}超过{max_chars}个字符。 {} is longer than {max_chars} characters.",
            label.zh, label.en
        ),
    }
}

/// An amount below zero, shown in yuan.
pub fn negative(field: &'static str, label: Label, fen: i64) -> Violation {
    let amount = super::money::format_yuan(fen);
    Violation {
        field,
        rule: rule::AMOUNT_NEGATIVE,
        description: format!(
            "{}不能为负数（{amount} 元）。 {} must not be negative ({amount} yuan).",
            label.zh, label.en
        ),
    }
}

/// Checks a required text field: blank → `required`, too long → `max_length`. Returns the
/// trimmed value when it passed both.
pub fn text_field<'a>(
    out: &mut Vec<Violation>,
    field: &'static str,
    label: Label,
    value: &'a str,
    max_chars: usize,
) -> Option<&'a str> {
    let value = value.trim();
    if value.is_empty() {
        out.push(required(field, label));
        None
    } else if exceeds_chars(value, max_chars) {
        out.push(too_long(field, label, max_chars));
        None
    } else {
        Some(value)
    }
}

/// Whether `s` has more than `max` characters, decided from its byte length when that is
/// enough (a 10 MB string is refused without being walked).
pub fn exceeds_chars(s: &str, max: usize) -> bool {
    if s.len() <= max {
        return false;
    }
    if s.len() > max.saturating_mul(4) {
        return true;
    }
    s.chars().count() > max
}

/// A violation as a refused row stores it (JSON, one per broken rule).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredViolation {
    pub field: String,
    pub rule: String,
    pub description: String,
}

impl From<Violation> for StoredViolation {
    fn from(v: Violation) -> Self {
        Self {
            field: v.field.to_owned(),
            rule: v.rule.to_owned(),
            description: v.description,
        }
    }
}

/// A refused row's violations as stored.
pub fn encode(violations: &[StoredViolation]) -> serde_json::Result<String> {
    serde_json::to_string(violations)
}

/// A refused row's stored violations, read strictly: JSON that does not parse is corruption,
/// an internal error (logged under a reference), never an empty list, which would answer a
/// refused row as refused for no reason. `whose` names the row in the log.
pub fn decode(json: &str, whose: impl std::fmt::Display) -> Result<Vec<StoredViolation>, Error> {
    super::stored::decode(json, whose, "refusals")
}

/// The longest reference a refusal repeats back, in characters (the contract's limit).
pub const MAX_REFERENCE_CHARS: usize = 64;

/// A stored violation as the caller is answered: with the row and the caller's reference.
pub fn row_refusal(row: i64, reference: &str, v: StoredViolation) -> common::RowRefusal {
    common::RowRefusal {
        row,
        reference: reference.chars().take(MAX_REFERENCE_CHARS).collect(),
        field: v.field,
        rule: v.rule,
        description: v.description,
    }
}

/// For the tests of every place that reads stored refusals.
pub mod testing {
    /// Stored refusals that do not parse: cut short, empty, not a list, not JSON.
    pub const CORRUPT_JSON: [&str; 4] = ["[{\"field\":", "", "{\"field\":\"x\"}", "not json"];

    /// Asserts that `read` answers each of [`CORRUPT_JSON`] with an internal error (a
    /// reference shown, the cause logged), never with an empty list of refusals.
    pub fn assert_corruption_is_internal<T: std::fmt::Debug>(
        read: impl Fn(&str) -> Result<T, crate::Error>,
    ) {
        for corrupt in CORRUPT_JSON {
            match read(corrupt) {
                Ok(v) => panic!("{corrupt:?} was read as {v:?}"),
                Err(e) => {
                    assert_eq!(e.code, crate::ErrorCode::Internal, "{corrupt:?}");
                    let status: tonic::Status = e.into();
                    assert_eq!(status.code(), tonic::Code::Internal, "{corrupt:?}");
                    assert!(
                        status.message().contains("reference"),
                        "{}",
                        status.message()
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: Label = Label {
        zh: "姓名",
        en: "Name",
    };

    #[test]
    fn text_fields_are_required_and_bounded() {
        let mut out = Vec::new();
        assert_eq!(
            text_field(&mut out, "name", NAME, " 徐敏 ", 4),
            Some("徐敏")
        );
        assert_eq!(text_field(&mut out, "name", NAME, "  ", 4), None);
        assert_eq!(text_field(&mut out, "name", NAME, "徐敏徐敏徐", 4), None);
        let rules: Vec<_> = out.iter().map(|v| v.rule).collect();
        assert_eq!(rules, vec![rule::REQUIRED, rule::MAX_LENGTH]);
        assert!(!out[1].description.contains("徐敏"));
        assert!(exceeds_chars(&"x".repeat(10_000_000), 64));
        assert!(!exceeds_chars("名名", 2));
    }

    #[test]
    fn stored_violations_round_trip_and_corruption_is_an_error() {
        let v: StoredViolation = required("name", NAME).into();
        let json = encode(std::slice::from_ref(&v)).expect("encodes");
        assert_eq!(decode(&json, "row 1").expect("decodes"), vec![v.clone()]);
        testing::assert_corruption_is_internal(|json| decode(json, "row 1"));
        let e = decode("[{\"field\":", "batch b row 7").expect_err("corrupt");
        assert_eq!(e.code, crate::ErrorCode::Internal);
        let source = std::error::Error::source(&e).map(ToString::to_string);
        assert!(source.is_some_and(|s| s.contains("batch b row 7")));
        let r = row_refusal(7, &"r".repeat(100), v);
        assert_eq!((r.row, r.reference.chars().count()), (7, 64));
    }
}
