//! A batch's life: opened under a receiver's lease, the lease renewed, completed (announcing
//! its cases) or aborted with nothing of it kept; and its rows read back.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr,
    EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Set,
};
use sieve_kernel::bulk::{self, Lease, Standing};
use sieve_kernel::db::Db;

use super::{BatchStatus, RowOutcome, batch, batch_row, case, new_id};

pub async fn find_batch(
    db: &impl ConnectionTrait,
    bank_id: &str,
    request_id: &str,
) -> Result<Option<batch::Model>, DbErr> {
    sieve_kernel::db::by_key(
        batch::Entity::find()
            .filter(batch::Column::BankId.eq(bank_id))
            .filter(batch::Column::RequestId.eq(request_id)),
        db,
    )
    .await
}

pub async fn get_batch(db: &impl ConnectionTrait, id: &str) -> Result<Option<batch::Model>, DbErr> {
    sieve_kernel::db::by_key(batch::Entity::find_by_id(id.to_string()), db).await
}

/// Who receives batches in this process: `<host>@<address>/<instance>`. Only one process
/// can be bound to an address on a host, so a batch held under the same `<host>@<address>/`
/// by another instance was left by this receiver before it restarted: it is dead, whatever
/// its lease says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receiver {
    place: String,
    id: String,
}

impl Receiver {
    pub fn new(host: &str, addr: std::net::SocketAddr) -> Self {
        let place = format!("{host}@{addr}/");
        let id = format!("{place}{}", new_id());
        Self { place, id }
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

/// Why writing a batch stopped.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error(transparent)]
    Db(#[from] DbErr),
    /// The batch is no longer this receiver's: its lease lapsed and it was aborted (or
    /// reopened by a retry), so nothing more may be written to it.
    #[error("batch {0} is no longer being received here: its lease lapsed")]
    LeaseLost(String),
}

/// What opening a batch found: the kernel's decision over our rows.
pub type Opened = bulk::Opened<batch::Model>;

/// A batch to open (`bulk::lease::open`): its key `(bank_id, request_id)`, what its header
/// says, and who receives it.
pub struct NewBatch<'a> {
    pub receiver: &'a Receiver,
    pub bank_id: &'a str,
    pub request_id: &'a str,
    pub label: &'a str,
    pub expected: i64,
}

#[async_trait::async_trait]
impl bulk::Uploads for NewBatch<'_> {
    type Upload = batch::Model;

    async fn find(&self, txn: &DatabaseTransaction) -> Result<Option<batch::Model>, DbErr> {
        find_batch(txn, self.bank_id, self.request_id).await
    }

    fn standing(b: &batch::Model) -> Standing {
        Standing::of(b.status, b.lease_until_ms)
    }

    async fn restart(
        &self,
        txn: &DatabaseTransaction,
        b: batch::Model,
        lease: Lease,
    ) -> Result<batch::Model, DbErr> {
        // Aborted, or abandoned by a receiver that died: clear what it left and start over.
        purge_batch_rows(txn, &b.id).await?;
        let mut am = b.into_active_model();
        am.status = Set(BatchStatus::Receiving);
        am.label = Set(self.label.into());
        am.expected_cases = Set(self.expected);
        am.received_cases = Set(0);
        am.accepted_cases = Set(0);
        am.existing_cases = Set(0);
        am.refused_cases = Set(0);
        am.submitted_at_ms = Set(lease.now_ms);
        am.completed_at_ms = Set(None);
        am.lease_until_ms = Set(lease.until_ms);
        am.receiver = Set(self.receiver.id.clone());
        am.status_reason = Set(String::new());
        am.update(txn).await
    }

    async fn create(&self, txn: &DatabaseTransaction, lease: Lease) -> Result<batch::Model, DbErr> {
        let model = batch::Model {
            id: new_id(),
            bank_id: self.bank_id.into(),
            request_id: self.request_id.into(),
            label: self.label.into(),
            status: BatchStatus::Receiving,
            expected_cases: self.expected,
            received_cases: 0,
            accepted_cases: 0,
            existing_cases: 0,
            refused_cases: 0,
            submitted_at_ms: lease.now_ms,
            completed_at_ms: None,
            lease_until_ms: lease.until_ms,
            receiver: self.receiver.id.clone(),
            status_reason: String::new(),
        };
        batch::Entity::insert(model.clone().into_active_model().reset_all())
            .exec_without_returning(txn)
            .await?;
        Ok(model)
    }
}

