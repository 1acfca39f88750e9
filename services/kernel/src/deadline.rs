//! Durable deadlines: a legal period running for a record (a payment order's objection
//! period, an installment's due date) is a row in the service's own store, written in the
//! same transaction as the record that starts the clock, and fired by a sweeper once the
//! kernel [`Clock`](crate::clock::Clock) passes its end.
//!
//! The sweeper claims due rows inside a write transaction (PostgreSQL `FOR UPDATE SKIP
//! LOCKED`, so two replicas never claim the same row; SQLite's IMMEDIATE transaction has one
//! writer anyway) and runs the service's handler inside that same transaction, so the stage
//! record the deadline changes, its outbox message and the deadline's FIRED mark commit
//! together or not at all. A crash anywhere leaves the row PENDING and it fires on the next
//! pass. Cancelling (the act happened in time) is a write in the act's transaction.
//!
//! Each row keeps how its end was counted ([`crate::calendar::Deadline`]): the rule, the
//! period, the nominal end, the rest days it moved off, and whether a year had no calendar.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sea_orm::sea_query::{Expr, LockBehavior, LockType, Order, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseTransaction, DbErr, EntityTrait,
    QueryFilter, Set,
};
use tokio::sync::Notify;

use crate::calendar::{self, DayKind};
use crate::clock::SharedClock;
use crate::worker::{Pass, Work, Worker};

pub use entity::Status;
pub const PENDING: Status = Status::Pending;
pub const FIRED: Status = Status::Fired;
pub const CANCELLED: Status = Status::Cancelled;

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "deadline")]
    pub struct Model {
        /// UUIDv7 text.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// What runs out, e.g. `payment_order.objection`; the handler dispatches on it.
        pub kind: String,
        /// The record it runs for (a payment order id). One deadline per kind and subject.
        pub subject: String,
        /// The case it runs in: where a move of its end is written on the timeline.
        pub case_id: String,
        /// The rule that set the period, e.g. `cpl_227.objection_15_days`.
        pub rule: String,
        /// `15d`, `3m` or `24h`.
        pub period: String,
        /// Dates as `YYYY-MM-DD` (Asia/Shanghai).
        pub start_date: String,
        pub nominal_end: String,
        pub end_date: String,
        /// The rest days the end moved off, `YYYY-MM-DD kind` joined by `; `.
        pub moved_off: String,
        pub holiday_calendar_missing: bool,
        /// When it fires: the end of its period.
        pub due_at_ms: i64,
        pub status: Status,
        pub created_at_ms: i64,
        pub closed_at_ms: Option<i64>,
        /// A handler that failed: how often, and why; it is tried again after a backoff.
        pub attempts: i32,
        pub next_try_at_ms: i64,
        pub last_error: Option<String>,
        /// How often a calendar loaded later moved its end; names each move's timeline event.
        pub revision: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}

    /// Where a deadline stands, stored as these words.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
    #[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
    pub enum Status {
        /// Running: the sweeper fires it once its end has passed.
        #[sea_orm(string_value = "PENDING")]
        Pending,
        #[sea_orm(string_value = "FIRED")]
        Fired,
        /// The act happened in time.
        #[sea_orm(string_value = "CANCELLED")]
        Cancelled,
    }
}

pub use entity::Model as DueDeadline;
use entity::{ActiveModel, Column, Entity};

/// The deadline table, for the migrator of every service that keeps deadlines.
pub mod migration {
    use sea_orm_migration::prelude::*;
    use sea_orm_migration::schema::*;

    #[derive(DeriveIden)]
    enum Deadline {
        Table,
        Id,
        Kind,
        Subject,
        CaseId,
        Rule,
        Period,
        StartDate,
        NominalEnd,
        EndDate,
        MovedOff,
        HolidayCalendarMissing,
        DueAtMs,
        Status,
        CreatedAtMs,
        ClosedAtMs,
        Attempts,
        NextTryAtMs,
        LastError,
        Revision,
    }

    pub struct Migration;

    impl MigrationName for Migration {
        fn name(&self) -> &str {
            "m0000_kernel_deadline"
        }
    }

