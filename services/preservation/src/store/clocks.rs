//! What the clocks do when they run out (the sweeper's handler), and the acts that stop or
//! move them: a callback, a suit filed, a lift, a renewal. Each runs inside one transaction
//! with its outbox messages (stage outcomes, timeline events) and deadline changes.

use async_trait::async_trait;
use chrono::NaiveDate;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter,
};
use sieve_kernel::calendar::Calendar;
use sieve_kernel::deadline::{self, DueDeadline, OnDue};
use sieve_kernel::rules::dates;
use sieve_kernel::stage::{self, CaseEvent, Stage, StageOutcome};
use sieve_proto::common::v1::Actor;

use super::rulings::update;
use super::{callback_row, expiry_subject, freeze_order, kind, new_id, preservation};
use crate::domain::clocks;

/// Lift reasons as stored (the protobuf `LiftReason` without its prefix).
pub mod lift_reason {
    pub const CASE_CLOSED: &str = "CASE_CLOSED";
    pub const NO_SUIT_IN_TIME: &str = "NO_SUIT_IN_TIME";
    pub const APPLICANT_REQUEST: &str = "APPLICANT_REQUEST";
    pub const COURT_ORDER: &str = "COURT_ORDER";
    pub const EXPIRED: &str = "EXPIRED";
}

/// An event on the case's timeline within its stage, from preservation.
pub fn case_event(
    p: &preservation::Model,
    what: &'static str,
    record: String,
    reason: String,
    now_ms: i64,
) -> CaseEvent {
    CaseEvent {
        source: "preservation",
        record,
        case_id: p.case_id.clone(),
        actor: Actor::Preservation,
        kind: what,
        reason,
        source_record_id: p.ruling_number.clone().unwrap_or_else(|| p.id.clone()),
        occurred_at_ms: now_ms,
        preservation_applied: false,
    }
}

/// The sweeper's handler for preservation's deadlines.
pub struct OnDueDeadline;

#[async_trait]
impl OnDue for OnDueDeadline {
    async fn fire(&self, txn: &DatabaseTransaction, due: &DueDeadline) -> Result<(), String> {
        fire(txn, due).await.map_err(|e| e.to_string())
    }
}

