//! Simulators of the external systems the court talks to, each a real gRPC server on its own
//! port, so that tests and `sieve demo` drive Sieve's real clients over the network: never a
//! mock that only answers Ok.
//!
//! - [`payment`]: Alipay and WeChat Pay's interface for court freezes
//!   (`sieve.sim.payment.v1`).
//! - [`delivery`]: a document-service provider (SMS, electronic service, registered post,
//!   in person, left at the residence) with debtors of whom a seeded share call back
//!   (`sieve.sim.delivery.v1`), reached through the kernel's `delivery::Delivery` trait.

pub mod delivery;
pub mod payment;
pub mod serving;
