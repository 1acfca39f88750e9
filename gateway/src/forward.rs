//! What every door shares: the authenticated call wrapper, the backend clients, tenancy
//! checks, stage records, streams passed through, and the honest answer for services that
//! are not deployed yet.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use sieve_kernel::error::{ERROR_DOMAIN, reason};
use sieve_kernel::internal::InternalChannel;
use sieve_kernel::lookup::{Batched, Limits};
use sieve_kernel::{Error, ErrorCode, SharedClock};
use sieve_proto::bad_debt_check::v1 as bdc;
use sieve_proto::bad_debt_check::v1::pre_check_service_client::PreCheckServiceClient;
use sieve_proto::bad_debt_check::v1::registry_service_client::RegistryServiceClient;
use sieve_proto::calendar::v1::calendar_service_client::CalendarServiceClient;
use sieve_proto::gateway::v1::StageRecords;
use sieve_proto::intake::v1 as intake;
use sieve_proto::intake::v1::intake_service_client::IntakeServiceClient;
use sieve_proto::preservation::v1 as preservation;
use sieve_proto::preservation::v1::preservation_service_client::PreservationServiceClient;
use tonic::{Code, Request, Response, Status, Streaming};
use tonic_types::{ErrorDetails, StatusExt};
use tracing::Instrument;

use crate::auth::{Caller, Gate};
use crate::token::Role;

/// Intake, reached over one lazily connected channel carrying the internal credential and
/// the request id.
pub type IntakeClient = IntakeServiceClient<InternalChannel>;
/// Bad-debt-check's two services, sharing one lazily connected channel.
pub type RegistryClient = RegistryServiceClient<InternalChannel>;
pub type PreCheckClient = PreCheckServiceClient<InternalChannel>;
/// A service keeping the court's calendar (`sieve.calendar.v1.CalendarService`).
pub type CalendarClient = CalendarServiceClient<InternalChannel>;
/// The preservation service.
pub type PreservationClient = PreservationServiceClient<InternalChannel>;

/// How long a dossier waits for a stage service's record before showing it as unavailable.
const STAGE_RECORD_WAIT: Duration = Duration::from_secs(3);

/// The gateway's lookups of cases and checks: the keys waiting when a call is free go in one
/// `BatchGet` call (at most 256, four calls at once). Concurrent lookups then cost the
/// backend one call between them, not one each: measured, the gateway's `GetCase` went from
/// 2,700–3,000 to 7,100–7,800 calls/s on one core (read path, BENCHMARKS.md).
const BACKEND_LOOKUPS: Limits = Limits {
    max_batch: 256,
    in_flight: 4,
    pad: false,
};

/// Cases by id, through intake's `BatchGetCases`.
pub type CaseLookup = Batched<intake::Case, Status>;
/// The latest check of each case, through the pre-check's `BatchGetChecks`.
pub type CheckLookup = Batched<bdc::Check, Status>;
/// The latest preservation of each case, through preservation's `BatchGetPreservations`.
pub type PreservationLookup = Batched<preservation::Preservation, Status>;

/// Spawns the gateway's case lookup on intake.
pub fn case_lookup(intake: &IntakeClient) -> CaseLookup {
    let client = intake.clone();
    Batched::spawn("case", BACKEND_LOOKUPS, move |case_ids| {
        let mut client = client.clone();
        async move {
            let cases = client
                .batch_get_cases(intake::BatchGetCasesRequest { case_ids })
                .await?
                .into_inner()
                .cases;
            Ok(cases.into_iter().map(|c| (c.case_id.clone(), c)).collect())
        }
    })
}

/// Stage records keyed by their case. A record that does not name its case answers no
/// lookup: the service broke its contract, which fails the call rather than passing as "no
/// record".
fn by_case<T>(
    records: Vec<T>,
    summary: impl Fn(&T) -> Option<&sieve_proto::common::v1::CaseSummary>,
    service: &str,
) -> Result<Vec<(String, T)>, Status> {
    records
        .into_iter()
        .map(|r| {
            let case_id = summary(&r)
                .and_then(|s| s.case_ref.as_ref())
                .map(|c| c.case_id.clone())
                .filter(|id| !id.is_empty())
                .ok_or_else(|| {
                    Status::internal(format!("{service} answered a record without its case"))
                })?;
            Ok((case_id, r))
        })
        .collect()
}