async fn fire(txn: &DatabaseTransaction, due: &DueDeadline) -> Result<(), DbErr> {
    let now_ms = due.due_at_ms;
    if due.kind == kind::FREEZE_EXPIRY {
        return expire(txn, due).await;
    }
    let Some(mut p) = super::get_for_update(txn, &due.subject).await? else {
        return Ok(());
    };
    match due.kind.as_str() {
        // CPL 104 para 2: listed for the court, first.
        kind::RULING if p.status == preservation::Status::Applied => {
            p.ruling_overdue = true;
            update(txn, &p).await?;
        }
        kind::SUIT_REMINDER
            if p.status == preservation::Status::InForce && p.litigation_id.is_none() =>
        {
            let end = deadline::find(txn, kind::SUIT, &p.id)
                .await?
                .map(|d| d.end_date)
                .unwrap_or_default();
            let e = case_event(
                &p,
                "preservation.suit_reminder",
                format!("{}/suit-reminder", p.id),
                format!(
                    "起诉期限将于 {end} 届满，逾期未起诉将解除保全（民事诉讼法第104条第3款） / \
                     the 30 days to sue end on {end}; without a suit the freezes are lifted (CPL 104 para 3)"
                ),
                now_ms,
            );
            stage::note(txn, now_ms, &p.case_id, &[e]).await?;
        }
        // CPL 104 para 3: no suit within 30 days, the measure is lifted. A case no callback
        // took to mediation goes to suit: after preservation it may not take the
        // payment-order path (Interp. 427(7)).
        kind::SUIT if p.status == preservation::Status::InForce && p.litigation_id.is_none() => {
            let called_back = callback_row::Entity::find()
                .filter(callback_row::Column::PreservationId.eq(p.id.clone()))
                .count(txn)
                .await?
                > 0;
            lift(txn, &mut p, lift_reason::NO_SUIT_IN_TIME, "", now_ms).await?;
            if !called_back {
                stage::report(
                    txn,
                    now_ms,
                    &StageOutcome {
                        source: "preservation-no-suit",
                        record: p.id.clone(),
                        case_id: p.case_id.clone(),
                        from: Stage::Preservation,
                        to: Stage::Litigation,
                        actor: Actor::Preservation,
                        reason: "30日内未起诉且债务人未回电，保全解除；已申请诉前保全的案件不适用督促程序（民诉法解释第427条第7项），转诉讼 / \
                                 no suit within 30 days and no callback: freezes lifted; a preserved case may not take the payment-order path (Interp. 427(7)), so to litigation"
                            .into(),
                        source_record_id: clocks::rule::SUIT_30_DAYS.into(),
                        occurred_at_ms: now_ms,
                    },
                )
                .await?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// A freeze reached its year unrenewed: it lapses (Interp. 485), released at the platform.
async fn expire(txn: &DatabaseTransaction, due: &DueDeadline) -> Result<(), DbErr> {
    let Some((order_id, renewals)) = due.subject.split_once('/') else {
        return Ok(());
    };
    let Some(mut o) =
        sieve_kernel::db::by_key(freeze_order::Entity::find_by_id(order_id.to_string()), txn)
            .await?
    else {
        return Ok(());
    };
    if o.status != freeze_order::Status::Frozen
        || o.lift_wanted.is_some()
        || o.renewals.to_string() != renewals
    {
        return Ok(());
    }
    o.lift_wanted = Some(lift_reason::EXPIRED.into());
    o.next_try_at_ms = 0;
    o.into_active_model().reset_all().update(txn).await?;
    Ok(())
}

/// Lifts every freeze of `p`: orders still held or unanswered are marked for lifting (the
/// executor releases them at the platforms), the clocks stop, and once nothing is held the
/// preservation is LIFTED. An application not yet ruled on is closed at once.
pub async fn lift<C: ConnectionTrait>(
    txn: &C,
    p: &mut preservation::Model,
    reason: &str,
    note: &str,
    now_ms: i64,
) -> Result<(), DbErr> {
    if p.lift_reason.is_some() {
        return Ok(());
    }
    p.lift_reason = Some(reason.to_string());
    p.lift_note = note.to_string();
    for k in [kind::RULING, kind::SUIT, kind::SUIT_REMINDER] {
        deadline::cancel(txn, k, &p.id, now_ms).await?;
    }
    let orders = freeze_order::Entity::find()
        .filter(freeze_order::Column::PreservationId.eq(p.id.clone()))
        .all(txn)
        .await?;
    let mut live = false;
    for mut o in orders {
        if !matches!(
            o.status,
            freeze_order::Status::Requested | freeze_order::Status::Frozen
        ) {
            continue;
        }
        live = true;
        deadline::cancel(
            txn,
            kind::FREEZE_EXPIRY,
            &expiry_subject(&o.id, o.renewals),
            now_ms,
        )
        .await?;
        o.lift_wanted = Some(reason.to_string());
        o.next_try_at_ms = 0;
        o.into_active_model().reset_all().update(txn).await?;
    }
    if !live {
        p.status = preservation::Status::Lifted;
        p.lifted_at_ms = Some(now_ms);
        p.open_case_id = None;
    }
    update(txn, p).await?;
    let e = case_event(
        p,
        "preservation.lift_ordered",
        format!("{}/lift", p.id),
        format!("解除保全 / the freezes are lifted: {reason}"),
        now_ms,
    );
    stage::note(txn, now_ms, &p.case_id, &[e]).await
}

/// Records the debtor's call. The first call of a preservation in force moves the case to
/// mediation (以保促调); the freezes stay until the suit period or the case decides them.
pub async fn callback(
    txn: &DatabaseTransaction,
    p: &preservation::Model,
    called_at_ms: i64,
    caller_phone: &str,
    note: &str,
    now_ms: i64,
) -> Result<(), DbErr> {
    let first = callback_row::Entity::find()
        .filter(callback_row::Column::PreservationId.eq(p.id.clone()))
        .count(txn)
        .await?
        == 0;
    callback_row::Entity::insert(
        callback_row::Model {
            id: new_id(),
            preservation_id: p.id.clone(),
            called_at_ms,
            caller_phone: caller_phone.to_string(),
            note: note.to_string(),
            recorded_at_ms: now_ms,
        }
        .into_active_model(),
    )
    .exec_without_returning(txn)
    .await?;
    if first {
        stage::report(
            txn,
            now_ms,
            &StageOutcome {
                source: "preservation-callback",
                record: p.id.clone(),
                case_id: p.case_id.clone(),
                from: Stage::Preservation,
                to: Stage::Mediation,
                actor: Actor::Preservation,
                reason:
                    "债务人拨打回访电话，转调解（以保促调） / the debtor called back: to mediation"
                        .into(),
                source_record_id: p.ruling_number.clone().unwrap_or_else(|| p.id.clone()),
                occurred_at_ms: called_at_ms,
            },
        )
        .await?;
    }
    Ok(())
}

/// Records the applicant's suit. In time (on or before the suit period's last day) it stops
/// the clock and carries the freezes over (provisions art. 17); late, it is recorded and
/// saves nothing. Returns whether it was in time.
pub async fn suit_filed(
    txn: &DatabaseTransaction,
    p: &mut preservation::Model,
    litigation_id: &str,
    filed_on: NaiveDate,
    now_ms: i64,
) -> Result<bool, DbErr> {
    let due = deadline::find(txn, kind::SUIT, &p.id).await?;
    let in_time = due
        .as_ref()
        .and_then(|d| dates::parse_iso(&d.end_date))
        .is_some_and(|end| filed_on <= end)
        && p.lift_reason.is_none();
    if p.litigation_id.is_none() {
        p.litigation_id = Some(litigation_id.to_string());
        p.suit_filed_on = Some(dates::iso(filed_on));
        update(txn, p).await?;
    }
    if in_time {
        for k in [kind::SUIT, kind::SUIT_REMINDER] {
            deadline::cancel(txn, k, &p.id, now_ms).await?;
        }
    }
    Ok(in_time)
}

/// Why a renewal was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotRenewed {
    /// Not a freeze in force (its status, or being lifted).
    NotInForce(freeze_order::Status),
    /// Asked fewer than 7 days before expiry (provisions art. 18): the last day it could be.
    Late(NaiveDate),
    /// Not after the current expiry, or more than a year after it (Interp. 485).
    BadExpiry {
        current: NaiveDate,
        latest: NaiveDate,
    },
}

/// Extends a freeze to `new_expires_on` (moved off a rest day as any period end).
pub async fn renew(
    txn: &DatabaseTransaction,
    o: &mut freeze_order::Model,
    new_expires_on: NaiveDate,
    today: NaiveDate,
    calendar: &Calendar,
    now_ms: i64,
) -> Result<Result<(), NotRenewed>, DbErr> {
    let current = o.expires_on.as_deref().and_then(dates::parse_iso);
    let (Some(current), freeze_order::Status::Frozen, None) = (current, o.status, &o.lift_wanted)
    else {
        return Ok(Err(NotRenewed::NotInForce(o.status)));
    };
    if let Err(late) = clocks::renewal(current, today) {
        return Ok(Err(NotRenewed::Late(late.last_day)));
    }
    let latest = dates::add_months(current, 12);
    if new_expires_on <= current || new_expires_on > latest {
        return Ok(Err(NotRenewed::BadExpiry { current, latest }));
    }
    deadline::cancel(
        txn,
        kind::FREEZE_EXPIRY,
        &expiry_subject(&o.id, o.renewals),
        now_ms,
    )
    .await?;
    let days = (new_expires_on - current).num_days().max(1) as u32;
    let expiry = calendar.days(clocks::rule::FREEZE_1_YEAR, current, days);
    o.renewals += 1;
    o.expires_on = Some(dates::iso(expiry.end));
    deadline::schedule(
        txn,
        kind::FREEZE_EXPIRY,
        &expiry_subject(&o.id, o.renewals),
        &o.case_id,
        &expiry,
        now_ms,
    )
    .await?;
    o.clone()
        .into_active_model()
        .reset_all()
        .update(txn)
        .await?;
    Ok(Ok(()))
}
