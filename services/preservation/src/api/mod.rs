//! `sieve.preservation.v1.PreservationService`: applications and rulings (`applications`),
//! and what happens to a preservation in force (`acts`): callbacks, suits, lifts, renewals,
//! cases closed.

mod acts;
mod applications;
mod onward;

use std::sync::Arc;

use sieve_kernel::SharedClock;
use sieve_kernel::error::{Error, Result, reason};
use sieve_kernel::replay::Call;
use sieve_kernel::rules::{StoredViolation, violation};
use sieve_kernel::stage::IntakeClient;
use sieve_proto::common::v1 as common;
use sieve_proto::preservation::v1 as pb;
use sieve_proto::preservation::v1::preservation_service_server::PreservationService;
use tonic::{Request, Response, Status};

use crate::convert;
use crate::domain::freezes::Platform;
use crate::store;

/// Applications, rulings or cases per call.
pub const MAX_ROWS_PER_CALL: usize = 1_000;

/// What the service is configured with.
#[derive(Debug, Clone)]
pub struct Config {
    /// The court's platforms, in the order it freezes when an application names none.
    pub platforms: Vec<Platform>,
}

#[derive(Clone)]
pub struct PreservationApi {
    inner: Arc<Inner>,
}

struct Inner {
    db: sieve_kernel::db::Db,
    clock: SharedClock,
    config: Config,
    intake: IntakeClient,
    /// Woken after commits that leave messages in the outbox.
    relay: Option<Arc<tokio::sync::Notify>>,
    /// Woken after commits that leave orders or notices for the platforms.
    executor: Option<Arc<tokio::sync::Notify>>,
}

fn refusal(
    row: i64,
    reference: &str,
    field: &str,
    rule: &str,
    description: String,
) -> common::RowRefusal {
    violation::row_refusal(
        row,
        reference,
        StoredViolation {
            field: field.into(),
            rule: rule.into(),
            description,
        },
    )
}

/// A row refused for one reason.
fn refused_row(
    row: i64,
    case_id: &str,
    field: &str,
    rule: &str,
    description: String,
) -> pb::PreservationRow {
    pb::PreservationRow {
        row,
        case_id: case_id.to_string(),
        outcome: common::RowOutcome::Refused as i32,
        preservation: None,
        refusals: vec![refusal(row, case_id, field, rule, description)],
    }
}

/// A row count outside 1..=1,000.
fn row_count(field: &'static str, n: usize) -> Result<()> {
    if n == 0 || n > MAX_ROWS_PER_CALL {
        return Err(Error::bad_request(
            reason::CASE_COUNT,
            format!("send 1 to {MAX_ROWS_PER_CALL} rows per call"),
        )
        .with_violation(field, n.to_string()));
    }
    Ok(())
}

impl PreservationApi {
    pub fn new(
        db: sieve_kernel::db::Db,
        clock: SharedClock,
        config: Config,
        intake: sieve_kernel::internal::InternalChannel,
        relay: Option<Arc<tokio::sync::Notify>>,
        executor: Option<Arc<tokio::sync::Notify>>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                clock,
                config,
                intake: IntakeClient::new(intake),
                relay,
                executor,
            }),
        }
    }

    fn now_ms(&self) -> i64 {
        self.inner.clock.now().timestamp_millis()
    }

    fn wake(&self) {
        for w in [&self.inner.relay, &self.inner.executor]
            .into_iter()
            .flatten()
        {
            w.notify_one();
        }
    }

    /// The stored answer to `call`, if it ran before (refused if the id ran with other
    /// content).
    async fn replayed<R: prost::Message + Default>(&self, call: &Call) -> Result<Option<R>> {
        call.recall(self.inner.db.read()).await
    }

    async fn record(&self, found: store::preservation::Model) -> Result<pb::Preservation> {
        let r = store::record(self.inner.db.read(), found).await?;
        Ok(convert::preservation_pb(&r))
    }

    /// The preservation named, or NotFound.
    async fn preservation(&self, id: &str) -> Result<store::preservation::Model> {
        sieve_kernel::wire::require_id("preservation_id", id)?;
        store::get(self.inner.db.read(), id)
            .await?
            .ok_or_else(|| Error::not_found("preservation", id))
    }
}

