//! GB 11643 at every boundary: the check character, the checks in order, the shared
//! violations.

use super::*;

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

fn today() -> NaiveDate {
    day(2025, 6, 30)
}

fn issued() -> Checks {
    Checks::Issued { today: today() }
}

/// A valid number for a birth date, built with `check_character` like the generator does.
fn with_check(first17: &str) -> String {
    with_check_character(first17).expect("17 digits")
}

#[test]
fn normalize_trims_and_uppercases_x() {
    assert_eq!(
        normalize_id_number(" 34052419800101001x\t"),
        "34052419800101001X"
    );
    assert_eq!(
        normalize_id_number("\u{3000}230722198508195646\u{3000}"),
        "230722198508195646"
    );
}

#[test]
fn check_character_of_the_standard_example() {
    assert_eq!(check_character("34052419800101001"), Some('X'));
    assert_eq!(check_character("23072219750218534"), Some('2'));
    assert_eq!(check_character("3405241980010100"), None);
    assert_eq!(check_character("340524198001010011"), None);
    assert_eq!(check_character("3405241980010100A"), None);
    assert_eq!(check_character("３４０５２４１９８００１０１００"), None);
}

#[test]
fn valid_id_is_parsed() {
    let id = parse("34052419800101001X", issued()).expect("valid");
    assert_eq!(id.region, "340524");
    assert_eq!(id.birth_date, day(1980, 1, 1));
    assert_eq!(id.sequence, 1);
    assert_eq!(id.sex, Sex::Male);
    assert_eq!(id.number, "34052419800101001X");

    let id = parse("230722197502185342", issued()).expect("valid");
    assert_eq!(id.sequence, 534);
    assert_eq!(id.sex, Sex::Female);
}

#[test]
fn lowercase_x_is_accepted_after_normalizing() {
    let id = parse(" 34052419800101001x ", issued()).expect("valid");
    assert_eq!(id.number, "34052419800101001X");
}

#[test]
fn wrong_check_character_says_which_was_expected() {
    assert_eq!(
        parse("340524198001010010", issued()),
        Err(IdNumberError::WrongCheckCharacter {
            expected: 'X',
            found: '0'
        })
    );
    assert_eq!(
        parse("230722199001012220", issued()),
        Err(IdNumberError::WrongCheckCharacter {
            expected: '3',
            found: '0'
        })
    );
    // A letter other than X in 18th place is a wrong check character, not a non-digit.
    assert_eq!(
        parse("34052419800101001A", issued()),
        Err(IdNumberError::WrongCheckCharacter {
            expected: 'X',
            found: 'A'
        })
    );
}

#[test]
fn wrong_length_is_counted_in_characters() {
    assert_eq!(
        parse("34052419800101001", issued()),
        Err(IdNumberError::WrongLength { chars: 17 })
    );
    assert_eq!(
        parse("340524198001010011X", issued()),
        Err(IdNumberError::WrongLength { chars: 19 })
    );
    assert_eq!(
        parse("", issued()),
        Err(IdNumberError::WrongLength { chars: 0 })
    );
    assert_eq!(
        parse("身份证", issued()),
        Err(IdNumberError::WrongLength { chars: 3 })
    );
    let huge = "1".repeat(10 * 1024 * 1024);
    assert!(matches!(
        parse(&huge, issued()),
        Err(IdNumberError::WrongLength { chars }) if chars > 18
    ));
}

#[test]
fn non_digit_in_body_names_its_position() {
    assert_eq!(
        parse("3405241980O101001X", issued()),
        Err(IdNumberError::NonDigit { position: 11 })
    );
    // Full-width digits: 18 characters, but not ASCII digits.
    assert_eq!(
        parse("３４０５２４１９８００１０１００１X", issued()),
        Err(IdNumberError::NonDigit { position: 1 })
    );
    // An organisation code is no resident ID.
    assert_eq!(
        parse("91230722MA1B2C3D4E", issued()),
        Err(IdNumberError::NonDigit { position: 9 })
    );
}

#[test]
fn region_must_be_a_province() {
    let id = with_check("00052419800101001");
    assert_eq!(
        parse(&id, issued()),
        Err(IdNumberError::BadRegion {
            region: "000524".into()
        })
    );
    let id = with_check("99072219800101001");
    assert!(matches!(
        parse(&id, issued()),
        Err(IdNumberError::BadRegion { .. })
    ));
    // Hong Kong / Macao / Taiwan residence permits follow GB 11643.
    assert!(parse(&with_check("83000019800101001"), issued()).is_ok());
}

#[test]
fn impossible_birth_dates_are_refused() {
    for body in [
        "23072219990230001", // 30 February
        "23072219991301001", // month 13
        "23072219990100001", // day 0
        "23072219010229001", // 1901 is no leap year
        "23072218991231001", // before 1900
    ] {
        assert_eq!(
            parse(&with_check(body), issued()),
            Err(IdNumberError::ImpossibleBirthDate),
            "{body}"
        );
    }
    assert!(parse(&with_check("23072220000229001"), issued()).is_ok());
    assert!(parse(&with_check("23072219000101001"), issued()).is_ok());
}

#[test]
fn birth_date_today_is_admitted_tomorrow_is_not() {
    let born_today = with_check("23072220250630001");
    assert_eq!(
        parse(&born_today, issued()).map(|id| id.birth_date),
        Ok(today())
    );
    let born_tomorrow = with_check("23072220250701001");
    assert_eq!(
        parse(&born_tomorrow, issued()),
        Err(IdNumberError::FutureBirthDate)
    );
}

#[test]
fn the_standard_example_and_normalization() {
    // GB 11643's example: 11010519491231002X.
    assert_eq!(check_character("11010519491231002"), Some('X'));
    assert_eq!(check_character("1101051949123100"), None);
    assert_eq!(check_character("1101051949123100a"), None);
    assert_eq!(
        normalize_id_number("\u{3000} 11010519491231002x "),
        "11010519491231002X"
    );
    assert_eq!(
        with_check_character("11010519491231002").as_deref(),
        Some("11010519491231002X")
    );
}

#[test]
fn the_form_alone_asks_no_region_and_no_age() {
    // A region no province has, a birth date before 1900 or after today: the form holds.
    for body in [
        "00052419800101001",
        "23072218991231001",
        "23072230000101001",
    ] {
        assert!(parse(&with_check(body), Checks::Form).is_ok(), "{body}");
    }
    assert_eq!(
        parse(&with_check("23072219990230001"), Checks::Form),
        Err(IdNumberError::ImpossibleBirthDate)
    );
    assert_eq!(
        parse("230722199001012220", Checks::Form),
        Err(IdNumberError::WrongCheckCharacter {
            expected: '3',
            found: '0'
        })
    );
}

#[test]
fn violations_mask_the_number() {
    let e = parse("230722199001012220", issued()).expect_err("wrong check character");
    let v = violation("debtor.id_number", "230722199001012220", &e);
    assert_eq!(
        (v.field, v.rule),
        ("debtor.id_number", rule::ID_NUMBER_CHECK_CHARACTER)
    );
    assert!(
        v.description.contains("230722********2220"),
        "{}",
        v.description
    );
    assert!(!v.description.contains("230722199001012220"));
}

#[test]
fn numbered_ids_are_valid_and_distinct() {
    let ids: std::collections::HashSet<String> = (0..2000).map(numbered).collect();
    assert_eq!(ids.len(), 2000);
    assert!(ids.iter().all(|id| parse(id, issued()).is_ok()));
    assert_eq!(numbered(0), with_check("23072219600101000"));
}
