//! The transactional outbox: a stage outcome and the message announcing it commit in one
//! transaction; a relay claims due messages under a lease, delivers them, retries with
//! exponential backoff and marks them done. A crash anywhere leaves the message either
//! undelivered (and re-claimed once its lease lapses) or delivered; receivers are idempotent
//! (intake's `RecordStageOutcome` by event id), so a redelivery changes nothing.
//!
//! Times are stored as milliseconds since the epoch so that due-date comparisons are exact
//! and identical on SQLite and PostgreSQL.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use prost::Message;
use rand::Rng;
use sea_orm::sea_query::{Expr, LockBehavior, LockType, Order, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait, QueryFilter, Set,
};
use tokio::sync::Notify;

use crate::clock::SharedClock;
use crate::config::OutboxSettings;
use crate::internal::InternalChannel;

/// Topic of a stage outcome for intake; the payload is a `RecordStageOutcomeRequest`.
pub const TOPIC_STAGE_OUTCOME: &str = "intake.stage_outcome";
/// Topic of a batch of stage outcomes for intake; the payload is a `RecordStageOutcomesRequest`.
pub const TOPIC_STAGE_OUTCOMES: &str = "intake.stage_outcomes";
/// Topic of cases entering the bad-debt pre-check; the payload is a `CheckCasesRequest`.
pub const TOPIC_CHECK_CASES: &str = "bad_debt_check.check_cases";

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "outbox")]
    pub struct Model {
        /// UUIDv7 text: ordering by id is ordering by creation.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub topic: String,
        /// The record the message is about (a case id), for logs and ordering.
        pub key: String,
        pub payload: Vec<u8>,
        pub created_at_ms: i64,
        pub attempts: i32,
        pub next_attempt_at_ms: i64,
        pub lease_until_ms: Option<i64>,
        pub leased_by: Option<String>,
        pub delivered_at_ms: Option<i64>,
        /// Set when the receiver refused the message for good; kept for an operator.
        pub failed_at_ms: Option<i64>,
        pub last_error: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub use entity::Model as OutboxMessage;
use entity::{ActiveModel, Column, Entity};

/// The outbox table, for every service's migrator to include.
pub mod migration {
    use sea_orm_migration::prelude::*;
    use sea_orm_migration::schema::*;

    #[derive(DeriveIden)]
    enum Outbox {
        Table,
        Id,
        Topic,
        Key,
        Payload,
        CreatedAtMs,
        Attempts,
        NextAttemptAtMs,
        LeaseUntilMs,
        LeasedBy,
        DeliveredAtMs,
        FailedAtMs,
        LastError,
    }

    pub struct Migration;

    impl MigrationName for Migration {
        fn name(&self) -> &str {
            "m0000_kernel_outbox"
        }
    }

    #[async_trait::async_trait]
    impl MigrationTrait for Migration {
        async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
            manager
                .create_table(
                    Table::create()
                        .table(Outbox::Table)
                        .if_not_exists()
                        .col(string(Outbox::Id).primary_key())
                        .col(string(Outbox::Topic))
                        .col(string(Outbox::Key))
                        .col(blob(Outbox::Payload))
                        .col(big_integer(Outbox::CreatedAtMs))
                        .col(integer(Outbox::Attempts))
                        .col(big_integer(Outbox::NextAttemptAtMs))
                        .col(big_integer_null(Outbox::LeaseUntilMs))
                        .col(string_null(Outbox::LeasedBy))
                        .col(big_integer_null(Outbox::DeliveredAtMs))
                        .col(big_integer_null(Outbox::FailedAtMs))
                        .col(text_null(Outbox::LastError))
                        .to_owned(),
                )
                .await?;
            // The relay's claim scans pending messages by due time.
            manager
                .create_index(
                    Index::create()
                        .if_not_exists()
                        .name("idx_outbox_pending")
                        .table(Outbox::Table)
                        .col(Outbox::DeliveredAtMs)
                        .col(Outbox::NextAttemptAtMs)
                        .to_owned(),
                )
                .await
        }

        async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
            manager
                .drop_table(Table::drop().table(Outbox::Table).to_owned())
                .await
        }
    }
}

/// A message to send once the surrounding transaction commits.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub topic: &'static str,
    pub key: String,
    pub payload: Vec<u8>,
}

impl NewMessage {
    pub fn protobuf(topic: &'static str, key: impl Into<String>, msg: &impl Message) -> Self {
        Self {
            topic,
            key: key.into(),
            payload: msg.encode_to_vec(),
        }
    }
}

