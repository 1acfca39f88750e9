//! Translation between protobuf messages and intake's domain and storage types.

use sieve_proto::common::v1 as common;
use sieve_proto::intake::v1 as pb;

use crate::domain::chain::Stage;
use crate::domain::screening::{CaseDraft, Coded, DebtorKind, Product};
use crate::store::{self, bank, batch, case, case_event};

use sieve_kernel::rules::money::Claim;
use sieve_kernel::rules::violation;
pub use sieve_kernel::wire::timestamp;

pub use sieve_kernel::wire::millis;

/// Trims without copying when there is nothing to trim (the usual case, a million times).
fn trimmed(s: String) -> String {
    if s.trim().len() == s.len() {
        s
    } else {
        s.trim().to_string()
    }
}

pub fn draft(input: pb::CaseInput) -> CaseDraft {
    let debtor = input.debtor.unwrap_or_default();
    let claim = input.claim.unwrap_or_default();
    CaseDraft {
        bank_case_ref: trimmed(input.bank_case_ref),
        product: match common::ProductType::try_from(input.product) {
            Ok(common::ProductType::CreditCard) => Coded::Known(Product::CreditCard),
            Ok(common::ProductType::Loan) => Coded::Known(Product::Loan),
            Ok(common::ProductType::Unspecified) => Coded::Missing,
            Err(_) => Coded::Unknown(input.product),
        },
        debtor_kind: match common::DebtorKind::try_from(debtor.kind) {
            Ok(common::DebtorKind::NaturalPerson) => Coded::Known(DebtorKind::NaturalPerson),
            Ok(common::DebtorKind::Organisation) => Coded::Known(DebtorKind::Organisation),
            Ok(common::DebtorKind::Unspecified) => Coded::Missing,
            Err(_) => Coded::Unknown(debtor.kind),
        },
        debtor_name: trimmed(debtor.name),
        debtor_id_number: debtor.id_number,
        debtor_phone: trimmed(debtor.phone),
        debtor_address: trimmed(debtor.address),
        debtor_division_code: trimmed(debtor.division_code),
        contract_amount_fen: input.contract_amount_fen,
        principal_fen: claim.principal_fen,
        interest_fen: claim.interest_fen,
        penalty_fen: claim.penalty_fen,
        fees_fen: claim.fees_fen,
        contract_ref: trimmed(input.contract_ref),
        contract_names_court: input.contract_names_court,
    }
}

fn product_str(p: Option<Product>) -> &'static str {
    match p {
        Some(Product::CreditCard) => "CREDIT_CARD",
        Some(Product::Loan) => "LOAN",
        None => "UNSPECIFIED",
    }
}

fn product_pb(s: &str) -> common::ProductType {
    match s {
        "CREDIT_CARD" => common::ProductType::CreditCard,
        "LOAN" => common::ProductType::Loan,
        _ => common::ProductType::Unspecified,
    }
}

fn kind_str(k: Option<DebtorKind>) -> &'static str {
    match k {
        Some(DebtorKind::NaturalPerson) => "NATURAL_PERSON",
        Some(DebtorKind::Organisation) => "ORGANISATION",
        None => "UNSPECIFIED",
    }
}

fn kind_pb(s: &str) -> common::DebtorKind {
    match s {
        "NATURAL_PERSON" => common::DebtorKind::NaturalPerson,
        "ORGANISATION" => common::DebtorKind::Organisation,
        _ => common::DebtorKind::Unspecified,
    }
}

/// An admitted draft as a case row entering the chain's first stage.
pub fn new_case(
    d: CaseDraft,
    id: String,
    bank_id: &str,
    batch_id: &str,
    row: i64,
    now_ms: i64,
) -> case::Model {
    case::Model {
        id,
        bank_id: bank_id.to_string(),
        bank_case_ref: d.bank_case_ref,
        batch_id: batch_id.to_string(),
        batch_row: row,
        product: product_str(d.product.known()).into(),
        debtor_kind: kind_str(d.debtor_kind.known()).into(),
        debtor_name: d.debtor_name,
        debtor_id_number: sieve_kernel::rules::resident_id::normalize_id_number(
            &d.debtor_id_number,
        ),
        debtor_phone: d.debtor_phone,
        debtor_address: d.debtor_address,
        debtor_division_code: d.debtor_division_code,
        contract_amount_fen: d.contract_amount_fen,
        principal_fen: d.principal_fen,
        interest_fen: d.interest_fen,
        penalty_fen: d.penalty_fen,
        fees_fen: d.fees_fen,
        contract_ref: d.contract_ref,
        contract_names_court: d.contract_names_court,
        stage: crate::domain::chain::FIRST_STAGE,
        submitted_at_ms: now_ms,
        stage_changed_at_ms: now_ms,
        version: 1,
        preservation_applied_at_ms: None,
    }
}

