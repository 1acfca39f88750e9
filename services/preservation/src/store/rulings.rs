//! Applications, the court's rulings on them, and cases sent on without preservation: each a
//! call's rows inside the call's write transaction (the API opens and commits it).

use std::collections::{HashMap, HashSet};

use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter,
};
use sieve_kernel::calendar::Calendar;
use sieve_kernel::db::{insert_all, update_columns};
use sieve_kernel::deadline::{self, Scheduled};
use sieve_kernel::stage::{self, Stage, StageOutcome};
use sieve_proto::common::v1::Actor;

use super::{freeze_order, kind, new_id, of_cases, preservation, shanghai_date};
use crate::domain::clocks;
use crate::domain::freezes::{self, Next, parse_platforms};

/// Writes the admitted applications: a case with an open preservation gets it back instead
/// (`Err`), a new one is APPLIED with its 48-hour deadline (CPL 104 para 2).
pub async fn apply(
    txn: &DatabaseTransaction,
    admitted: Vec<preservation::Model>,
    calendar: &Calendar,
    now_ms: i64,
) -> Result<Vec<Result<preservation::Model, preservation::Model>>, DbErr> {
    let cases: Vec<String> = admitted.iter().map(|p| p.case_id.clone()).collect();
    let open: HashMap<String, preservation::Model> = of_cases(txn, &cases)
        .await?
        .into_iter()
        .filter(|p| p.open_case_id.is_some())
        .map(|p| (p.case_id.clone(), p))
        .collect();
    let accepted_at = chrono::DateTime::from_timestamp_millis(now_ms).unwrap_or_default();
    let due = clocks::ruling_due(calendar, accepted_at);
    let mut out = Vec::with_capacity(admitted.len());
    let mut new = Vec::new();
    for p in admitted {
        if let Some(existing) = open.get(&p.case_id) {
            out.push(Err(existing.clone()));
            continue;
        }
        new.push(p.clone().into_active_model());
        out.push(Ok(p));
    }
    let clocks: Vec<Scheduled> = out
        .iter()
        .filter_map(|p| p.as_ref().ok())
        .map(|p| Scheduled {
            kind: kind::RULING,
            subject: &p.id,
            case_id: &p.case_id,
            deadline: &due,
        })
        .collect();
    deadline::schedule_many(txn, &clocks, now_ms).await?;
    insert_all(txn, new).await?;
    Ok(out)
}

/// The court's decision on one application.
#[derive(Debug, Clone)]
pub struct Ruling {
    pub preservation_id: String,
    pub approve: bool,
    pub reason: String,
    pub ruling_number: String,
}

/// Why a ruling was not applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotRuled {
    Unknown,
    /// Not awaiting a ruling: its status now.
    NotAwaiting(preservation::Status),
}

/// Rules on applications: approval starts the freezes at once (the first order written here,
/// sent by the executor after commit) and the suit clock; rejection closes the application.
pub async fn rule(
    txn: &DatabaseTransaction,
    rulings: &[Ruling],
    judge: &str,
    calendar: &Calendar,
    now_ms: i64,
) -> Result<Vec<Result<preservation::Model, NotRuled>>, DbErr> {
    let ids: Vec<String> = rulings.iter().map(|r| r.preservation_id.clone()).collect();
    let mut found = super::by_ids_for_update(txn, &ids).await?;
    let today = shanghai_date(now_ms);
    let suit = clocks::suit_due(calendar, today);
    let reminder = clocks::suit_reminder(calendar, today);
    let mut orders = Vec::new();
    let mut out = Vec::with_capacity(rulings.len());
    let mut ruled = Vec::new();
    for r in rulings {
        let Some(p) = found.get_mut(&r.preservation_id) else {
            out.push(Err(NotRuled::Unknown));
            continue;
        };
        if p.status != preservation::Status::Applied {
            out.push(Err(NotRuled::NotAwaiting(p.status)));
            continue;
        }
        ruled.push(p.id.clone());
        p.judge = judge.to_string();
        p.ruled_at_ms = Some(now_ms);
        p.ruling_number = Some(r.ruling_number.clone());
        if r.approve {
            p.status = preservation::Status::InForce;
            p.decision = Some("APPROVE".into());
            p.measure_taken_at_ms = Some(now_ms);
            if let Next::Send {
                platform,
                amount_fen,
            } = freezes::next(p.amount_fen, &parse_platforms(&p.platforms), &[])
            {
                orders.push(new_order(p, platform, amount_fen, now_ms).into_active_model());
            }
        } else {
            p.status = preservation::Status::Rejected;
            p.decision = Some("REJECT".into());
            p.ruling_reason = r.reason.clone();
            p.open_case_id = None;
        }
        out.push(Ok(p.clone()));
    }
    deadline::cancel_many(txn, kind::RULING, &ruled, now_ms).await?;
    let approved: Vec<&preservation::Model> = out
        .iter()
        .filter_map(|p| p.as_ref().ok())
        .filter(|p| p.status == preservation::Status::InForce)
        .collect();
    // The suit clock (CPL 104 para 3) and its reminder start with the measure.
    let clocks: Vec<Scheduled> = approved
        .iter()
        .flat_map(|p| {
            [(kind::SUIT, &suit), (kind::SUIT_REMINDER, &reminder)].map(|(kind, deadline)| {
                Scheduled {
                    kind,
                    subject: &p.id,
                    case_id: &p.case_id,
                    deadline,
                }
            })
        })
        .collect();
    deadline::schedule_many(txn, &clocks, now_ms).await?;
    let changed = out
        .iter()
        .filter_map(|p| p.as_ref().ok())
        .map(|p| p.clone().into_active_model())
        .collect();
    // What a ruling changes of an application.
    {
        use preservation::Column as P;
        update_columns(
            txn,
            changed,
            &[
                P::Judge,
                P::RuledAtMs,
                P::RulingNumber,
                P::Status,
                P::Decision,
                P::MeasureTakenAtMs,
                P::RulingReason,
                P::OpenCaseId,
            ],
        )
        .await?;
    }
    insert_all(txn, orders).await?;
    Ok(out)
}

