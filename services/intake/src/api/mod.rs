//! `sieve.intake.v1.IntakeService`: translates protobuf to the domain and storage and back.

use std::collections::HashSet;
use std::sync::Arc;

use sieve_kernel::SharedClock;
use sieve_kernel::error::{Error, Result, reason};
use sieve_kernel::rules::mask;
use sieve_proto::intake::v1 as pb;
use sieve_proto::intake::v1::intake_service_server::IntakeService;
use tokio::sync::mpsc;
use tonic::{Request, Response, Status, Streaming};

use crate::convert;
use crate::domain::chain::{self, Stage};
use crate::domain::screening::{self, ScopeConfig};
use crate::store::{self, Opened};

/// A batch holds at most this many cases (DESIGN.md section 1).
pub const MAX_BATCH_CASES: i64 = 1_000_000;
/// `SubmitCases` is for small batches; larger ones stream.
pub const MAX_UNARY_CASES: usize = 1_000;
/// Refusals returned with a batch's summary; the rest are paged by `ListBatchRows`, so no
/// answer outgrows the message limit however many rows are refused.
pub const REFUSALS_IN_SUMMARY: u64 = 1_000;
const MAX_PAGE: i32 = 1_000;
const DEFAULT_PAGE: i32 = 100;
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
}

impl IntakeApi {
    pub fn new(
        db: sieve_kernel::db::Db,
        clock: SharedClock,
        scope: ScopeConfig,
        receiver: store::Receiver,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                clock,
                scope,
                receiver,
            }),
        }
    }

    fn now_ms(&self) -> i64 {
        self.inner.clock.now().timestamp_millis()
    }
}

fn page(p: Option<&sieve_proto::common::v1::PageRequest>) -> Result<(u64, String)> {
    let (size, token) = p.map_or((0, String::new()), |p| (p.page_size, p.page_token.clone()));
    if size < 0 {
        return Err(Error::invalid_field(
            "page.page_size",
            "must not be negative",
        ));
    }
    let size = if size == 0 {
        DEFAULT_PAGE
    } else {
        size.min(MAX_PAGE)
    };
    Ok((size as u64, token))
}

impl IntakeApi {
    async fn require_bank(&self, bank_id: &str) -> Result<()> {
        sieve_kernel::wire::require_id("bank_id", bank_id)?;
        match store::get_bank(self.inner.db.read(), bank_id).await? {
            Some(_) => Ok(()),
            None => Err(Error::not_found("bank", bank_id)),
        }
    }

    async fn transition(
        &self,
        req: store::Transition,
        to: Stage,
        from: Option<Stage>,
    ) -> Result<(pb::Case, bool)> {
        let case_id = req.case_id.clone();
        let event_id = req.event_id.clone();
        let now = self.now_ms();
        let recorded = store::record_transition(&self.inner.db, req, now, |current, previous| {
            check_transition(&case_id, &event_id, from, to, current, previous)
        })
        .await;
        match recorded {
            Err(sea_orm::DbErr::RecordNotFound(_)) => Err(Error::not_found("case", case_id)),
            Err(sea_orm::DbErr::RecordNotUpdated) => Err(Error::conflict(
                reason::CONCURRENT_TRANSITION,
                "the case changed while this outcome was recorded; retry",
            )),
            Err(e) => Err(e.into()),
            Ok(Err(e)) => Err(e),
            Ok(Ok(store::Recorded::Applied(c))) => {
                tracing::info!(case = %c.id, to = %c.stage, "stage changed");
                Ok((convert::case_pb(c), false))
            }
            Ok(Ok(store::Recorded::Duplicate(c))) => Ok((convert::case_pb(c), true)),
        }
    }
}

