//! Between protobuf and preservation's domain and storage.

use sieve_kernel::deadline::DueDeadline;
use sieve_kernel::rules::dates;
use sieve_kernel::wire::timestamp;
use sieve_proto::common::v1 as common;
use sieve_proto::preservation::v1 as pb;

use crate::domain::application::GuaranteeKind;
use crate::domain::freezes::{Platform, parse_platforms};
use crate::store::{Record, freeze_order, preservation};

pub fn platform_pb(p: Platform) -> pb::PaymentPlatform {
    match p {
        Platform::Alipay => pb::PaymentPlatform::Alipay,
        Platform::WechatPay => pb::PaymentPlatform::WechatPay,
    }
}

pub fn platform_of_pb(v: i32) -> Option<Platform> {
    match pb::PaymentPlatform::try_from(v).ok()? {
        pb::PaymentPlatform::Alipay => Some(Platform::Alipay),
        pb::PaymentPlatform::WechatPay => Some(Platform::WechatPay),
        pb::PaymentPlatform::Unspecified => None,
    }
}

pub fn guarantee_kind_of_pb(v: i32) -> GuaranteeKind {
    match pb::GuaranteeKind::try_from(v) {
        Ok(pb::GuaranteeKind::InsurancePolicy) => GuaranteeKind::InsurancePolicy,
        Ok(pb::GuaranteeKind::BankGuarantee) => GuaranteeKind::BankGuarantee,
        _ => GuaranteeKind::Other,
    }
}

pub fn guarantee_kind_word(k: GuaranteeKind) -> &'static str {
    match k {
        GuaranteeKind::InsurancePolicy => "INSURANCE_POLICY",
        GuaranteeKind::BankGuarantee => "BANK_GUARANTEE",
        GuaranteeKind::Other => "OTHER",
    }
}

fn guarantee_kind_pb(word: &str) -> pb::GuaranteeKind {
    pb::GuaranteeKind::from_str_name(&format!("GUARANTEE_KIND_{word}"))
        .unwrap_or(pb::GuaranteeKind::Unspecified)
}

pub fn status_pb(s: preservation::Status) -> pb::PreservationStatus {
    match s {
        preservation::Status::Applied => pb::PreservationStatus::Applied,
        preservation::Status::Rejected => pb::PreservationStatus::Rejected,
        preservation::Status::InForce => pb::PreservationStatus::InForce,
        preservation::Status::Lifted => pb::PreservationStatus::Lifted,
    }
}

pub fn status_of_pb(v: i32) -> Option<preservation::Status> {
    match pb::PreservationStatus::try_from(v).ok()? {
        pb::PreservationStatus::Applied => Some(preservation::Status::Applied),
        pb::PreservationStatus::Rejected => Some(preservation::Status::Rejected),
        pb::PreservationStatus::InForce => Some(preservation::Status::InForce),
        pb::PreservationStatus::Lifted => Some(preservation::Status::Lifted),
        pb::PreservationStatus::Unspecified => None,
    }
}

fn freeze_status_pb(s: freeze_order::Status) -> pb::FreezeStatus {
    match s {
        freeze_order::Status::Requested => pb::FreezeStatus::Requested,
        freeze_order::Status::Frozen => pb::FreezeStatus::Frozen,
        freeze_order::Status::Failed => pb::FreezeStatus::Failed,
        freeze_order::Status::Lifted => pb::FreezeStatus::Lifted,
        freeze_order::Status::Expired => pb::FreezeStatus::Expired,
    }
}

/// The stored lift reason word as the protobuf enum.
pub fn lift_reason_pb(word: Option<&str>) -> pb::LiftReason {
    word.and_then(|w| pb::LiftReason::from_str_name(&format!("LIFT_REASON_{w}")))
        .unwrap_or(pb::LiftReason::Unspecified)
}

/// The protobuf lift reason as stored; `None` for UNSPECIFIED.
pub fn lift_reason_word(v: i32) -> Option<&'static str> {
    use crate::store::lift_reason as w;
    match pb::LiftReason::try_from(v).ok()? {
        pb::LiftReason::CaseClosed => Some(w::CASE_CLOSED),
        pb::LiftReason::NoSuitInTime => Some(w::NO_SUIT_IN_TIME),
        pb::LiftReason::ApplicantRequest => Some(w::APPLICANT_REQUEST),
        pb::LiftReason::CourtOrder => Some(w::COURT_ORDER),
        pb::LiftReason::Expired => Some(w::EXPIRED),
        pb::LiftReason::Unspecified => None,
    }
}

pub fn deadline_pb(d: &DueDeadline) -> common::Deadline {
    common::Deadline {
        due_on: dates::parse_iso(&d.end_date).map(dates::date_pb),
        due_at: Some(timestamp(d.due_at_ms)),
        rule: d.rule.clone(),
        holiday_calendar_missing: d.holiday_calendar_missing,
    }
}

fn date(text: Option<&str>) -> Option<common::Date> {
    text.and_then(dates::parse_iso).map(dates::date_pb)
}

