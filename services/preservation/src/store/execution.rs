//! The platforms' side of an approved preservation: which orders are due to be sent (or
//! lifted), what the platforms answered, the orders that follow (each asking only what the
//! confirmed ones before it left: `domain::freezes`), and the notice once every platform has
//! answered. Orders exist before they are sent, so a crash or an outage only delays them; a
//! resent order freezes nothing twice (the platform keys it by its id).

use std::collections::{HashMap, HashSet};

use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect,
};
use sieve_kernel::calendar::Calendar;
use sieve_kernel::db::{Db, insert_all, update_all, update_columns};
use sieve_kernel::deadline::{self, Scheduled};
use sieve_kernel::rules::dates;

use super::rulings::new_order;
use super::{expiry_subject, freeze_order, kind, preservation, shanghai_date};
use crate::domain::clocks;
use crate::domain::freezes::{self, Next, Order, OrderState, Platform, parse_platforms};

/// How long an unanswered order or notice waits before it goes again (doubling, capped).
pub fn retry_after_ms(attempts: i32) -> i64 {
    (1_000_i64 << attempts.clamp(0, 9)).min(300_000)
}

/// What an order tells the platform besides itself: whose account, under which ruling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderParty {
    pub id_number: String,
    pub ruling_number: String,
}

/// Orders due at `platform` now, with what the platform must be told: unanswered ones to
/// send (again) and frozen ones whose lift was asked.
pub async fn due_orders<C: ConnectionTrait>(
    conn: &C,
    platform: Platform,
    now_ms: i64,
    limit: u64,
) -> Result<Vec<(freeze_order::Model, OrderParty)>, DbErr> {
    use freeze_order::Column as F;
    use preservation::Column as P;
    // Two queries, each along an index (platform, status and retry time; lift wanted),
    // rather than one whose OR makes the database read every order there is.
    let mut orders = freeze_order::Entity::find()
        .filter(F::Platform.eq(platform.word()))
        .filter(F::Status.eq(freeze_order::Status::Requested))
        .filter(F::NextTryAtMs.lte(now_ms))
        .order_by_asc(F::NextTryAtMs)
        .order_by_asc(F::Id)
        .limit(limit)
        .all(conn)
        .await?;
    orders.extend(
        freeze_order::Entity::find()
            .filter(F::LiftWanted.is_not_null())
            .filter(F::Platform.eq(platform.word()))
            .filter(F::Status.eq(freeze_order::Status::Frozen))
            .filter(F::NextTryAtMs.lte(now_ms))
            .order_by_asc(F::NextTryAtMs)
            .order_by_asc(F::Id)
            .limit(limit)
            .all(conn)
            .await?,
    );
    orders.sort_by(|a, b| (a.next_try_at_ms, &a.id).cmp(&(b.next_try_at_ms, &b.id)));
    orders.truncate(limit as usize);
    let ids: Vec<String> = orders
        .iter()
        .map(|o| o.preservation_id.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    // Two columns of the preservation, not its every column: this runs for every order.
    let mut parties: HashMap<String, OrderParty> = HashMap::with_capacity(ids.len());
    for part in ids.chunks(500) {
        let found: Vec<(String, String, Option<String>)> = preservation::Entity::find()
            .select_only()
            .column(P::Id)
            .column(P::DebtorIdNumber)
            .column(P::RulingNumber)
            .filter(P::Id.is_in(part.to_vec()))
            .into_tuple()
            .all(conn)
            .await?;
        for (id, id_number, ruling_number) in found {
            let ruling_number = ruling_number.unwrap_or_default();
            parties.insert(
                id,
                OrderParty {
                    id_number,
                    ruling_number,
                },
            );
        }
    }
    Ok(orders
        .into_iter()
        .filter_map(|o| {
            let party = parties.get(&o.preservation_id)?.clone();
            Some((o, party))
        })
        .collect())
}

/// What a platform answered to one order (or did not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answered {
    Frozen {
        order_id: String,
        frozen_fen: i64,
    },
    NoAccount {
        order_id: String,
    },
    /// Refused for good (a bad order): nothing held there.
    Refused {
        order_id: String,
        why: String,
    },
    /// No answer: sent again after a backoff.
    Unavailable {
        order_id: String,
        why: String,
    },
    Lifted {
        order_id: String,
    },
}

impl Answered {
    fn order_id(&self) -> &str {
        match self {
            Answered::Frozen { order_id, .. }
            | Answered::NoAccount { order_id }
            | Answered::Refused { order_id, .. }
            | Answered::Unavailable { order_id, .. }
            | Answered::Lifted { order_id } => order_id,
        }
    }
}

fn state(o: &freeze_order::Model) -> OrderState {
    match o.status {
        freeze_order::Status::Requested => OrderState::Unanswered,
        freeze_order::Status::Failed => OrderState::NoAccount,
        _ => OrderState::Frozen {
            frozen_fen: o.frozen_fen,
        },
    }
}

