//! Applications (the bank, per row), the court's rulings in batch, the work list, and cases
//! sent on without preservation.

use std::collections::HashSet;

use sieve_kernel::calendar;
use sieve_kernel::rules::dates;
use sieve_kernel::rules::violation::rule as shared;
use sieve_kernel::stage::{self, CaseEvent, Stage};

use super::*;
use crate::domain::application::{self as app, Guarantee};
use crate::domain::freezes::platforms_text;

/// Rule codes of this service's own row refusals.
pub mod rule {
    /// The case is not the bank's, or does not exist (nothing more is said).
    pub const CASE_NOT_FOUND: &str = "case.not_found";
    /// The case is in another stage; the message names it.
    pub const CASE_STAGE: &str = "case.stage";
    pub const DUPLICATE_IN_CALL: &str = "case.duplicate_in_call";
    /// A platform value this court does not freeze on.
    pub const PLATFORM_UNKNOWN: &str = "platform.unknown";
    /// Neither the application nor the bank's record has a callback phone for the notice.
    pub const CALLBACK_PHONE_MISSING: &str = "callback_phone.missing";
    pub const NOT_FOUND: &str = "preservation.not_found";
    /// The preservation is not awaiting a ruling; the message names its status.
    pub const NOT_AWAITING_RULING: &str = "preservation.not_awaiting_ruling";
    pub const DECISION_MISSING: &str = "decision.missing";
    /// A rejection needs its reason; an approval its ruling number.
    pub const REASON_MISSING: &str = "reason.missing";
    pub const RULING_NUMBER_MISSING: &str = "ruling_number.missing";
    /// A preservation is open for the case: it cannot be forgone.
    pub const PRESERVATION_OPEN: &str = "preservation.open";
}

/// A case intake refused, as a row.
fn case_refused(row: i64, case_id: &str, e: &Error) -> pb::PreservationRow {
    let (rule, description) = case_refusal(e);
    refused_row(row, case_id, "case_id", rule, description)
}

pub(super) fn case_refusal(e: &Error) -> (&'static str, String) {
    if e.reason == reason::STAGE_MISMATCH {
        (
            rule::CASE_STAGE,
            format!("案件不在诉前保全阶段 / {}", e.message),
        )
    } else {
        (
            rule::CASE_NOT_FOUND,
            "案件不存在或不属于本行 / no such case of this bank".into(),
        )
    }
}

pub(super) fn status_word(s: store::preservation::Status) -> &'static str {
    convert::status_pb(s).as_str_name()
}

