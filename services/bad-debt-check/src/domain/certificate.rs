//! Pre-check certificates (预查废证明): numbering, the canonical content that is signed, Ed25519
//! signing and verification, the QR payload and the printable document.
//!
//! RULES.md "Bad-debt pre-check": a certificate names the debtor, the claim, the matching
//! ruling(s) and the date; its number is unique per court and year; anyone holding it can
//! verify it is genuine and unaltered. Genuine: an Ed25519 signature by a court key over the
//! canonical content. Unaltered: the content printed on the paper is byte for byte what was
//! signed, and [`altered_fields`] says what differs when it is not.
//!
//! Pure apart from [`CourtKey::generate`], which draws a random seed: no I/O, no clock (the
//! issue date is a parameter), no protobuf types.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{Datelike, NaiveDate};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use qrcode::{EcLevel, QrCode};
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use sieve_kernel::rules::dates::iso;
use sieve_kernel::rules::money::{Claim, format_yuan};

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

/// The suggested file name of a certificate's document, e.g. `预查废证明-2025-000123.html`.
pub fn document_file_name(year: i32, sequence: u64) -> String {
    format!("预查废证明-{year}-{sequence:06}.html")
}

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

fn unescape(s: &str) -> Result<String, String> {
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

/// The signature algorithm, as the contract names it.
pub const ALGORITHM: &str = "Ed25519";

/// A court's Ed25519 signing key and the id certificates name it by. `Debug` shows the id and
/// public key only.
#[derive(Clone)]
pub struct CourtKey {
    key_id: String,
    signing: SigningKey,
}

impl std::fmt::Debug for CourtKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CourtKey")
            .field("key_id", &self.key_id)
            .field("public_key", &self.public_key_base64())
            .finish_non_exhaustive()
    }
}

impl CourtKey {
    /// A new key from the operating system's randomness (through `rand`'s thread generator,
    /// a CSPRNG seeded by the OS). The seed goes straight to `SigningKey::from_bytes`, since
    /// `rand` 0.9 and ed25519-dalek 2's `rand_core` 0.6 do not interoperate.
    pub fn generate(key_id: impl Into<String>) -> CourtKey {
        let mut seed = [0u8; 32];
        rand::rng().fill_bytes(&mut seed);
        CourtKey {
            key_id: key_id.into(),
            signing: SigningKey::from_bytes(&seed),
        }
    }

    /// A key from its 32-byte seed in standard base64 (as [`CourtKey::secret_base64`] writes
    /// it). Errors never echo the secret.
    pub fn from_secret_base64(key_id: impl Into<String>, b64: &str) -> Result<CourtKey, String> {
        let bytes = STANDARD.decode(b64.trim()).map_err(|_| {
            "签名密钥不是有效的base64。 The signing key is not valid base64.".to_owned()
        })?;
        let seed: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
            format!(
                "签名密钥应为32字节，实为{}字节。 The signing key must be 32 bytes, not {}.",
                bytes.len(),
                bytes.len()
            )
        })?;
        Ok(CourtKey {
            key_id: key_id.into(),
            signing: SigningKey::from_bytes(&seed),
        })
    }

    /// The 32-byte seed in standard base64: a secret, for the key store only.
    pub fn secret_base64(&self) -> String {
        STANDARD.encode(self.signing.to_bytes())
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    pub fn public_key_bytes(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    pub fn public_key_base64(&self) -> String {
        STANDARD.encode(self.public_key_bytes())
    }

    /// The Ed25519 signature over `content` (the canonical content).
    pub fn sign(&self, content: &[u8]) -> [u8; 64] {
        self.signing.sign(content).to_bytes()
    }
}

/// Whether `signature` is a valid Ed25519 signature of `content` under `public_key`, by strict
/// verification (no small-order keys, canonical `s`), so one content has one valid signature
/// per key. Anything malformed is simply `false`.
pub fn verify(public_key: &[u8; 32], content: &[u8], signature: &[u8]) -> bool {
    let Ok(key) = VerifyingKey::from_bytes(public_key) else {
        return false;
    };
    let Ok(signature) = Signature::from_slice(signature) else {
        return false;
    };
    key.verify_strict(content, &signature).is_ok()
}

/// [`verify`] with a public key of any length (as stored or received): wrong lengths are
/// `false`.
pub fn verify_bytes(public_key: &[u8], content: &[u8], signature: &[u8]) -> bool {
    match <&[u8; 32]>::try_from(public_key) {
        Ok(key) => verify(key, content, signature),
        Err(_) => false,
    }
}

/// SHA-256 of the canonical content, which the QR code carries in place of the content itself.
pub fn content_digest(canonical: &[u8]) -> [u8; 32] {
    let digest = Sha256::digest(canonical);
    let mut out = [0u8; 32];
    out.copy_from_slice(&digest);
    out
}

/// First field of the QR payload; a later layout gets a new tag.
pub const QR_TAG: &str = "SIEVE-CERT1";

/// What the QR code on a certificate carries: enough to look the certificate up, check the
/// signature and tell whether the printed content is the one signed, within a QR code's
/// capacity whatever the length of the content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrPayload {
    pub number: String,
    pub key_id: String,
    pub signature: [u8; 64],
    /// SHA-256 of the canonical content ([`content_digest`]).
    pub content_sha256: [u8; 32],
}

