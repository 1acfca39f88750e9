//! Screening of a case a bank submits: is it within this court's intake scope, and is the
//! data good enough to proceed? Every rule the case breaks is reported, one [`Violation`]
//! per field, so that the bank's clerk can correct the row in one go.
//!
//! Sources: RULES.md "Scope (intake) — local" (the 1+X scheme's scope, configuration
//! [`ScopeConfig`]), "Counting time and amounts" (Civil Code 1259: "以下" includes the number),
//! GB 11643 (resident ID), GB 32100 (unified social credit code), and the limits of the
//! protobuf contract (lengths, required fields).
//!
//! Pure: no I/O, no clock (today's date is a parameter), no protobuf types.

use chrono::NaiveDate;
use sieve_kernel::rules::Label;
/// One rule a case broke (the kernel's violation; fields in [`field`], rules in [`rule`]).
pub use sieve_kernel::rules::Violation;
use sieve_kernel::rules::mask;
use sieve_kernel::rules::money::{Claim, format_yuan};
use sieve_kernel::rules::resident_id::{self, Checks, IdNumberError};
use sieve_kernel::rules::uscc;
use sieve_kernel::rules::violation::{exceeds_chars, negative, required, text_field, too_long};

use super::identity::{self, MobileError};

/// The kind of dispute (RULES.md "Scope (intake)").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Product {
    /// Credit-card dispute: within scope at any amount.
    CreditCard,
    /// Loan-contract dispute: within scope up to the configured loan amount.
    Loan,
}

/// Who the debtor is (RULES.md "Scope (intake)": only natural persons are within scope).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DebtorKind {
    NaturalPerson,
    Organisation,
}

/// A value the contract gives as a code: not given (0), a code the contract does not know
/// (a newer or broken client), or a known one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Coded<T> {
    #[default]
    Missing,
    Unknown(i32),
    Known(T),
}

impl<T: Copy> Coded<T> {
    pub fn known(self) -> Option<T> {
        match self {
            Coded::Known(v) => Some(v),
            _ => None,
        }
    }
}

/// A case as the bank submitted it, before screening. `None` and empty strings mean "not
/// given"; amounts are integer fen.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CaseDraft {
    pub bank_case_ref: String,
    pub product: Coded<Product>,
    pub debtor_kind: Coded<DebtorKind>,
    pub debtor_name: String,
    pub debtor_id_number: String,
    pub debtor_phone: String,
    pub debtor_address: String,
    pub debtor_division_code: String,
    /// The loan amount in the contract (借款金额), the scope test for loans; 0 for cards.
    pub contract_amount_fen: i64,
    pub principal_fen: i64,
    pub interest_fen: i64,
    pub penalty_fen: i64,
    pub fees_fen: i64,
    pub contract_ref: String,
    /// The contract names this court (agreed jurisdiction).
    pub contract_names_court: bool,
}

/// The court's intake scope, configuration rather than law (RULES.md "Scope (intake) — local").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeConfig {
    /// Six-digit administrative division codes of the court's district, e.g. `["230722"]`
    /// for Jiayin County.
    pub divisions: Vec<String>,
    /// Highest loan amount in the contract that is within scope, inclusive.
    pub loan_limit_fen: i64,
}

impl ScopeConfig {
    /// Jiayin County (RULES.md "Scope (intake) — local").
    pub const DEFAULT_DIVISION: &'static str = "230722";
    /// 100,000.00 yuan: "10万元以下", which includes the number itself (Civil Code 1259).
    pub const DEFAULT_LOAN_LIMIT_FEN: i64 = 10_000_000;
}

impl Default for ScopeConfig {
    fn default() -> Self {
        Self {
            divisions: vec![Self::DEFAULT_DIVISION.to_owned()],
            loan_limit_fen: Self::DEFAULT_LOAN_LIMIT_FEN,
        }
    }
}

