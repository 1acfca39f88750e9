#![cfg(test)]

use super::*;

#[test]
fn names_round_trip() {
    for s in Stage::ALL {
        assert_eq!(Stage::parse(s.as_str()), Some(s));
    }
    assert_eq!(Stage::parse("bad_debt_check"), None);
}

#[test]
fn stages_are_stored_as_their_names() {
    use sea_orm::{ActiveEnum, Iterable};
    // Every stage, once, in the words stored before the column was typed.
    assert_eq!(Stage::iter().collect::<Vec<_>>(), Stage::ALL);
    for s in Stage::ALL {
        assert_eq!(s.to_value(), s.as_str());
    }
}

#[test]
fn the_chain_in_order() {
    assert!(allows(Submitted, BadDebtCheck));
    assert!(allows(BadDebtCheck, Certifiable));
    assert!(allows(Certifiable, Certified));
    assert!(allows(BadDebtCheck, Preservation));
    assert!(allows(Preservation, Mediation));
    assert!(allows(Mediation, Notarization));
    assert!(allows(Notarization, ResolvedByAgreement));
    assert!(allows(ResolvedByAgreement, EnforcementReferred));
    assert!(allows(Preservation, PaymentOrder));
    assert!(allows(PaymentOrder, Enforceable));
    assert!(allows(PaymentOrder, Litigation));
    assert!(allows(Litigation, Judged));
}

#[test]
fn no_skipping_and_no_way_back() {
    assert!(!allows(Submitted, Certified));
    assert!(!allows(BadDebtCheck, Certified));
    assert!(!allows(BadDebtCheck, Mediation));
    assert!(!allows(Mediation, Preservation));
    assert!(!allows(BadDebtCheck, BadDebtCheck));
}

#[test]
fn closed_cases_stay_closed() {
    for closed in Stage::ALL.into_iter().filter(|s| s.is_closed()) {
        for to in Stage::ALL {
            assert!(!allows(closed, to), "{closed} -> {to}");
        }
    }
}

#[test]
fn any_open_stage_can_settle_or_withdraw() {
    for open in Stage::ALL
        .into_iter()
        .filter(|s| !s.is_closed() && *s != Submitted)
    {
        assert!(allows(open, Settled), "{open}");
        assert!(allows(open, Withdrawn), "{open}");
    }
}

#[test]
fn every_stage_has_its_protobuf_value() {
    for s in Stage::ALL {
        assert_ne!(s.pb(), common::Stage::Unspecified, "{s}");
        assert_eq!(Stage::from_pb(s.pb() as i32), Some(s));
    }
    assert_eq!(Stage::from_pb(common::Stage::Unspecified as i32), None);
    assert_eq!(Stage::from_pb(9_999), None);
}

fn outcome(record: &str) -> StageOutcome {
    StageOutcome {
        source: "preservation",
        record: record.into(),
        case_id: format!("case-{record}"),
        from: Preservation,
        to: Mediation,
        actor: common::Actor::BadDebtCheck,
        reason: "债务人回电 / the debtor called back".into(),
        source_record_id: "(2026)赣0102财保1号".into(),
        occurred_at_ms: 1_780_000_000_000,
    }
}

#[test]
fn an_outcome_is_the_request_intake_takes() {
    let r = outcome("p-1").request();
    assert_eq!(r.event_id, "preservation:p-1");
    assert_eq!(r.case_id, "case-p-1");
    assert_eq!(r.from_stage, common::Stage::Preservation as i32);
    assert_eq!(r.to_stage, common::Stage::Mediation as i32);
    assert_eq!(r.actor, common::Actor::BadDebtCheck as i32);
    assert_eq!(r.reason, "债务人回电 / the debtor called back");
    assert_eq!(r.source_record_id, "(2026)赣0102财保1号");
    assert_eq!(
        r.occurred_at,
        Some(crate::wire::timestamp(1_780_000_000_000))
    );
}

#[test]
fn a_long_record_reference_is_cut_as_intake_keeps_it() {
    let mut o = outcome("p-1");
    o.source_record_id = "号".repeat(300);
    assert_eq!(o.request().source_record_id, "号".repeat(256));
}