impl PreservationApi {
    pub(super) async fn apply(
        &self,
        mut r: pb::ApplyPreservationRequest,
    ) -> Result<pb::ApplyPreservationResponse> {
        sieve_kernel::wire::require_id("request_id", &r.request_id)?;
        sieve_kernel::wire::require_id("bank_id", &r.bank_id)?;
        row_count("applications", r.applications.len())?;
        let request_id = std::mem::take(&mut r.request_id);
        let call = Call::new("ApplyPreservation", &r.bank_id, &request_id, &r);
        if let Some(mut kept) = self
            .replayed::<pb::ApplyPreservationResponse>(&call)
            .await?
        {
            kept.replayed = true;
            return Ok(kept);
        }
        let bank = self.inner.intake.bank(&r.bank_id).await?;
        let mut rows: Vec<Option<pb::PreservationRow>> = vec![None; r.applications.len()];
        let mut seen = HashSet::new();
        let mut asked = Vec::new();
        for (i, a) in r.applications.iter().enumerate() {
            let row = i as i64 + 1;
            if let Err(e) = sieve_kernel::wire::require_id("case_id", &a.case_id) {
                rows[i] = Some(refused_row(
                    row,
                    &a.case_id,
                    "case_id",
                    shared::REQUIRED,
                    e.message,
                ));
            } else if !seen.insert(a.case_id.clone()) {
                rows[i] = Some(refused_row(
                    row,
                    &a.case_id,
                    "case_id",
                    rule::DUPLICATE_IN_CALL,
                    "该案件在本次申请中重复 / the case appears earlier in this call".into(),
                ));
            } else {
                asked.push(i);
            }
        }
        let ids: Vec<String> = asked
            .iter()
            .map(|&i| r.applications[i].case_id.clone())
            .collect();
        let cases = if ids.is_empty() {
            Vec::new()
        } else {
            self.inner
                .intake
                .cases_of_bank_in_stage(&ids, &r.bank_id, Stage::Preservation)
                .await?
        };
        let today = self.inner.clock.today();
        let now_ms = self.now_ms();
        let mut admitted = Vec::new();
        let mut admitted_rows = Vec::new();
        for (&i, case) in asked.iter().zip(cases) {
            let row = i as i64 + 1;
            let a = &r.applications[i];
            let case = match case {
                Ok(c) => c,
                Err(e) => {
                    rows[i] = Some(case_refused(row, &a.case_id, &e));
                    continue;
                }
            };
            match self.admit(row, a, &case, &bank, today, now_ms) {
                Ok(model) => {
                    admitted.push(model);
                    admitted_rows.push(i);
                }
                Err(refused) => rows[i] = Some(refused),
            }
        }
        let txn = sieve_kernel::db::begin_write(&self.inner.db).await?;
        if let Some(mut kept) = call
            .recall::<pb::ApplyPreservationResponse, _>(&txn)
            .await?
        {
            kept.replayed = true;
            return Ok(kept);
        }
        let calendar = calendar::stored::current(&txn).await?;
        let written = store::apply(&txn, admitted, &calendar, now_ms).await?;
        let mut events = Vec::new();
        let mut shown = Vec::with_capacity(written.len());
        for w in &written {
            match w {
                Ok(p) => {
                    events.push(CaseEvent {
                        preservation_applied: true,
                        ..store::case_event(
                            p,
                            "preservation.applied",
                            format!("{}/applied", p.id),
                            format!(
                                "申请诉前财产保全 {} 元，申请费 {} 元；法院应于48小时内裁定（民事诉讼法第104条第2款） / preservation of {} yuan applied for, fee {} yuan; ruling due within 48 hours (CPL 104 para 2)",
                                sieve_kernel::rules::money::format_yuan(p.amount_fen),
                                sieve_kernel::rules::money::format_yuan(p.fee_fen),
                                sieve_kernel::rules::money::format_yuan(p.amount_fen),
                                sieve_kernel::rules::money::format_yuan(p.fee_fen),
                            ),
                            now_ms,
                        )
                    });
                    shown.push((common::RowOutcome::Accepted, p.clone()));
                }
                Err(p) => shown.push((common::RowOutcome::Existing, p.clone())),
            }
        }
        stage::note(&txn, now_ms, "applications", &events).await?;
        let records = store::records(&txn, shown.iter().map(|(_, p)| p.clone()).collect()).await?;
        for ((&i, (outcome, _)), record) in admitted_rows.iter().zip(&shown).zip(&records) {
            rows[i] = Some(pb::PreservationRow {
                row: i as i64 + 1,
                case_id: record.preservation.case_id.clone(),
                outcome: *outcome as i32,
                preservation: Some(convert::preservation_pb(record)),
                refusals: vec![],
            });
        }
        let rows: Vec<pb::PreservationRow> = rows.into_iter().flatten().collect();
        let answer = pb::ApplyPreservationResponse {
            replayed: false,
            rows,
        };
        call.remember(&txn, &answer, now_ms).await?;
        txn.commit().await?;
        self.wake();
        tracing::info!(applied = events.len(), "preservation applications");
        Ok(answer)
    }

