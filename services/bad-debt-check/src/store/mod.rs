//! The pre-check's storage: entities, migrations and queries. The API composes them inside
//! one write transaction per chunk or call, so a record and its outbox message commit together.

mod certificates;
pub mod entities;
mod imports;
pub mod migration;
mod rulings;

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect,
};
use sieve_kernel::db::Db;

pub use entities::{
    certificate, certificate_counter, check, check_match, check_sequence, import_refusal,
    match_run, ruling, ruling_import, signing_key,
};

pub use certificates::{Application, Applied, Issuer, apply_certificates};
pub use imports::{
    ImportCounts, NewImport, OpenedImport, bump_import, finish_import, import_refusals,
};
pub use rulings::{ImportChunk, Revocation, revoke_ruling, write_import_chunk};

/// An import's status: the words of every upload (the kernel's lease reads them).
pub use sieve_kernel::bulk::UploadStatus as ImportStatus;

pub fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

pub use sieve_kernel::db::insert_all;

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
    sieve_kernel::db::by_key(q, db).await
}

// --- taking and matching -------------------------------------------------------------

/// Takes `n` sequence numbers for new checks: they are `returned + 1 ..= returned + n`. The
/// update holds the `taken` row until commit, so takers commit in number order (see
/// `check_sequence`). Numbers of cases found already taken are simply skipped.
pub async fn take_sequence<C: ConnectionTrait>(conn: &C, n: i64) -> Result<i64, DbErr> {
    use check_sequence::Column;
    use sea_orm::sea_query::ExprTrait;
    let rows = check_sequence::Entity::update_many()
        .col_expr(Column::Value, Expr::col(Column::Value).add(n))
        .filter(Column::Name.eq(check_sequence::TAKEN))
        .exec_with_returning(conn)
        .await?;
    rows.first()
        .map(|r| r.value - n)
        .ok_or_else(|| DbErr::RecordNotFound("check_sequence taken".into()))
}

/// Inserts checks, leaving a case already taken as it is (the first delivery stands).
/// Returns how many were inserted.
pub async fn insert_checks<C: ConnectionTrait>(
    conn: &C,
    checks: Vec<check::Model>,
) -> Result<u64, DbErr> {
    if checks.is_empty() {
        return Ok(0);
    }
    if conn.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        return insert_checks_unnest(conn, checks).await;
    }
    let per = sieve_kernel::db::rows_per_insert::<check::Entity>(conn.get_database_backend());
    let mut inserted = 0;
    let mut it = checks.into_iter().peekable();
    while it.peek().is_some() {
        let part: Vec<check::ActiveModel> = it
            .by_ref()
            .take(per)
            .map(|m| m.into_active_model().reset_all())
            .collect();
        if let sea_orm::TryInsertResult::Inserted(n) = check::Entity::insert_many(part)
            .on_conflict_do_nothing_on([check::Column::CaseId])
            .exec_without_returning(conn)
            .await?
        {
            inserted += n;
        }
    }
    Ok(inserted)
}

/// PostgreSQL: one array per column and `INSERT … SELECT FROM unnest(…)`. A multi-row VALUES
/// of 1,000 cases binds 12,000 parameters, which are built, sent, parsed and planned on every
/// call; eleven arrays are not (measured: a call's insert ~10 ms → ~7 ms).
async fn insert_checks_unnest<C: ConnectionTrait>(
    conn: &C,
    checks: Vec<check::Model>,
) -> Result<u64, DbErr> {
    use sea_orm::Value;
    fn column<T>(checks: &[check::Model], f: impl Fn(&check::Model) -> T) -> Value
    where
        Value: From<Vec<T>>,
    {
        Value::from(checks.iter().map(f).collect::<Vec<T>>())
    }
    let c = checks.as_slice();
    let values = vec![
        column(c, |m| m.id.clone()),
        column(c, |m| m.case_id.clone()),
        column(c, |m| m.bank_id.clone()),
        column(c, |m| m.bank_case_ref.clone()),
        column(c, |m| m.debtor_name.clone()),
        column(c, |m| m.debtor_id_number.clone()),
        column(c, |m| m.principal_fen),
        column(c, |m| m.interest_fen),
        column(c, |m| m.penalty_fen),
        column(c, |m| m.fees_fen),
        column(c, |m| m.seq),
    ];
    // certificate_id is left NULL: a certificate comes later.
    let sql = "INSERT INTO pre_check (id, case_id, bank_id, bank_case_ref, debtor_name, \
               debtor_id_number, principal_fen, interest_fen, penalty_fen, fees_fen, seq) \
               SELECT * FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::varchar[], \
               $5::varchar[], $6::varchar[], $7::bigint[], $8::bigint[], $9::bigint[], \
               $10::bigint[], $11::bigint[]) \
               ON CONFLICT (case_id) DO NOTHING";
    let statement =
        sea_orm::Statement::from_sql_and_values(sea_orm::DatabaseBackend::Postgres, sql, values);
    Ok(conn.execute_raw(statement).await?.rows_affected())
}

