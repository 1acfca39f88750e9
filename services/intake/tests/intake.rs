//! Intake over real gRPC on an ephemeral port, on a fresh database per test: SQLite by
//! default, PostgreSQL when `SIEVE_TEST_DATABASE=postgres` (see `make test`).

use sieve_e2e::{INTAKE, Spawn, Spawned, fixtures};
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use sea_orm_migration::{MigrationTrait, MigratorTrait};
use sieve_kernel::Settings;
use sieve_kernel::clock::{ManualClock, SharedClock};
use sieve_kernel::db::Target;
use sieve_kernel::error::reason;
use sieve_kernel::internal::InternalChannel as Channel;
use sieve_kernel::outbox::{self, NewMessage, Relay};
use sieve_proto::common::v1::{Actor, PageRequest, Stage};
use sieve_proto::intake::v1 as pb;
use sieve_proto::intake::v1::intake_service_client::IntakeServiceClient;
use tokio::sync::oneshot;
use tonic::Code;
use tonic_types::StatusExt;

// In a folder of their own: a file beside this one would be a test binary of its own.
#[path = "intake/batches.rs"]
mod batches;
#[path = "intake/case_closed.rs"]
mod case_closed;
#[path = "intake/case_events.rs"]
mod case_events;
#[path = "intake/crash.rs"]
mod crash;
#[path = "intake/outcomes.rs"]
mod outcomes;

/// A stage service's database, reduced to its outbox.
struct OutboxOnly;

impl MigratorTrait for OutboxOnly {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(outbox::migration::Migration)]
    }
}

struct TestApp {
    spawned: Option<Spawned>,
    /// What started it: started again, it finds what this one wrote.
    spawn: Spawn,
    addr: std::net::SocketAddr,
    client: IntakeServiceClient<Channel>,
    target: Target,
}

impl TestApp {
    async fn stop(&mut self) {
        if let Some(spawned) = self.spawned.take() {
            spawned.stop().await;
        }
    }
}

fn settings() -> Settings {
    Spawn::new(&[]).settings().clone()
}

/// Intake alone, as `spawn` says: the pre-check is not reachable, so its announcements wait in
/// the outbox.
async fn start(spawn: Spawn) -> TestApp {
    let spawned = spawn.clone().start().await;
    TestApp {
        addr: spawned.addr(INTAKE),
        client: spawned.intake(),
        target: spawned.target(INTAKE).clone(),
        spawned: Some(spawned),
        spawn,
    }
}

async fn spawn_app() -> TestApp {
    start(Spawn::new(&[INTAKE])).await
}

async fn register_bank(app: &mut TestApp, code: &str) -> String {
    register_bank_with(&mut app.client, code).await
}

async fn register_bank_with(client: &mut IntakeServiceClient<Channel>, code: &str) -> String {
    client
        .register_bank(fixtures::bank(code))
        .await
        .unwrap()
        .into_inner()
        .bank
        .unwrap()
        .bank_id
}

fn valid_case(i: usize) -> pb::CaseInput {
    fixtures::case("REF", i)
}

fn header(bank_id: &str, request_id: &str, n: usize) -> pb::SubmitBatchRequest {
    pb::SubmitBatchRequest {
        item: Some(pb::submit_batch_request::Item::Header(pb::BatchHeader {
            bank_id: bank_id.into(),
            request_id: request_id.into(),
            expected_cases: n as i64,
            label: "test".into(),
        })),
    }
}

fn chunks(cases: Vec<pb::CaseInput>, size: usize) -> Vec<pb::SubmitBatchRequest> {
    cases
        .chunks(size)
        .map(|c| pb::SubmitBatchRequest {
            item: Some(pb::submit_batch_request::Item::Chunk(pb::CaseChunk {
                cases: c.to_vec(),
            })),
        })
        .collect()
}

async fn submit(
    app: &mut TestApp,
    bank_id: &str,
    request_id: &str,
    cases: Vec<pb::CaseInput>,
) -> Result<pb::SubmitBatchResponse, tonic::Status> {
    let mut msgs = vec![header(bank_id, request_id, cases.len())];
    msgs.extend(chunks(cases, 500));
    app.client
        .submit_batch(tokio_stream::iter(msgs))
        .await
        .map(|r| r.into_inner())
}

async fn all_rows(app: &mut TestApp, batch_id: &str, refused_only: bool) -> Vec<pb::BatchRow> {
    rows_of(&mut app.client, batch_id, refused_only).await
}

async fn rows_of(
    client: &mut IntakeServiceClient<Channel>,
    batch_id: &str,
    refused_only: bool,
) -> Vec<pb::BatchRow> {
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_batch_rows(pb::ListBatchRowsRequest {
                batch_id: batch_id.into(),
                refused_only,
                page: Some(PageRequest {
                    page_size: 1000,
                    page_token: token.clone(),
                }),
                outcome: 0,
            })
            .await
            .unwrap()
            .into_inner();
        out.extend(page.rows);
        if page.next_page_token.is_empty() {
            return out;
        }
        token = page.next_page_token;
    }
}

async fn count_cases(app: &mut TestApp, bank_id: &str) -> usize {
    all_cases(&mut app.client, bank_id).await.len()
}

async fn all_cases(client: &mut IntakeServiceClient<Channel>, bank_id: &str) -> Vec<pb::Case> {
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_cases(pb::ListCasesRequest {
                bank_id: bank_id.into(),
                stage: 0,
                batch_id: String::new(),
                page: Some(PageRequest {
                    page_size: 1000,
                    page_token: token.clone(),
                }),
            })
            .await
            .unwrap()
            .into_inner();
        out.extend(page.cases);
        if page.next_page_token.is_empty() {
            return out;
        }
        token = page.next_page_token;
    }
}

