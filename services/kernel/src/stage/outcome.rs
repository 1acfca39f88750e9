//! A stage's outcome for intake, and the one way to report it: an outbox message written in
//! the transaction that writes the stage's record, so the two commit together (DESIGN.md
//! section 3). The relay delivers it with `outbox::IntakeOutcomes`.

use sea_orm::{ConnectionTrait, DbErr};
use sieve_proto::common::v1 as common;
use sieve_proto::intake::v1 as intake;

use super::{SOURCE_RECORD_CHARS, Stage, cut, messages};
use crate::outbox::{self, NewMessage, TOPIC_STAGE_OUTCOME, TOPIC_STAGE_OUTCOMES};

/// Outcomes per message: intake's limit for one `RecordStageOutcomes` call.
pub const MAX_OUTCOMES_PER_MESSAGE: usize = 5_000;

/// What happened to a case in a stage, as `RecordStageOutcome` carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageOutcome {
    /// The event id's first half: the reporting service (`pre-check`), or the kind of record
    /// when a service reports from more than one (the pre-check's `certificate`).
    pub source: &'static str,
    /// The event id's second half: the id of the record the outcome comes from. One record,
    /// one event, however often it is delivered: intake records an event id once.
    pub record: String,
    pub case_id: String,
    /// The stage the reporter saw the case in; intake refuses the outcome if it moved on.
    pub from: Stage,
    pub to: Stage,
    pub actor: common::Actor,
    /// Why, for the timeline (at most 2,000 characters, intake's limit).
    pub reason: String,
    /// What a reader of the timeline looks up (a certificate number, ruling numbers).
    pub source_record_id: String,
    pub occurred_at_ms: i64,
}

impl StageOutcome {
    /// `<source>:<record>`: unique across services, stable across redeliveries.
    pub fn event_id(&self) -> String {
        format!("{}:{}", self.source, self.record)
    }

    pub fn request(&self) -> intake::RecordStageOutcomeRequest {
        intake::RecordStageOutcomeRequest {
            event_id: self.event_id(),
            case_id: self.case_id.clone(),
            from_stage: self.from.pb() as i32,
            to_stage: self.to.pb() as i32,
            actor: self.actor as i32,
            reason: self.reason.clone(),
            source_record_id: cut(&self.source_record_id, SOURCE_RECORD_CHARS),
            occurred_at: Some(crate::wire::timestamp(self.occurred_at_ms)),
        }
    }
}

/// Reports one outcome: a `RecordStageOutcome` message, keyed by its case, written in the
/// caller's transaction (`txn`). Wake the relay after the commit.
pub async fn report<C: ConnectionTrait>(
    txn: &C,
    now_ms: i64,
    outcome: &StageOutcome,
) -> Result<(), DbErr> {
    let message = NewMessage::protobuf(TOPIC_STAGE_OUTCOME, &outcome.case_id, &outcome.request());
    outbox::enqueue(txn, now_ms, vec![message]).await
}

/// Reports outcomes together: one `RecordStageOutcomes` message per
/// [`MAX_OUTCOMES_PER_MESSAGE`], keyed by `key` (what they are, for the logs), written in the
/// caller's transaction (`txn`). Nothing is written when there are none.
pub async fn report_many<C: ConnectionTrait>(
    txn: &C,
    now_ms: i64,
    key: &str,
    outcomes: &[StageOutcome],
) -> Result<(), DbErr> {
    let messages = messages(
        TOPIC_STAGE_OUTCOMES,
        key,
        outcomes,
        MAX_OUTCOMES_PER_MESSAGE,
        |chunk| intake::RecordStageOutcomesRequest {
            outcomes: chunk.iter().map(StageOutcome::request).collect(),
        },
    );
    outbox::enqueue(txn, now_ms, messages).await
}
