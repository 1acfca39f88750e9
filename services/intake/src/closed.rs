//! Preservation is told when a case the bank applied for preservation on is done with: it
//! closed (settled, withdrawn, certified, ...) or its agreement was performed, so the freezes
//! lift (DESIGN.md: intake tells the stages that subscribe when a case closes). The message is
//! written in the transaction that moves the case (`store::apply_transitions`), so the two
//! commit together; the relay delivers it to preservation's `RecordCaseClosed`, which is
//! idempotent by the closing event's id. Without a preservation service the messages wait in
//! intake's outbox.

use async_trait::async_trait;
use prost::Message;
use sieve_kernel::internal::InternalChannel;
use sieve_kernel::outbox::{self, DeliveryError, NewMessage, OutboxMessage};
use sieve_kernel::stage::Stage;
use sieve_proto::preservation::v1::RecordCaseClosedRequest;
use sieve_proto::preservation::v1::preservation_service_client::PreservationServiceClient;

/// A case preservation was applied for is done with; the payload is a
/// `RecordCaseClosedRequest`.
pub const TOPIC_CASE_CLOSED: &str = "preservation.case_closed";

/// The message telling preservation that `event_id` moved case `case_id` into `stage` (which
/// ends preservation) at `closed_at_ms`.
pub fn message(event_id: &str, case_id: &str, stage: Stage, closed_at_ms: i64) -> NewMessage {
    let request = RecordCaseClosedRequest {
        event_id: event_id.to_string(),
        case_id: case_id.to_string(),
        closed_stage: stage.pb() as i32,
        closed_at: Some(sieve_kernel::wire::timestamp(closed_at_ms)),
    };
    NewMessage::protobuf(TOPIC_CASE_CLOSED, case_id, &request)
}

/// Delivers closed cases to preservation's `RecordCaseClosed`.
pub struct CaseClosed {
    client: PreservationServiceClient<InternalChannel>,
}

impl CaseClosed {
    pub fn new(preservation: InternalChannel) -> Self {
        Self {
            client: PreservationServiceClient::new(preservation),
        }
    }
}

#[async_trait]
impl outbox::Deliver for CaseClosed {
    async fn deliver(&self, message: &OutboxMessage) -> Result<(), DeliveryError> {
        let request = RecordCaseClosedRequest::decode(message.payload.as_slice()).map_err(|e| {
            DeliveryError::Permanent(format!("payload is not a RecordCaseClosedRequest: {e}"))
        })?;
        let lifted = self
            .client
            .clone()
            .record_case_closed(outbox::with_outbox_id(request, message))
            .await
            .map_err(|s| outbox::classify(&s))?
            .into_inner()
            .preservation;
        if let Some(p) = lifted {
            tracing::info!(outbox = %message.id, case = %message.key, preservation = %p.preservation_id, "preservation told the case closed");
        }
        Ok(())
    }
}
