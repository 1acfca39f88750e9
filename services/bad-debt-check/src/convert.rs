//! Translation between protobuf and the pre-check's domain and storage types.

use sieve_proto::bad_debt_check::v1 as pb;
use sieve_proto::common::v1 as common;

use crate::domain::certificate::{self as cert, CertificateContent};
use crate::domain::ruling::{self as rules, NameAgreement, RulingDraft};
use crate::store::{self, certificate, ruling, ruling_import};

use sieve_kernel::rules::dates::{date_from_pb, date_pb, parse_iso};
use sieve_kernel::rules::money::Claim;
use sieve_kernel::rules::violation;
use sieve_kernel::stage::{Stage, StageOutcome};
pub use sieve_kernel::wire::timestamp;

fn date_text_pb(s: &str) -> Option<common::Date> {
    parse_iso(s).map(date_pb)
}

pub fn draft(input: &pb::RulingInput) -> RulingDraft {
    RulingDraft {
        ruling_number: input.ruling_number.clone(),
        court_name: input
            .court
            .as_ref()
            .map(|c| c.name.clone())
            .unwrap_or_default(),
        debtor_name: input.debtor_name.clone(),
        debtor_id_number: input.debtor_id_number.clone(),
        filed_on: date_from_pb(input.enforcement_filed_on.as_ref()),
        terminated_on: date_from_pb(input.terminated_on.as_ref()),
        unpaid_fen: input.unpaid_fen,
        revoked: input.status == pb::RulingStatus::Revoked as i32,
    }
}

pub fn stored_draft(r: &ruling::Model) -> RulingDraft {
    RulingDraft {
        ruling_number: r.ruling_number.clone(),
        court_name: r.court_name.clone(),
        debtor_name: r.debtor_name.clone(),
        debtor_id_number: r.debtor_id_number.clone(),
        filed_on: parse_iso(&r.filed_on),
        terminated_on: parse_iso(&r.terminated_on),
        unpaid_fen: r.unpaid_fen,
        revoked: r.revoked,
    }
}

/// An import's refused rows as the caller is answered, one refusal per broken rule. The
/// stored refusals are read strictly: JSON that does not parse is an internal error, never a
/// refused row without reasons.
pub fn import_refusals_pb(
    rows: Vec<store::import_refusal::Model>,
) -> sieve_kernel::error::Result<Vec<common::RowRefusal>> {
    let mut out = Vec::new();
    for r in rows {
        let whose = format!("import {} row {}", r.import_id, r.row);
        let stored = violation::decode(&r.refusals, whose)?;
        out.extend(
            stored
                .into_iter()
                .map(|s| violation::row_refusal(r.row, &r.ruling_number, s)),
        );
    }
    Ok(out)
}

pub fn ruling_pb(r: ruling::Model) -> pb::Ruling {
    pb::Ruling {
        ruling_id: r.id,
        ruling_number: r.ruling_number,
        court: Some(common::Court {
            code: r.court_code,
            name: r.court_name,
        }),
        debtor_name: r.debtor_name,
        debtor_id_number: r.debtor_id_number,
        enforcement_filed_on: date_text_pb(&r.filed_on),
        terminated_on: date_text_pb(&r.terminated_on),
        unpaid_fen: r.unpaid_fen,
        status: if r.revoked {
            pb::RulingStatus::Revoked
        } else {
            pb::RulingStatus::Standing
        } as i32,
        revocation_reason: r.revocation_reason,
        resumed_case_number: r.resumed_case_number,
        revoked_at: r.revoked_at_ms.map(timestamp),
        import_id: r.import_id,
        imported_at: Some(timestamp(r.imported_at_ms)),
        updated_at: Some(timestamp(r.updated_at_ms)),
    }
}

pub fn import_pb(i: ruling_import::Model) -> pb::RulingImport {
    let status = match i.status {
        crate::store::ImportStatus::Receiving => pb::ImportStatus::Receiving,
        crate::store::ImportStatus::Completed => pb::ImportStatus::Completed,
        crate::store::ImportStatus::Aborted => pb::ImportStatus::Aborted,
    };
    pb::RulingImport {
        import_id: i.id,
        request_id: i.request_id,
        source_court: Some(common::Court {
            code: i.source_court_code,
            name: i.source_court_name,
        }),
        label: i.label,
        status: status as i32,
        expected_rulings: i.expected,
        received_rulings: i.received,
        added_rulings: i.added,
        updated_rulings: i.updated,
        unchanged_rulings: i.unchanged,
        refused_rulings: i.refused,
        started_at: Some(timestamp(i.started_at_ms)),
        completed_at: i.completed_at_ms.map(timestamp),
    }
}