fn order_pb(r: &Record, o: &freeze_order::Model) -> pb::FreezeOrder {
    let renewal_due = r.expiry(o).and_then(|d| {
        let expires = dates::parse_iso(&d.end_date)?;
        let last = expires - chrono::Duration::days(crate::domain::clocks::RENEWAL_DAYS_BEFORE);
        Some(common::Deadline {
            due_on: Some(dates::date_pb(last)),
            due_at: None,
            rule: crate::domain::clocks::rule::RENEWAL_7_DAYS.into(),
            holiday_calendar_missing: d.holiday_calendar_missing,
        })
    });
    pb::FreezeOrder {
        freeze_order_id: o.id.clone(),
        platform: Platform::parse(&o.platform).map_or(0, |p| platform_pb(p) as i32),
        status: freeze_status_pb(o.status) as i32,
        requested_fen: o.requested_fen,
        frozen_fen: o.frozen_fen,
        platform_reference: o.platform_reference.clone(),
        requested_at: Some(timestamp(o.requested_at_ms)),
        frozen_at: o.frozen_at_ms.map(timestamp),
        expires_on: date(o.expires_on.as_deref()),
        renewal_due,
        renewals: o.renewals,
        lifted_at: o.lifted_at_ms.map(timestamp),
        failure_reason: o.failure_reason.clone(),
    }
}

pub fn preservation_pb(r: &Record) -> pb::Preservation {
    let p = &r.preservation;
    let decision = match p.decision.as_deref() {
        Some("APPROVE") => pb::RulingDecision::Approve,
        Some("REJECT") => pb::RulingDecision::Reject,
        _ => pb::RulingDecision::Unspecified,
    };
    let ruling = p.ruled_at_ms.map(|at| pb::PreservationRuling {
        decision: decision as i32,
        reason: p.ruling_reason.clone(),
        ruling_number: p.ruling_number.clone().unwrap_or_default(),
        judge: p.judge.clone(),
        ruled_at: Some(timestamp(at)),
        ruled_by: Some(common::Author {
            actor: common::Actor::Court as i32,
            organisation_id: String::new(),
            user: p.judge.clone(),
        }),
    });
    let notice = p.notice_delivery_id.as_ref().map(|id| pb::Notice {
        delivery_id: id.clone(),
        channel: p.notice_channel.clone(),
        status: p.notice_status.clone(),
        failure_reason: p.notice_failure.clone(),
        delivered_at: p.notice_delivered_at_ms.map(timestamp),
        html: p.notice_html.clone(),
    });
    pb::Preservation {
        preservation_id: p.id.clone(),
        case_summary: Some(common::CaseSummary {
            case_ref: Some(common::CaseRef {
                case_id: p.case_id.clone(),
                bank_id: p.bank_id.clone(),
                bank_case_ref: p.bank_case_ref.clone(),
            }),
            product: 0,
            debtor: Some(common::Debtor {
                kind: common::DebtorKind::NaturalPerson as i32,
                name: p.debtor_name.clone(),
                id_number: p.debtor_id_number.clone(),
                phone: p.debtor_phone.clone(),
                address: p.debtor_address.clone(),
                division_code: String::new(),
            }),
            claim: Some(common::Claim {
                total_fen: p.claim_fen,
                ..Default::default()
            }),
            contract_ref: String::new(),
        }),
        status: status_pb(p.status) as i32,
        amount_fen: p.amount_fen,
        guarantee: Some(pb::Guarantee {
            kind: guarantee_kind_pb(&p.guarantee_kind) as i32,
            issuer_name: p.guarantee_issuer_name.clone(),
            issuer_code: p.guarantee_issuer_code.clone(),
            instrument_number: p.guarantee_instrument.clone(),
            amount_fen: p.guarantee_fen,
            valid_from: date(p.guarantee_valid_from.as_deref()),
            valid_until: date(p.guarantee_valid_until.as_deref()),
            document: None,
        }),
        platforms: parse_platforms(&p.platforms)
            .into_iter()
            .map(|x| platform_pb(x) as i32)
            .collect(),
        fee_fen: p.fee_fen,
        callback_phone: p.callback_phone.clone(),
        applied_at: Some(timestamp(p.applied_at_ms)),
        ruling_due: r.deadline(crate::store::kind::RULING).map(deadline_pb),
        ruling,
        measure_taken_at: p.measure_taken_at_ms.map(timestamp),
        suit_due: r.deadline(crate::store::kind::SUIT).map(deadline_pb),
        debtor_notified_at: p.notice_delivered_at_ms.map(timestamp),
        freeze_orders: r.orders.iter().map(|o| order_pb(r, o)).collect(),
        callbacks: r
            .callbacks
            .iter()
            .map(|c| pb::Callback {
                callback_id: c.id.clone(),
                called_at: Some(timestamp(c.called_at_ms)),
                caller_phone: c.caller_phone.clone(),
                note: c.note.clone(),
                recorded_by: None,
            })
            .collect(),
        litigation_id: p.litigation_id.clone().unwrap_or_default(),
        suit_filed_on: date(p.suit_filed_on.as_deref()),
        lift_reason: lift_reason_pb(p.lift_reason.as_deref()) as i32,
        lift_note: p.lift_note.clone(),
        lifted_at: p.lifted_at_ms.map(timestamp),
        applied_by: Some(common::Author {
            actor: common::Actor::Bank as i32,
            organisation_id: p.bank_id.clone(),
            user: String::new(),
        }),
        ruling_overdue: p.ruling_overdue,
        suit_reminder: r
            .deadline(crate::store::kind::SUIT_REMINDER)
            .map(deadline_pb),
        notice,
    }
}
