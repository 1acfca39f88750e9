//! Preservation's rules, without I/O: today's date and the calendar are parameters.

pub mod application;
pub mod clocks;
pub mod freezes;
pub mod notice;
