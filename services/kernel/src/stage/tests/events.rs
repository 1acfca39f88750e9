//! Acts within a stage: the request intake takes, the messages `note` writes, and their way
//! through the relay to intake's `RecordCaseEvents`.

use std::sync::{Arc, PoisonError};

use prost::Message;
use sieve_proto::common::v1 as common;
use sieve_proto::intake::v1 as intake;

use super::asking_intake::serve;
use super::reporting::{db, messages};
use crate::outbox::{self, TOPIC_CASE_EVENTS};
use crate::stage::{CaseEvent, MAX_EVENTS_PER_MESSAGE, note};

fn event(record: &str, case_id: &str) -> CaseEvent {
    CaseEvent {
        source: "preservation",
        record: record.into(),
        case_id: case_id.into(),
        actor: common::Actor::Preservation,
        kind: "preservation.applied",
        reason: "申请诉前财产保全 / applied for pre-litigation preservation".into(),
        source_record_id: "(2026)赣0102财保1号".into(),
        occurred_at_ms: 1_780_000_000_000,
        preservation_applied: true,
    }
}

#[test]
fn an_event_is_the_request_intake_takes() {
    let r = event("p-1", "c-1").request();
    assert_eq!(r.event_id, "preservation:p-1");
    assert_eq!(r.case_id, "c-1");
    assert_eq!(r.actor, common::Actor::Preservation as i32);
    assert_eq!(r.kind, "preservation.applied");
    assert_eq!(
        r.reason,
        "申请诉前财产保全 / applied for pre-litigation preservation"
    );
    assert_eq!(r.source_record_id, "(2026)赣0102财保1号");
    assert_eq!(
        r.occurred_at,
        Some(crate::wire::timestamp(1_780_000_000_000))
    );
    assert!(r.preservation_applied);
}

#[test]
fn long_texts_are_cut_as_intake_keeps_them() {
    let mut e = event("p-1", "c-1");
    e.reason = "冻".repeat(2_001);
    e.source_record_id = "号".repeat(300);
    let r = e.request();
    assert_eq!(r.reason, "冻".repeat(2_000), "characters, not bytes");
    assert_eq!(r.source_record_id, "号".repeat(256));
}

#[tokio::test]
async fn events_are_one_message_per_call_intake_takes_in_the_callers_transaction() {
    let (_scratch, db) = db().await;
    let events: Vec<_> = (0..=MAX_EVENTS_PER_MESSAGE)
        .map(|k| event(&format!("p-{k}"), &format!("c-{k}")))
        .collect();
    let txn = crate::db::begin_write(&db).await.expect("begin");
    note(&txn, 7, "freezes", &events).await.expect("note");
    // Rolled back: the record they came with was not written, so neither are they.
    txn.rollback().await.expect("rollback");
    assert!(messages(&db).await.is_empty());

    let txn = crate::db::begin_write(&db).await.expect("begin");
    note(&txn, 7, "freezes", &events[..0]).await.expect("none");
    note(&txn, 7, "freezes", &events).await.expect("note");
    txn.commit().await.expect("commit");
    let sent = messages(&db).await;
    assert_eq!(sent.len(), 2, "5,000 and then 1; nothing for none");
    let mut requests = Vec::new();
    for m in &sent {
        assert_eq!(
            (m.topic.as_str(), m.key.as_str()),
            (TOPIC_CASE_EVENTS, "freezes")
        );
        assert_eq!(m.next_attempt_at_ms, 7);
        let batch = intake::RecordCaseEventsRequest::decode(m.payload.as_slice())
            .expect("a RecordCaseEventsRequest");
        requests.extend(batch.events);
    }
    let by_id = |r: &intake::CaseEvent| r.event_id.clone();
    requests.sort_by_key(by_id);
    let mut expected: Vec<_> = events.iter().map(CaseEvent::request).collect();
    expected.sort_by_key(by_id);
    assert_eq!(requests, expected, "each of them once, as it was noted");
}

#[tokio::test]
async fn noted_events_reach_intake_and_its_refusals_are_not_retried() {
    let (_scratch, db) = db().await;
    let (url, received) = serve().await;
    let settings = crate::config::Settings::defaults().expect("defaults");
    let clock: crate::clock::SharedClock = Arc::new(crate::clock::ManualClock::new(
        chrono::DateTime::from_timestamp_millis(1_780_000_000_000).expect("a time"),
    ));
    let now = clock.now().timestamp_millis();
    // The fake knows c-1 only: c-2 comes back refused as not found.
    let events = [event("p-1", "c-1"), event("p-2", "c-2")];
    let txn = crate::db::begin_write(&db).await.expect("begin");
    note(&txn, now, "preservations", &events)
        .await
        .expect("note");
    txn.commit().await.expect("commit");

    let routes = outbox::Routes::new().to_intake(crate::internal::testing::channel(&url));
    let relay = outbox::Relay::new(db.clone(), Arc::new(routes), clock, settings.outbox);
    let pass = relay.run_once().await.expect("a pass");
    assert_eq!((pass.claimed, pass.delivered), (1, 1));
    assert_eq!(outbox::pending(db.read()).await.expect("pending"), 0);
    let received = received.lock().unwrap_or_else(PoisonError::into_inner);
    let sent: Vec<_> = events.iter().map(CaseEvent::request).collect();
    assert_eq!(received.len(), 1, "one call");
    assert_eq!(received[0].events, sent);
}