/// Records answers in one transaction, writes the orders that follow, and readies the
/// notice of each preservation every platform has answered. Answers to orders no longer
/// awaiting them (answered by an earlier pass) change nothing.
pub async fn record_answers(
    db: &Db,
    answers: Vec<Answered>,
    calendar: &Calendar,
    now_ms: i64,
) -> Result<(), DbErr> {
    if answers.is_empty() {
        return Ok(());
    }
    let txn = sieve_kernel::db::begin_write(db).await?;
    let ids: Vec<String> = answers.iter().map(|a| a.order_id().to_string()).collect();
    let mut orders: HashMap<String, freeze_order::Model> = HashMap::new();
    for part in ids.chunks(500) {
        let mut q =
            freeze_order::Entity::find().filter(freeze_order::Column::Id.is_in(part.to_vec()));
        // Two executors (replicas) answering the same order: the second waits and then sees
        // it answered, so no order is followed twice. SQLite has one writer anyway.
        if txn.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            q = q.lock_exclusive();
        }
        for o in q.all(&txn).await? {
            orders.insert(o.id.clone(), o);
        }
    }
    let today = shanghai_date(now_ms);
    let expiry = clocks::freeze_expiry(calendar, today);
    let mut changed = Vec::new();
    let mut expiring = Vec::new();
    let mut touched = HashSet::new();
    for a in answers {
        let Some(o) = orders.get_mut(a.order_id()) else {
            continue;
        };
        let awaiting_freeze = o.status == freeze_order::Status::Requested;
        let awaiting_lift = o.status == freeze_order::Status::Frozen && o.lift_wanted.is_some();
        match a {
            Answered::Frozen { frozen_fen, .. } if awaiting_freeze => {
                o.status = freeze_order::Status::Frozen;
                // Never more than asked, whatever a platform says.
                o.frozen_fen = frozen_fen.clamp(0, o.requested_fen);
                o.frozen_at_ms = Some(now_ms);
                o.expires_on = Some(dates::iso(expiry.end));
                o.next_try_at_ms = 0;
                o.last_error = None;
                // The freeze holds a year (Interp. 485): its expiry is a deadline.
                expiring.push((expiry_subject(&o.id, o.renewals), o.case_id.clone()));
            }
            Answered::NoAccount { .. } if awaiting_freeze => {
                o.status = freeze_order::Status::Failed;
                o.failure_reason = "no account for the debtor at this platform".into();
            }
            Answered::Refused { why, .. } if awaiting_freeze || awaiting_lift => {
                if awaiting_lift {
                    // The platform holds nothing under the order: nothing is left to lift.
                    o.status = lifted_status(o);
                    o.lifted_at_ms = Some(now_ms);
                    o.last_error = Some(why);
                } else {
                    o.status = freeze_order::Status::Failed;
                    o.failure_reason = why;
                }
            }
            Answered::Lifted { .. } if awaiting_lift => {
                o.status = lifted_status(o);
                o.lifted_at_ms = Some(now_ms);
            }
            Answered::Unavailable { why, .. } if awaiting_freeze || awaiting_lift => {
                o.attempts += 1;
                o.next_try_at_ms = now_ms + retry_after_ms(o.attempts);
                o.last_error = Some(why);
            }
            _ => continue,
        }
        changed.push(o.clone().into_active_model());
        touched.insert(o.preservation_id.clone());
    }
    // What an answer changes of an order; the rest of it stays as written.
    {
        use freeze_order::Column as F;
        update_columns(
            &txn,
            changed,
            &[
                F::Status,
                F::FrozenFen,
                F::FrozenAtMs,
                F::ExpiresOn,
                F::NextTryAtMs,
                F::LastError,
                F::FailureReason,
                F::Attempts,
                F::LiftedAtMs,
            ],
        )
        .await?;
    }
    let clocks: Vec<Scheduled> = expiring
        .iter()
        .map(|(subject, case_id)| Scheduled {
            kind: kind::FREEZE_EXPIRY,
            subject,
            case_id,
            deadline: &expiry,
        })
        .collect();
    deadline::schedule_many(&txn, &clocks, now_ms).await?;

    let touched: Vec<String> = touched.into_iter().collect();
    // The preservations first, locked on PostgreSQL, then their orders: two lanes answering
    // the two orders of one preservation at once then take turns, and the second reads the
    // order the first recorded (else each would see the other's freeze still held, and
    // neither end the preservation when both were lifted).
    let locked = super::by_ids_for_update(&txn, &touched).await?;
    let mut of_preservation: HashMap<String, Vec<freeze_order::Model>> = HashMap::new();
    for part in touched.chunks(500) {
        for o in freeze_order::Entity::find()
            .filter(freeze_order::Column::PreservationId.is_in(part.to_vec()))
            .all(&txn)
            .await?
        {
            of_preservation
                .entry(o.preservation_id.clone())
                .or_default()
                .push(o);
        }
    }
    let mut lifted = Vec::new();
    let mut notices_due = Vec::new();
    let mut next_orders = Vec::new();
    let mut events = Vec::new();
    for mut p in locked.into_values() {
        let all = of_preservation.remove(&p.id).unwrap_or_default();
        match after_answers(&mut p, &all, now_ms) {
            After::Nothing => {}
            // The preservation itself is as it was.
            After::Order(o) => next_orders.push(o.into_active_model()),
            After::Notice => notices_due.push(p.id),
            After::Lifted(e) => {
                events.push(e);
                lifted.push(p.into_active_model());
            }
        }
    }
    update_all(&txn, lifted).await?;
    // Only the notice's status changed: one narrow UPDATE, not every column of every row.
    for part in notices_due.chunks(500) {
        preservation::Entity::update_many()
            .col_expr(preservation::Column::NoticeStatus, Expr::value("pending"))
            .filter(preservation::Column::Id.is_in(part.to_vec()))
            .exec(&txn)
            .await?;
    }
    insert_all(&txn, next_orders).await?;
    sieve_kernel::stage::note(&txn, now_ms, "preservation.freezes_lifted", &events).await?;
    txn.commit().await
}