#[tonic::async_trait]
impl IntakeService for IntakeApi {
    async fn register_bank(
        &self,
        request: Request<pb::RegisterBankRequest>,
    ) -> Result<Response<pb::RegisterBankResponse>, Status> {
        let r = request.into_inner();
        let code = r.code.trim();
        let mut err =
            Error::bad_request(reason::INVALID_BANK, "the bank registration is incomplete");
        if code.is_empty()
            || code.len() > 32
            || !code
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            err = err.with_violation("code", "1-32 letters, digits, '-' or '_'");
        }
        if r.name.trim().is_empty() || r.name.chars().count() > 128 {
            err = err.with_violation("name", "required, at most 128 characters");
        }
        if crate::domain::identity::validate_mobile(&r.callback_phone).is_err()
            && !(r.callback_phone.len() >= 7
                && r.callback_phone.len() <= 20
                && r.callback_phone
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b == b'-'))
        {
            err = err.with_violation(
                "callback_phone",
                "a mobile or landline number (digits and '-')",
            );
        }
        if !err.violations.is_empty() {
            return Err(err.into());
        }
        let (bank, created) = store::register_bank(
            &self.inner.db,
            code,
            r.name.trim(),
            r.callback_phone.trim(),
            self.now_ms(),
        )
        .await
        .map_err(Error::from)?;
        Ok(Response::new(pb::RegisterBankResponse {
            bank: Some(convert::bank_pb(bank)),
            created,
        }))
    }

    async fn get_bank(
        &self,
        request: Request<pb::GetBankRequest>,
    ) -> Result<Response<pb::GetBankResponse>, Status> {
        use pb::get_bank_request::Key;
        let db = self.inner.db.read();
        let bank = match request.into_inner().key {
            Some(Key::BankId(id)) => {
                sieve_kernel::wire::require_id("bank_id", &id)?;
                store::get_bank(db, &id)
                    .await
                    .map_err(Error::from)?
                    .ok_or_else(|| Error::not_found("bank", id))?
            }
            Some(Key::Code(code)) => {
                sieve_kernel::wire::require_id("code", &code)?;
                store::get_bank_by_code(db, &code)
                    .await
                    .map_err(Error::from)?
                    .ok_or_else(|| Error::not_found("bank", code))?
            }
            None => return Err(Error::invalid_field("key", "bank_id or code").into()),
        };
        Ok(Response::new(pb::GetBankResponse {
            bank: Some(convert::bank_pb(bank)),
        }))
    }

    async fn list_banks(
        &self,
        request: Request<pb::ListBanksRequest>,
    ) -> Result<Response<pb::ListBanksResponse>, Status> {
        let (size, token) = page(request.get_ref().page.as_ref())?;
        let banks = store::list_banks(self.inner.db.read(), &token, size)
            .await
            .map_err(Error::from)?;
        let next = if banks.len() as u64 == size {
            banks.last().map(|b| b.code.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListBanksResponse {
            banks: banks.into_iter().map(convert::bank_pb).collect(),
            next_page_token: next,
        }))
    }

    async fn submit_batch(
        &self,
        request: Request<Streaming<pb::SubmitBatchRequest>>,
    ) -> Result<Response<pb::SubmitBatchResponse>, Status> {
        let mut stream = request.into_inner();
        let header = match stream.message().await {
            Ok(Some(pb::SubmitBatchRequest {
                item: Some(pb::submit_batch_request::Item::Header(h)),
            })) => h,
            Ok(Some(_)) => {
                return Err(Error::bad_request(
                    reason::HEADER_FIRST,
                    "the first message of a batch must be its header",
                )
                .with_violation("item", "expected header")
                .into());
            }
            Ok(None) => {
                return Err(Error::bad_request(
                    reason::BATCH_EMPTY,
                    "the stream ended before the batch header",
                )
                .into());
            }
            Err(s) => return Err(malformed(&s).into()),
        };
        let receipt = match self.open(&header).await? {
            Err(done) => {
                let refusals = self.first_refusals(&done.id).await?;
                return Ok(Response::new(pb::SubmitBatchResponse {
                    batch: Some(convert::batch_pb(done)),
                    refusals,
                    replayed: true,
                }));
            }
            Ok(r) => r,
        };
        let batch_id = receipt.batch.id.clone();
        tracing::info!(batch = %batch_id, expected = header.expected_cases, "receiving batch");
        let chunks = futures::stream::unfold(stream, |mut s| async move {
            match s.message().await {
                Ok(Some(pb::SubmitBatchRequest {
                    item: Some(pb::submit_batch_request::Item::Chunk(c)),
                })) => Some((Ok(c.cases), s)),
                Ok(Some(_)) => Some((
                    Err(
                        Error::bad_request(reason::HEADER_TWICE, "a batch has one header, first")
                            .with_violation("item", "expected a chunk of cases"),
                    ),
                    s,
                )),
                Ok(None) => None,
                Err(status) => Some((Err(malformed(&status)), s)),
            }
        });
        // Receive on a task of its own: if the caller goes away mid-batch, the abort still
        // runs to the end and nothing half-written stays.
        let api = self.clone();
        let request_id = sieve_kernel::request_id::current().unwrap_or_default();
        let task = tokio::spawn(sieve_kernel::request_id::scope(request_id, async move {
            api.receive(receipt, Box::pin(chunks)).await
        }));
        let batch = task.await.map_err(Error::internal)??;
        let refusals = self.first_refusals(&batch.id).await?;
        tracing::info!(batch = %batch.id, accepted = batch.accepted_cases, existing = batch.existing_cases, refused = batch.refused_cases, "batch received");
        Ok(Response::new(pb::SubmitBatchResponse {
            batch: Some(convert::batch_pb(batch)),
            refusals,
            replayed: false,
        }))
    }

    async fn submit_cases(
        &self,
        request: Request<pb::SubmitCasesRequest>,
    ) -> Result<Response<pb::SubmitCasesResponse>, Status> {
        let r = request.into_inner();
        if r.cases.len() > MAX_UNARY_CASES {
            return Err(Error::bad_request(
                reason::BATCH_TOO_LARGE,
                format!("SubmitCases takes at most {MAX_UNARY_CASES} cases; stream larger batches with SubmitBatch"),
            )
            .with_violation("cases", format!("{} > {MAX_UNARY_CASES}", r.cases.len()))
            .into());
        }
        let header = pb::BatchHeader {
            bank_id: r.bank_id,
            request_id: r.request_id,
            expected_cases: r.cases.len() as i64,
            label: r.label,
        };
        let (batch, replayed) = match self.open(&header).await? {
            Err(done) => (done, true),
            Ok(receipt) => {
                let chunks = futures::stream::iter([Ok(r.cases)]);
                (self.receive(receipt, chunks).await?, false)
            }
        };
        let rows = store::batch_rows(
            self.inner.db.read(),
            &batch.id,
            0,
            MAX_UNARY_CASES as u64,
            false,
        )
        .await
        .map_err(Error::from)?;
        let rows = rows
            .into_iter()
            .map(convert::row_pb)
            .collect::<Result<Vec<_>>>()?;
        Ok(Response::new(pb::SubmitCasesResponse {
            batch: Some(convert::batch_pb(batch)),
            rows,
            replayed,
        }))
    }

    async fn get_batch(
        &self,
        request: Request<pb::GetBatchRequest>,
    ) -> Result<Response<pb::GetBatchResponse>, Status> {
        let id = &request.get_ref().batch_id;
        sieve_kernel::wire::require_id("batch_id", id)?;
        let batch = store::get_batch(self.inner.db.read(), id)
            .await
            .map_err(Error::from)?
            .ok_or_else(|| Error::not_found("batch", id))?;
        Ok(Response::new(pb::GetBatchResponse {
            batch: Some(convert::batch_pb(batch)),
        }))
    }

    async fn list_batch_rows(
        &self,
        request: Request<pb::ListBatchRowsRequest>,
    ) -> Result<Response<pb::ListBatchRowsResponse>, Status> {
        let r = request.into_inner();
        sieve_kernel::wire::require_id("batch_id", &r.batch_id)?;
        let (size, token) = page(r.page.as_ref())?;
        let after: i64 = if token.is_empty() {
            0
        } else {
            token.parse().map_err(|_| {
                Error::invalid_field("page.page_token", "not a token this call returned")
            })?
        };
        let batch = store::get_batch(self.inner.db.read(), &r.batch_id)
            .await
            .map_err(Error::from)?
            .ok_or_else(|| Error::not_found("batch", &r.batch_id))?;
        // Rows of a batch still being received name cases that do not exist yet; an aborted
        // batch kept none.
        if batch.status != store::BATCH_COMPLETED {
            return Err(Error::precondition(
                reason::BATCH_NOT_COMPLETED,
                format!(
                    "batch {} is {}: its rows are listed once it completes",
                    batch.id,
                    batch.status.to_lowercase()
                ),
            )
            .with_meta("status", batch.status)
            .into());
        }
        let rows = store::batch_rows(
            self.inner.db.read(),
            &r.batch_id,
            after,
            size,
            r.refused_only,
        )
        .await
        .map_err(Error::from)?;
        let next = if rows.len() as u64 == size {
            rows.last().map(|r| match r {
                store::RowRecord::Accepted { row, .. } => row.to_string(),
                store::RowRecord::Other(m) => m.row.to_string(),
            })
        } else {
            None
        };
        let rows = rows
            .into_iter()
            .map(convert::row_pb)
            .collect::<Result<Vec<_>>>()?;
        Ok(Response::new(pb::ListBatchRowsResponse {
            rows,
            next_page_token: next.unwrap_or_default(),
        }))
    }

    async fn get_case(
        &self,
        request: Request<pb::GetCaseRequest>,
    ) -> Result<Response<pb::GetCaseResponse>, Status> {
        let id = &request.get_ref().case_id;
        sieve_kernel::wire::require_id("case_id", id)?;
        let case = store::get_case(self.inner.db.read(), id)
            .await
            .map_err(Error::from)?
            .ok_or_else(|| Error::not_found("case", id))?;
        Ok(Response::new(pb::GetCaseResponse {
            case: Some(convert::case_pb(case)),
        }))
    }

    async fn list_cases(
        &self,
        request: Request<pb::ListCasesRequest>,
    ) -> Result<Response<pb::ListCasesResponse>, Status> {
        let r = request.into_inner();
        let (size, token) = page(r.page.as_ref())?;
        let stage = if r.stage == 0 {
            None
        } else {
            Some(
                convert::require_stage("stage", r.stage)?
                    .as_str()
                    .to_string(),
            )
        };
        let filter = store::CaseFilter {
            bank_id: Some(r.bank_id).filter(|s| !s.is_empty()),
            stage,
            batch_id: Some(r.batch_id).filter(|s| !s.is_empty()),
        };
        let cases = store::list_cases(self.inner.db.read(), &filter, &token, size)
            .await
            .map_err(Error::from)?;
        let next = if cases.len() as u64 == size {
            cases.last().map(|c| c.id.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListCasesResponse {
            cases: cases.into_iter().map(convert::case_pb).collect(),
            next_page_token: next,
        }))
    }

    async fn get_timeline(
        &self,
        request: Request<pb::GetTimelineRequest>,
    ) -> Result<Response<pb::GetTimelineResponse>, Status> {
        let id = &request.get_ref().case_id;
        sieve_kernel::wire::require_id("case_id", id)?;
        let case = store::get_case(self.inner.db.read(), id)
            .await
            .map_err(Error::from)?
            .ok_or_else(|| Error::not_found("case", id))?;
        let mut events = vec![convert::admission_event(&case)];
        events.extend(
            store::events(self.inner.db.read(), id)
                .await
                .map_err(Error::from)?
                .into_iter()
                .map(convert::event_pb),
        );
        Ok(Response::new(pb::GetTimelineResponse { events }))
    }

    async fn record_stage_outcome(
        &self,
        request: Request<pb::RecordStageOutcomeRequest>,
    ) -> Result<Response<pb::RecordStageOutcomeResponse>, Status> {
        let (t, from, to) = outcome_transition(request.into_inner(), self.now_ms())?;
        let (case, duplicate) = self.transition(t, to, Some(from)).await?;
        Ok(Response::new(pb::RecordStageOutcomeResponse {
            case: Some(case),
            duplicate,
        }))
    }

    async fn record_stage_outcomes(
        &self,
        request: Request<pb::RecordStageOutcomesRequest>,
    ) -> Result<Response<pb::RecordStageOutcomesResponse>, Status> {
        let outcomes = request.into_inner().outcomes;
        if outcomes.len() > MAX_OUTCOMES_PER_CALL {
            return Err(Error::bad_request(
                reason::TOO_MANY_OUTCOMES,
                format!("at most {MAX_OUTCOMES_PER_CALL} outcomes per call"),
            )
            .with_violation(
                "outcomes",
                format!("{} > {MAX_OUTCOMES_PER_CALL}", outcomes.len()),
            )
            .into());
        }
        let now = self.now_ms();
        // One transaction for the whole batch: a million outcomes are a thousand commits,
        // not a million. Each outcome is checked on its own; a refused one writes nothing.
        let txn = sieve_kernel::db::begin_write(&self.inner.db)
            .await
            .map_err(Error::from)?;
        let mut results = Vec::with_capacity(outcomes.len());
        let mut applied = 0usize;
        for r in outcomes {
            let (event_id, case_id) = (r.event_id.clone(), r.case_id.clone());
            let refused = |e: Error| pb::OutcomeResult {
                event_id: event_id.clone(),
                case_id: case_id.clone(),
                stage: 0,
                duplicate: false,
                refused_reason: e.reason.to_string(),
                refused_message: e.message,
            };
            let (t, from, to) = match outcome_transition(r, now) {
                Ok(x) => x,
                Err(e) => {
                    results.push(refused(e));
                    continue;
                }
            };
            let recorded = store::apply_transition(&txn, t, now, |current, previous| {
                check_transition(&case_id, &event_id, Some(from), to, current, previous)
            })
            .await
            .map_err(|e| match e {
                sea_orm::DbErr::RecordNotUpdated => Error::conflict(
                    reason::CONCURRENT_TRANSITION,
                    "a case changed while these outcomes were recorded; retry",
                ),
                e => e.into(),
            })?;
            results.push(match recorded {
                Err(e) => refused(e),
                Ok(store::Recorded::Applied(c)) => {
                    applied += 1;
                    pb::OutcomeResult {
                        event_id,
                        case_id,
                        stage: convert::stage_pb(&c.stage) as i32,
                        duplicate: false,
                        refused_reason: String::new(),
                        refused_message: String::new(),
                    }
                }
                Ok(store::Recorded::Duplicate(c)) => pb::OutcomeResult {
                    event_id,
                    case_id,
                    stage: convert::stage_pb(&c.stage) as i32,
                    duplicate: true,
                    refused_reason: String::new(),
                    refused_message: String::new(),
                },
            });
        }
        txn.commit().await.map_err(Error::from)?;
        tracing::info!(outcomes = results.len(), applied, "stage outcomes recorded");
        Ok(Response::new(pb::RecordStageOutcomesResponse { results }))
    }

    async fn withdraw_case(
        &self,
        request: Request<pb::WithdrawCaseRequest>,
    ) -> Result<Response<pb::WithdrawCaseResponse>, Status> {
        let r = request.into_inner();
        sieve_kernel::wire::require_id("request_id", &r.request_id)?;
        sieve_kernel::wire::require_id("case_id", &r.case_id)?;
        tracing::info!(case = %r.case_id, reason = %mask::text(&r.reason), "withdrawal");
        let t = store::Transition {
            event_id: format!("withdraw:{}:{}", r.case_id, r.request_id),
            case_id: r.case_id,
            from_stage: String::new(),
            to_stage: Stage::Withdrawn.as_str().into(),
            actor: "BANK".into(),
            reason: format!(
                "withdrawn by the bank / 银行撤回: {}",
                r.reason.chars().take(500).collect::<String>()
            ),
            source_record_id: r.request_id,
            occurred_at_ms: self.now_ms(),
        };
        let (case, _) = self.transition_from_current(t, Stage::Withdrawn).await?;
        Ok(Response::new(pb::WithdrawCaseResponse { case: Some(case) }))
    }

    async fn report_settlement(
        &self,
        request: Request<pb::ReportSettlementRequest>,
    ) -> Result<Response<pb::ReportSettlementResponse>, Status> {
        let r = request.into_inner();
        sieve_kernel::wire::require_id("request_id", &r.request_id)?;
        sieve_kernel::wire::require_id("case_id", &r.case_id)?;
        if r.paid_fen <= 0 {
            return Err(Error::invalid_field("paid_fen", "must be positive (fen)").into());
        }
        let t = store::Transition {
            event_id: format!("settle:{}:{}", r.case_id, r.request_id),
            case_id: r.case_id,
            from_stage: String::new(),
            to_stage: Stage::Settled.as_str().into(),
            actor: "BANK".into(),
            reason: format!("paid in full: {} fen / 已全额履行", r.paid_fen),
            source_record_id: r.request_id,
            occurred_at_ms: r
                .paid_at
                .as_ref()
                .map_or_else(|| self.now_ms(), convert::millis),
        };
        let (case, _) = self.transition_from_current(t, Stage::Settled).await?;
        Ok(Response::new(pb::ReportSettlementResponse {
            case: Some(case),
        }))
    }
}

