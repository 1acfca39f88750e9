//! A creditor bank's door: it submits and follows its own cases only.

use futures::StreamExt;
use sieve_kernel::Error;
use sieve_proto::gateway::v1::bank_api_service_server::BankApiService;
use sieve_proto::gateway::v1::*;
use sieve_proto::intake::v1 as intake;
use sieve_proto::intake::v1::submit_batch_request::Item;
use tonic::{Request, Response, Status, Streaming};
use tracing::Instrument;

use crate::forward::{Context, door, own_bank_id, own_batch, own_case};
use crate::token::Role;

const ROLE: Role = Role::Bank;

pub struct BankApi {
    pub(crate) ctx: Context,
}

door! {
    impl BankApiService for BankApi, role ROLE;
    {
        async fn submit_batch(
            &self,
            request: Request<Streaming<BankApiServiceSubmitBatchRequest>>,
        ) -> Result<Response<BankApiServiceSubmitBatchResponse>, Status> {
            let caller = self.ctx.gate.authorize(request.metadata(), ROLE)?;
            let span = tracing::info_span!("caller", org_id = %caller.org_id, role = %caller.role);
            let mut intake = self.ctx.intake.clone();
            let mut inbound = request.into_inner();
            async move {
                let mut header = match inbound.message().await? {
                    Some(BankApiServiceSubmitBatchRequest {
                        request: Some(intake::SubmitBatchRequest { item: Some(Item::Header(h)) }),
                    }) => h,
                    Some(_) => {
                        return Err(Error::bad_request(
                            "HEADER_FIRST",
                            "the first message of a batch must be its header",
                        )
                        .with_violation("request.item", "expected header")
                        .into());
                    }
                    None => {
                        return Err(Error::bad_request(
                            "BATCH_EMPTY",
                            "the stream ended before the batch header",
                        )
                        .into());
                    }
                };
                own_bank_id(&caller, &mut header.bank_id, "request.header.bank_id")?;
                let first = intake::SubmitBatchRequest { item: Some(Item::Header(header)) };

                // Chunks pass through one by one as they arrive. If the caller's stream
                // breaks, the call to intake is dropped (not ended cleanly), so intake
                // aborts the batch rather than judging a truncated one.
                let (broken_tx, broken_rx) = tokio::sync::oneshot::channel::<Status>();
                let mut broken_tx = Some(broken_tx);
                let rest = tokio_stream::StreamExt::map_while(inbound, move |item| match item {
                    Ok(m) => Some(m.request.unwrap_or_default()),
                    Err(status) => {
                        if let Some(tx) = broken_tx.take() {
                            let _ = tx.send(status);
                        }
                        None
                    }
                });
                let outbound = futures::stream::once(async { first }).chain(rest);
                let answer = tokio::select! {
                    biased;
                    Ok(status) = broken_rx => return Err(status),
                    answer = intake.submit_batch(outbound) => answer?,
                };
                Ok(Response::new(BankApiServiceSubmitBatchResponse {
                    response: Some(answer.into_inner()),
                }))
            }
            .instrument(span)
            .await
        }

        async fn submit_cases(
            &self,
            request: Request<BankApiServiceSubmitCasesRequest>,
        ) -> Result<Response<BankApiServiceSubmitCasesResponse>, Status> {
            self.ctx.call(request, ROLE, |caller, mut intake, r| async move {
                let mut r = r.request.unwrap_or_default();
                own_bank_id(&caller, &mut r.bank_id, "request.bank_id")?;
                let response = intake.submit_cases(r).await?.into_inner();
                Ok(BankApiServiceSubmitCasesResponse { response: Some(response) })
            })
            .await
        }

        async fn get_batch(
            &self,
            request: Request<BankApiServiceGetBatchRequest>,
        ) -> Result<Response<BankApiServiceGetBatchResponse>, Status> {
            self.ctx.call(request, ROLE, |caller, mut intake, r| async move {
                let r = r.request.unwrap_or_default();
                let batch = own_batch(&mut intake, &caller, &r.batch_id).await?;
                Ok(BankApiServiceGetBatchResponse {
                    response: Some(intake::GetBatchResponse { batch: Some(batch) }),
                })
            })
            .await
        }

        async fn list_batch_rows(
            &self,
            request: Request<BankApiServiceListBatchRowsRequest>,
        ) -> Result<Response<BankApiServiceListBatchRowsResponse>, Status> {
            self.ctx.call(request, ROLE, |caller, mut intake, r| async move {
                let r = r.request.unwrap_or_default();
                own_batch(&mut intake, &caller, &r.batch_id).await?;
                let response = intake.list_batch_rows(r).await?.into_inner();
                Ok(BankApiServiceListBatchRowsResponse { response: Some(response) })
            })
            .await
        }

        async fn get_case(
            &self,
            request: Request<BankApiServiceGetCaseRequest>,
        ) -> Result<Response<BankApiServiceGetCaseResponse>, Status> {
            self.ctx.call(request, ROLE, |caller, mut intake, r| async move {
                let case = own_case(&mut intake, &caller, &r.case_id).await?;
                // The stage services are not deployed yet, so no stage has a record to show.
                Ok(BankApiServiceGetCaseResponse {
                    case: Some(case),
                    records: Some(StageRecords::default()),
                })
            })
            .await
        }

        async fn list_cases(
            &self,
            request: Request<BankApiServiceListCasesRequest>,
        ) -> Result<Response<BankApiServiceListCasesResponse>, Status> {
            self.ctx.call(request, ROLE, |caller, mut intake, r| async move {
                let mut r = r.request.unwrap_or_default();
                own_bank_id(&caller, &mut r.bank_id, "request.bank_id")?;
                let response = intake.list_cases(r).await?.into_inner();
                Ok(BankApiServiceListCasesResponse { response: Some(response) })
            })
            .await
        }

        async fn get_timeline(
            &self,
            request: Request<BankApiServiceGetTimelineRequest>,
        ) -> Result<Response<BankApiServiceGetTimelineResponse>, Status> {
            self.ctx.call(request, ROLE, |caller, mut intake, r| async move {
                let r = r.request.unwrap_or_default();
                // Fetched together; the timeline is shown only once the case proves the
                // caller's.
                let mut timeline_client = intake.clone();
                let (_, timeline) = tokio::try_join!(
                    own_case(&mut intake, &caller, &r.case_id),
                    async { Ok(timeline_client.get_timeline(r.clone()).await?.into_inner()) },
                )?;
                Ok(BankApiServiceGetTimelineResponse { response: Some(timeline) })
            })
            .await
        }

        async fn withdraw_case(
            &self,
            request: Request<BankApiServiceWithdrawCaseRequest>,
        ) -> Result<Response<BankApiServiceWithdrawCaseResponse>, Status> {
            self.ctx.call(request, ROLE, |caller, mut intake, r| async move {
                let r = r.request.unwrap_or_default();
                own_case(&mut intake, &caller, &r.case_id).await?;
                let response = intake.withdraw_case(r).await?.into_inner();
                Ok(BankApiServiceWithdrawCaseResponse { response: Some(response) })
            })
            .await
        }

        async fn report_settlement(
            &self,
            request: Request<BankApiServiceReportSettlementRequest>,
        ) -> Result<Response<BankApiServiceReportSettlementResponse>, Status> {
            self.ctx.call(request, ROLE, |caller, mut intake, r| async move {
                let r = r.request.unwrap_or_default();
                own_case(&mut intake, &caller, &r.case_id).await?;
                let response = intake.report_settlement(r).await?.into_inner();
                Ok(BankApiServiceReportSettlementResponse { response: Some(response) })
            })
            .await
        }
    }
    not_deployed {
        apply_certificates(BankApiServiceApplyCertificatesRequest) -> BankApiServiceApplyCertificatesResponse => BadDebtCheck;
        get_certificate(BankApiServiceGetCertificateRequest) -> BankApiServiceGetCertificateResponse => BadDebtCheck;
        get_certificate_document(BankApiServiceGetCertificateDocumentRequest) -> BankApiServiceGetCertificateDocumentResponse => BadDebtCheck;
        verify_certificate(BankApiServiceVerifyCertificateRequest) -> BankApiServiceVerifyCertificateResponse => BadDebtCheck;
        apply_preservation(BankApiServiceApplyPreservationRequest) -> BankApiServiceApplyPreservationResponse => Preservation;
        get_preservation(BankApiServiceGetPreservationRequest) -> BankApiServiceGetPreservationResponse => Preservation;
        record_callback(BankApiServiceRecordCallbackRequest) -> BankApiServiceRecordCallbackResponse => Preservation;
        renew_freeze(BankApiServiceRenewFreezeRequest) -> BankApiServiceRenewFreezeResponse => Preservation;
        lift_preservation(BankApiServiceLiftPreservationRequest) -> BankApiServiceLiftPreservationResponse => Preservation;
        apply_payment_orders(BankApiServiceApplyPaymentOrdersRequest) -> BankApiServiceApplyPaymentOrdersResponse => Adjudication;
        decline_litigation(BankApiServiceDeclineLitigationRequest) -> BankApiServiceDeclineLitigationResponse => Adjudication;
        file_cases(BankApiServiceFileCasesRequest) -> BankApiServiceFileCasesResponse => Adjudication;
        get_payment_order(BankApiServiceGetPaymentOrderRequest) -> BankApiServiceGetPaymentOrderResponse => Adjudication;
        get_litigation(BankApiServiceGetLitigationRequest) -> BankApiServiceGetLitigationResponse => Adjudication;
        flag_case(BankApiServiceFlagCaseRequest) -> BankApiServiceFlagCaseResponse => Adjudication;
    }
}