pub fn stage_to_pb(s: Stage) -> common::Stage {
    s.pb()
}

pub fn stage_from_pb(v: i32) -> Option<Stage> {
    Stage::from_pb(v)
}

/// A stage the caller must name: what is wrong with `v` when it names none.
pub fn require_stage(field: &'static str, v: i32) -> sieve_kernel::error::Result<Stage> {
    match stage_from_pb(v) {
        Some(s) => Ok(s),
        None if v == 0 => Err(sieve_kernel::Error::invalid_field(field, "required")),
        None => Err(sieve_kernel::Error::invalid_field(
            field,
            format!("unknown value {v}: not a stage of the chain"),
        )),
    }
}

pub fn actor_str(v: i32) -> String {
    common::Actor::try_from(v)
        .ok()
        .and_then(|a| a.as_str_name().strip_prefix("ACTOR_").map(str::to_string))
        .unwrap_or_else(|| "UNSPECIFIED".into())
}

pub fn actor_pb(s: &str) -> common::Actor {
    common::Actor::from_str_name(&format!("ACTOR_{s}")).unwrap_or(common::Actor::Unspecified)
}

/// A stored case's claim.
fn claim(c: &case::Model) -> Claim {
    Claim {
        principal_fen: c.principal_fen,
        interest_fen: c.interest_fen,
        penalty_fen: c.penalty_fen,
        fees_fen: c.fees_fen,
    }
}

pub fn case_pb(c: case::Model) -> pb::Case {
    let claim = claim(&c).to_pb();
    pb::Case {
        case_id: c.id,
        bank_id: c.bank_id,
        bank_case_ref: c.bank_case_ref,
        batch_id: c.batch_id,
        product: product_pb(&c.product) as i32,
        debtor: Some(common::Debtor {
            kind: kind_pb(&c.debtor_kind) as i32,
            name: c.debtor_name,
            id_number: c.debtor_id_number,
            phone: c.debtor_phone,
            address: c.debtor_address,
            division_code: c.debtor_division_code,
        }),
        contract_amount_fen: c.contract_amount_fen,
        claim: Some(claim),
        contract_ref: c.contract_ref,
        contract_names_court: c.contract_names_court,
        stage: stage_to_pb(c.stage) as i32,
        submitted_at: Some(timestamp(c.submitted_at_ms)),
        stage_changed_at: Some(timestamp(c.stage_changed_at_ms)),
        version: c.version,
        preservation_applied_at: c.preservation_applied_at_ms.map(timestamp),
    }
}

/// The admission, which the case row itself records (see `store::entities::case_event`).
pub fn admission_event(c: &case::Model) -> pb::StageEvent {
    pb::StageEvent {
        event_id: format!("admission-{}", c.id),
        case_id: c.id.clone(),
        from_stage: common::Stage::Submitted as i32,
        to_stage: stage_to_pb(crate::domain::chain::FIRST_STAGE) as i32,
        actor: common::Actor::Intake as i32,
        reason: "screened and admitted: within the court's scope / 经审查符合受理范围".into(),
        source_record_id: format!("batch {} row {}", c.batch_id, c.batch_row),
        occurred_at: Some(timestamp(c.submitted_at_ms)),
        recorded_at: Some(timestamp(c.submitted_at_ms)),
    }
}

pub fn event_pb(e: case_event::Model) -> pb::StageEvent {
    pb::StageEvent {
        event_id: e.event_id,
        case_id: e.case_id,
        from_stage: stage_to_pb(e.from_stage) as i32,
        to_stage: stage_to_pb(e.to_stage) as i32,
        actor: actor_pb(&e.actor) as i32,
        reason: e.reason,
        source_record_id: e.source_record_id,
        occurred_at: Some(timestamp(e.occurred_at_ms)),
        recorded_at: Some(timestamp(e.recorded_at_ms)),
    }
}

pub fn bank_pb(b: bank::Model) -> pb::Bank {
    pb::Bank {
        bank_id: b.id,
        code: b.code,
        name: b.name,
        callback_phone: b.callback_phone,
        registered_at: Some(timestamp(b.registered_at_ms)),
    }
}

pub fn batch_pb(b: batch::Model) -> pb::Batch {
    let status = match b.status {
        store::BatchStatus::Receiving => pb::BatchStatus::Receiving,
        store::BatchStatus::Completed => pb::BatchStatus::Completed,
        store::BatchStatus::Aborted => pb::BatchStatus::Aborted,
    };
    pb::Batch {
        batch_id: b.id,
        bank_id: b.bank_id,
        request_id: b.request_id,
        label: b.label,
        status: status as i32,
        expected_cases: b.expected_cases,
        received_cases: b.received_cases,
        accepted_cases: b.accepted_cases,
        existing_cases: b.existing_cases,
        refused_cases: b.refused_cases,
        submitted_at: Some(timestamp(b.submitted_at_ms)),
        completed_at: b.completed_at_ms.map(timestamp),
        status_reason: b.status_reason,
    }
}