/// How far cases have been taken and matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub taken: i64,
    pub matched: i64,
}

impl Progress {
    pub fn waiting(&self) -> i64 {
        self.taken - self.matched
    }
}

async fn counter<C: ConnectionTrait>(conn: &C, name: &str, lock: bool) -> Result<i64, DbErr> {
    let mut q = check_sequence::Entity::find_by_id(name.to_string());
    if lock && conn.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        q = q.lock_exclusive();
    }
    sieve_kernel::db::by_key(q, conn)
        .await?
        .map(|r| r.value)
        .ok_or_else(|| DbErr::RecordNotFound(format!("check_sequence {name}")))
}

pub async fn progress(db: &impl ConnectionTrait) -> Result<Progress, DbErr> {
    Ok(Progress {
        taken: counter(db, check_sequence::TAKEN, false).await?,
        matched: counter(db, check_sequence::MATCHED, false).await?,
    })
}

/// For a run, in its transaction: locks `matched` against other runs (on PostgreSQL;
/// SQLite's write transaction is exclusive already), then reads `taken`. Every case numbered
/// up to that `taken` has committed (see `check_sequence`).
pub async fn progress_for_run<C: ConnectionTrait>(conn: &C) -> Result<Progress, DbErr> {
    let matched = counter(conn, check_sequence::MATCHED, true).await?;
    let taken = counter(conn, check_sequence::TAKEN, false).await?;
    Ok(Progress { taken, matched })
}

pub async fn set_matched<C: ConnectionTrait>(conn: &C, last: i64) -> Result<(), DbErr> {
    check_sequence::Entity::update_many()
        .col_expr(check_sequence::Column::Value, Expr::value(last))
        .filter(check_sequence::Column::Name.eq(check_sequence::MATCHED))
        .exec(conn)
        .await?;
    Ok(())
}

/// Matches the checks with `after < seq <= last` against the standing rulings (terminated
/// on or after `since`, when a recency window is configured) in one set-based statement,
/// recording every pair in `check_match`. Returns the pairs found.
pub async fn match_range<C: ConnectionTrait>(
    conn: &C,
    after: i64,
    last: i64,
    since: Option<&str>,
) -> Result<u64, DbErr> {
    use sea_orm::sea_query::{Alias, ExprTrait, JoinType};
    let (p, r) = (Alias::new("p"), Alias::new("r"));
    let mut select = Query::select();
    select
        .expr(Expr::col((p.clone(), check::Column::Seq)))
        .expr(Expr::col((r.clone(), ruling::Column::Id)))
        .from_as(check::Entity, p.clone())
        .join_as(
            JoinType::InnerJoin,
            ruling::Entity,
            r.clone(),
            Expr::col((r.clone(), ruling::Column::DebtorIdNumber))
                .equals((p.clone(), check::Column::DebtorIdNumber))
                .and(Expr::col((r.clone(), ruling::Column::Revoked)).eq(false)),
        )
        .and_where(Expr::col((p.clone(), check::Column::Seq)).gt(after))
        .and_where(Expr::col((p, check::Column::Seq)).lte(last));
    if let Some(since) = since {
        select.and_where(Expr::col((r, ruling::Column::TerminatedOn)).gte(since));
    }
    let insert = Query::insert()
        .into_table(check_match::Entity)
        .columns([check_match::Column::CheckSeq, check_match::Column::RulingId])
        .select_from(select)
        .map_err(|e| DbErr::Custom(format!("match statement: {e}")))?
        .to_owned();
    Ok(conn.execute(&insert).await?.rows_affected())
}

pub async fn checks_in_range<C: ConnectionTrait>(
    conn: &C,
    after: i64,
    last: i64,
) -> Result<Vec<check::Model>, DbErr> {
    check::Entity::find()
        .filter(check::Column::Seq.gt(after))
        .filter(check::Column::Seq.lte(last))
        .order_by_asc(check::Column::Seq)
        .all(conn)
        .await
}

/// Where a check stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Taken; the next run matches it.
    Pending,
    Matched,
    NoMatch,
}

/// A check with its run and the rulings it matched (as they stand now: revoked or not).
#[derive(Debug, Clone)]
pub struct CheckRecord {
    pub check: check::Model,
    pub run: Option<match_run::Model>,
    pub rulings: Vec<ruling::Model>,
}

impl CheckRecord {
    pub fn outcome(&self) -> Outcome {
        match (&self.run, self.rulings.is_empty()) {
            (None, _) => Outcome::Pending,
            (Some(_), true) => Outcome::NoMatch,
            (Some(_), false) => Outcome::Matched,
        }
    }
}

/// Takes checks for the next matching run in one transaction, numbered in order after those
/// taken before (their `seq` is set here); a case already taken is not taken again. Returns
/// how many were new.
pub async fn take_checks(db: &Db, mut checks: Vec<check::Model>) -> Result<u64, DbErr> {
    let txn = sieve_kernel::db::begin_write(db).await?;
    let before = take_sequence(&txn, checks.len() as i64).await?;
    for (k, c) in checks.iter_mut().enumerate() {
        c.seq = before + 1 + k as i64;
    }
    let accepted = insert_checks(&txn, checks).await?;
    txn.commit().await?;
    Ok(accepted)
}

