//! A case's timeline after its admission: transitions along the chain and events within a
//! stage, one event each, recorded once per event id. A transition that ends preservation for
//! a case it was applied for writes, in its transaction, the message telling preservation.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder,
};
use sieve_kernel::db::Db;
use sieve_kernel::stage::Stage;

use super::{case, case_event, get_case};
use crate::domain::chain;

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
    /// None: the stage the case is in when the transition is applied (a bank's own act).
    pub from_stage: Option<Stage>,
    /// None: an event within that stage (from = to), which moves nothing.
    pub to_stage: Option<Stage>,
    pub actor: String,
    pub reason: String,
    pub source_record_id: String,
    pub occurred_at_ms: i64,
    /// The event is the bank's application for preservation: the case is marked with its
    /// time, unless an earlier event marked it.
    pub preservation_applied: bool,
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

/// Records many transitions in one transaction: a million outcomes are a thousand commits, not
/// a million. Each is checked on its own by `check` (given its index in `items`); a refused
/// one writes nothing. A case changed underneath fails the whole call (`RecordNotUpdated`).
pub async fn record_transitions<E>(
    db: &Db,
    items: Vec<Transition>,
    now_ms: i64,
    mut check: impl FnMut(usize, Option<&case::Model>, Option<&case_event::Model>) -> Result<(), E>,
) -> Result<Vec<Result<Recorded, E>>, DbErr> {
    let txn = sieve_kernel::db::begin_write(db).await?;
    let mut recorded = Vec::with_capacity(items.len());
    for (i, t) in items.into_iter().enumerate() {
        recorded.push(apply_transition(&txn, t, now_ms, |c, p| check(i, c, p)).await?);
    }
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
    let mut update = case::Entity::update_many()
        .filter(case::Column::Id.eq(t.case_id.clone()))
        .filter(case::Column::Version.eq(current.version))
        .col_expr(case::Column::Version, Expr::value(seq));
    let from_stage = t.from_stage.unwrap_or(current.stage);
    let to_stage = t.to_stage.unwrap_or(from_stage);
    // An event within a stage (a deadline moved) leaves the stage and its time alone.
    let moves = from_stage != to_stage;
    if moves {
        update = update
            .col_expr(case::Column::Stage, Expr::value(to_stage))
            .col_expr(case::Column::StageChangedAtMs, Expr::value(now_ms));
    }
    // Set once: the first application is when the case became one with preservation.
    let marks = t.preservation_applied && current.preservation_applied_at_ms.is_none();
    if marks {
        update = update.col_expr(
            case::Column::PreservationAppliedAtMs,
            Expr::value(t.occurred_at_ms),
        );
    }
    let updated = update.exec(conn).await?;
    if updated.rows_affected != 1 {
        return Err(DbErr::RecordNotUpdated);
    }
    if moves {
        current.stage = to_stage;
        current.stage_changed_at_ms = now_ms;
    }
    if marks {
        current.preservation_applied_at_ms = Some(t.occurred_at_ms);
    }
    current.version = seq;
    if moves
        && current.preservation_applied_at_ms.is_some()
        && chain::ends_preservation(from_stage, to_stage)
    {
        let closed = crate::closed::message(&t.event_id, &t.case_id, to_stage, t.occurred_at_ms);
        sieve_kernel::outbox::enqueue(conn, now_ms, vec![closed]).await?;
    }
    case_event::Entity::insert(
        case_event::Model {
            event_id: t.event_id,
            case_id: t.case_id,
            seq,
            from_stage,
            to_stage,
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
