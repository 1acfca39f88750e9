//! Events within a case's stage: the stage does not change, the timeline says what happened
//! in it (a deadline a calendar moved, preservation applied for, freezes lifted). Each is
//! written from and to the stage the case is in when its transaction reads it, recorded once
//! per event id. `RecordDeadlineMoved` and `RecordCaseEvents` both come through here.

use sieve_kernel::error::{Error, Result};
use sieve_proto::intake::v1 as pb;
use tonic::{Request, Response, Status};

use super::IntakeApi;
use super::transitions::{changed_underneath, current, recorded};
use crate::convert;
use crate::domain::chain;
use crate::store;

/// At most this many events per `RecordCaseEvents` call (the kernel's `note` sends no more).
pub const MAX_EVENTS_PER_CALL: usize = sieve_kernel::stage::MAX_EVENTS_PER_MESSAGE;
/// What intake keeps of a reason (RecordStageOutcome's limit).
pub(super) const REASON_CHARS: usize = 2_000;
/// What intake keeps of a record's reference.
pub(super) const SOURCE_RECORD_CHARS: usize = 256;

/// The first `chars` characters of `text`.
pub(super) fn cut(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
}

/// An event within the stage its case is in when it is recorded.
pub(super) struct Within {
    pub event_id: String,
    pub case_id: String,
    /// The protobuf actor.
    pub actor: i32,
    pub reason: String,
    pub source_record_id: String,
    pub occurred_at: Option<prost_types::Timestamp>,
    pub preservation_applied: bool,
}

/// Records `events` in one transaction, each answered on its own: whether it had been
/// recorded before (a duplicate), or why it was refused (an unknown case, an event id used
/// for another case or for a move). A case changed underneath fails the whole call, to be
/// retried.
pub(super) async fn record_within(
    api: &IntakeApi,
    events: Vec<Within>,
) -> Result<Vec<Result<bool>>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let now = api.now_ms();
    let ids: Vec<(String, String)> = events
        .iter()
        .map(|e| (e.case_id.clone(), e.event_id.clone()))
        .collect();
    let transitions = events
        .into_iter()
        .map(|e| store::Transition {
            event_id: e.event_id,
            case_id: e.case_id,
            from_stage: None,
            to_stage: None,
            actor: convert::actor_str(e.actor),
            reason: cut(&e.reason, REASON_CHARS),
            source_record_id: cut(&e.source_record_id, SOURCE_RECORD_CHARS),
            occurred_at_ms: e.occurred_at.as_ref().map_or(now, convert::millis),
            preservation_applied: e.preservation_applied,
        })
        .collect();
    let recorded = store::record_transitions(&api.inner.db, transitions, now, |k, c, p| {
        let (case_id, event_id) = &ids[k];
        chain::check_within(case_id, event_id, c.map(current), p.map(recorded))
    })
    .await
    .map_err(|e| changed_underneath(e, "a case changed while these events were recorded; retry"))?;
    Ok(recorded
        .into_iter()
        .map(|r| r.map(|r| matches!(r, store::Recorded::Duplicate(_))))
        .collect())
}

pub(super) async fn record_case_events(
    api: &IntakeApi,
    request: Request<pb::RecordCaseEventsRequest>,
) -> Result<Response<pb::RecordCaseEventsResponse>, Status> {
    let events = request.into_inner().events;
    if events.len() > MAX_EVENTS_PER_CALL {
        return Err(Error::invalid_field(
            "events",
            format!(
                "at most {MAX_EVENTS_PER_CALL} per call, not {}",
                events.len()
            ),
        )
        .into());
    }
    let answer = |event_id: String, case_id: String, outcome: Result<bool>| {
        let (duplicate, refused_reason, refused_message) = match outcome {
            Ok(duplicate) => (duplicate, String::new(), String::new()),
            Err(e) => (false, e.reason.to_string(), e.message),
        };
        pb::CaseEventResult {
            event_id,
            case_id,
            duplicate,
            refused_reason,
            refused_message,
        }
    };
    // Each event is read on its own; those that read are recorded together.
    let mut results: Vec<Option<pb::CaseEventResult>> = Vec::with_capacity(events.len());
    let (mut valid, mut at) = (Vec::new(), Vec::new());
    for (i, e) in events.into_iter().enumerate() {
        let (event_id, case_id) = (e.event_id.clone(), e.case_id.clone());
        match within(e) {
            Ok(w) => {
                valid.push(w);
                at.push((i, event_id, case_id));
                results.push(None);
            }
            Err(e) => results.push(Some(answer(event_id, case_id, Err(e)))),
        }
    }
    let recorded = record_within(api, valid).await?;
    let applied = recorded.iter().filter(|r| matches!(r, Ok(false))).count();
    for ((i, event_id, case_id), outcome) in at.into_iter().zip(recorded) {
        results[i] = Some(answer(event_id, case_id, outcome));
    }
    let results: Vec<pb::CaseEventResult> = results.into_iter().flatten().collect();
    tracing::info!(events = results.len(), applied, "case events recorded");
    Ok(Response::new(pb::RecordCaseEventsResponse { results }))
}

/// Validates an event; its kind leads its reason on the timeline, which has no field of its
/// own for it.
fn within(e: pb::CaseEvent) -> Result<Within> {
    sieve_kernel::wire::require_id("event_id", &e.event_id)?;
    sieve_kernel::wire::require_id("case_id", &e.case_id)?;
    sieve_kernel::wire::require_id("kind", &e.kind)?;
    Ok(Within {
        event_id: e.event_id,
        case_id: e.case_id,
        actor: e.actor,
        reason: format!("{}: {}", e.kind, e.reason),
        source_record_id: e.source_record_id,
        occurred_at: e.occurred_at,
        preservation_applied: e.preservation_applied,
    })
}
