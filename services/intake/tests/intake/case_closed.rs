//! A case preservation was applied for closes: intake tells preservation through its outbox,
//! in the closing transaction, once; a case without the mark tells nobody. Preservation here
//! is a stand-in server that keeps what it is sent.

use std::sync::{Arc, Mutex, PoisonError};

use prost::Message;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use sieve_e2e::{Spawn, eventually};
use sieve_intake::closed::TOPIC_CASE_CLOSED;
use sieve_kernel::outbox;
use sieve_proto::common::v1::Stage;
use sieve_proto::intake::v1 as pb;
use sieve_proto::preservation::v1 as pres;
use sieve_proto::preservation::v1::preservation_service_server::{
    PreservationService, PreservationServiceServer,
};
use tonic::{Request, Response, Status};

use super::case_events::{applied, at, cases, record};
use super::{INTAKE, TestApp, case, outcome, spawn_app, start, timeline};

type Answer<T> = Result<Response<T>, Status>;

fn not_asked<T>() -> Answer<T> {
    Err(Status::unimplemented("intake calls RecordCaseClosed only"))
}

/// Preservation as intake reaches it: keeps every `RecordCaseClosed` it is sent and answers
/// with a preservation lifted.
#[derive(Default, Clone)]
struct Preservation {
    closed: Arc<Mutex<Vec<pres::RecordCaseClosedRequest>>>,
}

