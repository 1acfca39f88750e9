//! A mediation organisation's door: its calls belong to the mediation service (callbacks to
//! preservation), neither deployed yet.

use sieve_proto::gateway::v1::mediator_api_service_server::MediatorApiService;
use sieve_proto::gateway::v1::*;

use crate::forward::{Context, door};
use crate::token::Role;

const ROLE: Role = Role::Mediator;

pub struct MediatorApi {
    pub(crate) ctx: Context,
}

door! {
    impl MediatorApiService for MediatorApi, role ROLE;
    {}
    not_deployed {
        list_mediations(MediatorApiServiceListMediationsRequest) -> MediatorApiServiceListMediationsResponse => Mediation;
        get_mediation(MediatorApiServiceGetMediationRequest) -> MediatorApiServiceGetMediationResponse => Mediation;
        register_mediator(MediatorApiServiceRegisterMediatorRequest) -> MediatorApiServiceRegisterMediatorResponse => Mediation;
        record_callback(MediatorApiServiceRecordCallbackRequest) -> MediatorApiServiceRecordCallbackResponse => Preservation;
        record_session(MediatorApiServiceRecordSessionRequest) -> MediatorApiServiceRecordSessionResponse => Mediation;
        record_agreement(MediatorApiServiceRecordAgreementRequest) -> MediatorApiServiceRecordAgreementResponse => Mediation;
        record_failure(MediatorApiServiceRecordFailureRequest) -> MediatorApiServiceRecordFailureResponse => Mediation;
        apply_judicial_confirmation(MediatorApiServiceApplyJudicialConfirmationRequest) -> MediatorApiServiceApplyJudicialConfirmationResponse => Mediation;
    }
}
