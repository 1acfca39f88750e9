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

#[tokio::test]
async fn a_10000_case_batch_refuses_exactly_its_100_invalid_rows() {
    let mut app = spawn_app().await;
    let bank = register_bank(&mut app, "JYRCB").await;
    let mut cases: Vec<pb::CaseInput> = (0..10_000).map(valid_case).collect();
    let mut bad_rows = Vec::new();
    for k in 0..100 {
        let i = k * 97 + 13; // spread through the batch
        let row = i + 1;
        bad_rows.push(row as i64);
        let debtor = cases[i].debtor.as_mut().unwrap();
        match k % 4 {
            0 => debtor.id_number.replace_range(
                17..18,
                if debtor.id_number.ends_with('0') {
                    "1"
                } else {
                    "0"
                },
            ),
            1 => debtor.phone = "1391234567".into(),
            2 => cases[i].claim.as_mut().unwrap().principal_fen = -5,
            _ => debtor.division_code = "110105".into(),
        }
    }
    let res = submit(&mut app, &bank, "batch-1", cases).await.unwrap();
    let batch = res.batch.unwrap();
    assert_eq!(batch.status, pb::BatchStatus::Completed as i32);
    assert_eq!(batch.received_cases, 10_000);
    assert_eq!(batch.accepted_cases, 9_900);
    assert_eq!(batch.refused_cases, 100);
    let mut refused_rows: Vec<i64> = res.refusals.iter().map(|r| r.row).collect();
    refused_rows.dedup();
    assert_eq!(refused_rows, bad_rows);
    for r in &res.refusals {
        assert!(
            !r.field.is_empty() && !r.rule.is_empty() && !r.description.is_empty(),
            "{r:?}"
        );
    }
    let rows = all_rows(&mut app, &batch.batch_id, false).await;
    assert_eq!(rows.len(), 10_000);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row.row, i as i64 + 1);
        let refused = bad_rows.contains(&row.row);
        assert_eq!(
            row.outcome == pb::RowOutcome::Refused as i32,
            refused,
            "row {}",
            row.row
        );
        assert_eq!(row.case_id.is_empty(), refused);
    }
    assert_eq!(count_cases(&mut app, &bank).await, 9_900);
    let first = &rows[0];
    let case = app
        .client
        .get_case(pb::GetCaseRequest {
            case_id: first.case_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(
        case.stage,
        Stage::BadDebtCheck as i32,
        "admitted cases enter the bad-debt pre-check"
    );
    assert_eq!(case.claim.unwrap().total_fen, 1_001_000);
    app.stop().await;
}

#[tokio::test]
async fn resubmission_returns_the_same_case_ids() {
    let mut app = spawn_app().await;
    let bank = register_bank(&mut app, "JYRCB").await;
    let cases: Vec<pb::CaseInput> = (0..1200).map(valid_case).collect();
    let first = submit(&mut app, &bank, "same-key", cases.clone())
        .await
        .unwrap();
    let first_batch = first.batch.unwrap();
    let first_rows = all_rows(&mut app, &first_batch.batch_id, false).await;

    // The same key: the first result again, nothing new stored.
    let replay = submit(&mut app, &bank, "same-key", cases.clone())
        .await
        .unwrap();
    assert!(replay.replayed);
    assert_eq!(replay.batch.unwrap().batch_id, first_batch.batch_id);

    // Another key, the same bank references: the existing cases, never second ones.
    let again = submit(&mut app, &bank, "other-key", cases).await.unwrap();
    let again_batch = again.batch.unwrap();
    assert_ne!(again_batch.batch_id, first_batch.batch_id);
    assert_eq!(again_batch.accepted_cases, 0);
    assert_eq!(again_batch.existing_cases, 1200);
    let again_rows = all_rows(&mut app, &again_batch.batch_id, false).await;
    assert_eq!(again_rows.len(), 1200);
    for (a, b) in first_rows.iter().zip(&again_rows) {
        assert_eq!(b.outcome, pb::RowOutcome::Existing as i32);
        assert_eq!(a.case_id, b.case_id);
    }
    assert_eq!(count_cases(&mut app, &bank).await, 1200);

    // The unary form answers row by row, with the same ids.
    let unary = app
        .client
        .submit_cases(pb::SubmitCasesRequest {
            bank_id: bank.clone(),
            request_id: "unary".into(),
            cases: vec![valid_case(0), valid_case(5000)],
            label: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(unary.rows[0].case_id, first_rows[0].case_id);
    assert_eq!(unary.rows[0].outcome, pb::RowOutcome::Existing as i32);
    assert_eq!(unary.rows[1].outcome, pb::RowOutcome::Accepted as i32);
    app.stop().await;
}

#[tokio::test]
async fn a_reference_sent_again_with_other_content_names_the_fields_that_differ() {
    let mut app = spawn_app().await;
    let bank = register_bank(&mut app, "JYRCB").await;
    let cases: Vec<pb::CaseInput> = (0..3).map(valid_case).collect();
    let first = submit(&mut app, &bank, "first", cases.clone())
        .await
        .unwrap();
    let first_rows = all_rows(&mut app, &first.batch.unwrap().batch_id, false).await;
    assert!(first_rows.iter().all(|r| r.differing_fields.is_empty()));

    // The same content under another key: the existing cases, nothing differs.
    let same = submit(&mut app, &bank, "same-content", cases.clone())
        .await
        .unwrap();
    let same_rows = all_rows(&mut app, &same.batch.unwrap().batch_id, false).await;
    assert_eq!(same_rows.len(), 3);
    for (a, b) in first_rows.iter().zip(&same_rows) {
        assert_eq!(b.outcome, pb::RowOutcome::Existing as i32);
        assert_eq!(a.case_id, b.case_id);
        assert!(b.differing_fields.is_empty(), "{b:?}");
    }

    // Another name and principal in row 2; padding in row 3, which screening trims as it
    // trimmed the stored case's.
    let mut changed = cases.clone();
    if let Some(debtor) = changed[1].debtor.as_mut() {
        debtor.name = "王芳芳".into();
    }
    if let Some(claim) = changed[1].claim.as_mut() {
        claim.principal_fen += 100;
    }
    if let Some(debtor) = changed[2].debtor.as_mut() {
        debtor.name = format!(" {} ", debtor.name);
    }
    let answer = submit(&mut app, &bank, "changed-content", changed)
        .await
        .unwrap();
    let batch = answer.batch.unwrap();
    assert_eq!((batch.accepted_cases, batch.existing_cases), (0, 3));
    let rows = all_rows(&mut app, &batch.batch_id, false).await;
    let differing: Vec<Vec<&str>> = rows
        .iter()
        .map(|r| r.differing_fields.iter().map(String::as_str).collect())
        .collect();
    assert_eq!(
        differing,
        [vec![], vec!["debtor.name", "claim.principal_fen"], vec![]]
    );
    for (a, b) in first_rows.iter().zip(&rows) {
        assert_eq!(b.outcome, pb::RowOutcome::Existing as i32);
        assert_eq!(a.case_id, b.case_id);
    }
    // The stored case stands as it was first sent.
    let case = app
        .client
        .get_case(pb::GetCaseRequest {
            case_id: rows[1].case_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(case.debtor.unwrap().name, "王芳");
    assert_eq!(case.claim.unwrap().principal_fen, 1_000_001);

    // The unary form says so as well.
    let mut one = valid_case(0);
    one.contract_names_court = true;
    let unary = app
        .client
        .submit_cases(pb::SubmitCasesRequest {
            bank_id: bank.clone(),
            request_id: "unary-changed".into(),
            cases: vec![one],
            label: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(unary.rows[0].outcome, pb::RowOutcome::Existing as i32);
    assert_eq!(unary.rows[0].differing_fields, ["contract_names_court"]);
    app.stop().await;
}

/// The rows of one outcome, as a bank's system lists them.
async fn rows_with(
    app: &mut TestApp,
    batch_id: &str,
    outcome: pb::RowOutcome,
) -> Vec<pb::BatchRow> {
    app.client
        .list_batch_rows(pb::ListBatchRowsRequest {
            batch_id: batch_id.into(),
            outcome: outcome as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .rows
}

#[tokio::test]
async fn existing_rows_are_listed_on_their_own_with_the_fields_that_differ() {
    let mut app = spawn_app().await;
    let bank = register_bank(&mut app, "JYRCB").await;
    submit(&mut app, &bank, "first", (0..2).map(valid_case).collect())
        .await
        .unwrap();
    // Row 1 corrects the principal of a stored case, row 2 repeats one, row 3 is new, row 4
    // is refused.
    let mut later: Vec<pb::CaseInput> = vec![valid_case(0), valid_case(1), valid_case(7)];
    if let Some(claim) = later[0].claim.as_mut() {
        claim.principal_fen += 100;
    }
    let mut bad = valid_case(8);
    if let Some(debtor) = bad.debtor.as_mut() {
        debtor.phone = "1391234567".into();
    }
    later.push(bad);
    let batch = submit(&mut app, &bank, "later", later)
        .await
        .unwrap()
        .batch
        .unwrap();
    assert_eq!(
        (
            batch.accepted_cases,
            batch.existing_cases,
            batch.refused_cases
        ),
        (1, 2, 1)
    );

    let existing = rows_with(&mut app, &batch.batch_id, pb::RowOutcome::Existing).await;
    let listed: Vec<(i64, Vec<&str>)> = existing
        .iter()
        .map(|r| {
            (
                r.row,
                r.differing_fields.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(listed, [(1, vec!["claim.principal_fen"]), (2, vec![])]);
    assert!(existing.iter().all(|r| !r.case_id.is_empty()));
    let accepted = rows_with(&mut app, &batch.batch_id, pb::RowOutcome::Accepted).await;
    assert_eq!(accepted.iter().map(|r| r.row).collect::<Vec<_>>(), [3]);
    let refused = rows_with(&mut app, &batch.batch_id, pb::RowOutcome::Refused).await;
    assert_eq!(refused.iter().map(|r| r.row).collect::<Vec<_>>(), [4]);
    assert_eq!(all_rows(&mut app, &batch.batch_id, true).await, refused);
    assert_eq!(all_rows(&mut app, &batch.batch_id, false).await.len(), 4);

    // refused_only and another outcome contradict each other.
    let status = app
        .client
        .list_batch_rows(pb::ListBatchRowsRequest {
            batch_id: batch.batch_id.clone(),
            refused_only: true,
            outcome: pb::RowOutcome::Existing as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    app.stop().await;
}

#[tokio::test]
async fn the_same_reference_twice_in_one_batch_refuses_the_second() {
    let mut app = spawn_app().await;
    let bank = register_bank(&mut app, "JYRCB").await;
    let mut cases = vec![valid_case(1), valid_case(2), valid_case(3)];
    cases[2].bank_case_ref = cases[0].bank_case_ref.clone();
    let res = submit(&mut app, &bank, "dup", cases).await.unwrap();
    assert_eq!(res.batch.unwrap().accepted_cases, 2);
    assert_eq!(res.refusals.len(), 1);
    assert_eq!(res.refusals[0].row, 3);
    assert_eq!(res.refusals[0].rule, "bank_case_ref.duplicate_in_batch");
    app.stop().await;
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
async fn a_lookup_is_answered_while_the_writer_holds_a_transaction() {
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    use sieve_intake::store::case;

    let mut app = spawn_app().await;
    let case_id = one_case(&mut app).await;
    // A writer on the service's database (on SQLite the only one it may have) changes the case and holds the
    // transaction open until the lookup has been answered.
    let db = app.spawned.as_ref().unwrap().database(INTAKE).await;
    let txn = db.begin_write().await.unwrap();
    case::Entity::update_many()
        .filter(case::Column::Id.eq(case_id.clone()))
        .col_expr(case::Column::Stage, Expr::value("PRESERVATION"))
        .exec(&txn)
        .await
        .unwrap();
    let (release, released) = oneshot::channel::<()>();
    let writer = tokio::spawn(async move {
        let _ = released.await;
        txn.rollback().await.unwrap();
    });
    // Generous: it only fails the test if the lookup waits for the writer (deadlock).
    let answer = tokio::time::timeout(
        Duration::from_secs(30),
        app.client.get_case(pb::GetCaseRequest {
            case_id: case_id.clone(),
        }),
    )
    .await
    .expect("the lookup waited for the writer's transaction")
    .unwrap()
    .into_inner()
    .case
    .unwrap();
    assert!(!writer.is_finished(), "the transaction is still open");
    // The last committed state, not the writer's uncommitted change.
    assert_eq!(answer.stage, Stage::BadDebtCheck as i32);
    release.send(()).unwrap();
    writer.await.unwrap();
    app.stop().await;
}

#[tokio::test]
async fn many_cases_are_looked_up_in_one_call_and_a_bad_id_is_named() {
    let mut app = spawn_app().await;
    let case_id = one_case(&mut app).await;
    let found = app
        .client
        .batch_get_cases(pb::BatchGetCasesRequest {
            case_ids: vec![case_id.clone(), "no-such-case".into(), case_id.clone()],
        })
        .await
        .unwrap()
        .into_inner()
        .cases;
    // The case once per time it was asked; the unknown id is left out.
    assert_eq!(found.len(), 2);
    assert!(found.iter().all(|c| c.case_id == case_id));

    let refused = [
        (vec![], reason::CASE_COUNT, "case_ids"),
        (
            vec![case_id.clone(); sieve_kernel::wire::MAX_BATCH_GET + 1],
            reason::CASE_COUNT,
            "case_ids",
        ),
        (
            vec![case_id, " ".into()],
            reason::INVALID_FIELD,
            "case_ids[1]",
        ),
    ];
    for (case_ids, rule, field) in refused {
        let status = app
            .client
            .batch_get_cases(pb::BatchGetCasesRequest { case_ids })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        assert_eq!(details.error_info().unwrap().reason, rule);
        assert_eq!(
            details.bad_request().unwrap().field_violations[0].field,
            field
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn an_illegal_transition_is_refused_naming_from_and_to() {
    let mut app = spawn_app().await;
    let case_id = one_case(&mut app).await;
    let err = app
        .client
        .record_stage_outcome(outcome(
            "e1",
            &case_id,
            Stage::BadDebtCheck,
            Stage::Certified,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(
        err.message().contains("BAD_DEBT_CHECK") && err.message().contains("CERTIFIED"),
        "{}",
        err.message()
    );
    let info = err.get_error_details().error_info().cloned().unwrap();
    assert_eq!(info.reason, reason::ILLEGAL_TRANSITION);
    assert_eq!(info.metadata["from"], "BAD_DEBT_CHECK");
    assert_eq!(info.metadata["to"], "CERTIFIED");

    // A reporter that saw a stale stage is refused too.
    let err = app
        .client
        .record_stage_outcome(outcome(
            "e2",
            &case_id,
            Stage::Preservation,
            Stage::Mediation,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(
        err.get_error_details().error_info().unwrap().reason,
        reason::STAGE_MISMATCH
    );

    let case = app
        .client
        .get_case(pb::GetCaseRequest {
            case_id: case_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(case.stage, Stage::BadDebtCheck as i32);
    assert_eq!(case.version, 1);
    app.stop().await;
}

#[tokio::test]
async fn a_duplicated_outcome_event_changes_nothing() {
    let mut app = spawn_app().await;
    let case_id = one_case(&mut app).await;
    let first = app
        .client
        .record_stage_outcome(outcome(
            "evt-42",
            &case_id,
            Stage::BadDebtCheck,
            Stage::Preservation,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!first.duplicate);
    assert_eq!(
        first.case.as_ref().unwrap().stage,
        Stage::Preservation as i32
    );
    let again = app
        .client
        .record_stage_outcome(outcome(
            "evt-42",
            &case_id,
            Stage::BadDebtCheck,
            Stage::Preservation,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(again.duplicate);
    assert_eq!(again.case, first.case);
    let timeline = app
        .client
        .get_timeline(pb::GetTimelineRequest {
            case_id: case_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    assert_eq!(timeline.len(), 2, "admission and one transition");
    assert_eq!(timeline[0].to_stage, Stage::BadDebtCheck as i32);
    assert_eq!(timeline[1].from_stage, Stage::BadDebtCheck as i32);
    assert_eq!(timeline[1].to_stage, Stage::Preservation as i32);
    assert_eq!(timeline[1].source_record_id, "check-1");

    // The same event id for another outcome is a caller bug, not a duplicate.
    let err = app
        .client
        .record_stage_outcome(outcome(
            "evt-42",
            &case_id,
            Stage::Preservation,
            Stage::Mediation,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    // Withdrawal closes the case; after that nothing moves it.
    let w = app
        .client
        .withdraw_case(pb::WithdrawCaseRequest {
            request_id: "w1".into(),
            case_id: case_id.clone(),
            reason: "debtor paid the bank directly".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(w.case.unwrap().stage, Stage::Withdrawn as i32);
    let again = app
        .client
        .withdraw_case(pb::WithdrawCaseRequest {
            request_id: "w1".into(),
            case_id: case_id.clone(),
            reason: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        again.case.unwrap().version,
        3,
        "a retried withdrawal is harmless"
    );
    let err = app
        .client
        .record_stage_outcome(outcome(
            "evt-43",
            &case_id,
            Stage::Withdrawn,
            Stage::Mediation,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    app.stop().await;
}

#[tokio::test]
async fn a_deadline_moved_by_a_calendar_goes_on_the_timeline_once_and_moves_no_stage() {
    let mut app = spawn_app().await;
    let case_id = one_case(&mut app).await;
    let before = app
        .client
        .get_case(pb::GetCaseRequest {
            case_id: case_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    let moved = pb::RecordDeadlineMovedRequest {
        event_id: "deadline:d1/1".into(),
        case_id: case_id.clone(),
        actor: sieve_proto::common::v1::Actor::Court as i32,
        deadline_id: "d1".into(),
        kind: "order.objection".into(),
        rule: "cpl_227.objection_15_days".into(),
        previous_end: "2027-01-01".into(),
        end: "2027-01-04".into(),
        moved_off: "2027-01-01 New Year's Day".into(),
        why: "the court loaded the 2027 holiday calendar".into(),
        occurred_at: None,
    };
    let first = app
        .client
        .record_deadline_moved(moved.clone())
        .await
        .unwrap()
        .into_inner();
    assert!(!first.duplicate);
    // Delivered again (the relay retries): recorded once.
    let again = app
        .client
        .record_deadline_moved(moved.clone())
        .await
        .unwrap()
        .into_inner();
    assert!(again.duplicate);
    let after = app
        .client
        .get_case(pb::GetCaseRequest {
            case_id: case_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(after.stage, before.stage);
    assert_eq!(after.stage_changed_at, before.stage_changed_at);
    assert_eq!(after.version, before.version + 1);
    let timeline = app
        .client
        .get_timeline(pb::GetTimelineRequest {
            case_id: case_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    assert_eq!(timeline.len(), 2, "admission and the move");
    let e = &timeline[1];
    assert_eq!((e.from_stage, e.to_stage), (before.stage, before.stage));
    assert_eq!(e.source_record_id, "deadline d1");
    assert!(
        e.reason.contains("now ends 2027-01-04, not 2027-01-01"),
        "{}",
        e.reason
    );
    // A bad date is refused; an unknown case is not found.
    let mut bad = moved.clone();
    bad.event_id = "deadline:d1/2".into();
    bad.end = "2027-13-01".into();
    let err = app.client.record_deadline_moved(bad).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let mut unknown = moved;
    unknown.event_id = "deadline:d2/1".into();
    unknown.case_id = "no-such-case".into();
    let err = app.client.record_deadline_moved(unknown).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    app.stop().await;
}

#[tokio::test]
async fn the_outbox_delivers_after_the_receiver_was_down() {
    // Intake runs, takes a case, and goes down.
    let mut app = spawn_app().await;
    let case_id = one_case(&mut app).await;
    let (port, again) = (app.addr.port(), app.spawn.clone());
    app.stop().await;

    // A stage service records outcomes while intake is down.
    let producer_storage = sieve_kernel::db::testing::Scratch::new("producer");
    let producer_target = producer_storage.0.clone();
    let s = settings();
    let producer =
        sieve_kernel::db::connect_and_migrate::<OutboxOnly>(&producer_target, &s.database)
            .await
            .unwrap();
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 1, 5, 2, 0, 0).unwrap(),
    ));
    let shared: SharedClock = clock.clone();
    let now = shared.now().timestamp_millis();
    let txn = sieve_kernel::db::begin_write(&producer).await.unwrap();
    outbox::enqueue(
        &txn,
        now,
        vec![
            NewMessage::protobuf(
                outbox::TOPIC_STAGE_OUTCOME,
                &case_id,
                &outcome("o-1", &case_id, Stage::BadDebtCheck, Stage::Preservation),
            ),
            // A redelivered duplicate must not change anything either.
            NewMessage::protobuf(
                outbox::TOPIC_STAGE_OUTCOME,
                &case_id,
                &outcome("o-1", &case_id, Stage::BadDebtCheck, Stage::Preservation),
            ),
        ],
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();

    let channel = sieve_kernel::internal::testing::channel(&format!("http://127.0.0.1:{port}"));
    let relay = Relay::new(
        producer.clone(),
        Arc::new(outbox::IntakeOutcomes::new(channel)),
        shared.clone(),
        s.outbox.clone(),
    );
    let pass = relay.run_once().await.unwrap();
    // Intake is down: one attempt finds it unreachable; the other message waits untried.
    assert_eq!(
        (pass.claimed, pass.retried, pass.deferred, pass.delivered),
        (2, 1, 1, 0)
    );
    assert_eq!(outbox::pending(producer.read()).await.unwrap(), 2);
    // Not due again until the backoff passes.
    assert_eq!(relay.run_once().await.unwrap().claimed, 0);

    // Intake comes back on the same port and database.
    let mut app = start(again.port(INTAKE, port)).await;
    clock.advance(chrono::Duration::seconds(5));
    let mut delivered = 0;
    for _ in 0..50 {
        let pass = relay.run_once().await.unwrap();
        delivered += pass.delivered;
        if delivered == 2 {
            break;
        }
        clock.advance(chrono::Duration::seconds(5));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(delivered, 2);
    assert_eq!(outbox::pending(producer.read()).await.unwrap(), 0);
    let case = app
        .client
        .get_case(pb::GetCaseRequest {
            case_id: case_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(case.stage, Stage::Preservation as i32);
    assert_eq!(case.version, 2, "the duplicate changed nothing");
    // Delivered messages are kept for the retention period, then removed.
    assert_eq!(relay.purge_delivered().await.unwrap(), 0);
    clock.advance(chrono::Duration::hours(s.outbox.retention_hours as i64 + 1));
    assert_eq!(relay.purge_delivered().await.unwrap(), 2);
    app.stop().await;
}

#[tokio::test]
async fn bad_batches_get_precise_errors_and_leave_nothing() {
    let mut app = spawn_app().await;
    let bank = register_bank(&mut app, "JYRCB").await;

    // Empty batch.
    let err = submit(&mut app, &bank, "empty", vec![]).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        err.get_error_details().error_info().unwrap().reason,
        reason::BATCH_EMPTY
    );

    // Over the limit: refused before anything is stored.
    let msgs = vec![header(&bank, "huge", 1_000_001)];
    let err = app
        .client
        .submit_batch(tokio_stream::iter(msgs))
        .await
        .unwrap_err();
    assert_eq!(
        err.get_error_details().error_info().unwrap().reason,
        reason::BATCH_TOO_LARGE
    );
    assert_eq!(
        err.get_error_details()
            .bad_request()
            .unwrap()
            .field_violations[0]
            .field,
        "header.expected_cases"
    );

    // Shorter than declared: aborted after chunks were written, and nothing stays.
    let mut msgs = vec![header(&bank, "short", 3000)];
    msgs.extend(chunks((0..2500).map(valid_case).collect(), 500));
    let err = app
        .client
        .submit_batch(tokio_stream::iter(msgs))
        .await
        .unwrap_err();
    assert_eq!(
        err.get_error_details().error_info().unwrap().reason,
        reason::BATCH_SHORTER_THAN_DECLARED
    );
    assert_eq!(count_cases(&mut app, &bank).await, 0);

    // Longer than declared.
    let mut msgs = vec![header(&bank, "long", 2000)];
    msgs.extend(chunks((0..2001).map(valid_case).collect(), 500));
    let err = app
        .client
        .submit_batch(tokio_stream::iter(msgs))
        .await
        .unwrap_err();
    assert_eq!(
        err.get_error_details().error_info().unwrap().reason,
        reason::BATCH_LONGER_THAN_DECLARED
    );
    assert_eq!(count_cases(&mut app, &bank).await, 0);

    // Chunk before header.
    let err = app
        .client
        .submit_batch(tokio_stream::iter(chunks(vec![valid_case(1)], 1)))
        .await
        .unwrap_err();
    assert_eq!(
        err.get_error_details().error_info().unwrap().reason,
        reason::HEADER_FIRST
    );

    // Unknown bank.
    let err = submit(&mut app, "no-such-bank", "x", vec![valid_case(1)])
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    // A 10 MB name and a negative amount: those rows are refused, field by field.
    let mut cases: Vec<pb::CaseInput> = (0..3).map(valid_case).collect();
    cases[1].debtor.as_mut().unwrap().name = "名".repeat(10 * 1024 * 1024 / 3);
    cases[2].claim.as_mut().unwrap().interest_fen = -1;
    let res = submit(&mut app, &bank, "rows", cases).await.unwrap();
    assert_eq!(res.batch.unwrap().accepted_cases, 1);
    let fields: Vec<(i64, &str, &str)> = res
        .refusals
        .iter()
        .map(|r| (r.row, r.field.as_str(), r.rule.as_str()))
        .collect();
    assert_eq!(
        fields,
        vec![
            (2, "debtor.name", "max_length"),
            (3, "claim.interest_fen", "amount.negative")
        ]
    );
    assert!(
        res.refusals[0].description.len() < 1000,
        "the 10 MB value is not echoed"
    );

    // A retried aborted batch starts over cleanly.
    let ok = submit(
        &mut app,
        &bank,
        "short",
        (0..3000).map(valid_case).collect(),
    )
    .await
    .unwrap();
    assert_eq!(ok.batch.unwrap().accepted_cases, 3000 - 1);
    assert_eq!(count_cases(&mut app, &bank).await, 3000);
    app.stop().await;
}

#[tokio::test]
async fn a_malformed_message_mid_stream_aborts_the_batch() {
    use sieve_e2e::raw::RawCodec;

    let mut app = spawn_app().await;
    let bank = register_bank(&mut app, "JYRCB").await;
    use prost::Message;
    let mut msgs: Vec<Vec<u8>> = vec![header(&bank, "garbage", 1001).encode_to_vec()];
    msgs.extend(
        chunks((0..1000).map(valid_case).collect(), 1000)
            .into_iter()
            .map(|m| m.encode_to_vec()),
    );
    msgs.push(vec![0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]); // a length running past the end
    let channel = sieve_kernel::internal::testing::channel(&format!("http://{}", app.addr));
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let path = http::uri::PathAndQuery::from_static("/sieve.intake.v1.IntakeService/SubmitBatch");
    let err = grpc
        .client_streaming(
            tonic::Request::new(tokio_stream::iter(msgs)),
            path,
            RawCodec::<pb::SubmitBatchResponse>::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert_eq!(
        err.get_error_details().error_info().unwrap().reason,
        reason::MALFORMED_MESSAGE
    );
    assert_eq!(
        count_cases(&mut app, &bank).await,
        0,
        "nothing half-written"
    );
    // Its first 1,000 cases were written before the stream broke; none was announced to the
    // pre-check, which hears of a batch only once it completes.
    let settings = sieve_kernel::internal::testing::settings();
    let db = sieve_kernel::db::connect(&app.target, &settings.database)
        .await
        .unwrap();
    assert_eq!(sieve_kernel::outbox::pending(db.read()).await.unwrap(), 0);
    app.stop().await;
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

/// How a bank sends its file again after intake crashed in the middle of it.
#[derive(Debug, Clone, Copy)]
enum Resend {
    /// A new key (the file's hash changed), to intake restarted at the same address.
    NewKeyAfterRestart,
    /// A new key within the lease, to another intake instance (the crashed one's lease still
    /// runs); then again once the lease lapsed.
    NewKeyElsewhereBeforeAndAfterTheLease,
    /// The same key, once the lease lapsed.
    SameKeyAfterTheLease,
}

const CRASH_ROWS: usize = 6_000;

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

async fn submit_to(
    client: &mut IntakeServiceClient<Channel>,
    bank_id: &str,
    request_id: &str,
    cases: Vec<pb::CaseInput>,
) -> pb::SubmitBatchResponse {
    let mut msgs = vec![header(bank_id, request_id, cases.len())];
    msgs.extend(chunks(cases, 1000));
    client
        .submit_batch(tokio_stream::iter(msgs))
        .await
        .unwrap()
        .into_inner()
}

/// Every row of a completed batch names a case that exists, and every case of the bank
/// is one row's: nothing lost, nothing twice, no dangling id.
async fn assert_whole(
    client: &mut IntakeServiceClient<Channel>,
    bank_id: &str,
    batch_ids: &[&str],
) {
    let cases = all_cases(client, bank_id).await;
    let refs: std::collections::HashSet<&str> =
        cases.iter().map(|c| c.bank_case_ref.as_str()).collect();
    assert_eq!(cases.len(), CRASH_ROWS, "every row is one case");
    assert_eq!(refs.len(), CRASH_ROWS, "no reference twice");
    let ids: std::collections::HashSet<&str> = cases.iter().map(|c| c.case_id.as_str()).collect();
    for batch_id in batch_ids {
        for row in rows_of(client, batch_id, false).await {
            if !row.case_id.is_empty() {
                assert!(
                    ids.contains(row.case_id.as_str()),
                    "row {} of batch {batch_id} names case {} that does not exist",
                    row.row,
                    row.case_id
                );
            }
        }
    }
}

/// A batch half received when intake is killed, then sent again: every row ends as exactly
/// one case, the half-written batch is never visible, and its final state says what happened.
async fn crash_mid_batch_then(resend: Resend) {
    let manual = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 2, 1, 0, 0).unwrap(),
    ));
    let clock: SharedClock = manual.clone();
    let base = Spawn::new(&[INTAKE]).clock(clock);
    let target = base.target(INTAKE).clone();
    let first = base.clone().start_crashable();
    let mut client = first.intake();
    let bank_id = register_bank_with(&mut client, "CRASH").await;
    let cases: Vec<pb::CaseInput> = (0..CRASH_ROWS).map(valid_case).collect();

    // Half the file, then the sender waits (as a slow upload does) while intake dies.
    let (tx, rx) = tokio::sync::mpsc::channel::<pb::SubmitBatchRequest>(16);
    let mut uploading = client.clone();
    let upload = tokio::spawn(async move {
        uploading
            .submit_batch(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
    });
    tx.send(header(&bank_id, "file-v1", CRASH_ROWS))
        .await
        .unwrap();
    for chunk in chunks(cases[..CRASH_ROWS / 2].to_vec(), 1000) {
        tx.send(chunk).await.unwrap();
    }
    let db = sieve_kernel::db::connect(&target, &settings().database)
        .await
        .unwrap();
    let half = loop {
        let batch = sieve_intake::store::find_batch(db.read(), &bank_id, "file-v1")
            .await
            .unwrap();
        if let Some(b) = batch.filter(|b| b.received_cases >= 2_000) {
            break b;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let written = sieve_intake::store::cases_in_rows(db.read(), &half.id, 0, i64::MAX)
        .await
        .unwrap();
    assert!(
        !written.is_empty(),
        "the batch wrote cases before the crash"
    );

    // Nothing of the unfinished batch is a case for any caller.
    let status = client
        .get_case(pb::GetCaseRequest {
            case_id: written[0].id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let batched = client
        .batch_get_cases(pb::BatchGetCasesRequest {
            case_ids: written.iter().take(100).map(|c| c.id.clone()).collect(),
        })
        .await
        .unwrap()
        .into_inner()
        .cases;
    assert!(
        batched.is_empty(),
        "{} cases of the unfinished batch",
        batched.len()
    );
    assert_eq!(all_cases(&mut client, &bank_id).await.len(), 0);
    let rows = client
        .list_batch_rows(pb::ListBatchRowsRequest {
            batch_id: half.id.clone(),
            refused_only: false,
            page: None,
            outcome: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(rows.code(), Code::FailedPrecondition);

    let port = first.addr(INTAKE).port();
    first.crash();
    drop(tx);
    assert!(
        upload.await.unwrap().is_err(),
        "the sender learns the upload broke"
    );

    let lease = Duration::from_millis(sieve_intake::api::BATCH_LEASE_MS as u64 + 1_000);
    let (second, batches) = match resend {
        Resend::NewKeyAfterRestart => {
            let second = base.clone().port(INTAKE, port).start_crashable();
            let mut client = second.intake();
            // The restarted receiver knows its predecessor's batch is dead.
            let aborted = client
                .get_batch(pb::GetBatchRequest {
                    batch_id: half.id.clone(),
                })
                .await
                .unwrap()
                .into_inner()
                .batch
                .unwrap();
            assert_eq!(aborted.status, pb::BatchStatus::Aborted as i32);
            assert!(
                aborted.status_reason.starts_with("ABANDONED"),
                "{}",
                aborted.status_reason
            );
            let done = submit_to(&mut client, &bank_id, "file-v2", cases.clone()).await;
            let b = done.batch.unwrap();
            assert_eq!(
                (b.accepted_cases, b.existing_cases, b.refused_cases),
                (CRASH_ROWS as i64, 0, 0)
            );
            (second, vec![b.batch_id])
        }
        Resend::NewKeyElsewhereBeforeAndAfterTheLease => {
            let second = base.clone().start_crashable();
            let mut client = second.intake();
            // Within the lease the crashed batch may still be alive somewhere: its rows are
            // refused, naming it, not counted as cases that exist.
            let early = submit_to(&mut client, &bank_id, "file-v2", cases.clone()).await;
            let b = early.batch.unwrap();
            let held = written.len() as i64;
            assert!(
                b.refused_cases >= held,
                "{} refused, {held} held",
                b.refused_cases
            );
            assert_eq!(b.existing_cases, 0);
            assert_eq!(b.accepted_cases + b.refused_cases, CRASH_ROWS as i64);
            assert!(
                early
                    .refusals
                    .iter()
                    .all(|r| r.rule == "bank_case_ref.in_unfinished_batch"
                        && r.description.contains(&half.id))
            );
            // After the lease the crashed batch is aborted, and the refused rows come in.
            manual.advance(chrono::Duration::from_std(lease).unwrap());
            let late = submit_to(&mut client, &bank_id, "file-v3", cases.clone()).await;
            let c = late.batch.unwrap();
            assert_eq!(c.accepted_cases, b.refused_cases);
            assert_eq!(c.existing_cases, b.accepted_cases);
            assert_eq!(c.refused_cases, 0);
            (second, vec![b.batch_id, c.batch_id])
        }
        Resend::SameKeyAfterTheLease => {
            let second = base.clone().start_crashable();
            let mut client = second.intake();
            manual.advance(chrono::Duration::from_std(lease).unwrap());
            // The service resolves the abandoned batch itself once the lease lapsed, with no
            // restart and no resubmission to prompt it.
            let swept = tokio::time::timeout(Duration::from_secs(30), async {
                loop {
                    let b = client
                        .get_batch(pb::GetBatchRequest {
                            batch_id: half.id.clone(),
                        })
                        .await
                        .unwrap()
                        .into_inner()
                        .batch
                        .unwrap();
                    if b.status == pb::BatchStatus::Aborted as i32 {
                        return b;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
            .await
            .expect("the sweep aborts the abandoned batch");
            assert!(swept.status_reason.starts_with("ABANDONED"));
            let done = submit_to(&mut client, &bank_id, "file-v1", cases.clone()).await;
            assert!(!done.replayed);
            let b = done.batch.unwrap();
            assert_eq!(b.batch_id, half.id, "the same key is the same batch");
            assert_eq!((b.accepted_cases, b.existing_cases), (CRASH_ROWS as i64, 0));
            (second, vec![b.batch_id])
        }
    };
    let mut client = second.intake();
    let ids: Vec<&str> = batches.iter().map(String::as_str).collect();
    assert_whole(&mut client, &bank_id, &ids).await;
    if !matches!(resend, Resend::SameKeyAfterTheLease) {
        let old = client
            .get_batch(pb::GetBatchRequest {
                batch_id: half.id.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .batch
            .unwrap();
        assert_eq!(old.status, pb::BatchStatus::Aborted as i32);
        assert_eq!(old.accepted_cases, 0);
        assert!(
            sieve_intake::store::cases_in_rows(db.read(), &half.id, 0, i64::MAX)
                .await
                .unwrap()
                .is_empty()
        );
    }
    drop(second);
    let _ = db.close().await;
}

#[tokio::test]
async fn a_crash_mid_batch_then_a_new_key_after_the_restart_loses_nothing() {
    crash_mid_batch_then(Resend::NewKeyAfterRestart).await;
}

#[tokio::test]
async fn a_crash_mid_batch_then_a_new_key_before_and_after_the_lease_loses_nothing() {
    crash_mid_batch_then(Resend::NewKeyElsewhereBeforeAndAfterTheLease).await;
}

#[tokio::test]
async fn a_crash_mid_batch_then_the_same_key_after_the_lease_loses_nothing() {
    crash_mid_batch_then(Resend::SameKeyAfterTheLease).await;
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
