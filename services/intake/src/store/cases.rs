//! Cases as callers read them: only those of completed batches.

use std::collections::HashSet;
use std::sync::{PoisonError, RwLock};

use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use sieve_kernel::stage::Stage;

use super::{BatchStatus, batch, case};

/// The cases batch `batch_id` admitted with `after_row < batch_row <= last_row`, in row order.
pub async fn cases_in_rows(
    db: &impl ConnectionTrait,
    batch_id: &str,
    after_row: i64,
    last_row: i64,
) -> Result<Vec<case::Model>, DbErr> {
    case::Entity::find()
        .filter(case::Column::BatchId.eq(batch_id))
        .filter(case::Column::BatchRow.gt(after_row))
        .filter(case::Column::BatchRow.lte(last_row))
        .order_by_asc(case::Column::BatchRow)
        .all(db)
        .await
}

/// A case, once its batch completed: the cases of a batch still being received (or one that
/// broke off) exist for no caller.
pub async fn get_case(db: &impl ConnectionTrait, id: &str) -> Result<Option<case::Model>, DbErr> {
    sieve_kernel::db::by_key(
        case::Entity::find_by_id(id.to_string())
            .inner_join(batch::Entity)
            .filter(batch::Column::Status.eq(BatchStatus::Completed)),
        db,
    )
    .await
}

/// Batches seen completed. Completion is final (a batch leaves RECEIVING once, for COMPLETED
/// or ABORTED, and a completed batch is never purged), so a batch once seen completed need
/// not be read again.
#[derive(Debug, Default)]
pub struct CompletedBatches(RwLock<HashSet<String>>);

impl CompletedBatches {
    fn contains(&self, batch_id: &str) -> bool {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(batch_id)
    }

    fn extend(&self, batch_ids: Vec<String>) {
        self.0
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(batch_ids);
    }
}

/// The cases of `ids` whose batches completed, for a batched lookup (`GetCase`).
///
/// The cases are read by primary key alone and their batches' status apart (once per batch,
/// remembered in `completed`). Joined in one statement, PostgreSQL's planner may drive the
/// join from the batch and read every case of it for each lookup: measured, 2,000 rows read
/// per query of about 30 keys on a fresh table — a million for a bank's million-case batch.
pub async fn cases_by_id(
    db: &impl ConnectionTrait,
    ids: Vec<String>,
    completed: &CompletedBatches,
) -> Result<Vec<(String, case::Model)>, DbErr> {
    let cases = case::Entity::find()
        .filter(sieve_kernel::lookup::key_in(
            case::Column::Id,
            ids,
            db.get_database_backend(),
        ))
        .all(db)
        .await?;
    let mut unknown: Vec<String> = cases
        .iter()
        .filter(|c| !completed.contains(&c.batch_id))
        .map(|c| c.batch_id.clone())
        .collect();
    unknown.sort_unstable();
    unknown.dedup();
    if !unknown.is_empty() {
        let done: Vec<String> = batch::Entity::find()
            .select_only()
            .column(batch::Column::Id)
            .filter(batch::Column::Id.is_in(unknown))
            .filter(batch::Column::Status.eq(BatchStatus::Completed))
            .into_tuple()
            .all(db)
            .await?;
        completed.extend(done);
    }
    Ok(cases
        .into_iter()
        .filter(|c| completed.contains(&c.batch_id))
        .map(|c| (c.id.clone(), c))
        .collect())
}

#[derive(Debug, Default, Clone)]
pub struct CaseFilter {
    pub bank_id: Option<String>,
    pub stage: Option<Stage>,
    pub batch_id: Option<String>,
}

pub async fn list_cases(
    db: &DatabaseConnection,
    filter: &CaseFilter,
    after_id: &str,
    limit: u64,
) -> Result<Vec<case::Model>, DbErr> {
    let mut q = case::Entity::find()
        .inner_join(batch::Entity)
        .filter(batch::Column::Status.eq(BatchStatus::Completed))
        .filter(case::Column::Id.gt(after_id));
    if let Some(b) = &filter.bank_id {
        q = q.filter(case::Column::BankId.eq(b.clone()));
    }
    if let Some(s) = &filter.stage {
        q = q.filter(case::Column::Stage.eq(*s));
    }
    if let Some(b) = &filter.batch_id {
        q = q.filter(case::Column::BatchId.eq(b.clone()));
    }
    q.order_by_asc(case::Column::Id).limit(limit).all(db).await
}
