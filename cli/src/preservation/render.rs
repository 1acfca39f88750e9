//! How a preservation is shown: whole (`sieve preservation show`, `sieve status`) or as a
//! line of the court's list. Debtors' names and the numbers they called from are masked.

use std::fmt::Write as _;

use sieve_kernel::rules::dates::{date_from_pb, iso};
use sieve_kernel::rules::mask;
use sieve_kernel::rules::money::format_yuan;
use sieve_proto::common::v1::Deadline;
use sieve_proto::preservation::v1::{
    FreezeOrder, FreezeStatus, GuaranteeKind, LiftReason, PaymentPlatform, Preservation,
    PreservationStatus, RulingDecision,
};

use crate::format::{enum_name, shanghai_time};

/// `PRESERVATION_STATUS_IN_FORCE` → `IN_FORCE`.
pub fn status_word(value: i32) -> String {
    enum_name(
        PreservationStatus::try_from(value).map(|s| s.as_str_name()),
        "PRESERVATION_STATUS_",
        value,
    )
}

/// `ALIPAY`, `WECHAT_PAY`.
pub fn platform(value: i32) -> String {
    enum_name(
        PaymentPlatform::try_from(value).map(|p| p.as_str_name()),
        "PAYMENT_PLATFORM_",
        value,
    )
}

pub fn lift_reason(value: i32) -> String {
    enum_name(
        LiftReason::try_from(value).map(|r| r.as_str_name()),
        "LIFT_REASON_",
        value,
    )
}

fn freeze_status(value: i32) -> String {
    enum_name(
        FreezeStatus::try_from(value).map(|s| s.as_str_name()),
        "FREEZE_STATUS_",
        value,
    )
}

fn guarantee_kind(value: i32) -> &'static str {
    match GuaranteeKind::try_from(value) {
        Ok(GuaranteeKind::InsurancePolicy) => "保险保单 insurance policy",
        Ok(GuaranteeKind::BankGuarantee) => "银行保函 bank guarantee",
        _ => "unspecified",
    }
}

/// What the platforms hold for it now: the frozen orders' sums.
pub fn total_frozen_fen(p: &Preservation) -> i64 {
    p.freeze_orders
        .iter()
        .filter(|o| o.status == FreezeStatus::Frozen as i32)
        .map(|o| o.frozen_fen)
        .sum()
}

/// A date deadline: `2026-10-08 (cpl_104.suit_30_days)`, saying when no holiday calendar
/// counted it.
fn day(d: &Deadline) -> String {
    let on = date_from_pb(d.due_on.as_ref()).map_or_else(|| "-".to_owned(), iso);
    let missing = if d.holiday_calendar_missing {
        ", weekends only: no holiday calendar for the year"
    } else {
        ""
    };
    format!("{on} ({}{missing})", d.rule)
}

/// An instant deadline (the 48 hours): `2026-09-09 10:00:00 (cpl_104.ruling_48_hours)`.
fn instant(d: &Deadline) -> String {
    format!("{} ({})", shanghai_time(d.due_at.as_ref()), d.rule)
}

/// `, ruling due …` (OVERDUE when the 48 hours ran out) while the court has not ruled.
pub(crate) fn ruling_due_note(p: &Preservation) -> String {
    match (
        &p.ruling_due,
        p.status == PreservationStatus::Applied as i32,
    ) {
        (Some(d), true) => format!(
            ", ruling due {}{}",
            instant(d),
            if p.ruling_overdue { " OVERDUE" } else { "" }
        ),
        _ => String::new(),
    }
}

/// `label`, padded to where the values start, then `value`.
fn field(out: &mut String, label: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "{label:<13} {value}");
}

/// `text` after `lead` (`": "`), or nothing when it is empty.
fn suffix(lead: &str, text: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!("{lead}{text}")
    }
}