/// A check as the API shows it.
pub fn check_pb(record: store::CheckRecord) -> pb::Check {
    let outcome = match record.outcome() {
        store::Outcome::Pending => pb::CheckOutcome::Pending,
        store::Outcome::Matched => pb::CheckOutcome::Matched,
        store::Outcome::NoMatch => pb::CheckOutcome::NoMatch,
    };
    let c = record.check;
    let matches = record
        .rulings
        .into_iter()
        .map(|r| pb::RulingMatch {
            name_agrees: rules::name_agreement(&c.debtor_name, &r.debtor_name)
                == NameAgreement::Same,
            ruling_id: r.id,
            ruling_number: r.ruling_number,
            court: Some(common::Court {
                code: r.court_code,
                name: r.court_name,
            }),
            terminated_on: date_text_pb(&r.terminated_on),
            unpaid_fen: r.unpaid_fen,
        })
        .collect();
    let run = record.run;
    pb::Check {
        check_id: c.id,
        case_summary: Some(common::CaseSummary {
            case_ref: Some(common::CaseRef {
                case_id: c.case_id,
                bank_id: c.bank_id,
                bank_case_ref: c.bank_case_ref,
            }),
            product: 0,
            debtor: Some(common::Debtor {
                name: c.debtor_name,
                id_number: c.debtor_id_number,
                ..Default::default()
            }),
            claim: Some(
                Claim {
                    principal_fen: c.principal_fen,
                    interest_fen: c.interest_fen,
                    penalty_fen: c.penalty_fen,
                    fees_fen: c.fees_fen,
                }
                .to_pb(),
            ),
            contract_ref: String::new(),
        }),
        outcome: outcome as i32,
        matches,
        terminated_since: run
            .as_ref()
            .and_then(|r| r.terminated_since.as_deref())
            .and_then(date_text_pb),
        checked_at: run.as_ref().map(|r| timestamp(r.checked_at_ms)),
        certificate_id: c.certificate_id.unwrap_or_default(),
        match_run_id: run.map(|r| r.id).unwrap_or_default(),
    }
}

/// The event ids of checks' outcomes: `pre-check:<check id>`.
pub const OUTCOME_SOURCE: &str = "pre-check";
/// The event ids of certificates' outcomes: `certificate:<certificate id>`, as they have
/// always been (intake knows the events already recorded by them).
pub const CERTIFICATE_SOURCE: &str = "certificate";

/// The outcome intake records for a decided check: a match makes the case certifiable, no
/// match moves it on to preservation, the next layer of the chain (DESIGN.md section 3).
/// `None` while the check is pending.
pub fn stage_outcome(record: &store::CheckRecord) -> Option<StageOutcome> {
    let run = record.run.as_ref()?;
    let c = &record.check;
    let (to, reason, source) = if record.rulings.is_empty() {
        (
            Stage::Preservation,
            "未匹配终本案件，转入保全 / no standing terminated-enforcement ruling names the debtor; on to preservation".to_string(),
            c.id.clone(),
        )
    } else {
        let numbers: Vec<&str> = record
            .rulings
            .iter()
            .map(|r| r.ruling_number.as_str())
            .collect();
        let names =
            if record.rulings.iter().all(|r| {
                rules::name_agreement(&c.debtor_name, &r.debtor_name) == NameAgreement::Same
            }) {
                "姓名一致 / name agrees"
            } else {
                "姓名不一致 / name differs"
            };
        (
            Stage::Certifiable,
            format!(
                "匹配终本案件 / matches terminated enforcement: {}; {names}",
                numbers.join(", ")
            ),
            numbers.join(", "),
        )
    };
    Some(StageOutcome {
        source: OUTCOME_SOURCE,
        record: c.id.clone(),
        case_id: c.case_id.clone(),
        from: Stage::BadDebtCheck,
        to,
        actor: common::Actor::BadDebtCheck,
        reason,
        source_record_id: source,
        occurred_at_ms: run.checked_at_ms,
    })
}

pub fn content_of(c: &certificate::Model) -> Option<CertificateContent> {
    cert::parse_canonical(&c.canonical).ok()
}

