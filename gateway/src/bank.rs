//! A creditor bank's door: it submits and follows its own cases only.

use futures::StreamExt;
use sieve_kernel::Error;
use sieve_kernel::bulk::{self, Part};
use sieve_proto::bad_debt_check::v1 as bdc;
use sieve_proto::gateway::v1::bank_api_service_server::BankApiService;
use sieve_proto::gateway::v1::*;
use sieve_proto::intake::v1 as intake;
use sieve_proto::intake::v1::submit_batch_request::Item;
use sieve_proto::preservation::v1 as pv;
use tonic::{Request, Response, Status, Streaming};
use tracing::Instrument;

use crate::forward::{
    Backends, Context, door, inner, own_bank_id, own_batch, own_case, own_certificate,
    own_preservation, pass_through, public_verification, stage_records,
};
use crate::token::Role;

const ROLE: Role = Role::Bank;

/// A batch as this door takes it: intake's, its message wrapped in `request`.
const DOOR_BATCH: bulk::Kind = bulk::Kind {
    item_field: "request.item",
    ..bulk::BATCH
};

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
            let caller = self.ctx.gate.authorize(&request, ROLE).await?;
            let span = tracing::info_span!("caller", org_id = %caller.org_id, role = %caller.role);
            let mut intake = self.ctx.backends.intake.clone();
            let mut inbound = request.into_inner();
            async move {
                // A stream broken before its header ends the call with its own status.
                let first = inbound.message().await?.map(batch_part);
                let mut header = bulk::stream::header(first, &DOOR_BATCH)?;
                own_bank_id(&caller, &mut header.bank_id, "request.header.bank_id")?;
                let first = intake::SubmitBatchRequest { item: Some(Item::Header(header)) };

                // Chunks pass through one by one as they arrive. If the caller's stream
                // breaks, the call to intake is dropped (not ended cleanly), so intake
                // aborts the batch rather than judging a truncated one.
                let (rest, broken_rx) = pass_through(inbound, 1, |m| m.request);
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
            self.ctx.call(request, ROLE, |caller, Backends { mut intake, .. }, r| async move {
                let mut r = inner(r.request)?;
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
            self.ctx.call(request, ROLE, |caller, Backends { mut intake, .. }, r| async move {
                let r = inner(r.request)?;
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
            self.ctx.call(request, ROLE, |caller, Backends { mut intake, .. }, r| async move {
                let r = inner(r.request)?;
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
            self.ctx.call(request, ROLE, |caller, backends, r| async move {
                // Fetched together; the records are shown only once the case proves the
                // caller's.
                let (case, records) = tokio::join!(
                    own_case(&backends.cases, &caller, &r.case_id),
                    stage_records(&backends, &r.case_id),
                );
                Ok(BankApiServiceGetCaseResponse {
                    case: Some(case?),
                    records: Some(records),
                })
            })
            .await
        }

        async fn list_cases(
            &self,
            request: Request<BankApiServiceListCasesRequest>,
        ) -> Result<Response<BankApiServiceListCasesResponse>, Status> {
            self.ctx.call(request, ROLE, |caller, Backends { mut intake, .. }, r| async move {
                let mut r = inner(r.request)?;
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
            self.ctx.call(request, ROLE, |caller, Backends { mut intake, cases, .. }, r| async move {
                let r = inner(r.request)?;
                // Fetched together; the timeline is shown only once the case proves the
                // caller's.
                let (_, timeline) = tokio::try_join!(
                    own_case(&cases, &caller, &r.case_id),
                    async { Ok(intake.get_timeline(r.clone()).await?.into_inner()) },
                )?;
                Ok(BankApiServiceGetTimelineResponse { response: Some(timeline) })
            })
            .await
        }

        async fn withdraw_case(
            &self,
            request: Request<BankApiServiceWithdrawCaseRequest>,
        ) -> Result<Response<BankApiServiceWithdrawCaseResponse>, Status> {
            self.ctx.call(request, ROLE, |caller, Backends { mut intake, cases, .. }, r| async move {
                let r = inner(r.request)?;
                own_case(&cases, &caller, &r.case_id).await?;
                let response = intake.withdraw_case(r).await?.into_inner();
                Ok(BankApiServiceWithdrawCaseResponse { response: Some(response) })
            })
            .await
        }

        async fn apply_certificates(
            &self,
            request: Request<BankApiServiceApplyCertificatesRequest>,
        ) -> Result<Response<BankApiServiceApplyCertificatesResponse>, Status> {
            self.ctx.call(request, ROLE, |caller, Backends { mut pre_check, .. }, r| async move {
                let mut r = inner(r.request)?;
                // The pre-check refuses, row by row, cases that are not this bank's.
                own_bank_id(&caller, &mut r.bank_id, "request.bank_id")?;
                let response = pre_check.apply_certificates(r).await?.into_inner();
                Ok(BankApiServiceApplyCertificatesResponse { response: Some(response) })
            })
            .await
        }

        async fn get_certificate(
            &self,
            request: Request<BankApiServiceGetCertificateRequest>,
        ) -> Result<Response<BankApiServiceGetCertificateResponse>, Status> {
            self.ctx.call(request, ROLE, |caller, Backends { mut pre_check, .. }, r| async move {
                let key = inner(r.request)?.key;
                let certificate = own_certificate(&mut pre_check, &caller, key).await?;
                Ok(BankApiServiceGetCertificateResponse {
                    response: Some(bdc::GetCertificateResponse {
                        certificate: Some(certificate),
                    }),
                })
            })
            .await
        }

        async fn get_certificate_document(
            &self,
            request: Request<BankApiServiceGetCertificateDocumentRequest>,
        ) -> Result<Response<BankApiServiceGetCertificateDocumentResponse>, Status> {
            use bdc::get_certificate_document_request::Key as DocumentKey;
            use bdc::get_certificate_request::Key;
            self.ctx.call(request, ROLE, |caller, Backends { mut pre_check, .. }, r| async move {
                let r = inner(r.request)?;
                let key = match &r.key {
                    Some(DocumentKey::CertificateId(v)) => Some(Key::CertificateId(v.clone())),
                    Some(DocumentKey::CertificateNumber(v)) => {
                        Some(Key::CertificateNumber(v.clone()))
                    }
                    None => {
                        return Err(Error::invalid_field(
                            "request.key",
                            "certificate_id or certificate_number",
                        )
                        .into());
                    }
                };
                // Fetched together; the document is shown only once the certificate proves
                // the caller's.
                let mut documents = pre_check.clone();
                let (_, document) = tokio::try_join!(
                    own_certificate(&mut pre_check, &caller, key),
                    async { Ok(documents.get_certificate_document(r).await?.into_inner()) },
                )?;
                Ok(BankApiServiceGetCertificateDocumentResponse { response: Some(document) })
            })
            .await
        }

        async fn verify_certificate(
            &self,
            request: Request<BankApiServiceVerifyCertificateRequest>,
        ) -> Result<Response<BankApiServiceVerifyCertificateResponse>, Status> {
            self.ctx.call(request, ROLE, |caller, Backends { mut pre_check, .. }, r| async move {
                let answer = pre_check
                    .verify_certificate(inner(r.request)?)
                    .await?
                    .into_inner();
                // The bank's own certificate in full; another's as anyone may see it.
                let own = answer
                    .certificate
                    .as_ref()
                    .is_some_and(|c| c.bank_id == caller.org_id);
                let answer = if own { answer } else { public_verification(answer) };
                Ok(BankApiServiceVerifyCertificateResponse { response: Some(answer) })
            })
            .await
        }

        async fn report_settlement(
            &self,
            request: Request<BankApiServiceReportSettlementRequest>,
        ) -> Result<Response<BankApiServiceReportSettlementResponse>, Status> {
            self.ctx.call(request, ROLE, |caller, Backends { mut intake, cases, .. }, r| async move {
                let r = inner(r.request)?;
                own_case(&cases, &caller, &r.case_id).await?;
                let response = intake.report_settlement(r).await?.into_inner();
                Ok(BankApiServiceReportSettlementResponse { response: Some(response) })
            })
            .await
        }

        async fn apply_preservation(
            &self,
            request: Request<BankApiServiceApplyPreservationRequest>,
        ) -> Result<Response<BankApiServiceApplyPreservationResponse>, Status> {
            self.ctx.call(request, ROLE, |caller, Backends { mut preservation, .. }, r| async move {
                let mut r = inner(r.request)?;
                own_bank_id(&caller, &mut r.bank_id, "request.bank_id")?;
                let response = preservation.apply_preservation(r).await?.into_inner();
                Ok(BankApiServiceApplyPreservationResponse { response: Some(response) })
            })
            .await
        }

        async fn get_preservation(
            &self,
            request: Request<BankApiServiceGetPreservationRequest>,
        ) -> Result<Response<BankApiServiceGetPreservationResponse>, Status> {
            self.ctx.call(request, ROLE, |caller, Backends { mut preservation, .. }, r| async move {
                let r = inner(r.request)?;
                let found = own_preservation(&mut preservation, &caller, r.key).await?;
                Ok(BankApiServiceGetPreservationResponse {
                    response: Some(pv::GetPreservationResponse { preservation: Some(found) }),
                })
            })
            .await
        }

        async fn list_preservations(
            &self,
            request: Request<BankApiServiceListPreservationsRequest>,
        ) -> Result<Response<BankApiServiceListPreservationsResponse>, Status> {
            self.ctx.call(request, ROLE, |caller, Backends { mut preservation, .. }, r| async move {
                let mut r = inner(r.request)?;
                own_bank_id(&caller, &mut r.bank_id, "request.bank_id")?;
                let response = preservation.list_preservations(r).await?.into_inner();
                Ok(BankApiServiceListPreservationsResponse { response: Some(response) })
            })
            .await
        }

        async fn forgo_preservation(
            &self,
            request: Request<BankApiServiceForgoPreservationRequest>,
        ) -> Result<Response<BankApiServiceForgoPreservationResponse>, Status> {
            self.ctx.call(request, ROLE, |caller, Backends { mut preservation, .. }, r| async move {
                let mut r = inner(r.request)?;
                own_bank_id(&caller, &mut r.bank_id, "request.bank_id")?;
                let response = preservation.forgo_preservation(r).await?.into_inner();
                Ok(BankApiServiceForgoPreservationResponse { response: Some(response) })
            })
            .await
        }

        async fn record_callback(
            &self,
            request: Request<BankApiServiceRecordCallbackRequest>,
        ) -> Result<Response<BankApiServiceRecordCallbackResponse>, Status> {
            self.ctx.call(request, ROLE, |caller, Backends { mut preservation, .. }, r| async move {
                let r = inner(r.request)?;
                let key = pv::get_preservation_request::Key::PreservationId(r.preservation_id.clone());
                own_preservation(&mut preservation, &caller, Some(key)).await?;
                let response = preservation.record_callback(r).await?.into_inner();
                Ok(BankApiServiceRecordCallbackResponse { response: Some(response) })
            })
            .await
        }

        async fn renew_freeze(
            &self,
            request: Request<BankApiServiceRenewFreezeRequest>,
        ) -> Result<Response<BankApiServiceRenewFreezeResponse>, Status> {
            self.ctx.call(request, ROLE, |caller, Backends { mut preservation, .. }, r| async move {
                let r = inner(r.request)?;
                let key = pv::get_preservation_request::Key::FreezeOrderId(r.freeze_order_id.clone());
                own_preservation(&mut preservation, &caller, Some(key)).await?;
                let response = preservation.renew_freeze(r).await?.into_inner();
                Ok(BankApiServiceRenewFreezeResponse { response: Some(response) })
            })
            .await
        }

        async fn lift_preservation(
            &self,
            request: Request<BankApiServiceLiftPreservationRequest>,
        ) -> Result<Response<BankApiServiceLiftPreservationResponse>, Status> {
            self.ctx.call(request, ROLE, |caller, Backends { mut preservation, .. }, r| async move {
                let r = inner(r.request)?;
                // A bank lifts on its own request only; the court orders the rest.
                if r.reason != pv::LiftReason::ApplicantRequest as i32 {
                    return Err(Error::invalid_field(
                        "request.reason",
                        "a bank may lift only at its own request (LIFT_REASON_APPLICANT_REQUEST)",
                    )
                    .into());
                }
                let key = pv::get_preservation_request::Key::PreservationId(r.preservation_id.clone());
                own_preservation(&mut preservation, &caller, Some(key)).await?;
                let response = preservation.lift_preservation(r).await?.into_inner();
                Ok(BankApiServiceLiftPreservationResponse { response: Some(response) })
            })
            .await
        }
    }
    not_deployed {
        apply_payment_orders(BankApiServiceApplyPaymentOrdersRequest) -> BankApiServiceApplyPaymentOrdersResponse => Adjudication;
        decline_litigation(BankApiServiceDeclineLitigationRequest) -> BankApiServiceDeclineLitigationResponse => Adjudication;
        file_cases(BankApiServiceFileCasesRequest) -> BankApiServiceFileCasesResponse => Adjudication;
        get_payment_order(BankApiServiceGetPaymentOrderRequest) -> BankApiServiceGetPaymentOrderResponse => Adjudication;
        get_litigation(BankApiServiceGetLitigationRequest) -> BankApiServiceGetLitigationResponse => Adjudication;
        flag_case(BankApiServiceFlagCaseRequest) -> BankApiServiceFlagCaseResponse => Adjudication;
    }
}

/// What a message of the door's `SubmitBatch` holds.
fn batch_part(m: BankApiServiceSubmitBatchRequest) -> Part<intake::BatchHeader, intake::CaseInput> {
    match m.request.and_then(|r| r.item) {
        Some(Item::Header(h)) => Part::Header(h),
        Some(Item::Chunk(c)) => Part::Rows(c.cases),
        None => Part::Neither,
    }
}