impl QrPayload {
    /// Whether `canonical` is the content this payload was made for.
    pub fn matches_content(&self, canonical: &[u8]) -> bool {
        content_digest(canonical) == self.content_sha256
    }
}

/// `SIEVE-CERT1|<number>|<key id>|<signature>|<sha256 of content>`, the binary parts in
/// base64url without padding, `|` and `%` in the text parts percent-escaped.
pub fn qr_payload(number: &str, key_id: &str, signature: &[u8; 64], canonical: &[u8]) -> String {
    format!(
        "{QR_TAG}|{}|{}|{}|{}",
        qr_escape(number),
        qr_escape(key_id),
        URL_SAFE_NO_PAD.encode(signature),
        URL_SAFE_NO_PAD.encode(content_digest(canonical))
    )
}

fn qr_escape(s: &str) -> String {
    s.replace('%', "%25").replace('|', "%7C")
}

/// Reads a QR payload back ([`qr_payload`]'s inverse).
pub fn parse_qr_payload(s: &str) -> Result<QrPayload, String> {
    let bad = |what: &str| format!("二维码内容无效：{what}。 Invalid certificate QR code: {what}.");
    let parts: Vec<&str> = s.trim().split('|').collect();
    let [tag, number, key_id, signature, digest] = parts.as_slice() else {
        return Err(bad("field count"));
    };
    if *tag != QR_TAG {
        return Err(bad("tag"));
    }
    let number = unescape(number).map_err(|_| bad("number"))?;
    let key_id = unescape(key_id).map_err(|_| bad("key id"))?;
    let signature: [u8; 64] = URL_SAFE_NO_PAD
        .decode(signature)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| bad("signature"))?;
    let content_sha256: [u8; 32] = URL_SAFE_NO_PAD
        .decode(digest)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| bad("content digest"))?;
    Ok(QrPayload {
        number,
        key_id,
        signature,
        content_sha256,
    })
}

/// The QR code as an inline `<svg>` element, or `None` when the payload does not fit.
fn qr_svg(payload: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::M).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(180, 180)
        .dark_color(qrcode::render::svg::Color("#000"))
        .light_color(qrcode::render::svg::Color("#fff"))
        .build();
    // Drop the XML declaration: the element goes inside an HTML page.
    svg.find("<svg").map(|i| svg[i..].to_owned())
}

/// What a holder's copy of the document carries for verification, as [`read_document`] finds
/// it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentProof {
    pub number: String,
    pub key_id: String,
    pub content: Vec<u8>,
    pub signature: Vec<u8>,
}

