//! What every stage's rules are built from, once: the masking of personal data in refusals
//! and log lines.
//!
//! Pure: no I/O, no clock (today's date is a parameter).

pub mod mask;