impl IntakeApi {
    /// A bank's own act (withdrawal, settlement) applies from whatever open stage the case
    /// is in; the stored event records that stage.
    async fn transition_from_current(
        &self,
        mut t: store::Transition,
        to: Stage,
    ) -> Result<(pb::Case, bool)> {
        let current = store::get_case(self.inner.db.read(), &t.case_id)
            .await?
            .ok_or_else(|| Error::not_found("case", &t.case_id))?;
        t.from_stage = current.stage.clone();
        let from = Stage::parse(&current.stage);
        self.transition(t, to, from).await
    }
}

/// The chain's checks of one outcome against the case as it is now (inside the write
/// transaction). `from` None: the case's current stage (a bank's own act).
fn check_transition(
    case_id: &str,
    event_id: &str,
    from: Option<Stage>,
    to: Stage,
    current: Option<&store::case::Model>,
    previous: Option<&store::case_event::Model>,
) -> Result<()> {
    let Some(current) = current else {
        return Err(Error::not_found("case", case_id));
    };
    if let Some(prev) = previous {
        if prev.case_id != case_id || prev.to_stage != to.as_str() {
            return Err(Error::bad_request(
                reason::EVENT_ID_REUSED,
                format!("event {event_id} was already recorded for another outcome"),
            )
            .with_violation("event_id", "already used for a different case or stage"));
        }
        return Ok(());
    }
    let Some(current_stage) = Stage::parse(&current.stage) else {
        return Err(Error::internal(std::io::Error::other(format!(
            "case {} has unknown stage {}",
            current.id, current.stage
        ))));
    };
    let from = from.unwrap_or(current_stage);
    if current_stage != from {
        return Err(Error::precondition(
            reason::STAGE_MISMATCH,
            format!("case {} is in {current_stage}, not {from}", current.id),
        )
        .with_meta("current", current_stage.as_str())
        .with_meta("from", from.as_str())
        .with_meta("to", to.as_str()));
    }
    if !chain::allows(from, to) {
        return Err(Error::precondition(
            reason::ILLEGAL_TRANSITION,
            format!("the chain has no transition from {from} to {to}"),
        )
        .with_meta("from", from.as_str())
        .with_meta("to", to.as_str()));
    }
    Ok(())
}

