//! What every stage's rules are built from, once: the violations a refusal lists (field,
//! rule, bilingual description, their stored form), money (yuan ↔ fen, the claim), court
//! fees (preservation, property case, payment order), printable documents (HTML escaping,
//! dates in Chinese), dates
//! (protobuf ↔ chrono, months), the resident ID (GB 11643) and the unified social credit
//! code (GB 32100), the masking of personal data in refusals and log lines, and stored JSON
//! read back strictly.
//!
//! Pure: no I/O, no clock (today's date is a parameter).

pub mod dates;
pub mod document;
pub mod fees;
pub mod mask;
pub mod money;
pub mod resident_id;
pub mod stored;
pub mod uscc;
pub mod violation;

pub use violation::{Label, StoredViolation, Violation, rule};
