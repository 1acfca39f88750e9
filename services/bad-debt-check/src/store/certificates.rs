//! A bank's application for certificates: each case's check read, its grounds decided
//! ([`cert::grounds`]), the certificate numbered, signed and written with the case's stage
//! outcome, all in one transaction.

use std::collections::{HashMap, HashSet};

use chrono::Datelike;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter};
use sieve_kernel::db::Db;
use sieve_kernel::error::Result;
use sieve_kernel::rules::dates;
use sieve_kernel::stage::{self, Stage, StageOutcome};
use sieve_proto::common::v1::Actor;

use super::{
    CheckRecord, Outcome, certificate, check, check_records, checks_by_case, get_certificate,
    new_id, next_sequence,
};
use crate::domain::certificate::{self as cert, CertificateContent, CheckState, CourtKey};

/// Who issues: the court, its numbering and its key.
pub struct Issuer<'a> {
    pub court_code: &'a str,
    pub court_name: &'a str,
    pub number_format: &'a str,
    pub key: &'a CourtKey,
}

/// One call of `ApplyCertificates`.
pub struct Application<'a> {
    pub bank_id: &'a str,
    /// As intake registered it: the certificate names it.
    pub bank_name: &'a str,
    pub case_ids: &'a [String],
    pub today: chrono::NaiveDate,
    pub now_ms: i64,
    /// The recency window's first day, when the court sets one.
    pub window_start: Option<chrono::NaiveDate>,
}

/// What became of one case of the application, in the order asked.
pub enum Applied {
    Refused {
        rule: &'static str,
        description: &'static str,
    },
    /// Issued before (`None`: the stored certificate could not be read back).
    Existing(Option<certificate::Model>),
    Issued(certificate::Model),
}

pub async fn apply_certificates(
    db: &Db,
    issuer: &Issuer<'_>,
    app: &Application<'_>,
) -> Result<Vec<Applied>> {
    let txn = sieve_kernel::db::begin_write(db).await?;
    let checks = checks_by_case(&txn, app.case_ids.to_vec()).await?;
    let records: HashMap<String, CheckRecord> = check_records(&txn, checks)
        .await?
        .into_iter()
        .map(|c| (c.check.case_id.clone(), c))
        .collect();
    let mut applied = Vec::with_capacity(app.case_ids.len());
    let mut outcomes = Vec::new();
    let mut seen = HashSet::new();
    for case_id in app.case_ids {
        if !seen.insert(case_id.clone()) {
            applied.push(Applied::Refused {
                rule: "case.duplicate_in_call",
                description: "该案件在本次申请中重复 / the case appears earlier in this call",
            });
            continue;
        }
        // Another bank's case is answered as unknown, so ids do not leak across banks.
        let Some(record) = records
            .get(case_id)
            .filter(|c| c.check.bank_id == app.bank_id)
        else {
            applied.push(Applied::Refused {
                rule: "pre_check.not_checked",
                description: "该案件尚未经预查废审查 / the case has not been pre-checked (or is not this bank's)",
            });
            continue;
        };
        if let Some(existing) = &record.check.certificate_id {
            let found = get_certificate(&txn, Some(existing), None, None).await?;
            applied.push(Applied::Existing(found));
            continue;
        }
        let state = match record.outcome() {
            Outcome::Pending => CheckState::Pending,
            Outcome::NoMatch => CheckState::NoMatch,
            Outcome::Matched => CheckState::Matched,
        };
        let matched: Vec<cert::MatchedRuling<'_>> = record
            .rulings
            .iter()
            .map(|r| cert::MatchedRuling {
                number: &r.ruling_number,
                revoked: r.revoked,
                terminated_on: dates::parse_iso(&r.terminated_on),
            })
            .collect();
        let ruling_numbers = match cert::grounds(state, &matched, app.window_start) {
            Ok(numbers) => numbers,
            Err(refusal) => {
                applied.push(Applied::Refused {
                    rule: refusal.rule,
                    description: refusal.description,
                });
                continue;
            }
        };
        let issued = issue(&txn, issuer, app, &record.check, ruling_numbers).await?;
        outcomes.push(StageOutcome {
            source: crate::convert::CERTIFICATE_SOURCE,
            record: issued.id.clone(),
            case_id: case_id.clone(),
            from: Stage::Certifiable,
            to: Stage::Certified,
            actor: Actor::BadDebtCheck,
            reason: format!(
                "出具预查废证明 {} / pre-check certificate issued",
                issued.number
            ),
            source_record_id: issued.number.clone(),
            occurred_at_ms: app.now_ms,
        });
        applied.push(Applied::Issued(issued));
    }
    stage::report_many(&txn, app.now_ms, "certificates", &outcomes).await?;
    txn.commit().await?;
    Ok(applied)
}

/// Numbers, signs and writes the certificate of `check`, resting on `ruling_numbers`.
async fn issue(
    txn: &sea_orm::DatabaseTransaction,
    issuer: &Issuer<'_>,
    app: &Application<'_>,
    check: &check::Model,
    ruling_numbers: Vec<String>,
) -> Result<certificate::Model> {
    let year = app.today.year();
    let sequence = next_sequence(txn, issuer.court_code, year).await?;
    let number = cert::certificate_number(
        issuer.number_format,
        year,
        issuer.court_code,
        sequence as u64,
    );
    let content = CertificateContent {
        number: number.clone(),
        court_name: issuer.court_name.to_string(),
        court_code: issuer.court_code.to_string(),
        bank_name: app.bank_name.to_string(),
        bank_id: app.bank_id.to_string(),
        case_id: check.case_id.clone(),
        bank_case_ref: check.bank_case_ref.clone(),
        debtor_name: check.debtor_name.clone(),
        debtor_id_number: check.debtor_id_number.clone(),
        principal_fen: check.principal_fen,
        interest_fen: check.interest_fen,
        penalty_fen: check.penalty_fen,
        fees_fen: check.fees_fen,
        ruling_numbers: ruling_numbers.clone(),
        issued_on: app.today,
        key_id: issuer.key.key_id().to_string(),
    };
    let canonical = cert::canonical(&content);
    let signature = issuer.key.sign(&canonical);
    let model = certificate::Model {
        id: new_id(),
        number,
        court_code: issuer.court_code.to_string(),
        year,
        sequence,
        case_id: check.case_id.clone(),
        check_id: check.id.clone(),
        bank_id: app.bank_id.to_string(),
        bank_name: app.bank_name.to_string(),
        // Never a stand-in "[]": a certificate stored without its bases would stand even once
        // every ruling it rests on is revoked.
        ruling_numbers: sieve_kernel::rules::stored::encode(&ruling_numbers)?,
        issued_on: dates::iso(app.today),
        issued_at_ms: app.now_ms,
        canonical,
        key_id: issuer.key.key_id().to_string(),
        signature: signature.to_vec(),
        revoked_at_ms: None,
        revocation_reason: String::new(),
    };
    certificate::Entity::insert(model.clone().into_active_model().reset_all())
        .exec_without_returning(txn)
        .await?;
    check::Entity::update_many()
        .filter(check::Column::Id.eq(check.id.clone()))
        .col_expr(check::Column::CertificateId, Expr::value(model.id.clone()))
        .exec(txn)
        .await?;
    Ok(model)
}