/// Writes messages inside the caller's transaction (`db` is that transaction).
pub async fn enqueue<C: ConnectionTrait>(
    db: &C,
    now_ms: i64,
    messages: Vec<NewMessage>,
) -> Result<(), DbErr> {
    if messages.is_empty() {
        return Ok(());
    }
    let rows = messages.into_iter().map(|m| ActiveModel {
        id: Set(uuid::Uuid::now_v7().simple().to_string()),
        topic: Set(m.topic.to_string()),
        key: Set(m.key),
        payload: Set(m.payload),
        created_at_ms: Set(now_ms),
        attempts: Set(0),
        next_attempt_at_ms: Set(now_ms),
        lease_until_ms: Set(None),
        leased_by: Set(None),
        delivered_at_ms: Set(None),
        failed_at_ms: Set(None),
        last_error: Set(None),
    });
    let rows: Vec<ActiveModel> = rows.collect();
    let per_insert = crate::db::rows_per_insert(db.get_database_backend(), 12);
    for chunk in rows.chunks(per_insert) {
        Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Why a delivery did not happen.
#[derive(Debug, Clone)]
pub enum DeliveryError {
    /// The receiver is busy or this message could not be prepared: try it again later.
    Retry(String),
    /// The receiver did not answer at all (not listening, connection refused): try again
    /// later, and hold its topic's other messages until then instead of trying each.
    Unreachable(String),
    /// The receiver refused the message for good (it is malformed or contradicts its state).
    Permanent(String),
}

/// Where messages go. One implementation per service dispatches on the message's topic.
#[async_trait]
pub trait Deliver: Send + Sync + 'static {
    async fn deliver(&self, message: &OutboxMessage) -> Result<(), DeliveryError>;
}

/// Counts of one relay pass.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RelayPass {
    pub claimed: usize,
    pub delivered: usize,
    pub retried: usize,
    pub failed: usize,
    /// Not attempted: an earlier message of the same topic found its receiver unreachable.
    pub deferred: usize,
}

/// Delivers what the outbox holds.
pub struct Relay {
    db: crate::db::Db,
    deliver: Arc<dyn Deliver>,
    clock: SharedClock,
    settings: OutboxSettings,
    worker: String,
    wake: Arc<Notify>,
}

impl Relay {
    pub fn new(
        db: crate::db::Db,
        deliver: Arc<dyn Deliver>,
        clock: SharedClock,
        settings: OutboxSettings,
    ) -> Self {
        Self {
            db,
            deliver,
            clock,
            settings,
            worker: uuid::Uuid::new_v4().simple().to_string(),
            wake: Arc::new(Notify::new()),
        }
    }