    #[async_trait::async_trait]
    impl MigrationTrait for Migration {
        async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
            m.create_table(
                Table::create()
                    .table(Deadline::Table)
                    .if_not_exists()
                    .col(string(Deadline::Id).primary_key())
                    .col(string(Deadline::Kind))
                    .col(string(Deadline::Subject))
                    .col(string(Deadline::CaseId))
                    .col(string(Deadline::Rule))
                    .col(string(Deadline::Period))
                    .col(string(Deadline::StartDate))
                    .col(string(Deadline::NominalEnd))
                    .col(string(Deadline::EndDate))
                    .col(text(Deadline::MovedOff))
                    .col(boolean(Deadline::HolidayCalendarMissing))
                    .col(big_integer(Deadline::DueAtMs))
                    .col(string(Deadline::Status))
                    .col(big_integer(Deadline::CreatedAtMs))
                    .col(big_integer_null(Deadline::ClosedAtMs))
                    .col(integer(Deadline::Attempts))
                    .col(big_integer(Deadline::NextTryAtMs))
                    .col(text_null(Deadline::LastError))
                    .col(integer(Deadline::Revision))
                    .to_owned(),
            )
            .await?;
            // Scheduling twice is scheduling once.
            m.create_index(
                Index::create()
                    .if_not_exists()
                    .name("uq_deadline_subject")
                    .table(Deadline::Table)
                    .col(Deadline::Kind)
                    .col(Deadline::Subject)
                    .unique()
                    .to_owned(),
            )
            .await?;
            // The sweep scans pending rows by due time.
            m.create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_deadline_due")
                    .table(Deadline::Table)
                    .col(Deadline::Status)
                    .col(Deadline::DueAtMs)
                    .to_owned(),
            )
            .await
        }

        async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
            m.drop_table(Table::drop().table(Deadline::Table).to_owned())
                .await
        }
    }
}

