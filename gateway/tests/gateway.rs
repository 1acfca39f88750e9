//! The gateway over real TCP in front of a real intake (fresh database per test): tokens,
//! roles, tenancy between banks, streaming batches and rate limits.

use std::net::SocketAddr;

use sieve_gateway::token::{self, Claims, Role, SigningKey};
use sieve_kernel::Settings;
use sieve_proto::common::v1::{Claim, Debtor, DebtorKind, ProductType};
use sieve_proto::gateway::v1::bank_api_service_client::BankApiServiceClient;
use sieve_proto::gateway::v1::court_api_service_client::CourtApiServiceClient;
use sieve_proto::gateway::v1::mediator_api_service_client::MediatorApiServiceClient;
use sieve_proto::gateway::v1::notary_api_service_client::NotaryApiServiceClient;
use sieve_proto::gateway::v1::*;
use sieve_proto::intake::v1 as pb;
use sieve_proto::intake::v1::submit_batch_request::Item;
use tokio::sync::oneshot;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};
use tonic_types::StatusExt;

struct Suite {
    gateway: SocketAddr,
    key: SigningKey,
    // Dropping these stops the servers.
    _stops: Vec<oneshot::Sender<()>>,
}

/// Intake on a fresh database and the gateway in front of it, each on an ephemeral port.
async fn start(rate_limit_per_second: u32) -> Suite {
    sieve_kernel::telemetry::init_for_tests();
    let key = SigningKey::generate("test");
    let mut settings = Settings::defaults().expect("defaults");
    settings.server.shutdown_grace_secs = 1;
    settings
        .gateway
        .signing_keys
        .insert(key.kid.clone(), key.secret_base64());
    settings.gateway.rate_limit_per_second = rate_limit_per_second;

    let intake = sieve_intake::Application::build(
        &settings,
        &sieve_kernel::db::testing::fresh_target("intake"),
        sieve_kernel::clock::system(),
        0,
    )
    .await
    .expect("build intake");
    let intake_url = format!("http://{}", intake.local_addr());
    let (stop_intake, rx) = oneshot::channel::<()>();
    tokio::spawn(intake.run_until(async {
        let _ = rx.await;
    }));

    let gateway = sieve_gateway::Application::build(&settings, &intake_url, 0)
        .await
        .expect("build gateway");
    let addr = gateway.local_addr();
    let (stop_gateway, rx) = oneshot::channel::<()>();
    tokio::spawn(gateway.run_until(async {
        let _ = rx.await;
    }));
    Suite {
        gateway: addr,
        key,
        _stops: vec![stop_intake, stop_gateway],
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
        self.token("court", Role::Court)
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

/// A valid GB 11643 resident ID of division 230722 for index `i`.
fn id_number(i: usize) -> String {
    let birth =
        19600101 + (i % 28) as u32 + ((i / 28) % 12) as u32 * 100 + ((i / 336) % 40) as u32 * 10000;
    let first17 = format!("230722{birth:08}{:03}", i % 1000);
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = first17
        .bytes()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    let check = "10X98765432".as_bytes()[(sum % 11) as usize] as char;
    format!("{first17}{check}")
}

fn case(prefix: &str, i: usize) -> pb::CaseInput {
    pb::CaseInput {
        bank_case_ref: format!("{prefix}-{i:07}"),
        product: ProductType::CreditCard as i32,
        debtor: Some(Debtor {
            kind: DebtorKind::NaturalPerson as i32,
            name: "王芳".into(),
            id_number: id_number(i),
            phone: format!("139{i:08}"),
            address: "黑龙江省伊春市嘉荫县朝阳镇1号".into(),
            division_code: "230722".into(),
        }),
        contract_amount_fen: 0,
        claim: Some(Claim {
            principal_fen: 1_000_000 + i as i64,
            interest_fen: 1000,
            ..Default::default()
        }),
        contract_ref: format!("HT{i:08}"),
        contract_names_court: false,
        row: 0,
    }
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
    assert_eq!(reason(&status), "TOKEN_MISSING");

    let mut not_bearer = Request::new(list_banks());
    not_bearer
        .metadata_mut()
        .insert("authorization", "Basic dXNlcjpwdw==".parse().unwrap());
    let status = court.list_banks(not_bearer).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(reason(&status), "TOKEN_INVALID");

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
    assert_eq!(reason(&status), "TOKEN_INVALID");

    let stranger = token::mint(
        &SigningKey::generate("test"),
        &Claims {
            org_id: "court".into(),
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
            org_id: "court".into(),
            role: Role::Court,
            exp: Some(1_000_000_000),
        },
    );
    let status = court
        .list_banks(authed(list_banks(), &expired))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(reason(&status), "TOKEN_EXPIRED");

    let status = court
        .list_banks(authed(list_banks(), &bank_token))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(reason(&status), "WRONG_ROLE");

    let status = suite
        .bank_client()
        .list_cases(authed(
            BankApiServiceListCasesRequest::default(),
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
    assert_eq!(reason(&status), "BANK_MISMATCH");

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
    assert_eq!(reason(&status), "BANK_MISMATCH");

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
    assert_eq!(reason(&status), "HEADER_FIRST");

    // Intake's batch rules still apply through the gateway: fewer cases than declared.
    let status = bank
        .submit_batch(authed(
            tokio_stream::StreamExt::take(batch_stream("", "stream-3", 10, 5), 2),
            &token_a,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
}

#[tokio::test]
async fn each_organisation_is_held_to_its_rate_limit() {
    let suite = start(3).await;
    let mut court = suite.court_client();
    let list_banks = || CourtApiServiceListBanksRequest {
        request: Some(pb::ListBanksRequest::default()),
    };
    for _ in 0..3 {
        court
            .list_banks(authed(list_banks(), &suite.court_token()))
            .await
            .unwrap();
    }
    let status = court
        .list_banks(authed(list_banks(), &suite.court_token()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert_eq!(reason(&status), "RATE_LIMITED");
    assert!(status.get_error_details().retry_info().is_some());

    // Another organisation has its own allowance.
    let other_court = suite.token("court-2", Role::Court);
    court
        .list_banks(authed(list_banks(), &other_court))
        .await
        .unwrap();

    // The allowance refills.
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    court
        .list_banks(authed(list_banks(), &suite.court_token()))
        .await
        .unwrap();
}

#[tokio::test]
async fn calls_of_services_not_deployed_yet_say_so() {
    let suite = start(200).await;
    let expect = |status: Status, service: &str| {
        assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
        assert!(status.message().contains(service), "{status:?}");
        assert_eq!(reason(&status), "SERVICE_NOT_DEPLOYED");
    };
    let bank_token = suite.token("bank-1", Role::Bank);
    let status = suite
        .bank_client()
        .apply_certificates(authed(
            BankApiServiceApplyCertificatesRequest::default(),
            &bank_token,
        ))
        .await
        .unwrap_err();
    expect(status, "bad-debt-check");
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
    let dir = std::env::temp_dir().join(format!("sieve-gateway-dev-{}", uuid_like(),));
    let mut settings = Settings::defaults().expect("defaults");
    settings.database.data_dir = dir.clone();
    let gateway = sieve_gateway::Application::build(&settings, "http://127.0.0.1:1", 0)
        .await
        .expect("build gateway");
    let addr = gateway.local_addr();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(gateway.run_until(async {
        let _ = rx.await;
    }));
    let key = token::dev_key(&dir).unwrap();
    let court_token = token::mint(
        &key,
        &Claims {
            org_id: "court".into(),
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
            CourtApiServiceListBanksRequest::default(),
            &court_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    let _ = tx.send(());
    let _ = std::fs::remove_dir_all(&dir);
}

fn uuid_like() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}