mod reporting {
    use prost::Message;
    use sea_orm::{EntityTrait, QueryOrder};
    use sea_orm_migration::{MigrationTrait, MigratorTrait};
    use sieve_proto::intake::v1 as intake;

    use super::outcome;
    use crate::outbox::{self, TOPIC_STAGE_OUTCOME, TOPIC_STAGE_OUTCOMES};
    use crate::stage::{MAX_OUTCOMES_PER_MESSAGE, report, report_many};

    struct OutboxOnly;

    impl MigratorTrait for OutboxOnly {
        fn migrations() -> Vec<Box<dyn MigrationTrait>> {
            vec![Box::new(outbox::migration::Migration)]
        }
    }

    /// An outbox on fresh storage, removed when the first is dropped.
    pub(super) async fn db() -> (crate::db::testing::Scratch, crate::db::Db) {
        let settings = crate::config::Settings::defaults().expect("defaults");
        let scratch = crate::db::testing::Scratch::new("kernel-stage");
        let db = crate::db::connect_and_migrate::<OutboxOnly>(&scratch.0, &settings.database)
            .await
            .expect("database");
        (scratch, db)
    }

    pub(super) async fn messages(db: &crate::db::Db) -> Vec<outbox::OutboxMessage> {
        outbox::entity::Entity::find()
            .order_by_asc(outbox::entity::Column::Id)
            .all(db.writer())
            .await
            .expect("outbox")
    }

    #[tokio::test]
    async fn one_outcome_is_one_message_in_the_callers_transaction() {
        let (_scratch, db) = db().await;
        let txn = crate::db::begin_write(&db).await.expect("begin");
        report(&txn, 7, &outcome("p-1")).await.expect("report");
        // Rolled back: the record it came with was not written, so neither is the outcome.
        txn.rollback().await.expect("rollback");
        assert!(messages(&db).await.is_empty());

        let txn = crate::db::begin_write(&db).await.expect("begin");
        report(&txn, 7, &outcome("p-1")).await.expect("report");
        txn.commit().await.expect("commit");
        let sent = messages(&db).await;
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].topic, TOPIC_STAGE_OUTCOME);
        assert_eq!(sent[0].key, "case-p-1");
        assert_eq!(sent[0].next_attempt_at_ms, 7);
        let request = intake::RecordStageOutcomeRequest::decode(sent[0].payload.as_slice())
            .expect("a RecordStageOutcomeRequest");
        assert_eq!(request, outcome("p-1").request());
    }

    #[tokio::test]
    async fn outcomes_together_are_one_message_per_call_intake_takes() {
        let (_scratch, db) = db().await;
        let outcomes: Vec<_> = (0..=MAX_OUTCOMES_PER_MESSAGE)
            .map(|k| outcome(&format!("p-{k}")))
            .collect();
        let txn = crate::db::begin_write(&db).await.expect("begin");
        report_many(&txn, 7, "preservations", &outcomes[..0])
            .await
            .expect("none");
        report_many(&txn, 7, "preservations", &outcomes)
            .await
            .expect("report");
        txn.commit().await.expect("commit");
        let sent = messages(&db).await;
        assert_eq!(sent.len(), 2, "5,000 and then 1; nothing for none");
        let mut event_ids = Vec::new();
        for m in &sent {
            assert_eq!(m.topic, TOPIC_STAGE_OUTCOMES);
            assert_eq!(m.key, "preservations");
            let batch = intake::RecordStageOutcomesRequest::decode(m.payload.as_slice())
                .expect("a RecordStageOutcomesRequest");
            event_ids.extend(batch.outcomes.into_iter().map(|o| o.event_id));
        }
        let mut expected: Vec<_> = outcomes.iter().map(|o| o.event_id()).collect();
        event_ids.sort();
        expected.sort();
        assert_eq!(event_ids, expected, "each of them once");
    }
}

mod asking_intake {
    use std::sync::{Arc, Mutex, PoisonError};

    use sieve_proto::common::v1 as common;
    use sieve_proto::intake::v1 as intake;
    use sieve_proto::intake::v1::intake_service_server::{IntakeService, IntakeServiceServer};
    use tonic::{Request, Response, Status, Streaming};

