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

mod content;
mod document;
mod eligibility;
mod number;
mod qr;
mod signature;

pub use content::{
    CANONICAL_KEYS, CANONICAL_VERSION, CertificateContent, altered_fields, canonical,
    parse_canonical,
};
pub use document::{
    DocumentProof, chinese_date, document_file_name, html_escape, read_document, render_html,
};
pub use eligibility::{CheckState, MatchedRuling, Refusal, grounds};
pub use number::{DEFAULT_NUMBER_FORMAT, certificate_number, validate_number_format};
pub use qr::{QR_TAG, QrPayload, content_digest, parse_qr_payload, qr_payload};
pub use signature::{ALGORITHM, CourtKey, verify, verify_bytes};

#[cfg(test)]
mod tests;
