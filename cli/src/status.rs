//! `sieve status CASE_ID`: the case as the court sees it, its preservation when it has one,
//! and its timeline.

use std::fmt::Write as _;

use sieve_kernel::rules::money::format_yuan;
use sieve_proto::gateway::v1::{CaseDossier, CourtApiServiceGetCaseDossierRequest};
use sieve_proto::intake::v1::Bank;

use crate::client::{Gateway, list_banks};
use crate::error::CliError;
use crate::format;

/// A case's dossier and, when it could be looked up, its bank.
#[derive(Debug, Clone)]
pub struct CaseStatus {
    pub dossier: CaseDossier,
    pub bank: Option<Bank>,
}

pub async fn case_status(
    gateway: &Gateway,
    court_token: &str,
    case_id: &str,
) -> Result<CaseStatus, CliError> {
    let dossier = gateway
        .court(court_token)?
        .get_case_dossier(CourtApiServiceGetCaseDossierRequest {
            case_id: case_id.trim().to_owned(),
        })
        .await
        .map_err(|s| CliError::grpc("CourtApiService.GetCaseDossier", s))?
        .into_inner()
        .dossier
        .ok_or_else(|| CliError::Protocol("GetCaseDossier answered without a dossier".into()))?;
    let bank_id = dossier.case.as_ref().map(|c| c.bank_id.clone());
    // The bank's name is a courtesy: without it the id is shown.
    let bank = match bank_id {
        Some(id) => list_banks(gateway, court_token)
            .await
            .ok()
            .and_then(|banks| banks.into_iter().find(|b| b.bank_id == id)),
        None => None,
    };
    Ok(CaseStatus { dossier, bank })
}

