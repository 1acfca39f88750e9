//! Money is integer fen (`i64`), never floats (DESIGN.md section 4): yuan as people write them
//! parsed exactly, fen shown as yuan, and the claim a case makes.

use sieve_proto::common::v1 as common;

use super::mask;

/// Most integer digits [`parse_yuan`] takes: 999,999,999,999,999.99 yuan, well below
/// `i64::MAX` fen.
pub const MAX_YUAN_DIGITS: usize = 15;

/// Whether an amount may carry a leading `-`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sign {
    /// A `-` is refused as the amount's error.
    Refused,
    /// A leading `-` is read, so that the caller can refuse a negative amount with its own
    /// rule and reason.
    Allowed,
}

/// Why a text is no amount in yuan. The messages are bilingual and quote the value bounded
/// and printable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum YuanError {
    #[error("金额为空。 The amount is empty.")]
    Empty,
    #[error(
        "金额“{0}”格式有误，应为元，最多两位小数，例如 15957.50。 \
         Amount \"{0}\" is not a yuan amount with at most two decimals, e.g. 15957.50."
    )]
    Malformed(String),
    #[error(
        "金额“{0}”超过两位小数（金额以元计，精确到分）。 \
         Amount \"{0}\" has more than two decimals (amounts are in yuan, exact to the fen)."
    )]
    TooManyDecimals(String),
    #[error("金额“{0}”不能为负数。 Amount \"{0}\" must not be negative.")]
    Negative(String),
    #[error("金额“{0}”过大。 Amount \"{0}\" is too large.")]
    TooLarge(String),
}

/// Parses an amount in yuan as banks and the enforcement system write it (`15957.50`,
/// `1,234.5`, `100`, surrounding whitespace) into fen, exactly, without floating point. At
/// most two decimals; thousands separators only in groups of three; at most
/// [`MAX_YUAN_DIGITS`] integer digits; a leading `-` only with [`Sign::Allowed`]. No `+`,
/// exponent, currency sign or full-width digit.
pub fn parse_yuan(s: &str, sign: Sign) -> Result<i64, YuanError> {
    let t = s.trim();
    let shown = || mask::excerpt(t, 24);
    if t.is_empty() {
        return Err(YuanError::Empty);
    }
    let (negative, unsigned) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    let (int_part, frac_part) = match unsigned.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (unsigned, None),
    };
    let digits = integer_digits(int_part).ok_or_else(|| YuanError::Malformed(shown()))?;
    if digits.len() > MAX_YUAN_DIGITS {
        return Err(YuanError::TooLarge(shown()));
    }
    let cents = match frac_part {
        None => 0,
        Some(f) if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) => {
            return Err(YuanError::Malformed(shown()));
        }
        Some(f) if f.len() > 2 => return Err(YuanError::TooManyDecimals(shown())),
        Some(f) => {
            let v = f
                .bytes()
                .fold(0i64, |acc, b| acc * 10 + i64::from(b - b'0'));
            if f.len() == 1 { v * 10 } else { v }
        }
    };
    if negative && sign == Sign::Refused {
        return Err(YuanError::Negative(shown()));
    }
    // At most 15 digits: no overflow.
    let yuan = digits
        .bytes()
        .fold(0i64, |acc, b| acc * 10 + i64::from(b - b'0'));
    let fen = yuan * 100 + cents;
    Ok(if negative { -fen } else { fen })
}

/// The digits of an integer part written plainly (`1234`) or grouped by threes (`1,234`).
fn integer_digits(s: &str) -> Option<String> {
    if s.is_empty() {
        return None;
    }
    if !s.contains(',') {
        return s.bytes().all(|b| b.is_ascii_digit()).then(|| s.to_owned());
    }
    let mut groups = s.split(',');
    let first = groups.next()?;
    if first.is_empty() || first.len() > 3 || !first.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut out = first.to_owned();
    for g in groups {
        if g.len() != 3 || !g.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        out.push_str(g);
    }
    Some(out)
}

/// Fen as yuan with thousands separators and two decimals, by integer arithmetic only:
/// `123_456_789` → `"1,234,567.89"`. Takes `i128` too, for sums that would overflow `i64`.
pub fn format_yuan(fen: impl Into<i128>) -> String {
    let fen = fen.into();
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    let digits = (abs / 100).to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}{grouped}.{:02}", abs % 100)
}

/// What a case claims (RULES.md "Scope (intake)"): principal, interest, penalty and fees, in
/// fen; the claim is their sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Claim {
    pub principal_fen: i64,
    pub interest_fen: i64,
    pub penalty_fen: i64,
    pub fees_fen: i64,
}

impl Claim {
    pub fn parts(&self) -> [i64; 4] {
        [
            self.principal_fen,
            self.interest_fen,
            self.penalty_fen,
            self.fees_fen,
        ]
    }

    /// The sum, or `None` when it does not fit in `i64` (screening refuses such a claim).
    pub fn total_fen(&self) -> Option<i64> {
        self.parts()
            .iter()
            .try_fold(0i64, |acc, fen| acc.checked_add(*fen))
    }

    /// The sum, wide enough never to overflow (what a certificate prints).
    pub fn wide_total_fen(&self) -> i128 {
        self.parts().iter().map(|f| i128::from(*f)).sum()
    }

