//! What every door shares: the authenticated call wrapper, the intake client, tenancy checks
//! and the honest answer for services that are not deployed yet.

use std::collections::HashMap;
use std::sync::Arc;

use sieve_kernel::error::ERROR_DOMAIN;
use sieve_kernel::{Error, ErrorCode};
use sieve_proto::intake::v1 as intake;
use sieve_proto::intake::v1::intake_service_client::IntakeServiceClient;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};
use tracing::Instrument;

use crate::auth::{Caller, Gate};
use crate::token::Role;

type Propagate = fn(Request<()>) -> Result<Request<()>, Status>;

/// Intake, reached over one lazily connected channel, carrying the request id.
pub type IntakeClient = IntakeServiceClient<InterceptedService<Channel, Propagate>>;

pub fn intake_client(channel: Channel, max_message_bytes: usize) -> IntakeClient {
    IntakeServiceClient::with_interceptor(channel, sieve_kernel::request_id::propagate as Propagate)
        .max_decoding_message_size(max_message_bytes)
        .max_encoding_message_size(max_message_bytes)
}

/// What each door holds: the gate and the backends.
#[derive(Clone)]
pub struct Context {
    pub gate: Arc<Gate>,
    pub intake: IntakeClient,
}

impl Context {
    /// Authorizes a call to the door of `role`, then runs `f` for the caller inside a span
    /// naming the caller's organisation.
    pub async fn call<T, R, F, Fut>(
        &self,
        request: Request<T>,
        role: Role,
        f: F,
    ) -> Result<Response<R>, Status>
    where
        F: FnOnce(Caller, IntakeClient, T) -> Fut,
        Fut: Future<Output = Result<R, Status>>,
    {
        let caller = self.gate.authorize(request.metadata(), role)?;
        let span = tracing::info_span!("caller", org_id = %caller.org_id, role = %caller.role);
        f(caller, self.intake.clone(), request.into_inner())
            .instrument(span)
            .await
            .map(Response::new)
    }

    /// Authorizes the call, then answers that its backing service is not deployed yet.
    pub fn refuse_not_deployed<T>(
        &self,
        request: &Request<T>,
        role: Role,
        backend: Backend,
    ) -> Status {
        match self.gate.authorize(request.metadata(), role) {
            Ok(_) => not_deployed(backend),
            Err(status) => status,
        }
    }
}

/// The internal services behind the doors that do not run yet.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    BadDebtCheck,
    Preservation,
    Mediation,
    Notarization,
    Adjudication,
    /// The funnel aggregates every stage service's records.
    Funnel,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::BadDebtCheck => "bad-debt-check",
            Backend::Preservation => "preservation",
            Backend::Mediation => "mediation",
            Backend::Notarization => "notarization",
            Backend::Adjudication => "adjudication",
            Backend::Funnel => "funnel statistics",
        }
    }
}

/// `UNIMPLEMENTED`, naming the service that would answer: the call is real, its backend is
/// not deployed yet.
pub fn not_deployed(backend: Backend) -> Status {
    let mut details = ErrorDetails::new();
    details.set_error_info(
        "SERVICE_NOT_DEPLOYED",
        ERROR_DOMAIN,
        HashMap::from([("service".to_string(), backend.name().to_string())]),
    );
    Status::with_error_details(
        Code::Unimplemented,
        format!(
            "the {} service is not deployed yet; this call is answered once it is",
            backend.name()
        ),
        details,
    )
}

/// Fills an empty `bank_id` with the caller's and refuses another bank's.
pub fn own_bank_id(caller: &Caller, bank_id: &mut String, field: &str) -> Result<(), Status> {
    if bank_id.is_empty() {
        bank_id.clone_from(&caller.org_id);
        return Ok(());
    }
    if *bank_id == caller.org_id {
        return Ok(());
    }
    Err(Error::new(
        ErrorCode::PermissionDenied,
        "BANK_MISMATCH",
        format!("{field} must be the calling bank's own id, or empty"),
    )
    .with_violation(field, "not the calling bank")
    .into())
}

/// The case, if it is the calling bank's. Another bank's case answers NotFound, exactly as a
/// case that does not exist, so that ids of other banks' cases reveal nothing.
pub async fn own_case(
    intake: &mut IntakeClient,
    caller: &Caller,
    case_id: &str,
) -> Result<intake::Case, Status> {
    let case = intake
        .get_case(intake::GetCaseRequest {
            case_id: case_id.to_string(),
        })
        .await?
        .into_inner()
        .case;
    match case {
        Some(case) if case.bank_id == caller.org_id => Ok(case),
        _ => Err(Error::not_found("case", case_id).into()),
    }
}

/// The batch, if it is the calling bank's (NotFound otherwise, as for cases).
pub async fn own_batch(
    intake: &mut IntakeClient,
    caller: &Caller,
    batch_id: &str,
) -> Result<intake::Batch, Status> {
    let batch = intake
        .get_batch(intake::GetBatchRequest {
            batch_id: batch_id.to_string(),
        })
        .await?
        .into_inner()
        .batch;
    match batch {
        Some(batch) if batch.bank_id == caller.org_id => Ok(batch),
        _ => Err(Error::not_found("batch", batch_id).into()),
    }
}

/// One door's trait impl: the forwarded calls written out, then each call whose backend is
/// not deployed yet as `method(Request) -> Response => Backend`.
macro_rules! door {
    (
        impl $trait:ident for $ty:ty, role $role:expr;
        { $($forward:tt)* }
        not_deployed { $($method:ident($req:ty) -> $res:ty => $backend:ident;)* }
    ) => {
        #[tonic::async_trait]
        impl $trait for $ty {
            $($forward)*
            $(
                async fn $method(
                    &self,
                    request: tonic::Request<$req>,
                ) -> Result<tonic::Response<$res>, tonic::Status> {
                    Err(self.ctx.refuse_not_deployed(
                        &request,
                        $role,
                        $crate::forward::Backend::$backend,
                    ))
                }
            )*
        }
    };
}
pub(crate) use door;
