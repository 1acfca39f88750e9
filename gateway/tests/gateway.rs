//! The gateway over real TCP in front of a real intake and bad-debt-check (fresh databases
//! per test): tokens, roles, tenancy between banks, streaming batches and rulings,
//! certificates, the public door and rate limits.

use sieve_e2e::{GATEWAY, INTAKE, PRE_CHECK, PRESERVATION, Spawn, Spawned};
use std::net::SocketAddr;

use sieve_gateway::token::{self, Claims, Role, SigningKey};
use sieve_kernel::Settings;
use sieve_kernel::error::reason;
use sieve_kernel::rules::resident_id::numbered as id_number;
use sieve_proto::gateway::v1::bank_api_service_client::BankApiServiceClient;
use sieve_proto::gateway::v1::court_api_service_client::CourtApiServiceClient;
use sieve_proto::gateway::v1::mediator_api_service_client::MediatorApiServiceClient;
use sieve_proto::gateway::v1::notary_api_service_client::NotaryApiServiceClient;
use sieve_proto::gateway::v1::*;
use sieve_proto::intake::v1 as pb;
use sieve_proto::intake::v1::submit_batch_request::Item;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};
use tonic_types::StatusExt;

struct Suite {
    gateway: SocketAddr,
    key: SigningKey,
    /// Intake, the pre-check and the gateway; dropping it stops them.
    _spawned: Spawned,
}

/// Intake, the pre-check and the gateway in front of them, each on an ephemeral port and a
/// fresh database.
async fn start(rate_limit_per_second: u32) -> Suite {
    start_on(rate_limit_per_second, sieve_kernel::clock::system()).await
}

/// As [`start`], every service reading `clock`.
async fn start_on(rate_limit_per_second: u32, clock: sieve_kernel::SharedClock) -> Suite {
    let key = SigningKey::generate("test");
    // A configured court key, so bad-debt-check writes no development key file.
    let court_key = sieve_bad_debt_check::domain::certificate::CourtKey::generate("court-test");
    let spawned = Spawn::suite()
        .configure(|settings| {
            settings.server.shutdown_grace_secs = 1;
            settings.set_service(
                "gateway",
                "signing_keys",
                sieve_kernel::config::Map::from_iter([(key.kid.clone(), key.secret_base64())]),
            );
            settings.set_service("gateway", "rate_limit_per_second", rate_limit_per_second);
            settings.set_service("bad_debt_check", "signing_key_id", court_key.key_id());
            settings.set_service(
                "bad_debt_check",
                "signing_key_secret",
                court_key.secret_base64(),
            );
        })
        .clock(clock)
        .start()
        .await;
    Suite {
        gateway: spawned.addr(GATEWAY),
        key,
        _spawned: spawned,
    }
}

impl Suite {
    fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.gateway))
            .unwrap()
            .connect_lazy()
    }
    fn bank_client(&self) -> BankApiServiceClient<Channel> {
        BankApiServiceClient::new(self.channel())
    }
    fn court_client(&self) -> CourtApiServiceClient<Channel> {
        CourtApiServiceClient::new(self.channel())
    }
    fn token(&self, org_id: &str, role: Role) -> String {
        token::mint(
            &self.key,
            &Claims {
                org_id: org_id.into(),
                role,
                exp: None,
            },
        )
    }
    fn court_token(&self) -> String {
        self.token(&court_name(), Role::Court)
    }

    async fn register_bank(&self, code: &str) -> String {
        let mut court = self.court_client();
        court
            .register_bank(authed(
                CourtApiServiceRegisterBankRequest {
                    request: Some(pb::RegisterBankRequest {
                        code: code.into(),
                        name: format!("{code} 银行"),
                        callback_phone: "0458-6123456".into(),
                    }),
                },
                &self.court_token(),
            ))
            .await
            .unwrap()
            .into_inner()
            .response
            .unwrap()
            .bank
            .unwrap()
            .bank_id
    }
}

/// The court the gateway serves, as its tokens name it.
fn court_name() -> String {
    Settings::defaults().expect("defaults").court.name
}

fn authed<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

fn reason(status: &Status) -> String {
    status
        .get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default()
}

fn case(prefix: &str, i: usize) -> pb::CaseInput {
    sieve_e2e::fixtures::case(prefix, i)
}