    /// Notify this after committing messages to have them sent without waiting for the poll.
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Claims up to `batch_size` due messages under a lease. On PostgreSQL with
    /// `FOR UPDATE SKIP LOCKED`, so replicas never claim the same row; SQLite has one writer.
    pub async fn claim(&self) -> Result<Vec<OutboxMessage>, DbErr> {
        use sea_orm::sea_query::ExprTrait;
        let now = self.clock.now().timestamp_millis();
        let lease_until = now + (self.settings.lease_secs as i64) * 1000;
        let backend = self.db.backend();
        let mut due = Query::select();
        due.column(Column::Id)
            .from(Entity)
            .and_where(Expr::col(Column::DeliveredAtMs).is_null())
            .and_where(Expr::col(Column::FailedAtMs).is_null())
            .and_where(Expr::col(Column::NextAttemptAtMs).lte(now))
            .and_where(
                Expr::col(Column::LeaseUntilMs)
                    .is_null()
                    .or(Expr::col(Column::LeaseUntilMs).lt(now)),
            )
            .order_by(Column::Id, Order::Asc)
            .limit(self.settings.batch_size);
        if backend == DatabaseBackend::Postgres {
            due.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        let txn = crate::db::begin_write(&self.db).await?;
        let mut claimed = Entity::update_many()
            .col_expr(Column::LeaseUntilMs, Expr::value(lease_until))
            .col_expr(Column::LeasedBy, Expr::value(self.worker.clone()))
            .filter(Column::Id.in_subquery(due))
            .exec_with_returning(&txn)
            .await?;
        txn.commit().await?;
        claimed.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(claimed)
    }

    fn backoff(&self, attempts: i32) -> Duration {
        let base = self.settings.base_backoff_ms.max(1);
        let exp = base.saturating_mul(1u64 << attempts.clamp(0, 20));
        let capped = exp.min(
            self.settings
                .max_backoff_secs
                .saturating_mul(1000)
                .max(base),
        );
        // ±20% jitter so that a receiver coming back is not hit by every sender at once.
        let jitter = rand::rng().random_range(0.8..1.2);
        Duration::from_millis((capped as f64 * jitter) as u64)
    }

    /// One pass: claim, deliver, record each result.
    ///
    /// Once a topic's receiver is unreachable, the topic's other messages in the pass are not
    /// attempted: they wait as long as the failed one. A receiver down for an hour then costs
    /// one attempt per backoff, not one per message (each attempt may read the database to
    /// build its request).
    pub async fn run_once(&self) -> Result<RelayPass, DbErr> {
        let claimed = self.claim().await?;
        let mut pass = RelayPass {
            claimed: claimed.len(),
            ..Default::default()
        };
        // Topic → (when its messages are due again, why, the messages held).
        let mut held: HashMap<String, (i64, String, Vec<String>)> = HashMap::new();
        for msg in claimed {
            if let Some((_, _, ids)) = held.get_mut(&msg.topic) {
                pass.deferred += 1;
                ids.push(msg.id);
                continue;
            }
            let result = self.deliver.deliver(&msg).await;
            let unreachable = matches!(result, Err(DeliveryError::Unreachable(_)));
            let now = self.clock.now().timestamp_millis();
            let update = Entity::update_many()
                .filter(Column::Id.eq(msg.id.clone()))
                .filter(Column::LeasedBy.eq(self.worker.clone()))
                .col_expr(Column::LeaseUntilMs, Expr::value(Option::<i64>::None));
            let update = match result {
                Ok(()) => {
                    pass.delivered += 1;
                    update.col_expr(Column::DeliveredAtMs, Expr::value(now))
                }
                Err(DeliveryError::Retry(why) | DeliveryError::Unreachable(why)) => {
                    pass.retried += 1;
                    let next = now + self.backoff(msg.attempts).as_millis() as i64;
                    tracing::debug!(id = %msg.id, topic = %msg.topic, attempts = msg.attempts + 1, error = %why, "delivery failed, will retry");
                    if unreachable {
                        held.insert(msg.topic.clone(), (next, why.clone(), Vec::new()));
                    }
                    update
                        .col_expr(Column::Attempts, Expr::value(msg.attempts + 1))
                        .col_expr(Column::NextAttemptAtMs, Expr::value(next))
                        .col_expr(Column::LastError, Expr::value(why))
                }
                Err(DeliveryError::Permanent(why)) => {
                    pass.failed += 1;
                    tracing::error!(id = %msg.id, topic = %msg.topic, key = %msg.key, error = %why, "delivery refused for good; kept in the outbox for an operator");
                    update
                        .col_expr(Column::Attempts, Expr::value(msg.attempts + 1))
                        .col_expr(Column::FailedAtMs, Expr::value(now))
                        .col_expr(Column::LastError, Expr::value(why))
                }
            };
            let txn = crate::db::begin_write(&self.db).await?;
            update.exec(&txn).await?;
            txn.commit().await?;
        }
        for (topic, (next, why, ids)) in held {
            if ids.is_empty() {
                continue;
            }
            tracing::debug!(%topic, held = ids.len(), "receiver unreachable; its other messages wait");
            let txn = crate::db::begin_write(&self.db).await?;
            // Attempts stay as they are: these were not tried.
            Entity::update_many()
                .filter(Column::Id.is_in(ids))
                .filter(Column::LeasedBy.eq(self.worker.clone()))
                .col_expr(Column::LeaseUntilMs, Expr::value(Option::<i64>::None))
                .col_expr(Column::NextAttemptAtMs, Expr::value(next))
                .col_expr(
                    Column::LastError,
                    Expr::value(format!(
                        "held: the receiver of {topic} was unreachable: {why}"
                    )),
                )
                .exec(&txn)
                .await?;
            txn.commit().await?;
        }
        Ok(pass)
    }

    /// Removes messages delivered more than `retention_hours` ago; undelivered and failed ones
    /// stay (an operator needs the failed ones).
    pub async fn purge_delivered(&self) -> Result<u64, DbErr> {
        let cutoff = self.clock.now().timestamp_millis()
            - (self.settings.retention_hours as i64) * 3_600_000;
        let txn = crate::db::begin_write(&self.db).await?;
        let done = Entity::delete_many()
            .filter(Column::DeliveredAtMs.is_not_null())
            .filter(Column::DeliveredAtMs.lt(cutoff))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(done.rows_affected)
    }

    /// Runs until `shutdown` resolves, polling every `poll_interval_ms` or when woken.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let poll = Duration::from_millis(self.settings.poll_interval_ms.max(10));
        let mut last_purge = None::<std::time::Instant>;
        loop {
            if last_purge.is_none_or(|t| t.elapsed() > Duration::from_secs(3600)) {
                last_purge = Some(std::time::Instant::now());
                match self.purge_delivered().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(
                        purged = n,
                        "delivered outbox messages past retention removed"
                    ),
                    Err(e) => tracing::warn!(error = %e, "outbox purge failed"),
                }
            }
            let idle = match self.run_once().await {
                Ok(pass) => pass.delivered + pass.failed == 0,
                Err(e) => {
                    tracing::warn!(error = %e, "outbox relay pass failed");
                    true
                }
            };
            if idle {
                tokio::select! {
                    () = &mut shutdown => return,
                    () = tokio::time::sleep(poll) => {}
                    () = self.wake.notified() => {}
                }
            } else if futures::FutureExt::now_or_never(&mut shutdown).is_some() {
                return;
            }
        }
    }
}