impl Preservation {
    fn closed(&self) -> Vec<pres::RecordCaseClosedRequest> {
        self.closed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[tonic::async_trait]
impl PreservationService for Preservation {
    async fn record_case_closed(
        &self,
        r: Request<pres::RecordCaseClosedRequest>,
    ) -> Answer<pres::RecordCaseClosedResponse> {
        let r = r.into_inner();
        let preservation = pres::Preservation {
            preservation_id: format!("pres-{}", r.case_id),
            ..Default::default()
        };
        self.closed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(r);
        Ok(Response::new(pres::RecordCaseClosedResponse {
            preservation: Some(preservation),
        }))
    }

    async fn apply_preservation(
        &self,
        _: Request<pres::ApplyPreservationRequest>,
    ) -> Answer<pres::ApplyPreservationResponse> {
        not_asked()
    }
    async fn rule_on_applications(
        &self,
        _: Request<pres::RuleOnApplicationsRequest>,
    ) -> Answer<pres::RuleOnApplicationsResponse> {
        not_asked()
    }
    async fn get_preservation(
        &self,
        _: Request<pres::GetPreservationRequest>,
    ) -> Answer<pres::GetPreservationResponse> {
        not_asked()
    }
    async fn batch_get_preservations(
        &self,
        _: Request<pres::BatchGetPreservationsRequest>,
    ) -> Answer<pres::BatchGetPreservationsResponse> {
        not_asked()
    }
    async fn list_preservations(
        &self,
        _: Request<pres::ListPreservationsRequest>,
    ) -> Answer<pres::ListPreservationsResponse> {
        not_asked()
    }
    async fn forgo_preservation(
        &self,
        _: Request<pres::ForgoPreservationRequest>,
    ) -> Answer<pres::ForgoPreservationResponse> {
        not_asked()
    }
    async fn record_callback(
        &self,
        _: Request<pres::RecordCallbackRequest>,
    ) -> Answer<pres::RecordCallbackResponse> {
        not_asked()
    }
    async fn record_suit_filed(
        &self,
        _: Request<pres::RecordSuitFiledRequest>,
    ) -> Answer<pres::RecordSuitFiledResponse> {
        not_asked()
    }
    async fn lift_preservation(
        &self,
        _: Request<pres::LiftPreservationRequest>,
    ) -> Answer<pres::LiftPreservationResponse> {
        not_asked()
    }
    async fn renew_freeze(
        &self,
        _: Request<pres::RenewFreezeRequest>,
    ) -> Answer<pres::RenewFreezeResponse> {
        not_asked()
    }
}

/// The stand-in on a port of its own until the test ends, and its URL.
async fn serve(preservation: Preservation) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(PreservationServiceServer::new(preservation))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    format!("http://{addr}")
}

/// Intake's messages to preservation, oldest first.
async fn told(app: &TestApp) -> Vec<outbox::OutboxMessage> {
    let settings = sieve_kernel::internal::testing::settings();
    let db = sieve_kernel::db::connect(&app.target, &settings.database)
        .await
        .unwrap();
    outbox::entity::Entity::find()
        .filter(outbox::entity::Column::Topic.eq(TOPIC_CASE_CLOSED))
        .order_by_asc(outbox::entity::Column::Id)
        .all(db.read())
        .await
        .unwrap()
}

fn request(m: &outbox::OutboxMessage) -> pres::RecordCaseClosedRequest {
    pres::RecordCaseClosedRequest::decode(m.payload.as_slice()).unwrap()
}

async fn settle(app: &mut TestApp, case_id: &str, paid_at: i64) {
    app.client
        .report_settlement(pb::ReportSettlementRequest {
            request_id: "pay-1".into(),
            case_id: case_id.into(),
            paid_fen: 100,
            paid_at: Some(at(paid_at)),
        })
        .await
        .unwrap();
}

async fn withdraw(app: &mut TestApp, case_id: &str) {
    app.client
        .withdraw_case(pb::WithdrawCaseRequest {
            request_id: "w-1".into(),
            case_id: case_id.into(),
            reason: "debtor paid the bank directly".into(),
        })
        .await
        .unwrap();
}

/// Moves `case_id` along `stages` by outcomes, one after the other.
async fn walk(app: &mut TestApp, case_id: &str, stages: &[Stage]) {
    for pair in stages.windows(2) {
        let event = format!("walk-{case_id}-{}", pair[1].as_str_name());
        app.client
            .record_stage_outcome(outcome(&event, case_id, pair[0], pair[1]))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_preserved_case_that_closes_is_told_to_preservation_once_and_an_unmarked_one_is_not() {
    let preservation = Preservation::default();
    let url = serve(preservation.clone()).await;
    let mut app = start(Spawn::new(&[INTAKE]).peer(sieve_intake::PRESERVATION_SERVICE, url)).await;
    let ids = cases(&mut app, 3).await;
    let (settled, unmarked, agreed) = (ids[0].clone(), ids[1].clone(), ids[2].clone());
    walk(
        &mut app,
        &agreed,
        &[Stage::BadDebtCheck, Stage::Preservation],
    )
    .await;
    record(
        &mut app,
        vec![
            applied("preservation:p-1", &settled, 1_000),
            applied("preservation:p-3", &agreed, 1_000),
        ],
    )
    .await;
    settle(&mut app, &settled, 9_000).await;
    settle(&mut app, &unmarked, 9_000).await;
    // The agreement performed ends preservation; enforcement after it tells nothing more.
    walk(
        &mut app,
        &agreed,
        &[
            Stage::Preservation,
            Stage::Mediation,
            Stage::ResolvedByAgreement,
            Stage::EnforcementReferred,
        ],
    )
    .await;

    let written = told(&app).await;
    let keys: Vec<&str> = written.iter().map(|m| m.key.as_str()).collect();
    assert_eq!(
        keys,
        [settled.as_str(), agreed.as_str()],
        "once each, none for the unmarked"
    );
    let settling = timeline(&mut app, &settled).await.pop().unwrap();
    assert_eq!(settling.event_id, format!("settle:{settled}:pay-1"));
    let agreement_id = format!("walk-{agreed}-STAGE_RESOLVED_BY_AGREEMENT");
    let agreement = timeline(&mut app, &agreed)
        .await
        .into_iter()
        .find(|e| e.event_id == agreement_id)
        .unwrap();
    let expected = vec![
        pres::RecordCaseClosedRequest {
            event_id: settling.event_id,
            case_id: settled.clone(),
            closed_stage: Stage::Settled as i32,
            closed_at: Some(at(9_000)),
        },
        pres::RecordCaseClosedRequest {
            event_id: agreement_id,
            case_id: agreed.clone(),
            closed_stage: Stage::ResolvedByAgreement as i32,
            closed_at: agreement.occurred_at,
        },
    ];
    assert_eq!(written.iter().map(request).collect::<Vec<_>>(), expected);

    // The relay delivers them: preservation got exactly what the outbox holds.
    let delivered = eventually("preservation is told", || {
        let preservation = preservation.clone();
        async move {
            let got = preservation.closed();
            if got.len() >= 2 { Ok(got) } else { Err(got) }
        }
    })
    .await;
    let mut delivered = delivered;
    delivered.sort_by_key(|r| r.case_id != settled);
    assert_eq!(delivered, expected);
    eventually("the messages are marked delivered", || {
        let app = &app;
        async move {
            let pending = told(app)
                .await
                .iter()
                .filter(|m| m.delivered_at_ms.is_none())
                .count();
            if pending == 0 { Ok(()) } else { Err(pending) }
        }
    })
    .await;
    app.stop().await;
}

#[tokio::test]
async fn without_preservation_a_closing_waits_in_the_outbox() {
    let mut app = spawn_app().await;
    let ids = cases(&mut app, 2).await;
    let (marked, unmarked) = (ids[0].clone(), ids[1].clone());
    record(&mut app, vec![applied("preservation:p-1", &marked, 1_000)]).await;
    withdraw(&mut app, &marked).await;
    withdraw(&mut app, &unmarked).await;
    let written = told(&app).await;
    assert_eq!(written.len(), 1, "the marked case only");
    assert_eq!(written[0].key, marked);
    assert_eq!(written[0].delivered_at_ms, None, "nobody to deliver to");
    let r = request(&written[0]);
    assert_eq!(r.event_id, format!("withdraw:{marked}:w-1"));
    assert_eq!(r.closed_stage, Stage::Withdrawn as i32);
    assert_eq!(case(&mut app, &marked).await.stage, Stage::Withdrawn as i32);
    app.stop().await;
}
