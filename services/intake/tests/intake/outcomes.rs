//! Cases looked up and moved along the chain: outcomes, deadlines moved, the outbox to intake.

use super::*;

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
    let stale = outcome("e2", &case_id, Stage::Preservation, Stage::Mediation);
    assert_eq!(
        refused(&mut app, stale).await,
        (Code::FailedPrecondition, reason::STAGE_MISMATCH.to_string())
    );

    let case = case(&mut app, &case_id).await;
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
    let timeline = timeline(&mut app, &case_id).await;
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
    let before = case(&mut app, &case_id).await;
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
    let after = case(&mut app, &case_id).await;
    assert_eq!(after.stage, before.stage);
    assert_eq!(after.stage_changed_at, before.stage_changed_at);
    assert_eq!(after.version, before.version + 1);
    let timeline = timeline(&mut app, &case_id).await;
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
    let case = case(&mut app, &case_id).await;
    assert_eq!(case.stage, Stage::Preservation as i32);
    assert_eq!(case.version, 2, "the duplicate changed nothing");
    // Delivered messages are kept for the retention period, then removed.
    assert_eq!(relay.purge_delivered().await.unwrap(), 0);
    clock.advance(chrono::Duration::hours(s.outbox.retention_hours as i64 + 1));
    assert_eq!(relay.purge_delivered().await.unwrap(), 2);
    app.stop().await;
}
