//! The receivers messages go to: a route per topic, intake's stage outcomes and case events
//! and the pre-check's cases, each a gRPC call that names the message it delivers.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use prost::Message;

use super::{
    Deliver, DeliveryError, OutboxMessage, TOPIC_CASE_EVENTS, TOPIC_DEADLINE_MOVED,
    TOPIC_STAGE_OUTCOME, TOPIC_STAGE_OUTCOMES, classify,
};
use crate::internal::InternalChannel;

/// Delivers each message to the receiver registered for its topic.
#[derive(Default, Clone)]
pub struct Routes {
    routes: HashMap<&'static str, Arc<dyn Deliver>>,
}

impl Routes {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn route(mut self, topic: &'static str, to: Arc<dyn Deliver>) -> Self {
        self.routes.insert(topic, to);
        self
    }

    /// Stage outcomes, single and batched, deadlines a calendar moved and acts within a
    /// stage, to intake.
    pub fn to_intake(self, channel: InternalChannel) -> Self {
        let intake: Arc<dyn Deliver> = Arc::new(IntakeOutcomes::new(channel));
        self.route(TOPIC_STAGE_OUTCOME, intake.clone())
            .route(TOPIC_STAGE_OUTCOMES, intake.clone())
            .route(TOPIC_DEADLINE_MOVED, intake.clone())
            .route(TOPIC_CASE_EVENTS, intake)
    }
}

#[async_trait]
impl Deliver for Routes {
    async fn deliver(&self, message: &OutboxMessage) -> Result<(), DeliveryError> {
        match self.routes.get(message.topic.as_str()) {
            Some(to) => to.deliver(message).await,
            // Not permanent: the receiver may be configured after a restart.
            None => Err(DeliveryError::Retry(format!(
                "no receiver configured for topic {}",
                message.topic
            ))),
        }
    }
}

/// `msg` as a request whose request id names the outbox message it delivers, so the
/// receiver's logs point at the sender's row.
pub fn with_outbox_id<T>(msg: T, message: &OutboxMessage) -> tonic::Request<T> {
    let mut request = tonic::Request::new(msg);
    if let Ok(v) = tonic::metadata::MetadataValue::try_from(format!("outbox-{}", message.id)) {
        request.metadata_mut().insert(crate::request_id::HEADER, v);
    }
    request
}

/// Delivers stage outcomes to intake's `RecordStageOutcome(s)`, moved deadlines to its
/// `RecordDeadlineMoved` and acts within a stage to its `RecordCaseEvents`.
pub struct IntakeOutcomes {
    client: sieve_proto::intake::v1::intake_service_client::IntakeServiceClient<InternalChannel>,
}

impl IntakeOutcomes {
    pub fn new(channel: InternalChannel) -> Self {
        Self {
            client: sieve_proto::intake::v1::intake_service_client::IntakeServiceClient::new(
                channel,
            )
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20),
        }
    }
}

impl IntakeOutcomes {
    /// Sends a batch of outcomes on behalf of `message`, which names the delivery.
    pub async fn record_outcomes(
        &self,
        outcomes: sieve_proto::intake::v1::RecordStageOutcomesRequest,
        message: &OutboxMessage,
    ) -> Result<(), DeliveryError> {
        let mut intake = self.client.clone();
        let results = answered(intake.record_stage_outcomes(with_outbox_id(outcomes, message)))
            .await?
            .results;
        log_refused(
            message,
            "a stage outcome",
            results.iter().map(Refused::from),
        );
        Ok(())
    }

    /// Sends a batch of acts within a stage on behalf of `message`, which names the delivery.
    pub async fn record_case_events(
        &self,
        events: sieve_proto::intake::v1::RecordCaseEventsRequest,
        message: &OutboxMessage,
    ) -> Result<(), DeliveryError> {
        let mut intake = self.client.clone();
        let results = answered(intake.record_case_events(with_outbox_id(events, message)))
            .await?
            .results;
        log_refused(message, "a case event", results.iter().map(Refused::from));
        Ok(())
    }
}

/// What a receiver answered, or how its failure counts for the relay.
async fn answered<T>(
    call: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> Result<T, DeliveryError> {
    call.await
        .map(tonic::Response::into_inner)
        .map_err(|s| classify(&s))
}

/// One answer of a batch intake took, as [`log_refused`] reads it.
struct Refused<'a> {
    case_id: &'a str,
    event_id: &'a str,
    /// Empty: recorded (or a duplicate).
    reason: &'a str,
    message: &'a str,
}

