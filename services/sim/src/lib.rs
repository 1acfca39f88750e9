//! Simulators of the external systems the court talks to, each a real gRPC server on its own
//! port, so that tests and `sieve demo` drive Sieve's real clients over the network: never a
//! mock that only answers Ok.
//!
//! - [`payment`]: Alipay and WeChat Pay's interface for court freezes
//!   (`sieve.sim.payment.v1`).

pub mod payment;
