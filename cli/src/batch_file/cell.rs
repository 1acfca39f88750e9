//! One cell's value as a field needs it: text, an exact amount in fen, or yes/no.

use calamine::Data;
use sieve_kernel::rules::dates::{date_pb, parse_iso};
use sieve_kernel::rules::money::{Sign, parse_yuan};
use sieve_proto::common::v1::Date;

/// One cell as read: CSV cells are always text; workbook cells keep their type.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Cell {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A date/time cell, or an Excel error such as #N/A; the string describes it.
    Unusable(String),
    Empty,
}

/// Integers up to 2^53 are exact in an f64; beyond, digits may have been lost.
const F64_EXACT_INT: f64 = 9_007_199_254_740_992.0;

impl Cell {
    pub(super) fn from_data(data: &Data) -> Cell {
        match data {
            Data::Empty => Cell::Empty,
            Data::String(s) => Cell::Text(s.clone()),
            Data::Int(i) => Cell::Int(*i),
            Data::Float(f) => Cell::Float(*f),
            Data::Bool(b) => Cell::Bool(*b),
            Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::Text(s.clone()),
            Data::DateTime(d) => Cell::Unusable(format!("a date/time cell ({d})")),
            Data::Error(e) => Cell::Unusable(format!("an Excel error cell ({e})")),
        }
    }

    pub(super) fn is_blank(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(s) => s.trim().is_empty(),
            _ => false,
        }
    }

    pub(super) fn header_text(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Int(i) => i.to_string(),
            Cell::Float(f) => format!("{f}"),
            Cell::Bool(b) => b.to_string(),
            Cell::Unusable(s) => s.clone(),
            Cell::Empty => String::new(),
        }
    }

    /// The cell as text, for text fields (names, ID numbers, phones, codes).
    pub(super) fn text(&self) -> Result<String, String> {
        match self {
            Cell::Text(s) => Ok(s.trim().to_owned()),
            Cell::Empty => Ok(String::new()),
            Cell::Int(i) => Ok(i.to_string()),
            Cell::Float(f) if f.is_finite() && f.fract() == 0.0 && f.abs() >= F64_EXACT_INT => {
                Err(format!(
                    "the number {f} is too long to be stored exactly as a number; \
                     format the column as text"
                ))
            }
            Cell::Float(f) => Ok(format!("{f}")),
            Cell::Bool(b) => Ok(if *b { "TRUE" } else { "FALSE" }.to_owned()),
            Cell::Unusable(what) => Err(format!("expected text, found {what}")),
        }
    }

    /// The cell as an amount in fen (the file holds yuan), by the one exact parser.
    pub(super) fn amount_fen(&self) -> Result<i64, String> {
        match self {
            Cell::Text(s) => parse_amount_fen(s),
            Cell::Empty => parse_amount_fen(""),
            Cell::Int(i) => parse_amount_fen(&i.to_string()),
            // The shortest decimal that reads back as this f64, then the exact parser:
            // 32676.2 -> "32676.2" -> 3267620; 0.1 + 0.2 -> "0.30000000000000004" -> error.
            Cell::Float(f) => parse_amount_fen(&format!("{f}")),
            Cell::Bool(b) => Err(format!("expected an amount, found the boolean {b}")),
            Cell::Unusable(what) => Err(format!("expected an amount, found {what}")),
        }
    }

    /// The cell as yes/no (约定本院管辖).
    pub(super) fn yes_no(&self) -> Result<bool, String> {
        match self {
            Cell::Bool(b) => Ok(*b),
            Cell::Empty => Ok(false),
            Cell::Int(0) => Ok(false),
            Cell::Int(1) => Ok(true),
            Cell::Float(f) if *f == 0.0 => Ok(false),
            Cell::Float(f) if *f == 1.0 => Ok(true),
            Cell::Text(s) => match s.trim().to_lowercase().as_str() {
                "是" | "yes" | "y" | "true" | "1" => Ok(true),
                "否" | "no" | "n" | "false" | "0" | "" => Ok(false),
                other => Err(format!("expected 是 or 否, found {other:?}")),
            },
            other => Err(format!("expected 是 or 否, found {}", other.header_text())),
        }
    }
}

/// An amount in yuan with at most two decimals, as fen, exactly (no floating point): the
/// kernel's parser, no sign (a claim's parts are not negative).
pub fn parse_amount_fen(text: &str) -> Result<i64, String> {
    parse_yuan(text, Sign::Refused).map_err(|e| e.to_string())
}

/// A `YYYY-MM-DD` date; empty is no date (the server then says whether the field is
/// required).
pub(crate) fn parse_date(text: &str) -> Result<Option<Date>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    let date = parse_iso(text).ok_or_else(|| {
        format!(
            "expected a date YYYY-MM-DD, found {:?}",
            text.chars().take(24).collect::<String>()
        )
    })?;
    Ok(Some(date_pb(date)))
}