    use crate::error::{ErrorCode, reason};
    use crate::stage::{IntakeClient, Stage};

    /// Intake as a stage service sees it: bank `b-1` with case `c-1` in preservation; `down`
    /// answers as an overloaded intake would. It keeps the case events it is sent.
    #[derive(Default)]
    struct FakeIntake {
        events: Received,
    }

    /// The `RecordCaseEvents` calls a fake intake took.
    pub(super) type Received = Arc<Mutex<Vec<intake::RecordCaseEventsRequest>>>;

    type Answer<T> = Result<Response<T>, Status>;

    fn unused<T>() -> Answer<T> {
        Err(Status::unimplemented("not asked by stage services"))
    }

    #[tonic::async_trait]
    impl IntakeService for FakeIntake {
        async fn get_bank(
            &self,
            r: Request<intake::GetBankRequest>,
        ) -> Answer<intake::GetBankResponse> {
            match r.into_inner().key {
                Some(intake::get_bank_request::Key::BankId(id)) if id == "b-1" => {
                    Ok(Response::new(intake::GetBankResponse {
                        bank: Some(intake::Bank {
                            bank_id: id,
                            code: "ICBC-YC".into(),
                            name: "工商银行宜春分行".into(),
                            ..Default::default()
                        }),
                    }))
                }
                Some(intake::get_bank_request::Key::BankId(id)) if id == "down" => {
                    Err(Status::unavailable("overloaded"))
                }
                _ => Err(Status::not_found("no such bank")),
            }
        }

        async fn get_case(
            &self,
            r: Request<intake::GetCaseRequest>,
        ) -> Answer<intake::GetCaseResponse> {
            match r.into_inner().case_id.as_str() {
                "c-1" => Ok(Response::new(intake::GetCaseResponse {
                    case: Some(intake::Case {
                        case_id: "c-1".into(),
                        bank_id: "b-1".into(),
                        stage: common::Stage::Preservation as i32,
                        ..Default::default()
                    }),
                })),
                "down" => Err(Status::internal("broken")),
                _ => Err(Status::not_found("no such case")),
            }
        }

        async fn register_bank(
            &self,
            _: Request<intake::RegisterBankRequest>,
        ) -> Answer<intake::RegisterBankResponse> {
            unused()
        }
        async fn list_banks(
            &self,
            _: Request<intake::ListBanksRequest>,
        ) -> Answer<intake::ListBanksResponse> {
            unused()
        }
        async fn submit_batch(
            &self,
            _: Request<Streaming<intake::SubmitBatchRequest>>,
        ) -> Answer<intake::SubmitBatchResponse> {
            unused()
        }
        async fn submit_cases(
            &self,
            _: Request<intake::SubmitCasesRequest>,
        ) -> Answer<intake::SubmitCasesResponse> {
            unused()
        }
        async fn get_batch(
            &self,
            _: Request<intake::GetBatchRequest>,
        ) -> Answer<intake::GetBatchResponse> {
            unused()
        }
        async fn list_batch_rows(
            &self,
            _: Request<intake::ListBatchRowsRequest>,
        ) -> Answer<intake::ListBatchRowsResponse> {
            unused()
        }
        async fn list_cases(
            &self,
            _: Request<intake::ListCasesRequest>,
        ) -> Answer<intake::ListCasesResponse> {
            unused()
        }
        async fn batch_get_cases(
            &self,
            _: Request<intake::BatchGetCasesRequest>,
        ) -> Answer<intake::BatchGetCasesResponse> {
            unused()
        }
        async fn get_timeline(
            &self,
            _: Request<intake::GetTimelineRequest>,
        ) -> Answer<intake::GetTimelineResponse> {
            unused()
        }
        async fn record_stage_outcome(
            &self,
            _: Request<intake::RecordStageOutcomeRequest>,
        ) -> Answer<intake::RecordStageOutcomeResponse> {
            unused()
        }
        async fn record_stage_outcomes(
            &self,
            _: Request<intake::RecordStageOutcomesRequest>,
        ) -> Answer<intake::RecordStageOutcomesResponse> {
            unused()
        }
        async fn record_deadline_moved(
            &self,
            _: Request<intake::RecordDeadlineMovedRequest>,
        ) -> Answer<intake::RecordDeadlineMovedResponse> {
            unused()
        }
        /// Takes events of `c-1`; any other case is unknown.
        async fn record_case_events(
            &self,
            r: Request<intake::RecordCaseEventsRequest>,
        ) -> Answer<intake::RecordCaseEventsResponse> {
            let r = r.into_inner();
            let results = r
                .events
                .iter()
                .map(|e| {
                    let known = e.case_id == "c-1";
                    intake::CaseEventResult {
                        event_id: e.event_id.clone(),
                        case_id: e.case_id.clone(),
                        duplicate: false,
                        refused_reason: if known { "" } else { reason::NOT_FOUND }.into(),
                        refused_message: if known {
                            String::new()
                        } else {
                            format!("case {} does not exist", e.case_id)
                        },
                    }
                })
                .collect();
            self.events
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(r);
            Ok(Response::new(intake::RecordCaseEventsResponse { results }))
        }
        async fn withdraw_case(
            &self,
            _: Request<intake::WithdrawCaseRequest>,
        ) -> Answer<intake::WithdrawCaseResponse> {
            unused()
        }
        async fn report_settlement(
            &self,
            _: Request<intake::ReportSettlementRequest>,
        ) -> Answer<intake::ReportSettlementResponse> {
            unused()
        }
    }

