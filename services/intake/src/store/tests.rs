#![cfg(test)]

use super::*;

fn stored() -> case::Model {
    case::Model {
        id: "c1".into(),
        bank_id: "b1".into(),
        bank_case_ref: "REF-1".into(),
        batch_id: "batch-1".into(),
        batch_row: 1,
        product: "LOAN".into(),
        debtor_kind: "NATURAL_PERSON".into(),
        debtor_name: "王芳".into(),
        debtor_id_number: "230722196001010011".into(),
        debtor_phone: "13900000001".into(),
        debtor_address: "嘉荫县朝阳镇1号".into(),
        debtor_division_code: "230722".into(),
        contract_amount_fen: 100,
        principal_fen: 100,
        interest_fen: 1,
        penalty_fen: 0,
        fees_fen: 0,
        contract_ref: "HT1".into(),
        contract_names_court: false,
        stage: sieve_kernel::stage::Stage::BadDebtCheck,
        submitted_at_ms: 1,
        stage_changed_at_ms: 1,
        version: 1,
        preservation_applied_at_ms: None,
    }
}

#[test]
fn every_field_of_the_row_is_compared_and_nothing_else() {
    let case = stored();
    // Another id, batch, row and time: the same case as the bank sees it.
    let mut again = stored();
    again.id = "c2".into();
    again.batch_id = "batch-2".into();
    again.batch_row = 7;
    again.submitted_at_ms = 2;
    assert!(differing_fields(&case, &again).is_empty());

    let changed = case::Model {
        product: "CREDIT_CARD".into(),
        debtor_kind: "ORGANISATION".into(),
        debtor_name: "王芳芳".into(),
        debtor_id_number: "230722196001010029".into(),
        debtor_phone: "13900000002".into(),
        debtor_address: "嘉荫县朝阳镇2号".into(),
        debtor_division_code: "230781".into(),
        contract_amount_fen: 101,
        principal_fen: 101,
        interest_fen: 2,
        penalty_fen: 1,
        fees_fen: 1,
        contract_ref: "HT2".into(),
        contract_names_court: true,
        ..again
    };
    assert_eq!(
        differing_fields(&case, &changed),
        [
            "product",
            "debtor.kind",
            "debtor.name",
            "debtor.id_number",
            "debtor.phone",
            "debtor.address",
            "debtor.division_code",
            "contract_amount_fen",
            "claim.principal_fen",
            "claim.interest_fen",
            "claim.penalty_fen",
            "claim.fees_fen",
            "contract_ref",
            "contract_names_court",
        ]
    );
}

#[test]
fn row_outcomes_are_stored_as_before() {
    use sea_orm::ActiveEnum;
    assert_eq!(RowOutcome::values(), ["EXISTING", "REFUSED"]);
}
