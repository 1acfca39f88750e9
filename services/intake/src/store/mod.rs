//! Intake's storage: entities, migrations and the queries the API needs. Every write that
//! belongs together commits together.

pub mod entities;
pub mod migration;

use std::collections::HashMap;

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Set,
};

pub use entities::{bank, batch, batch_row, case, case_event};

pub const BATCH_RECEIVING: &str = "RECEIVING";
pub const BATCH_COMPLETED: &str = "COMPLETED";
pub const BATCH_ABORTED: &str = "ABORTED";
pub const ROW_EXISTING: &str = "EXISTING";
pub const ROW_REFUSED: &str = "REFUSED";

fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// Registers a bank, or returns the one with this code as it is.
pub async fn register_bank(
    db: &DatabaseConnection,
    code: &str,
    name: &str,
    callback_phone: &str,
    now_ms: i64,
) -> Result<(bank::Model, bool), DbErr> {
    let txn = sieve_kernel::db::begin_write(db).await?;
    if let Some(existing) = bank::Entity::find()
        .filter(bank::Column::Code.eq(code))
        .one(&txn)
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
    bank::Entity::find_by_id(id.to_string()).one(db).await
}

pub async fn get_bank_by_code(
    db: &impl ConnectionTrait,
    code: &str,
) -> Result<Option<bank::Model>, DbErr> {
    bank::Entity::find()
        .filter(bank::Column::Code.eq(code))
        .one(db)
        .await
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

pub async fn find_batch(
    db: &impl ConnectionTrait,
    bank_id: &str,
    request_id: &str,
) -> Result<Option<batch::Model>, DbErr> {
    batch::Entity::find()
        .filter(batch::Column::BankId.eq(bank_id))
        .filter(batch::Column::RequestId.eq(request_id))
        .one(db)
        .await
}

pub async fn get_batch(db: &impl ConnectionTrait, id: &str) -> Result<Option<batch::Model>, DbErr> {
    batch::Entity::find_by_id(id.to_string()).one(db).await
}

/// What opening a batch found.
pub enum Opened {
    /// A new batch (or an abandoned one cleared for a retry), now RECEIVING under our lease.
    Receiving(batch::Model),
    /// The same key was completed before: its result stands.
    Completed(batch::Model),
    /// Another receiver holds the batch right now.
    Busy(batch::Model),
}

/// Opens the batch `(bank_id, request_id)` for receiving, under a lease.
#[allow(clippy::too_many_arguments)]
pub async fn open_batch(
    db: &DatabaseConnection,
    bank_id: &str,
    request_id: &str,
    label: &str,
    expected: i64,
    now_ms: i64,
    lease_until_ms: i64,
) -> Result<Opened, DbErr> {
    let txn = sieve_kernel::db::begin_write(db).await?;
    let opened = match find_batch(&txn, bank_id, request_id).await? {
        Some(b) if b.status == BATCH_COMPLETED => Opened::Completed(b),
        Some(b) if b.status == BATCH_RECEIVING && b.lease_until_ms > now_ms => Opened::Busy(b),
        Some(b) => {
            // Aborted, or abandoned by a receiver that died: clear what it left and start over.
            purge_batch_rows(&txn, &b.id).await?;
            let mut am = b.into_active_model();
            am.status = Set(BATCH_RECEIVING.into());
            am.label = Set(label.into());
            am.expected_cases = Set(expected);
            am.received_cases = Set(0);
            am.accepted_cases = Set(0);
            am.existing_cases = Set(0);
            am.refused_cases = Set(0);
            am.submitted_at_ms = Set(now_ms);
            am.completed_at_ms = Set(None);
            am.lease_until_ms = Set(lease_until_ms);
            Opened::Receiving(am.update(&txn).await?)
        }
        None => {
            let model = batch::Model {
                id: new_id(),
                bank_id: bank_id.into(),
                request_id: request_id.into(),
                label: label.into(),
                status: BATCH_RECEIVING.into(),
                expected_cases: expected,
                received_cases: 0,
                accepted_cases: 0,
                existing_cases: 0,
                refused_cases: 0,
                submitted_at_ms: now_ms,
                completed_at_ms: None,
                lease_until_ms,
            };
            batch::Entity::insert(model.clone().into_active_model().reset_all())
                .exec_without_returning(&txn)
                .await?;
            Opened::Receiving(model)
        }
    };
    txn.commit().await?;
    Ok(opened)
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

/// Ends a batch that broke: nothing of it stays.
pub async fn abort_batch(
    db: &DatabaseConnection,
    batch_id: &str,
    now_ms: i64,
) -> Result<(), DbErr> {
    let txn = sieve_kernel::db::begin_write(db).await?;
    purge_batch_rows(&txn, batch_id).await?;
    batch::Entity::update_many()
        .filter(batch::Column::Id.eq(batch_id))
        .col_expr(batch::Column::Status, Expr::value(BATCH_ABORTED))
        .col_expr(batch::Column::AcceptedCases, Expr::value(0i64))
        .col_expr(batch::Column::ExistingCases, Expr::value(0i64))
        .col_expr(batch::Column::RefusedCases, Expr::value(0i64))
        .col_expr(batch::Column::CompletedAtMs, Expr::value(now_ms))
        .exec(&txn)
        .await?;
    txn.commit().await
}

/// Batches left RECEIVING by a receiver that is gone (its lease lapsed): purge and abort them.
pub async fn abort_abandoned_batches(db: &DatabaseConnection, now_ms: i64) -> Result<usize, DbErr> {
    let abandoned = batch::Entity::find()
        .filter(batch::Column::Status.eq(BATCH_RECEIVING))
        .filter(batch::Column::LeaseUntilMs.lte(now_ms))
        .all(db)
        .await?;
    for b in &abandoned {
        abort_batch(db, &b.id, now_ms).await?;
    }
    Ok(abandoned.len())
}

pub async fn complete_batch(
    db: &DatabaseConnection,
    batch_id: &str,
    now_ms: i64,
) -> Result<batch::Model, DbErr> {
    let txn = sieve_kernel::db::begin_write(db).await?;
    batch::Entity::update_many()
        .filter(batch::Column::Id.eq(batch_id))
        .col_expr(batch::Column::Status, Expr::value(BATCH_COMPLETED))
        .col_expr(batch::Column::CompletedAtMs, Expr::value(now_ms))
        .exec(&txn)
        .await?;
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

/// One chunk of a batch, written in one transaction.
#[derive(Debug, Default)]
pub struct Chunk {
    pub cases: Vec<case::Model>,
    /// Refused rows.
    pub refused: Vec<batch_row::Model>,
    /// Rows received in this chunk (accepted, existing and refused).
    pub received: i64,
}

/// What a chunk turned out to be once written.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ChunkOutcome {
    pub accepted: i64,
    /// (row, case id) of rows whose bank reference was already a case.
    pub existing: Vec<(i64, String)>,
    pub refused: i64,
}

/// Writes a chunk: new cases (a bank reference already known yields the existing case, never
/// a second one), the rows that did not create one, and the batch's counters, all at once.
pub async fn write_chunk(
    db: &DatabaseConnection,
    batch_id: &str,
    bank_id: &str,
    chunk: Chunk,
    lease_until_ms: i64,
) -> Result<ChunkOutcome, DbErr> {
    let backend = db.get_database_backend();
    let per_insert = sieve_kernel::db::rows_per_insert(backend, case::COLUMNS);
    let txn = sieve_kernel::db::begin_write(db).await?;
    let mut outcome = ChunkOutcome {
        refused: chunk.refused.len() as i64,
        ..Default::default()
    };
    let mut rows = chunk.refused;
    let mut cases = chunk.cases.into_iter().peekable();
    while cases.peek().is_some() {
        let part: Vec<case::Model> = cases.by_ref().take(per_insert).collect();
        // (row, bank reference, id we gave it): enough to find out which rows conflicted.
        let keys: Vec<(i64, String, String)> = part
            .iter()
            .map(|c| (c.batch_row, c.bank_case_ref.clone(), c.id.clone()))
            .collect();
        let models: Vec<case::ActiveModel> = part
            .into_iter()
            .map(|m| m.into_active_model().reset_all())
            .collect();
        let inserted = match case::Entity::insert_many(models)
            .on_conflict_do_nothing_on([case::Column::BankId, case::Column::BankCaseRef])
            .exec_without_returning(&txn)
            .await?
        {
            sea_orm::TryInsertResult::Inserted(n) => n,
            _ => 0,
        };
        outcome.accepted += inserted as i64;
        if inserted as usize == keys.len() {
            continue;
        }
        // Some bank references were already cases: the existing case is the row's answer.
        let mut known: HashMap<String, String> = HashMap::new();
        for part in keys.chunks(1000) {
            let refs: Vec<String> = part.iter().map(|k| k.1.clone()).collect();
            let found: Vec<(String, String)> = case::Entity::find()
                .select_only()
                .column(case::Column::BankCaseRef)
                .column(case::Column::Id)
                .filter(case::Column::BankId.eq(bank_id))
                .filter(case::Column::BankCaseRef.is_in(refs))
                .into_tuple()
                .all(&txn)
                .await?;
            known.extend(found);
        }
        for (row, bank_case_ref, our_id) in keys {
            let id = known.remove(&bank_case_ref).ok_or_else(|| {
                DbErr::Custom(format!("case {bank_case_ref} conflicted but was not found"))
            })?;
            if id == our_id {
                continue;
            }
            outcome.existing.push((row, id.clone()));
            rows.push(batch_row::Model {
                batch_id: batch_id.to_string(),
                row,
                bank_case_ref,
                outcome: ROW_EXISTING.into(),
                case_id: Some(id),
                refusals: "[]".into(),
            });
        }
    }
    for part in rows.chunks(sieve_kernel::db::rows_per_insert(
        backend,
        batch_row::COLUMNS,
    )) {
        let models: Vec<batch_row::ActiveModel> = part
            .iter()
            .map(|m| m.clone().into_active_model().reset_all())
            .collect();
        batch_row::Entity::insert_many(models)
            .exec_without_returning(&txn)
            .await?;
    }
    {
        use sea_orm::sea_query::ExprTrait;
        batch::Entity::update_many()
            .filter(batch::Column::Id.eq(batch_id))
            .col_expr(
                batch::Column::ReceivedCases,
                Expr::col(batch::Column::ReceivedCases).add(chunk.received),
            )
            .col_expr(
                batch::Column::AcceptedCases,
                Expr::col(batch::Column::AcceptedCases).add(outcome.accepted),
            )
            .col_expr(
                batch::Column::ExistingCases,
                Expr::col(batch::Column::ExistingCases).add(outcome.existing.len() as i64),
            )
            .col_expr(
                batch::Column::RefusedCases,
                Expr::col(batch::Column::RefusedCases).add(outcome.refused),
            )
            .col_expr(batch::Column::LeaseUntilMs, Expr::value(lease_until_ms))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(outcome)
}

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

/// Rows of a batch after `after_row`, in row order: the accepted ones (read from `case`)
/// merged with the existing and refused ones.
pub async fn batch_rows(
    db: &DatabaseConnection,
    batch_id: &str,
    after_row: i64,
    limit: u64,
    refused_only: bool,
) -> Result<Vec<RowRecord>, DbErr> {
    let mut other = batch_row::Entity::find()
        .filter(batch_row::Column::BatchId.eq(batch_id))
        .filter(batch_row::Column::Row.gt(after_row));
    if refused_only {
        other = other.filter(batch_row::Column::Outcome.eq(ROW_REFUSED));
    }
    let other = other
        .order_by_asc(batch_row::Column::Row)
        .limit(limit)
        .all(db)
        .await?;
    let accepted: Vec<(i64, String, String)> = if refused_only {
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

pub async fn get_case(db: &impl ConnectionTrait, id: &str) -> Result<Option<case::Model>, DbErr> {
    case::Entity::find_by_id(id.to_string()).one(db).await
}

#[derive(Debug, Default, Clone)]
pub struct CaseFilter {
    pub bank_id: Option<String>,
    pub stage: Option<String>,
    pub batch_id: Option<String>,
}

pub async fn list_cases(
    db: &DatabaseConnection,
    filter: &CaseFilter,
    after_id: &str,
    limit: u64,
) -> Result<Vec<case::Model>, DbErr> {
    let mut q = case::Entity::find().filter(case::Column::Id.gt(after_id));
    if let Some(b) = &filter.bank_id {
        q = q.filter(case::Column::BankId.eq(b.clone()));
    }
    if let Some(s) = &filter.stage {
        q = q.filter(case::Column::Stage.eq(s.clone()));
    }
    if let Some(b) = &filter.batch_id {
        q = q.filter(case::Column::BatchId.eq(b.clone()));
    }
    q.order_by_asc(case::Column::Id).limit(limit).all(db).await
}

pub async fn events(
    db: &DatabaseConnection,
    case_id: &str,
) -> Result<Vec<case_event::Model>, DbErr> {
    case_event::Entity::find()
        .filter(case_event::Column::CaseId.eq(case_id))
        .order_by_asc(case_event::Column::Seq)
        .all(db)
        .await
}

/// A transition to record.
#[derive(Debug, Clone)]
pub struct Transition {
    pub event_id: String,
    pub case_id: String,
    pub from_stage: String,
    pub to_stage: String,
    pub actor: String,
    pub reason: String,
    pub source_record_id: String,
    pub occurred_at_ms: i64,
}

/// What recording a transition did.
#[derive(Debug)]
pub enum Recorded {
    Applied(case::Model),
    /// The event id was recorded before (for this case): nothing changed.
    Duplicate(case::Model),
}

/// The checks of the chain happen in `check`, inside the write transaction, against the case
/// as it is now; an `Err` from it aborts without writing.
pub async fn record_transition<E>(
    db: &DatabaseConnection,
    t: Transition,
    now_ms: i64,
    check: impl FnOnce(Option<&case::Model>, Option<&case_event::Model>) -> Result<(), E>,
) -> Result<Result<Recorded, E>, DbErr> {
    let txn = sieve_kernel::db::begin_write(db).await?;
    let recorded = apply_transition(&txn, t, now_ms, check).await?;
    txn.commit().await?;
    Ok(recorded)
}

/// Records a transition inside the caller's transaction. Nothing is written unless `check`
/// passes and the event is new.
pub async fn apply_transition<C: ConnectionTrait, E>(
    conn: &C,
    t: Transition,
    now_ms: i64,
    check: impl FnOnce(Option<&case::Model>, Option<&case_event::Model>) -> Result<(), E>,
) -> Result<Result<Recorded, E>, DbErr> {
    let current = get_case(conn, &t.case_id).await?;
    let previous = case_event::Entity::find_by_id(t.event_id.clone())
        .one(conn)
        .await?;
    if let Err(e) = check(current.as_ref(), previous.as_ref()) {
        return Ok(Err(e));
    }
    let Some(mut current) = current else {
        return Err(DbErr::RecordNotFound(format!("case {}", t.case_id)));
    };
    if previous.is_some() {
        return Ok(Ok(Recorded::Duplicate(current)));
    }
    let seq = current.version + 1;
    // The version check makes a concurrent transition of the same case fail instead of
    // silently overwriting it (PostgreSQL replicas; SQLite has one writer anyway). It runs
    // before the event is written, so a failure leaves nothing behind.
    let updated = case::Entity::update_many()
        .filter(case::Column::Id.eq(t.case_id.clone()))
        .filter(case::Column::Version.eq(current.version))
        .col_expr(case::Column::Stage, Expr::value(t.to_stage.clone()))
        .col_expr(case::Column::StageChangedAtMs, Expr::value(now_ms))
        .col_expr(case::Column::Version, Expr::value(seq))
        .exec(conn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(DbErr::RecordNotUpdated);
    }
    current.stage = t.to_stage.clone();
    current.stage_changed_at_ms = now_ms;
    current.version = seq;
    case_event::Entity::insert(
        case_event::Model {
            event_id: t.event_id,
            case_id: t.case_id,
            seq,
            from_stage: t.from_stage,
            to_stage: t.to_stage,
            actor: t.actor,
            reason: t.reason,
            source_record_id: t.source_record_id,
            occurred_at_ms: t.occurred_at_ms,
            recorded_at_ms: now_ms,
        }
        .into_active_model()
        .reset_all(),
    )
    .exec_without_returning(conn)
    .await?;
    Ok(Ok(Recorded::Applied(current)))
}
