//! Screening at every boundary, and the sample batch as documented.

#![cfg(test)]

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
