//! The QR code (二维码) printed on a certificate: its payload, read back, and its image.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use qrcode::{EcLevel, QrCode};
use sha2::{Digest as _, Sha256};

use super::content::unescape;

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
pub(super) fn qr_svg(payload: &str) -> Option<String> {
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
