//! Writing a batch chunk by chunk: new cases, the rows that made none (an existing case, with
//! the fields that differ; a refusal), and the batch's counters, in one transaction each.

use std::collections::HashMap;

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter, QuerySelect,
};
use sieve_kernel::db::Db;
use sieve_kernel::rules::StoredViolation;
use sieve_kernel::rules::violation;

use super::batches::{ABANDONED, Holder, abort_if, hold};
use super::{BatchError, BatchStatus, Receiver, RowOutcome, batch, batch_row, case};

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
    let per_insert = sieve_kernel::db::rows_per_insert::<case::Entity>(backend);
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
                if owner.status == BatchStatus::Completed {
                    outcome
                        .existing
                        .push((model.batch_row, owner.case.id.clone()));
                    let differing = differing_fields(&owner.case, &model);
                    rows.push(batch_row::Model {
                        batch_id: batch_id.to_string(),
                        row: model.batch_row,
                        bank_case_ref: model.bank_case_ref,
                        outcome: RowOutcome::Existing,
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
    for part in rows.chunks(sieve_kernel::db::rows_per_insert::<batch_row::Entity>(
        backend,
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
    status: BatchStatus,
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
        preservation_applied_at_ms: _,
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
        outcome: RowOutcome::Refused,
        case_id: None,
        refusals: violation::encode(&[refusal])
            .map_err(|e| DbErr::Custom(format!("refusal: {e}")))?,
        differing_fields: NO_DIFFERENCES.into(),
    })
}