/// Spawns the gateway's check lookup on the pre-check.
pub fn check_lookup(pre_check: &PreCheckClient) -> CheckLookup {
    let client = pre_check.clone();
    Batched::spawn("check", BACKEND_LOOKUPS, move |case_ids| {
        let mut client = client.clone();
        async move {
            let checks = client
                .batch_get_checks(bdc::BatchGetChecksRequest { case_ids })
                .await?
                .into_inner()
                .checks;
            by_case(checks, |c| c.case_summary.as_ref(), "the pre-check")
        }
    })
}

/// Spawns the gateway's preservation lookup.
pub fn preservation_lookup(client: &PreservationClient) -> PreservationLookup {
    let client = client.clone();
    Batched::spawn("preservation", BACKEND_LOOKUPS, move |case_ids| {
        let mut client = client.clone();
        async move {
            let found = client
                .batch_get_preservations(preservation::BatchGetPreservationsRequest { case_ids })
                .await?
                .into_inner()
                .preservations;
            by_case(found, |p| p.case_summary.as_ref(), "preservation")
        }
    })
}

pub fn intake_client(channel: InternalChannel, max_message_bytes: usize) -> IntakeClient {
    IntakeServiceClient::new(channel)
        .max_decoding_message_size(max_message_bytes)
        .max_encoding_message_size(max_message_bytes)
}

pub fn registry_client(channel: InternalChannel, max_message_bytes: usize) -> RegistryClient {
    RegistryServiceClient::new(channel)
        .max_decoding_message_size(max_message_bytes)
        .max_encoding_message_size(max_message_bytes)
}

pub fn calendar_client(channel: InternalChannel, max_message_bytes: usize) -> CalendarClient {
    CalendarServiceClient::new(channel)
        .max_decoding_message_size(max_message_bytes)
        .max_encoding_message_size(max_message_bytes)
}

pub fn preservation_client(
    channel: InternalChannel,
    max_message_bytes: usize,
) -> PreservationClient {
    PreservationServiceClient::new(channel)
        .max_decoding_message_size(max_message_bytes)
        .max_encoding_message_size(max_message_bytes)
}

pub fn pre_check_client(channel: InternalChannel, max_message_bytes: usize) -> PreCheckClient {
    PreCheckServiceClient::new(channel)
        .max_decoding_message_size(max_message_bytes)
        .max_encoding_message_size(max_message_bytes)
}

/// Every internal service a door may call, one lazily connected client each (clients are
/// cheap to clone: they share their channel). A stage lands at the gateway by adding its
/// client here; every door's call gets all of them.
#[derive(Clone)]
pub struct Backends {
    pub intake: IntakeClient,
    /// A case by id, concurrent lookups sharing intake calls.
    pub cases: CaseLookup,
    pub registry: RegistryClient,
    pub pre_check: PreCheckClient,
    /// A case's latest check, concurrent lookups sharing pre-check calls.
    pub checks: CheckLookup,
    pub preservation: PreservationClient,
    /// A case's latest preservation, concurrent lookups sharing calls.
    pub preservations: PreservationLookup,
    /// Every service that keeps the court's calendar and counts periods with it, by name: a
    /// calendar the court loads goes to each.
    pub calendars: Vec<(&'static str, CalendarClient)>,
}

/// What each door holds: the gate, the backends and the suite's clock.
#[derive(Clone)]
pub struct Context {
    pub gate: Arc<Gate>,
    pub backends: Backends,
    /// The clock of the gateway's build context: in `sieve up`, the one every service reads.
    pub clock: SharedClock,
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
        F: FnOnce(Caller, Backends, T) -> Fut,
        Fut: Future<Output = Result<R, Status>>,
    {
        let caller = self.gate.authorize(&request, role).await?;
        let span = tracing::info_span!("caller", org_id = %caller.org_id, role = %caller.role);
        f(caller, self.backends.clone(), request.into_inner())
            .instrument(span)
            .await
            .map(Response::new)
    }

    /// Authorizes the call, then answers that its backing service is not deployed yet.
    pub async fn refuse_not_deployed<T>(
        &self,
        request: &Request<T>,
        role: Role,
        backend: Backend,
    ) -> Status {
        match self.gate.authorize(request, role).await {
            Ok(_) => not_deployed(backend),
            Err(status) => status,
        }
    }
}

/// The internal services behind the doors that do not run yet.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
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
        reason::SERVICE_NOT_DEPLOYED,
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
        reason::BANK_MISMATCH,
        format!("{field} must be the calling bank's own id, or empty"),
    )
    .with_violation(field, "not the calling bank")
    .into())
}