    /// One application checked against its case: the row to store, or its refusal.
    fn admit(
        &self,
        row: i64,
        a: &pb::PreservationInput,
        case: &sieve_proto::intake::v1::Case,
        bank: &sieve_proto::intake::v1::Bank,
        today: chrono::NaiveDate,
        now_ms: i64,
    ) -> std::result::Result<store::preservation::Model, pb::PreservationRow> {
        let refuse =
            |field: &str, rule: &str, d: String| refused_row(row, &a.case_id, field, rule, d);
        let mut platforms = Vec::new();
        for (k, v) in a.platforms.iter().enumerate() {
            match convert::platform_of_pb(*v) {
                Some(p) if !platforms.contains(&p) => platforms.push(p),
                Some(_) => {}
                None => {
                    return Err(refuse(
                        &format!("platforms[{k}]"),
                        rule::PLATFORM_UNKNOWN,
                        format!("未知的支付平台 {v} / unknown payment platform {v}"),
                    ));
                }
            }
        }
        if platforms.is_empty() {
            platforms = self.inner.config.platforms.clone();
        }
        let callback_phone = if a.callback_phone.trim().is_empty() {
            bank.callback_phone.trim().to_string()
        } else {
            a.callback_phone.trim().to_string()
        };
        if callback_phone.is_empty() {
            return Err(refuse(
                "callback_phone",
                rule::CALLBACK_PHONE_MISSING,
                "文书须载明银行回访电话，申请和银行登记均未提供 / the notice needs the bank's callback phone: none in the application or the bank's record".into(),
            ));
        }
        let claim = case.claim.unwrap_or_default();
        let claim_fen =
            claim.principal_fen + claim.interest_fen + claim.penalty_fen + claim.fees_fen;
        let guarantee = a.guarantee.as_ref().map(|g| Guarantee {
            kind: convert::guarantee_kind_of_pb(g.kind),
            issuer_name: g.issuer_name.trim().to_string(),
            instrument_number: g.instrument_number.trim().to_string(),
            amount_fen: g.amount_fen,
            valid_from: dates::date_from_pb(g.valid_from.as_ref()),
            valid_until: dates::date_from_pb(g.valid_until.as_ref()),
        });
        let admitted = app::screen(
            &app::Application {
                amount_fen: a.amount_fen,
                claim_fen,
                guarantee: guarantee.clone(),
            },
            today,
        )
        .map_err(|violations| pb::PreservationRow {
            row,
            case_id: a.case_id.clone(),
            outcome: common::RowOutcome::Refused as i32,
            preservation: None,
            refusals: violations
                .into_iter()
                .map(|v| refusal(row, &a.case_id, v.field, v.rule, v.description))
                .collect(),
        })?;
        let g = guarantee.unwrap_or(Guarantee {
            kind: app::GuaranteeKind::Other,
            issuer_name: String::new(),
            instrument_number: String::new(),
            amount_fen: 0,
            valid_from: None,
            valid_until: None,
        });
        let debtor = case.debtor.clone().unwrap_or_default();
        Ok(store::preservation::Model {
            id: store::new_id(),
            case_id: case.case_id.clone(),
            open_case_id: Some(case.case_id.clone()),
            bank_id: case.bank_id.clone(),
            bank_case_ref: case.bank_case_ref.clone(),
            debtor_name: debtor.name,
            debtor_id_number: debtor.id_number.trim().to_uppercase(),
            debtor_phone: debtor.phone,
            debtor_address: debtor.address,
            claim_fen,
            amount_fen: a.amount_fen,
            guarantee_kind: convert::guarantee_kind_word(g.kind).to_string(),
            guarantee_issuer_name: g.issuer_name,
            guarantee_issuer_code: a
                .guarantee
                .as_ref()
                .map(|g| g.issuer_code.trim().to_string())
                .unwrap_or_default(),
            guarantee_instrument: g.instrument_number,
            guarantee_fen: g.amount_fen,
            guarantee_valid_from: g.valid_from.map(dates::iso),
            guarantee_valid_until: g.valid_until.map(dates::iso),
            platforms: platforms_text(&platforms),
            fee_fen: admitted.fee_fen,
            callback_phone,
            bank_name: bank.name.clone(),
            status: store::preservation::Status::Applied,
            applied_at_ms: now_ms,
            ruling_overdue: false,
            decision: None,
            ruling_number: None,
            ruling_reason: String::new(),
            judge: String::new(),
            ruled_at_ms: None,
            measure_taken_at_ms: None,
            notice_delivery_id: None,
            notice_channel: String::new(),
            notice_status: String::new(),
            notice_failure: String::new(),
            notice_html: String::new(),
            notice_delivered_at_ms: None,
            notice_attempts: 0,
            notice_next_try_at_ms: 0,
            litigation_id: None,
            suit_filed_on: None,
            lift_reason: None,
            lift_note: String::new(),
            lifted_at_ms: None,
        })
    }

