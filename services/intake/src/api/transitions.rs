//! Moving a case along the chain: outcomes the stage services report, and the bank's own
//! acts (withdrawal, settlement), each checked against the case as it is in the write
//! transaction.

use sieve_kernel::error::{Error, Result, reason};
use sieve_kernel::rules::mask;
use sieve_proto::intake::v1 as pb;
use tonic::{Request, Response, Status};

use super::within::{REASON_CHARS, SOURCE_RECORD_CHARS, cut};
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
    let refused = |event_id: String, case_id: String, e: Error| pb::OutcomeResult {
        event_id,
        case_id,
        stage: 0,
        duplicate: false,
        refused_reason: e.reason.to_string(),
        refused_message: e.message,
    };
    // Each outcome is read on its own; those that read are recorded together.
    let mut results: Vec<Option<pb::OutcomeResult>> = Vec::with_capacity(outcomes.len());
    let mut valid = Vec::new();
    let mut moves = Vec::new();
    for (i, r) in outcomes.into_iter().enumerate() {
        let (event_id, case_id) = (r.event_id.clone(), r.case_id.clone());
        match outcome_transition(r, now) {
            Ok((t, from, to)) => {
                valid.push(t);
                moves.push((i, event_id, case_id, from, to));
                results.push(None);
            }
            Err(e) => results.push(Some(refused(event_id, case_id, e))),
        }
    }
    let recorded = store::record_transitions(&api.inner.db, valid, now, |k, current, previous| {
        let (_, event_id, case_id, from, to) = &moves[k];
        check_transition(case_id, event_id, Some(*from), *to, current, previous)
    })
    .await
    .map_err(|e| {
        changed_underneath(
            e,
            "a case changed while these outcomes were recorded; retry",
        )
    })?;
    let mut applied = 0usize;
    for ((i, event_id, case_id, _, _), recorded) in moves.into_iter().zip(recorded) {
        let answered = |c: store::case::Model, duplicate| pb::OutcomeResult {
            event_id: event_id.clone(),
            case_id: case_id.clone(),
            stage: convert::stage_to_pb(c.stage) as i32,
            duplicate,
            refused_reason: String::new(),
            refused_message: String::new(),
        };
        results[i] = Some(match recorded {
            Err(e) => refused(event_id.clone(), case_id.clone(), e),
            Ok(store::Recorded::Applied(c)) => {
                applied += 1;
                answered(c, false)
            }
            Ok(store::Recorded::Duplicate(c)) => answered(c, true),
        });
    }
    let results: Vec<pb::OutcomeResult> = results.into_iter().flatten().collect();
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
        to_stage: Some(Stage::Withdrawn),
        actor: "BANK".into(),
        reason: format!(
            "withdrawn by the bank / 银行撤回: {}",
            r.reason.chars().take(500).collect::<String>()
        ),
        source_record_id: r.request_id,
        occurred_at_ms: api.now_ms(),
        preservation_applied: false,
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
        to_stage: Some(Stage::Settled),
        actor: "BANK".into(),
        reason: format!("paid in full: {} fen / 已全额履行", r.paid_fen),
        source_record_id: r.request_id,
        occurred_at_ms: r
            .paid_at
            .as_ref()
            .map_or_else(|| api.now_ms(), convert::millis),
        preservation_applied: false,
    };
    let (case, _) = api.transition_from_current(t, Stage::Settled).await?;
    Ok(Response::new(pb::ReportSettlementResponse {
        case: Some(case),
    }))
}

/// [`chain::check`] on the case and the earlier event as stored (inside the write
/// transaction).
fn check_transition(
    case_id: &str,
    event_id: &str,
    from: Option<Stage>,
    to: Stage,
    case: Option<&store::case::Model>,
    previous: Option<&store::case_event::Model>,
) -> Result<()> {
    chain::check(
        case_id,
        event_id,
        from,
        to,
        case.map(current),
        previous.map(recorded),
    )
}

/// A stored case as the chain's checks read it.
pub(super) fn current(c: &store::case::Model) -> chain::Current<'_> {
    chain::Current {
        case_id: &c.id,
        stage: c.stage,
    }
}

/// A stored event as the chain's checks read it.
pub(super) fn recorded(p: &store::case_event::Model) -> chain::Recorded<'_> {
    chain::Recorded {
        case_id: &p.case_id,
        from: p.from_stage,
        to: p.to_stage,
    }
}

/// A batch whose write found a case changed underneath (`RecordNotUpdated`) is a conflict
/// the caller retries, `retry` saying so.
pub(super) fn changed_underneath(e: sea_orm::DbErr, retry: &'static str) -> Error {
    match e {
        sea_orm::DbErr::RecordNotUpdated => Error::conflict(reason::CONCURRENT_TRANSITION, retry),
        e => e.into(),
    }
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
    if r.reason.chars().count() > REASON_CHARS {
        return Err(Error::invalid_field(
            "reason",
            format!("at most {REASON_CHARS} characters"),
        ));
    }
    let occurred = r.occurred_at.as_ref().map_or(now_ms, convert::millis);
    let t = store::Transition {
        event_id: r.event_id,
        case_id: r.case_id,
        from_stage: Some(from),
        to_stage: Some(to),
        actor: convert::actor_str(r.actor),
        reason: r.reason,
        source_record_id: cut(&r.source_record_id, SOURCE_RECORD_CHARS),
        occurred_at_ms: occurred,
        preservation_applied: false,
    };
    Ok((t, from, to))
}