/// Pending (undelivered, not failed) messages: for tests, metrics and operators.
pub async fn pending(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait;
    Entity::find()
        .filter(Column::DeliveredAtMs.is_null())
        .filter(Column::FailedAtMs.is_null())
        .count(db)
        .await
}

/// Delivers each message to the receiver registered for its topic.
#[derive(Default, Clone)]
pub struct Routes {
    routes: HashMap<&'static str, Arc<dyn Deliver>>,
}

impl Routes {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn route(mut self, topic: &'static str, to: Arc<dyn Deliver>) -> Self {
        self.routes.insert(topic, to);
        self
    }

    /// Stage outcomes, single and batched, to intake.
    pub fn to_intake(self, channel: InternalChannel) -> Self {
        let intake: Arc<dyn Deliver> = Arc::new(IntakeOutcomes::new(channel));
        self.route(TOPIC_STAGE_OUTCOME, intake.clone())
            .route(TOPIC_STAGE_OUTCOMES, intake)
    }
}

#[async_trait]
impl Deliver for Routes {
    async fn deliver(&self, message: &OutboxMessage) -> Result<(), DeliveryError> {
        match self.routes.get(message.topic.as_str()) {
            Some(to) => to.deliver(message).await,
            // Not permanent: the receiver may be configured after a restart.
            None => Err(DeliveryError::Retry(format!(
                "no receiver configured for topic {}",
                message.topic
            ))),
        }
    }
}

fn with_outbox_id<T>(msg: T, message: &OutboxMessage) -> tonic::Request<T> {
    let mut request = tonic::Request::new(msg);
    if let Ok(v) = tonic::metadata::MetadataValue::try_from(format!("outbox-{}", message.id)) {
        request.metadata_mut().insert(crate::request_id::HEADER, v);
    }
    request
}

/// Delivers stage outcomes to intake's `RecordStageOutcome(s)`.
pub struct IntakeOutcomes {
    client: sieve_proto::intake::v1::intake_service_client::IntakeServiceClient<InternalChannel>,
}

impl IntakeOutcomes {
    pub fn new(channel: InternalChannel) -> Self {
        Self {
            client: sieve_proto::intake::v1::intake_service_client::IntakeServiceClient::new(
                channel,
            )
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20),
        }
    }
}

impl IntakeOutcomes {
    /// Sends a batch of outcomes on behalf of `message`, which names the delivery.
    pub async fn record_outcomes(
        &self,
        outcomes: sieve_proto::intake::v1::RecordStageOutcomesRequest,
        message: &OutboxMessage,
    ) -> Result<(), DeliveryError> {
        let results = self
            .client
            .clone()
            .record_stage_outcomes(with_outbox_id(outcomes, message))
            .await
            .map_err(|s| classify(&s))?
            .into_inner()
            .results;
        // Intake answered for every outcome; those it refused are the chain telling the
        // reporter it was wrong, which no retry changes: log them for an operator.
        for r in results.iter().filter(|r| !r.refused_reason.is_empty()) {
            tracing::error!(outbox = %message.id, case = %r.case_id, event = %r.event_id, reason = %r.refused_reason, message = %r.refused_message, "intake refused a stage outcome");
        }
        Ok(())
    }
}

