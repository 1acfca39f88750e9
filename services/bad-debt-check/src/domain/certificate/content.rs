//! What a certificate states (证明内容) and its canonical form, the exact bytes signed: written,
//! read back strictly, and compared field by field.

use chrono::NaiveDate;
use sieve_kernel::rules::dates::iso;
use sieve_kernel::rules::money::Claim;

/// What a certificate states, as signed. Amounts are integer fen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateContent {
    pub number: String,
    pub court_name: String,
    pub court_code: String,
    pub bank_name: String,
    pub bank_id: String,
    pub case_id: String,
    pub bank_case_ref: String,
    pub debtor_name: String,
    /// In full: a court document states the debtor's ID number.
    pub debtor_id_number: String,
    pub principal_fen: i64,
    pub interest_fen: i64,
    pub penalty_fen: i64,
    pub fees_fen: i64,
    /// The matching rulings (RULES.md: record which ruling matched); sorted and deduplicated in
    /// the canonical content, so their order does not matter.
    pub ruling_numbers: Vec<String>,
    pub issued_on: NaiveDate,
    /// The court key that signs it, so keys can rotate.
    pub key_id: String,
}

impl CertificateContent {
    /// The claim's parts.
    pub fn claim(&self) -> Claim {
        Claim {
            principal_fen: self.principal_fen,
            interest_fen: self.interest_fen,
            penalty_fen: self.penalty_fen,
            fees_fen: self.fees_fen,
        }
    }

    /// The claim: the sum of its parts (RULES.md "Scope (intake)"), wide enough not to
    /// overflow.
    pub fn claim_fen(&self) -> i128 {
        self.claim().wide_total_fen()
    }
}

/// First line of the canonical content; a later layout gets a new version line.
pub const CANONICAL_VERSION: &str = "sieve-certificate-v1";

/// The keys of the canonical content, in their fixed order.
pub const CANONICAL_KEYS: [&str; 16] = [
    "number",
    "court_name",
    "court_code",
    "bank_name",
    "bank_id",
    "case_id",
    "bank_case_ref",
    "debtor_name",
    "debtor_id_number",
    "principal_fen",
    "interest_fen",
    "penalty_fen",
    "fees_fen",
    "ruling_numbers",
    "issued_on",
    "key_id",
];

/// Separates ruling numbers in the `ruling_numbers` line (escaped inside a number).
const RULING_SEPARATOR: char = ';';

/// The canonical content, the exact bytes signed: UTF-8, the version line, then one
/// `key=value` line per field in [`CANONICAL_KEYS`] order, each ending in `\n`. Values are
/// percent-escaped where a character could forge structure (`%`, `=`, `;`, control characters
/// such as a newline) or hide on paper (bidi controls, zero-width and line-separator
/// characters), so each field is exactly one line and reads as it is.
pub fn canonical(content: &CertificateContent) -> Vec<u8> {
    let mut out = String::with_capacity(512);
    out.push_str(CANONICAL_VERSION);
    out.push('\n');
    for (key, value) in CANONICAL_KEYS.iter().zip(field_values(content)) {
        out.push_str(key);
        out.push('=');
        out.push_str(&value);
        out.push('\n');
    }
    out.into_bytes()
}

/// The escaped value of each field, in [`CANONICAL_KEYS`] order.
fn field_values(c: &CertificateContent) -> [String; 16] {
    let mut rulings: Vec<String> = c.ruling_numbers.iter().map(|r| escape(r)).collect();
    rulings.sort();
    rulings.dedup();
    [
        escape(&c.number),
        escape(&c.court_name),
        escape(&c.court_code),
        escape(&c.bank_name),
        escape(&c.bank_id),
        escape(&c.case_id),
        escape(&c.bank_case_ref),
        escape(&c.debtor_name),
        escape(&c.debtor_id_number),
        c.principal_fen.to_string(),
        c.interest_fen.to_string(),
        c.penalty_fen.to_string(),
        c.fees_fen.to_string(),
        rulings.join(&RULING_SEPARATOR.to_string()),
        iso(c.issued_on),
        escape(&c.key_id),
    ]
}

