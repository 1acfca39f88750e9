//! Banks: registered once by code, then looked up.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
};
use sieve_kernel::db::Db;

use super::{bank, new_id};

/// Registers a bank, or returns the one with this code as it is.
pub async fn register_bank(
    db: &Db,
    code: &str,
    name: &str,
    callback_phone: &str,
    now_ms: i64,
) -> Result<(bank::Model, bool), DbErr> {
    let txn = sieve_kernel::db::begin_write(db).await?;
    if let Some(existing) = sieve_kernel::db::by_key(
        bank::Entity::find().filter(bank::Column::Code.eq(code)),
        &txn,
    )
    .await?
    {
        txn.commit().await?;
        return Ok((existing, false));
    }
    let model = bank::Model {
        id: new_id(),
        code: code.to_string(),
        name: name.to_string(),
        callback_phone: callback_phone.to_string(),
        registered_at_ms: now_ms,
    };
    bank::Entity::insert(model.clone().into_active_model().reset_all())
        .exec_without_returning(&txn)
        .await?;
    txn.commit().await?;
    Ok((model, true))
}

pub async fn get_bank(db: &impl ConnectionTrait, id: &str) -> Result<Option<bank::Model>, DbErr> {
    sieve_kernel::db::by_key(bank::Entity::find_by_id(id.to_string()), db).await
}

pub async fn get_bank_by_code(
    db: &impl ConnectionTrait,
    code: &str,
) -> Result<Option<bank::Model>, DbErr> {
    sieve_kernel::db::by_key(bank::Entity::find().filter(bank::Column::Code.eq(code)), db).await
}

pub async fn list_banks(
    db: &DatabaseConnection,
    after_code: &str,
    limit: u64,
) -> Result<Vec<bank::Model>, DbErr> {
    bank::Entity::find()
        .filter(bank::Column::Code.gt(after_code))
        .order_by_asc(bank::Column::Code)
        .limit(limit)
        .all(db)
        .await
}
