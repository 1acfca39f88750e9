//! The relay: claims due messages under a lease, delivers them, and records each result
//! (delivered, retried after a backoff, held with its unreachable topic, or failed for good).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use sea_orm::sea_query::{Expr, LockBehavior, LockType, Order, Query};
use sea_orm::{ColumnTrait, DatabaseBackend, DbErr, EntityTrait, QueryFilter};
use tokio::sync::Notify;

use super::entity::{Column, Entity};
use super::{Deliver, DeliveryError, OutboxMessage};
use crate::clock::SharedClock;
use crate::config::OutboxSettings;
use crate::worker::{Pass, Work, Worker};

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

    /// Runs until `shutdown` resolves, polling every `poll_interval_ms`, when woken, and when
    /// a manual clock moves (a retry's backoff is counted in clock time).
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let poll = Duration::from_millis(self.settings.poll_interval_ms.max(10));
        Worker::new(poll, self.wake.clone())
            .wake_on_clock(self.clock.as_ref())
            .run(
                Relaying {
                    relay: self,
                    last_purge: None,
                },
                shutdown,
            )
            .await;
    }
}

/// The relay as a worker: an hourly purge, then a pass; busy while a pass delivered or
/// failed something (more may wait behind a full batch).
struct Relaying {
    relay: Relay,
    last_purge: Option<std::time::Instant>,
}

#[async_trait::async_trait]
impl Work for Relaying {
    type Error = DbErr;

    async fn pass(&mut self) -> Result<Pass, DbErr> {
        if self
            .last_purge
            .is_none_or(|t| t.elapsed() > Duration::from_secs(3600))
        {
            self.last_purge = Some(std::time::Instant::now());
            match self.relay.purge_delivered().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    purged = n,
                    "delivered outbox messages past retention removed"
                ),
                Err(e) => tracing::warn!(error = %e, "outbox purge failed"),
            }
        }
        let pass = self.relay.run_once().await?;
        Ok(if pass.delivered + pass.failed == 0 {
            Pass::Idle
        } else {
            Pass::Busy
        })
    }

    fn failed(&self, _: &DbErr) -> &'static str {
        "outbox relay pass failed"
    }
}