/// The rest days an end moved off, as a deadline stores them.
pub fn moved_off_text(moved: &[(chrono::NaiveDate, DayKind)]) -> String {
    moved
        .iter()
        .map(|(d, k)| match k {
            DayKind::Holiday(name) => format!("{d} {name}"),
            DayKind::Weekend => format!("{d} weekend"),
            DayKind::SwappedWorking => format!("{d} 调休 working day"),
            DayKind::Working => format!("{d} working day"),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Starts the clock for `subject` of the case `case_id` inside the caller's transaction (`db`
/// is that transaction). Scheduling the same kind and subject again changes nothing: the
/// first deadline stands. Count `deadline` with [`crate::calendar::stored::current`], the
/// calendar the court loaded.
pub async fn schedule<C: ConnectionTrait>(
    db: &C,
    kind: &str,
    subject: &str,
    case_id: &str,
    deadline: &calendar::Deadline,
    now_ms: i64,
) -> Result<(), DbErr> {
    schedule_many(
        db,
        &[Scheduled {
            kind,
            subject,
            case_id,
            deadline,
        }],
        now_ms,
    )
    .await
}

/// One clock to start: what runs out, for which record of which case, and when.
#[derive(Debug, Clone, Copy)]
pub struct Scheduled<'a> {
    pub kind: &'a str,
    pub subject: &'a str,
    pub case_id: &'a str,
    pub deadline: &'a calendar::Deadline,
}

/// [`schedule`] for many at once, in multi-row statements (a batch ruling starts thousands).
pub async fn schedule_many<C: ConnectionTrait>(
    db: &C,
    clocks: &[Scheduled<'_>],
    now_ms: i64,
) -> Result<(), DbErr> {
    let per = crate::db::rows_per_insert::<Entity>(db.get_database_backend());
    for part in clocks.chunks(per) {
        let rows = part.iter().map(|c| ActiveModel {
            id: Set(uuid::Uuid::now_v7().simple().to_string()),
            kind: Set(c.kind.to_string()),
            subject: Set(c.subject.to_string()),
            case_id: Set(c.case_id.to_string()),
            rule: Set(c.deadline.rule.to_string()),
            period: Set(c.deadline.period.text()),
            start_date: Set(c.deadline.start.to_string()),
            nominal_end: Set(c.deadline.nominal_end.to_string()),
            end_date: Set(c.deadline.end.to_string()),
            moved_off: Set(moved_off_text(&c.deadline.moved_off)),
            holiday_calendar_missing: Set(c.deadline.holiday_calendar_missing),
            due_at_ms: Set(c.deadline.ends_at.timestamp_millis()),
            status: Set(PENDING),
            created_at_ms: Set(now_ms),
            closed_at_ms: Set(None),
            attempts: Set(0),
            next_try_at_ms: Set(0),
            last_error: Set(None),
            revision: Set(0),
        });
        Entity::insert_many(rows)
            .on_conflict_do_nothing_on([Column::Kind, Column::Subject])
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Stops the clock: the act happened in time. Inside the act's transaction; true when a
/// pending deadline was cancelled (false: none, or it already fired).
pub async fn cancel<C: ConnectionTrait>(
    db: &C,
    kind: &str,
    subject: &str,
    now_ms: i64,
) -> Result<bool, DbErr> {
    Ok(cancel_many(db, kind, &[subject.to_string()], now_ms).await? == 1)
}

/// [`cancel`] for many subjects of one kind; how many pending deadlines it cancelled.
pub async fn cancel_many<C: ConnectionTrait>(
    db: &C,
    kind: &str,
    subjects: &[String],
    now_ms: i64,
) -> Result<u64, DbErr> {
    let mut cancelled = 0;
    for part in subjects.chunks(500) {
        let done = Entity::update_many()
            .filter(Column::Kind.eq(kind))
            .filter(crate::lookup::key_in(
                Column::Subject,
                part.to_vec(),
                db.get_database_backend(),
            ))
            .filter(Column::Status.eq(PENDING))
            .col_expr(Column::Status, Expr::value(CANCELLED))
            .col_expr(Column::ClosedAtMs, Expr::value(now_ms))
            .exec(db)
            .await?;
        cancelled += done.rows_affected;
    }
    Ok(cancelled)
}

/// The deadline of `kind` for `subject`, whatever its state.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    kind: &str,
    subject: &str,
) -> Result<Option<DueDeadline>, DbErr> {
    crate::db::by_key(
        Entity::find()
            .filter(Column::Kind.eq(kind))
            .filter(Column::Subject.eq(subject)),
        db,
    )
    .await
}

/// What a service does when one of its deadlines runs out. It runs inside the sweep's write
/// transaction: what it writes there (the stage record, its outbox message) commits with the
/// deadline's FIRED mark. It must be idempotent by the deadline's id, like every receiver.
#[async_trait]
pub trait OnDue: Send + Sync + 'static {
    async fn fire(&self, txn: &DatabaseTransaction, due: &DueDeadline) -> Result<(), String>;
}

/// Counts of one sweep.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepPass {
    pub fired: usize,
    /// Handlers that failed; their deadlines are tried again after a backoff.
    pub failed: usize,
}

/// Fires due deadlines.
pub struct Sweeper {
    db: crate::db::Db,
    on_due: Arc<dyn OnDue>,
    clock: SharedClock,
    batch_size: u64,
    poll: Duration,
    wake: Arc<Notify>,
}

/// How long a deadline whose handler failed waits before it is tried again (doubling).
const RETRY_BASE_MS: i64 = 1_000;
const RETRY_MAX_MS: i64 = 600_000;

impl Sweeper {
    pub fn new(db: crate::db::Db, on_due: Arc<dyn OnDue>, clock: SharedClock) -> Self {
        Self {
            db,
            on_due,
            clock,
            batch_size: 200,
            poll: Duration::from_millis(500),
            wake: Arc::new(Notify::new()),
        }
    }

    /// Deadlines claimed and fired per transaction.
    pub fn batch_size(mut self, n: u64) -> Self {
        self.batch_size = n.max(1);
        self
    }

    /// How often the clock is looked at. A manual clock wakes the sweeper when it moves, so
    /// what came due fires at once; [`Sweeper::waker`] wakes it too.
    pub fn poll(mut self, every: Duration) -> Self {
        self.poll = every;
        self
    }

    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Due deadlines (only `only`, when given), locked for this transaction.
    async fn claim(
        &self,
        txn: &DatabaseTransaction,
        now: i64,
        limit: u64,
        only: Option<&str>,
    ) -> Result<Vec<DueDeadline>, DbErr> {
        use sea_orm::sea_query::ExprTrait;
        let mut due = Query::select();
        due.column(Column::Id).from(Entity);
        if let Some(id) = only {
            due.and_where(Expr::col(Column::Id).eq(id));
        }
        due.and_where(Expr::col(Column::Status).eq(PENDING))
            .and_where(Expr::col(Column::DueAtMs).lte(now))
            .and_where(Expr::col(Column::NextTryAtMs).lte(now))
            .order_by(Column::DueAtMs, Order::Asc)
            .order_by(Column::Id, Order::Asc)
            .limit(limit);
        if txn.get_database_backend() == DatabaseBackend::Postgres {
            due.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        let mut rows = Entity::find()
            .filter(Column::Id.in_subquery(due))
            .all(txn)
            .await?;
        rows.sort_by(|a, b| (a.due_at_ms, &a.id).cmp(&(b.due_at_ms, &b.id)));
        Ok(rows)
    }

    async fn mark_fired(txn: &DatabaseTransaction, id: &str, now: i64) -> Result<(), DbErr> {
        Entity::update_many()
            .filter(Column::Id.eq(id))
            .filter(Column::Status.eq(PENDING))
            .col_expr(Column::Status, Expr::value(FIRED))
            .col_expr(Column::ClosedAtMs, Expr::value(now))
            .exec(txn)
            .await?;
        Ok(())
    }

    /// One sweep: claims up to `batch_size` due deadlines and fires them in one transaction.
    /// If a handler fails, that transaction is rolled back and the claimed deadlines are
    /// fired one per transaction, so one failing handler holds back only its own deadline.
    pub async fn run_once(&self) -> Result<SweepPass, DbErr> {
        let now = self.clock.now().timestamp_millis();
        let txn = crate::db::begin_write(&self.db).await?;
        let due = self.claim(&txn, now, self.batch_size, None).await?;
        if due.is_empty() {
            txn.commit().await?;
            return Ok(SweepPass::default());
        }
        let mut all_fired = true;
        for d in &due {
            if self.on_due.fire(&txn, d).await.is_err() {
                all_fired = false;
                break;
            }
            Self::mark_fired(&txn, &d.id, now).await?;
        }
        if all_fired {
            txn.commit().await?;
            return Ok(SweepPass {
                fired: due.len(),
                failed: 0,
            });
        }
        txn.rollback().await?;
        let mut pass = SweepPass::default();
        for d in due {
            let txn = crate::db::begin_write(&self.db).await?;
            // Claimed again: another sweeper may have fired it meanwhile (PostgreSQL).
            let Some(d) = self
                .claim(&txn, now, 1, Some(&d.id))
                .await?
                .into_iter()
                .next()
            else {
                txn.commit().await?;
                continue;
            };
            match self.on_due.fire(&txn, &d).await {
                Ok(()) => {
                    Self::mark_fired(&txn, &d.id, now).await?;
                    txn.commit().await?;
                    pass.fired += 1;
                }
                Err(why) => {
                    txn.rollback().await?;
                    pass.failed += 1;
                    let wait = (RETRY_BASE_MS << d.attempts.clamp(0, 20)).min(RETRY_MAX_MS);
                    tracing::warn!(deadline = %d.id, kind = %d.kind, attempts = d.attempts + 1, error = %why, "a deadline's handler failed; it is tried again");
                    let txn = crate::db::begin_write(&self.db).await?;
                    Entity::update_many()
                        .filter(Column::Id.eq(d.id.clone()))
                        .filter(Column::Status.eq(PENDING))
                        .col_expr(Column::Attempts, Expr::value(d.attempts + 1))
                        .col_expr(Column::NextTryAtMs, Expr::value(now + wait))
                        .col_expr(Column::LastError, Expr::value(why))
                        .exec(&txn)
                        .await?;
                    txn.commit().await?;
                }
            }
        }
        Ok(pass)
    }

    /// Runs until `shutdown` resolves, sweeping every poll, at once when woken or a manual
    /// clock moves, and again straight away while full batches keep coming.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        Worker::new(self.poll, self.wake.clone())
            .wake_on_clock(self.clock.as_ref())
            .run(self, shutdown)
            .await;
    }
}

#[async_trait]
impl Work for Sweeper {
    type Error = DbErr;

    async fn pass(&mut self) -> Result<Pass, DbErr> {
        let pass = self.run_once().await?;
        Ok(if pass.fired as u64 >= self.batch_size {
            Pass::Busy
        } else {
            Pass::Idle
        })
    }

    fn failed(&self, _: &DbErr) -> &'static str {
        "deadline sweep failed"
    }
}

mod recount;
pub use recount::{Moved, Recounted, recount};

#[cfg(test)]
mod tests;