    /// The sum, saturated at the ends of `i64` rather than wrapped. A stored claim was
    /// screened, so its total fits; one read from a caller may not.
    pub fn saturating_total_fen(&self) -> i64 {
        let wide = self.wide_total_fen();
        i64::try_from(wide).unwrap_or(if wide < 0 { i64::MIN } else { i64::MAX })
    }

    /// The claim as the contract carries it, with its total.
    pub fn to_pb(&self) -> common::Claim {
        common::Claim {
            principal_fen: self.principal_fen,
            interest_fen: self.interest_fen,
            penalty_fen: self.penalty_fen,
            fees_fen: self.fees_fen,
            total_fen: self.saturating_total_fen(),
        }
    }
}

impl From<&common::Claim> for Claim {
    fn from(c: &common::Claim) -> Self {
        Self {
            principal_fen: c.principal_fen,
            interest_fen: c.interest_fen,
            penalty_fen: c.penalty_fen,
            fees_fen: c.fees_fen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(s: &str) -> Result<i64, YuanError> {
        parse_yuan(s, Sign::Allowed)
    }

    fn unsigned(s: &str) -> Result<i64, YuanError> {
        parse_yuan(s, Sign::Refused)
    }

    #[test]
    fn yuan_parsed_exactly() {
        assert_eq!(signed("15957.50"), Ok(1_595_750));
        assert_eq!(signed(" 4866.89 "), Ok(486_689));
        assert_eq!(signed("5000.00"), Ok(500_000));
        assert_eq!(signed("5000"), Ok(500_000));
        assert_eq!(signed("0.1"), Ok(10));
        assert_eq!(signed("0.01"), Ok(1));
        assert_eq!(signed("100,000.01"), Ok(10_000_001));
        assert_eq!(signed("1,234,567"), Ok(123_456_700));
        assert_eq!(signed("-12.30"), Ok(-1_230));
        assert_eq!(signed("1.15"), Ok(115));
        assert_eq!(signed("999999999999999.99"), Ok(99_999_999_999_999_999));
        assert_eq!(unsigned("007.10"), Ok(710));
        assert_eq!(unsigned("1,234,567.8"), Ok(123_456_780));
        for bad in [
            "",
            " ",
            "1.234",
            "1.",
            ".5",
            "1,23",
            "12,345,67",
            ",123",
            "1,2345",
            "abc",
            "1e3",
            "¥100",
            "+1",
            "--1",
            "1.-5",
            "１００",
            "1 000",
            "1000000000000000",
            "1.2.3",
            "-",
        ] {
            assert!(signed(bad).is_err(), "{bad:?}");
            assert!(unsigned(bad).is_err(), "{bad:?}");
        }
        assert!(matches!(unsigned("-5"), Err(YuanError::Negative(_))));
        assert!(matches!(
            unsigned("1.234"),
            Err(YuanError::TooManyDecimals(_))
        ));
        let e = signed(&"9".repeat(10_000)).expect_err("too large");
        assert!(matches!(e, YuanError::TooLarge(_)));
        assert!(e.to_string().chars().count() < 200);
        assert!(
            unsigned("1.234")
                .expect_err("3")
                .to_string()
                .contains("two decimals")
        );
    }

    #[test]
    fn yuan_is_grouped_with_two_decimals() {
        // What screening, the registry, certificates and the CLI asserted of their copies.
        assert_eq!(format_yuan(0), "0.00");
        assert_eq!(format_yuan(5), "0.05");
        assert_eq!(format_yuan(100), "1.00");
        assert_eq!(format_yuan(99_999), "999.99");
        assert_eq!(format_yuan(100_000), "1,000.00");
        assert_eq!(format_yuan(3_267_620), "32,676.20");
        assert_eq!(format_yuan(10_000_001), "100,000.01");
        assert_eq!(format_yuan(-105), "-1.05");
        assert_eq!(format_yuan(-123_456), "-1,234.56");
        assert_eq!(format_yuan(-123_456_789), "-1,234,567.89");
        assert_eq!(format_yuan(i64::MAX), "92,233,720,368,547,758.07");
        assert_eq!(format_yuan(i64::MIN), "-92,233,720,368,547,758.08");
        assert_eq!(
            format_yuan(i128::from(i64::MAX) * 4),
            "368,934,881,474,191,032.28"
        );
    }

    #[test]
    fn the_claim_is_the_sum_of_its_parts() {
        let c = Claim {
            principal_fen: 3_267_620,
            interest_fen: 45_061,
            penalty_fen: 56_838,
            fees_fen: 0,
        };
        assert_eq!(c.total_fen(), Some(3_369_519));
        assert_eq!(c.to_pb().total_fen, 3_369_519);
        assert_eq!(Claim::from(&c.to_pb()), c);
        let big = Claim {
            principal_fen: i64::MAX,
            fees_fen: 1,
            ..Claim::default()
        };
        assert_eq!(big.total_fen(), None);
        assert_eq!(big.wide_total_fen(), i128::from(i64::MAX) + 1);
        assert_eq!(big.to_pb().total_fen, i64::MAX);
    }
}
