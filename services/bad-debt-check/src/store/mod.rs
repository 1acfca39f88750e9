//! The pre-check's storage: entities, migrations and queries. The API composes them inside
//! one write transaction per chunk or call, so a record and its outbox message commit together.

pub mod entities;
pub mod migration;

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Set,
};

pub use entities::{
    certificate, certificate_counter, check, import_refusal, ruling, ruling_import, signing_key,
};

pub const IMPORT_RECEIVING: &str = "RECEIVING";
pub const IMPORT_COMPLETED: &str = "COMPLETED";
pub const IMPORT_ABORTED: &str = "ABORTED";
pub const MATCHED: &str = "MATCHED";
pub const NO_MATCH: &str = "NO_MATCH";

pub fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// Inserts models in multi-row statements sized under the bind limit.
pub async fn insert_all<A, C>(conn: &C, models: Vec<A>, columns: usize) -> Result<(), DbErr>
where
    A: ActiveModelTrait + Send,
    C: ConnectionTrait,
{
    let per = sieve_kernel::db::rows_per_insert(conn.get_database_backend(), columns);
    let mut it = models.into_iter().peekable();
    while it.peek().is_some() {
        let part: Vec<A> = it.by_ref().take(per).collect();
        <A::Entity as EntityTrait>::insert_many(part)
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

// --- imports -------------------------------------------------------------------------

pub enum OpenedImport {
    Receiving(ruling_import::Model),
    Completed(ruling_import::Model),
    Busy(ruling_import::Model),
}

#[allow(clippy::too_many_arguments)]
pub async fn open_import(
    db: &DatabaseConnection,
    request_id: &str,
    court_code: &str,
    court_name: &str,
    label: &str,
    expected: i64,
    now_ms: i64,
    lease_until_ms: i64,
) -> Result<OpenedImport, DbErr> {
    let txn = sieve_kernel::db::begin_write(db).await?;
    let existing = ruling_import::Entity::find()
        .filter(ruling_import::Column::RequestId.eq(request_id))
        .one(&txn)
        .await?;
    let opened = match existing {
        Some(i) if i.status == IMPORT_COMPLETED => OpenedImport::Completed(i),
        Some(i) if i.status == IMPORT_RECEIVING && i.lease_until_ms > now_ms => {
            OpenedImport::Busy(i)
        }
        Some(i) => {
            // An import that broke off: start its counts again. Rulings it already wrote stay,
            // each an idempotent fact keyed by its number, so re-sending them changes nothing.
            import_refusal::Entity::delete_many()
                .filter(import_refusal::Column::ImportId.eq(i.id.clone()))
                .exec(&txn)
                .await?;
            let mut am = i.into_active_model();
            am.status = Set(IMPORT_RECEIVING.into());
            am.expected = Set(expected);
            am.received = Set(0);
            am.added = Set(0);
            am.updated = Set(0);
            am.unchanged = Set(0);
            am.refused = Set(0);
            am.started_at_ms = Set(now_ms);
            am.completed_at_ms = Set(None);
            am.lease_until_ms = Set(lease_until_ms);
            OpenedImport::Receiving(am.update(&txn).await?)
        }
        None => {
            let model = ruling_import::Model {
                id: new_id(),
                request_id: request_id.into(),
                source_court_code: court_code.into(),
                source_court_name: court_name.into(),
                label: label.into(),
                status: IMPORT_RECEIVING.into(),
                expected,
                received: 0,
                added: 0,
                updated: 0,
                unchanged: 0,
                refused: 0,
                started_at_ms: now_ms,
                completed_at_ms: None,
                lease_until_ms,
            };
            ruling_import::Entity::insert(model.clone().into_active_model().reset_all())
                .exec_without_returning(&txn)
                .await?;
            OpenedImport::Receiving(model)
        }
    };
    txn.commit().await?;
    Ok(opened)
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
    db: &DatabaseConnection,
    import_id: &str,
    status: &str,
    now_ms: i64,
) -> Result<Option<ruling_import::Model>, DbErr> {
    let txn = sieve_kernel::db::begin_write(db).await?;
    ruling_import::Entity::update_many()
        .filter(ruling_import::Column::Id.eq(import_id))
        .col_expr(ruling_import::Column::Status, Expr::value(status))
        .col_expr(ruling_import::Column::CompletedAtMs, Expr::value(now_ms))
        .exec(&txn)
        .await?;
    let m = ruling_import::Entity::find_by_id(import_id.to_string())
        .one(&txn)
        .await?;
    txn.commit().await?;
    if status == IMPORT_COMPLETED {
        // Fresh statistics after a bulk load: without them PostgreSQL's planner may scan
        // millions of rulings per match instead of using the debtor index.
        db.execute_unprepared("ANALYZE ruling").await?;
    }
    Ok(m)
}

pub async fn import_refusals(
    db: &DatabaseConnection,
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

/// Stored rulings with these numbers.
pub async fn rulings_by_number<C: ConnectionTrait>(
    conn: &C,
    numbers: Vec<String>,
) -> Result<HashMap<String, ruling::Model>, DbErr> {
    let mut out = HashMap::with_capacity(numbers.len());
    for part in numbers.chunks(1000) {
        let found = ruling::Entity::find()
            .filter(ruling::Column::RulingNumber.is_in(part.to_vec()))
            .all(conn)
            .await?;
        out.extend(found.into_iter().map(|r| (r.ruling_number.clone(), r)));
    }
    Ok(out)
}

pub async fn get_ruling(
    db: &impl ConnectionTrait,
    by_id: Option<&str>,
    by_number: Option<&str>,
) -> Result<Option<ruling::Model>, DbErr> {
    let mut q = ruling::Entity::find();
    if let Some(id) = by_id {
        q = q.filter(ruling::Column::Id.eq(id));
    }
    if let Some(n) = by_number {
        q = q.filter(ruling::Column::RulingNumber.eq(n));
    }
    q.one(db).await
}

// --- matching ------------------------------------------------------------------------

/// Standing (not revoked) rulings naming any of these ID numbers, terminated on or after
/// `since` when a recency window is configured.
pub async fn standing_rulings<C: ConnectionTrait>(
    conn: &C,
    id_numbers: Vec<String>,
    since: Option<&str>,
) -> Result<HashMap<String, Vec<ruling::Model>>, DbErr> {
    let mut out: HashMap<String, Vec<ruling::Model>> = HashMap::new();
    for part in id_numbers.chunks(1000) {
        let mut q = ruling::Entity::find()
            .filter(ruling::Column::DebtorIdNumber.is_in(part.to_vec()))
            .filter(ruling::Column::Revoked.eq(false));
        if let Some(since) = since {
            q = q.filter(ruling::Column::TerminatedOn.gte(since));
        }
        for r in q
            .order_by_asc(ruling::Column::TerminatedOn)
            .all(conn)
            .await?
        {
            out.entry(r.debtor_id_number.clone()).or_default().push(r);
        }
    }
    Ok(out)
}

pub async fn checks_by_case<C: ConnectionTrait>(
    conn: &C,
    case_ids: Vec<String>,
) -> Result<HashMap<String, check::Model>, DbErr> {
    let mut out = HashMap::with_capacity(case_ids.len());
    for part in case_ids.chunks(1000) {
        let found = check::Entity::find()
            .filter(check::Column::CaseId.is_in(part.to_vec()))
            .all(conn)
            .await?;
        out.extend(found.into_iter().map(|c| (c.case_id.clone(), c)));
    }
    Ok(out)
}

pub async fn get_check(
    db: &impl ConnectionTrait,
    by_id: Option<&str>,
    by_case: Option<&str>,
) -> Result<Option<check::Model>, DbErr> {
    let mut q = check::Entity::find();
    if let Some(id) = by_id {
        q = q.filter(check::Column::Id.eq(id));
    }
    if let Some(c) = by_case {
        q = q.filter(check::Column::CaseId.eq(c));
    }
    q.one(db).await
}

// --- certificates --------------------------------------------------------------------

/// Takes the next number of a court and year: one row per court and year, bumped in the
/// issuing transaction, so numbers are unique even across replicas.
pub async fn next_sequence<C: ConnectionTrait>(
    conn: &C,
    court_code: &str,
    year: i32,
) -> Result<i64, DbErr> {
    use certificate_counter::Column;
    use sea_orm::sea_query::ExprTrait;
    let stmt = Query::insert()
        .into_table(certificate_counter::Entity)
        .columns([Column::CourtCode, Column::Year, Column::LastSequence])
        .values_panic([court_code.into(), year.into(), 1i64.into()])
        .on_conflict(
            OnConflict::columns([Column::CourtCode, Column::Year])
                .value(
                    Column::LastSequence,
                    Expr::col((certificate_counter::Entity, Column::LastSequence)).add(1),
                )
                .to_owned(),
        )
        .returning_col(Column::LastSequence)
        .to_owned();
    let row = conn
        .query_one(&stmt)
        .await?
        .ok_or_else(|| DbErr::Custom("the certificate counter returned no row".into()))?;
    row.try_get_by_index::<i64>(0)
}

pub async fn get_certificate(
    db: &impl ConnectionTrait,
    id: Option<&str>,
    number: Option<&str>,
    case_id: Option<&str>,
) -> Result<Option<certificate::Model>, DbErr> {
    let mut q = certificate::Entity::find();
    if let Some(v) = id {
        q = q.filter(certificate::Column::Id.eq(v));
    }
    if let Some(v) = number {
        q = q.filter(certificate::Column::Number.eq(v));
    }
    if let Some(v) = case_id {
        q = q.filter(certificate::Column::CaseId.eq(v));
    }
    q.one(db).await
}

/// Certificates naming a ruling number among their bases (for revocation).
pub async fn certificates_citing<C: ConnectionTrait>(
    conn: &C,
    ruling_number: &str,
) -> Result<Vec<certificate::Model>, DbErr> {
    let pattern = format!(
        "%{}%",
        serde_json::to_string(ruling_number).unwrap_or_default()
    );
    certificate::Entity::find()
        .filter(certificate::Column::RulingNumbers.like(pattern))
        .filter(certificate::Column::RevokedAtMs.is_null())
        .all(conn)
        .await
}

pub async fn signing_keys(db: &impl ConnectionTrait) -> Result<Vec<signing_key::Model>, DbErr> {
    signing_key::Entity::find()
        .order_by_asc(signing_key::Column::ActiveFromMs)
        .all(db)
        .await
}

/// Records the public key that signs from now on (once per key id).
pub async fn register_signing_key(
    db: &DatabaseConnection,
    key_id: &str,
    public_key: &[u8],
    now_ms: i64,
) -> Result<(), DbErr> {
    let txn = sieve_kernel::db::begin_write(db).await?;
    match signing_key::Entity::find_by_id(key_id.to_string())
        .one(&txn)
        .await?
    {
        Some(existing) if existing.public_key != public_key => {
            txn.rollback().await?;
            return Err(DbErr::Custom(format!(
                "signing key id `{key_id}` is already registered with another public key; give a new key a new id"
            )));
        }
        Some(_) => {}
        None => {
            signing_key::Entity::insert(
                signing_key::Model {
                    key_id: key_id.into(),
                    public_key: public_key.to_vec(),
                    active_from_ms: now_ms,
                    retired_at_ms: None,
                }
                .into_active_model()
                .reset_all(),
            )
            .exec_without_returning(&txn)
            .await?;
        }
    }
    txn.commit().await
}