/// A stored certificate as callers see it. Its content comes from the signed canonical text
/// and its bases from the stored ruling numbers; either failing to parse is corruption, an
/// internal error — never a certificate shown with blank names or no bases.
pub fn certificate_pb(c: certificate::Model) -> Result<pb::Certificate, sieve_kernel::Error> {
    let content = content_of(&c).ok_or_else(|| {
        sieve_kernel::Error::internal(format!(
            "certificate {}: the stored canonical content does not parse",
            c.id
        ))
    })?;
    let ruling_numbers: Vec<String> = sieve_kernel::rules::stored::decode(
        &c.ruling_numbers,
        format_args!("certificate {}", c.id),
        "ruling numbers",
    )?;
    let claim = Some(content.claim().to_pb());
    let CertificateContent {
        debtor_name,
        debtor_id_number,
        bank_case_ref,
        court_name,
        ..
    } = content;
    Ok(pb::Certificate {
        certificate_id: c.id,
        certificate_number: c.number,
        court: Some(common::Court {
            code: c.court_code,
            name: court_name,
        }),
        year: c.year,
        sequence: c.sequence,
        bank_id: c.bank_id.clone(),
        bank_name: c.bank_name,
        case_ref: Some(common::CaseRef {
            case_id: c.case_id,
            bank_id: c.bank_id,
            bank_case_ref,
        }),
        debtor_name,
        debtor_id_number,
        claim,
        ruling_numbers,
        issued_on: date_text_pb(&c.issued_on),
        issued_at: Some(timestamp(c.issued_at_ms)),
        canonical_content: c.canonical,
        signature: Some(pb::CertificateSignature {
            key_id: c.key_id,
            algorithm: cert::ALGORITHM.into(),
            signature: c.signature,
        }),
        status: if c.revoked_at_ms.is_some() {
            pb::CertificateStatus::Revoked
        } else {
            pb::CertificateStatus::Valid
        } as i32,
        revoked_at: c.revoked_at_ms.map(timestamp),
        check_id: c.check_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused_row(refusals: &str) -> store::import_refusal::Model {
        store::import_refusal::Model {
            import_id: "i1".into(),
            row: 3,
            ruling_number: "(2024)黑0722执300号之一".into(),
            refusals: refusals.into(),
        }
    }

    #[test]
    fn stored_import_refusals_are_answered_with_the_row() {
        let json = r#"[{"field":"unpaid_fen","rule":"amount.negative","description":"d"},
                       {"field":"court","rule":"required","description":"e"}]"#;
        let refusals = import_refusals_pb(vec![refused_row(json)]).expect("parses");
        assert_eq!(refusals.len(), 2);
        assert_eq!(
            (
                refusals[1].row,
                refusals[1].reference.as_str(),
                refusals[1].rule.as_str()
            ),
            (3, "(2024)黑0722执300号之一", "required")
        );
    }

    #[test]
    fn corrupt_import_refusals_are_an_internal_error_not_an_empty_list() {
        // A corrupt row among good ones fails the answer, not just its own row.
        violation::testing::assert_corruption_is_internal(|json| {
            import_refusals_pb(vec![refused_row("[]"), refused_row(json)])
        });
    }

    fn stored_certificate(canonical: Vec<u8>, ruling_numbers: &str) -> certificate::Model {
        certificate::Model {
            id: "cert-1".into(),
            number: "(2025)黑0722预查废第000123号".into(),
            court_code: "黑0722".into(),
            year: 2025,
            sequence: 123,
            case_id: "case-1".into(),
            check_id: "check-1".into(),
            bank_id: "bank-1".into(),
            bank_name: "嘉荫农村商业银行".into(),
            ruling_numbers: ruling_numbers.into(),
            issued_on: "2025-03-01".into(),
            issued_at_ms: 0,
            canonical,
            key_id: "k1".into(),
            signature: vec![],
            revoked_at_ms: None,
            revocation_reason: String::new(),
        }
    }

    fn canonical_text() -> Vec<u8> {
        cert::canonical(&CertificateContent {
            number: "(2025)黑0722预查废第000123号".into(),
            court_name: "嘉荫县人民法院".into(),
            court_code: "黑0722".into(),
            bank_name: "嘉荫农村商业银行".into(),
            bank_id: "bank-1".into(),
            case_id: "case-1".into(),
            bank_case_ref: "JY-1".into(),
            debtor_name: "徐敏".into(),
            debtor_id_number: "23072219851102174X".into(),
            principal_fen: 100,
            interest_fen: 0,
            penalty_fen: 0,
            fees_fen: 0,
            ruling_numbers: vec!["(2024)黑0722执300号之一".into()],
            issued_on: chrono::NaiveDate::from_ymd_opt(2025, 3, 1).expect("date"),
            key_id: "k1".into(),
        })
    }

    #[test]
    fn a_corrupt_stored_certificate_is_an_internal_error_not_blank_fields() {
        let good = certificate_pb(stored_certificate(
            canonical_text(),
            r#"["(2024)黑0722执300号之一"]"#,
        ))
        .expect("parses");
        assert_eq!(good.debtor_name, "徐敏");
        assert_eq!(good.ruling_numbers, ["(2024)黑0722执300号之一"]);
        let e = certificate_pb(stored_certificate(canonical_text(), "[\"(2024)"))
            .expect_err("corrupt ruling numbers");
        assert_eq!(e.code, sieve_kernel::ErrorCode::Internal);
        let e = certificate_pb(stored_certificate(b"garbage".to_vec(), "[]"))
            .expect_err("corrupt content");
        assert_eq!(e.code, sieve_kernel::ErrorCode::Internal);
    }
}
