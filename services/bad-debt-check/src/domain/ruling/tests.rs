//! Ruling validation, re-imports, names and the recency window at their boundaries.

use super::*;

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

fn today() -> NaiveDate {
    day(2025, 6, 30)
}

/// Row 1 of the sample rulings.
fn ruling() -> RulingDraft {
    RulingDraft {
        ruling_number: "(2024)黑0722执300号之一".into(),
        court_name: "嘉荫县人民法院".into(),
        debtor_name: "徐敏".into(),
        debtor_id_number: "23072219851102174X".into(),
        filed_on: Some(day(2024, 1, 10)),
        terminated_on: Some(day(2024, 6, 20)),
        unpaid_fen: 1_595_750,
        revoked: false,
    }
}

fn rules(v: &[Violation]) -> Vec<(&'static str, &'static str)> {
    v.iter().map(|v| (v.field, v.rule)).collect()
}

#[test]
fn sample_rulings_are_admitted_but_the_last() {
    assert!(validate(&ruling(), today()).is_empty());
    let samples = [
        ("230722197502185342", (2024, 2, 10), (2024, 7, 20)),
        ("230722196209282368", (2024, 3, 10), (2024, 8, 20)),
        ("230722199710212922", (2024, 4, 10), (2024, 9, 20)),
        ("230722198008195646", (2024, 5, 10), (2024, 10, 20)),
        ("230722198805201746", (2024, 6, 10), (2024, 11, 20)),
    ];
    for (id, f, t) in samples {
        let r = RulingDraft {
            debtor_id_number: id.into(),
            filed_on: Some(day(f.0, f.1, f.2)),
            terminated_on: Some(day(t.0, t.1, t.2)),
            ..ruling()
        };
        assert!(validate(&r, today()).is_empty(), "{id}");
    }
    // The sample's last ruling: filed 2025-03-01, terminated 2025-04-15.
    let last = RulingDraft {
        ruling_number: "(2025)黑0722执88号之一".into(),
        debtor_name: "朱芳".into(),
        debtor_id_number: "230722196409199083".into(),
        filed_on: Some(day(2025, 3, 1)),
        terminated_on: Some(day(2025, 4, 15)),
        unpaid_fen: 500_000,
        ..ruling()
    };
    let v = validate(&last, today());
    assert_eq!(
        rules(&v),
        [(field::TERMINATED_ON, rule::RULING_THREE_MONTHS)]
    );
    assert!(v[0].description.contains("2025-06-02"));
    assert!(v[0].description.contains("517"));
}

#[test]
fn three_months_boundary() {
    let with = |f: NaiveDate, t: NaiveDate| RulingDraft {
        filed_on: Some(f),
        terminated_on: Some(t),
        ..ruling()
    };
    let refused = |r: &RulingDraft| rules(&validate(r, today()));
    let three = [(field::TERMINATED_ON, rule::RULING_THREE_MONTHS)];
    // 超过三个月 excludes the day 3 months end (Civil Code 1259): filed 2024-01-10,
    // terminated 2024-04-10 is too early, 2024-04-11 is not.
    assert_eq!(refused(&with(day(2024, 1, 10), day(2024, 4, 9))), three);
    assert_eq!(refused(&with(day(2024, 1, 10), day(2024, 4, 10))), three);
    assert!(refused(&with(day(2024, 1, 10), day(2024, 4, 11))).is_empty());
    // Month end: 2024-11-30 + 3 months is 2025-02-28, so 2025-03-01 is the first day.
    assert_eq!(refused(&with(day(2024, 11, 30), day(2025, 2, 28))), three);
    assert!(refused(&with(day(2024, 11, 30), day(2025, 3, 1))).is_empty());
    // Same day: reported as too early, not as out of order.
    assert_eq!(refused(&with(day(2024, 11, 30), day(2024, 11, 30))), three);
}