/// Field paths of the protobuf `CaseInput` the violations point at.
pub mod field {
    pub const BANK_CASE_REF: &str = "bank_case_ref";
    pub const PRODUCT: &str = "product";
    pub const DEBTOR_KIND: &str = "debtor.kind";
    pub const DEBTOR_NAME: &str = "debtor.name";
    pub const DEBTOR_ID_NUMBER: &str = "debtor.id_number";
    pub const DEBTOR_PHONE: &str = "debtor.phone";
    pub const DEBTOR_ADDRESS: &str = "debtor.address";
    pub const DEBTOR_DIVISION_CODE: &str = "debtor.division_code";
    pub const CONTRACT_AMOUNT_FEN: &str = "contract_amount_fen";
    pub const CLAIM_PRINCIPAL_FEN: &str = "claim.principal_fen";
    pub const CLAIM_INTEREST_FEN: &str = "claim.interest_fen";
    pub const CLAIM_PENALTY_FEN: &str = "claim.penalty_fen";
    pub const CLAIM_FEES_FEN: &str = "claim.fees_fen";
    pub const CLAIM: &str = "claim";
    pub const CONTRACT_REF: &str = "contract_ref";
    /// No rule breaks on it; an existing case's row names it when it differs.
    pub const CONTRACT_NAMES_COURT: &str = "contract_names_court";
}

/// Stable rule codes: the kernel's shared ones (`required`, `max_length`, `id_number.*`,
/// `amount.negative`) and intake's own. Clients may match on them; never rename one.
pub mod rule {
    pub use sieve_kernel::rules::rule::*;

    /// A coded field has a value the contract does not list.
    pub const UNKNOWN_VALUE: &str = "unknown_value";
    /// Phone is not 11 digits starting with 1 (RULES.md "Scope (intake)").
    pub const PHONE_MOBILE_FORMAT: &str = "phone.mobile_format";
    /// Division code is not 6 digits.
    pub const DIVISION_CODE_FORMAT: &str = "division_code.format";
    /// The loan amount of a loan case, or the claim total, is zero.
    pub const AMOUNT_ZERO: &str = "amount.zero";
    /// The claim total does not fit in 64 bits.
    pub const AMOUNT_OVERFLOW: &str = "amount.overflow";
    /// The debtor is an organisation (RULES.md "Scope (intake) — local").
    pub const SCOPE_NATURAL_PERSON: &str = "scope.natural_person";
    /// The loan amount is above the limit (RULES.md "Scope (intake) — local"; Civil Code 1259).
    pub const SCOPE_LOAN_AMOUNT: &str = "scope.loan_amount";
    /// Debtor outside the district and the contract does not name the court
    /// (RULES.md "Scope (intake) — local").
    pub const SCOPE_DISTRICT: &str = "scope.district";
}

/// Length limits, in characters (the protobuf contract).
pub const MAX_BANK_CASE_REF_CHARS: usize = 64;
pub const MAX_NAME_CHARS: usize = 64;
pub const MAX_ADDRESS_CHARS: usize = 256;
pub const MAX_CONTRACT_REF_CHARS: usize = 64;
pub const MAX_PHONE_CHARS: usize = 20;

const BANK_CASE_REF: Label = Label {
    zh: "银行案件编号",
    en: "Bank case reference",
};
const PRODUCT: Label = Label {
    zh: "产品类型",
    en: "Product type",
};
const DEBTOR_KIND: Label = Label {
    zh: "债务人类型",
    en: "Debtor type",
};
const NAME: Label = Label {
    zh: "债务人姓名",
    en: "Debtor name",
};
const ID_NUMBER: Label = Label {
    zh: "身份证号",
    en: "ID number",
};
const PHONE: Label = Label {
    zh: "手机号",
    en: "Mobile number",
};
const ADDRESS: Label = Label {
    zh: "住址",
    en: "Address",
};
const DIVISION_CODE: Label = Label {
    zh: "行政区划代码",
    en: "Division code",
};
const CONTRACT_AMOUNT: Label = Label {
    zh: "借款金额",
    en: "Loan amount",
};
const PRINCIPAL: Label = Label {
    zh: "本金",
    en: "Principal",
};
const INTEREST: Label = Label {
    zh: "利息",
    en: "Interest",
};
const PENALTY: Label = Label {
    zh: "罚息",
    en: "Penalty interest",
};
const FEES: Label = Label {
    zh: "费用",
    en: "Fees",
};
const CONTRACT_REF: Label = Label {
    zh: "合同编号",
    en: "Contract reference",
};