/// A batch row as the caller is answered. Its stored refusals are read strictly: JSON that
/// does not parse is an internal error, never a refused row without reasons.
pub fn row_pb(r: store::RowRecord) -> sieve_kernel::error::Result<pb::BatchRow> {
    Ok(match r {
        store::RowRecord::Accepted {
            row,
            bank_case_ref,
            case_id,
        } => pb::BatchRow {
            row,
            bank_case_ref,
            outcome: pb::RowOutcome::Accepted as i32,
            case_id,
            refusals: vec![],
            differing_fields: vec![],
        },
        store::RowRecord::Other(m) => {
            let refused = m.outcome == store::RowOutcome::Refused;
            let whose = format!("batch {} row {}", m.batch_id, m.row);
            let stored = violation::decode(&m.refusals, &whose)?;
            // Read as strictly as the refusals: a corrupt list is an error, not "no change".
            let differing_fields: Vec<String> = sieve_kernel::rules::stored::decode(
                &m.differing_fields,
                &whose,
                "differing fields",
            )?;
            pb::BatchRow {
                differing_fields,
                row: m.row,
                refusals: stored
                    .into_iter()
                    .map(|s| violation::row_refusal(m.row, &m.bank_case_ref, s))
                    .collect(),
                bank_case_ref: m.bank_case_ref,
                outcome: if refused {
                    pb::RowOutcome::Refused
                } else {
                    pb::RowOutcome::Existing
                } as i32,
                case_id: m.case_id.unwrap_or_default(),
            }
        }
    })
}

/// The case as the pre-check needs it (what intake announces when a case enters it).
pub fn case_summary(c: &case::Model) -> common::CaseSummary {
    common::CaseSummary {
        case_ref: Some(common::CaseRef {
            case_id: c.id.clone(),
            bank_id: c.bank_id.clone(),
            bank_case_ref: c.bank_case_ref.clone(),
        }),
        product: product_pb(&c.product) as i32,
        debtor: Some(common::Debtor {
            kind: kind_pb(&c.debtor_kind) as i32,
            name: c.debtor_name.clone(),
            id_number: c.debtor_id_number.clone(),
            phone: c.debtor_phone.clone(),
            address: c.debtor_address.clone(),
            division_code: c.debtor_division_code.clone(),
        }),
        claim: Some(claim(c).to_pb()),
        contract_ref: c.contract_ref.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused_row(refusals: &str) -> store::RowRecord {
        store::RowRecord::Other(store::batch_row::Model {
            batch_id: "b1".into(),
            row: 7,
            bank_case_ref: "JY-7".into(),
            outcome: store::RowOutcome::Refused,
            case_id: None,
            refusals: refusals.into(),
            differing_fields: store::NO_DIFFERENCES.into(),
        })
    }

    fn existing_row(differing_fields: &str) -> store::RowRecord {
        store::RowRecord::Other(store::batch_row::Model {
            batch_id: "b1".into(),
            row: 8,
            bank_case_ref: "JY-8".into(),
            outcome: store::RowOutcome::Existing,
            case_id: Some("c1".into()),
            refusals: "[]".into(),
            differing_fields: differing_fields.into(),
        })
    }

    #[test]
    fn stored_refusals_are_answered_with_the_row() {
        let json = r#"[{"field":"debtor.phone","rule":"phone.mobile_format","description":"d"}]"#;
        let row = row_pb(refused_row(json)).expect("parses");
        assert_eq!(row.outcome, pb::RowOutcome::Refused as i32);
        assert_eq!(row.refusals.len(), 1);
        assert_eq!(
            (row.refusals[0].row, row.refusals[0].reference.as_str()),
            (7, "JY-7")
        );
    }

    #[test]
    fn corrupt_stored_refusals_are_an_internal_error_not_an_empty_list() {
        violation::testing::assert_corruption_is_internal(|json| row_pb(refused_row(json)));
    }

    #[test]
    fn corrupt_differing_fields_are_an_internal_error_not_no_difference() {
        let row = row_pb(existing_row(r#"["debtor.name"]"#)).expect("parses");
        assert_eq!(row.differing_fields, ["debtor.name"]);
        let e = row_pb(existing_row("[\"debtor.na")).expect_err("corrupt");
        assert_eq!(e.code, sieve_kernel::ErrorCode::Internal);
    }
}
