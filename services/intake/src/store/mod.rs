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
use sieve_kernel::db::Db;
use sieve_kernel::rules::StoredViolation;
use sieve_kernel::rules::violation;

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

/// What opening a batch found.
pub enum Opened {
    /// A new batch (or an abandoned one cleared for a retry), now RECEIVING under our lease.
    Receiving(batch::Model),
    /// The same key was completed before: its result stands.
    Completed(batch::Model),
    /// Another receiver holds the batch right now.
    Busy(batch::Model),
}

/// Opens the batch `(bank_id, request_id)` for receiving by `receiver`, under a lease.
#[allow(clippy::too_many_arguments)]
pub async fn open_batch(
    db: &Db,
    receiver: &Receiver,
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
            am.receiver = Set(receiver.id.clone());
            am.status_reason = Set(String::new());
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
                receiver: receiver.id.clone(),
                status_reason: String::new(),
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

/// Which receiving batch an abort may end.
enum Holder<'a> {
    /// Only while `receiver` holds it (a receiver ending its own batch).
    Receiver(&'a str),
    /// Only once its lease lapsed at `now_ms`, or while the dead `receiver` still holds it.
    Abandoned { now_ms: i64, dead: Option<&'a str> },
}

/// Aborts batch `batch_id` if it is still RECEIVING under `holder`, deleting everything it
/// wrote. The batch row is updated first, so a receiver writing a chunk of it at the same time
/// either commits before (and the lease it renewed stops the abort) or finds it aborted.
async fn abort_if(
    conn: &impl ConnectionTrait,
    batch_id: &str,
    holder: Holder<'_>,
    reason: &str,
    now_ms: i64,
) -> Result<bool, DbErr> {
    let mut update = batch::Entity::update_many()
        .filter(batch::Column::Id.eq(batch_id))
        .filter(batch::Column::Status.eq(BATCH_RECEIVING));
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
        .col_expr(batch::Column::Status, Expr::value(BATCH_ABORTED))
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
        .filter(batch::Column::Status.eq(BATCH_RECEIVING))
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
async fn hold(
    conn: &impl ConnectionTrait,
    batch_id: &str,
    receiver: &Receiver,
    lease_until_ms: i64,
) -> Result<(), BatchError> {
    let held = batch::Entity::update_many()
        .filter(batch::Column::Id.eq(batch_id))
        .filter(batch::Column::Status.eq(BATCH_RECEIVING))
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
        .filter(batch::Column::Status.eq(BATCH_RECEIVING))
        .filter(batch::Column::Receiver.eq(&receiver.id))
        .col_expr(batch::Column::Status, Expr::value(BATCH_COMPLETED))
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

/// A bank reference that is a case of another batch still being received.
pub const RULE_IN_UNFINISHED_BATCH: &str = "bank_case_ref.in_unfinished_batch";

/// Writes a chunk while `receiver` holds the batch: new cases (a bank reference already a
/// case of a completed batch yields that case, never a second one), the rows that did not
/// create one, and the batch's counters, all at once.
///
/// A bank reference that is a case of a batch not yet completed is not an existing case: if
/// that batch was abandoned (its lease lapsed), it is aborted here and the row becomes a new
/// case; if it is still being received, the row is refused, naming that batch, since its
/// outcome is not known yet.
pub async fn write_chunk(
    db: &Db,
    batch_id: &str,
    bank_id: &str,
    receiver: &Receiver,
    chunk: Chunk,
    now_ms: i64,
    lease_until_ms: i64,
) -> Result<ChunkOutcome, BatchError> {
    let backend = db.backend();
    let per_insert = sieve_kernel::db::rows_per_insert(backend, case::COLUMNS);
    let txn = sieve_kernel::db::begin_write(db).await?;
    hold(&txn, batch_id, receiver, lease_until_ms).await?;
    let mut outcome = ChunkOutcome {
        refused: chunk.refused.len() as i64,
        ..Default::default()
    };
    let mut rows = chunk.refused;
    let mut cases = chunk.cases.into_iter().peekable();
    while cases.peek().is_some() {
        let mut part: Vec<case::Model> = cases.by_ref().take(per_insert).collect();
        // An abandoned batch holding some references is aborted, then those rows are
        // inserted again; twice is enough unless batches keep being abandoned meanwhile.
        for attempt in 0..3 {
            let conflicted = insert_cases(&txn, std::mem::take(&mut part)).await?;
            outcome.accepted += conflicted.inserted;
            if conflicted.rows.is_empty() {
                break;
            }
            let owners = case_owners(&txn, bank_id, &conflicted.rows).await?;
            let mut again = Vec::new();
            let mut aborted: HashMap<String, bool> = HashMap::new();
            for model in conflicted.rows {
                let Some(owner) = owners.get(&model.bank_case_ref) else {
                    // The other case went away between the insert and the look-up (its
                    // batch was aborted): this row can be inserted now.
                    again.push(model);
                    continue;
                };
                if owner.status == BATCH_COMPLETED {
                    outcome
                        .existing
                        .push((model.batch_row, owner.case.id.clone()));
                    let differing = differing_fields(&owner.case, &model);
                    rows.push(batch_row::Model {
                        batch_id: batch_id.to_string(),
                        row: model.batch_row,
                        bank_case_ref: model.bank_case_ref,
                        outcome: ROW_EXISTING.into(),
                        case_id: Some(owner.case.id.clone()),
                        refusals: "[]".into(),
                        differing_fields: serde_json::to_string(&differing)
                            .map_err(|e| DbErr::Custom(format!("differing fields: {e}")))?,
                    });
                    continue;
                }
                let ended = match aborted.get(&owner.case.batch_id) {
                    Some(ended) => *ended,
                    None => {
                        let ended = attempt < 2
                            && owner.lease_until_ms <= now_ms
                            && abort_if(
                                &txn,
                                &owner.case.batch_id,
                                Holder::Abandoned { now_ms, dead: None },
                                ABANDONED,
                                now_ms,
                            )
                            .await?;
                        if ended {
                            tracing::warn!(batch = %owner.case.batch_id, by = %batch_id, "aborted a batch its receiver abandoned");
                        }
                        aborted.insert(owner.case.batch_id.clone(), ended);
                        ended
                    }
                };
                if ended {
                    again.push(model);
                } else {
                    outcome.refused += 1;
                    rows.push(in_unfinished_batch(
                        batch_id,
                        model,
                        Some(&owner.case.batch_id),
                    )?);
                }
            }
            part = again;
            if part.is_empty() {
                break;
            }
        }
        // Still taken after three tries: batches were abandoned and resubmitted meanwhile.
        for model in part {
            outcome.refused += 1;
            rows.push(in_unfinished_batch(batch_id, model, None)?);
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
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(outcome)
}

/// Cases inserted, and the rows whose bank reference was already taken.
struct Inserted {
    inserted: i64,
    rows: Vec<case::Model>,
}

async fn insert_cases(
    conn: &impl ConnectionTrait,
    part: Vec<case::Model>,
) -> Result<Inserted, DbErr> {
    if part.is_empty() {
        return Ok(Inserted {
            inserted: 0,
            rows: Vec::new(),
        });
    }
    let models: Vec<case::ActiveModel> = part
        .iter()
        .map(|m| m.clone().into_active_model().reset_all())
        .collect();
    let inserted = match case::Entity::insert_many(models)
        .on_conflict_do_nothing_on([case::Column::BankId, case::Column::BankCaseRef])
        .exec_without_returning(conn)
        .await?
    {
        sea_orm::TryInsertResult::Inserted(n) => n as usize,
        _ => 0,
    };
    if inserted == part.len() {
        return Ok(Inserted {
            inserted: inserted as i64,
            rows: Vec::new(),
        });
    }
    // The rows not inserted are those whose id we gave is not there.
    let mut ours: std::collections::HashSet<String> = std::collections::HashSet::new();
    for group in part.chunks(1000) {
        let ids: Vec<String> = group.iter().map(|m| m.id.clone()).collect();
        let found: Vec<String> = case::Entity::find()
            .select_only()
            .column(case::Column::Id)
            .filter(case::Column::Id.is_in(ids))
            .into_tuple()
            .all(conn)
            .await?;
        ours.extend(found);
    }
    let rows: Vec<case::Model> = part.into_iter().filter(|m| !ours.contains(&m.id)).collect();
    Ok(Inserted {
        inserted: inserted as i64,
        rows,
    })
}

/// The case holding a bank reference, and the state of the batch it came in.
struct Owner {
    /// The whole case: an EXISTING row is compared with it.
    case: case::Model,
    status: String,
    lease_until_ms: i64,
}

async fn case_owners(
    conn: &impl ConnectionTrait,
    bank_id: &str,
    rows: &[case::Model],
) -> Result<HashMap<String, Owner>, DbErr> {
    let mut owners = HashMap::new();
    for group in rows.chunks(1000) {
        let refs: Vec<String> = group.iter().map(|m| m.bank_case_ref.clone()).collect();
        let found = case::Entity::find()
            .find_also_related(batch::Entity)
            .filter(case::Column::BankId.eq(bank_id))
            .filter(case::Column::BankCaseRef.is_in(refs))
            .all(conn)
            .await?;
        for (case, batch) in found {
            // Every case has its batch (the join); one without is left to the retry.
            let Some(batch) = batch else { continue };
            owners.insert(
                case.bank_case_ref.clone(),
                Owner {
                    case,
                    status: batch.status,
                    lease_until_ms: batch.lease_until_ms,
                },
            );
        }
    }
    Ok(owners)
}

/// A row that names no differing field (refused rows, and existing ones repeating the case).
pub const NO_DIFFERENCES: &str = "[]";

/// The fields in which the row `sent` (screened, normalized as a new case) differs from the
/// `stored` case of the same bank reference, named as refusals name them.
pub fn differing_fields(stored: &case::Model, sent: &case::Model) -> Vec<&'static str> {
    use crate::domain::screening::field;
    // Named in full, so that a new column must be placed on one side or the other.
    let case::Model {
        // Not the bank's content: which copy this is, where and when it came in.
        id: _,
        bank_id: _,
        bank_case_ref: _,
        batch_id: _,
        batch_row: _,
        stage: _,
        submitted_at_ms: _,
        stage_changed_at_ms: _,
        version: _,
        product,
        debtor_kind,
        debtor_name,
        debtor_id_number,
        debtor_phone,
        debtor_address,
        debtor_division_code,
        contract_amount_fen,
        principal_fen,
        interest_fen,
        penalty_fen,
        fees_fen,
        contract_ref,
        contract_names_court,
    } = sent;
    let same = [
        (field::PRODUCT, stored.product == *product),
        (field::DEBTOR_KIND, stored.debtor_kind == *debtor_kind),
        (field::DEBTOR_NAME, stored.debtor_name == *debtor_name),
        (
            field::DEBTOR_ID_NUMBER,
            stored.debtor_id_number == *debtor_id_number,
        ),
        (field::DEBTOR_PHONE, stored.debtor_phone == *debtor_phone),
        (
            field::DEBTOR_ADDRESS,
            stored.debtor_address == *debtor_address,
        ),
        (
            field::DEBTOR_DIVISION_CODE,
            stored.debtor_division_code == *debtor_division_code,
        ),
        (
            field::CONTRACT_AMOUNT_FEN,
            stored.contract_amount_fen == *contract_amount_fen,
        ),
        (
            field::CLAIM_PRINCIPAL_FEN,
            stored.principal_fen == *principal_fen,
        ),
        (
            field::CLAIM_INTEREST_FEN,
            stored.interest_fen == *interest_fen,
        ),
        (field::CLAIM_PENALTY_FEN, stored.penalty_fen == *penalty_fen),
        (field::CLAIM_FEES_FEN, stored.fees_fen == *fees_fen),
        (field::CONTRACT_REF, stored.contract_ref == *contract_ref),
        (
            field::CONTRACT_NAMES_COURT,
            stored.contract_names_court == *contract_names_court,
        ),
    ];
    same.into_iter()
        .filter(|(_, same)| !same)
        .map(|(name, _)| name)
        .collect()
}

fn in_unfinished_batch(
    batch_id: &str,
    model: case::Model,
    other: Option<&str>,
) -> Result<batch_row::Model, DbErr> {
    let other = other.unwrap_or("(another)");
    let refusal = StoredViolation {
        field: crate::domain::screening::field::BANK_CASE_REF.into(),
        rule: RULE_IN_UNFINISHED_BATCH.into(),
        description: format!(
            "该银行案件编号正在批次 {other} 中接收，尚未完成；待其完成后重新提交本行 / this reference \
             is a case of batch {other}, which is still being received: send this row again once \
             that batch has completed or been aborted"
        ),
    };
    Ok(batch_row::Model {
        batch_id: batch_id.to_string(),
        row: model.batch_row,
        bank_case_ref: model.bank_case_ref,
        outcome: ROW_REFUSED.into(),
        case_id: None,
        refusals: violation::encode(&[refusal])
            .map_err(|e| DbErr::Custom(format!("refusal: {e}")))?,
        differing_fields: NO_DIFFERENCES.into(),
    })
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

/// A case, once its batch completed: the cases of a batch still being received (or one that
/// broke off) exist for no caller.
pub async fn get_case(db: &impl ConnectionTrait, id: &str) -> Result<Option<case::Model>, DbErr> {
    sieve_kernel::db::by_key(
        case::Entity::find_by_id(id.to_string())
            .inner_join(batch::Entity)
            .filter(batch::Column::Status.eq(BATCH_COMPLETED)),
        db,
    )
    .await
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
    let mut q = case::Entity::find()
        .inner_join(batch::Entity)
        .filter(batch::Column::Status.eq(BATCH_COMPLETED))
        .filter(case::Column::Id.gt(after_id));
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
    db: &Db,
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
    let previous =
        sieve_kernel::db::by_key(case_event::Entity::find_by_id(t.event_id.clone()), conn).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn stored() -> case::Model {
        case::Model {
            id: "c1".into(),
            bank_id: "b1".into(),
            bank_case_ref: "REF-1".into(),
            batch_id: "batch-1".into(),
            batch_row: 1,
            product: "LOAN".into(),
            debtor_kind: "NATURAL_PERSON".into(),
            debtor_name: "王芳".into(),
            debtor_id_number: "230722196001010011".into(),
            debtor_phone: "13900000001".into(),
            debtor_address: "嘉荫县朝阳镇1号".into(),
            debtor_division_code: "230722".into(),
            contract_amount_fen: 100,
            principal_fen: 100,
            interest_fen: 1,
            penalty_fen: 0,
            fees_fen: 0,
            contract_ref: "HT1".into(),
            contract_names_court: false,
            stage: "BAD_DEBT_CHECK".into(),
            submitted_at_ms: 1,
            stage_changed_at_ms: 1,
            version: 1,
        }
    }

    #[test]
    fn every_field_of_the_row_is_compared_and_nothing_else() {
        let case = stored();
        // Another id, batch, row and time: the same case as the bank sees it.
        let mut again = stored();
        again.id = "c2".into();
        again.batch_id = "batch-2".into();
        again.batch_row = 7;
        again.submitted_at_ms = 2;
        assert!(differing_fields(&case, &again).is_empty());

        let changed = case::Model {
            product: "CREDIT_CARD".into(),
            debtor_kind: "ORGANISATION".into(),
            debtor_name: "王芳芳".into(),
            debtor_id_number: "230722196001010029".into(),
            debtor_phone: "13900000002".into(),
            debtor_address: "嘉荫县朝阳镇2号".into(),
            debtor_division_code: "230781".into(),
            contract_amount_fen: 101,
            principal_fen: 101,
            interest_fen: 2,
            penalty_fen: 1,
            fees_fen: 1,
            contract_ref: "HT2".into(),
            contract_names_court: true,
            ..again
        };
        assert_eq!(
            differing_fields(&case, &changed),
            [
                "product",
                "debtor.kind",
                "debtor.name",
                "debtor.id_number",
                "debtor.phone",
                "debtor.address",
                "debtor.division_code",
                "contract_amount_fen",
                "claim.principal_fen",
                "claim.interest_fen",
                "claim.penalty_fen",
                "claim.fees_fen",
                "contract_ref",
                "contract_names_court",
            ]
        );
    }
}
