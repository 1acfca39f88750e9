//! A case's timeline after its admission: transitions along the chain and events within a
//! stage, one event each, recorded once per event id. A transition that ends preservation for
//! a case it was applied for writes, in its transaction, the message telling preservation.

use std::collections::HashMap;

use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder,
};
use sieve_kernel::db::Db;
use sieve_kernel::stage::Stage;

use super::{case, case_event};
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
    let mut check = Some(check);
    let mut recorded = record_transitions(db, vec![t], now_ms, |_, c, p| match check.take() {
        Some(check) => check(c, p),
        None => Ok(()),
    })
    .await?;
    recorded
        .pop()
        .ok_or_else(|| DbErr::Custom("a transition recorded nothing".into()))
}

/// Records many transitions in one transaction: a million outcomes are a thousand commits, not
/// a million. Each is checked on its own by `check` (given its index in `items`); a refused
/// one writes nothing. A case changed underneath fails the whole call (`RecordNotUpdated`).
pub async fn record_transitions<E>(
    db: &Db,
    items: Vec<Transition>,
    now_ms: i64,
    check: impl FnMut(usize, Option<&case::Model>, Option<&case_event::Model>) -> Result<(), E>,
) -> Result<Vec<Result<Recorded, E>>, DbErr> {
    let txn = sieve_kernel::db::begin_write(db).await?;
    let recorded = apply_transitions(&txn, items, now_ms, check).await?;
    txn.commit().await?;
    Ok(recorded)
}

/// Records transitions inside the caller's transaction, in order: each is checked against
/// its case as the ones before it left it. Nothing is written for one unless `check` passes
/// and its event is new. The cases and the events already recorded are read in a few
/// queries, and what changed written at the end: one UPDATE per case, the events and
/// messages in multi-row INSERTs (a statement per event made the timeline the slowest part
/// of every stage's batch).
pub async fn apply_transitions<C: ConnectionTrait, E>(
    conn: &C,
    items: Vec<Transition>,
    now_ms: i64,
    mut check: impl FnMut(usize, Option<&case::Model>, Option<&case_event::Model>) -> Result<(), E>,
) -> Result<Vec<Result<Recorded, E>>, DbErr> {
    let mut case_ids: Vec<String> = items.iter().map(|t| t.case_id.clone()).collect();
    case_ids.sort_unstable();
    case_ids.dedup();
    let completed = super::CompletedBatches::default();
    let mut cases: HashMap<String, case::Model> = HashMap::with_capacity(case_ids.len());
    for part in case_ids.chunks(500) {
        cases.extend(super::cases_by_id(conn, part.to_vec(), &completed).await?);
    }
    let event_ids: Vec<String> = items.iter().map(|t| t.event_id.clone()).collect();
    let mut previous: HashMap<String, case_event::Model> = HashMap::new();
    for part in event_ids.chunks(500) {
        for e in case_event::Entity::find()
            .filter(case_event::Column::EventId.is_in(part.to_vec()))
            .all(conn)
            .await?
        {
            previous.insert(e.event_id.clone(), e);
        }
    }
    // Each changed case's version as read: its UPDATE holds only if nobody moved it since.
    let mut read_version: HashMap<String, i64> = HashMap::new();
    let mut events = Vec::new();
    let mut messages = Vec::new();
    let mut out = Vec::with_capacity(items.len());
    for (i, t) in items.into_iter().enumerate() {
        let current = cases.get(&t.case_id);
        let before = previous.get(&t.event_id);
        if let Err(e) = check(i, current, before) {
            out.push(Err(e));
            continue;
        }
        let Some(current) = cases.get_mut(&t.case_id) else {
            return Err(DbErr::RecordNotFound(format!("case {}", t.case_id)));
        };
        if before.is_some() {
            out.push(Ok(Recorded::Duplicate(current.clone())));
            continue;
        }
        read_version
            .entry(t.case_id.clone())
            .or_insert(current.version);
        let seq = current.version + 1;
        let from_stage = t.from_stage.unwrap_or(current.stage);
        let to_stage = t.to_stage.unwrap_or(from_stage);
        // An event within a stage (a deadline moved) leaves the stage and its time alone.
        let moves = from_stage != to_stage;
        if moves {
            current.stage = to_stage;
            current.stage_changed_at_ms = now_ms;
        }
        // Set once: the first application is when the case became one with preservation.
        if t.preservation_applied && current.preservation_applied_at_ms.is_none() {
            current.preservation_applied_at_ms = Some(t.occurred_at_ms);
        }
        current.version = seq;
        if moves
            && current.preservation_applied_at_ms.is_some()
            && chain::ends_preservation(from_stage, to_stage)
        {
            messages.push(crate::closed::message(
                &t.event_id,
                &t.case_id,
                to_stage,
                t.occurred_at_ms,
            ));
        }
        let event = case_event::Model {
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
        };
        // The same event id again later in this call is a duplicate of this one.
        previous.insert(event.event_id.clone(), event.clone());
        events.push(event.into_active_model());
        out.push(Ok(Recorded::Applied(current.clone())));
    }
    // The version check makes a concurrent transition of the same case fail instead of
    // silently overwriting it (PostgreSQL replicas; SQLite has one writer anyway). The
    // updates run before the events are written, so a failure leaves nothing behind.
    // In key order, so two calls on PostgreSQL take their cases' row locks in one order.
    let mut changed: Vec<(&String, &i64)> = read_version.iter().collect();
    changed.sort_unstable();
    for (case_id, version) in changed {
        let Some(c) = cases.get(case_id) else {
            continue;
        };
        let updated = case::Entity::update_many()
            .filter(case::Column::Id.eq(case_id.clone()))
            .filter(case::Column::Version.eq(*version))
            .col_expr(case::Column::Version, Expr::value(c.version))
            .col_expr(case::Column::Stage, Expr::value(c.stage))
            .col_expr(
                case::Column::StageChangedAtMs,
                Expr::value(c.stage_changed_at_ms),
            )
            .col_expr(
                case::Column::PreservationAppliedAtMs,
                Expr::value(c.preservation_applied_at_ms),
            )
            .exec(conn)
            .await?;
        if updated.rows_affected != 1 {
            return Err(DbErr::RecordNotUpdated);
        }
    }
    sieve_kernel::outbox::enqueue(conn, now_ms, messages).await?;
    sieve_kernel::db::insert_all(conn, events).await?;
    Ok(out)
}