/// The case, if it is the calling bank's. Another bank's case answers NotFound, exactly as a
/// case that does not exist, so that ids of other banks' cases reveal nothing.
pub async fn own_case(
    cases: &CaseLookup,
    caller: &Caller,
    case_id: &str,
) -> Result<intake::Case, Status> {
    // Checked before the lookup: a bad id would fail the shared call for every caller in it.
    sieve_kernel::wire::require_id("case_id", case_id)?;
    match cases.get(case_id).await? {
        Some(case) if case.bank_id == caller.org_id => Ok(case),
        _ => Err(Error::not_found("case", case_id).into()),
    }
}

/// A door's inner request: a call that leaves it out is refused, not forwarded as an empty
/// request the backend would answer as if the caller had asked for defaults.
pub fn inner<T>(request: Option<T>) -> Result<T, Status> {
    request.ok_or_else(|| {
        Error::invalid_field(
            "request",
            "missing: send the backend's request in `request`",
        )
        .into()
    })
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
                    Err(self
                        .ctx
                        .refuse_not_deployed(&request, $role, $crate::forward::Backend::$backend)
                        .await)
                }
            )*
        }
    };
}
pub(crate) use door;

/// A caller's client stream, passed on message by message as it arrives (never buffered),
/// each message's inner request taken by `inner_of`. When the caller's stream breaks — or a
/// message leaves its inner request out, refused InvalidArgument naming the message rather
/// than forwarded empty, counting from `read` messages the door took first — the stream passed on never ends (so the service behind cannot
/// mistake it for a complete one) and the refusal arrives on the receiver: the forwarding
/// call should then be dropped, which resets the stream to the service, and that answered.
pub fn pass_through<T, U>(
    inbound: Streaming<T>,
    read: u64,
    inner_of: fn(T) -> Option<U>,
) -> (
    impl Stream<Item = U> + Send + 'static,
    tokio::sync::oneshot::Receiver<Status>,
)
where
    T: Send + 'static,
    U: Send + 'static,
{
    let (broken_tx, broken_rx) = tokio::sync::oneshot::channel::<Status>();
    let stream = futures::stream::unfold(
        (inbound, Some(broken_tx), read),
        move |(mut inbound, mut broken, seen)| async move {
            let refusal = match inbound.message().await {
                Ok(Some(message)) => match inner_of(message) {
                    Some(inner) => return Some((inner, (inbound, broken, seen + 1))),
                    None => Status::from(
                        Error::invalid_field(
                            "request",
                            "missing: send the backend's request in `request`",
                        )
                        .with_meta("message", (seen + 1).to_string()),
                    ),
                },
                Ok(None) => return None,
                Err(status) => status,
            };
            if let Some(tx) = broken.take() {
                let _ = tx.send(refusal);
            }
            std::future::pending::<Option<(U, (Streaming<T>, _, u64))>>().await
        },
    );
    (stream, broken_rx)
}

/// A stage service's record of a case: `Ok(None)` when it holds none, `Err(())` when it did
/// not answer in time or failed (logged).
async fn stage_record<T>(
    service: &'static str,
    lookup: impl Future<Output = Result<Option<T>, Status>>,
) -> Result<Option<T>, ()> {
    match tokio::time::timeout(STAGE_RECORD_WAIT, lookup).await {
        Ok(Ok(record)) => Ok(record),
        Ok(Err(status)) => {
            tracing::warn!(service, code = ?status.code(), "stage record unavailable");
            Err(())
        }
        Err(_) => {
            tracing::warn!(
                service,
                wait_ms = STAGE_RECORD_WAIT.as_millis() as u64,
                "stage record did not arrive in time"
            );
            Err(())
        }
    }
}

/// A call's answer, NotFound as `None`.
async fn found<T>(
    call: impl Future<Output = Result<Response<T>, Status>>,
) -> Result<Option<T>, Status> {
    match call.await {
        Ok(response) => Ok(Some(response.into_inner())),
        Err(status) if status.code() == Code::NotFound => Ok(None),
        Err(status) => Err(status),
    }
}

