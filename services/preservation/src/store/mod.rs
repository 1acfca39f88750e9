//! Preservation's storage: entities, migrations and queries. The API composes them inside one
//! write transaction per call, so a record, its deadlines, its outbox messages and the memory
//! of the request (`kernel::replay`) commit together.

mod clocks;
pub mod entities;
mod execution;
pub mod migration;
mod rulings;

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use sieve_kernel::deadline::{self, DueDeadline};

pub use clocks::{
    NotRenewed, OnDueDeadline, callback, case_event, lift, lift_reason, renew, suit_filed,
};
pub use entities::{callback as callback_row, forgone, freeze_order, preservation};
pub use execution::{
    Answered, NoticeDue, NoticeSent, OrderParty, due_notices, due_orders, record_answers,
    record_notice,
};
pub use rulings::{
    Forgone, NotRuled, RULE_APPLIED_BEFORE, RULE_NEVER_APPLIED, Ruling, apply, forgo, rule,
};

/// The kinds of deadline preservation keeps (the sweeper dispatches on them).
pub mod kind {
    /// The court's 48 hours to rule (CPL 104 para 2); subject: the preservation.
    pub const RULING: &str = "preservation.ruling";
    /// The 30 days to sue (CPL 104 para 3); subject: the preservation.
    pub const SUIT: &str = "preservation.suit";
    /// The reminder 7 days before; subject: the preservation.
    pub const SUIT_REMINDER: &str = "preservation.suit_reminder";
    /// A freeze's year (Interp. 485); subject: `<order id>/<renewals>`.
    pub const FREEZE_EXPIRY: &str = "preservation.freeze_expiry";
    pub const ALL: [&str; 4] = [RULING, SUIT, SUIT_REMINDER, FREEZE_EXPIRY];
}

pub fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// The Asia/Shanghai date of an instant in epoch milliseconds.
pub fn shanghai_date(ms: i64) -> NaiveDate {
    DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .with_timezone(&sieve_kernel::clock::shanghai())
        .date_naive()
}

/// A preservation with everything that hangs on it.
#[derive(Debug, Clone)]
pub struct Record {
    pub preservation: preservation::Model,
    pub orders: Vec<freeze_order::Model>,
    pub callbacks: Vec<callback_row::Model>,
    /// Its deadlines by kind (a freeze's by order id).
    pub deadlines: Vec<DueDeadline>,
}

impl Record {
    pub fn deadline(&self, kind: &str) -> Option<&DueDeadline> {
        self.deadlines.iter().find(|d| d.kind == kind)
    }

    /// The running (or last) expiry deadline of a freeze.
    pub fn expiry(&self, order: &freeze_order::Model) -> Option<&DueDeadline> {
        let subject = expiry_subject(&order.id, order.renewals);
        self.deadlines
            .iter()
            .find(|d| d.kind == kind::FREEZE_EXPIRY && d.subject == subject)
    }
}

pub fn expiry_subject(order_id: &str, renewals: i32) -> String {
    format!("{order_id}/{renewals}")
}

pub async fn get<C: ConnectionTrait>(
    conn: &C,
    id: &str,
) -> Result<Option<preservation::Model>, DbErr> {
    sieve_kernel::db::by_key(preservation::Entity::find_by_id(id.to_string()), conn).await
}

/// The case's latest preservation.
pub async fn latest_of_case<C: ConnectionTrait>(
    conn: &C,
    case_id: &str,
) -> Result<Option<preservation::Model>, DbErr> {
    let mut found = preservation::Entity::find()
        .filter(preservation::Column::CaseId.eq(case_id))
        .order_by_desc(preservation::Column::AppliedAtMs)
        .order_by_desc(preservation::Column::Id)
        .limit(1)
        .all(conn)
        .await?;
    Ok(found.pop())
}

/// The latest preservation of each of these cases that has one.
pub async fn latest_of_cases<C: ConnectionTrait>(
    conn: &C,
    case_ids: &[String],
) -> Result<Vec<preservation::Model>, DbErr> {
    let mut latest: HashMap<String, preservation::Model> = HashMap::new();
    for p in of_cases(conn, case_ids).await? {
        let newer = latest
            .get(&p.case_id)
            .is_none_or(|q| (p.applied_at_ms, &p.id) > (q.applied_at_ms, &q.id));
        if newer {
            latest.insert(p.case_id.clone(), p);
        }
    }
    Ok(latest.into_values().collect())
}

/// Every preservation ever made for these cases.
pub async fn of_cases<C: ConnectionTrait>(
    conn: &C,
    case_ids: &[String],
) -> Result<Vec<preservation::Model>, DbErr> {
    let mut out = Vec::new();
    for part in case_ids.chunks(500) {
        out.extend(
            preservation::Entity::find()
                .filter(preservation::Column::CaseId.is_in(part.to_vec()))
                .all(conn)
                .await?,
        );
    }
    Ok(out)
}

pub async fn by_ids<C: ConnectionTrait>(
    conn: &C,
    ids: &[String],
) -> Result<HashMap<String, preservation::Model>, DbErr> {
    read_by_ids(conn, ids, false).await
}

/// As [`by_ids`], the rows locked for the caller's write transaction on PostgreSQL, so two
/// acts on one preservation (two rulings, a callback and a lift) run one after the other and
/// the second sees what the first did. SQLite has one writer anyway.
pub async fn by_ids_for_update<C: ConnectionTrait>(
    txn: &C,
    ids: &[String],
) -> Result<HashMap<String, preservation::Model>, DbErr> {
    read_by_ids(txn, ids, true).await
}