/// EXPIRED when the lift was its lapse, else LIFTED.
fn lifted_status(o: &freeze_order::Model) -> freeze_order::Status {
    if o.lift_wanted.as_deref() == Some("EXPIRED") {
        freeze_order::Status::Expired
    } else {
        freeze_order::Status::Lifted
    }
}

/// What follows the answers of a preservation's orders.
pub(super) enum After {
    Nothing,
    /// The next platform's order, for what the others did not hold.
    Order(freeze_order::Model),
    /// Every platform answered: the notice is due (the preservation changed).
    Notice,
    /// Every freeze lifted or lapsed: the preservation ends (it changed), on the timeline.
    Lifted(sieve_kernel::stage::CaseEvent),
}

/// What follows the answers of `p`'s orders (`all` of them): the next order, the notice, or
/// the end. Changes `p` where its row must be written back.
pub(super) fn after_answers(
    p: &mut preservation::Model,
    all: &[freeze_order::Model],
    now_ms: i64,
) -> After {
    let live = all.iter().any(|o| {
        matches!(
            o.status,
            freeze_order::Status::Requested | freeze_order::Status::Frozen
        )
    });
    // Every freeze lapsed unrenewed (Interp. 485): the preservation ends with them.
    let lapsed = !live
        && all
            .iter()
            .any(|o| o.status == freeze_order::Status::Expired);
    if lapsed && p.lift_reason.is_none() {
        p.lift_reason = Some(super::lift_reason::EXPIRED.into());
    }
    if p.lift_reason.is_some() {
        if live || p.status != preservation::Status::InForce {
            return After::Nothing;
        }
        p.status = preservation::Status::Lifted;
        p.lifted_at_ms = Some(now_ms);
        p.open_case_id = None;
        let released: i64 = all.iter().map(|o| o.frozen_fen).sum();
        let yuan = sieve_kernel::rules::money::format_yuan(released);
        return After::Lifted(super::clocks::case_event(
            p,
            "preservation.freezes_lifted",
            format!("{}/lifted", p.id),
            format!(
                "各平台已解除冻结（{yuan} 元） / every platform released its freeze ({yuan} yuan)"
            ),
            now_ms,
        ));
    }
    let plan: Vec<Order> = all
        .iter()
        .filter_map(|o| {
            Some(Order {
                platform: freezes::Platform::parse(&o.platform)?,
                requested_fen: o.requested_fen,
                state: state(o),
            })
        })
        .collect();
    match freezes::next(p.amount_fen, &parse_platforms(&p.platforms), &plan) {
        Next::Send {
            platform,
            amount_fen,
        } => After::Order(new_order(p, platform, amount_fen, now_ms)),
        Next::Done if p.notice_status.is_empty() => {
            p.notice_status = "pending".into();
            After::Notice
        }
        _ => After::Nothing,
    }
}

/// A notice due, with what it states: the preservation, what each platform froze, and the
/// last day to sue (CPL 104 para 3).
#[derive(Debug, Clone)]
pub struct NoticeDue {
    pub preservation: preservation::Model,
    /// `(platform word, fen frozen)` in the order the platforms were asked.
    pub frozen: Vec<(String, i64)>,
    pub suit_due: Option<String>,
}

