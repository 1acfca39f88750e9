//! The court's door: every case, the bank registry, and (once deployed) rulings and
//! statistics.

use sieve_kernel::Error;
use sieve_proto::gateway::v1::court_api_service_server::CourtApiService;
use sieve_proto::gateway::v1::*;
use sieve_proto::intake::v1 as intake;
use tonic::{Request, Response, Status, Streaming};

use crate::forward::{Context, door};
use crate::token::Role;

const ROLE: Role = Role::Court;

pub struct CourtApi {
    pub(crate) ctx: Context,
}

fn now() -> prost_types::Timestamp {
    prost_types::Timestamp::from(std::time::SystemTime::now())
}

door! {
    impl CourtApiService for CourtApi, role ROLE;
    {
        async fn get_case_dossier(
            &self,
            request: Request<CourtApiServiceGetCaseDossierRequest>,
        ) -> Result<Response<CourtApiServiceGetCaseDossierResponse>, Status> {
            self.ctx.call(request, ROLE, |_, intake, r| async move {
                let (mut case_client, mut timeline_client) = (intake.clone(), intake);
                let (case, timeline) = tokio::try_join!(
                    case_client.get_case(intake::GetCaseRequest { case_id: r.case_id.clone() }),
                    timeline_client.get_timeline(intake::GetTimelineRequest {
                        case_id: r.case_id.clone(),
                    }),
                )?;
                let case = case
                    .into_inner()
                    .case
                    .ok_or_else(|| Status::from(Error::not_found("case", &r.case_id)))?;
                Ok(CourtApiServiceGetCaseDossierResponse {
                    dossier: Some(CaseDossier {
                        case: Some(case),
                        timeline: timeline.into_inner().events,
                        // The stage services are not deployed yet: no stage has a record.
                        records: Some(StageRecords::default()),
                        flags: Vec::new(),
                        assembled_at: Some(now()),
                    }),
                })
            })
            .await
        }

        async fn list_cases(
            &self,
            request: Request<CourtApiServiceListCasesRequest>,
        ) -> Result<Response<CourtApiServiceListCasesResponse>, Status> {
            self.ctx.call(request, ROLE, |_, mut intake, r| async move {
                let response = intake.list_cases(r.request.unwrap_or_default()).await?;
                Ok(CourtApiServiceListCasesResponse { response: Some(response.into_inner()) })
            })
            .await
        }

        async fn get_timeline(
            &self,
            request: Request<CourtApiServiceGetTimelineRequest>,
        ) -> Result<Response<CourtApiServiceGetTimelineResponse>, Status> {
            self.ctx.call(request, ROLE, |_, mut intake, r| async move {
                let response = intake.get_timeline(r.request.unwrap_or_default()).await?;
                Ok(CourtApiServiceGetTimelineResponse { response: Some(response.into_inner()) })
            })
            .await
        }

        async fn register_bank(
            &self,
            request: Request<CourtApiServiceRegisterBankRequest>,
        ) -> Result<Response<CourtApiServiceRegisterBankResponse>, Status> {
            self.ctx.call(request, ROLE, |_, mut intake, r| async move {
                let response = intake.register_bank(r.request.unwrap_or_default()).await?;
                Ok(CourtApiServiceRegisterBankResponse { response: Some(response.into_inner()) })
            })
            .await
        }

        async fn list_banks(
            &self,
            request: Request<CourtApiServiceListBanksRequest>,
        ) -> Result<Response<CourtApiServiceListBanksResponse>, Status> {
            self.ctx.call(request, ROLE, |_, mut intake, r| async move {
                let response = intake.list_banks(r.request.unwrap_or_default()).await?;
                Ok(CourtApiServiceListBanksResponse { response: Some(response.into_inner()) })
            })
            .await
        }
    }
    not_deployed {
        get_funnel(CourtApiServiceGetFunnelRequest) -> CourtApiServiceGetFunnelResponse => Funnel;
        import_rulings(Streaming<CourtApiServiceImportRulingsRequest>) -> CourtApiServiceImportRulingsResponse => BadDebtCheck;
        list_import_refusals(CourtApiServiceListImportRefusalsRequest) -> CourtApiServiceListImportRefusalsResponse => BadDebtCheck;
        revoke_ruling(CourtApiServiceRevokeRulingRequest) -> CourtApiServiceRevokeRulingResponse => BadDebtCheck;
        get_ruling(CourtApiServiceGetRulingRequest) -> CourtApiServiceGetRulingResponse => BadDebtCheck;
        get_certificate(CourtApiServiceGetCertificateRequest) -> CourtApiServiceGetCertificateResponse => BadDebtCheck;
        get_certificate_document(CourtApiServiceGetCertificateDocumentRequest) -> CourtApiServiceGetCertificateDocumentResponse => BadDebtCheck;
        verify_certificate(CourtApiServiceVerifyCertificateRequest) -> CourtApiServiceVerifyCertificateResponse => BadDebtCheck;
        rule_on_preservation_applications(CourtApiServiceRuleOnPreservationApplicationsRequest) -> CourtApiServiceRuleOnPreservationApplicationsResponse => Preservation;
        get_preservation(CourtApiServiceGetPreservationRequest) -> CourtApiServiceGetPreservationResponse => Preservation;
        lift_preservation(CourtApiServiceLiftPreservationRequest) -> CourtApiServiceLiftPreservationResponse => Preservation;
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