/// Every deployed stage service's record of `case_id`. A service that does not answer in time
/// is named in `unavailable_services` rather than failing the call.
///
/// The pre-check's certificate is asked for only when its check names one (a certificate is
/// issued on a check, and the check records it in the same transaction): most cases have
/// none, and a lookup then costs one call to the pre-check, not two.
pub async fn stage_records(backends: &Backends, case_id: &str) -> StageRecords {
    let mut records = StageRecords::default();
    // A bad id is refused by the case's own lookup; it must not fail the shared one.
    if sieve_kernel::wire::require_id("case_id", case_id).is_err() {
        return records;
    }
    let (check, preserved) = tokio::join!(
        stage_record("bad-debt-check", backends.checks.get(case_id)),
        stage_record("preservation", backends.preservations.get(case_id)),
    );
    match preserved {
        Ok(p) => records.preservation = p,
        Err(()) => records
            .unavailable_services
            .push("preservation".to_string()),
    }
    let check = match check {
        Ok(check) => check,
        Err(()) => {
            records
                .unavailable_services
                .push("bad-debt-check".to_string());
            return records;
        }
    };
    let certificate_id = check
        .as_ref()
        .map(|c| c.certificate_id.clone())
        .filter(|id| !id.is_empty());
    if let Some(id) = certificate_id {
        let mut client = backends.pre_check.clone();
        let certificate = stage_record(
            "bad-debt-check",
            found(client.get_certificate(bdc::GetCertificateRequest {
                key: Some(bdc::get_certificate_request::Key::CertificateId(id)),
            })),
        )
        .await;
        match certificate {
            Ok(certificate) => records.certificate = certificate.and_then(|c| c.certificate),
            Err(()) => {
                records
                    .unavailable_services
                    .push("bad-debt-check".to_string());
                return records;
            }
        }
    }
    records.check = check;
    records
}

/// The key a certificate was asked by, as the pre-check names it in NotFound.
fn certificate_key_text(key: Option<&bdc::get_certificate_request::Key>) -> String {
    use bdc::get_certificate_request::Key;
    match key {
        Some(Key::CertificateId(v) | Key::CaseId(v)) => v.clone(),
        Some(Key::CertificateNumber(v)) => v.trim().to_string(),
        None => String::new(),
    }
}

/// The certificate, if it was issued to the calling bank. Another bank's answers NotFound,
/// exactly as a certificate that does not exist.
pub async fn own_certificate(
    pre_check: &mut PreCheckClient,
    caller: &Caller,
    key: Option<bdc::get_certificate_request::Key>,
) -> Result<bdc::Certificate, Status> {
    let shown = certificate_key_text(key.as_ref());
    let certificate = pre_check
        .get_certificate(bdc::GetCertificateRequest { key })
        .await?
        .into_inner()
        .certificate;
    match certificate {
        Some(c) if c.bank_id == caller.org_id => Ok(c),
        _ => Err(Error::not_found("certificate", shown).into()),
    }
}

/// The caller's own preservation; another bank's is not found, as an unknown one.
pub async fn own_preservation(
    client: &mut PreservationClient,
    caller: &Caller,
    key: Option<preservation::get_preservation_request::Key>,
) -> Result<preservation::Preservation, Status> {
    use preservation::get_preservation_request::Key;
    let shown = match &key {
        Some(Key::PreservationId(id) | Key::CaseId(id) | Key::FreezeOrderId(id)) => id.clone(),
        None => String::new(),
    };
    let found = client
        .get_preservation(preservation::GetPreservationRequest { key })
        .await?
        .into_inner()
        .preservation;
    let bank = |p: &preservation::Preservation| {
        p.case_summary
            .as_ref()
            .and_then(|s| s.case_ref.as_ref())
            .map(|r| r.bank_id.clone())
    };
    match found {
        Some(p) if bank(&p).as_deref() == Some(caller.org_id.as_str()) => Ok(p),
        _ => Err(Error::not_found("preservation", shown).into()),
    }
}

/// A verification as anyone may see it: the certificate as issued and why it was revoked
/// only when the presented content is genuine (the holder then has all of it already);
/// otherwise the verdicts and the altered field names alone.
pub fn public_verification(
    mut answer: bdc::VerifyCertificateResponse,
) -> bdc::VerifyCertificateResponse {
    if !answer.genuine {
        answer.certificate = None;
        answer.revocation_reason.clear();
        answer.revoked_at = None;
    }
    answer
}
