//! Intake's storage: entities, migrations and the queries the API needs. Every write that
//! belongs together commits together.

pub mod entities;
pub mod migration;

mod banks;
mod batches;
mod cases;
mod chunks;
mod events;

pub use banks::{get_bank, get_bank_by_code, list_banks, register_bank};
pub use batches::{
    ABANDONED, BatchError, NewBatch, Opened, Receiver, RowRecord, WhichRows,
    abort_abandoned_batches, abort_batch, batch_rows, complete_batch, find_batch, get_batch,
    renew_lease,
};
pub use cases::{CaseFilter, CompletedBatches, cases_by_id, cases_in_rows, get_case, list_cases};
pub use chunks::{
    Chunk, ChunkOutcome, NO_DIFFERENCES, RULE_IN_UNFINISHED_BATCH, differing_fields, write_chunk,
};
pub use entities::{bank, batch, batch_row, case, case_event};
pub use events::{
    Recorded, Transition, apply_transitions, events, record_transition, record_transitions,
};

pub use entities::batch_row::Outcome as RowOutcome;
/// A batch's status: the words of every upload (the kernel's lease reads them).
pub use sieve_kernel::bulk::UploadStatus as BatchStatus;

fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

#[cfg(test)]
mod tests;