/// Screens a case. An empty answer means the case is admitted; otherwise every rule it broke,
/// in the order of the fields of `CaseInput`, at most one per field.
pub fn screen(draft: &CaseDraft, scope: &ScopeConfig, today: NaiveDate) -> Vec<Violation> {
    let mut out = Vec::new();

    // Required, at most 64 characters (protobuf contract; the bank's key for the case).
    text_field(
        &mut out,
        field::BANK_CASE_REF,
        BANK_CASE_REF,
        &draft.bank_case_ref,
        MAX_BANK_CASE_REF_CHARS,
    );

    // Required: the scope depends on it (RULES.md "Scope (intake) — local").
    out.extend(coded(draft.product, field::PRODUCT, PRODUCT));

    let (kind_violation, id_violation) = debtor_identity(draft, today);
    out.extend(kind_violation);

    text_field(
        &mut out,
        field::DEBTOR_NAME,
        NAME,
        &draft.debtor_name,
        MAX_NAME_CHARS,
    );

    out.extend(id_violation);

    // Required (the preservation documents carry it, RULES.md "Preservation"), a mobile
    // number: 11 digits starting with 1 (RULES.md "Scope (intake)").
    if let Some(phone) = text_field(
        &mut out,
        field::DEBTOR_PHONE,
        PHONE,
        &draft.debtor_phone,
        MAX_PHONE_CHARS,
    ) && let Err(e) = identity::validate_mobile(phone)
    {
        out.push(mobile_violation(phone, &e));
    }

    // Optional, at most 256 characters (protobuf contract).
    if exceeds_chars(draft.debtor_address.trim(), MAX_ADDRESS_CHARS) {
        out.push(too_long(field::DEBTOR_ADDRESS, ADDRESS, MAX_ADDRESS_CHARS));
    }

    district(&mut out, draft, scope);
    amounts(&mut out, draft, scope);

    text_field(
        &mut out,
        field::CONTRACT_REF,
        CONTRACT_REF,
        &draft.contract_ref,
        MAX_CONTRACT_REF_CHARS,
    );

    out
}