/// Validates a reported outcome and turns it into a transition to record.
fn outcome_transition(
    r: pb::RecordStageOutcomeRequest,
    now_ms: i64,
) -> Result<(store::Transition, Stage, Stage)> {
    sieve_kernel::wire::require_id("event_id", &r.event_id)?;
    sieve_kernel::wire::require_id("case_id", &r.case_id)?;
    // from_stage: the stage the reporter saw.
    let from = convert::require_stage("from_stage", r.from_stage)?;
    let to = convert::require_stage("to_stage", r.to_stage)?;
    if r.reason.chars().count() > 2000 {
        return Err(Error::invalid_field("reason", "at most 2000 characters"));
    }
    let occurred = r.occurred_at.as_ref().map_or(now_ms, convert::millis);
    let t = store::Transition {
        event_id: r.event_id,
        case_id: r.case_id,
        from_stage: from.as_str().into(),
        to_stage: to.as_str().into(),
        actor: convert::actor_str(r.actor),
        reason: r.reason,
        source_record_id: r.source_record_id.chars().take(256).collect(),
        occurred_at_ms: occurred,
    };
    Ok((t, from, to))
}

/// At most this many outcomes per RecordStageOutcomes call.
pub const MAX_OUTCOMES_PER_CALL: usize = 5_000;

mod receive;

use receive::malformed;
