//! A notary office's door: every call belongs to the notarization service, not deployed yet.

use sieve_proto::gateway::v1::notary_api_service_server::NotaryApiService;
use sieve_proto::gateway::v1::*;

use crate::forward::{Context, door};
use crate::token::Role;

const ROLE: Role = Role::Notary;

pub struct NotaryApi {
    pub(crate) ctx: Context,
}

door! {
    impl NotaryApiService for NotaryApi, role ROLE;
    {}
    not_deployed {
        list_notarizations(NotaryApiServiceListNotarizationsRequest) -> NotaryApiServiceListNotarizationsResponse => Notarization;
        get_notarization(NotaryApiServiceGetNotarizationRequest) -> NotaryApiServiceGetNotarizationResponse => Notarization;
        decline_referral(NotaryApiServiceDeclineReferralRequest) -> NotaryApiServiceDeclineReferralResponse => Notarization;
        submit_notarized_agreement(NotaryApiServiceSubmitNotarizedAgreementRequest) -> NotaryApiServiceSubmitNotarizedAgreementResponse => Notarization;
        record_installment_payment(NotaryApiServiceRecordInstallmentPaymentRequest) -> NotaryApiServiceRecordInstallmentPaymentResponse => Notarization;
        report_default(NotaryApiServiceReportDefaultRequest) -> NotaryApiServiceReportDefaultResponse => Notarization;
        issue_enforcement_certificate(NotaryApiServiceIssueEnforcementCertificateRequest) -> NotaryApiServiceIssueEnforcementCertificateResponse => Notarization;
    }
}