    /// The fake on a port of its own until the test ends: its URL and what it is sent.
    pub(super) async fn serve() -> (String, Received) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let addr = listener.local_addr().expect("its address");
        let fake = FakeIntake::default();
        let received = fake.events.clone();
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(IntakeServiceServer::new(fake))
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
        );
        (format!("http://{addr}"), received)
    }

    /// A client of the fake.
    async fn client() -> IntakeClient {
        let (url, _) = serve().await;
        IntakeClient::new(crate::internal::testing::channel(&url))
    }

    #[tokio::test]
    async fn the_banks_record() {
        let intake = client().await;
        let bank = intake.bank("b-1").await.expect("the bank");
        assert_eq!(bank.name, "工商银行宜春分行");

        let e = intake.bank("b-2").await.expect_err("unknown");
        assert_eq!((e.code, e.reason), (ErrorCode::NotFound, reason::NOT_FOUND));
        assert_eq!(e.message, "bank b-2 does not exist");

        let e = intake.bank("down").await.expect_err("intake overloaded");
        assert_eq!(
            (e.code, e.reason),
            (ErrorCode::Unavailable, reason::UNAVAILABLE)
        );
        assert_eq!(e.message, "intake did not answer: overloaded");
    }

    #[tokio::test]
    async fn a_case_of_the_bank_in_the_stage() {
        let intake = client().await;
        let case = intake
            .case_of_bank_in_stage("c-1", "b-1", Stage::Preservation)
            .await
            .expect("the case");
        assert_eq!(case.case_id, "c-1");

        let e = intake
            .case_of_bank_in_stage("c-1", "b-1", Stage::Mediation)
            .await
            .expect_err("another stage");
        assert_eq!(
            (e.code, e.reason),
            (ErrorCode::FailedPrecondition, reason::STAGE_MISMATCH)
        );
        assert_eq!(e.message, "case c-1 is in PRESERVATION, not MEDIATION");
        assert_eq!(
            e.metadata.get("current").map(String::as_str),
            Some("PRESERVATION")
        );

        // Another bank's case is as unknown as a case that does not exist.
        for (case, bank) in [("c-1", "b-2"), ("c-2", "b-1")] {
            let e = intake
                .case_of_bank_in_stage(case, bank, Stage::Preservation)
                .await
                .expect_err("not found");
            assert_eq!((e.code, e.reason), (ErrorCode::NotFound, reason::NOT_FOUND));
            assert_eq!(e.message, format!("case {case} does not exist"));
        }

        let e = intake
            .case_of_bank_in_stage("down", "b-1", Stage::Preservation)
            .await
            .expect_err("intake broken");
        assert_eq!(
            (e.code, e.reason),
            (ErrorCode::Unavailable, reason::UNAVAILABLE)
        );
        assert_eq!(e.message, "intake did not answer: broken");
    }
}

mod events;
