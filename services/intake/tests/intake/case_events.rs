//! Acts within a case's stage (`RecordCaseEvents`): on the timeline from and to the stage,
//! once per event id, and the preservation mark they set once.

use prost_types::Timestamp;
use sieve_kernel::error::reason;
use sieve_proto::common::v1::{Actor, Stage};
use sieve_proto::intake::v1 as pb;
use tonic::Code;

use super::{TestApp, case, outcome, refused, register_bank, spawn_app, timeline, valid_case};

/// `n` cases of one bank, admitted (in the pre-check).
pub(super) async fn cases(app: &mut TestApp, n: usize) -> Vec<String> {
    let bank = register_bank(app, "JYRCB").await;
    let rows = app
        .client
        .submit_cases(pb::SubmitCasesRequest {
            bank_id: bank,
            request_id: format!("cases-{n}"),
            cases: (0..n).map(valid_case).collect(),
            label: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .rows;
    rows.into_iter().map(|r| r.case_id).collect()
}

pub(super) fn at(seconds: i64) -> Timestamp {
    Timestamp { seconds, nanos: 0 }
}

/// The bank's application for preservation on `case_id`, as preservation reports it.
pub(super) fn applied(event_id: &str, case_id: &str, seconds: i64) -> pb::CaseEvent {
    pb::CaseEvent {
        event_id: event_id.into(),
        case_id: case_id.into(),
        actor: Actor::Preservation as i32,
        kind: "preservation.applied".into(),
        reason: "申请诉前财产保全 / applied for pre-litigation preservation".into(),
        source_record_id: "(2026)赣0102财保1号".into(),
        occurred_at: Some(at(seconds)),
        preservation_applied: true,
    }
}

pub(super) async fn record(
    app: &mut TestApp,
    events: Vec<pb::CaseEvent>,
) -> Vec<pb::CaseEventResult> {
    app.client
        .record_case_events(pb::RecordCaseEventsRequest { events })
        .await
        .unwrap()
        .into_inner()
        .results
}

/// (duplicate, refused reason) of each result, in order.
fn answers(results: &[pb::CaseEventResult]) -> Vec<(bool, &str)> {
    results
        .iter()
        .map(|r| (r.duplicate, r.refused_reason.as_str()))
        .collect()
}

#[tokio::test]
async fn events_go_on_the_timeline_within_the_stage_once_and_mark_the_case_once() {
    let mut app = spawn_app().await;
    let ids = cases(&mut app, 2).await;
    let (a, b) = (ids[0].clone(), ids[1].clone());
    let before = case(&mut app, &a).await;
    assert_eq!(before.preservation_applied_at, None);

    let mut lifted = applied("freeze-lift:f-1", &a, 2_000);
    lifted.kind = "preservation.freezes_lifted".into();
    lifted.preservation_applied = false;
    let mut kindless = applied("preservation:p-9", &a, 3_000);
    kindless.kind = String::new();
    let results = record(
        &mut app,
        vec![
            applied("preservation:p-1", &a, 1_000),
            // A later application keeps the first one's time.
            applied("preservation:p-2", &a, 5_000),
            lifted,
            applied("preservation:p-3", "no-such-case", 1_000),
            kindless,
        ],
    )
    .await;
    assert_eq!(
        answers(&results),
        [
            (false, ""),
            (false, ""),
            (false, ""),
            (false, reason::NOT_FOUND),
            (false, reason::INVALID_FIELD)
        ]
    );
    assert_eq!(results[3].case_id, "no-such-case");
    assert_eq!(
        results[3].refused_message,
        "case no-such-case does not exist"
    );
    assert_eq!(results[4].event_id, "preservation:p-9");

    let after = case(&mut app, &a).await;
    assert_eq!(after.stage, before.stage, "no stage moved");
    assert_eq!(after.stage_changed_at, before.stage_changed_at);
    assert_eq!(after.version, before.version + 3);
    assert_eq!(after.preservation_applied_at, Some(at(1_000)));
    let events = timeline(&mut app, &a).await;
    assert_eq!(events.len(), 4, "the admission and the three acts");
    let first = &events[1];
    assert_eq!(first.event_id, "preservation:p-1");
    assert_eq!(
        (first.from_stage, first.to_stage),
        (before.stage, before.stage)
    );
    assert_eq!(first.actor, Actor::Preservation as i32);
    assert_eq!(
        first.reason,
        "preservation.applied: 申请诉前财产保全 / applied for pre-litigation preservation"
    );
    assert_eq!(first.source_record_id, "(2026)赣0102财保1号");
    assert_eq!(first.occurred_at, Some(at(1_000)));
    assert!(
        events[3]
            .reason
            .starts_with("preservation.freezes_lifted: ")
    );

    // Delivered again (the relay retries): answered as duplicates, nothing changes.
    let again = record(
        &mut app,
        vec![
            applied("preservation:p-1", &a, 1_000),
            applied("preservation:p-2", &a, 5_000),
        ],
    )
    .await;
    assert_eq!(answers(&again), [(true, ""), (true, "")]);
    assert_eq!(case(&mut app, &a).await.version, after.version);

    // The mark shows wherever a case is read; the unmarked case has none.
    let both = app
        .client
        .batch_get_cases(pb::BatchGetCasesRequest {
            case_ids: ids.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .cases;
    let listed = app
        .client
        .list_cases(pb::ListCasesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .cases;
    for read in [both, listed] {
        let mark = |id: &str| {
            read.iter()
                .find(|c| c.case_id == id)
                .map(|c| c.preservation_applied_at)
        };
        assert_eq!(mark(&a), Some(Some(at(1_000))));
        assert_eq!(mark(&b), Some(None));
    }
    app.stop().await;
}

#[tokio::test]
async fn an_event_id_used_for_another_case_or_a_move_is_refused() {
    let mut app = spawn_app().await;
    let ids = cases(&mut app, 2).await;
    let (a, b) = (ids[0].clone(), ids[1].clone());
    app.client
        .record_stage_outcome(outcome("o-1", &a, Stage::BadDebtCheck, Stage::Preservation))
        .await
        .unwrap();
    let results = record(
        &mut app,
        vec![
            applied("preservation:p-1", &a, 1_000),
            // The id of the event just above, for another case.
            applied("preservation:p-1", &b, 1_000),
            // The id of the outcome that moved the case.
            applied("o-1", &a, 1_000),
        ],
    )
    .await;
    assert_eq!(
        answers(&results),
        [
            (false, ""),
            (false, reason::EVENT_ID_REUSED),
            (false, reason::EVENT_ID_REUSED)
        ]
    );
    assert_eq!(results[1].case_id, b);
    // Written within the stage the case had moved to.
    let events = timeline(&mut app, &a).await;
    let last = events.last().unwrap();
    assert_eq!(last.event_id, "preservation:p-1");
    let preservation = Stage::Preservation as i32;
    assert_eq!(
        (last.from_stage, last.to_stage),
        (preservation, preservation)
    );
    assert_eq!(case(&mut app, &b).await.preservation_applied_at, None);
    assert_eq!(timeline(&mut app, &b).await.len(), 1, "nothing for b");

    // Nor may an outcome take the id of an act within a stage.
    let reused = outcome(
        "preservation:p-1",
        &a,
        Stage::Preservation,
        Stage::Mediation,
    );
    assert_eq!(
        refused(&mut app, reused).await,
        (Code::InvalidArgument, reason::EVENT_ID_REUSED.to_string())
    );
    app.stop().await;
}

#[tokio::test]
async fn more_events_than_a_call_takes_are_refused_whole() {
    let mut app = spawn_app().await;
    let ids = cases(&mut app, 1).await;
    let events = (0..=sieve_intake::api::MAX_EVENTS_PER_CALL)
        .map(|k| applied(&format!("preservation:p-{k}"), &ids[0], 1_000))
        .collect();
    let err = app
        .client
        .record_case_events(pb::RecordCaseEventsRequest { events })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(case(&mut app, &ids[0]).await.version, 1, "nothing written");
    // None is an empty answer.
    assert!(record(&mut app, Vec::new()).await.is_empty());
    app.stop().await;
}