/// The answers of `RecordStageOutcomes` and `RecordCaseEvents` name the same four things.
macro_rules! refused_from {
    ($($answer:ty),*) => {$(
        impl<'a> From<&'a $answer> for Refused<'a> {
            fn from(r: &'a $answer) -> Self {
                Refused {
                    case_id: &r.case_id,
                    event_id: &r.event_id,
                    reason: &r.refused_reason,
                    message: &r.refused_message,
                }
            }
        }
    )*};
}

refused_from!(
    sieve_proto::intake::v1::OutcomeResult,
    sieve_proto::intake::v1::CaseEventResult
);

/// Intake answered for every item of a batch; those it refused are intake telling the reporter
/// it was wrong (the chain, an unknown case, a reused event id), which no retry changes: they
/// are logged for an operator. Ids and reason codes only: intake's refusal messages name ids,
/// never a party.
fn log_refused<'a>(
    message: &OutboxMessage,
    what: &str,
    answers: impl Iterator<Item = Refused<'a>>,
) {
    for r in answers.filter(|r| !r.reason.is_empty()) {
        tracing::error!(outbox = %message.id, case = %r.case_id, event = %r.event_id, reason = %r.reason, message = %r.message, "intake refused {what}");
    }
}

#[async_trait]
impl Deliver for IntakeOutcomes {
    async fn deliver(&self, message: &OutboxMessage) -> Result<(), DeliveryError> {
        use sieve_proto::intake::v1::{
            RecordCaseEventsRequest, RecordDeadlineMovedRequest, RecordStageOutcomeRequest,
            RecordStageOutcomesRequest,
        };
        let undecodable = |e: prost::DecodeError| {
            DeliveryError::Permanent(format!("payload of {} does not decode: {e}", message.topic))
        };
        match message.topic.as_str() {
            TOPIC_STAGE_OUTCOME => {
                let outcome = RecordStageOutcomeRequest::decode(message.payload.as_slice())
                    .map_err(undecodable)?;
                self.client
                    .clone()
                    .record_stage_outcome(with_outbox_id(outcome, message))
                    .await
                    .map_err(|s| classify(&s))?;
                Ok(())
            }
            TOPIC_STAGE_OUTCOMES => {
                let outcomes = RecordStageOutcomesRequest::decode(message.payload.as_slice())
                    .map_err(undecodable)?;
                self.record_outcomes(outcomes, message).await
            }
            TOPIC_DEADLINE_MOVED => {
                let moved = RecordDeadlineMovedRequest::decode(message.payload.as_slice())
                    .map_err(undecodable)?;
                self.client
                    .clone()
                    .record_deadline_moved(with_outbox_id(moved, message))
                    .await
                    .map_err(|s| classify(&s))?;
                Ok(())
            }
            TOPIC_CASE_EVENTS => {
                let events = RecordCaseEventsRequest::decode(message.payload.as_slice())
                    .map_err(undecodable)?;
                self.record_case_events(events, message).await
            }
            other => Err(DeliveryError::Permanent(format!(
                "intake receives no topic {other}"
            ))),
        }
    }
}

/// Delivers cases entering the pre-check to bad-debt-check's `CheckCases`.
pub struct PreCheckCases {
    client: sieve_proto::bad_debt_check::v1::pre_check_service_client::PreCheckServiceClient<
        InternalChannel,
    >,
}

impl PreCheckCases {
    pub fn new(channel: InternalChannel) -> Self {
        Self {
            client: sieve_proto::bad_debt_check::v1::pre_check_service_client::PreCheckServiceClient::new(channel)
                .max_decoding_message_size(64 << 20)
                .max_encoding_message_size(64 << 20),
        }
    }
}

impl PreCheckCases {
    /// Delivers cases to `CheckCases` on behalf of `message`, which names the delivery.
    pub async fn check_cases(
        &self,
        request: sieve_proto::bad_debt_check::v1::CheckCasesRequest,
        message: &OutboxMessage,
    ) -> Result<(), DeliveryError> {
        let refused = self
            .client
            .clone()
            .check_cases(with_outbox_id(request, message))
            .await
            .map_err(|s| classify(&s))?
            .into_inner()
            .refused;
        for r in &refused {
            tracing::error!(outbox = %message.id, case = %r.case_id, refusals = r.refusals.len(), "the pre-check refused a case");
        }
        Ok(())
    }
}

/// Messages written before cases were announced by reference (a `CheckCasesRequest` each).
#[async_trait]
impl Deliver for PreCheckCases {
    async fn deliver(&self, message: &OutboxMessage) -> Result<(), DeliveryError> {
        let request =
            sieve_proto::bad_debt_check::v1::CheckCasesRequest::decode(message.payload.as_slice())
                .map_err(|e| {
                    DeliveryError::Permanent(format!("payload is not a CheckCasesRequest: {e}"))
                })?;
        self.check_cases(request, message).await
    }
}