/// Reads the number, key id, exact canonical content and signature back from a document made
/// by [`render_html`] (its `data-sieve-*` attributes), for `sieve certificates verify FILE`.
pub fn read_document(html: &str) -> Result<DocumentProof, String> {
    let attr = |name: &str| -> Result<String, String> {
        let marker = format!("{name}=\"");
        let start = html
            .find(&marker)
            .map(|i| i + marker.len())
            .ok_or_else(|| format!("文件中没有 {name}。 The document carries no {name}."))?;
        let len = html[start..].find('"').ok_or_else(|| {
            format!("文件中的 {name} 不完整。 The document's {name} is cut short.")
        })?;
        Ok(html_unescape(&html[start..start + len]))
    };
    let b64 = |name: &str| -> Result<Vec<u8>, String> {
        STANDARD.decode(attr(name)?).map_err(|_| {
            format!("文件中的 {name} 不是base64。 The document's {name} is not base64.")
        })
    };
    Ok(DocumentProof {
        number: attr("data-sieve-number")?,
        key_id: attr("data-sieve-key-id")?,
        content: b64("data-sieve-content")?,
        signature: b64("data-sieve-signature")?,
    })
}

/// Escapes text for HTML content and attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn html_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// `2025-03-01` → `2025年3月1日`, as Chinese court documents write dates.
pub fn chinese_date(d: NaiveDate) -> String {
    format!("{}年{}月{}日", d.year(), d.month(), d.day())
}

const STYLE: &str = "\
@page{size:A4;margin:18mm}\
body{font-family:\"SimSun\",\"Songti SC\",\"Noto Serif CJK SC\",\"Source Han Serif SC\",serif;\
color:#000;background:#fff;max-width:180mm;margin:0 auto;padding:8mm 0;line-height:1.6;font-size:11pt}\
h1{text-align:center;font-size:22pt;letter-spacing:.3em;margin:0}\
.en{color:#444;font-size:9pt;font-family:\"Helvetica\",\"Arial\",sans-serif;letter-spacing:0}\
.subtitle{text-align:center;margin:0 0 4mm}\
.number{text-align:center;margin:2mm 0 6mm}\
table{border-collapse:collapse;width:100%;margin:3mm 0}\
th,td{border:1px solid #000;padding:1.5mm 2.5mm;text-align:left;vertical-align:top}\
th{width:34%;font-weight:normal;background:#f4f4f4}\
td.amount{text-align:right;font-family:\"Courier New\",monospace}\
.statement{margin:5mm 0;text-indent:2em}\
.signoff{text-align:right;margin:8mm 0 6mm}\
.revoked{border:3px solid #b00;color:#b00;padding:3mm;text-align:center;font-size:14pt;margin-bottom:5mm}\
.verify{border-top:1px dashed #000;margin-top:8mm;padding-top:4mm;font-size:9pt;\
display:flex;gap:5mm;page-break-inside:avoid}\
.verify .qr{flex:none;width:45mm}.verify .qr svg{width:45mm;height:45mm}\
.verify .proof{flex:1;min-width:0}\
pre{white-space:pre-wrap;word-break:break-all;font-family:\"Courier New\",monospace;font-size:8pt;\
border:1px solid #999;padding:2mm;margin:1mm 0}\
code{word-break:break-all;font-size:8pt}";

