//! Matching runs: every case taken and not yet matched is compared with the registry in one
//! set-based statement, and its outcomes are handed to the outbox in the same transaction.
//!
//! Why runs rather than matching inside `CheckCases`: a bank's batch of a million cases
//! arrives as a thousand calls; matching each call's cases on its own costs a thousand
//! lookups, inserts and outcome messages, while one statement over whatever has arrived
//! costs about what the database's own join costs (BENCHMARKS.md).

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel};
use sieve_kernel::SharedClock;
use sieve_kernel::db::Db;
use sieve_kernel::outbox::{self, DeliveryError, IntakeOutcomes, NewMessage, OutboxMessage};
use sieve_kernel::worker::{Pass, Work, Worker};
use sieve_proto::intake::v1 as intake;
use tokio::sync::Notify;

use crate::convert;
use crate::domain::ruling as rules;
use crate::store;

/// Outcomes of a slice of a run, materialized when delivered (see `OutcomeRange`).
pub const TOPIC_RUN_OUTCOMES: &str = "bad_debt_check.run_outcomes";
/// Cases per outcome message, the size of one `RecordStageOutcomes` call to intake.
const CASES_PER_MESSAGE: i64 = 1_000;
/// How often an idle matcher looks for cases anyway (a missed wake-up, another replica).
const POLL: Duration = Duration::from_secs(1);

/// The payload of a `TOPIC_RUN_OUTCOMES` message: the checks with
/// `after_seq < seq <= last_seq`, matched by run `run_id`. The outbox row names the committed,
/// never rewritten rows of that run instead of copying them: a million outcomes would
/// otherwise write a quarter of a gigabyte of messages inside the run's transaction.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OutcomeRange {
    pub run_id: String,
    pub after_seq: i64,
    pub last_seq: i64,
}

/// Runs matching whenever cases have been taken.
pub struct Matcher {
    db: Db,
    clock: SharedClock,
    window_months: Option<u32>,
    max_cases_per_run: i64,
    gather: Duration,
    wake: Arc<Notify>,
    relay: Arc<Notify>,
}

impl Matcher {
    pub fn new(
        db: Db,
        clock: SharedClock,
        window_months: Option<u32>,
        max_cases_per_run: i64,
        gather: Duration,
        relay: Arc<Notify>,
    ) -> Self {
        Self {
            db,
            clock,
            window_months,
            max_cases_per_run: max_cases_per_run.max(1),
            gather,
            wake: Arc::new(Notify::new()),
            relay,
        }
    }

    /// Notify this after taking cases to have them matched without waiting for the poll.
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// One run over the cases waiting (at most `max_cases_per_run` of them). `None` when no
    /// case waits.
    pub async fn run_once(&self) -> Result<Option<store::match_run::Model>, DbErr> {
        let started = Instant::now();
        let now = self.clock.now().timestamp_millis();
        let since = rules::window_start(self.clock.today(), self.window_months)
            .map(sieve_kernel::rules::dates::iso);
        // A read first, so an idle matcher does not take the writer every poll.
        if store::progress(self.db.read()).await?.waiting() <= 0 {
            return Ok(None);
        }
        let txn = sieve_kernel::db::begin_write(&self.db).await?;
        let progress = store::progress_for_run(&txn).await?;
        if progress.waiting() <= 0 {
            return Ok(None);
        }
        let after = progress.matched;
        let last = progress
            .taken
            .min(after.saturating_add(self.max_cases_per_run));
        let matches = store::match_range(&txn, after, last, since.as_deref()).await?;
        let run_id = store::new_id();
        let mut messages = Vec::new();
        let mut from = after;
        while from < last {
            let to = (from + CASES_PER_MESSAGE).min(last);
            let range = OutcomeRange {
                run_id: run_id.clone(),
                after_seq: from,
                last_seq: to,
            };
            messages.push(NewMessage {
                topic: TOPIC_RUN_OUTCOMES,
                key: "pre-check".into(),
                payload: serde_json::to_vec(&range)
                    .map_err(|e| DbErr::Custom(format!("outcome range: {e}")))?,
            });
            from = to;
        }
        outbox::enqueue(&txn, now, messages).await?;
        store::set_matched(&txn, last).await?;
        let run = store::match_run::Model {
            id: run_id,
            after_seq: after,
            last_seq: last,
            matches: matches as i64,
            terminated_since: since,
            checked_at_ms: now,
            took_ms: started.elapsed().as_millis() as i64,
        };
        store::match_run::Entity::insert(run.clone().into_active_model().reset_all())
            .exec_without_returning(&txn)
            .await?;
        txn.commit().await?;
        self.relay.notify_one();
        tracing::info!(
            run = %run.id,
            // Numbers, not cases: a redelivered case leaves its number unused.
            numbers = last - after,
            matches,
            took_ms = run.took_ms,
            "matching run"
        );
        Ok(Some(run))
    }