#[test]
fn dates_required_not_future_and_ordered() {
    let r = RulingDraft {
        filed_on: None,
        terminated_on: None,
        ..ruling()
    };
    assert_eq!(
        rules(&validate(&r, today())),
        [
            (field::ENFORCEMENT_FILED_ON, rule::REQUIRED),
            (field::TERMINATED_ON, rule::REQUIRED)
        ]
    );
    let r = RulingDraft {
        filed_on: Some(day(2025, 7, 1)),
        terminated_on: Some(day(2025, 10, 1)),
        ..ruling()
    };
    assert_eq!(
        rules(&validate(&r, today())),
        [
            (field::ENFORCEMENT_FILED_ON, rule::DATE_FUTURE),
            (field::TERMINATED_ON, rule::DATE_FUTURE)
        ]
    );
    // Today itself is not in the future (filed more than 3 months before it).
    let r = RulingDraft {
        filed_on: Some(day(2025, 3, 29)),
        terminated_on: Some(today()),
        ..ruling()
    };
    assert!(validate(&r, today()).is_empty());
    let r = RulingDraft {
        filed_on: Some(day(2024, 6, 20)),
        terminated_on: Some(day(2024, 1, 10)),
        ..ruling()
    };
    assert_eq!(
        rules(&validate(&r, today())),
        [(field::TERMINATED_ON, rule::DATE_ORDER)]
    );
}

#[test]
fn text_fields_required_and_bounded_without_echo() {
    let long = "长".repeat(65);
    let r = RulingDraft {
        ruling_number: " ".into(),
        court_name: long.clone(),
        debtor_name: "\u{3000}".into(),
        debtor_id_number: String::new(),
        ..ruling()
    };
    let v = validate(&r, today());
    assert_eq!(
        rules(&v),
        [
            (field::RULING_NUMBER, rule::REQUIRED),
            (field::COURT, rule::MAX_LENGTH),
            (field::DEBTOR_NAME, rule::REQUIRED),
            (field::DEBTOR_ID_NUMBER, rule::REQUIRED),
        ]
    );
    assert!(!v[1].description.contains("长长"));
    // Exactly 64 characters is within the limit.
    let r = RulingDraft {
        ruling_number: "号".repeat(64),
        debtor_name: "名".repeat(64),
        court_name: "院".repeat(64),
        ..ruling()
    };
    assert!(validate(&r, today()).is_empty());
}

#[test]
fn id_number_rules_and_masking() {
    let check = |id: &str| {
        rules(&validate(
            &RulingDraft {
                debtor_id_number: id.into(),
                ..ruling()
            },
            today(),
        ))
    };
    let id = |r| [(field::DEBTOR_ID_NUMBER, r)];
    assert!(check(" 23072219851102174x ").is_empty());
    assert!(check("34052419800101001X").is_empty());
    assert_eq!(check("2307221985110217"), id(rule::ID_NUMBER_LENGTH));
    assert_eq!(check("身份证"), id(rule::ID_NUMBER_LENGTH));
    assert_eq!(check("91230722MA1B2C3D4E"), id(rule::ID_NUMBER_NON_DIGIT));
    assert_eq!(check("23072219851102174A"), id(rule::ID_NUMBER_NON_DIGIT));
    assert_eq!(
        check("２３０７２２１９８５１１０２１７４X"),
        id(rule::ID_NUMBER_NON_DIGIT)
    );
    assert_eq!(check("230722199902300011"), id(rule::ID_NUMBER_BIRTH_DATE));
    assert_eq!(
        check("230722198511021740"),
        id(rule::ID_NUMBER_CHECK_CHARACTER)
    );

    let v = validate(
        &RulingDraft {
            debtor_id_number: "230722198511021740".into(),
            ..ruling()
        },
        today(),
    );
    assert!(v[0].description.contains("230722********1740"));
    assert!(!v[0].description.contains("230722198511021740"));
    assert!(v[0].description.contains("X"));
}

