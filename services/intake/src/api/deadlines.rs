//! A running deadline a calendar moved (the court loaded a holiday calendar late), written on
//! the case's timeline as an event within its stage: the stage does not change, the timeline
//! says the period now ends on another day and why.

use sieve_kernel::error::{Error, Result};
use sieve_proto::intake::v1 as pb;
use tonic::{Request, Response, Status};

use super::IntakeApi;
use super::within::{Within, record_within};

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
    let moved_off = if r.moved_off.is_empty() {
        String::new()
    } else {
        format!(" (moved off {})", r.moved_off)
    };
    let event = Within {
        reason: format!(
            "deadline moved / 期间届满日变更: {} ({}) now ends {}, not {}{moved_off}: {}",
            r.kind, r.rule, r.end, r.previous_end, r.why
        ),
        source_record_id: format!("deadline {}", r.deadline_id),
        event_id: r.event_id,
        case_id: r.case_id,
        actor: r.actor,
        occurred_at: r.occurred_at,
        preservation_applied: false,
    };
    let (case_id, event_id) = (event.case_id.clone(), event.event_id.clone());
    let recorded = record_within(api, vec![event]).await?;
    let duplicate = match recorded.into_iter().next() {
        Some(recorded) => recorded?,
        None => return Err(Error::internal("the event was not answered").into()),
    };
    if !duplicate {
        tracing::info!(case = %case_id, event = %event_id, "deadline move on the timeline");
    }
    Ok(Response::new(pb::RecordDeadlineMovedResponse { duplicate }))
}