#[tonic::async_trait]
impl PreservationService for PreservationApi {
    async fn apply_preservation(
        &self,
        request: Request<pb::ApplyPreservationRequest>,
    ) -> std::result::Result<Response<pb::ApplyPreservationResponse>, Status> {
        Ok(Response::new(self.apply(request.into_inner()).await?))
    }

    async fn rule_on_applications(
        &self,
        request: Request<pb::RuleOnApplicationsRequest>,
    ) -> std::result::Result<Response<pb::RuleOnApplicationsResponse>, Status> {
        Ok(Response::new(self.rule(request.into_inner()).await?))
    }

    async fn get_preservation(
        &self,
        request: Request<pb::GetPreservationRequest>,
    ) -> std::result::Result<Response<pb::GetPreservationResponse>, Status> {
        use pb::get_preservation_request::Key;
        let found = match request.into_inner().key {
            Some(Key::PreservationId(id)) => self.preservation(&id).await?,
            Some(Key::CaseId(case)) => {
                sieve_kernel::wire::require_id("case_id", &case)?;
                store::latest_of_case(self.inner.db.read(), &case)
                    .await
                    .map_err(Error::from)?
                    .ok_or_else(|| Error::not_found("preservation of case", &case))?
            }
            Some(Key::FreezeOrderId(order)) => {
                sieve_kernel::wire::require_id("freeze_order_id", &order)?;
                let found = store::freeze_order_by_id(self.inner.db.read(), &order)
                    .await
                    .map_err(Error::from)?
                    .ok_or_else(|| Error::not_found("freeze order", &order))?;
                self.preservation(&found.preservation_id).await?
            }
            None => {
                return Err(Error::invalid_field(
                    "key",
                    "preservation_id, case_id or freeze_order_id",
                )
                .into());
            }
        };
        Ok(Response::new(pb::GetPreservationResponse {
            preservation: Some(self.record(found).await?),
        }))
    }

    async fn batch_get_preservations(
        &self,
        request: Request<pb::BatchGetPreservationsRequest>,
    ) -> std::result::Result<Response<pb::BatchGetPreservationsResponse>, Status> {
        let ids = request.into_inner().case_ids;
        sieve_kernel::wire::require_case_ids(&ids)?;
        let read = self.inner.db.read();
        let latest = store::latest_of_cases(read, &ids)
            .await
            .map_err(Error::from)?;
        let records = store::records(read, latest).await.map_err(Error::from)?;
        Ok(Response::new(pb::BatchGetPreservationsResponse {
            preservations: records.iter().map(convert::preservation_pb).collect(),
        }))
    }

    async fn list_preservations(
        &self,
        request: Request<pb::ListPreservationsRequest>,
    ) -> std::result::Result<Response<pb::ListPreservationsResponse>, Status> {
        Ok(Response::new(self.list(request.into_inner()).await?))
    }

    async fn forgo_preservation(
        &self,
        request: Request<pb::ForgoPreservationRequest>,
    ) -> std::result::Result<Response<pb::ForgoPreservationResponse>, Status> {
        Ok(Response::new(self.forgo(request.into_inner()).await?))
    }

    async fn record_callback(
        &self,
        request: Request<pb::RecordCallbackRequest>,
    ) -> std::result::Result<Response<pb::RecordCallbackResponse>, Status> {
        Ok(Response::new(self.callback(request.into_inner()).await?))
    }

    async fn record_suit_filed(
        &self,
        request: Request<pb::RecordSuitFiledRequest>,
    ) -> std::result::Result<Response<pb::RecordSuitFiledResponse>, Status> {
        Ok(Response::new(self.suit_filed(request.into_inner()).await?))
    }

    async fn lift_preservation(
        &self,
        request: Request<pb::LiftPreservationRequest>,
    ) -> std::result::Result<Response<pb::LiftPreservationResponse>, Status> {
        Ok(Response::new(self.lift(request.into_inner()).await?))
    }

    async fn renew_freeze(
        &self,
        request: Request<pb::RenewFreezeRequest>,
    ) -> std::result::Result<Response<pb::RenewFreezeResponse>, Status> {
        Ok(Response::new(self.renew(request.into_inner()).await?))
    }

    async fn record_case_closed(
        &self,
        request: Request<pb::RecordCaseClosedRequest>,
    ) -> std::result::Result<Response<pb::RecordCaseClosedResponse>, Status> {
        Ok(Response::new(self.case_closed(request.into_inner()).await?))
    }
}
