//! Certificate numbers (证明编号): the configured format, and the check that it keeps numbers
//! unique per court and year.

/// The number format used when the court configures none: `(2025)黑0722预查废第000123号`.
pub const DEFAULT_NUMBER_FORMAT: &str = "({year}){court}预查废第{seq:06}号";

/// Widest zero padding `{seq:0N}` honours: a `u64` has at most 20 digits.
const MAX_SEQ_WIDTH: usize = 20;

/// Renders a certificate number from the configured `format`. Placeholders: `{year}`,
/// `{court}` (the court code, e.g. `黑0722`), `{seq}` and `{seq:0N}` (zero-padded to N
/// digits). Anything else, unknown placeholders included, is copied as written.
///
/// Uniqueness per court and year (RULES.md "Bad-debt pre-check") is not this function's: the
/// store draws `sequence` from one counter row per court and year, in the transaction that
/// issues the certificate, and the format must hold `{year}` and `{seq}` for distinct
/// sequences to give distinct numbers ([`validate_number_format`]).
pub fn certificate_number(format: &str, year: i32, court_code: &str, sequence: u64) -> String {
    let mut out = String::with_capacity(format.len() + 16);
    let mut rest = format;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open..];
        let Some(close) = after.find('}') else {
            // An unclosed brace is text.
            rest = after;
            break;
        };
        let placeholder = &after[1..close];
        match placeholder {
            "year" => out.push_str(&year.to_string()),
            "court" => out.push_str(court_code),
            "seq" => out.push_str(&sequence.to_string()),
            _ => match seq_width(placeholder) {
                Some(width) => out.push_str(&format!("{sequence:0width$}")),
                None => out.push_str(&after[..=close]),
            },
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

/// The width N of a `seq:0N` placeholder.
fn seq_width(placeholder: &str) -> Option<usize> {
    let digits = placeholder.strip_prefix("seq:0")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|w| *w <= MAX_SEQ_WIDTH)
}

/// Checks a configured number format: it must hold `{year}` and `{seq}` or `{seq:0N}`, else
/// two certificates could share a number (RULES.md: unique per court and year).
pub fn validate_number_format(format: &str) -> Result<(), String> {
    let year = certificate_number(format, 1, "", 0) != certificate_number(format, 2, "", 0);
    let seq = certificate_number(format, 1, "", 1) != certificate_number(format, 1, "", 2);
    match (year, seq) {
        (true, true) => Ok(()),
        _ => Err(
            "证明编号格式须含 {year} 与 {seq}（或 {seq:0N}）。 The certificate number format \
             must hold {year} and {seq} (or {seq:0N})."
                .to_owned(),
        ),
    }
}