fn needs_escape(c: char) -> bool {
    matches!(
        c,
        '%' | '=' | RULING_SEPARATOR
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    ) || c.is_control()
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if needs_escape(c) {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

pub(super) fn unescape(s: &str) -> Result<String, String> {
    let mut bytes = Vec::with_capacity(s.len());
    let mut iter = s.bytes();
    while let Some(b) = iter.next() {
        if b == b'%' {
            let hi = iter.next().and_then(hex_value);
            let lo = iter.next().and_then(hex_value);
            match (hi, lo) {
                (Some(hi), Some(lo)) => bytes.push((hi << 4) | lo),
                _ => return Err("转义序列无效。 Invalid escape sequence.".to_owned()),
            }
        } else {
            bytes.push(b);
        }
    }
    String::from_utf8(bytes).map_err(|_| "内容不是UTF-8。 Content is not UTF-8.".to_owned())
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

/// Reads canonical content back ([`canonical`]'s inverse, ruling numbers coming back sorted).
/// Strict about structure: the version line, every key once in order, nothing else; a copy
/// whose lines end in CRLF or that lost its final newline is still read, for
/// [`altered_fields`]. Errors never echo the content.
pub fn parse_canonical(bytes: &[u8]) -> Result<CertificateContent, String> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| "证明内容不是UTF-8。 The certificate content is not UTF-8.".to_owned())?;
    let text = text.strip_suffix('\n').unwrap_or(text);
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    if lines.next() != Some(CANONICAL_VERSION) {
        return Err(format!(
            "证明内容首行应为 {CANONICAL_VERSION}。 The certificate content must start with \
             {CANONICAL_VERSION}."
        ));
    }
    let mut values: Vec<&str> = Vec::with_capacity(CANONICAL_KEYS.len());
    for key in CANONICAL_KEYS {
        let line = lines.next().ok_or_else(|| missing(key))?;
        let value = line
            .split_once('=')
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v)
            .ok_or_else(|| missing(key))?;
        if value
            .chars()
            .any(|c| needs_escape(c) && c != '%' && c != RULING_SEPARATOR)
        {
            return Err(format!(
                "字段 {key} 含未转义字符。 Field {key} holds an unescaped character."
            ));
        }
        values.push(value);
    }
    if lines.next().is_some() {
        return Err("证明内容有多余的行。 The certificate content has extra lines.".to_owned());
    }
    let text_at = |i: usize| -> Result<String, String> {
        let v = values.get(i).copied().unwrap_or_default();
        if v.contains(RULING_SEPARATOR) {
            return Err(format!(
                "字段 {} 含未转义字符。 Field {} holds an unescaped character.",
                CANONICAL_KEYS[i], CANONICAL_KEYS[i]
            ));
        }
        unescape(v).map_err(|e| format!("{}: {e}", CANONICAL_KEYS[i]))
    };
    let fen_at = |i: usize| -> Result<i64, String> {
        values
            .get(i)
            .and_then(|v| v.parse::<i64>().ok())
            .ok_or_else(|| {
                format!(
                    "字段 {} 应为整数（分）。 Field {} must be an integer amount in fen.",
                    CANONICAL_KEYS[i], CANONICAL_KEYS[i]
                )
            })
    };
    let rulings_raw = values.get(13).copied().unwrap_or_default();
    let mut ruling_numbers = Vec::new();
    if !rulings_raw.is_empty() {
        for r in rulings_raw.split(RULING_SEPARATOR) {
            if r.is_empty() {
                return Err(
                    "终本裁定文书号不能为空。 A ruling number in ruling_numbers is empty."
                        .to_owned(),
                );
            }
            ruling_numbers.push(unescape(r).map_err(|e| format!("ruling_numbers: {e}"))?);
        }
    }
    ruling_numbers.sort();
    let issued_on = values
        .get(14)
        .and_then(|v| NaiveDate::parse_from_str(v, "%Y-%m-%d").ok())
        .ok_or_else(|| {
            "字段 issued_on 应为日期 YYYY-MM-DD。 Field issued_on must be a date YYYY-MM-DD."
                .to_owned()
        })?;
    Ok(CertificateContent {
        number: text_at(0)?,
        court_name: text_at(1)?,
        court_code: text_at(2)?,
        bank_name: text_at(3)?,
        bank_id: text_at(4)?,
        case_id: text_at(5)?,
        bank_case_ref: text_at(6)?,
        debtor_name: text_at(7)?,
        debtor_id_number: text_at(8)?,
        principal_fen: fen_at(9)?,
        interest_fen: fen_at(10)?,
        penalty_fen: fen_at(11)?,
        fees_fen: fen_at(12)?,
        ruling_numbers,
        issued_on,
        key_id: text_at(15)?,
    })
}

fn missing(key: &str) -> String {
    format!(
        "证明内容缺少字段 {key} 或顺序有误。 The certificate content lacks field {key} or has it \
         out of order."
    )
}

/// The canonical keys whose values differ between the certificate as issued and as presented,
/// in canonical order; empty when they state the same thing.
pub fn altered_fields(
    issued: &CertificateContent,
    presented: &CertificateContent,
) -> Vec<&'static str> {
    CANONICAL_KEYS
        .iter()
        .zip(
            field_values(issued)
                .iter()
                .zip(field_values(presented).iter()),
        )
        .filter(|(_, (a, b))| a != b)
        .map(|(key, _)| *key)
        .collect()
}