/// The certificate as a self-contained printable HTML page (inline CSS, no scripts, no
/// external resources): Chinese with English subtitles. It states the debtor's ID number in
/// full, as a court document does, and carries what verification needs: the key id, the
/// signature, the canonical content (`<pre>`, and exactly in `data-sieve-content`) and a QR
/// code ([`qr_payload`]). `status_revoked` adds a banner saying the certificate no longer
/// stands. Every value is HTML-escaped.
pub fn render_html(
    content: &CertificateContent,
    canonical: &[u8],
    signature: &[u8; 64],
    status_revoked: bool,
) -> String {
    let e = |s: &str| html_escape(s);
    let number = e(&content.number);
    let signature_b64 = STANDARD.encode(signature);
    let payload = qr_payload(&content.number, &content.key_id, signature, canonical);
    let qr = qr_svg(&payload).unwrap_or_else(|| {
        "<p>二维码无法生成，请凭证明编号核验。<br><span class=\"en\">QR code unavailable; \
         verify by the certificate number.</span></p>"
            .to_owned()
    });
    let mut rulings: Vec<&String> = content.ruling_numbers.iter().collect();
    rulings.sort();
    rulings.dedup();
    let ruling_items: String = rulings
        .iter()
        .map(|r| format!("<li>{}</li>", e(r)))
        .collect();
    let amount_row = |zh: &str, en: &str, fen: i128| {
        format!(
            "<tr><th>{zh} <span class=\"en\">{en}</span></th>\
             <td class=\"amount\">{} 元 <span class=\"en\">yuan</span></td></tr>",
            format_yuan(fen)
        )
    };
    let claim_rows = [
        amount_row("本金", "Principal", i128::from(content.principal_fen)),
        amount_row("利息", "Interest", i128::from(content.interest_fen)),
        amount_row("罚息", "Penalty interest", i128::from(content.penalty_fen)),
        amount_row("费用", "Fees", i128::from(content.fees_fen)),
        amount_row("合计", "Total claim", content.claim_fen()),
    ]
    .concat();
    let revoked_banner = if status_revoked {
        "<div class=\"revoked\">本证明已撤销：所依据的终本案件已恢复执行。<br>\
         <span class=\"en\">REVOKED: enforcement of the ruling(s) it rests on has resumed; \
         this certificate no longer stands.</span></div>"
    } else {
        ""
    };
    let issued_zh = chinese_date(content.issued_on);
    let issued_iso = iso(content.issued_on);
    let canonical_text = e(&String::from_utf8_lossy(canonical));
    let name = e(&content.debtor_name);
    let id_number = e(&content.debtor_id_number);
    let court = e(&content.court_name);

    format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n\
<title>预查废证明 {number}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
{revoked_banner}\
<h1>预查废证明</h1>\n\
<p class=\"subtitle en\">Pre-check certificate (bad-debt write-off basis)</p>\n\
<p class=\"number\">{number}</p>\n\
<table>\n\
<tr><th>出具法院 <span class=\"en\">Court</span></th><td>{court}（{court_code}）</td></tr>\n\
<tr><th>申请银行 <span class=\"en\">Bank</span></th><td>{bank}（{bank_id}）</td></tr>\n\
<tr><th>银行案件编号 <span class=\"en\">Bank case reference</span></th><td>{bank_case_ref}</td></tr>\n\
<tr><th>案件标识 <span class=\"en\">Case id</span></th><td>{case_id}</td></tr>\n\
<tr><th>被执行人 <span class=\"en\">Debtor</span></th><td>{name}</td></tr>\n\
<tr><th>身份证号 <span class=\"en\">ID number</span></th><td>{id_number}</td></tr>\n\
{claim_rows}\n\
</table>\n\
<p class=\"statement\">经查询，被执行人{name}（身份证号{id_number}）系下列执行案件的被执行人；\
该等案件因被执行人无财产可供执行，已由人民法院裁定终结本次执行程序（终本）。\
<br><span class=\"en\">The debtor named above is the judgment debtor of the enforcement \
case(s) below, in which enforcement was terminated for lack of property available for \
enforcement (终结本次执行程序).</span></p>\n\
<p>终本裁定文书号 <span class=\"en\">Matching ruling(s)</span></p>\n<ul>{ruling_items}</ul>\n\
<p class=\"statement\">本证明依据出具之日登记的终本裁定作出；上述案件恢复执行的，本证明随之撤销。\
特此证明。<br><span class=\"en\">Issued on the rulings registered on the issue date; should \
enforcement resume, this certificate is revoked. Verify it by the QR code or the certificate \
number.</span></p>\n\
<p class=\"signoff\">{court}<br>{issued_zh}<br><span class=\"en\">Issued on {issued_iso}</span></p>\n\
<section class=\"verify\" id=\"verification\" data-sieve-number=\"{number}\" \
data-sieve-key-id=\"{key_id}\" data-sieve-signature=\"{signature_b64}\" \
data-sieve-content=\"{content_b64}\">\n\
<div class=\"qr\">{qr}</div>\n\
<div class=\"proof\">\n\
<p>核验信息 <span class=\"en\">Verification</span>：签名算法 <span class=\"en\">algorithm</span> \
{ALGORITHM}；密钥 <span class=\"en\">key id</span> <code>{key_id}</code></p>\n\
<p>签名 <span class=\"en\">Signature (base64)</span><br><code>{signature_b64}</code></p>\n\
<p>签名内容 <span class=\"en\">Signed content</span></p>\n\
<pre id=\"canonical-content\">{canonical_text}</pre>\n\
</div>\n</section>\n</body>\n</html>\n",
        court_code = e(&content.court_code),
        bank = e(&content.bank_name),
        bank_id = e(&content.bank_id),
        bank_case_ref = e(&content.bank_case_ref),
        case_id = e(&content.case_id),
        key_id = e(&content.key_id),
        content_b64 = STANDARD.encode(canonical),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    fn content() -> CertificateContent {
        CertificateContent {
            number: "(2025)黑0722预查废第000123号".into(),
            court_name: "嘉荫县人民法院".into(),
            court_code: "黑0722".into(),
            bank_name: "嘉荫农村商业银行".into(),
            bank_id: "bank-jiayin".into(),
            case_id: "0190a4c2-7d1e-7000-8000-000000000001".into(),
            bank_case_ref: "JY-2025-00001".into(),
            debtor_name: "徐敏".into(),
            debtor_id_number: "23072219851102174X".into(),
            principal_fen: 3_267_620,
            interest_fen: 45_061,
            penalty_fen: 56_838,
            fees_fen: 0,
            ruling_numbers: vec![
                "(2024)黑0722执300号之一".into(),
                "(2023)黑0722执12号之一".into(),
            ],
            issued_on: day(2025, 3, 1),
            key_id: "jiayin-2025-01".into(),
        }
    }

    /// A fixed key, so failures reproduce.
    fn fixed_key() -> CourtKey {
        CourtKey::from_secret_base64("jiayin-2025-01", &STANDARD.encode([7u8; 32]))
            .expect("32 bytes")
    }

    #[test]
    fn numbers_follow_the_configured_format() {
        assert_eq!(
            certificate_number(DEFAULT_NUMBER_FORMAT, 2025, "黑0722", 123),
            "(2025)黑0722预查废第000123号"
        );
        assert_eq!(
            certificate_number(DEFAULT_NUMBER_FORMAT, 2025, "黑0722", 1_234_567),
            "(2025)黑0722预查废第1234567号"
        );
        assert_eq!(
            certificate_number("{court}-{year}-{seq}", 2026, "JY", 7),
            "JY-2026-7"
        );
        assert_eq!(
            certificate_number("{year}/{seq:03}/{other}/{seq:x}/{", 2025, "c", 5),
            "2025/005/{other}/{seq:x}/{"
        );
        assert_eq!(certificate_number("无占位", 2025, "c", 5), "无占位");
        assert!(validate_number_format(DEFAULT_NUMBER_FORMAT).is_ok());
        assert!(validate_number_format("{court}第{seq:06}号").is_err());
        assert!(validate_number_format("({year}){court}预查废").is_err());
        assert_eq!(document_file_name(2025, 123), "预查废证明-2025-000123.html");
    }

    #[test]
    fn canonical_layout_and_round_trip() {
        let c = content();
        let bytes = canonical(&c);
        let text = String::from_utf8(bytes.clone()).expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], CANONICAL_VERSION);
        assert_eq!(lines.len(), 17);
        assert!(text.ends_with('\n'));
        assert_eq!(lines[1], "number=(2025)黑0722预查废第000123号");
        assert_eq!(lines[9], "debtor_id_number=23072219851102174X");
        assert_eq!(lines[10], "principal_fen=3267620");
        assert_eq!(
            lines[14],
            "ruling_numbers=(2023)黑0722执12号之一;(2024)黑0722执300号之一"
        );
        assert_eq!(lines[15], "issued_on=2025-03-01");

        let parsed = parse_canonical(&bytes).expect("parses");
        let mut sorted = c.clone();
        sorted.ruling_numbers.sort();
        assert_eq!(parsed, sorted);
        assert_eq!(canonical(&parsed), bytes);

        // Order of the rulings does not change the content.
        let mut reversed = c.clone();
        reversed.ruling_numbers.reverse();
        assert_eq!(canonical(&reversed), bytes);

        // A copy with CRLF line ends still reads, for altered_fields.
        let crlf = text.replace('\n', "\r\n");
        assert_eq!(parse_canonical(crlf.as_bytes()), Ok(sorted));
    }

    #[test]
    fn odd_values_round_trip_and_cannot_forge_fields() {
        let mut c = content();
        c.debtor_name = "徐敏\ndebtor_id_number=110101199003070000".into();
        c.bank_name = "银行=bank_id=x;y%41\r\u{202E}".into();
        c.ruling_numbers = vec!["A;B".into(), "C=D\nkey_id=evil".into()];
        let bytes = canonical(&c);
        let text = String::from_utf8(bytes.clone()).expect("utf-8");
        assert_eq!(text.lines().count(), 17);
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("debtor_id_number="))
                .count(),
            1
        );
        assert!(text.contains("debtor_name=徐敏%0Adebtor_id_number%3D110101199003070000\n"));
        let parsed = parse_canonical(&bytes).expect("parses");
        assert_eq!(parsed.debtor_name, c.debtor_name);
        assert_eq!(parsed.bank_name, c.bank_name);
        assert_eq!(parsed.debtor_id_number, "23072219851102174X");
        assert_eq!(parsed.ruling_numbers, vec!["A;B", "C=D\nkey_id=evil"]);
        assert_eq!(canonical(&parsed), bytes);

        // Hand-made forgeries are refused rather than read.
        let forged = text.replacen("key_id=", "key_id=a\nkey_id=", 1);
        assert!(parse_canonical(forged.as_bytes()).is_err());
        let raw_newline = text.replacen("%0A", "\n", 1);
        assert!(parse_canonical(raw_newline.as_bytes()).is_err());
    }

    #[test]
    fn malformed_canonical_is_refused() {
        let text = String::from_utf8(canonical(&content())).expect("utf-8");
        for bad in [
            String::new(),
            text.replacen(CANONICAL_VERSION, "sieve-certificate-v2", 1),
            text.replacen("court_name=", "court=", 1),
            text.replacen("principal_fen=3267620", "principal_fen=32676.20", 1),
            text.replacen("issued_on=2025-03-01", "issued_on=2025-02-30", 1),
            text.replacen("bank_id=bank-jiayin", "bank_id=bank%4", 1),
            text.replacen("bank_id=bank-jiayin", "bank_id=bank%FF", 1),
            text.replacen("ruling_numbers=(2023)", "ruling_numbers=;(2023)", 1),
            format!("{text}extra=1\n"),
            text.lines().take(10).collect::<Vec<_>>().join("\n"),
        ] {
            assert!(parse_canonical(bad.as_bytes()).is_err(), "{bad:?}");
        }
        assert!(parse_canonical(&[0xff, 0xfe]).is_err());
        // Errors do not echo the content.
        let e =
            parse_canonical(text.replacen("case_id=", "case=", 1).as_bytes()).expect_err("refused");
        assert!(!e.contains("23072219851102174X"));
    }

    #[test]
    fn altered_fields_finds_changes() {
        let issued = content();
        assert!(altered_fields(&issued, &issued).is_empty());
        let mut presented = issued.clone();
        presented.principal_fen += 100_000;
        presented.ruling_numbers.reverse();
        assert_eq!(altered_fields(&issued, &presented), vec!["principal_fen"]);
        presented.debtor_name = "徐明".into();
        presented.issued_on = day(2025, 3, 2);
        assert_eq!(
            altered_fields(&issued, &presented),
            vec!["debtor_name", "principal_fen", "issued_on"]
        );
        // Read from tampered bytes, as the verifier does.
        let tampered = String::from_utf8(canonical(&issued))
            .expect("utf-8")
            .replacen("fees_fen=0", "fees_fen=99", 1);
        let read = parse_canonical(tampered.as_bytes()).expect("readable");
        assert_eq!(altered_fields(&issued, &read), vec!["fees_fen"]);
    }

    #[test]
    fn sign_and_verify() {
        let key = fixed_key();
        let bytes = canonical(&content());
        let signature = key.sign(&bytes);
        let public = key.public_key_bytes();
        assert!(verify(&public, &bytes, &signature));
        assert!(verify_bytes(&public, &bytes, &signature));

        // Any flipped bit of content or signature fails.
        for i in [0, bytes.len() / 2, bytes.len() - 1] {
            let mut altered = bytes.clone();
            altered[i] ^= 0x01;
            assert!(!verify(&public, &altered, &signature), "content byte {i}");
        }
        for i in [0, 31, 32, 63] {
            let mut altered = signature;
            altered[i] ^= 0x80;
            assert!(!verify(&public, &bytes, &altered), "signature byte {i}");
        }

        // Another key fails.
        let other = CourtKey::generate("jiayin-2025-02");
        assert_ne!(other.public_key_bytes(), public);
        assert!(!verify(&other.public_key_bytes(), &bytes, &signature));

        // Garbage never panics.
        assert!(!verify(&public, &bytes, &[]));
        assert!(!verify(&public, &bytes, &signature[..63]));
        assert!(!verify(&public, &bytes, &[0u8; 65]));
        assert!(!verify(&[0u8; 32], &bytes, &signature));
        assert!(!verify(&[0xffu8; 32], &bytes, &[0xffu8; 64]));
        assert!(!verify_bytes(&public[..31], &bytes, &signature));
        assert!(!verify_bytes(&[], &bytes, &signature));
    }

    #[test]
    fn keys_round_trip_through_base64_without_leaking() {
        let key = CourtKey::generate("k1");
        let again = CourtKey::from_secret_base64("k1", &key.secret_base64()).expect("valid");
        assert_eq!(again.public_key_bytes(), key.public_key_bytes());
        assert_eq!(again.key_id(), "k1");
        let secret = key.secret_base64();
        assert!(!format!("{key:?}").contains(&secret));
        assert!(format!("{key:?}").contains(&key.public_key_base64()));

        assert!(CourtKey::from_secret_base64("k", "not base64!").is_err());
        let short = CourtKey::from_secret_base64("k", &STANDARD.encode([1u8; 31]));
        assert!(short.is_err());
        assert!(CourtKey::from_secret_base64("k", &STANDARD.encode([1u8; 64])).is_err());
        // Deterministic: the same seed is the same key.
        assert_eq!(
            fixed_key().public_key_bytes(),
            fixed_key().public_key_bytes()
        );
    }

    #[test]
    fn qr_payload_round_trip() {
        let key = fixed_key();
        let bytes = canonical(&content());
        let signature = key.sign(&bytes);
        let payload = qr_payload(&content().number, key.key_id(), &signature, &bytes);
        assert!(payload.starts_with("SIEVE-CERT1|(2025)黑0722预查废第000123号|jiayin-2025-01|"));
        let read = parse_qr_payload(&payload).expect("parses");
        assert_eq!(read.number, content().number);
        assert_eq!(read.key_id, "jiayin-2025-01");
        assert_eq!(read.signature, signature);
        assert!(read.matches_content(&bytes));
        assert!(!read.matches_content(b"other"));
        assert!(verify(&key.public_key_bytes(), &bytes, &read.signature));

        // A `|` in a text part is escaped, not a field break.
        let odd = qr_payload("A|B%", "k|1", &signature, &bytes);
        let read = parse_qr_payload(&odd).expect("parses");
        assert_eq!(
            (read.number.as_str(), read.key_id.as_str()),
            ("A|B%", "k|1")
        );

        for bad in [
            "",
            "SIEVE-CERT2|a|b|c|d",
            "SIEVE-CERT1|a|b|c",
            "SIEVE-CERT1|a|b|!!|d",
            &payload.replacen("SIEVE-CERT1|", "SIEVE-CERT1|x|", 1),
        ] {
            assert!(parse_qr_payload(bad).is_err(), "{bad}");
        }
        // The payload fits a QR code.
        assert!(qr_svg(&payload).is_some());
    }

    #[test]
    fn html_document() {
        let key = fixed_key();
        let mut c = content();
        c.debtor_name = "<script>alert('x')</script>徐敏".into();
        c.bank_name = "Bank & \"Co\"".into();
        let bytes = canonical(&c);
        let signature = key.sign(&bytes);
        let html = render_html(&c, &bytes, &signature, false);

        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("预查废证明"));
        assert!(html.contains("Pre-check certificate"));
        assert!(html.contains("(2025)黑0722预查废第000123号"));
        assert!(html.contains("嘉荫县人民法院"));
        assert!(!html.contains("<script"));
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;徐敏"));
        assert!(html.contains("Bank &amp; &quot;Co&quot;"));
        // Full ID number, as a court document states it.
        assert!(html.contains("23072219851102174X"));
        // Claim parts and total, exact yuan with separators.
        assert!(html.contains("32,676.20"));
        assert!(html.contains("450.61"));
        assert!(html.contains("568.38"));
        assert!(html.contains("0.00"));
        assert!(html.contains("33,695.19"));
        assert!(html.contains("(2023)黑0722执12号之一"));
        assert!(html.contains("(2024)黑0722执300号之一"));
        assert!(html.contains("2025年3月1日"));
        assert!(html.contains("终结本次执行程序"));
        assert!(html.contains("jiayin-2025-01"));
        assert!(html.contains(&STANDARD.encode(signature)));
        assert!(html.contains("<pre id=\"canonical-content\">sieve-certificate-v1\n"));
        assert!(html.contains("<svg"));
        assert!(!html.contains("<?xml"));
        assert!(!html.contains("REVOKED"));
        // Self-contained: no external resources.
        assert!(!html.contains("<link") && !html.contains("src=") && !html.contains("url("));

        // The holder's copy carries what verification needs, exactly.
        let proof = read_document(&html).expect("readable");
        assert_eq!(proof.number, c.number);
        assert_eq!(proof.key_id, c.key_id);
        assert_eq!(proof.content, bytes);
        assert_eq!(proof.signature, signature.to_vec());
        assert!(verify_bytes(
            &key.public_key_bytes(),
            &proof.content,
            &proof.signature
        ));
        assert!(read_document("<html></html>").is_err());

        let revoked = render_html(&c, &bytes, &signature, true);
        assert!(revoked.contains("REVOKED") && revoked.contains("已撤销"));
    }

    #[test]
    fn dates_for_print() {
        // Amounts print by the kernel's format_yuan, tested there.
        assert_eq!(chinese_date(day(2025, 3, 1)), "2025年3月1日");
        assert_eq!(chinese_date(day(2024, 12, 31)), "2024年12月31日");
    }
}
