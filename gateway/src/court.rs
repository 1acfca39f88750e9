//! The court's door: every case, the bank registry, the terminated-enforcement registry,
//! every certificate and the suite's clock; (once deployed) the later stages and statistics.

use sieve_kernel::Error;
use sieve_proto::gateway::v1::court_api_service_server::CourtApiService;
use sieve_proto::gateway::v1::*;
use sieve_proto::intake::v1 as intake;
use tonic::{Request, Response, Status, Streaming};
use tracing::Instrument;

use crate::forward::{Backends, Context, door, inner, pass_through, stage_records};
use crate::token::Role;
use crate::{calendar, clock};

const ROLE: Role = Role::Court;

pub struct CourtApi {
    pub(crate) ctx: Context,
}

door! {
    impl CourtApiService for CourtApi, role ROLE;
    {
        async fn get_case_dossier(
            &self,
            request: Request<CourtApiServiceGetCaseDossierRequest>,
        ) -> Result<Response<CourtApiServiceGetCaseDossierResponse>, Status> {
            let clock = self.ctx.clock.clone();
            self.ctx.call(request, ROLE, |_, backends, r| async move {
                let (mut case_client, mut timeline_client) =
                    (backends.intake.clone(), backends.intake.clone());
                // The case, its timeline and every stage's record, all at once; a stage
                // service that does not answer leaves its record out, not the dossier.
                let (case, timeline, records) = tokio::join!(
                    case_client.get_case(intake::GetCaseRequest { case_id: r.case_id.clone() }),
                    timeline_client.get_timeline(intake::GetTimelineRequest {
                        case_id: r.case_id.clone(),
                    }),
                    stage_records(&backends, &r.case_id),
                );
                let (case, timeline) = (case?, timeline?);
                let case = case
                    .into_inner()
                    .case
                    .ok_or_else(|| Status::from(Error::not_found("case", &r.case_id)))?;
                Ok(CourtApiServiceGetCaseDossierResponse {
                    dossier: Some(CaseDossier {
                        case: Some(case),
                        timeline: timeline.into_inner().events,
                        records: Some(records),
                        flags: Vec::new(),
                        assembled_at: Some(sieve_kernel::wire::timestamp(
                            clock.now().timestamp_millis(),
                        )),
                    }),
                })
            })
            .await
        }

        async fn list_cases(
            &self,
            request: Request<CourtApiServiceListCasesRequest>,
        ) -> Result<Response<CourtApiServiceListCasesResponse>, Status> {
            self.ctx.call(request, ROLE, |_, Backends { mut intake, .. }, r| async move {
                let response = intake.list_cases(inner(r.request)?).await?;
                Ok(CourtApiServiceListCasesResponse { response: Some(response.into_inner()) })
            })
            .await
        }

        async fn get_timeline(
            &self,
            request: Request<CourtApiServiceGetTimelineRequest>,
        ) -> Result<Response<CourtApiServiceGetTimelineResponse>, Status> {
            self.ctx.call(request, ROLE, |_, Backends { mut intake, .. }, r| async move {
                let response = intake.get_timeline(inner(r.request)?).await?;
                Ok(CourtApiServiceGetTimelineResponse { response: Some(response.into_inner()) })
            })
            .await
        }

        async fn register_bank(
            &self,
            request: Request<CourtApiServiceRegisterBankRequest>,
        ) -> Result<Response<CourtApiServiceRegisterBankResponse>, Status> {
            self.ctx.call(request, ROLE, |_, Backends { mut intake, .. }, r| async move {
                let response = intake.register_bank(inner(r.request)?).await?;
                Ok(CourtApiServiceRegisterBankResponse { response: Some(response.into_inner()) })
            })
            .await
        }

        async fn import_rulings(
            &self,
            request: Request<Streaming<CourtApiServiceImportRulingsRequest>>,
        ) -> Result<Response<CourtApiServiceImportRulingsResponse>, Status> {
            let caller = self.ctx.gate.authorize(&request, ROLE).await?;
            let span = tracing::info_span!("caller", org_id = %caller.org_id, role = %caller.role);
            let mut registry = self.ctx.backends.registry.clone();
            // Message by message as they arrive; a broken stream from the court drops the
            // call, so the registry aborts the import rather than judging a truncated one.
            let (outbound, broken) = pass_through(request.into_inner(), 0, |m| m.request);
            async move {
                let answer = tokio::select! {
                    biased;
                    Ok(status) = broken => return Err(status),
                    answer = registry.import_rulings(outbound) => answer?,
                };
                Ok(Response::new(CourtApiServiceImportRulingsResponse {
                    response: Some(answer.into_inner()),
                }))
            }
            .instrument(span)
            .await
        }

        async fn list_import_refusals(
            &self,
            request: Request<CourtApiServiceListImportRefusalsRequest>,
        ) -> Result<Response<CourtApiServiceListImportRefusalsResponse>, Status> {
            self.ctx.call(request, ROLE, |_, Backends { mut registry, .. }, r| async move {
                let response = registry
                    .list_import_refusals(inner(r.request)?)
                    .await?;
                Ok(CourtApiServiceListImportRefusalsResponse {
                    response: Some(response.into_inner()),
                })
            })
            .await
        }

        async fn revoke_ruling(
            &self,
            request: Request<CourtApiServiceRevokeRulingRequest>,
        ) -> Result<Response<CourtApiServiceRevokeRulingResponse>, Status> {
            self.ctx.call(request, ROLE, |_, Backends { mut registry, .. }, r| async move {
                let response = registry.revoke_ruling(inner(r.request)?).await?;
                Ok(CourtApiServiceRevokeRulingResponse { response: Some(response.into_inner()) })
            })
            .await
        }

        async fn get_ruling(
            &self,
            request: Request<CourtApiServiceGetRulingRequest>,
        ) -> Result<Response<CourtApiServiceGetRulingResponse>, Status> {
            self.ctx.call(request, ROLE, |_, Backends { mut registry, .. }, r| async move {
                let response = registry.get_ruling(inner(r.request)?).await?;
                Ok(CourtApiServiceGetRulingResponse { response: Some(response.into_inner()) })
            })
            .await
        }

        async fn get_certificate(
            &self,
            request: Request<CourtApiServiceGetCertificateRequest>,
        ) -> Result<Response<CourtApiServiceGetCertificateResponse>, Status> {
            self.ctx.call(request, ROLE, |_, Backends { mut pre_check, .. }, r| async move {
                let response = pre_check.get_certificate(inner(r.request)?).await?;
                Ok(CourtApiServiceGetCertificateResponse { response: Some(response.into_inner()) })
            })
            .await
        }

        async fn get_certificate_document(
            &self,
            request: Request<CourtApiServiceGetCertificateDocumentRequest>,
        ) -> Result<Response<CourtApiServiceGetCertificateDocumentResponse>, Status> {
            self.ctx.call(request, ROLE, |_, Backends { mut pre_check, .. }, r| async move {
                let response = pre_check
                    .get_certificate_document(inner(r.request)?)
                    .await?;
                Ok(CourtApiServiceGetCertificateDocumentResponse {
                    response: Some(response.into_inner()),
                })
            })
            .await
        }

        async fn verify_certificate(
            &self,
            request: Request<CourtApiServiceVerifyCertificateRequest>,
        ) -> Result<Response<CourtApiServiceVerifyCertificateResponse>, Status> {
            self.ctx.call(request, ROLE, |_, Backends { mut pre_check, .. }, r| async move {
                let response = pre_check.verify_certificate(inner(r.request)?).await?;
                Ok(CourtApiServiceVerifyCertificateResponse {
                    response: Some(response.into_inner()),
                })
            })
            .await
        }

        async fn list_banks(
            &self,
            request: Request<CourtApiServiceListBanksRequest>,
        ) -> Result<Response<CourtApiServiceListBanksResponse>, Status> {
            self.ctx.call(request, ROLE, |_, Backends { mut intake, .. }, r| async move {
                let response = intake.list_banks(inner(r.request)?).await?;
                Ok(CourtApiServiceListBanksResponse { response: Some(response.into_inner()) })
            })
            .await
        }

        async fn get_clock(
            &self,
            request: Request<CourtApiServiceGetClockRequest>,
        ) -> Result<Response<CourtApiServiceGetClockResponse>, Status> {
            let clock = self.ctx.clock.clone();
            self.ctx
                .call(request, ROLE, |_, _, _| async move { Ok(clock::get(clock.as_ref())) })
                .await
        }

        async fn load_calendar(
            &self,
            request: Request<CourtApiServiceLoadCalendarRequest>,
        ) -> Result<Response<CourtApiServiceLoadCalendarResponse>, Status> {
            self.ctx
                .call(request, ROLE, |_, Backends { calendars, .. }, r| async move {
                    calendar::load(&calendars, inner(r.request)?).await
                })
                .await
        }

        async fn list_calendars(
            &self,
            request: Request<CourtApiServiceListCalendarsRequest>,
        ) -> Result<Response<CourtApiServiceListCalendarsResponse>, Status> {
            self.ctx
                .call(request, ROLE, |_, Backends { calendars, .. }, r| async move {
                    Ok(calendar::list(&calendars, inner(r.request)?).await)
                })
                .await
        }

        async fn advance_clock(
            &self,
            request: Request<CourtApiServiceAdvanceClockRequest>,
        ) -> Result<Response<CourtApiServiceAdvanceClockResponse>, Status> {
            let clock = self.ctx.clock.clone();
            self.ctx
                .call(request, ROLE, |_, _, r| async move {
                    Ok(clock::advance(clock.as_ref(), r)?)
                })
                .await
        }

        async fn rule_on_preservation_applications(
            &self,
            request: Request<CourtApiServiceRuleOnPreservationApplicationsRequest>,
        ) -> Result<Response<CourtApiServiceRuleOnPreservationApplicationsResponse>, Status> {
            self.ctx.call(request, ROLE, |_, Backends { mut preservation, .. }, r| async move {
                let response = preservation.rule_on_applications(inner(r.request)?).await?;
                Ok(CourtApiServiceRuleOnPreservationApplicationsResponse {
                    response: Some(response.into_inner()),
                })
            })
            .await
        }

        async fn get_preservation(
            &self,
            request: Request<CourtApiServiceGetPreservationRequest>,
        ) -> Result<Response<CourtApiServiceGetPreservationResponse>, Status> {
            self.ctx.call(request, ROLE, |_, Backends { mut preservation, .. }, r| async move {
                let response = preservation.get_preservation(inner(r.request)?).await?;
                Ok(CourtApiServiceGetPreservationResponse { response: Some(response.into_inner()) })
            })
            .await
        }

        async fn lift_preservation(
            &self,
            request: Request<CourtApiServiceLiftPreservationRequest>,
        ) -> Result<Response<CourtApiServiceLiftPreservationResponse>, Status> {
            self.ctx.call(request, ROLE, |_, Backends { mut preservation, .. }, r| async move {
                let response = preservation.lift_preservation(inner(r.request)?).await?;
                Ok(CourtApiServiceLiftPreservationResponse { response: Some(response.into_inner()) })
            })
            .await
        }

        async fn list_preservations(
            &self,
            request: Request<CourtApiServiceListPreservationsRequest>,
        ) -> Result<Response<CourtApiServiceListPreservationsResponse>, Status> {
            self.ctx.call(request, ROLE, |_, Backends { mut preservation, .. }, r| async move {
                let response = preservation.list_preservations(inner(r.request)?).await?;
                Ok(CourtApiServiceListPreservationsResponse { response: Some(response.into_inner()) })
            })
            .await
        }

        async fn record_suit_filed(
            &self,
            request: Request<CourtApiServiceRecordSuitFiledRequest>,
        ) -> Result<Response<CourtApiServiceRecordSuitFiledResponse>, Status> {
            self.ctx.call(request, ROLE, |_, Backends { mut preservation, .. }, r| async move {
                let response = preservation.record_suit_filed(inner(r.request)?).await?;
                Ok(CourtApiServiceRecordSuitFiledResponse { response: Some(response.into_inner()) })
            })
            .await
        }
    }
    not_deployed {
        get_funnel(CourtApiServiceGetFunnelRequest) -> CourtApiServiceGetFunnelResponse => Funnel;
        register_mediation_organisation(CourtApiServiceRegisterMediationOrganisationRequest) -> CourtApiServiceRegisterMediationOrganisationResponse => Mediation;
        register_mediator(CourtApiServiceRegisterMediatorRequest) -> CourtApiServiceRegisterMediatorResponse => Mediation;
        assign_mediation_cases(CourtApiServiceAssignMediationCasesRequest) -> CourtApiServiceAssignMediationCasesResponse => Mediation;
        list_mediations(CourtApiServiceListMediationsRequest) -> CourtApiServiceListMediationsResponse => Mediation;
        get_mediation(CourtApiServiceGetMediationRequest) -> CourtApiServiceGetMediationResponse => Mediation;
        rule_on_confirmation(CourtApiServiceRuleOnConfirmationRequest) -> CourtApiServiceRuleOnConfirmationResponse => Mediation;
        register_notary_office(CourtApiServiceRegisterNotaryOfficeRequest) -> CourtApiServiceRegisterNotaryOfficeResponse => Notarization;
        list_notarizations(CourtApiServiceListNotarizationsRequest) -> CourtApiServiceListNotarizationsResponse => Notarization;
        get_notarization(CourtApiServiceGetNotarizationRequest) -> CourtApiServiceGetNotarizationResponse => Notarization;
        rule_on_payment_order_applications(CourtApiServiceRuleOnPaymentOrderApplicationsRequest) -> CourtApiServiceRuleOnPaymentOrderApplicationsResponse => Adjudication;
        record_service(CourtApiServiceRecordServiceRequest) -> CourtApiServiceRecordServiceResponse => Adjudication;
        record_objection(CourtApiServiceRecordObjectionRequest) -> CourtApiServiceRecordObjectionResponse => Adjudication;
        get_payment_order(CourtApiServiceGetPaymentOrderRequest) -> CourtApiServiceGetPaymentOrderResponse => Adjudication;
        propose_groups(CourtApiServiceProposeGroupsRequest) -> CourtApiServiceProposeGroupsResponse => Adjudication;
        get_group(CourtApiServiceGetGroupRequest) -> CourtApiServiceGetGroupResponse => Adjudication;
        mark_demonstration_case(CourtApiServiceMarkDemonstrationCaseRequest) -> CourtApiServiceMarkDemonstrationCaseResponse => Adjudication;
        schedule_hearing(CourtApiServiceScheduleHearingRequest) -> CourtApiServiceScheduleHearingResponse => Adjudication;
        record_judgment(CourtApiServiceRecordJudgmentRequest) -> CourtApiServiceRecordJudgmentResponse => Adjudication;
        get_litigation(CourtApiServiceGetLitigationRequest) -> CourtApiServiceGetLitigationResponse => Adjudication;
        flag_case(CourtApiServiceFlagCaseRequest) -> CourtApiServiceFlagCaseResponse => Adjudication;
        list_flags(CourtApiServiceListFlagsRequest) -> CourtApiServiceListFlagsResponse => Adjudication;
        decide_flag(CourtApiServiceDecideFlagRequest) -> CourtApiServiceDecideFlagResponse => Adjudication;
    }
}
