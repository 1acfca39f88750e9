//! Moving a case along the chain: outcomes the stage services report, and the bank's own
//! acts (withdrawal, settlement), each checked against the case as it is in the write
//! transaction.

use sieve_kernel::error::{Error, Result, reason};
use sieve_kernel::rules::mask;
use sieve_proto::intake::v1 as pb;
use tonic::{Request, Response, Status};

use super::{IntakeApi, MAX_OUTCOMES_PER_CALL};
use crate::convert;
use crate::domain::chain::{self, Stage};
use crate::store;

impl IntakeApi {
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
        t.from_stage = Some(current.stage);
        self.transition(t, to, Some(current.stage)).await
    }
}

pub(super) async fn record_stage_outcome(
    api: &IntakeApi,
    request: Request<pb::RecordStageOutcomeRequest>,
) -> Result<Response<pb::RecordStageOutcomeResponse>, Status> {
    let (t, from, to) = outcome_transition(request.into_inner(), api.now_ms())?;
    let (case, duplicate) = api.transition(t, to, Some(from)).await?;
    Ok(Response::new(pb::RecordStageOutcomeResponse {
        case: Some(case),
        duplicate,
    }))
}

pub(super) async fn record_stage_outcomes(
    api: &IntakeApi,
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
    let now = api.now_ms();
    // One transaction for the whole batch: a million outcomes are a thousand commits,
    // not a million. Each outcome is checked on its own; a refused one writes nothing.
    let txn = sieve_kernel::db::begin_write(&api.inner.db)
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
                    stage: convert::stage_to_pb(c.stage) as i32,
                    duplicate: false,
                    refused_reason: String::new(),
                    refused_message: String::new(),
                }
            }
            Ok(store::Recorded::Duplicate(c)) => pb::OutcomeResult {
                event_id,
                case_id,
                stage: convert::stage_to_pb(c.stage) as i32,
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

pub(super) async fn withdraw_case(
    api: &IntakeApi,
    request: Request<pb::WithdrawCaseRequest>,
) -> Result<Response<pb::WithdrawCaseResponse>, Status> {
    let r = request.into_inner();
    sieve_kernel::wire::require_id("request_id", &r.request_id)?;
    sieve_kernel::wire::require_id("case_id", &r.case_id)?;
    tracing::info!(case = %r.case_id, reason = %mask::text(&r.reason), "withdrawal");
    let t = store::Transition {
        event_id: format!("withdraw:{}:{}", r.case_id, r.request_id),
        case_id: r.case_id,
        from_stage: None,
        to_stage: Stage::Withdrawn,
        actor: "BANK".into(),
        reason: format!(
            "withdrawn by the bank / 银行撤回: {}",
            r.reason.chars().take(500).collect::<String>()
        ),
        source_record_id: r.request_id,
        occurred_at_ms: api.now_ms(),
    };
    let (case, _) = api.transition_from_current(t, Stage::Withdrawn).await?;
    Ok(Response::new(pb::WithdrawCaseResponse { case: Some(case) }))
}

pub(super) async fn report_settlement(
    api: &IntakeApi,
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
        from_stage: None,
        to_stage: Stage::Settled,
        actor: "BANK".into(),
        reason: format!("paid in full: {} fen / 已全额履行", r.paid_fen),
        source_record_id: r.request_id,
        occurred_at_ms: r
            .paid_at
            .as_ref()
            .map_or_else(|| api.now_ms(), convert::millis),
    };
    let (case, _) = api.transition_from_current(t, Stage::Settled).await?;
    Ok(Response::new(pb::ReportSettlementResponse {
        case: Some(case),
    }))
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
        if prev.case_id != case_id || prev.to_stage != to {
            return Err(Error::bad_request(
                reason::EVENT_ID_REUSED,
                format!("event {event_id} was already recorded for another outcome"),
            )
            .with_violation("event_id", "already used for a different case or stage"));
        }
        return Ok(());
    }
    let current_stage = current.stage;
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
        from_stage: Some(from),
        to_stage: to,
        actor: convert::actor_str(r.actor),
        reason: r.reason,
        source_record_id: r.source_record_id.chars().take(256).collect(),
        occurred_at_ms: occurred,
    };
    Ok((t, from, to))
}
