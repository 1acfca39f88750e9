//! Cases as callers read them: only those of completed batches.

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

/// The cases of `ids` whose batches completed, for a batched lookup (`GetCase`).
pub async fn cases_by_id(
    db: &impl ConnectionTrait,
    ids: Vec<String>,
) -> Result<Vec<(String, case::Model)>, DbErr> {
    Ok(case::Entity::find()
        .inner_join(batch::Entity)
        .filter(batch::Column::Status.eq(BatchStatus::Completed))
        .filter(sieve_kernel::lookup::key_in(
            case::Column::Id,
            ids,
            db.get_database_backend(),
        ))
        .all(db)
        .await?
        .into_iter()
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