/// A new order to `platform` for `amount_fen`, written before it is sent.
pub(super) fn new_order(
    p: &preservation::Model,
    platform: freezes::Platform,
    amount_fen: i64,
    now_ms: i64,
) -> freeze_order::Model {
    freeze_order::Model {
        id: new_id(),
        preservation_id: p.id.clone(),
        case_id: p.case_id.clone(),
        platform: platform.word().to_string(),
        status: freeze_order::Status::Requested,
        requested_fen: amount_fen,
        frozen_fen: 0,
        platform_reference: String::new(),
        requested_at_ms: now_ms,
        frozen_at_ms: None,
        expires_on: None,
        renewals: 0,
        lift_wanted: None,
        lifted_at_ms: None,
        failure_reason: String::new(),
        attempts: 0,
        next_try_at_ms: 0,
        last_error: None,
    }
}

/// Writes every column of `p` back.
pub(super) async fn update<C: sea_orm::ConnectionTrait>(
    txn: &C,
    p: &preservation::Model,
) -> Result<(), DbErr> {
    p.clone()
        .into_active_model()
        .reset_all()
        .update(txn)
        .await?;
    Ok(())
}

/// Where a case forgone went, and by which rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forgone {
    pub to: Stage,
    pub rule: &'static str,
}

/// Interp. 427(7): no payment order after pre-litigation preservation was applied for.
pub const RULE_NEVER_APPLIED: &str = "cpl_225.no_preservation_applied";
pub const RULE_APPLIED_BEFORE: &str = "interp_427_7.preservation_applied";

/// Sends the bank's cases on without preservation. `Err`: one is open (APPLIED or IN_FORCE).
/// A case forgone before answers as it did then.
pub async fn forgo(
    txn: &DatabaseTransaction,
    bank_id: &str,
    case_ids: &[String],
    now_ms: i64,
) -> Result<Vec<Result<Forgone, preservation::Model>>, DbErr> {
    use super::forgone;
    let ever = of_cases(txn, case_ids).await?;
    let open: HashMap<&str, &preservation::Model> = ever
        .iter()
        .filter(|p| p.open_case_id.is_some())
        .map(|p| (p.case_id.as_str(), p))
        .collect();
    let applied: HashSet<&str> = ever.iter().map(|p| p.case_id.as_str()).collect();
    let before: HashMap<String, forgone::Model> = forgone::Entity::find()
        .filter(forgone::Column::CaseId.is_in(case_ids.to_vec()))
        .all(txn)
        .await?
        .into_iter()
        .map(|f| (f.case_id.clone(), f))
        .collect();
    let mut out = Vec::with_capacity(case_ids.len());
    let mut outcomes = Vec::new();
    let mut rows = Vec::new();
    for case_id in case_ids {
        if let Some(f) = before.get(case_id) {
            let to = Stage::parse(&f.to_stage).unwrap_or(Stage::Litigation);
            let rule = if to == Stage::PaymentOrder {
                RULE_NEVER_APPLIED
            } else {
                RULE_APPLIED_BEFORE
            };
            out.push(Ok(Forgone { to, rule }));
            continue;
        }
        if let Some(p) = open.get(case_id.as_str()) {
            out.push(Err((*p).clone()));
            continue;
        }
        let (to, rule, why) = if applied.contains(case_id.as_str()) {
            (
                Stage::Litigation,
                RULE_APPLIED_BEFORE,
                "诉前保全已申请过，不得申请支付令（民诉法解释第427条第7项） / preservation was applied for, so no payment order (Interp. 427(7))",
            )
        } else {
            (
                Stage::PaymentOrder,
                RULE_NEVER_APPLIED,
                "银行未申请诉前保全，转督促程序 / no preservation applied for: to the payment-order path",
            )
        };
        rows.push(
            forgone::Model {
                case_id: case_id.clone(),
                bank_id: bank_id.to_string(),
                to_stage: to.as_str().to_string(),
                rule: rule.to_string(),
                at_ms: now_ms,
            }
            .into_active_model(),
        );
        outcomes.push(StageOutcome {
            source: "preservation-forgone",
            record: case_id.clone(),
            case_id: case_id.clone(),
            from: Stage::Preservation,
            to,
            actor: Actor::Preservation,
            reason: why.to_string(),
            source_record_id: rule.to_string(),
            occurred_at_ms: now_ms,
        });
        out.push(Ok(Forgone { to, rule }));
    }
    insert_all(txn, rows).await?;
    stage::report_many(txn, now_ms, "forgone", &outcomes).await?;
    Ok(out)
}
