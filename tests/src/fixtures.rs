//! What tests submit and import: valid resident IDs, cases, banks, rulings.

use sieve_proto::bad_debt_check::v1 as bdc;
use sieve_proto::common::v1::{Claim, Court, Date, Debtor, DebtorKind, ProductType};
use sieve_proto::intake::v1 as intake;

/// The `i`th of a run of distinct valid resident IDs of 嘉荫县 (230722).
pub use sieve_kernel::rules::resident_id::numbered as resident_id;

/// The division the fixtures' debtors live in, and the court that sits there.
pub const DIVISION: &str = "230722";
pub const COURT_CODE: &str = "黑0722";
pub const COURT_NAME: &str = "嘉荫县人民法院";

/// A valid credit-card case, `{prefix}-{i:07}`, debtor `resident_id(i)`, claim
/// 10,000.00 yuan + `i` fen principal and 10.00 interest.
pub fn case(prefix: &str, i: usize) -> intake::CaseInput {
    intake::CaseInput {
        bank_case_ref: format!("{prefix}-{i:07}"),
        product: ProductType::CreditCard as i32,
        debtor: Some(debtor("王芳", &resident_id(i), &format!("139{i:08}"))),
        contract_amount_fen: 0,
        claim: Some(Claim {
            principal_fen: 1_000_000 + i as i64,
            interest_fen: 1000,
            penalty_fen: 0,
            fees_fen: 0,
            total_fen: 0,
        }),
        contract_ref: format!("HT{i:08}"),
        contract_names_court: false,
        row: 0,
    }
}

/// A natural person living in [`DIVISION`].
pub fn debtor(name: &str, id_number: &str, phone: &str) -> Debtor {
    Debtor {
        kind: DebtorKind::NaturalPerson as i32,
        name: name.into(),
        id_number: id_number.into(),
        phone: phone.into(),
        address: "黑龙江省伊春市嘉荫县朝阳镇1号".into(),
        division_code: DIVISION.into(),
    }
}

/// A bank's registration: code `code`, named after it.
pub fn bank(code: &str) -> intake::RegisterBankRequest {
    intake::RegisterBankRequest {
        code: code.into(),
        name: format!("{code} 银行"),
        callback_phone: "0458-6123456".into(),
    }
}

pub fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

pub fn court() -> Court {
    Court {
        code: COURT_CODE.into(),
        name: COURT_NAME.into(),
    }
}

/// A ruling terminating an enforcement for lack of property: filed 2024-01-10, terminated
/// 2024-06-20 (more than three months later), 15,957.50 yuan unpaid.
pub fn ruling(number: &str, name: &str, id_number: &str, revoked: bool) -> bdc::RulingInput {
    bdc::RulingInput {
        ruling_number: number.into(),
        court: Some(court()),
        debtor_name: name.into(),
        debtor_id_number: id_number.into(),
        enforcement_filed_on: date(2024, 1, 10),
        terminated_on: date(2024, 6, 20),
        unpaid_fen: 1_595_750,
        status: if revoked {
            bdc::RulingStatus::Revoked
        } else {
            bdc::RulingStatus::Standing
        } as i32,
        row: 0,
    }
}

/// An import of `rulings` as one header and one chunk, from [`court`].
pub fn ruling_import(
    request_id: &str,
    rulings: Vec<bdc::RulingInput>,
) -> Vec<bdc::ImportRulingsRequest> {
    vec![
        bdc::ImportRulingsRequest {
            item: Some(bdc::import_rulings_request::Item::Header(
                bdc::ImportHeader {
                    request_id: request_id.into(),
                    source_court: Some(court()),
                    expected_rulings: rulings.len() as i64,
                    label: "test".into(),
                },
            )),
        },
        bdc::ImportRulingsRequest {
            item: Some(bdc::import_rulings_request::Item::Chunk(bdc::RulingChunk {
                rulings,
            })),
        },
    ]
}