/// Debtor kind and ID number, decided together: a debtor who is an organisation — by its
/// declared kind, or by an ID number that is a unified social credit code — gets one
/// `scope.natural_person` violation and no resident-ID violation (RULES.md "Scope (intake) —
/// local": "A debtor identified by an organisation code is not a natural person").
fn debtor_identity(draft: &CaseDraft, today: NaiveDate) -> (Option<Violation>, Option<Violation>) {
    if draft.debtor_kind == Coded::Known(DebtorKind::Organisation) {
        return (
            Some(Violation {
                field: field::DEBTOR_KIND,
                rule: rule::SCOPE_NATURAL_PERSON,
                description: "债务人为法人或其他组织，本院只受理债务人为自然人的案件。 \
                              The debtor is an organisation; only cases against natural \
                              persons are within scope."
                    .to_owned(),
            }),
            None,
        );
    }
    let kind_missing = coded(draft.debtor_kind, field::DEBTOR_KIND, DEBTOR_KIND);

    let raw = draft.debtor_id_number.trim();
    if raw.is_empty() {
        return (
            kind_missing,
            Some(required(field::DEBTOR_ID_NUMBER, ID_NUMBER)),
        );
    }
    // GB 11643, after normalizing (trim, x → X), of a number issued to a living person
    // (RULES.md "Scope (intake)": region, birth date not in the future).
    let error = match resident_id::parse(raw, Checks::Issued { today }) {
        Ok(_) => return (kind_missing, None),
        Err(e) => e,
    };
    // GB 32100: asked only of a number that is no valid resident ID, since an 18-digit
    // resident ID passes the GB 32100 check about once in 31. A number whose region and
    // birth date are those of a resident ID (only its check character or the date's being
    // in the future is wrong) is a mistyped resident ID, and is reported as such even if it
    // happens to pass the GB 32100 check.
    let shaped_like_resident_id = matches!(
        error,
        IdNumberError::WrongCheckCharacter { .. } | IdNumberError::FutureBirthDate
    );
    if !shaped_like_resident_id && uscc::is_valid(raw) {
        let masked = mask::id_number(raw);
        return (
            Some(Violation {
                field: field::DEBTOR_KIND,
                rule: rule::SCOPE_NATURAL_PERSON,
                description: format!(
                    "证件号码 {masked} 是统一社会信用代码，债务人不是自然人；本院只受理债务人为\
                     自然人的案件。 ID number {masked} is a unified social credit code, so the \
                     debtor is not a natural person; only natural persons are within scope."
                ),
            }),
            None,
        );
    }
    (
        kind_missing,
        Some(resident_id::violation(field::DEBTOR_ID_NUMBER, raw, &error)),
    )
}

fn mobile_violation(phone: &str, error: &MobileError) -> Violation {
    let masked = mask::phone(phone);
    let description = match error {
        MobileError::NonDigit => format!(
            "手机号 {masked} 含有数字以外的字符，应为以1开头的11位数字。 \
             Mobile number {masked} holds characters other than digits; it must be 11 \
             digits starting with 1."
        ),
        MobileError::WrongLength { digits } => format!(
            "手机号 {masked} 为{digits}位，应为以1开头的11位数字。 \
             Mobile number {masked} has {digits} digits; it must be 11 digits starting with 1."
        ),
        MobileError::BadPrefix => format!(
            "手机号 {masked} 不以1开头，应为以1开头的11位数字。 \
             Mobile number {masked} does not start with 1; it must be 11 digits starting \
             with 1."
        ),
    };
    Violation {
        field: field::DEBTOR_PHONE,
        rule: rule::PHONE_MOBILE_FORMAT,
        description,
    }
}

/// RULES.md "Scope (intake) — local": the debtor is within the court's district (configured
/// division codes) by domicile, or the contract names this court. The division code itself
/// must be 6 digits whatever the contract says.
fn district(out: &mut Vec<Violation>, draft: &CaseDraft, scope: &ScopeConfig) {
    let code = draft.debtor_division_code.trim();
    if code.is_empty() {
        out.push(required(field::DEBTOR_DIVISION_CODE, DIVISION_CODE));
        return;
    }
    if !(code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())) {
        let shown = mask::excerpt(code, 20);
        out.push(Violation {
            field: field::DEBTOR_DIVISION_CODE,
            rule: rule::DIVISION_CODE_FORMAT,
            description: format!(
                "行政区划代码“{shown}”应为6位数字。 Division code \"{shown}\" must be 6 digits."
            ),
        });
        return;
    }
    let in_district = scope.divisions.iter().any(|d| d.trim() == code);
    if !in_district && !draft.contract_names_court {
        let district = district_list(&scope.divisions);
        out.push(Violation {
            field: field::DEBTOR_DIVISION_CODE,
            rule: rule::SCOPE_DISTRICT,
            description: format!(
                "住所地行政区划代码 {code} 不在本院辖区（{district}），合同也未约定由本院管辖。 \
                 Division code {code} is outside this court's district ({district}) and the \
                 contract does not name this court."
            ),
        });
    }
}

