use super::*;
use chrono::Datelike;
use std::collections::HashMap;

/// The birth date encoded in a resident ID, when it is one.
fn birth_date_of(id: &str) -> Option<NaiveDate> {
    let digits = id.get(6..14)?;
    NaiveDate::parse_from_str(digits, "%Y%m%d").ok()
}

/// Age in whole years at `on`.
fn age_at(birth: NaiveDate, on: NaiveDate) -> i32 {
    let mut age = on.year() - birth.year();
    if (on.month(), on.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age
}

fn debtor(case: &DemoCase) -> &Debtor {
    case.input.debtor.as_ref().expect("debtor")
}

fn claim(case: &DemoCase) -> &Claim {
    case.input.claim.as_ref().expect("claim")
}

/// What the server's scope and identity rules would find wrong, per RULES.md; used to
/// check that valid cases have no flaw and flawed ones exactly theirs.
fn detected_flaws(case: &DemoCase, reference: NaiveDate) -> Vec<Flaw> {
    let d = debtor(case);
    let mut found = Vec::new();
    if d.kind == DebtorKind::Organisation as i32 {
        found.push(Flaw::Organisation);
    } else if !has_valid_check_character(&d.id_number) {
        found.push(Flaw::WrongCheckCharacter);
    }
    if case.input.product == ProductType::Loan as i32
        && case.input.contract_amount_fen > LOAN_LIMIT_FEN
    {
        found.push(Flaw::LoanOverLimit);
    }
    if !(d.phone.len() == 11
        && d.phone.starts_with('1')
        && d.phone.bytes().all(|b| b.is_ascii_digit()))
    {
        found.push(Flaw::ShortPhone);
    }
    if d.division_code != DISTRICT && !case.input.contract_names_court {
        found.push(Flaw::OutsideDistrict);
    }
    if d.kind == DebtorKind::NaturalPerson as i32 {
        let birth = birth_date_of(&d.id_number).expect("birth date exists");
        let age = age_at(birth, reference);
        assert!((20..=70).contains(&age), "age {age} of {}", d.id_number);
        assert_eq!(&d.id_number[..6], d.division_code, "ID region = domicile");
    }
    found
}

/// Whether an 18-character resident ID number ends in its correct check character.
fn has_valid_check_character(id: &str) -> bool {
    resident_id::parse(id, resident_id::Checks::Form).is_ok()
}

#[test]
fn check_character_known_values() {
    assert_eq!(check_character("34052419800101001"), Some('X'));
    assert!(has_valid_check_character("34052419800101001X"));
    // From the sample batch: row 1 is valid, row 32 has a wrong check character.
    assert!(has_valid_check_character("23072219851102174X"));
    assert!(!has_valid_check_character("230722199001012220"));
    assert!(!has_valid_check_character("3405241980010100"));
    assert_eq!(check_character("3405241980010100A"), None);
}

#[test]
fn unified_social_credit_code_check() {
    // Real codes validate under the same algorithm.
    for code in [
        "9144030071526726XG",
        "91330100716105852F",
        "91110000100006485K",
    ] {
        let division = &code[2..8];
        let body: u32 = code[8..16].parse().expect("numeric body");
        assert_eq!(unified_social_credit_code(division, body), code);
    }
}

#[test]
fn deterministic_for_a_seed() {
    let a = generate(500, 42);
    let b = generate(500, 42);
    assert_eq!(a, b);
    let c = generate(500, 43);
    assert_ne!(a, c);
    assert_eq!(a[0].input.bank_case_ref, "DEMO-42-000001");
    assert_eq!(a[499].input.bank_case_ref, "DEMO-42-000500");
    assert_eq!((a[0].input.row, a[499].input.row), (1, 500));
}

#[test]
fn valid_cases_are_within_scope() {
    let reference = default_reference_date();
    let cases = generate(2_000, 7);
    let mut ids = HashSet::new();
    let mut products = HashMap::new();
    for case in cases.iter().filter(|c| c.flaw.is_none()) {
        assert_eq!(detected_flaws(case, reference), vec![], "{case:?}");
        let d = debtor(case);
        assert_eq!(d.kind, DebtorKind::NaturalPerson as i32);
        assert!(has_valid_check_character(&d.id_number), "{}", d.id_number);
        assert!(
            ids.insert(d.id_number.clone()),
            "duplicate ID {}",
            d.id_number
        );
        assert!(d.address.starts_with(COUNTY_PREFIX));
        assert!(TOWNS.iter().any(|t| d.address.contains(t)));
        let prefix = &d.phone[..2];
        assert!(["13", "15", "18"].contains(&prefix), "{}", d.phone);
        // The gender digit matches the name list.
        let male = d.id_number.as_bytes()[16] % 2 == 1;
        let given = SURNAMES
            .iter()
            .filter_map(|s| d.name.strip_prefix(s))
            .collect::<Vec<_>>();
        let list = if male { MALE_GIVEN } else { FEMALE_GIVEN };
        assert!(given.iter().any(|g| list.contains(g)), "{}", d.name);

        let c = claim(case);
        assert!(c.principal_fen > 0 && c.interest_fen >= 0);
        assert!(c.penalty_fen >= 0 && c.fees_fen >= 0);
        *products.entry(case.input.product).or_insert(0) += 1;
        if case.input.product == ProductType::Loan as i32 {
            assert!(case.input.contract_amount_fen <= LOAN_LIMIT_FEN);
            assert!(case.input.contract_amount_fen >= 1_000_000);
            assert!(c.principal_fen <= case.input.contract_amount_fen);
            assert!(case.input.contract_ref.starts_with("DK"));
        } else {
            assert_eq!(case.input.product, ProductType::CreditCard as i32);
            assert_eq!(case.input.contract_amount_fen, 0);
        }
    }
    assert!(products[&(ProductType::Loan as i32)] > 500);
    assert!(products[&(ProductType::CreditCard as i32)] > 500);
}

#[test]
fn about_three_percent_flawed_each_with_its_own_flaw() {
    let reference = default_reference_date();
    let cases = generate(1_000, 11);
    let flawed: Vec<&DemoCase> = cases
        .iter()
        .filter(|c| c.is_intentionally_invalid())
        .collect();
    assert_eq!(flawed.len(), 30);
    let mut per_kind: HashMap<Flaw, usize> = HashMap::new();
    for case in &flawed {
        let flaw = case.flaw.expect("flawed");
        *per_kind.entry(flaw).or_default() += 1;
        assert_eq!(detected_flaws(case, reference), vec![flaw], "{case:?}");
    }
    for kind in Flaw::ALL {
        assert_eq!(per_kind.get(&kind), Some(&6), "{kind}");
    }
    // Mixed in, not bunched at one end.
    let positions: Vec<usize> = cases
        .iter()
        .enumerate()
        .filter(|(_, c)| c.flaw.is_some())
        .map(|(i, _)| i)
        .collect();
    assert!(positions[0] < 500 && positions[29] >= 500, "{positions:?}");

    // The organisation carries a valid unified social credit code of the county.
    let org = flawed
        .iter()
        .find(|c| c.flaw == Some(Flaw::Organisation))
        .expect("an organisation");
    let code = &debtor(org).id_number;
    assert_eq!(code.len(), 18);
    assert!(code.starts_with("91230722"));
    let body: u32 = code[8..16].parse().expect("numeric body");
    assert_eq!(&unified_social_credit_code(DISTRICT, body), code);
}

#[test]
fn about_a_tenth_of_valid_debtors_get_a_standing_ruling_and_a_few_a_revoked_one() {
    let court = CourtSpec {
        code: "黑0722".into(),
        name: "嘉荫县人民法院".into(),
    };
    let cases = generate(1000, 9);
    let rulings = demo_rulings(&cases, 9, &court);
    assert_eq!(rulings, demo_rulings(&cases, 9, &court), "deterministic");
    let valid = cases.iter().filter(|c| c.flaw.is_none()).count();
    let standing = rulings.iter().filter(|r| r.standing).count();
    assert_eq!(standing, (valid * 10 + 50) / 100);
    assert_eq!(rulings.len() - standing, (valid + 50) / 100);
    let today = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default();
    let mut ids = HashSet::new();
    let mut numbers = HashSet::new();
    for (k, r) in rulings.iter().enumerate() {
        assert_eq!(r.input.row, k as i64 + 1);
        let case = &cases[(r.case_row - 1) as usize];
        assert!(case.flaw.is_none());
        let debtor = case.input.debtor.as_ref().expect("debtor");
        assert_eq!(r.input.debtor_id_number, debtor.id_number);
        assert!(
            ids.insert(r.input.debtor_id_number.clone()),
            "one ruling a debtor"
        );
        assert!(numbers.insert(r.input.ruling_number.clone()));
        assert!(r.input.ruling_number.ends_with("之演示9x1000"));
        assert_eq!(
            r.input.court.as_ref().map(|c| c.code.as_str()),
            Some("黑0722")
        );
        let draft = sieve_bad_debt_check::convert::draft(&r.input);
        let violations = sieve_bad_debt_check::domain::ruling::validate(&draft, today);
        assert!(violations.is_empty(), "{violations:?}");
    }
    // Tiny demos still get one matching debtor.
    let one = generate(1, 3);
    let rulings = demo_rulings(&one, 3, &court);
    assert_eq!(rulings.len(), usize::from(one[0].flaw.is_none()));
    assert!(rulings.iter().all(|r| r.standing));
}

#[test]
fn flawed_count_rounds() {
    assert_eq!(flawed_count(0), 0);
    assert_eq!(flawed_count(10), 0);
    assert_eq!(flawed_count(17), 1);
    assert_eq!(flawed_count(100), 3);
    assert_eq!(flawed_count(1_000_000), 30_000);
    assert!(generate(0, 1).is_empty());
    assert_eq!(
        generate(100, 1).iter().filter(|c| c.flaw.is_some()).count(),
        3
    );
}

#[test]
fn ages_follow_the_reference_date() {
    let reference = NaiveDate::from_ymd_opt(2030, 6, 15).expect("date");
    for case in generate_at(300, 3, reference) {
        let d = debtor(&case);
        if d.kind == DebtorKind::NaturalPerson as i32 {
            let birth = birth_date_of(&d.id_number).expect("birth date");
            assert!((20..=70).contains(&age_at(birth, reference)));
        }
    }
}
