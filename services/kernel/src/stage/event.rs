//! A stage's act within a case's stage for intake's timeline (preservation applied for,
//! freezes lifted, a period about to run out): the stage does not change. Like an outcome it
//! goes out as an outbox message written in the transaction of the stage's record; the relay
//! delivers it with `outbox::IntakeOutcomes` (`RecordCaseEvents`).

use sea_orm::{ConnectionTrait, DbErr};
use sieve_proto::common::v1 as common;
use sieve_proto::intake::v1 as intake;

use super::{SOURCE_RECORD_CHARS, cut, messages};
use crate::outbox::{self, TOPIC_CASE_EVENTS};

/// Events per message: intake's limit for one `RecordCaseEvents` call.
pub const MAX_EVENTS_PER_MESSAGE: usize = 5_000;

/// What intake keeps of an event's reason.
const REASON_CHARS: usize = 2_000;

/// One act within a case's stage, as `RecordCaseEvents` carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseEvent {
    /// The event id's first half, as for a [`super::StageOutcome`]: the reporting service or
    /// its kind of record (`preservation`, `freeze-lift`).
    pub source: &'static str,
    /// The event id's second half: the record the act comes from, so a redelivery is
    /// recorded once.
    pub record: String,
    pub case_id: String,
    pub actor: common::Actor,
    /// What happened: `preservation.applied`, `preservation.freezes_lifted`.
    pub kind: &'static str,
    /// Why, for the timeline (cut to 2,000 characters, what intake keeps).
    pub reason: String,
    /// What a reader of the timeline looks up (a ruling number).
    pub source_record_id: String,
    pub occurred_at_ms: i64,
    /// The act is the bank's application for preservation: intake marks the case (once),
    /// which keeps it off the payment-order path (Interp. 427(7)).
    pub preservation_applied: bool,
}

impl CaseEvent {
    /// `<source>:<record>`: unique across services, stable across redeliveries.
    pub fn event_id(&self) -> String {
        format!("{}:{}", self.source, self.record)
    }

    pub fn request(&self) -> intake::CaseEvent {
        intake::CaseEvent {
            event_id: self.event_id(),
            case_id: self.case_id.clone(),
            actor: self.actor as i32,
            kind: self.kind.to_string(),
            reason: cut(&self.reason, REASON_CHARS),
            source_record_id: cut(&self.source_record_id, SOURCE_RECORD_CHARS),
            occurred_at: Some(crate::wire::timestamp(self.occurred_at_ms)),
            preservation_applied: self.preservation_applied,
        }
    }
}

/// Notes events for intake: one `RecordCaseEvents` message per [`MAX_EVENTS_PER_MESSAGE`],
/// keyed by `key` (what they are, for the logs), written in the caller's transaction
/// (`txn`). Nothing is written when there are none. Wake the relay after the commit.
pub async fn note<C: ConnectionTrait>(
    txn: &C,
    now_ms: i64,
    key: &str,
    events: &[CaseEvent],
) -> Result<(), DbErr> {
    let messages = messages(
        TOPIC_CASE_EVENTS,
        key,
        events,
        MAX_EVENTS_PER_MESSAGE,
        |chunk| intake::RecordCaseEventsRequest {
            events: chunk.iter().map(CaseEvent::request).collect(),
        },
    );
    outbox::enqueue(txn, now_ms, messages).await
}
