//! The transactional outbox: a stage outcome and the message announcing it commit in one
//! transaction; a relay claims due messages under a lease, delivers them, retries with
//! exponential backoff and marks them done. A crash anywhere leaves the message either
//! undelivered (and re-claimed once its lease lapses) or delivered; receivers are idempotent
//! (intake's `RecordStageOutcome` by event id), so a redelivery changes nothing.
//!
//! Times are stored as milliseconds since the epoch so that due-date comparisons are exact
//! and identical on SQLite and PostgreSQL.

mod receivers;
mod relay;

use async_trait::async_trait;
use prost::Message;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set};

pub use receivers::{IntakeOutcomes, PreCheckCases, Routes, with_outbox_id};
pub use relay::{Relay, RelayPass};

/// Topic of a stage outcome for intake; the payload is a `RecordStageOutcomeRequest`.
pub const TOPIC_STAGE_OUTCOME: &str = "intake.stage_outcome";
/// Topic of a batch of stage outcomes for intake; the payload is a `RecordStageOutcomesRequest`.
pub const TOPIC_STAGE_OUTCOMES: &str = "intake.stage_outcomes";
/// Topic of a running deadline a calendar moved, for the case's timeline at intake; the
/// payload is a `RecordDeadlineMovedRequest`.
pub const TOPIC_DEADLINE_MOVED: &str = "intake.deadline_moved";
/// Topic of acts within cases' stages for their timelines at intake; the payload is a
/// `RecordCaseEventsRequest`.
pub const TOPIC_CASE_EVENTS: &str = "intake.case_events";
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
    let per_insert = crate::db::rows_per_insert::<Entity>(db.get_database_backend());
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
/// Pending (undelivered, not failed) messages: for tests, metrics and operators.
pub async fn pending(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait;
    Entity::find()
        .filter(Column::DeliveredAtMs.is_null())
        .filter(Column::FailedAtMs.is_null())
        .count(db)
        .await
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
mod tests;
