//! Preservation (以保促调), the second layer of the chain: the bank applies with security, the
//! court rules in batch, freezes go to the payment platforms, the debtor calls the bank's
//! callback phone printed on the notice and enters mediation; a suit not filed within 30 days
//! lifts the freezes (CPL 104).
//!
//! `domain` holds the rules, pure: what an application must carry, its fee, the clocks (the
//! 48-hour ruling limit, the 30-day suit period and its reminder, the renewal window) and the
//! order of freezes across platforms. `channel` is where freeze orders go: the
//! [`channel::FreezeChannel`] trait and its gRPC client of the platforms' interface. The
//! store and the API build on them (issue 10).

pub mod channel;
pub mod domain;