/// Preservations whose notice is due to be sent (again), read in three queries that take
/// only what the notice states (not the callbacks and every deadline `records` reads).
pub async fn due_notices<C: ConnectionTrait>(
    conn: &C,
    now_ms: i64,
    limit: u64,
) -> Result<Vec<NoticeDue>, DbErr> {
    use freeze_order::Column as F;
    use preservation::Column as P;
    let found = preservation::Entity::find()
        .filter(P::NoticeStatus.eq("pending"))
        .filter(P::NoticeNextTryAtMs.lte(now_ms))
        .order_by_asc(P::NoticeNextTryAtMs)
        .order_by_asc(P::Id)
        .limit(limit)
        .all(conn)
        .await?;
    let ids: Vec<String> = found.iter().map(|p| p.id.clone()).collect();
    let mut frozen: HashMap<String, Vec<(String, i64)>> = HashMap::new();
    let mut suit: HashMap<String, String> = HashMap::new();
    for part in ids.chunks(500) {
        let orders: Vec<(String, String, i64)> = freeze_order::Entity::find()
            .select_only()
            .column(F::PreservationId)
            .column(F::Platform)
            .column(F::FrozenFen)
            .filter(F::PreservationId.is_in(part.to_vec()))
            .order_by_asc(F::RequestedAtMs)
            .order_by_asc(F::Id)
            .into_tuple()
            .all(conn)
            .await?;
        for (preservation_id, platform, fen) in orders {
            frozen
                .entry(preservation_id)
                .or_default()
                .push((platform, fen));
        }
        let due: Vec<(String, String)> = deadline::entity::Entity::find()
            .select_only()
            .column(deadline::entity::Column::Subject)
            .column(deadline::entity::Column::EndDate)
            // Both columns of the unique index: a lookup.
            .filter(deadline::entity::Column::Kind.eq(kind::SUIT))
            .filter(deadline::entity::Column::Subject.is_in(part.to_vec()))
            .into_tuple()
            .all(conn)
            .await?;
        suit.extend(due);
    }
    Ok(found
        .into_iter()
        .map(|p| NoticeDue {
            frozen: frozen.remove(&p.id).unwrap_or_default(),
            suit_due: suit.remove(&p.id),
            preservation: p,
        })
        .collect())
}

/// What became of one notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeSent {
    pub preservation_id: String,
    pub delivery_id: String,
    pub channel: String,
    pub html: String,
    /// `sent`, `delivered` or `failed`; `pending`: no answer, sent again later.
    pub status: String,
    pub failure: String,
    pub delivered_at_ms: Option<i64>,
}

pub async fn record_notice(db: &Db, sent: Vec<NoticeSent>, now_ms: i64) -> Result<(), DbErr> {
    if sent.is_empty() {
        return Ok(());
    }
    let txn = sieve_kernel::db::begin_write(db).await?;
    let ids: Vec<String> = sent.iter().map(|s| s.preservation_id.clone()).collect();
    let mut found = super::by_ids_for_update(&txn, &ids).await?;
    let mut events = Vec::new();
    let mut changed = Vec::new();
    for s in sent {
        let Some(p) = found.get_mut(&s.preservation_id) else {
            continue;
        };
        if p.notice_status != "pending" {
            continue;
        }
        p.notice_delivery_id = Some(s.delivery_id);
        p.notice_channel = s.channel;
        p.notice_html = s.html;
        p.notice_failure = s.failure;
        if s.status == "pending" {
            p.notice_attempts += 1;
            p.notice_next_try_at_ms = now_ms + retry_after_ms(p.notice_attempts);
        } else {
            let why = match s.status.as_str() {
                "failed" => format!(
                    "保全告知书未能送达（{}）：{} / the notice could not be served by {}: {}",
                    p.notice_channel, p.notice_failure, p.notice_channel, p.notice_failure
                ),
                _ => format!(
                    "已向被申请人送达保全告知书（{}），载明回访电话（民事诉讼法第106条） / notice served on the debtor by {}, with the bank's callback phone (CPL 106)",
                    p.notice_channel, p.notice_channel
                ),
            };
            events.push(super::clocks::case_event(
                p,
                "preservation.debtor_notified",
                format!("{}/notice", p.id),
                why,
                now_ms,
            ));
            p.notice_status = s.status;
            p.notice_delivered_at_ms = s.delivered_at_ms;
        }
        changed.push(p.clone().into_active_model());
    }
    {
        use preservation::Column as P;
        update_columns(
            &txn,
            changed,
            &[
                P::NoticeDeliveryId,
                P::NoticeChannel,
                P::NoticeHtml,
                P::NoticeFailure,
                P::NoticeAttempts,
                P::NoticeNextTryAtMs,
                P::NoticeStatus,
                P::NoticeDeliveredAtMs,
            ],
        )
        .await?;
    }
    sieve_kernel::stage::note(&txn, now_ms, "notices", &events).await?;
    txn.commit().await
}