/// RULES.md "Scope (intake)": money is integer fen, the claim is the sum of principal,
/// interest, penalty and fees; loans are within scope up to the configured loan amount in
/// the contract, inclusive ("以下" includes the number, Civil Code 1259); cards at any amount.
fn amounts(out: &mut Vec<Violation>, draft: &CaseDraft, scope: &ScopeConfig) {
    if draft.contract_amount_fen < 0 {
        out.push(negative(
            field::CONTRACT_AMOUNT_FEN,
            CONTRACT_AMOUNT,
            draft.contract_amount_fen,
        ));
    } else if draft.product == Coded::Known(Product::Loan) {
        if draft.contract_amount_fen == 0 {
            out.push(Violation {
                field: field::CONTRACT_AMOUNT_FEN,
                rule: rule::AMOUNT_ZERO,
                description: "贷款案件的借款金额必须大于零。 \
                              A loan case needs a loan amount above zero."
                    .to_owned(),
            });
        } else if draft.contract_amount_fen > scope.loan_limit_fen {
            let amount = format_yuan(draft.contract_amount_fen);
            let limit = format_yuan(scope.loan_limit_fen);
            out.push(Violation {
                field: field::CONTRACT_AMOUNT_FEN,
                rule: rule::SCOPE_LOAN_AMOUNT,
                description: format!(
                    "借款金额 {amount} 元超过 {limit} 元；本院受理借款金额 {limit} 元以下（含本数）\
                     的贷款纠纷。 The loan amount of {amount} yuan exceeds {limit} yuan; loans \
                     of {limit} yuan or less are within scope."
                ),
            });
        }
    }

    let parts = [
        (field::CLAIM_PRINCIPAL_FEN, PRINCIPAL, draft.principal_fen),
        (field::CLAIM_INTEREST_FEN, INTEREST, draft.interest_fen),
        (field::CLAIM_PENALTY_FEN, PENALTY, draft.penalty_fen),
        (field::CLAIM_FEES_FEN, FEES, draft.fees_fen),
    ];
    let mut any_negative = false;
    for (path, label, fen) in parts {
        if fen < 0 {
            any_negative = true;
            out.push(negative(path, label, fen));
        }
    }
    if any_negative {
        // The total of a claim with a negative part means nothing; the parts say it all.
        return;
    }
    let claim = Claim {
        principal_fen: draft.principal_fen,
        interest_fen: draft.interest_fen,
        penalty_fen: draft.penalty_fen,
        fees_fen: draft.fees_fen,
    };
    match claim.total_fen() {
        None => out.push(Violation {
            field: field::CLAIM,
            rule: rule::AMOUNT_OVERFLOW,
            description: "诉请金额（本金、利息、罚息、费用之和）超出可处理的范围。 \
                          The claim (principal + interest + penalty + fees) is too large \
                          to compute."
                .to_owned(),
        }),
        Some(0) => out.push(Violation {
            field: field::CLAIM,
            rule: rule::AMOUNT_ZERO,
            description: "诉请金额（本金、利息、罚息、费用之和）为零。 \
                          The claim (principal + interest + penalty + fees) is zero."
                .to_owned(),
        }),
        Some(_) => {}
    }
}

/// A coded field: required, and one of the codes the contract lists.
fn coded<T>(value: Coded<T>, path: &'static str, label: Label) -> Option<Violation> {
    match value {
        Coded::Known(_) => None,
        Coded::Missing => Some(required(path, label)),
        Coded::Unknown(code) => Some(Violation {
            field: path,
            rule: rule::UNKNOWN_VALUE,
            description: format!(
                "{}的取值 {code} 不在接口定义中。 {} has the unknown value {code}.",
                label.zh, label.en
            ),
        }),
    }
}

/// The configured division codes for a message, at most five of them.
fn district_list(divisions: &[String]) -> String {
    let mut list = divisions
        .iter()
        .take(5)
        .map(|d| mask::excerpt(d.trim(), 12))
        .collect::<Vec<_>>()
        .join(", ");
    if divisions.len() > 5 {
        list.push_str(", …");
    }
    list
}

#[cfg(test)]
mod tests;