/// Completes checks into records: their runs and matched rulings.
pub async fn check_records<C: ConnectionTrait>(
    conn: &C,
    checks: Vec<check::Model>,
) -> Result<Vec<CheckRecord>, DbErr> {
    let (Some(low), Some(high)) = (
        checks.iter().map(|c| c.seq).min(),
        checks.iter().map(|c| c.seq).max(),
    ) else {
        return Ok(Vec::new());
    };
    // Every run whose range meets [low, high]; runs are few and large.
    let runs = match_run::Entity::find()
        .filter(match_run::Column::LastSeq.gte(low))
        .filter(match_run::Column::AfterSeq.lt(high))
        .order_by_asc(match_run::Column::LastSeq)
        .all(conn)
        .await?;
    let mut pairs: Vec<check_match::Model> = Vec::new();
    // Matches are written only by runs, and a run counts those it wrote: when the runs of
    // these checks found none, there are none to read (the usual lookup, most cases).
    let seqs: Vec<i64> = if runs.iter().any(|r| r.matches > 0) {
        checks.iter().map(|c| c.seq).collect()
    } else {
        Vec::new()
    };
    for part in seqs.chunks(1000) {
        pairs.extend(
            check_match::Entity::find()
                .filter(check_match::Column::CheckSeq.is_in(part.to_vec()))
                .all(conn)
                .await?,
        );
    }
    let ruling_ids: Vec<String> = pairs.iter().map(|m| m.ruling_id.clone()).collect();
    let mut rulings: HashMap<String, ruling::Model> = HashMap::new();
    for part in ruling_ids.chunks(1000) {
        for r in ruling::Entity::find()
            .filter(ruling::Column::Id.is_in(part.to_vec()))
            .all(conn)
            .await?
        {
            rulings.insert(r.id.clone(), r);
        }
    }
    let mut by_check: HashMap<i64, Vec<ruling::Model>> = HashMap::new();
    for m in pairs {
        if let Some(r) = rulings.get(&m.ruling_id) {
            by_check.entry(m.check_seq).or_default().push(r.clone());
        }
    }
    Ok(checks
        .into_iter()
        .map(|check| {
            let idx = runs.partition_point(|r| r.last_seq < check.seq);
            let run = runs.get(idx).filter(|r| r.after_seq < check.seq).cloned();
            let mut rulings = by_check.remove(&check.seq).unwrap_or_default();
            rulings.sort_by(|a, b| {
                (&a.terminated_on, &a.ruling_number).cmp(&(&b.terminated_on, &b.ruling_number))
            });
            CheckRecord {
                check,
                run,
                rulings,
            }
        })
        .collect())
}

pub async fn checks_by_case<C: ConnectionTrait>(
    conn: &C,
    case_ids: Vec<String>,
) -> Result<Vec<check::Model>, DbErr> {
    let mut out = Vec::with_capacity(case_ids.len());
    for part in case_ids.chunks(1000) {
        out.extend(
            check::Entity::find()
                .filter(sieve_kernel::lookup::key_in(
                    check::Column::CaseId,
                    part.to_vec(),
                    conn.get_database_backend(),
                ))
                .all(conn)
                .await?,
        );
    }
    Ok(out)
}

/// The records of the checks of `case_ids`, each with its case id, for a batched lookup
/// (`GetCheck` by case): the same three queries however many cases.
pub async fn check_records_by_case<C: ConnectionTrait>(
    conn: &C,
    case_ids: Vec<String>,
) -> Result<Vec<(String, CheckRecord)>, DbErr> {
    let checks = checks_by_case(conn, case_ids).await?;
    Ok(check_records(conn, checks)
        .await?
        .into_iter()
        .map(|r| (r.check.case_id.clone(), r))
        .collect())
}

pub async fn get_check(
    db: &impl ConnectionTrait,
    by_id: Option<&str>,
    by_case: Option<&str>,
) -> Result<Option<CheckRecord>, DbErr> {
    let mut q = check::Entity::find();
    if let Some(id) = by_id {
        q = q.filter(check::Column::Id.eq(id));
    }
    if let Some(c) = by_case {
        q = q.filter(check::Column::CaseId.eq(c));
    }
    let Some(found) = sieve_kernel::db::by_key(q, db).await? else {
        return Ok(None);
    };
    Ok(check_records(db, vec![found]).await?.pop())
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
    sieve_kernel::db::by_key(q, db).await
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
    db: &Db,
    key_id: &str,
    public_key: &[u8],
    now_ms: i64,
) -> Result<(), DbErr> {
    let txn = sieve_kernel::db::begin_write(db).await?;
    match sieve_kernel::db::by_key(signing_key::Entity::find_by_id(key_id.to_string()), &txn)
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