async fn purge_batch_rows(db: &impl ConnectionTrait, batch_id: &str) -> Result<(), DbErr> {
    case::Entity::delete_many()
        .filter(case::Column::BatchId.eq(batch_id))
        .exec(db)
        .await?;
    batch_row::Entity::delete_many()
        .filter(batch_row::Column::BatchId.eq(batch_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Which receiving batch an abort may end.
pub(super) enum Holder<'a> {
    /// Only while `receiver` holds it (a receiver ending its own batch).
    Receiver(&'a str),
    /// Only once its lease lapsed at `now_ms`, or while the dead `receiver` still holds it.
    Abandoned { now_ms: i64, dead: Option<&'a str> },
}

/// Aborts batch `batch_id` if it is still RECEIVING under `holder`, deleting everything it
/// wrote. The batch row is updated first, so a receiver writing a chunk of it at the same time
/// either commits before (and the lease it renewed stops the abort) or finds it aborted.
pub(super) async fn abort_if(
    conn: &impl ConnectionTrait,
    batch_id: &str,
    holder: Holder<'_>,
    reason: &str,
    now_ms: i64,
) -> Result<bool, DbErr> {
    let mut update = batch::Entity::update_many()
        .filter(batch::Column::Id.eq(batch_id))
        .filter(batch::Column::Status.eq(BatchStatus::Receiving));
    update = match holder {
        Holder::Receiver(r) => update.filter(batch::Column::Receiver.eq(r)),
        Holder::Abandoned { now_ms, dead } => {
            let lapsed = batch::Column::LeaseUntilMs.lte(now_ms);
            match dead {
                Some(dead) => update.filter(
                    sea_orm::Condition::any()
                        .add(lapsed)
                        .add(batch::Column::Receiver.eq(dead)),
                ),
                None => update.filter(lapsed),
            }
        }
    };
    let ended = update
        .col_expr(batch::Column::Status, Expr::value(BatchStatus::Aborted))
        .col_expr(batch::Column::AcceptedCases, Expr::value(0i64))
        .col_expr(batch::Column::ExistingCases, Expr::value(0i64))
        .col_expr(batch::Column::RefusedCases, Expr::value(0i64))
        .col_expr(batch::Column::CompletedAtMs, Expr::value(now_ms))
        .col_expr(batch::Column::StatusReason, Expr::value(reason))
        .exec(conn)
        .await?;
    if ended.rows_affected == 0 {
        return Ok(false);
    }
    purge_batch_rows(conn, batch_id).await?;
    Ok(true)
}

/// Ends a batch that broke while `receiver` held it: nothing of it stays. A batch the
/// receiver no longer holds (aborted by the sweep, reopened by a retry) is left alone.
pub async fn abort_batch(
    db: &Db,
    batch_id: &str,
    receiver: &Receiver,
    reason: &str,
    now_ms: i64,
) -> Result<bool, DbErr> {
    let txn = sieve_kernel::db::begin_write(db).await?;
    let ended = abort_if(
        &txn,
        batch_id,
        Holder::Receiver(&receiver.id),
        reason,
        now_ms,
    )
    .await?;
    txn.commit().await?;
    Ok(ended)
}

/// Why a batch abandoned by its receiver was aborted, for the bank to read.
pub const ABANDONED: &str = "ABANDONED: the receiver stopped before the batch ended; nothing of it \
     was kept. Send the file again, under the same request id or a new one / 接收中断，本批次未保留任何案件，请重新提交";

/// Aborts the batches whose receiver is gone: those whose lease lapsed, and — when
/// `restarted` is this process's receiver — those an earlier instance at the same place left.
/// Returns how many were aborted.
pub async fn abort_abandoned_batches(
    db: &Db,
    now_ms: i64,
    restarted: Option<&Receiver>,
) -> Result<usize, DbErr> {
    let mut condition = sea_orm::Condition::any().add(batch::Column::LeaseUntilMs.lte(now_ms));
    if let Some(me) = restarted {
        condition = condition.add(
            sea_orm::Condition::all()
                .add(batch::Column::Receiver.starts_with(&me.place))
                .add(batch::Column::Receiver.ne(&me.id)),
        );
    }
    let abandoned: Vec<(String, String)> = batch::Entity::find()
        .select_only()
        .column(batch::Column::Id)
        .column(batch::Column::Receiver)
        .filter(batch::Column::Status.eq(BatchStatus::Receiving))
        .filter(condition)
        .into_tuple()
        .all(db.read())
        .await?;
    let mut aborted = 0;
    for (id, holder) in &abandoned {
        let dead = restarted
            .filter(|me| holder.starts_with(&me.place) && *holder != me.id)
            .map(|_| holder.as_str());
        let txn = sieve_kernel::db::begin_write(db).await?;
        if abort_if(
            &txn,
            id,
            Holder::Abandoned { now_ms, dead },
            ABANDONED,
            now_ms,
        )
        .await?
        {
            aborted += 1;
            tracing::warn!(batch = %id, "aborted a batch its receiver abandoned");
        }
        txn.commit().await?;
    }
    Ok(aborted)
}

/// Renews `receiver`'s lease on a batch it is receiving (between chunks, while a slow
/// caller sends). Fails with [`BatchError::LeaseLost`] when the batch is no longer its own.
pub async fn renew_lease(
    db: &Db,
    batch_id: &str,
    receiver: &Receiver,
    lease_until_ms: i64,
) -> Result<(), BatchError> {
    let txn = sieve_kernel::db::begin_write(db).await?;
    hold(&txn, batch_id, receiver, lease_until_ms).await?;
    txn.commit().await?;
    Ok(())
}

/// Renews the lease inside a write, first, so that the batch row is locked for the rest of
/// the transaction and a concurrent abort waits for it.
pub(super) async fn hold(
    conn: &impl ConnectionTrait,
    batch_id: &str,
    receiver: &Receiver,
    lease_until_ms: i64,
) -> Result<(), BatchError> {
    let held = batch::Entity::update_many()
        .filter(batch::Column::Id.eq(batch_id))
        .filter(batch::Column::Status.eq(BatchStatus::Receiving))
        .filter(batch::Column::Receiver.eq(&receiver.id))
        .col_expr(batch::Column::LeaseUntilMs, Expr::value(lease_until_ms))
        .exec(conn)
        .await?;
    if held.rows_affected == 0 {
        return Err(BatchError::LeaseLost(batch_id.to_string()));
    }
    Ok(())
}

/// Completes a batch `receiver` still holds, and announces its cases to the pre-check in the
/// same transaction. From this commit on its cases exist for every caller.
pub async fn complete_batch(
    db: &Db,
    batch_id: &str,
    receiver: &Receiver,
    now_ms: i64,
) -> Result<batch::Model, BatchError> {
    let txn = sieve_kernel::db::begin_write(db).await?;
    let completed = batch::Entity::update_many()
        .filter(batch::Column::Id.eq(batch_id))
        .filter(batch::Column::Status.eq(BatchStatus::Receiving))
        .filter(batch::Column::Receiver.eq(&receiver.id))
        .col_expr(batch::Column::Status, Expr::value(BatchStatus::Completed))
        .col_expr(batch::Column::CompletedAtMs, Expr::value(now_ms))
        .exec(&txn)
        .await?;
    if completed.rows_affected == 0 {
        return Err(BatchError::LeaseLost(batch_id.to_string()));
    }
    let b = get_batch(&txn, batch_id)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("batch {batch_id}")))?;
    // The admitted cases go on to the pre-check (DESIGN.md section 3), in this transaction.
    if b.accepted_cases > 0 {
        let messages = crate::announce::messages(batch_id, b.received_cases)?;
        sieve_kernel::outbox::enqueue(&txn, now_ms, messages).await?;
    }
    txn.commit().await?;
    Ok(b)
}

/// Which rows of a batch to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhichRows {
    All,
    /// The rows that created a case.
    Accepted,
    /// The rows that created none, of this outcome.
    Of(RowOutcome),
}

/// Rows of a batch after `after_row`, in row order: the accepted ones (read from `case`)
/// merged with the existing and refused ones.
pub async fn batch_rows(
    db: &DatabaseConnection,
    batch_id: &str,
    after_row: i64,
    limit: u64,
    which: WhichRows,
) -> Result<Vec<RowRecord>, DbErr> {
    let other = if which == WhichRows::Accepted {
        Vec::new()
    } else {
        let mut other = batch_row::Entity::find()
            .filter(batch_row::Column::BatchId.eq(batch_id))
            .filter(batch_row::Column::Row.gt(after_row));
        if let WhichRows::Of(outcome) = which {
            other = other.filter(batch_row::Column::Outcome.eq(outcome));
        }
        other
            .order_by_asc(batch_row::Column::Row)
            .limit(limit)
            .all(db)
            .await?
    };
    let accepted: Vec<(i64, String, String)> = if matches!(which, WhichRows::Of(_)) {
        Vec::new()
    } else {
        case::Entity::find()
            .select_only()
            .column(case::Column::BatchRow)
            .column(case::Column::BankCaseRef)
            .column(case::Column::Id)
            .filter(case::Column::BatchId.eq(batch_id))
            .filter(case::Column::BatchRow.gt(after_row))
            .order_by_asc(case::Column::BatchRow)
            .limit(limit)
            .into_tuple()
            .all(db)
            .await?
    };
    let mut out: Vec<RowRecord> = Vec::with_capacity(limit as usize);
    let (mut a, mut o) = (
        accepted.into_iter().peekable(),
        other.into_iter().peekable(),
    );
    while out.len() < limit as usize {
        let take_accepted = match (a.peek(), o.peek()) {
            (Some(x), Some(y)) => x.0 < y.row,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        if take_accepted {
            let Some((row, bank_case_ref, case_id)) = a.next() else {
                break;
            };
            out.push(RowRecord::Accepted {
                row,
                bank_case_ref,
                case_id,
            });
        } else {
            let Some(r) = o.next() else { break };
            out.push(RowRecord::Other(r));
        }
    }
    Ok(out)
}

#[derive(Debug, Clone)]
pub enum RowRecord {
    Accepted {
        row: i64,
        bank_case_ref: String,
        case_id: String,
    },
    Other(batch_row::Model),
}
