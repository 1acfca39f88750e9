//! Pure rules of intake: no I/O, no clock reads (today is passed in), no protobuf types.

pub mod chain;
pub mod identity;
pub mod screening;
