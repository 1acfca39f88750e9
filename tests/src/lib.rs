//! Test support for every crate's tests, in the manner of zero2prod's `tests/api/helpers.rs`:
//! [`Spawn`] starts any set of the suite's services from the registry (the one `sieve up`
//! runs) on free ports, each on a fresh database that goes away with the test; [`fixtures`]
//! holds the cases, debtors and rulings tests share; [`wait`] polls until the outbox relays
//! have moved cases; [`raw`] puts bytes on the wire that no generated client would send.
//!
//! The crate's own tests (`tests/`) run the whole suite as an operator does.

pub mod fixtures;
pub mod raw;
pub mod sims;
mod spawn;
pub mod wait;

pub use sieve_cli::suite::names as services;
pub use sims::Simulators;
pub use spawn::{Crashable, Database, Reach, Spawn, Spawned};
pub use wait::{eventually, wait_for_stage};

/// The services by their registry names.
pub const INTAKE: &str = sieve_intake::SERVICE;
pub const PRE_CHECK: &str = sieve_bad_debt_check::SERVICE;
pub const PRESERVATION: &str = sieve_preservation::SERVICE;
pub const GATEWAY: &str = sieve_gateway::SERVICE;