/// The case, debtor identifiers masked, and its timeline in Asia/Shanghai time.
pub fn render_status(status: &CaseStatus) -> String {
    let mut out = String::new();
    let d = &status.dossier;
    if let Some(c) = &d.case {
        let bank = match &status.bank {
            Some(b) => format!("{} {} ({})", b.code, b.name, b.bank_id),
            None => c.bank_id.clone(),
        };
        let _ = writeln!(out, "case        {}", c.case_id);
        let _ = writeln!(out, "bank        {bank}");
        let _ = writeln!(out, "bank ref    {}", c.bank_case_ref);
        let _ = writeln!(out, "product     {}", format::product(c.product));
        if let Some(debtor) = &c.debtor {
            let _ = writeln!(
                out,
                "debtor      {} ({}), ID {}, phone {}",
                debtor.name,
                format::debtor_kind(debtor.kind),
                sieve_kernel::rules::mask::id_number(&debtor.id_number),
                sieve_kernel::rules::mask::phone(&debtor.phone),
            );
        }
        if let Some(claim) = &c.claim {
            let _ = writeln!(
                out,
                "claim       {} yuan (principal {}, interest {}, penalty {}, fees {})",
                format_yuan(claim.total_fen),
                format_yuan(claim.principal_fen),
                format_yuan(claim.interest_fen),
                format_yuan(claim.penalty_fen),
                format_yuan(claim.fees_fen),
            );
        }
        let _ = writeln!(
            out,
            "stage       {} since {}",
            format::stage(c.stage),
            format::shanghai_time(c.stage_changed_at.as_ref())
        );
    }
    if let Some(p) = d.records.as_ref().and_then(|r| r.preservation.as_ref()) {
        let _ = writeln!(out, "preservation (Asia/Shanghai):");
        for line in crate::preservation::render_preservation(p).lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
    let _ = writeln!(out, "timeline (Asia/Shanghai):");
    if d.timeline.is_empty() {
        let _ = writeln!(out, "  (no events)");
    }
    for e in &d.timeline {
        let source = if e.source_record_id.is_empty() {
            "-"
        } else {
            e.source_record_id.as_str()
        };
        let _ = writeln!(
            out,
            "  {}  {} → {}  by {}  record {}  {}",
            format::shanghai_time(e.occurred_at.as_ref()),
            format::stage(e.from_stage),
            format::stage(e.to_stage),
            format::actor(e.actor),
            source,
            e.reason,
        );
    }
    if let Some(records) = &d.records
        && !records.unavailable_services.is_empty()
    {
        let _ = writeln!(
            out,
            "not shown (did not answer in time): {}",
            records.unavailable_services.join(", ")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sieve_proto::common::v1::{Actor, Claim, Debtor, Stage};
    use sieve_proto::intake::v1::{Case, StageEvent};

    #[test]
    fn status_masks_the_debtor_and_shows_yuan_and_shanghai_time() {
        let status = CaseStatus {
            dossier: CaseDossier {
                case: Some(Case {
                    case_id: "c1".into(),
                    bank_id: "b1".into(),
                    bank_case_ref: "JY-2025-00001".into(),
                    debtor: Some(Debtor {
                        name: "徐敏".into(),
                        id_number: "23072219851102174X".into(),
                        phone: "13917784483".into(),
                        ..Default::default()
                    }),
                    claim: Some(Claim {
                        total_fen: 3_366_519,
                        principal_fen: 3_267_620,
                        ..Default::default()
                    }),
                    stage: Stage::BadDebtCheck as i32,
                    ..Default::default()
                }),
                timeline: vec![StageEvent {
                    from_stage: Stage::Submitted as i32,
                    to_stage: Stage::BadDebtCheck as i32,
                    actor: Actor::Intake as i32,
                    reason: "screened".into(),
                    occurred_at: Some(prost_types::Timestamp {
                        seconds: 1_740_848_400,
                        nanos: 0,
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            },
            bank: Some(Bank {
                bank_id: "b1".into(),
                code: "DEV-BANK".into(),
                name: "开发银行".into(),
                ..Default::default()
            }),
        };
        let text = render_status(&status);
        assert!(text.contains("ID 230722********174X"), "{text}");
        assert!(text.contains("phone 139****4483"), "{text}");
        assert!(!text.contains("23072219851102174X"), "{text}");
        assert!(!text.contains("13917784483"), "{text}");
        assert!(
            text.contains("33,665.19 yuan (principal 32,676.20"),
            "{text}"
        );
        assert!(text.contains("DEV-BANK 开发银行 (b1)"), "{text}");
        assert!(
            text.contains(
                "2025-03-02 01:00:00  SUBMITTED → BAD_DEBT_CHECK  by INTAKE  record -  screened"
            ),
            "{text}"
        );
        assert!(!text.contains("preservation"), "none yet: {text}");
    }

    #[test]
    fn a_preserved_case_shows_its_preservation_step() {
        use sieve_proto::common::v1::{Date, Deadline};
        use sieve_proto::gateway::v1::StageRecords;
        use sieve_proto::preservation::v1 as pv;
        let status = CaseStatus {
            dossier: CaseDossier {
                case: Some(Case {
                    case_id: "c1".into(),
                    stage: Stage::Mediation as i32,
                    ..Default::default()
                }),
                records: Some(StageRecords {
                    preservation: Some(pv::Preservation {
                        preservation_id: "p1".into(),
                        status: pv::PreservationStatus::InForce as i32,
                        amount_fen: 500_000,
                        suit_due: Some(Deadline {
                            due_on: Some(Date {
                                year: 2026,
                                month: 10,
                                day: 8,
                            }),
                            rule: "cpl_104.suit_30_days".into(),
                            ..Default::default()
                        }),
                        freeze_orders: vec![pv::FreezeOrder {
                            platform: pv::PaymentPlatform::Alipay as i32,
                            status: pv::FreezeStatus::Frozen as i32,
                            requested_fen: 500_000,
                            frozen_fen: 300_000,
                            ..Default::default()
                        }],
                        callbacks: vec![pv::Callback {
                            caller_phone: "13917784483".into(),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            },
            bank: None,
        };
        let text = render_status(&status);
        for needle in [
            "preservation (Asia/Shanghai):\n  preservation  p1  IN_FORCE",
            "  suit due      2026-10-08 (cpl_104.suit_30_days)",
            "    ALIPAY      asked 5,000.00 yuan, frozen 3,000.00 yuan  FROZEN",
            "  callbacks:\n    -  from 139****4483",
        ] {
            assert!(text.contains(needle), "{needle:?} missing from\n{text}");
        }
        assert!(text.find("preservation (").unwrap_or(0) < text.find("timeline").unwrap_or(0));
    }
}