/// The preservation whole: the case, the security, the ruling, the deadlines with their
/// rules, each freeze, the notice, the callbacks and the lift.
pub fn render_preservation(p: &Preservation) -> String {
    let mut out = String::new();
    let overdue = if p.ruling_overdue {
        "  (ruling OVERDUE: the 48 hours ran out)"
    } else {
        ""
    };
    let status = status_word(p.status);
    field(
        &mut out,
        "preservation",
        format!("{}  {status}{overdue}", p.preservation_id),
    );
    if let Some(s) = &p.case_summary {
        let (case, reference) = s
            .case_ref
            .as_ref()
            .map_or(("", ""), |r| (r.case_id.as_str(), r.bank_case_ref.as_str()));
        let debtor = s.debtor.as_ref().map_or(String::new(), |d| {
            format!(", debtor {}", mask::name(&d.name))
        });
        field(&mut out, "case", format!("{case}  {reference}{debtor}"));
    }
    let fee = format_yuan(p.fee_fen);
    field(
        &mut out,
        "amount",
        format!("{} yuan, fee {fee} yuan", format_yuan(p.amount_fen)),
    );
    if let Some(g) = &p.guarantee {
        let until = date_from_pb(g.valid_until.as_ref()).map_or_else(|| "the end".to_owned(), iso);
        let from = date_from_pb(g.valid_from.as_ref()).map_or_else(|| "-".to_owned(), iso);
        let security = format!(
            "{}, {} ({}), {} for {} yuan, valid {from} to {until}",
            guarantee_kind(g.kind),
            g.issuer_name,
            g.issuer_code,
            g.instrument_number,
            format_yuan(g.amount_fen)
        );
        field(&mut out, "security", security);
    }
    let platforms: Vec<String> = p.platforms.iter().map(|x| platform(*x)).collect();
    let phone = &p.callback_phone;
    field(
        &mut out,
        "platforms",
        format!("{}; callback phone {phone}", platforms.join(", ")),
    );
    field(&mut out, "applied", shanghai_time(p.applied_at.as_ref()));
    if let Some(d) = &p.ruling_due {
        field(&mut out, "ruling due", instant(d));
    }
    if let Some(r) = &p.ruling {
        let decision = match RulingDecision::try_from(r.decision) {
            Ok(RulingDecision::Approve) => "approved",
            Ok(RulingDecision::Reject) => "rejected",
            _ => "ruled",
        };
        let ruling = format!(
            "{decision} {} by {} at {}{}",
            r.ruling_number,
            r.judge,
            shanghai_time(r.ruled_at.as_ref()),
            suffix(": ", &r.reason)
        );
        field(&mut out, "ruling", ruling);
    }
    if p.measure_taken_at.is_some() {
        field(
            &mut out,
            "measure taken",
            shanghai_time(p.measure_taken_at.as_ref()),
        );
    }
    if let Some(d) = &p.suit_due {
        field(&mut out, "suit due", day(d));
    }
    if let Some(d) = &p.suit_reminder {
        field(&mut out, "reminder", day(d));
    }
    if !p.litigation_id.is_empty() {
        let filed = date_from_pb(p.suit_filed_on.as_ref()).map_or_else(String::new, iso);
        field(
            &mut out,
            "suit filed",
            format!("{} on {filed}", p.litigation_id),
        );
    }
    if !p.freeze_orders.is_empty() {
        let _ = writeln!(out, "freezes:");
        for o in &p.freeze_orders {
            render_freeze(&mut out, o);
        }
    }
    if let Some(n) = &p.notice {
        let at = n
            .delivered_at
            .as_ref()
            .map(|t| format!(" at {}", shanghai_time(Some(t))))
            .unwrap_or_default();
        let failure = suffix(": ", &n.failure_reason);
        let notice = format!("{} by {}{at}{failure} (CPL 106)", n.status, n.channel);
        field(&mut out, "notice", notice);
    }
    if !p.callbacks.is_empty() {
        let _ = writeln!(out, "callbacks:");
        for c in &p.callbacks {
            let _ = writeln!(
                out,
                "  {}  from {}{}",
                shanghai_time(c.called_at.as_ref()),
                mask::phone(&c.caller_phone),
                suffix("  ", &mask::text(&c.note))
            );
        }
    }
    if p.lifted_at.is_some() || p.lift_reason != LiftReason::Unspecified as i32 {
        let lifted = format!(
            "{} {}{}",
            shanghai_time(p.lifted_at.as_ref()),
            lift_reason(p.lift_reason),
            suffix(": ", &mask::text(&p.lift_note))
        );
        field(&mut out, "lifted", lifted);
    }
    out
}

fn render_freeze(out: &mut String, o: &FreezeOrder) {
    let expiry = match (date_from_pb(o.expires_on.as_ref()), &o.renewal_due) {
        (Some(on), Some(renew)) => format!(", expires {}, renew by {}", iso(on), day(renew)),
        (Some(on), None) => format!(", expires {}", iso(on)),
        _ => String::new(),
    };
    let renewals = if o.renewals > 0 {
        format!(", renewed {}x", o.renewals)
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "  {:<10}  asked {} yuan, frozen {} yuan  {}{}{expiry}{renewals}",
        platform(o.platform),
        format_yuan(o.requested_fen),
        format_yuan(o.frozen_fen),
        freeze_status(o.status),
        suffix(": ", &o.failure_reason),
    );
}

/// The court's list: a line each, in the order answered (overdue rulings first), then the
/// counts.
pub fn render_list(found: &[Preservation]) -> String {
    let mut out = String::new();
    for p in found {
        let next = match PreservationStatus::try_from(p.status) {
            Ok(PreservationStatus::Applied) => ruling_due_note(p),
            Ok(PreservationStatus::InForce) => p
                .suit_due
                .as_ref()
                .map(|d| format!(", suit due {}", day(d)))
                .unwrap_or_default(),
            Ok(PreservationStatus::Lifted) => format!(", lifted: {}", lift_reason(p.lift_reason)),
            _ => String::new(),
        };
        // What the platforms hold now: nothing once lifted.
        let frozen = if p.status != PreservationStatus::InForce as i32 {
            String::new()
        } else {
            format!(", frozen {}", format_yuan(total_frozen_fen(p)))
        };
        let _ = writeln!(
            out,
            "{}  case {}  {}  {} yuan{frozen}{next}",
            p.preservation_id,
            super::case_id(p),
            status_word(p.status),
            format_yuan(p.amount_fen),
        );
    }
    let overdue = found.iter().filter(|p| p.ruling_overdue).count();
    let _ = writeln!(
        out,
        "{} preservations, {overdue} with the ruling OVERDUE",
        found.len()
    );
    out
}