#[test]
fn negative_unpaid_is_refused_zero_admitted() {
    let r = RulingDraft {
        unpaid_fen: -1,
        ..ruling()
    };
    assert_eq!(
        rules(&validate(&r, today())),
        [(field::UNPAID_FEN, rule::AMOUNT_NEGATIVE)]
    );
    let r = RulingDraft {
        unpaid_fen: 0,
        ..ruling()
    };
    assert!(validate(&r, today()).is_empty());
}

#[test]
fn compare_reimports() {
    let stored = ruling().normalized();
    assert_eq!(compare_stored(None, &ruling()), Comparison::New);
    assert_eq!(compare(&stored, &ruling()), Comparison::Identical);
    // Normalization: spaces and a lower-case x are no change.
    let spaced = RulingDraft {
        debtor_id_number: " 23072219851102174x".into(),
        ruling_number: "(2024)黑0722执300号之一 ".into(),
        ..ruling()
    };
    assert_eq!(compare(&stored, &spaced), Comparison::Identical);
    let updated = RulingDraft {
        terminated_on: Some(day(2024, 6, 21)),
        unpaid_fen: 1,
        revoked: true,
        ..ruling()
    };
    assert_eq!(
        compare(&stored, &updated),
        Comparison::Changed(vec![field::TERMINATED_ON, field::UNPAID_FEN, field::STATUS])
    );
    assert_eq!(contradicts(&stored, &updated), None);
    // A revoked ruling re-exported as standing stays revoked: no change.
    let revoked = RulingDraft {
        revoked: true,
        ..stored.clone()
    };
    assert_eq!(compare(&revoked, &ruling()), Comparison::Identical);
}

#[test]
fn contradicting_rows_are_refused() {
    let stored = ruling();
    let other_debtor = RulingDraft {
        debtor_id_number: "230722197502185342".into(),
        ..ruling()
    };
    let v = contradicts(&stored, &other_debtor).expect("contradicts");
    assert_eq!(v.rule, rule::RULING_CONTRADICTS_STORED);
    assert_eq!(v.field, field::DEBTOR_ID_NUMBER);
    assert!(v.description.contains("230722********174X"));
    assert!(v.description.contains("230722********5342"));
    assert!(!v.description.contains("230722197502185342"));

    let other_filing = RulingDraft {
        filed_on: Some(day(2024, 1, 11)),
        ..ruling()
    };
    let v = contradicts(&stored, &other_filing).expect("contradicts");
    assert_eq!(v.field, field::ENFORCEMENT_FILED_ON);
    assert!(v.description.contains("2024-01-10") && v.description.contains("2024-01-11"));

    let other_court = RulingDraft {
        court_name: "伊春市中级人民法院".into(),
        debtor_name: "徐 明".into(),
        ..ruling()
    };
    let v = contradicts(&stored, &other_court).expect("contradicts");
    assert_eq!(v.field, field::COURT);
    assert!(v.description.contains("被执行人姓名"));

    // The same ID typed differently, a name with a space: no contradiction.
    let same = RulingDraft {
        debtor_id_number: "23072219851102174x ".into(),
        debtor_name: "徐 敏".into(),
        ..ruling()
    };
    assert_eq!(contradicts(&stored, &same), None);
}

#[test]
fn revoked_stays_revoked() {
    assert!(merge_revoked(true, false));
    assert!(merge_revoked(false, true));
    assert!(merge_revoked(true, true));
    assert!(!merge_revoked(false, false));
}

#[test]
fn names_agree_ignoring_spaces_and_dots() {
    assert_eq!(
        name_agreement("徐敏", " 徐 敏\u{3000}"),
        NameAgreement::Same
    );
    assert_eq!(
        name_agreement("阿依古丽·买买提", "阿依古丽•买买提"),
        NameAgreement::Same
    );
    assert_eq!(
        name_agreement("阿依古丽·买买提", "阿依古丽买买提"),
        NameAgreement::Same
    );
    assert_eq!(name_agreement("徐敏", "徐明"), NameAgreement::Differs);
    assert_eq!(name_agreement("徐敏", ""), NameAgreement::Differs);
}

