//! Pure rules of the pre-check: no I/O, no clock reads, no protobuf types.

pub mod certificate;
pub mod ruling;
