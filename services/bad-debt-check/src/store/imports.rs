//! A court's imports of rulings: opened under a lease (the kernel decides whether an import
//! sent again is answered, refused or started again), counted chunk by chunk, finished, and
//! their refusals read back.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Set,
};
use sieve_kernel::bulk::{self, Lease, Standing};
use sieve_kernel::db::Db;

use super::{ImportStatus, import_refusal, new_id, ruling_import};

/// What opening an import found.
pub type OpenedImport = bulk::Opened<ruling_import::Model>;

/// An import to open (`bulk::lease::open`): its key (the court's request id) and what its
/// header says.
pub struct NewImport<'a> {
    pub request_id: &'a str,
    pub court_code: &'a str,
    pub court_name: &'a str,
    pub label: &'a str,
    pub expected: i64,
}

#[async_trait::async_trait]
impl bulk::Uploads for NewImport<'_> {
    type Upload = ruling_import::Model;

    async fn find(&self, txn: &DatabaseTransaction) -> Result<Option<ruling_import::Model>, DbErr> {
        sieve_kernel::db::by_key(
            ruling_import::Entity::find()
                .filter(ruling_import::Column::RequestId.eq(self.request_id)),
            txn,
        )
        .await
    }

    fn standing(i: &ruling_import::Model) -> Standing {
        Standing::of(i.status, i.lease_until_ms)
    }

    async fn restart(
        &self,
        txn: &DatabaseTransaction,
        i: ruling_import::Model,
        lease: Lease,
    ) -> Result<ruling_import::Model, DbErr> {
        // An import that broke off: start its counts again. Rulings it already wrote stay,
        // each an idempotent fact keyed by its number, so re-sending them changes nothing.
        import_refusal::Entity::delete_many()
            .filter(import_refusal::Column::ImportId.eq(i.id.clone()))
            .exec(txn)
            .await?;
        let mut am = i.into_active_model();
        am.status = Set(ImportStatus::Receiving);
        am.expected = Set(self.expected);
        am.received = Set(0);
        am.added = Set(0);
        am.updated = Set(0);
        am.unchanged = Set(0);
        am.refused = Set(0);
        am.started_at_ms = Set(lease.now_ms);
        am.completed_at_ms = Set(None);
        am.lease_until_ms = Set(lease.until_ms);
        am.update(txn).await
    }

    async fn create(
        &self,
        txn: &DatabaseTransaction,
        lease: Lease,
    ) -> Result<ruling_import::Model, DbErr> {
        let model = ruling_import::Model {
            id: new_id(),
            request_id: self.request_id.into(),
            source_court_code: self.court_code.into(),
            source_court_name: self.court_name.into(),
            label: self.label.into(),
            status: ImportStatus::Receiving,
            expected: self.expected,
            received: 0,
            added: 0,
            updated: 0,
            unchanged: 0,
            refused: 0,
            started_at_ms: lease.now_ms,
            completed_at_ms: None,
            lease_until_ms: lease.until_ms,
        };
        ruling_import::Entity::insert(model.clone().into_active_model().reset_all())
            .exec_without_returning(txn)
            .await?;
        Ok(model)
    }
}

/// Counts of one chunk of an import.
#[derive(Debug, Default, Clone, Copy)]
pub struct ImportCounts {
    pub received: i64,
    pub added: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub refused: i64,
}

pub async fn bump_import<C: ConnectionTrait>(
    conn: &C,
    import_id: &str,
    c: ImportCounts,
    lease_until_ms: i64,
) -> Result<(), DbErr> {
    use sea_orm::sea_query::ExprTrait;
    ruling_import::Entity::update_many()
        .filter(ruling_import::Column::Id.eq(import_id))
        .col_expr(
            ruling_import::Column::Received,
            Expr::col(ruling_import::Column::Received).add(c.received),
        )
        .col_expr(
            ruling_import::Column::Added,
            Expr::col(ruling_import::Column::Added).add(c.added),
        )
        .col_expr(
            ruling_import::Column::Updated,
            Expr::col(ruling_import::Column::Updated).add(c.updated),
        )
        .col_expr(
            ruling_import::Column::Unchanged,
            Expr::col(ruling_import::Column::Unchanged).add(c.unchanged),
        )
        .col_expr(
            ruling_import::Column::Refused,
            Expr::col(ruling_import::Column::Refused).add(c.refused),
        )
        .col_expr(
            ruling_import::Column::LeaseUntilMs,
            Expr::value(lease_until_ms),
        )
        .exec(conn)
        .await?;
    Ok(())
}

pub async fn finish_import(
    db: &Db,
    import_id: &str,
    status: ImportStatus,
    now_ms: i64,
) -> Result<Option<ruling_import::Model>, DbErr> {
    let txn = sieve_kernel::db::begin_write(db).await?;
    ruling_import::Entity::update_many()
        .filter(ruling_import::Column::Id.eq(import_id))
        .col_expr(ruling_import::Column::Status, Expr::value(status))
        .col_expr(ruling_import::Column::CompletedAtMs, Expr::value(now_ms))
        .exec(&txn)
        .await?;
    let m = sieve_kernel::db::by_key(
        ruling_import::Entity::find_by_id(import_id.to_string()),
        &txn,
    )
    .await?;
    txn.commit().await?;
    if status == ImportStatus::Completed {
        // Fresh statistics after a bulk load: without them PostgreSQL's planner may scan
        // millions of rulings per match instead of using the debtor index.
        db.writer().execute_unprepared("ANALYZE ruling").await?;
    }
    Ok(m)
}

pub async fn import_refusals(
    db: &impl ConnectionTrait,
    import_id: &str,
    after_row: i64,
    limit: u64,
) -> Result<Vec<import_refusal::Model>, DbErr> {
    import_refusal::Entity::find()
        .filter(import_refusal::Column::ImportId.eq(import_id))
        .filter(import_refusal::Column::Row.gt(after_row))
        .order_by_asc(import_refusal::Column::Row)
        .limit(limit)
        .all(db)
        .await
}