#[async_trait]
impl Deliver for IntakeOutcomes {
    async fn deliver(&self, message: &OutboxMessage) -> Result<(), DeliveryError> {
        use sieve_proto::intake::v1::{RecordStageOutcomeRequest, RecordStageOutcomesRequest};
        let undecodable = |e: prost::DecodeError| {
            DeliveryError::Permanent(format!("payload of {} does not decode: {e}", message.topic))
        };
        match message.topic.as_str() {
            TOPIC_STAGE_OUTCOME => {
                let outcome = RecordStageOutcomeRequest::decode(message.payload.as_slice())
                    .map_err(undecodable)?;
                self.client
                    .clone()
                    .record_stage_outcome(with_outbox_id(outcome, message))
                    .await
                    .map_err(|s| classify(&s))?;
                Ok(())
            }
            TOPIC_STAGE_OUTCOMES => {
                let outcomes = RecordStageOutcomesRequest::decode(message.payload.as_slice())
                    .map_err(undecodable)?;
                self.record_outcomes(outcomes, message).await
            }
            other => Err(DeliveryError::Permanent(format!(
                "intake receives no topic {other}"
            ))),
        }
    }
}

/// Delivers cases entering the pre-check to bad-debt-check's `CheckCases`.
pub struct PreCheckCases {
    client: sieve_proto::bad_debt_check::v1::pre_check_service_client::PreCheckServiceClient<
        InternalChannel,
    >,
}

impl PreCheckCases {
    pub fn new(channel: InternalChannel) -> Self {
        Self {
            client: sieve_proto::bad_debt_check::v1::pre_check_service_client::PreCheckServiceClient::new(channel)
                .max_decoding_message_size(64 << 20)
                .max_encoding_message_size(64 << 20),
        }
    }
}

impl PreCheckCases {
    /// Delivers cases to `CheckCases` on behalf of `message`, which names the delivery.
    pub async fn check_cases(
        &self,
        request: sieve_proto::bad_debt_check::v1::CheckCasesRequest,
        message: &OutboxMessage,
    ) -> Result<(), DeliveryError> {
        let refused = self
            .client
            .clone()
            .check_cases(with_outbox_id(request, message))
            .await
            .map_err(|s| classify(&s))?
            .into_inner()
            .refused;
        for r in &refused {
            tracing::error!(outbox = %message.id, case = %r.case_id, refusals = r.refusals.len(), "the pre-check refused a case");
        }
        Ok(())
    }
}

/// Messages written before cases were announced by reference (a `CheckCasesRequest` each).
#[async_trait]
impl Deliver for PreCheckCases {
    async fn deliver(&self, message: &OutboxMessage) -> Result<(), DeliveryError> {
        let request =
            sieve_proto::bad_debt_check::v1::CheckCasesRequest::decode(message.payload.as_slice())
                .map_err(|e| {
                    DeliveryError::Permanent(format!("payload is not a CheckCasesRequest: {e}"))
                })?;
        self.check_cases(request, message).await
    }
}

/// Which gRPC failures are worth retrying.
pub fn classify(status: &tonic::Status) -> DeliveryError {
    use tonic::Code::*;
    let text = format!("{:?}: {}", status.code(), status.message());
    match status.code() {
        InvalidArgument | FailedPrecondition | AlreadyExists | PermissionDenied | Unimplemented
        | OutOfRange => DeliveryError::Permanent(text),
        // tonic answers Unavailable when it could not connect or the connection broke. A
        // receiver refusing our credential takes nothing until the configuration is fixed:
        // for the relay it is as unreachable.
        Unavailable | Unauthenticated => DeliveryError::Unreachable(text),
        _ => DeliveryError::Retry(text),
    }
}

/// Lets a transaction helper run the outbox write with the record write.
pub async fn in_transaction<T, F>(db: &crate::db::Db, f: F) -> Result<T, DbErr>
where
    F: for<'c> FnOnce(
            &'c sea_orm::DatabaseTransaction,
        ) -> futures::future::BoxFuture<'c, Result<T, DbErr>>
        + Send,
    T: Send,
{
    let txn = crate::db::begin_write(db).await?;
    let out = f(&txn).await?;
    txn.commit().await?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::QueryOrder;
    use sea_orm_migration::{MigrationTrait, MigratorTrait};
    use std::sync::Mutex;

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
}