    /// Runs until `shutdown` resolves. Cases arrive a thousand per call, many calls a
    /// second: the matcher lets them gather for `gather` (or until a full run waits) before
    /// it runs, so that one statement decides many calls' cases.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        Worker::new(POLL, self.wake.clone())
            .run(
                Matching {
                    matcher: self,
                    gathered: false,
                },
                shutdown,
            )
            .await;
    }
}

/// The matcher as a worker: idle while no case waits; holds once for `gather` while fewer
/// than a full run wait (a wake-up, more cases, does not cut the hold short); then runs.
struct Matching {
    matcher: Matcher,
    gathered: bool,
}

/// Why a matcher's pass failed: the log line says which step.
enum MatchFailed {
    Sequence(DbErr),
    Run(DbErr),
}

impl std::fmt::Display for MatchFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MatchFailed::Sequence(e) | MatchFailed::Run(e) => e.fmt(f),
        }
    }
}

#[async_trait]
impl Work for Matching {
    type Error = MatchFailed;

    async fn pass(&mut self) -> Result<Pass, MatchFailed> {
        let m = &self.matcher;
        let waiting = match store::progress(m.db.read()).await {
            Ok(p) => p.waiting(),
            Err(e) => {
                self.gathered = false;
                return Err(MatchFailed::Sequence(e));
            }
        };
        if waiting <= 0 {
            self.gathered = false;
            return Ok(Pass::Idle);
        }
        if waiting < m.max_cases_per_run && !self.gathered && !m.gather.is_zero() {
            self.gathered = true;
            return Ok(Pass::Hold(m.gather));
        }
        self.gathered = false;
        m.run_once().await.map_err(MatchFailed::Run)?;
        Ok(Pass::Busy)
    }

    fn failed(&self, error: &MatchFailed) -> &'static str {
        match error {
            MatchFailed::Sequence(_) => "matcher cannot read the sequence",
            MatchFailed::Run(_) => "matching run failed; it will be tried again",
        }
    }
}

/// Delivers run outcomes to intake: reads the range's checks and matches and sends them as
/// `RecordStageOutcomes`. Redelivery sends the same events (ids `pre-check:<check id>`),
/// which intake records once.
pub struct RunOutcomes {
    db: Db,
    intake: IntakeOutcomes,
}

impl RunOutcomes {
    pub fn new(db: Db, intake: sieve_kernel::internal::InternalChannel) -> Self {
        Self {
            db,
            intake: IntakeOutcomes::new(intake),
        }
    }

    /// The outcomes a range holds, in sequence order.
    pub async fn outcomes(
        db: &impl ConnectionTrait,
        range: &OutcomeRange,
    ) -> Result<Vec<intake::RecordStageOutcomeRequest>, DbErr> {
        let checks = store::checks_in_range(db, range.after_seq, range.last_seq).await?;
        let records = store::check_records(db, checks).await?;
        Ok(records
            .iter()
            .filter_map(convert::stage_outcome)
            .map(|o| o.request())
            .collect())
    }
}

#[async_trait]
impl outbox::Deliver for RunOutcomes {
    async fn deliver(&self, message: &OutboxMessage) -> Result<(), DeliveryError> {
        let range: OutcomeRange = serde_json::from_slice(&message.payload).map_err(|e| {
            DeliveryError::Permanent(format!("payload is not an outcome range: {e}"))
        })?;
        let outcomes = Self::outcomes(self.db.read(), &range)
            .await
            .map_err(|e| DeliveryError::Retry(format!("reading run {}: {e}", range.run_id)))?;
        if outcomes.is_empty() {
            return Ok(());
        }
        self.intake
            .record_outcomes(intake::RecordStageOutcomesRequest { outcomes }, message)
            .await
    }
}
