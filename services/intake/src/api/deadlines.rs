//! A running deadline a calendar moved (the court loaded a holiday calendar late), written on
//! the case's timeline as an event within its stage: the stage does not change, the timeline
//! says the period now ends on another day and why.

use sieve_kernel::error::{Error, Result, reason};
use sieve_proto::intake::v1 as pb;
use tonic::{Request, Response, Status};

use super::IntakeApi;
use crate::convert;
use crate::store;

/// What intake keeps of a reason (RecordStageOutcome's limit).
const REASON_CHARS: usize = 2_000;

pub(super) async fn record_deadline_moved(
    api: &IntakeApi,
    request: Request<pb::RecordDeadlineMovedRequest>,
) -> Result<Response<pb::RecordDeadlineMovedResponse>, Status> {
    let r = request.into_inner();
    sieve_kernel::wire::require_id("event_id", &r.event_id)?;
    sieve_kernel::wire::require_id("case_id", &r.case_id)?;
    sieve_kernel::wire::require_id("deadline_id", &r.deadline_id)?;
    for (field, value) in [("previous_end", &r.previous_end), ("end", &r.end)] {
        if chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").is_err() {
            return Err(Error::invalid_field(field, "not a date (YYYY-MM-DD)").into());
        }
    }
    let current = store::get_case(api.inner.db.read(), &r.case_id)
        .await
        .map_err(Error::from)?
        .ok_or_else(|| Error::not_found("case", &r.case_id))?;
    let moved_off = if r.moved_off.is_empty() {
        String::new()
    } else {
        format!(" (moved off {})", r.moved_off)
    };
    let reason: String = format!(
        "deadline moved / 期间届满日变更: {} ({}) now ends {}, not {}{moved_off}: {}",
        r.kind, r.rule, r.end, r.previous_end, r.why
    )
    .chars()
    .take(REASON_CHARS)
    .collect();
    let stage = current.stage;
    let (case_id, event_id) = (r.case_id.clone(), r.event_id.clone());
    let t = store::Transition {
        event_id: r.event_id,
        case_id: r.case_id,
        from_stage: Some(stage),
        to_stage: stage,
        actor: convert::actor_str(r.actor),
        reason,
        source_record_id: format!("deadline {}", r.deadline_id)
            .chars()
            .take(256)
            .collect(),
        occurred_at_ms: r
            .occurred_at
            .as_ref()
            .map_or_else(|| api.now_ms(), convert::millis),
    };
    let recorded = store::record_transition(&api.inner.db, t, api.now_ms(), |now, previous| {
        let Some(now) = now else {
            return Err(Error::not_found("case", &case_id));
        };
        if let Some(prev) = previous {
            if prev.case_id != case_id || prev.from_stage != prev.to_stage {
                return Err(Error::bad_request(
                    reason::EVENT_ID_REUSED,
                    format!("event {event_id} was already recorded for another event"),
                )
                .with_violation("event_id", "already used for a different case or event"));
            }
            return Ok(());
        }
        // Read before the transaction: a case that moved on meanwhile is retried.
        if now.stage != stage {
            return Err(Error::conflict(
                reason::CONCURRENT_TRANSITION,
                "the case changed while the deadline was recorded; retry",
            ));
        }
        Ok(())
    })
    .await;
    let duplicate = match recorded {
        Err(sea_orm::DbErr::RecordNotFound(_)) => {
            return Err(Error::not_found("case", case_id).into());
        }
        Err(sea_orm::DbErr::RecordNotUpdated) => {
            return Err(Error::conflict(
                reason::CONCURRENT_TRANSITION,
                "the case changed while the deadline was recorded; retry",
            )
            .into());
        }
        Err(e) => return Err(Error::from(e).into()),
        Ok(Err(e)) => return Err(e.into()),
        Ok(Ok(store::Recorded::Applied(c))) => {
            tracing::info!(case = %c.id, event = %event_id, "deadline move on the timeline");
            false
        }
        Ok(Ok(store::Recorded::Duplicate(_))) => true,
    };
    Ok(Response::new(pb::RecordDeadlineMovedResponse { duplicate }))
}
