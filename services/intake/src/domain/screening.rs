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
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    fn today() -> NaiveDate {
        day(2025, 6, 30)
    }

    /// Row 1 of the sample batch.
    fn card() -> CaseDraft {
        CaseDraft {
            bank_case_ref: "JY-2025-00001".into(),
            product: Coded::Known(Product::CreditCard),
            debtor_kind: Coded::Known(DebtorKind::NaturalPerson),
            debtor_name: "徐敏".into(),
            debtor_id_number: "23072219851102174X".into(),
            debtor_phone: "13917784483".into(),
            debtor_address: "黑龙江省伊春市嘉荫县沿江乡10号".into(),
            debtor_division_code: "230722".into(),
            contract_amount_fen: 0,
            principal_fen: 3_267_620,
            interest_fen: 45_061,
            penalty_fen: 56_838,
            fees_fen: 0,
            contract_ref: "HT2020000001".into(),
            contract_names_court: false,
        }
    }

    /// Row 4 of the sample batch.
    fn loan() -> CaseDraft {
        CaseDraft {
            bank_case_ref: "JY-2025-00004".into(),
            product: Coded::Known(Product::Loan),
            debtor_kind: Coded::Known(DebtorKind::NaturalPerson),
            debtor_name: "杨秀英".into(),
            debtor_id_number: "230722199710212922".into(),
            debtor_phone: "13185748230".into(),
            debtor_address: "黑龙江省伊春市嘉荫县朝阳镇159号".into(),
            debtor_division_code: "230722".into(),
            contract_amount_fen: 3_000_000,
            principal_fen: 3_000_000,
            interest_fen: 107_981,
            penalty_fen: 65_066,
            fees_fen: 0,
            contract_ref: "HT2023000004".into(),
            contract_names_court: false,
        }
    }

    fn run(draft: &CaseDraft) -> Vec<Violation> {
        screen(draft, &ScopeConfig::default(), today())
    }

    /// `(field, rule)` of each violation.
    fn codes(draft: &CaseDraft) -> Vec<(&'static str, &'static str)> {
        run(draft).iter().map(|v| (v.field, v.rule)).collect()
    }

    fn only(draft: &CaseDraft) -> Violation {
        let mut v = run(draft);
        assert_eq!(v.len(), 1, "expected exactly one violation, got {v:#?}");
        v.remove(0)
    }

    fn id_with_check(first17: &str) -> String {
        resident_id::with_check_character(first17).expect("17 digits")
    }

    #[test]
    fn admissible_cases_have_no_violations() {
        assert_eq!(run(&card()), vec![]);
        assert_eq!(run(&loan()), vec![]);
    }

    #[test]
    fn default_scope_is_jiayin_and_one_hundred_thousand_yuan() {
        let scope = ScopeConfig::default();
        assert_eq!(scope.divisions, vec!["230722".to_owned()]);
        assert_eq!(scope.loan_limit_fen, 10_000_000);
    }

    #[test]
    fn wrong_check_character_is_one_violation_with_a_masked_number() {
        let draft = CaseDraft {
            debtor_id_number: "230722199001012220".into(),
            ..card()
        };
        let v = only(&draft);
        assert_eq!(v.field, "debtor.id_number");
        assert_eq!(v.rule, "id_number.check_character");
        assert!(
            v.description.contains("230722********2220"),
            "{}",
            v.description
        );
        assert!(v.description.contains("should be 3"), "{}", v.description);
        assert!(!v.description.contains("230722199001012220"));
    }

    #[test]
    fn lowercase_x_and_surrounding_spaces_are_accepted() {
        let draft = CaseDraft {
            debtor_id_number: " 23072219851102174x ".into(),
            ..card()
        };
        assert_eq!(run(&draft), vec![]);
    }

    #[test]
    fn other_id_number_errors_have_their_own_rules() {
        let cases = [
            ("2307221985110217", "id_number.length"),
            ("2307221985110217a4X", "id_number.length"),
            ("23072219851102-74X", "id_number.non_digit"),
            (&id_with_check("99072219851102175"), "id_number.region"),
            (&id_with_check("23072219990230174"), "id_number.birth_date"),
        ];
        for (id, rule) in cases {
            let draft = CaseDraft {
                debtor_id_number: id.to_owned(),
                ..card()
            };
            let v = only(&draft);
            assert_eq!((v.field, v.rule), ("debtor.id_number", rule), "{id}");
            if id.len() >= 18 {
                assert!(!v.description.contains(id), "{}", v.description);
            }
        }
        let draft = CaseDraft {
            debtor_id_number: String::new(),
            ..card()
        };
        assert_eq!(codes(&draft), vec![("debtor.id_number", "required")]);
    }

    #[test]
    fn impossible_birth_date_is_refused() {
        let draft = CaseDraft {
            debtor_id_number: id_with_check("23072219990230001"),
            ..card()
        };
        assert_eq!(
            codes(&draft),
            vec![("debtor.id_number", "id_number.birth_date")]
        );
    }

    #[test]
    fn born_today_is_admitted_born_tomorrow_is_not() {
        let draft = CaseDraft {
            debtor_id_number: id_with_check("23072220250630001"),
            ..card()
        };
        assert_eq!(run(&draft), vec![]);
        let draft = CaseDraft {
            debtor_id_number: id_with_check("23072220250701001"),
            ..card()
        };
        assert_eq!(
            codes(&draft),
            vec![("debtor.id_number", "id_number.birth_date_future")]
        );
    }

    #[test]
    fn loan_limit_includes_the_number_itself() {
        let at_limit = CaseDraft {
            contract_amount_fen: 10_000_000,
            ..loan()
        };
        assert_eq!(run(&at_limit), vec![]);

        let above = CaseDraft {
            contract_amount_fen: 10_000_001,
            ..loan()
        };
        let v = only(&above);
        assert_eq!(
            (v.field, v.rule),
            ("contract_amount_fen", "scope.loan_amount")
        );
        assert!(v.description.contains("100,000.01"), "{}", v.description);
        assert!(v.description.contains("100,000.00"), "{}", v.description);

        let zero = CaseDraft {
            contract_amount_fen: 0,
            ..loan()
        };
        assert_eq!(codes(&zero), vec![("contract_amount_fen", "amount.zero")]);
    }

    #[test]
    fn loan_limit_comes_from_configuration() {
        let scope = ScopeConfig {
            loan_limit_fen: 5_000_000,
            ..ScopeConfig::default()
        };
        let draft = CaseDraft {
            contract_amount_fen: 5_000_001,
            ..loan()
        };
        let v = screen(&draft, &scope, today());
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].rule, "scope.loan_amount");
        let draft = CaseDraft {
            contract_amount_fen: 5_000_000,
            ..loan()
        };
        assert_eq!(screen(&draft, &scope, today()), vec![]);
    }

    #[test]
    fn credit_cards_are_admitted_at_any_amount() {
        let draft = CaseDraft {
            contract_amount_fen: 1_000_000_000,
            principal_fen: 1_000_000_000,
            ..card()
        };
        assert_eq!(run(&draft), vec![]);
    }

    #[test]
    fn organisation_is_refused_once_without_an_id_number_violation() {
        // Row 33 of the sample: kind organisation, and its code's check character is wrong.
        let draft = CaseDraft {
            debtor_kind: Coded::Known(DebtorKind::Organisation),
            debtor_name: "嘉荫县某商贸有限公司".into(),
            debtor_id_number: "91230722MA1B2C3D4E".into(),
            ..loan()
        };
        assert_eq!(codes(&draft), vec![("debtor.kind", "scope.natural_person")]);
        // Even with a resident ID, an organisation is an organisation.
        let draft = CaseDraft {
            debtor_kind: Coded::Known(DebtorKind::Organisation),
            ..card()
        };
        assert_eq!(codes(&draft), vec![("debtor.kind", "scope.natural_person")]);
    }

    #[test]
    fn unified_social_credit_code_as_id_number_is_not_a_natural_person() {
        let draft = CaseDraft {
            debtor_id_number: "91230722MA1B2C3D44".into(),
            ..card()
        };
        let v = only(&draft);
        assert_eq!((v.field, v.rule), ("debtor.kind", "scope.natural_person"));
        assert!(
            v.description.contains("912307********3D44"),
            "{}",
            v.description
        );
        assert!(!v.description.contains("91230722MA1B2C3D44"));
        // Kind not given: one violation still, the organisation code says it all.
        let draft = CaseDraft {
            debtor_kind: Coded::Missing,
            debtor_id_number: "91230722MA1B2C3D44".into(),
            ..card()
        };
        assert_eq!(codes(&draft), vec![("debtor.kind", "scope.natural_person")]);
    }

    #[test]
    fn resident_id_that_also_passes_the_uscc_check_is_a_person() {
        // Row 20 of the sample: valid by GB 11643, and by chance by GB 32100 too.
        assert!(uscc::is_valid("230722198104167397"));
        let draft = CaseDraft {
            debtor_id_number: "230722198104167397".into(),
            ..card()
        };
        assert_eq!(run(&draft), vec![]);
    }

    #[test]
    fn mistyped_resident_id_passing_the_uscc_check_is_a_check_character_error() {
        // The resident ID check character of this body is 0; 2 is its GB 32100 one.
        assert!(uscc::is_valid("230722198511020052"));
        let draft = CaseDraft {
            debtor_id_number: "230722198511020052".into(),
            ..card()
        };
        let v = only(&draft);
        assert_eq!(
            (v.field, v.rule),
            ("debtor.id_number", "id_number.check_character")
        );
        assert!(v.description.contains("should be 0"), "{}", v.description);
    }

    #[test]
    fn district_by_domicile_or_by_contract() {
        let outside = CaseDraft {
            debtor_division_code: "110105".into(),
            ..card()
        };
        let v = only(&outside);
        assert_eq!(
            (v.field, v.rule),
            ("debtor.division_code", "scope.district")
        );
        assert!(v.description.contains("110105"), "{}", v.description);
        assert!(v.description.contains("230722"), "{}", v.description);

        let named = CaseDraft {
            contract_names_court: true,
            ..outside.clone()
        };
        assert_eq!(run(&named), vec![]);

        let scope = ScopeConfig {
            divisions: vec!["230722".into(), "110105".into()],
            ..ScopeConfig::default()
        };
        assert_eq!(screen(&outside, &scope, today()), vec![]);
    }

    #[test]
    fn division_code_must_be_six_digits() {
        for code in ["23072", "2307220", "23O722", "２３０７２２"] {
            let draft = CaseDraft {
                debtor_division_code: code.into(),
                contract_names_court: true,
                ..card()
            };
            assert_eq!(
                codes(&draft),
                vec![("debtor.division_code", "division_code.format")],
                "{code}"
            );
        }
        let draft = CaseDraft {
            debtor_division_code: " ".into(),
            ..card()
        };
        assert_eq!(codes(&draft), vec![("debtor.division_code", "required")]);
    }

    #[test]
    fn negative_amounts_are_refused_per_field() {
        let draft = CaseDraft {
            interest_fen: -1,
            ..card()
        };
        let v = only(&draft);
        assert_eq!((v.field, v.rule), ("claim.interest_fen", "amount.negative"));
        assert!(v.description.contains("-0.01"), "{}", v.description);

        let draft = CaseDraft {
            contract_amount_fen: -5,
            principal_fen: -1,
            penalty_fen: i64::MIN,
            fees_fen: -100,
            ..loan()
        };
        assert_eq!(
            codes(&draft),
            vec![
                ("contract_amount_fen", "amount.negative"),
                ("claim.principal_fen", "amount.negative"),
                ("claim.penalty_fen", "amount.negative"),
                ("claim.fees_fen", "amount.negative"),
            ]
        );
    }

    #[test]
    fn zero_claim_is_refused() {
        let draft = CaseDraft {
            principal_fen: 0,
            interest_fen: 0,
            penalty_fen: 0,
            fees_fen: 0,
            ..card()
        };
        assert_eq!(codes(&draft), vec![("claim", "amount.zero")]);
        let one_fen = CaseDraft {
            fees_fen: 1,
            ..draft
        };
        assert_eq!(run(&one_fen), vec![]);
    }

    #[test]
    fn claim_total_overflow_is_refused() {
        let draft = CaseDraft {
            principal_fen: i64::MAX,
            interest_fen: 1,
            ..card()
        };
        assert_eq!(codes(&draft), vec![("claim", "amount.overflow")]);
        let draft = CaseDraft {
            principal_fen: i64::MAX,
            interest_fen: 0,
            penalty_fen: 0,
            ..card()
        };
        assert_eq!(run(&draft), vec![]);
    }

    #[test]
    fn ten_megabyte_name_is_refused_without_being_echoed() {
        let name = "名".repeat(10 * 1024 * 1024 / 3);
        let draft = CaseDraft {
            debtor_name: name,
            ..card()
        };
        let v = only(&draft);
        assert_eq!((v.field, v.rule), ("debtor.name", "max_length"));
        assert!(v.description.len() < 200, "{}", v.description);
        assert!(!v.description.contains("名名"));
    }

    #[test]
    fn length_limits_are_counted_in_characters() {
        let at_limit = CaseDraft {
            debtor_name: "名".repeat(64),
            bank_case_ref: "R".repeat(64),
            contract_ref: "合".repeat(64),
            debtor_address: "址".repeat(256),
            ..card()
        };
        assert_eq!(run(&at_limit), vec![]);
        let over = CaseDraft {
            debtor_name: "名".repeat(65),
            bank_case_ref: "R".repeat(65),
            contract_ref: "合".repeat(65),
            debtor_address: "址".repeat(257),
            ..card()
        };
        assert_eq!(
            codes(&over),
            vec![
                ("bank_case_ref", "max_length"),
                ("debtor.name", "max_length"),
                ("debtor.address", "max_length"),
                ("contract_ref", "max_length"),
            ]
        );
    }

    #[test]
    fn phone_must_be_a_mobile_number() {
        for phone in ["1361234567", "136123456789", "23912345678", "139-1778-4483"] {
            let draft = CaseDraft {
                debtor_phone: phone.into(),
                ..card()
            };
            let v = only(&draft);
            assert_eq!(
                (v.field, v.rule),
                ("debtor.phone", "phone.mobile_format"),
                "{phone}"
            );
            assert!(!v.description.contains(phone), "{}", v.description);
        }
        let ten = CaseDraft {
            debtor_phone: "1361234567".into(),
            ..card()
        };
        let v = only(&ten);
        assert!(v.description.contains("136****4567"), "{}", v.description);
        assert!(v.description.contains("10"), "{}", v.description);

        let missing = CaseDraft {
            debtor_phone: String::new(),
            ..card()
        };
        assert_eq!(codes(&missing), vec![("debtor.phone", "required")]);
        let long = CaseDraft {
            debtor_phone: "1".repeat(21),
            ..card()
        };
        assert_eq!(codes(&long), vec![("debtor.phone", "max_length")]);
    }

    #[test]
    fn empty_draft_lists_every_required_field() {
        assert_eq!(
            codes(&CaseDraft::default()),
            vec![
                ("bank_case_ref", "required"),
                ("product", "required"),
                ("debtor.kind", "required"),
                ("debtor.name", "required"),
                ("debtor.id_number", "required"),
                ("debtor.phone", "required"),
                ("debtor.division_code", "required"),
                ("claim", "amount.zero"),
                ("contract_ref", "required"),
            ]
        );
    }

    #[test]
    fn descriptions_are_bilingual() {
        for v in run(&CaseDraft::default()) {
            assert!(
                v.description.chars().next().is_some_and(|c| !c.is_ascii()),
                "{}",
                v.description
            );
            assert!(
                v.description.chars().any(|c| c.is_ascii_alphabetic()),
                "{}",
                v.description
            );
        }
    }

    #[test]
    fn yuan_is_grouped_with_two_decimals() {
        assert_eq!(format_yuan(0), "0.00");
        assert_eq!(format_yuan(5), "0.05");
        assert_eq!(format_yuan(10_000_001), "100,000.01");
        assert_eq!(format_yuan(-123_456_789), "-1,234,567.89");
        assert_eq!(format_yuan(i64::MIN), "-92,233,720,368,547,758.08");
    }

    /// Yuan with at most two decimals → fen, by the kernel's parser (no floating point).
    fn yuan_to_fen(s: &str) -> i64 {
        use sieve_kernel::rules::money::{Sign, parse_yuan};
        parse_yuan(s, Sign::Allowed).expect("yuan")
    }

    #[test]
    fn yuan_parsing_is_exact() {
        assert_eq!(yuan_to_fen("32676.20"), 3_267_620);
        assert_eq!(yuan_to_fen("100000.01"), 10_000_001);
        assert_eq!(yuan_to_fen("0.00"), 0);
        assert_eq!(yuan_to_fen("7"), 700);
        assert_eq!(yuan_to_fen("7.5"), 750);
    }

    #[test]
    fn sample_bank_batch_screens_as_documented() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/bank-batch.csv"
        );
        let text = std::fs::read_to_string(path).expect("sample batch");
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let header: Vec<&str> = lines.next().expect("header").split(',').collect();
        let col = |name: &str| {
            header
                .iter()
                .position(|h| h.trim_start_matches('\u{feff}').trim() == name)
                .unwrap_or_else(|| panic!("column {name}"))
        };
        let (
            c_ref,
            c_product,
            c_kind,
            c_name,
            c_id,
            c_phone,
            c_address,
            c_division,
            c_contract,
            c_principal,
            c_interest,
            c_penalty,
            c_fees,
            c_contract_ref,
        ) = (
            col("银行案件编号"),
            col("产品类型"),
            col("债务人类型"),
            col("姓名"),
            col("身份证号"),
            col("手机号"),
            col("住址"),
            col("行政区划代码"),
            col("借款金额"),
            col("本金"),
            col("利息"),
            col("罚息"),
            col("费用"),
            col("合同编号"),
        );

        let expected_refusals = [
            (31, "contract_amount_fen", "scope.loan_amount"),
            (32, "debtor.id_number", "id_number.check_character"),
            (33, "debtor.kind", "scope.natural_person"),
            (34, "debtor.division_code", "scope.district"),
            (35, "debtor.phone", "phone.mobile_format"),
        ];

        let mut rows = 0;
        for (i, line) in lines.enumerate() {
            let row = i + 1;
            rows += 1;
            let f: Vec<&str> = line.split(',').map(str::trim).collect();
            assert_eq!(f.len(), header.len(), "row {row}");
            let draft = CaseDraft {
                bank_case_ref: f[c_ref].into(),
                product: match f[c_product] {
                    "信用卡" => Coded::Known(Product::CreditCard),
                    "贷款" => Coded::Known(Product::Loan),
                    other => panic!("row {row}: product {other}"),
                },
                debtor_kind: match f[c_kind] {
                    "自然人" => Coded::Known(DebtorKind::NaturalPerson),
                    "法人" => Coded::Known(DebtorKind::Organisation),
                    other => panic!("row {row}: kind {other}"),
                },
                debtor_name: f[c_name].into(),
                debtor_id_number: f[c_id].into(),
                debtor_phone: f[c_phone].into(),
                debtor_address: f[c_address].into(),
                debtor_division_code: f[c_division].into(),
                contract_amount_fen: yuan_to_fen(f[c_contract]),
                principal_fen: yuan_to_fen(f[c_principal]),
                interest_fen: yuan_to_fen(f[c_interest]),
                penalty_fen: yuan_to_fen(f[c_penalty]),
                fees_fen: yuan_to_fen(f[c_fees]),
                contract_ref: f[c_contract_ref].into(),
                contract_names_court: false,
            };
            let got: Vec<(&str, &str)> = run(&draft).iter().map(|v| (v.field, v.rule)).collect();
            match expected_refusals.iter().find(|(r, _, _)| *r == row) {
                Some((_, field, rule)) => {
                    assert_eq!(got, vec![(*field, *rule)], "row {row}");
                }
                None => assert_eq!(got, vec![], "row {row} should be admitted"),
            }
        }
        assert_eq!(rows, 35);
    }
}