#[test]
fn recency_window() {
    let today = day(2025, 5, 31);
    assert!(within_window(day(2000, 1, 1), today, None));
    assert!(within_window(day(2025, 2, 28), today, Some(3)));
    assert!(!within_window(day(2025, 2, 27), today, Some(3)));
    assert!(within_window(day(2024, 5, 31), today, Some(12)));
    assert!(!within_window(day(2024, 5, 30), today, Some(12)));
    assert_eq!(window_start(today, None), None);
    assert_eq!(window_start(today, Some(3)), Some(day(2025, 2, 28)));
}

#[test]
fn status_words() {
    assert_eq!(parse_status("终本"), Some(false));
    assert_eq!(parse_status(" standing "), Some(false));
    assert_eq!(parse_status("STANDING"), Some(false));
    assert_eq!(parse_status("已恢复执行"), Some(true));
    assert_eq!(parse_status("恢复执行"), Some(true));
    assert_eq!(parse_status("Revoked"), Some(true));
    assert_eq!(parse_status(""), None);
    assert_eq!(parse_status("执行中"), None);
}

#[test]
fn a_reimported_row_is_added_refused_unchanged_or_updated() {
    let stored = ruling();
    assert_eq!(reconcile(None, &stored), Reconciled::Add);
    assert_eq!(reconcile(Some(&stored), &stored), Reconciled::Unchanged);
    let mut later = ruling();
    later.unpaid_fen += 100;
    assert_eq!(
        reconcile(Some(&stored), &later),
        Reconciled::Update {
            revoked: false,
            newly_revoked: false
        }
    );
    later.revoked = true;
    assert_eq!(
        reconcile(Some(&stored), &later),
        Reconciled::Update {
            revoked: true,
            newly_revoked: true
        }
    );
    // Once revoked, an older export showing it standing changes nothing.
    let revoked = RulingDraft {
        revoked: true,
        ..ruling()
    };
    assert_eq!(reconcile(Some(&revoked), &ruling()), Reconciled::Unchanged);
    let mut other_debtor = ruling();
    other_debtor.debtor_id_number = "230722198511021758".into();
    assert!(matches!(
        reconcile(Some(&stored), &other_debtor),
        Reconciled::Refuse(v) if v.rule == rule::RULING_CONTRADICTS_STORED
    ));
}

#[test]
fn a_chunk_is_screened_row_by_row_and_a_repeated_number_refused() {
    let mut bad = ruling();
    bad.ruling_number = "(2024)黑0722执301号之一".into();
    bad.unpaid_fen = -1;
    let rows = vec![(1, 'a', ruling()), (2, 'b', bad), (3, 'c', ruling())];
    let screened = screen(rows, today());
    assert_eq!(
        screened
            .valid
            .iter()
            .map(|(row, c, _)| (*row, *c))
            .collect::<Vec<_>>(),
        vec![(1, 'a')]
    );
    let refused: Vec<(i64, &str)> = screened
        .refused
        .iter()
        .map(|(row, _, v)| (*row, v[0].rule))
        .collect();
    assert_eq!(refused[1], (3, rule::RULING_NUMBER_DUPLICATE_IN_IMPORT));
    assert_eq!(refused[0].0, 2);
}

#[test]
fn a_certificate_loses_its_basis_only_when_every_ruling_is_revoked() {
    let numbers = vec!["A".to_string(), "B".to_string()];
    assert!(basis_gone(&numbers, |_| true));
    assert!(!basis_gone(&numbers, |n| n == "A"));
    assert!(!basis_gone(&[], |_| true), "no ruling cited, none revoked");
}