/// Submits `n` cases for the caller's bank (bank_id left empty) and returns their ids.
async fn submit_cases(suite: &Suite, token: &str, prefix: &str, n: usize) -> Vec<String> {
    let response = suite
        .bank_client()
        .submit_cases(authed(
            BankApiServiceSubmitCasesRequest {
                request: Some(pb::SubmitCasesRequest {
                    bank_id: String::new(),
                    request_id: format!("{prefix}-request"),
                    cases: (0..n).map(|i| case(prefix, i)).collect(),
                    label: prefix.into(),
                }),
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .response
        .unwrap();
    let ids: Vec<String> = response
        .rows
        .iter()
        .filter(|r| r.outcome == pb::RowOutcome::Accepted as i32)
        .map(|r| r.case_id.clone())
        .collect();
    assert_eq!(ids.len(), n, "{:?}", response.rows);
    ids
}

async fn list_bank_cases(suite: &Suite, token: &str) -> Vec<pb::Case> {
    suite
        .bank_client()
        .list_cases(authed(
            BankApiServiceListCasesRequest {
                request: Some(pb::ListCasesRequest::default()),
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .response
        .unwrap()
        .cases
}

#[tokio::test]
async fn callers_without_a_valid_token_or_of_the_wrong_role_are_refused() {
    let suite = start(200).await;
    let list_banks = || CourtApiServiceListBanksRequest {
        request: Some(pb::ListBanksRequest::default()),
    };
    let mut court = suite.court_client();

    let status = court.list_banks(list_banks()).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(reason(&status), reason::TOKEN_MISSING);

    let mut not_bearer = Request::new(list_banks());
    not_bearer
        .metadata_mut()
        .insert("authorization", "Basic dXNlcjpwdw==".parse().unwrap());
    let status = court.list_banks(not_bearer).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(reason(&status), reason::TOKEN_INVALID);

    // A bank token whose payload was rewritten to claim the court role.
    let bank_token = suite.token("bank-x", Role::Bank);
    let parts: Vec<&str> = bank_token.split('.').collect();
    let court_payload = suite.court_token().split('.').nth(2).unwrap().to_string();
    let tampered = format!("{}.{}.{}.{}", parts[0], parts[1], court_payload, parts[3]);
    let status = court
        .list_banks(authed(list_banks(), &tampered))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(reason(&status), reason::TOKEN_INVALID);

    let stranger = token::mint(
        &SigningKey::generate("test"),
        &Claims {
            org_id: court_name(),
            role: Role::Court,
            exp: None,
        },
    );
    let status = court
        .list_banks(authed(list_banks(), &stranger))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);

    let expired = token::mint(
        &suite.key,
        &Claims {
            org_id: court_name(),
            role: Role::Court,
            exp: Some(1_000_000_000),
        },
    );
    let status = court
        .list_banks(authed(list_banks(), &expired))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(reason(&status), reason::TOKEN_EXPIRED);

    let status = court
        .list_banks(authed(list_banks(), &bank_token))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(reason(&status), reason::WRONG_ROLE);

    let status = suite
        .bank_client()
        .list_cases(authed(
            BankApiServiceListCasesRequest {
                request: Some(Default::default()),
            },
            &suite.court_token(),
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);

    // The right token passes.
    court
        .list_banks(authed(list_banks(), &suite.court_token()))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_bank_sees_only_its_own_cases_and_the_court_sees_all() {
    let suite = start(200).await;
    let bank_a = suite.register_bank("BANK-A").await;
    let bank_b = suite.register_bank("BANK-B").await;
    let token_a = suite.token(&bank_a, Role::Bank);
    let token_b = suite.token(&bank_b, Role::Bank);

    let cases_a = submit_cases(&suite, &token_a, "A", 3).await;
    let cases_b = submit_cases(&suite, &token_b, "B", 2).await;

    let mut bank = suite.bank_client();
    let got = bank
        .get_case(authed(
            BankApiServiceGetCaseRequest {
                case_id: cases_a[0].clone(),
            },
            &token_a,
        ))
        .await
        .unwrap()
        .into_inner();
    let got_case = got.case.unwrap();
    assert_eq!(got_case.bank_id, bank_a);
    assert!(got.records.is_some());

    // Bank B asking about bank A's case learns nothing, not even that it exists.
    let missing = bank
        .get_case(authed(
            BankApiServiceGetCaseRequest {
                case_id: "no-such-case".into(),
            },
            &token_b,
        ))
        .await
        .unwrap_err();
    let foreign = bank
        .get_case(authed(
            BankApiServiceGetCaseRequest {
                case_id: cases_a[0].clone(),
            },
            &token_b,
        ))
        .await
        .unwrap_err();
    assert_eq!(foreign.code(), Code::NotFound);
    assert_eq!(missing.code(), Code::NotFound);
    assert_eq!(reason(&foreign), reason(&missing));
    let status = bank
        .get_timeline(authed(
            BankApiServiceGetTimelineRequest {
                request: Some(pb::GetTimelineRequest {
                    case_id: cases_a[0].clone(),
                }),
            },
            &token_b,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let status = bank
        .withdraw_case(authed(
            BankApiServiceWithdrawCaseRequest {
                request: Some(pb::WithdrawCaseRequest {
                    request_id: "w-1".into(),
                    case_id: cases_a[0].clone(),
                    reason: "not ours".into(),
                }),
            },
            &token_b,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let timeline = bank
        .get_timeline(authed(
            BankApiServiceGetTimelineRequest {
                request: Some(pb::GetTimelineRequest {
                    case_id: cases_a[0].clone(),
                }),
            },
            &token_a,
        ))
        .await
        .unwrap()
        .into_inner()
        .response
        .unwrap();
    assert!(!timeline.events.is_empty());

    // Batches are tenanted the same way.
    let batch_a = got_case.batch_id;
    let status = bank
        .get_batch(authed(
            BankApiServiceGetBatchRequest {
                request: Some(pb::GetBatchRequest {
                    batch_id: batch_a.clone(),
                }),
            },
            &token_b,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let status = bank
        .list_batch_rows(authed(
            BankApiServiceListBatchRowsRequest {
                request: Some(pb::ListBatchRowsRequest {
                    batch_id: batch_a.clone(),
                    ..Default::default()
                }),
            },
            &token_b,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let rows = bank
        .list_batch_rows(authed(
            BankApiServiceListBatchRowsRequest {
                request: Some(pb::ListBatchRowsRequest {
                    batch_id: batch_a,
                    ..Default::default()
                }),
            },
            &token_a,
        ))
        .await
        .unwrap()
        .into_inner()
        .response
        .unwrap();
    assert_eq!(rows.rows.len(), 3);

    let listed_b = list_bank_cases(&suite, &token_b).await;
    let mut ids_b: Vec<String> = listed_b.iter().map(|c| c.case_id.clone()).collect();
    ids_b.sort();
    let mut expected_b = cases_b.clone();
    expected_b.sort();
    assert_eq!(ids_b, expected_b);
    assert!(listed_b.iter().all(|c| c.bank_id == bank_b));

    // Naming another bank is refused outright.
    let status = bank
        .list_cases(authed(
            BankApiServiceListCasesRequest {
                request: Some(pb::ListCasesRequest {
                    bank_id: bank_a.clone(),
                    ..Default::default()
                }),
            },
            &token_b,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = bank
        .submit_cases(authed(
            BankApiServiceSubmitCasesRequest {
                request: Some(pb::SubmitCasesRequest {
                    bank_id: bank_a.clone(),
                    request_id: "B-as-A".into(),
                    cases: vec![case("BA", 0)],
                    label: String::new(),
                }),
            },
            &token_b,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(reason(&status), reason::BANK_MISMATCH);

    // The court sees every bank's cases, and a dossier assembled from intake.
    let mut court = suite.court_client();
    let all = court
        .list_cases(authed(
            CourtApiServiceListCasesRequest {
                request: Some(pb::ListCasesRequest::default()),
            },
            &suite.court_token(),
        ))
        .await
        .unwrap()
        .into_inner()
        .response
        .unwrap()
        .cases;
    assert_eq!(all.len(), 5);
    assert!(all.iter().any(|c| c.bank_id == bank_a));
    assert!(all.iter().any(|c| c.bank_id == bank_b));
    let dossier = court
        .get_case_dossier(authed(
            CourtApiServiceGetCaseDossierRequest {
                case_id: cases_b[0].clone(),
            },
            &suite.court_token(),
        ))
        .await
        .unwrap()
        .into_inner()
        .dossier
        .unwrap();
    assert_eq!(dossier.case.unwrap().case_id, cases_b[0]);
    assert!(!dossier.timeline.is_empty());
    assert!(dossier.assembled_at.is_some());
    let status = court
        .get_case_dossier(authed(
            CourtApiServiceGetCaseDossierRequest {
                case_id: "no-such-case".into(),
            },
            &suite.court_token(),
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);

    // Intake's own refusals pass through unchanged, details included.
    let status = bank
        .report_settlement(authed(
            BankApiServiceReportSettlementRequest {
                request: Some(pb::ReportSettlementRequest {
                    request_id: String::new(),
                    case_id: cases_a[1].clone(),
                    paid_fen: -5,
                    paid_at: None,
                }),
            },
            &token_a,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(!reason(&status).is_empty());
}

fn batch_stream(
    bank_id: &str,
    request_id: &str,
    n: usize,
    chunk: usize,
) -> impl tokio_stream::Stream<Item = BankApiServiceSubmitBatchRequest> + Send + 'static {
    let header = pb::SubmitBatchRequest {
        item: Some(Item::Header(pb::BatchHeader {
            bank_id: bank_id.into(),
            request_id: request_id.into(),
            expected_cases: n as i64,
            label: "gateway-batch.csv".into(),
        })),
    };
    let chunks = (0..n)
        .step_by(chunk)
        .map(move |start| pb::SubmitBatchRequest {
            item: Some(Item::Chunk(pb::CaseChunk {
                cases: (start..(start + chunk).min(n))
                    .map(|i| case("BATCH", i))
                    .collect(),
            })),
        });
    tokio_stream::iter(
        std::iter::once(header)
            .chain(chunks)
            .map(|r| BankApiServiceSubmitBatchRequest { request: Some(r) }),
    )
}

#[tokio::test]
async fn a_batch_streams_through_the_gateway() {
    let suite = start(200).await;
    let bank_a = suite.register_bank("BANK-A").await;
    let bank_b = suite.register_bank("BANK-B").await;
    let token_a = suite.token(&bank_a, Role::Bank);
    let mut bank = suite.bank_client();

    // The header's empty bank_id is filled from the token.
    let answer = bank
        .submit_batch(authed(batch_stream("", "stream-1", 2_500, 500), &token_a))
        .await
        .unwrap()
        .into_inner()
        .response
        .unwrap();
    let batch = answer.batch.unwrap();
    assert_eq!(batch.bank_id, bank_a);
    assert_eq!(batch.status, pb::BatchStatus::Completed as i32);
    assert_eq!(batch.received_cases, 2_500);
    assert_eq!(batch.accepted_cases, 2_500, "{:?}", answer.refusals);
    assert!(answer.refusals.is_empty());

    let fetched = bank
        .get_batch(authed(
            BankApiServiceGetBatchRequest {
                request: Some(pb::GetBatchRequest {
                    batch_id: batch.batch_id.clone(),
                }),
            },
            &token_a,
        ))
        .await
        .unwrap()
        .into_inner()
        .response
        .unwrap()
        .batch
        .unwrap();
    assert_eq!(fetched.accepted_cases, 2_500);

    // Another bank's id in the header is refused before anything reaches intake.
    let status = bank
        .submit_batch(authed(batch_stream(&bank_b, "stream-2", 10, 5), &token_a))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(reason(&status), reason::BANK_MISMATCH);

    // Chunks before the header are refused too.
    let headless = tokio_stream::iter(vec![BankApiServiceSubmitBatchRequest {
        request: Some(pb::SubmitBatchRequest {
            item: Some(Item::Chunk(pb::CaseChunk {
                cases: vec![case("H", 0)],
            })),
        }),
    }]);
    let status = bank
        .submit_batch(authed(headless, &token_a))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(reason(&status), reason::HEADER_FIRST);

    // Intake's batch rules still apply through the gateway: fewer cases than declared.
    let status = bank
        .submit_batch(authed(
            tokio_stream::StreamExt::take(batch_stream("", "stream-3", 10, 5), 2),
            &token_a,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");

    // A message that leaves its inner request out is refused, naming it, not passed on empty.
    let gap = tokio_stream::StreamExt::map(batch_stream("", "stream-4", 10, 5), |mut m| {
        if matches!(&m.request, Some(r) if matches!(&r.item, Some(Item::Chunk(c)) if c.cases[0].bank_case_ref.ends_with("-0000005")))
        {
            m.request = None;
        }
        m
    });
    let status = bank.submit_batch(authed(gap, &token_a)).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(reason(&status), reason::INVALID_FIELD);
    let details = status.get_error_details();
    let fields: Vec<String> = details
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default();
    assert_eq!(fields, ["request"]);
    assert_eq!(
        details
            .error_info()
            .and_then(|i| i.metadata.get("message").cloned()),
        Some("3".to_string()),
        "the header, one chunk, then the third message"
    );
}

#[tokio::test]
async fn each_organisation_is_held_to_its_rate_limit() {
    let suite = start(3).await;
    // One of the court's three calls.
    let bank = suite.register_bank("RATE").await;
    let bank_token = suite.token(&bank, Role::Bank);
    let mut banks = suite.bank_client();
    let list_cases = || BankApiServiceListCasesRequest {
        request: Some(Default::default()),
    };
    for _ in 0..3 {
        banks
            .list_cases(authed(list_cases(), &bank_token))
            .await
            .unwrap();
    }
    let status = banks
        .list_cases(authed(list_cases(), &bank_token))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert_eq!(reason(&status), reason::RATE_LIMITED);
    assert!(status.get_error_details().retry_info().is_some());

    // Another organisation has its own allowance.
    suite
        .court_client()
        .list_banks(authed(
            CourtApiServiceListBanksRequest {
                request: Some(Default::default()),
            },
            &suite.court_token(),
        ))
        .await
        .unwrap();

    // The allowance refills.
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    banks
        .list_cases(authed(list_cases(), &bank_token))
        .await
        .unwrap();
}

#[tokio::test]
async fn signed_tokens_of_unknown_organisations_or_another_court_are_refused() {
    let suite = start(200).await;
    // Signed by the gateway's own key, for a bank that was never registered.
    let status = suite
        .bank_client()
        .list_cases(authed(
            BankApiServiceListCasesRequest {
                request: Some(Default::default()),
            },
            &suite.token("no-such-bank", Role::Bank),
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_eq!(reason(&status), reason::UNKNOWN_ORGANISATION);
    // Signed by the same key, naming another court.
    let status = suite
        .court_client()
        .list_banks(authed(
            CourtApiServiceListBanksRequest {
                request: Some(Default::default()),
            },
            &suite.token("黑0721 另一法院", Role::Court),
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_eq!(reason(&status), reason::OTHER_COURT);
    // A registered bank and this court pass, the bank also on its second call (remembered).
    let bank = suite.register_bank("KNOWN").await;
    for _ in 0..2 {
        suite
            .bank_client()
            .list_cases(authed(
                BankApiServiceListCasesRequest {
                    request: Some(Default::default()),
                },
                &suite.token(&bank, Role::Bank),
            ))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_door_call_without_its_inner_request_is_refused_not_forwarded_empty() {
    let suite = start(200).await;
    let bank = suite.register_bank("INNER").await;
    let status = suite
        .bank_client()
        .list_cases(authed(
            BankApiServiceListCasesRequest { request: None },
            &suite.token(&bank, Role::Bank),
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(reason(&status), reason::INVALID_FIELD);
    let fields: Vec<String> = status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default();
    assert_eq!(fields, ["request"]);
    let status = suite
        .court_client()
        .list_banks(authed(
            CourtApiServiceListBanksRequest { request: None },
            &suite.court_token(),
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
}

#[tokio::test]
async fn calls_of_services_not_deployed_yet_say_so() {
    let suite = start(200).await;
    let expect = |status: Status, service: &str| {
        assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
        assert!(status.message().contains(service), "{status:?}");
        assert_eq!(reason(&status), reason::SERVICE_NOT_DEPLOYED);
    };
    let bank = suite.register_bank("LATER").await;
    let bank_token = suite.token(&bank, Role::Bank);
    let status = suite
        .bank_client()
        .file_cases(authed(
            BankApiServiceFileCasesRequest::default(),
            &bank_token,
        ))
        .await
        .unwrap_err();
    expect(status, "adjudication");
    let status = suite
        .court_client()
        .get_funnel(authed(
            CourtApiServiceGetFunnelRequest::default(),
            &suite.court_token(),
        ))
        .await
        .unwrap_err();
    expect(status, "funnel");
    let status = NotaryApiServiceClient::new(suite.channel())
        .list_notarizations(authed(
            NotaryApiServiceListNotarizationsRequest::default(),
            &suite.token("notary-1", Role::Notary),
        ))
        .await
        .unwrap_err();
    expect(status, "notarization");
    let status = MediatorApiServiceClient::new(suite.channel())
        .record_session(authed(
            MediatorApiServiceRecordSessionRequest::default(),
            &suite.token("mediation-1", Role::Mediator),
        ))
        .await
        .unwrap_err();
    expect(status, "mediation");

    // Still behind the gate: no token, no answer about deployment.
    let status = suite
        .bank_client()
        .file_cases(BankApiServiceFileCasesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn the_development_key_is_used_when_none_is_configured() {
    // No signing key configured; no service behind it.
    let gateway = Spawn::new(&[GATEWAY])
        .peer(INTAKE, "http://127.0.0.1:1")
        .peer(PRE_CHECK, "http://127.0.0.1:1")
        .peer(PRESERVATION, "http://127.0.0.1:1")
        .start()
        .await;
    let addr = gateway.addr(GATEWAY);
    let key = token::dev_key(gateway.data_dir()).unwrap();
    let court_token = token::mint(
        &key,
        &Claims {
            org_id: court_name(),
            role: Role::Court,
            exp: None,
        },
    );
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_lazy();
    // Authenticated, so the call reaches the (deliberately absent) intake: Unavailable.
    let status = CourtApiServiceClient::new(channel)
        .list_banks(authed(
            CourtApiServiceListBanksRequest {
                request: Some(Default::default()),
            },
            &court_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    gateway.stop().await;
}

use sieve_proto::bad_debt_check::v1 as bdc;
use sieve_proto::common::v1::{Court, Date, RowOutcome, Stage};
use sieve_proto::gateway::v1::public_api_service_client::PublicApiServiceClient;

fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

/// A ruling for the debtor of `case(_, i)`: filed 2024-01-10, terminated 2024-06-20.
fn ruling(number: &str, i: usize, revoked: bool, row: i64) -> bdc::RulingInput {
    bdc::RulingInput {
        row,
        ..sieve_e2e::fixtures::ruling(number, "王芳", &id_number(i), revoked)
    }
}

fn import_stream(
    request_id: &str,
    expected: i64,
    rulings: Vec<bdc::RulingInput>,
) -> impl tokio_stream::Stream<Item = CourtApiServiceImportRulingsRequest> + Send + 'static {
    use bdc::import_rulings_request::Item as RulingItem;
    let header = bdc::ImportRulingsRequest {
        item: Some(RulingItem::Header(bdc::ImportHeader {
            request_id: request_id.into(),
            source_court: Some(Court {
                code: "黑0722".into(),
                name: "嘉荫县人民法院".into(),
            }),
            expected_rulings: expected,
            label: "gateway-rulings.csv".into(),
        })),
    };
    let chunk = bdc::ImportRulingsRequest {
        item: Some(RulingItem::Chunk(bdc::RulingChunk { rulings })),
    };
    tokio_stream::iter(
        [header, chunk]
            .into_iter()
            .map(|r| CourtApiServiceImportRulingsRequest { request: Some(r) }),
    )
}

impl Suite {
    fn public_client(&self) -> PublicApiServiceClient<Channel> {
        PublicApiServiceClient::new(self.channel())
    }

    async fn import(
        &self,
        request_id: &str,
        rulings: Vec<bdc::RulingInput>,
    ) -> Result<bdc::ImportRulingsResponse, Status> {
        let n = rulings.len() as i64;
        self.court_client()
            .import_rulings(authed(
                import_stream(request_id, n, rulings),
                &self.court_token(),
            ))
            .await
            .map(|r| r.into_inner().response.unwrap())
    }

    /// Polls the case (as its bank) until it reaches `stage`; the outbox relays move it.
    async fn wait_for_stage(&self, token: &str, case_id: &str, stage: Stage) -> pb::Case {
        let what = format!("case {case_id} reaches {stage:?}");
        sieve_e2e::eventually(&what, || async {
            let case = self
                .bank_client()
                .get_case(authed(
                    BankApiServiceGetCaseRequest {
                        case_id: case_id.into(),
                    },
                    token,
                ))
                .await
                .unwrap()
                .into_inner()
                .case
                .unwrap();
            if case.stage == stage as i32 {
                Ok(case)
            } else {
                Err(Stage::try_from(case.stage))
            }
        })
        .await
    }
}

fn verify_request(
    proof: &sieve_bad_debt_check::domain::certificate::DocumentProof,
) -> bdc::VerifyCertificateRequest {
    bdc::VerifyCertificateRequest {
        certificate_number: proof.number.clone(),
        content: proof.content.clone(),
        signature: proof.signature.clone(),
        key_id: proof.key_id.clone(),
    }
}

#[tokio::test]
async fn rulings_stream_through_the_court_door() {
    let suite = start(200).await;
    let mut rulings = vec![
        ruling("(2024)黑0722执300号之一", 0, false, 1),
        ruling("(2024)黑0722执301号之一", 1, true, 2),
    ];
    let mut too_soon = ruling("(2025)黑0722执88号之一", 2, false, 3);
    too_soon.enforcement_filed_on = date(2025, 3, 1);
    too_soon.terminated_on = date(2025, 4, 15);
    rulings.push(too_soon);

    let answer = suite.import("rulings-1", rulings.clone()).await.unwrap();
    let import = answer.ruling_import.unwrap();
    assert!(!answer.replayed);
    assert_eq!(import.status, bdc::ImportStatus::Completed as i32);
    assert_eq!(
        (import.added_rulings, import.refused_rulings),
        (2, 1),
        "{:?}",
        answer.refusals
    );
    assert_eq!(answer.refusals.len(), 1);
    assert_eq!(answer.refusals[0].row, 3);
    assert_eq!(answer.refusals[0].rule, "ruling.three_months");

    // The same key replays; the refusals page through the gateway too.
    let replay = suite.import("rulings-1", rulings).await.unwrap();
    assert!(replay.replayed);
    assert_eq!(replay.ruling_import.unwrap().import_id, import.import_id);
    let page = suite
        .court_client()
        .list_import_refusals(authed(
            CourtApiServiceListImportRefusalsRequest {
                request: Some(bdc::ListImportRefusalsRequest {
                    import_id: import.import_id.clone(),
                    page: None,
                }),
            },
            &suite.court_token(),
        ))
        .await
        .unwrap()
        .into_inner()
        .response
        .unwrap();
    assert_eq!(page.refusals.len(), 1);

    let got = suite
        .court_client()
        .get_ruling(authed(
            CourtApiServiceGetRulingRequest {
                request: Some(bdc::GetRulingRequest {
                    key: Some(bdc::get_ruling_request::Key::RulingNumber(
                        "(2024)黑0722执301号之一".into(),
                    )),
                }),
            },
            &suite.court_token(),
        ))
        .await
        .unwrap()
        .into_inner()
        .response
        .unwrap()
        .ruling
        .unwrap();
    assert_eq!(got.status, bdc::RulingStatus::Revoked as i32);

    // The registry's own refusals pass through: a chunk before the header.
    let headless = tokio_stream::iter(vec![CourtApiServiceImportRulingsRequest {
        request: Some(bdc::ImportRulingsRequest {
            item: Some(bdc::import_rulings_request::Item::Chunk(bdc::RulingChunk {
                rulings: vec![ruling("(2024)黑0722执1号", 0, false, 1)],
            })),
        }),
    }]);
    let status = suite
        .court_client()
        .import_rulings(authed(headless, &suite.court_token()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(reason(&status), reason::HEADER_FIRST);

    // Only the court imports.
    let status = suite
        .court_client()
        .import_rulings(authed(
            import_stream(
                "rulings-2",
                1,
                vec![ruling("(2024)黑0722执2号", 0, false, 1)],
            ),
            &suite.token("bank-x", Role::Bank),
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(reason(&status), reason::WRONG_ROLE);
}

#[tokio::test]
async fn certificates_are_issued_to_and_seen_by_their_own_bank() {
    let suite = start(200).await;
    let bank_a = suite.register_bank("BANK-A").await;
    let bank_b = suite.register_bank("BANK-B").await;
    let token_a = suite.token(&bank_a, Role::Bank);
    let token_b = suite.token(&bank_b, Role::Bank);
    let court = suite.court_token();

    // Debtor 0 has a standing ruling, debtor 1 a revoked one, debtor 2 none.
    let imported = suite
        .import(
            "rulings-cert",
            vec![
                ruling("(2024)黑0722执300号之一", 0, false, 1),
                ruling("(2024)黑0722执301号之一", 1, true, 2),
            ],
        )
        .await
        .unwrap();
    assert_eq!(imported.ruling_import.unwrap().added_rulings, 2);
    let cases = submit_cases(&suite, &token_a, "A", 3).await;
    suite
        .wait_for_stage(&token_a, &cases[0], Stage::Certifiable)
        .await;
    suite
        .wait_for_stage(&token_a, &cases[1], Stage::Preservation)
        .await;
    suite
        .wait_for_stage(&token_a, &cases[2], Stage::Preservation)
        .await;

    let apply = |bank_id: &str, case_ids: Vec<String>, request_id: &str| {
        BankApiServiceApplyCertificatesRequest {
            request: Some(bdc::ApplyCertificatesRequest {
                request_id: request_id.into(),
                bank_id: bank_id.into(),
                case_ids,
            }),
        }
    };
    let mut bank = suite.bank_client();

    // Bank B cannot apply in bank A's name, nor for bank A's case in its own.
    let status = bank
        .apply_certificates(authed(
            apply(&bank_a, vec![cases[0].clone()], "b-1"),
            &token_b,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(reason(&status), reason::BANK_MISMATCH);
    let rows = bank
        .apply_certificates(authed(apply("", vec![cases[0].clone()], "b-2"), &token_b))
        .await
        .unwrap()
        .into_inner()
        .response
        .unwrap()
        .rows;
    assert_eq!(rows[0].outcome, RowOutcome::Refused as i32);
    assert_eq!(rows[0].refusals[0].rule, "pre_check.not_checked");

    // Bank A gets a certificate for the matched case, a refusal for the unmatched one.
    let rows = bank
        .apply_certificates(authed(
            apply("", vec![cases[0].clone(), cases[1].clone()], "a-1"),
            &token_a,
        ))
        .await
        .unwrap()
        .into_inner()
        .response
        .unwrap()
        .rows;
    assert_eq!(rows[0].outcome, RowOutcome::Accepted as i32, "{rows:?}");
    let certificate = rows[0].certificate.clone().unwrap();
    assert_eq!(certificate.bank_id, bank_a);
    assert!(
        certificate.certificate_number.contains("黑0722预查废第"),
        "{}",
        certificate.certificate_number
    );
    assert_eq!(rows[1].outcome, RowOutcome::Refused as i32);
    assert_eq!(rows[1].refusals[0].rule, "pre_check.no_match");
    suite
        .wait_for_stage(&token_a, &cases[0], Stage::Certified)
        .await;

    // Another bank's certificate is unknown to bank B, whichever key it asks by.
    use bdc::get_certificate_request::Key;
    let get = |key: Key| BankApiServiceGetCertificateRequest {
        request: Some(bdc::GetCertificateRequest { key: Some(key) }),
    };
    let unknown = bank
        .get_certificate(authed(get(Key::CertificateId("nope".into())), &token_b))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    for key in [
        Key::CertificateId(certificate.certificate_id.clone()),
        Key::CertificateNumber(certificate.certificate_number.clone()),
        Key::CaseId(cases[0].clone()),
    ] {
        let status = bank
            .get_certificate(authed(get(key.clone()), &token_b))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::NotFound, "{key:?}");
        assert_eq!(reason(&status), reason(&unknown));
        let own = bank
            .get_certificate(authed(get(key), &token_a))
            .await
            .unwrap()
            .into_inner()
            .response
            .unwrap()
            .certificate
            .unwrap();
        assert_eq!(own.certificate_id, certificate.certificate_id);
    }
    let document_request = || BankApiServiceGetCertificateDocumentRequest {
        request: Some(bdc::GetCertificateDocumentRequest {
            key: Some(
                bdc::get_certificate_document_request::Key::CertificateNumber(
                    certificate.certificate_number.clone(),
                ),
            ),
        }),
    };
    let status = bank
        .get_certificate_document(authed(document_request(), &token_b))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let document = bank
        .get_certificate_document(authed(document_request(), &token_a))
        .await
        .unwrap()
        .into_inner()
        .response
        .unwrap();
    assert!(document.file_name.ends_with(".html"));
    let proof = sieve_bad_debt_check::domain::certificate::read_document(&document.html).unwrap();
    assert_eq!(proof.number, certificate.certificate_number);

    // Anyone may verify; the certificate itself only comes back for genuine content (or to
    // its own bank).
    let verdict = suite
        .public_client()
        .verify_certificate(PublicApiServiceVerifyCertificateRequest {
            request: Some(verify_request(&proof)),
        })
        .await
        .unwrap()
        .into_inner()
        .response
        .unwrap();
    assert!(verdict.genuine && verdict.unaltered && !verdict.revoked);
    assert!(verdict.certificate.is_some());
    let mut forged = verify_request(&proof);
    let text = String::from_utf8(forged.content.clone()).unwrap();
    forged.content = text
        .replace("principal_fen=1000000", "principal_fen=9000000")
        .into_bytes();
    assert_ne!(forged.content, proof.content);
    let verdict = suite
        .public_client()
        .verify_certificate(PublicApiServiceVerifyCertificateRequest {
            request: Some(forged.clone()),
        })
        .await
        .unwrap()
        .into_inner()
        .response
        .unwrap();
    assert!(!verdict.genuine && !verdict.unaltered);
    assert_eq!(verdict.altered_fields, ["principal_fen"]);
    assert!(
        verdict.certificate.is_none(),
        "no debtor data for a forgery"
    );
    let verify = |request: bdc::VerifyCertificateRequest| BankApiServiceVerifyCertificateRequest {
        request: Some(request),
    };
    let for_b = bank
        .verify_certificate(authed(verify(forged.clone()), &token_b))
        .await
        .unwrap()
        .into_inner()
        .response
        .unwrap();
    assert!(for_b.certificate.is_none());
    let for_a = bank
        .verify_certificate(authed(verify(forged), &token_a))
        .await
        .unwrap()
        .into_inner()
        .response
        .unwrap();
    assert!(
        for_a.certificate.is_some(),
        "a bank sees its own certificate"
    );

    // The court sees it all: the dossier carries the check and the certificate.
    let dossier = suite
        .court_client()
        .get_case_dossier(authed(
            CourtApiServiceGetCaseDossierRequest {
                case_id: cases[0].clone(),
            },
            &court,
        ))
        .await
        .unwrap()
        .into_inner()
        .dossier
        .unwrap();
    let records = dossier.records.unwrap();
    assert!(records.unavailable_services.is_empty());
    let check = records.check.unwrap();
    assert_eq!(check.outcome, bdc::CheckOutcome::Matched as i32);
    assert_eq!(check.matches[0].ruling_number, "(2024)黑0722执300号之一");
    assert_eq!(
        records.certificate.unwrap().certificate_number,
        certificate.certificate_number
    );
    let no_match = suite
        .court_client()
        .get_case_dossier(authed(
            CourtApiServiceGetCaseDossierRequest {
                case_id: cases[2].clone(),
            },
            &court,
        ))
        .await
        .unwrap()
        .into_inner()
        .dossier
        .unwrap()
        .records
        .unwrap();
    assert_eq!(
        no_match.check.unwrap().outcome,
        bdc::CheckOutcome::NoMatch as i32
    );
    assert!(no_match.certificate.is_none());
    let court_copy = suite
        .court_client()
        .get_certificate_document(authed(
            CourtApiServiceGetCertificateDocumentRequest {
                request: Some(bdc::GetCertificateDocumentRequest {
                    key: Some(bdc::get_certificate_document_request::Key::CertificateId(
                        certificate.certificate_id.clone(),
                    )),
                }),
            },
            &court,
        ))
        .await
        .unwrap()
        .into_inner()
        .response
        .unwrap();
    assert_eq!(court_copy.file_name, document.file_name);

    // Enforcement resumes: the certificate verifies as revoked.
    let revoked = suite
        .court_client()
        .revoke_ruling(authed(
            CourtApiServiceRevokeRulingRequest {
                request: Some(bdc::RevokeRulingRequest {
                    request_id: "revoke-1".into(),
                    ruling_number: "(2024)黑0722执300号之一".into(),
                    reason: "发现财产 / property found".into(),
                    resumed_case_number: "(2026)黑0722执恢1号".into(),
                }),
            },
            &court,
        ))
        .await
        .unwrap()
        .into_inner()
        .response
        .unwrap();
    assert_eq!(
        revoked.revoked_certificate_numbers,
        std::slice::from_ref(&certificate.certificate_number)
    );
    let verdict = suite
        .court_client()
        .verify_certificate(authed(
            CourtApiServiceVerifyCertificateRequest {
                request: Some(verify_request(&proof)),
            },
            &court,
        ))
        .await
        .unwrap()
        .into_inner()
        .response
        .unwrap();
    assert!(verdict.genuine && verdict.unaltered && verdict.revoked);

    // The bank's view of its case carries the stage records too.
    let got = bank
        .get_case(authed(
            BankApiServiceGetCaseRequest {
                case_id: cases[0].clone(),
            },
            &token_a,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(got.records.unwrap().certificate.is_some());
}

#[tokio::test]
async fn the_public_door_needs_no_token_and_limits_each_address() {
    let suite = start(3).await;
    let mut public = suite.public_client();
    let unknown = || PublicApiServiceVerifyCertificateRequest {
        request: Some(bdc::VerifyCertificateRequest {
            certificate_number: "(2026)黑0722预查废第999999号".into(),
            content: b"sieve-certificate-v1\n".to_vec(),
            signature: vec![0; 64],
            key_id: String::new(),
        }),
    };
    for _ in 0..3 {
        let verdict = public
            .verify_certificate(unknown())
            .await
            .unwrap()
            .into_inner()
            .response
            .unwrap();
        assert!(!verdict.genuine && !verdict.unaltered);
        assert!(verdict.certificate.is_none());
    }
    let status = public.verify_certificate(unknown()).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert_eq!(reason(&status), reason::RATE_LIMITED);

    // Organisations keep their own allowance.
    suite
        .court_client()
        .list_banks(authed(
            CourtApiServiceListBanksRequest {
                request: Some(Default::default()),
            },
            &suite.court_token(),
        ))
        .await
        .unwrap();
}

fn field_violations(status: &Status) -> Vec<String> {
    status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}

fn advance_by(seconds: i64, nanos: i32) -> CourtApiServiceAdvanceClockRequest {
    CourtApiServiceAdvanceClockRequest {
        duration: Some(prost_types::Duration { seconds, nanos }),
    }
}

#[tokio::test]
async fn the_court_moves_a_manual_clock_and_every_caller_reads_it() {
    use chrono::TimeZone;
    // 09:00 Beijing time, Monday 2026-09-07.
    let start = chrono::Utc.with_ymd_and_hms(2026, 9, 7, 1, 0, 0).unwrap();
    let clock = sieve_kernel::clock::manual(start);
    let suite = start_on(200, clock.clone()).await;
    let mut court = suite.court_client();
    let shown = court
        .get_clock(authed(
            CourtApiServiceGetClockRequest {},
            &suite.court_token(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(shown.manual);
    assert_eq!(shown.now.unwrap().seconds, start.timestamp());

    let moved = court
        .advance_clock(authed(advance_by(31 * 86_400, 0), &suite.court_token()))
        .await
        .unwrap()
        .into_inner();
    let later = start + chrono::Duration::days(31);
    assert!(moved.manual);
    assert_eq!(moved.now.unwrap().seconds, later.timestamp());
    assert_eq!(
        clock.now(),
        later,
        "the clock the services were built with moved"
    );
    let shown = court
        .get_clock(authed(
            CourtApiServiceGetClockRequest {},
            &suite.court_token(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(shown.now.unwrap().seconds, later.timestamp());

    // Intake reads the same clock: a case admitted now carries the new time.
    let bank = suite.register_bank("CLOCK").await;
    let bank_token = suite.token(&bank, Role::Bank);
    submit_cases(&suite, &bank_token, "clock", 1).await;
    let case = list_bank_cases(&suite, &bank_token).await.remove(0);
    assert_eq!(case.submitted_at.unwrap().seconds, later.timestamp());

    // Only the court moves it.
    let status = court
        .advance_clock(authed(advance_by(60, 0), &bank_token))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert_eq!(reason(&status), reason::WRONG_ROLE);
    let status = court
        .get_clock(authed(CourtApiServiceGetClockRequest {}, &bank_token))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    let status = court.advance_clock(advance_by(60, 0)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");

    // Backwards, not at all, beyond ten years, or malformed: refused, naming the field.
    for bad in [
        CourtApiServiceAdvanceClockRequest { duration: None },
        advance_by(0, 0),
        advance_by(-86_400, 0),
        advance_by(0, -1),
        advance_by(1, 2_000_000_000),
        advance_by(3651 * 86_400, 0),
    ] {
        let status = court
            .advance_clock(authed(bad, &suite.court_token()))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{bad:?}: {status:?}");
        assert_eq!(reason(&status), reason::INVALID_FIELD);
        assert_eq!(field_violations(&status), ["duration"], "{bad:?}");
    }
    assert_eq!(clock.now(), later, "no refused move moved it");
}

#[tokio::test]
async fn the_system_clock_is_shown_but_not_moved() {
    let suite = start(200).await;
    let mut court = suite.court_client();
    let before = chrono::Utc::now().timestamp();
    let shown = court
        .get_clock(authed(
            CourtApiServiceGetClockRequest {},
            &suite.court_token(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!shown.manual);
    assert!(shown.now.unwrap().seconds >= before);
    let status = court
        .advance_clock(authed(advance_by(31 * 86_400, 0), &suite.court_token()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_eq!(reason(&status), reason::CLOCK_NOT_MANUAL);
    assert!(status.message().contains("--manual-clock"), "{status:?}");
    // A bad duration is still the caller's to fix first.
    let status = court
        .advance_clock(authed(advance_by(0, 0), &suite.court_token()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
}

#[tokio::test]
async fn a_bank_sees_and_acts_on_its_own_preservations_only() {
    use sieve_proto::preservation::v1 as pv;
    let suite = start(200).await;
    let bank_a = suite.register_bank("PRES-A").await;
    let bank_b = suite.register_bank("PRES-B").await;
    let token_a = suite.token(&bank_a, Role::Bank);
    let token_b = suite.token(&bank_b, Role::Bank);
    let cases = submit_cases(&suite, &token_a, "PA", 1).await;
    suite
        .wait_for_stage(&token_a, &cases[0], Stage::Preservation)
        .await;
    let application = |case_id: &str| pv::PreservationInput {
        case_id: case_id.into(),
        amount_fen: 100_000,
        guarantee: Some(pv::Guarantee {
            kind: pv::GuaranteeKind::BankGuarantee as i32,
            issuer_name: "中国银行伊春分行".into(),
            issuer_code: String::new(),
            instrument_number: "BG-1".into(),
            amount_fen: 100_000,
            valid_from: None,
            valid_until: None,
            document: None,
        }),
        platforms: vec![],
        callback_phone: String::new(),
    };
    let apply = |request_id: &str| BankApiServiceApplyPreservationRequest {
        request: Some(pv::ApplyPreservationRequest {
            request_id: request_id.into(),
            bank_id: String::new(),
            applications: vec![application(&cases[0])],
        }),
    };
    let mut bank = suite.bank_client();
    // Bank B applying for bank A's case learns nothing about it.
    let rows = bank
        .apply_preservation(authed(apply("b-1"), &token_b))
        .await
        .unwrap()
        .into_inner()
        .response
        .unwrap()
        .rows;
    assert_eq!(rows[0].refusals[0].rule, "case.not_found");
    let rows = bank
        .apply_preservation(authed(apply("a-1"), &token_a))
        .await
        .unwrap()
        .into_inner()
        .response
        .unwrap()
        .rows;
    assert_eq!(rows[0].outcome, RowOutcome::Accepted as i32, "{rows:?}");
    let id = rows[0]
        .preservation
        .as_ref()
        .unwrap()
        .preservation_id
        .clone();
    let get = |id: &str| BankApiServiceGetPreservationRequest {
        request: Some(pv::GetPreservationRequest {
            key: Some(pv::get_preservation_request::Key::PreservationId(id.into())),
        }),
    };
    // Bank A sees it, on its own and on its case; bank B does not, nor in its list.
    bank.get_preservation(authed(get(&id), &token_a))
        .await
        .unwrap();
    let case = bank
        .get_case(authed(
            BankApiServiceGetCaseRequest {
                case_id: cases[0].clone(),
            },
            &token_a,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        case.records.unwrap().preservation.unwrap().preservation_id,
        id
    );
    let status = bank
        .get_preservation(authed(get(&id), &token_b))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let listed = bank
        .list_preservations(authed(
            BankApiServiceListPreservationsRequest {
                request: Some(pv::ListPreservationsRequest::default()),
            },
            &token_b,
        ))
        .await
        .unwrap()
        .into_inner()
        .response
        .unwrap();
    assert!(listed.preservations.is_empty());
    let status = bank
        .lift_preservation(authed(
            BankApiServiceLiftPreservationRequest {
                request: Some(pv::LiftPreservationRequest {
                    request_id: "lift-b".into(),
                    preservation_id: id.clone(),
                    reason: pv::LiftReason::ApplicantRequest as i32,
                    note: String::new(),
                }),
            },
            &token_b,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    // The court rules through its own door; a bank may not.
    let rule = CourtApiServiceRuleOnPreservationApplicationsRequest {
        request: Some(pv::RuleOnApplicationsRequest {
            request_id: "rule-1".into(),
            judge: "李法官".into(),
            rulings: vec![pv::ApplicationRuling {
                preservation_id: id.clone(),
                decision: pv::RulingDecision::Reject as i32,
                reason: "担保机构不符".into(),
                ruling_number: String::new(),
            }],
        }),
    };
    let status = suite
        .court_client()
        .rule_on_preservation_applications(authed(rule.clone(), &token_a))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let ruled = suite
        .court_client()
        .rule_on_preservation_applications(authed(rule, &suite.court_token()))
        .await
        .unwrap()
        .into_inner()
        .response
        .unwrap();
    assert_eq!(
        ruled.rows[0].preservation.as_ref().unwrap().status,
        pv::PreservationStatus::Rejected as i32
    );
}
