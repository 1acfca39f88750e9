//! `sieve.intake.v1.IntakeService`: translates protobuf to the domain and storage and back.

use std::collections::HashSet;
use std::sync::Arc;

use sieve_kernel::SharedClock;
use sieve_kernel::error::{Error, Result, reason};
use sieve_kernel::lookup::Batched;
use sieve_proto::intake::v1 as pb;
use sieve_proto::intake::v1::intake_service_server::IntakeService;
use tokio::sync::mpsc;
use tonic::{Request, Response, Status, Streaming};

use crate::convert;
use crate::domain::screening::{self, ScopeConfig};
use crate::store::{self, Opened};

/// A batch holds at most this many cases (DESIGN.md section 1).
pub const MAX_BATCH_CASES: i64 = 1_000_000;
/// `SubmitCases` is for small batches; larger ones stream.
pub const MAX_UNARY_CASES: usize = 1_000;
/// Refusals returned with a batch's summary; the rest are paged by `ListBatchRows`, so no
/// answer outgrows the message limit however many rows are refused.
pub const REFUSALS_IN_SUMMARY: u64 = 1_000;
/// At most this many outcomes per RecordStageOutcomes call.
pub const MAX_OUTCOMES_PER_CALL: usize = 5_000;
/// A receiver renews its batch's lease with every chunk and every [`LEASE_RENEWAL`] while the
/// caller is slow to send; a lease that lapses means the receiver died, and the batch is
/// aborted (by the sweep, or by the next batch naming one of its cases).
pub const BATCH_LEASE_MS: i64 = 30_000;
/// How often a receiver renews its lease while it waits for the caller.
const LEASE_RENEWAL: std::time::Duration = std::time::Duration::from_secs(5);

/// What every call shares.
#[derive(Clone)]
pub struct IntakeApi {
    inner: Arc<Inner>,
}

struct Inner {
    db: sieve_kernel::db::Db,
    clock: SharedClock,
    scope: ScopeConfig,
    /// Holds the leases of the batches this process receives.
    receiver: store::Receiver,
    /// `GetCase`'s reads: concurrent lookups share a query.
    cases: Batched<store::case::Model>,
}

impl IntakeApi {
    pub fn new(
        db: sieve_kernel::db::Db,
        clock: SharedClock,
        scope: ScopeConfig,
        receiver: store::Receiver,
    ) -> Self {
        let readers = db.read().clone();
        let completed = Arc::new(store::CompletedBatches::default());
        let cases = Batched::spawn("case", db.lookup_limits(), move |ids| {
            let (readers, completed) = (readers.clone(), completed.clone());
            async move { store::cases_by_id(&readers, ids, &completed).await }
        });
        Self {
            inner: Arc::new(Inner {
                db,
                clock,
                scope,
                receiver,
                cases,
            }),
        }
    }

    fn now_ms(&self) -> i64 {
        self.inner.clock.now().timestamp_millis()
    }
}

// One module per group of calls; the one trait impl below delegates to them.
mod banks;
mod batches;
mod cases;
mod deadlines;
mod receive;
mod transitions;
mod within;

pub use within::MAX_EVENTS_PER_CALL;

#[tonic::async_trait]
impl IntakeService for IntakeApi {
    async fn register_bank(
        &self,
        request: Request<pb::RegisterBankRequest>,
    ) -> Result<Response<pb::RegisterBankResponse>, Status> {
        banks::register_bank(self, request).await
    }

    async fn get_bank(
        &self,
        request: Request<pb::GetBankRequest>,
    ) -> Result<Response<pb::GetBankResponse>, Status> {
        banks::get_bank(self, request).await
    }

    async fn list_banks(
        &self,
        request: Request<pb::ListBanksRequest>,
    ) -> Result<Response<pb::ListBanksResponse>, Status> {
        banks::list_banks(self, request).await
    }

    async fn submit_batch(
        &self,
        request: Request<Streaming<pb::SubmitBatchRequest>>,
    ) -> Result<Response<pb::SubmitBatchResponse>, Status> {
        batches::submit_batch(self, request).await
    }

    async fn submit_cases(
        &self,
        request: Request<pb::SubmitCasesRequest>,
    ) -> Result<Response<pb::SubmitCasesResponse>, Status> {
        batches::submit_cases(self, request).await
    }

    async fn get_batch(
        &self,
        request: Request<pb::GetBatchRequest>,
    ) -> Result<Response<pb::GetBatchResponse>, Status> {
        batches::get_batch(self, request).await
    }

    async fn list_batch_rows(
        &self,
        request: Request<pb::ListBatchRowsRequest>,
    ) -> Result<Response<pb::ListBatchRowsResponse>, Status> {
        batches::list_batch_rows(self, request).await
    }

    async fn get_case(
        &self,
        request: Request<pb::GetCaseRequest>,
    ) -> Result<Response<pb::GetCaseResponse>, Status> {
        cases::get_case(self, request).await
    }

    async fn batch_get_cases(
        &self,
        request: Request<pb::BatchGetCasesRequest>,
    ) -> Result<Response<pb::BatchGetCasesResponse>, Status> {
        cases::batch_get_cases(self, request).await
    }

    async fn list_cases(
        &self,
        request: Request<pb::ListCasesRequest>,
    ) -> Result<Response<pb::ListCasesResponse>, Status> {
        cases::list_cases(self, request).await
    }

    async fn get_timeline(
        &self,
        request: Request<pb::GetTimelineRequest>,
    ) -> Result<Response<pb::GetTimelineResponse>, Status> {
        cases::get_timeline(self, request).await
    }

    async fn record_stage_outcome(
        &self,
        request: Request<pb::RecordStageOutcomeRequest>,
    ) -> Result<Response<pb::RecordStageOutcomeResponse>, Status> {
        transitions::record_stage_outcome(self, request).await
    }

    async fn record_stage_outcomes(
        &self,
        request: Request<pb::RecordStageOutcomesRequest>,
    ) -> Result<Response<pb::RecordStageOutcomesResponse>, Status> {
        transitions::record_stage_outcomes(self, request).await
    }

    async fn record_deadline_moved(
        &self,
        request: Request<pb::RecordDeadlineMovedRequest>,
    ) -> Result<Response<pb::RecordDeadlineMovedResponse>, Status> {
        deadlines::record_deadline_moved(self, request).await
    }

    async fn record_case_events(
        &self,
        request: Request<pb::RecordCaseEventsRequest>,
    ) -> Result<Response<pb::RecordCaseEventsResponse>, Status> {
        within::record_case_events(self, request).await
    }

    async fn withdraw_case(
        &self,
        request: Request<pb::WithdrawCaseRequest>,
    ) -> Result<Response<pb::WithdrawCaseResponse>, Status> {
        transitions::withdraw_case(self, request).await
    }

    async fn report_settlement(
        &self,
        request: Request<pb::ReportSettlementRequest>,
    ) -> Result<Response<pb::ReportSettlementResponse>, Status> {
        transitions::report_settlement(self, request).await
    }
}
