//! Uploads: what every call that takes many rows at once shares (a bank's batch at intake and
//! the gateway's bank door, the registry's import of rulings), so the next one is not written
//! again.
//!
//! - [`stream`]: the header-first client stream — the first message is the header, then
//!   chunks of rows, counted against the header's declared count and numbered in order;
//! - [`lease`]: opening an upload under its key and a receiver's lease — answered from a
//!   completed one, refused while another holds it, started again when it broke off or its
//!   receiver's lease lapsed;
//! - [`page`]: the size and token of a list call's page.
//!
//! Refusals stored with the rows are read back strictly by
//! [`crate::rules::violation::decode`] (other stored JSON by [`crate::rules::stored`]):
//! corruption is an internal error, logged under a reference, never an empty list. Every
//! reason these answer with is in [`crate::error::reason`].

pub mod lease;
pub mod page;
pub mod stream;

pub use lease::{Lease, Opened, Standing, UploadStatus, Uploads};
pub use page::Page;
pub use stream::{BATCH, IMPORT, Kind, Part, Rows, Tally, Upload, Wording};

#[cfg(test)]
mod tests;