    pub(super) async fn rule(
        &self,
        mut r: pb::RuleOnApplicationsRequest,
    ) -> Result<pb::RuleOnApplicationsResponse> {
        sieve_kernel::wire::require_id("request_id", &r.request_id)?;
        if r.judge.trim().is_empty() {
            return Err(Error::invalid_field(
                "judge",
                "required: the judge who signs the rulings",
            ));
        }
        row_count("rulings", r.rulings.len())?;
        let request_id = std::mem::take(&mut r.request_id);
        let call = Call::new("RuleOnApplications", "court", &request_id, &r);
        if let Some(mut kept) = self
            .replayed::<pb::RuleOnApplicationsResponse>(&call)
            .await?
        {
            kept.replayed = true;
            return Ok(kept);
        }
        let mut rows: Vec<Option<pb::PreservationRow>> = vec![None; r.rulings.len()];
        let mut seen = HashSet::new();
        let mut asked = Vec::new();
        let mut rulings = Vec::new();
        for (i, x) in r.rulings.iter().enumerate() {
            let row = i as i64 + 1;
            let id = &x.preservation_id;
            let decision =
                pb::RulingDecision::try_from(x.decision).unwrap_or(pb::RulingDecision::Unspecified);
            let bad = if sieve_kernel::wire::require_id("preservation_id", id).is_err() {
                Some((
                    "preservation_id",
                    shared::REQUIRED,
                    "须填写保全编号 / preservation_id is required".to_string(),
                ))
            } else if !seen.insert(id.clone()) {
                Some((
                    "preservation_id",
                    rule::DUPLICATE_IN_CALL,
                    "该保全在本次裁定中重复 / the preservation appears earlier in this call".into(),
                ))
            } else if decision == pb::RulingDecision::Unspecified {
                Some((
                    "decision",
                    rule::DECISION_MISSING,
                    "须写明准许或驳回 / decision: APPROVE or REJECT".into(),
                ))
            } else if decision == pb::RulingDecision::Reject && x.reason.trim().is_empty() {
                Some((
                    "reason",
                    rule::REASON_MISSING,
                    "驳回须说明理由 / a rejection needs its reason".into(),
                ))
            } else if decision == pb::RulingDecision::Approve && x.ruling_number.trim().is_empty() {
                Some((
                    "ruling_number",
                    rule::RULING_NUMBER_MISSING,
                    "准许须有裁定书编号 / an approval needs its ruling number".into(),
                ))
            } else {
                None
            };
            match bad {
                Some((field, code, d)) => rows[i] = Some(refused_row(row, id, field, code, d)),
                None => {
                    asked.push(i);
                    rulings.push(store::Ruling {
                        preservation_id: id.clone(),
                        approve: decision == pb::RulingDecision::Approve,
                        reason: x.reason.trim().to_string(),
                        ruling_number: x.ruling_number.trim().to_string(),
                    });
                }
            }
        }
        let now_ms = self.now_ms();
        let txn = sieve_kernel::db::begin_write(&self.inner.db).await?;
        if let Some(mut kept) = call
            .recall::<pb::RuleOnApplicationsResponse, _>(&txn)
            .await?
        {
            kept.replayed = true;
            return Ok(kept);
        }
        let calendar = calendar::stored::current(&txn).await?;
        let ruled = store::rule(&txn, &rulings, r.judge.trim(), &calendar, now_ms).await?;
        let mut events = Vec::new();
        let mut done = Vec::new();
        for (&i, (x, outcome)) in asked.iter().zip(rulings.iter().zip(ruled)) {
            let row = i as i64 + 1;
            match outcome {
                Err(store::NotRuled::Unknown) => {
                    rows[i] = Some(refused_row(
                        row,
                        &x.preservation_id,
                        "preservation_id",
                        rule::NOT_FOUND,
                        format!("保全 {} 不存在 / no such preservation", x.preservation_id),
                    ));
                }
                Err(store::NotRuled::NotAwaiting(status)) => {
                    rows[i] = Some(refused_row(
                        row,
                        &x.preservation_id,
                        "preservation_id",
                        rule::NOT_AWAITING_RULING,
                        format!(
                            "该保全不在待裁定状态（{}） / the preservation is not awaiting a ruling: it is {}",
                            status_word(status),
                            status_word(status)
                        ),
                    ));
                }
                Ok(p) => {
                    let (what, why) = if x.approve {
                        (
                            "preservation.approved",
                            format!(
                                "裁定准许保全 {}，立即冻结 / preservation approved by ruling {}, freezes sent at once (CPL 104 para 2)",
                                x.ruling_number, x.ruling_number
                            ),
                        )
                    } else {
                        (
                            "preservation.rejected",
                            format!(
                                "裁定驳回保全申请：{} / application rejected: {}",
                                x.reason, x.reason
                            ),
                        )
                    };
                    events.push(store::case_event(
                        &p,
                        what,
                        format!("{}/ruled", p.id),
                        why,
                        now_ms,
                    ));
                    done.push((i, p));
                }
            }
        }
        stage::note(&txn, now_ms, "rulings", &events).await?;
        let records = store::records(&txn, done.iter().map(|(_, p)| p.clone()).collect()).await?;
        for ((i, _), record) in done.iter().zip(&records) {
            rows[*i] = Some(pb::PreservationRow {
                row: *i as i64 + 1,
                case_id: record.preservation.case_id.clone(),
                outcome: common::RowOutcome::Accepted as i32,
                preservation: Some(convert::preservation_pb(record)),
                refusals: vec![],
            });
        }
        let answer = pb::RuleOnApplicationsResponse {
            rows: rows.into_iter().flatten().collect(),
            replayed: false,
        };
        call.remember(&txn, &answer, now_ms).await?;
        txn.commit().await?;
        self.wake();
        tracing::info!(ruled = done.len(), "preservation rulings");
        Ok(answer)
    }
}
