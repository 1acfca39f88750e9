use super::*;
use crate::clock::SharedClock;
use sea_orm::QueryOrder;
use sea_orm_migration::{MigrationTrait, MigratorTrait};
use std::sync::{Arc, Mutex};

struct OutboxOnly;

impl MigratorTrait for OutboxOnly {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(migration::Migration)]
    }
}

/// A receiver that is up: keeps what it is given.
#[derive(Default)]
struct Received(Mutex<Vec<String>>);

#[async_trait]
impl Deliver for Received {
    async fn deliver(&self, message: &OutboxMessage) -> Result<(), DeliveryError> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(message.key.clone());
        Ok(())
    }
}

#[tokio::test]
async fn an_unreachable_receiver_holds_its_own_topic_only() {
    let settings = crate::config::Settings::defaults().expect("defaults");
    let target = crate::db::testing::fresh_target("kernel-outbox");
    let db = crate::db::connect_and_migrate::<OutboxOnly>(&target, &settings.database)
        .await
        .expect("database");
    let clock = Arc::new(crate::clock::ManualClock::new(chrono::Utc::now()));
    let shared: SharedClock = clock.clone();
    let now = shared.now().timestamp_millis();
    let outcomes = sieve_proto::intake::v1::RecordStageOutcomesRequest::default();
    let mut messages: Vec<NewMessage> = (0..4)
        .map(|k| NewMessage::protobuf(TOPIC_STAGE_OUTCOMES, format!("o-{k}"), &outcomes))
        .collect();
    messages.push(NewMessage::protobuf("test.other", "other", &outcomes));
    let txn = crate::db::begin_write(&db).await.expect("begin");
    enqueue(&txn, now, messages).await.expect("enqueue");
    txn.commit().await.expect("commit");

    // Intake is not listening: a port just released refuses connections.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let trust = crate::internal::Trust::from_settings(&crate::internal::testing::settings())
        .expect("trust");
    let channel = crate::internal::channel(
        &format!("http://127.0.0.1:{port}"),
        &settings.server,
        &trust,
    )
    .expect("channel");
    let other = Arc::new(Received::default());
    let routes = Routes::new()
        .to_intake(channel)
        .route("test.other", other.clone());
    let relay = Relay::new(db.clone(), Arc::new(routes), shared, settings.outbox);

    let pass = relay.run_once().await.expect("pass");
    // One attempt found intake unreachable; its three others waited untried; the other
    // topic's receiver got its message.
    assert_eq!(
        (pass.claimed, pass.retried, pass.deferred, pass.delivered),
        (5, 1, 3, 1)
    );
    assert_eq!(
        *other.0.lock().expect("received"),
        vec!["other".to_string()]
    );
    let held = Entity::find()
        .filter(Column::Topic.eq(TOPIC_STAGE_OUTCOMES))
        .order_by_asc(Column::Id)
        .all(db.read())
        .await
        .expect("held");
    assert_eq!(
        held.iter().map(|m| m.attempts).collect::<Vec<_>>(),
        vec![1, 0, 0, 0]
    );
    assert!(
        held.iter()
            .all(|m| m.next_attempt_at_ms == held[0].next_attempt_at_ms
                && m.next_attempt_at_ms > now
                && m.lease_until_ms.is_none()
                && m.delivered_at_ms.is_none())
    );
    assert!(
        held[1]
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("unreachable")
    );
    // None is due before the backoff passes; then they are claimed again, together.
    assert_eq!(relay.run_once().await.expect("pass").claimed, 0);
    clock.advance(chrono::Duration::seconds(61));
    let pass = relay.run_once().await.expect("pass");
    assert_eq!((pass.claimed, pass.retried, pass.deferred), (4, 1, 3));
    assert_eq!(pending(db.read()).await.expect("pending"), 4);
    if let crate::db::Target::Postgres { url, schema } = &target {
        let _ = crate::db::drop_schema(url, schema).await;
    }
}