pub async fn get_for_update<C: ConnectionTrait>(
    txn: &C,
    id: &str,
) -> Result<Option<preservation::Model>, DbErr> {
    Ok(by_ids_for_update(txn, &[id.to_string()]).await?.remove(id))
}

async fn read_by_ids<C: ConnectionTrait>(
    conn: &C,
    ids: &[String],
    lock: bool,
) -> Result<HashMap<String, preservation::Model>, DbErr> {
    let mut out = HashMap::with_capacity(ids.len());
    for part in ids.chunks(500) {
        let mut q =
            preservation::Entity::find().filter(preservation::Column::Id.is_in(part.to_vec()));
        if lock && conn.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            q = q.lock_exclusive();
        }
        for p in q.all(conn).await? {
            out.insert(p.id.clone(), p);
        }
    }
    Ok(out)
}

/// The orders, callbacks and deadlines of `found`, read in a few queries.
pub async fn records<C: ConnectionTrait>(
    conn: &C,
    found: Vec<preservation::Model>,
) -> Result<Vec<Record>, DbErr> {
    let ids: Vec<String> = found.iter().map(|p| p.id.clone()).collect();
    let mut orders: HashMap<String, Vec<freeze_order::Model>> = HashMap::new();
    let mut calls: HashMap<String, Vec<callback_row::Model>> = HashMap::new();
    let mut deadlines: HashMap<String, Vec<DueDeadline>> = HashMap::new();
    for part in ids.chunks(500) {
        let part = part.to_vec();
        for o in freeze_order::Entity::find()
            .filter(freeze_order::Column::PreservationId.is_in(part.clone()))
            .order_by_asc(freeze_order::Column::RequestedAtMs)
            .order_by_asc(freeze_order::Column::Id)
            .all(conn)
            .await?
        {
            orders.entry(o.preservation_id.clone()).or_default().push(o);
        }
        for c in callback_row::Entity::find()
            .filter(callback_row::Column::PreservationId.is_in(part.clone()))
            .order_by_asc(callback_row::Column::CalledAtMs)
            .all(conn)
            .await?
        {
            calls.entry(c.preservation_id.clone()).or_default().push(c);
        }
    }
    // Deadlines name their subject: the preservation, or an order's expiry.
    let order_of: HashMap<String, String> = orders
        .values()
        .flatten()
        .map(|o| (o.id.clone(), o.preservation_id.clone()))
        .collect();
    let mut subjects: Vec<String> = ids.clone();
    for o in orders.values().flatten() {
        subjects.extend((0..=o.renewals).map(|r| expiry_subject(&o.id, r)));
    }
    for part in subjects.chunks(500) {
        for d in deadline::entity::Entity::find()
            // Both columns of the unique index: a lookup, not a scan of every deadline.
            .filter(deadline::entity::Column::Kind.is_in(kind::ALL))
            .filter(deadline::entity::Column::Subject.is_in(part.to_vec()))
            .all(conn)
            .await?
        {
            let owner = match d.subject.split_once('/') {
                Some((order, _)) => order_of.get(order).cloned().unwrap_or_default(),
                None => d.subject.clone(),
            };
            deadlines.entry(owner).or_default().push(d);
        }
    }
    Ok(found
        .into_iter()
        .map(|p| Record {
            orders: orders.remove(&p.id).unwrap_or_default(),
            callbacks: calls.remove(&p.id).unwrap_or_default(),
            deadlines: deadlines.remove(&p.id).unwrap_or_default(),
            preservation: p,
        })
        .collect())
}

pub async fn record<C: ConnectionTrait>(
    conn: &C,
    found: preservation::Model,
) -> Result<Record, DbErr> {
    records(conn, vec![found])
        .await?
        .pop()
        .ok_or_else(|| DbErr::RecordNotFound("preservation".into()))
}

/// The court's work list: by status (and bank), overdue rulings first, then oldest. The
/// page token is the last row's `overdue|applied_at_ms|id`.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    bank_id: Option<&str>,
    status: Option<preservation::Status>,
    after: Option<(bool, i64, String)>,
    limit: u64,
) -> Result<Vec<preservation::Model>, DbErr> {
    use preservation::Column as P;
    let mut q = preservation::Entity::find();
    if let Some(bank) = bank_id {
        q = q.filter(P::BankId.eq(bank));
    }
    if let Some(status) = status {
        q = q.filter(P::Status.eq(status));
    }
    if let Some((overdue, at, id)) = after {
        // Overdue (true) sorts first: after an overdue row come later overdue rows, then
        // every row not overdue.
        let later = Condition::any().add(P::AppliedAtMs.gt(at)).add(
            Condition::all()
                .add(P::AppliedAtMs.eq(at))
                .add(P::Id.gt(id)),
        );
        q = q.filter(if overdue {
            Condition::any()
                .add(P::RulingOverdue.eq(false))
                .add(Condition::all().add(P::RulingOverdue.eq(true)).add(later))
        } else {
            Condition::all().add(P::RulingOverdue.eq(false)).add(later)
        });
    }
    q.order_by_desc(P::RulingOverdue)
        .order_by_asc(P::AppliedAtMs)
        .order_by_asc(P::Id)
        .limit(limit)
        .all(conn)
        .await
}

pub async fn freeze_order_by_id<C: ConnectionTrait>(
    conn: &C,
    id: &str,
) -> Result<Option<freeze_order::Model>, DbErr> {
    sieve_kernel::db::by_key(freeze_order::Entity::find_by_id(id.to_string()), conn).await
}