async fn case(app: &mut TestApp, case_id: &str) -> pb::Case {
    app.client
        .get_case(pb::GetCaseRequest {
            case_id: case_id.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap()
}

async fn timeline(app: &mut TestApp, case_id: &str) -> Vec<pb::StageEvent> {
    app.client
        .get_timeline(pb::GetTimelineRequest {
            case_id: case_id.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .events
}

/// What intake answers an outcome it refuses: the code and the `ErrorInfo` reason.
async fn refused(app: &mut TestApp, o: pb::RecordStageOutcomeRequest) -> (Code, String) {
    let err = app.client.record_stage_outcome(o).await.unwrap_err();
    let info = err.get_error_details().error_info().cloned();
    (err.code(), info.map(|i| i.reason).unwrap_or_default())
}

fn outcome(event: &str, case_id: &str, from: Stage, to: Stage) -> pb::RecordStageOutcomeRequest {
    pb::RecordStageOutcomeRequest {
        event_id: event.into(),
        case_id: case_id.into(),
        from_stage: from as i32,
        to_stage: to as i32,
        actor: Actor::BadDebtCheck as i32,
        reason: "no terminated-enforcement ruling matches".into(),
        source_record_id: "check-1".into(),
        occurred_at: None,
    }
}

async fn one_case(app: &mut TestApp) -> String {
    let bank = register_bank(app, "JYRCB").await;
    let res = app
        .client
        .submit_cases(pb::SubmitCasesRequest {
            bank_id: bank,
            request_id: "one".into(),
            cases: vec![valid_case(7)],
            label: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    res.rows[0].case_id.clone()
}

#[tokio::test]
async fn health_and_reflection_are_served() {
    let mut app = spawn_app().await;
    let channel = sieve_kernel::internal::testing::channel(&format!("http://{}", app.addr));
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "sieve.intake.v1.IntakeService".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    // What `grpcurl list` shows on intake's port: intake's own services, nothing of the rest
    // of the suite.
    let plain =
        sieve_kernel::server::channel(&format!("http://{}", app.addr), &settings().server).unwrap();
    let mut names = sieve_kernel::internal::testing::list_services(
        plain,
        Some(sieve_kernel::internal::testing::CREDENTIAL),
    )
    .await
    .unwrap();
    names.sort();
    assert_eq!(
        names,
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
            "sieve.intake.v1.IntakeService",
        ]
    );
    app.stop().await;
}

#[tokio::test]
async fn refusals_name_unknown_values_and_quote_what_was_sent() {
    let mut app = spawn_app().await;
    let bank_id = register_bank(&mut app, "QUOTE").await;
    // An enum value the contract does not list is unknown, not missing.
    let mut case = valid_case(1);
    case.product = 99;
    let answer = app
        .client
        .submit_cases(pb::SubmitCasesRequest {
            bank_id: bank_id.clone(),
            request_id: "unknown-enum".into(),
            cases: vec![case],
            label: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let refusals = &answer.rows[0].refusals;
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert_eq!(
        (refusals[0].field.as_str(), refusals[0].rule.as_str()),
        ("product", "unknown_value")
    );
    assert!(refusals[0].description.contains("99"), "{refusals:?}");
    let status = app
        .client
        .list_cases(pb::ListCasesRequest {
            bank_id: bank_id.clone(),
            stage: 42,
            batch_id: String::new(),
            page: None,
        })
        .await
        .unwrap_err();
    assert!(status.message().contains("unknown value 42"), "{status:?}");

    // Control characters in an id are not echoed raw.
    let status = app
        .client
        .get_case(pb::GetCaseRequest {
            case_id: "c\u{1b}[2J\u{7}".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert!(
        !status.message().chars().any(char::is_control),
        "{status:?}"
    );
    assert!(status.message().contains("c?[2J?"), "{status:?}");
    let info = status.get_error_details().error_info().unwrap().clone();
    assert_eq!(info.metadata["id"], "c?[2J?");
    app.stop().await;
}

#[tokio::test]
async fn intake_answers_only_callers_with_the_internal_credential() {
    let mut app = spawn_app().await;
    let bank = register_bank(&mut app, "TRUST").await;
    let plain = tonic::transport::Channel::from_shared(format!("http://{}", app.addr))
        .unwrap()
        .connect_lazy();
    let mut outsider = IntakeServiceClient::new(plain);
    let err = outsider
        .list_banks(pb::ListBanksRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
    let info = err.get_error_details().error_info().cloned().unwrap();
    assert_eq!(info.reason, reason::INTERNAL_CREDENTIAL_MISSING);
    assert_eq!(info.domain, sieve_kernel::error::ERROR_DOMAIN);
    let mut guessed = tonic::Request::new(pb::ListBanksRequest::default());
    guessed.metadata_mut().insert(
        sieve_kernel::internal::HEADER,
        "a-guess-of-forty-characters-0123456789ab".parse().unwrap(),
    );
    let err = outsider.list_banks(guessed).await.unwrap_err();
    assert_eq!(
        err.get_error_details().error_info().unwrap().reason,
        reason::INTERNAL_CREDENTIAL_INVALID
    );
    // With the credential (the test client's channel carries it) the same call is served.
    let banks = app
        .client
        .list_banks(pb::ListBanksRequest::default())
        .await
        .unwrap()
        .into_inner()
        .banks;
    assert!(banks.iter().any(|b| b.bank_id == bank), "{banks:?}");
    app.stop().await;
}
