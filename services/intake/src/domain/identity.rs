//! Identity numbers a bank gives for a debtor: the resident ID (GB 11643), the unified social
//! credit code of an organisation (GB 32100) and the mobile number (RULES.md "Scope (intake)").
//!
//! Pure functions: today's date is a parameter, nothing here reads the clock.

use chrono::NaiveDate;

pub use sieve_kernel::resident_id::{check_character, normalize_id_number};

/// The 31 characters of a unified social credit code (GB 32100: no I, O, S, V, Z).
const USCC_ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
/// Weights of positions 1-17 of a unified social credit code (GB 32100 § 4.2).
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// First two digits of the region code: the provincial-level divisions of GB/T 2260, plus
/// 81/82/83 of the residence permits for Hong Kong, Macao and Taiwan residents (which use
/// the GB 11643 layout and check character).
const PROVINCE_CODES: [&str; 35] = [
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41",
    "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71",
    "81", "82", "83",
];

/// Earliest birth date taken as possible: nobody born before 1900 is a living debtor.
const EARLIEST_BIRTH_DATE: (i32, u32, u32) = (1900, 1, 1);

/// Sex as GB 11643 encodes it: an odd sequence number is a man, an even one a woman.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    Male,
    Female,
}

/// A resident ID that passed every GB 11643 test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResidentId {
    /// The normalized 18-character number.
    pub number: String,
    /// Six-digit administrative division code where the number was first issued (not
    /// necessarily the current domicile).
    pub region: String,
    pub birth_date: NaiveDate,
    /// Three-digit sequence among people of the same region and birth date (0-999).
    pub sequence: u16,
    pub sex: Sex,
}

/// Why a string is not a valid resident ID. The messages never repeat the number (it is
/// personal data); callers add a masked form where they need one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdNumberError {
    /// Not 18 characters (counted in characters, after trimming).
    #[error("a resident ID has 18 characters, this one has {chars}")]
    WrongLength { chars: usize },
    /// One of the first 17 characters is not a digit; `position` is 1-based.
    #[error("character {position} of the resident ID is not a digit")]
    NonDigit { position: usize },
    /// The first two digits are no province (GB/T 2260).
    #[error("region code {region} is not a known administrative division")]
    BadRegion { region: String },
    /// Digits 7-14 are no calendar date (e.g. 19990230), or a date before 1900.
    #[error("the birth date in the resident ID does not exist")]
    ImpossibleBirthDate,
    /// Digits 7-14 are a date after today.
    #[error("the birth date in the resident ID is in the future")]
    FutureBirthDate,
    /// The 18th character does not match ISO 7064 MOD 11-2 over the first 17.
    #[error("check character should be {expected}, found {found}")]
    WrongCheckCharacter { expected: char, found: char },
}

/// Validates a resident ID by GB 11643 and returns its parts. The input is normalized first
/// ([`normalize_id_number`]). A birth date equal to `today` is admitted; one after it is not.
///
/// Checks run in this order and the first failure is returned: length, digits in the body,
/// region, birth date exists, birth date not in the future, check character.
pub fn parse_resident_id(raw: &str, today: NaiveDate) -> Result<ResidentId, IdNumberError> {
    let number = normalize_id_number(raw);
    if number.len() != 18 {
        let chars = number.chars().count();
        // 18 characters in more than 18 bytes: some are not ASCII, so not digits.
        if chars == 18 {
            return Err(first_non_digit(&number));
        }
        return Err(IdNumberError::WrongLength { chars });
    }
    // 18 bytes; every character must be ASCII for the body to be digits.
    let (body, last) = match (number.get(..17), number.get(17..)) {
        (Some(body), Some(last)) => (body, last),
        // A multi-byte character straddles byte 17: the body is not all digits.
        _ => return Err(first_non_digit(&number)),
    };
    if !body.bytes().all(|b| b.is_ascii_digit()) {
        return Err(first_non_digit(&number));
    }

    // GB 11643: digits 1-6, the address code (GB/T 2260).
    let region = &body[..6];
    if !PROVINCE_CODES.contains(&&region[..2]) {
        return Err(IdNumberError::BadRegion {
            region: region.to_owned(),
        });
    }

    // GB 11643: digits 7-14, the birth date YYYYMMDD.
    let birth_date = parse_birth_date(&body[6..14]).ok_or(IdNumberError::ImpossibleBirthDate)?;
    if birth_date > today {
        return Err(IdNumberError::FutureBirthDate);
    }

    // GB 11643: digit 18, ISO 7064 MOD 11-2 over the first 17.
    let expected = check_character(body).ok_or(IdNumberError::NonDigit { position: 1 })?;
    let found = last.chars().next().unwrap_or(' ');
    if found != expected {
        return Err(IdNumberError::WrongCheckCharacter { expected, found });
    }

    // GB 11643: digits 15-17, the sequence; odd for men, even for women.
    let sequence: u16 = body[14..17]
        .bytes()
        .fold(0, |acc, b| acc * 10 + u16::from(b - b'0'));
    let sex = if sequence % 2 == 1 {
        Sex::Male
    } else {
        Sex::Female
    };
    Ok(ResidentId {
        region: region.to_owned(),
        number,
        birth_date,
        sequence,
        sex,
    })
}

/// The first of the 17 body characters that is not an ASCII digit, as an error.
fn first_non_digit(number: &str) -> IdNumberError {
    let position = number
        .chars()
        .take(17)
        .position(|c| !c.is_ascii_digit())
        .map_or(17, |i| i + 1);
    IdNumberError::NonDigit { position }
}

/// `YYYYMMDD` (8 ASCII digits) to a date that exists and is not before 1900-01-01.
fn parse_birth_date(digits: &str) -> Option<NaiveDate> {
    let year: i32 = digits.get(..4)?.parse().ok()?;
    let month: u32 = digits.get(4..6)?.parse().ok()?;
    let day: u32 = digits.get(6..8)?.parse().ok()?;
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    let (y, m, d) = EARLIEST_BIRTH_DATE;
    let earliest = NaiveDate::from_ymd_opt(y, m, d)?;
    (date >= earliest).then_some(date)
}

/// Whether `s` (trimmed, letters in either case) is a unified social credit code by GB 32100:
/// 18 characters of the alphabet `0123456789ABCDEFGHJKLMNPQRTUWXY` whose 18th is the check
/// character `31 - (Σ value × weight mod 31)` (31 becomes 0).
///
/// An 18-digit resident ID passes this test too about once in 31 (its characters are all in
/// the alphabet), so a caller that must tell the two apart tries [`parse_resident_id`] first
/// and asks this only of a number that is no valid resident ID.
pub fn looks_like_unified_social_credit_code(s: &str) -> bool {
    let s = s.trim();
    if s.len() != 18 {
        return false;
    }
    let mut values = [0u32; 18];
    for (slot, c) in values.iter_mut().zip(s.chars()) {
        match uscc_value(c.to_ascii_uppercase()) {
            Some(v) => *slot = v,
            None => return false,
        }
    }
    let sum: u32 = values.iter().zip(USCC_WEIGHTS).map(|(v, w)| v * w).sum();
    let check = (31 - sum % 31) % 31;
    values[17] == check
}

/// Value (0-30) of a character in the GB 32100 alphabet.
fn uscc_value(c: char) -> Option<u32> {
    USCC_ALPHABET
        .chars()
        .position(|a| a == c)
        .and_then(|i| u32::try_from(i).ok())
}

/// Why a string is not a mainland mobile number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MobileError {
    /// Something other than ASCII digits (a space, a dash, a `+86`, a full-width digit).
    #[error("a mobile number holds digits only")]
    NonDigit,
    /// Digits only, but not 11 of them.
    #[error("a mobile number has 11 digits, this one has {digits}")]
    WrongLength { digits: usize },
    /// 11 digits that do not start with 1.
    #[error("a mobile number starts with 1")]
    BadPrefix,
}

/// A mainland mobile number: 11 ASCII digits starting with 1 (RULES.md "Scope (intake)").
/// Surrounding whitespace is ignored.
pub fn validate_mobile(raw: &str) -> Result<(), MobileError> {
    let s = raw.trim();
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(MobileError::NonDigit);
    }
    if s.len() != 11 {
        return Err(MobileError::WrongLength { digits: s.len() });
    }
    if !s.starts_with('1') {
        return Err(MobileError::BadPrefix);
    }
    Ok(())
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

    /// A valid number for a birth date, built with `check_character` like the generator does.
    fn with_check(first17: &str) -> String {
        let c = check_character(first17).expect("17 digits");
        format!("{first17}{c}")
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
        let id = parse_resident_id("34052419800101001X", today()).expect("valid");
        assert_eq!(id.region, "340524");
        assert_eq!(id.birth_date, day(1980, 1, 1));
        assert_eq!(id.sequence, 1);
        assert_eq!(id.sex, Sex::Male);
        assert_eq!(id.number, "34052419800101001X");

        let id = parse_resident_id("230722197502185342", today()).expect("valid");
        assert_eq!(id.sequence, 534);
        assert_eq!(id.sex, Sex::Female);
    }

    #[test]
    fn lowercase_x_is_accepted_after_normalizing() {
        let id = parse_resident_id(" 34052419800101001x ", today()).expect("valid");
        assert_eq!(id.number, "34052419800101001X");
    }

    #[test]
    fn wrong_check_character_says_which_was_expected() {
        assert_eq!(
            parse_resident_id("340524198001010010", today()),
            Err(IdNumberError::WrongCheckCharacter {
                expected: 'X',
                found: '0'
            })
        );
        assert_eq!(
            parse_resident_id("230722199001012220", today()),
            Err(IdNumberError::WrongCheckCharacter {
                expected: '3',
                found: '0'
            })
        );
        // A letter other than X in 18th place is a wrong check character, not a non-digit.
        assert_eq!(
            parse_resident_id("34052419800101001A", today()),
            Err(IdNumberError::WrongCheckCharacter {
                expected: 'X',
                found: 'A'
            })
        );
    }

    #[test]
    fn wrong_length_is_counted_in_characters() {
        assert_eq!(
            parse_resident_id("34052419800101001", today()),
            Err(IdNumberError::WrongLength { chars: 17 })
        );
        assert_eq!(
            parse_resident_id("340524198001010011X", today()),
            Err(IdNumberError::WrongLength { chars: 19 })
        );
        assert_eq!(
            parse_resident_id("", today()),
            Err(IdNumberError::WrongLength { chars: 0 })
        );
        assert_eq!(
            parse_resident_id("身份证", today()),
            Err(IdNumberError::WrongLength { chars: 3 })
        );
        let huge = "1".repeat(10 * 1024 * 1024);
        assert!(matches!(
            parse_resident_id(&huge, today()),
            Err(IdNumberError::WrongLength { chars }) if chars > 18
        ));
    }

    #[test]
    fn non_digit_in_body_names_its_position() {
        assert_eq!(
            parse_resident_id("3405241980O101001X", today()),
            Err(IdNumberError::NonDigit { position: 11 })
        );
        // Full-width digits: 18 characters, but not ASCII digits.
        assert_eq!(
            parse_resident_id("３４０５２４１９８００１０１００１X", today()),
            Err(IdNumberError::NonDigit { position: 1 })
        );
        // An organisation code is no resident ID.
        assert_eq!(
            parse_resident_id("91230722MA1B2C3D4E", today()),
            Err(IdNumberError::NonDigit { position: 9 })
        );
    }

    #[test]
    fn region_must_be_a_province() {
        let id = with_check("00052419800101001");
        assert_eq!(
            parse_resident_id(&id, today()),
            Err(IdNumberError::BadRegion {
                region: "000524".into()
            })
        );
        let id = with_check("99072219800101001");
        assert!(matches!(
            parse_resident_id(&id, today()),
            Err(IdNumberError::BadRegion { .. })
        ));
        // Hong Kong / Macao / Taiwan residence permits follow GB 11643.
        assert!(parse_resident_id(&with_check("83000019800101001"), today()).is_ok());
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
                parse_resident_id(&with_check(body), today()),
                Err(IdNumberError::ImpossibleBirthDate),
                "{body}"
            );
        }
        assert!(parse_resident_id(&with_check("23072220000229001"), today()).is_ok());
        assert!(parse_resident_id(&with_check("23072219000101001"), today()).is_ok());
    }

    #[test]
    fn birth_date_today_is_admitted_tomorrow_is_not() {
        let born_today = with_check("23072220250630001");
        assert_eq!(
            parse_resident_id(&born_today, today()).map(|id| id.birth_date),
            Ok(today())
        );
        let born_tomorrow = with_check("23072220250701001");
        assert_eq!(
            parse_resident_id(&born_tomorrow, today()),
            Err(IdNumberError::FutureBirthDate)
        );
    }

    #[test]
    fn unified_social_credit_code() {
        // Check character computed by GB 32100 for this body is 4.
        assert!(looks_like_unified_social_credit_code("91230722MA1B2C3D44"));
        assert!(looks_like_unified_social_credit_code(
            " 91230722ma1b2c3d44 "
        ));
        // The sample batch's code has a wrong check character.
        assert!(!looks_like_unified_social_credit_code("91230722MA1B2C3D4E"));
        // Letters outside the alphabet (I, O, S, V, Z).
        assert!(!looks_like_unified_social_credit_code("91230722MA1B2C3DI4"));
        assert!(!looks_like_unified_social_credit_code("9123072"));
        assert!(!looks_like_unified_social_credit_code(""));
        // Check character F (value 15), computed independently.
        assert!(looks_like_unified_social_credit_code("91330100716105852F"));
        assert!(!looks_like_unified_social_credit_code("91330100716105852E"));
        // A body whose weighted sum is 0 gives 31 - 0 = 31, which becomes 0.
        let body = "00000000000000000";
        assert!(looks_like_unified_social_credit_code(&format!("{body}0")));
        assert!(!looks_like_unified_social_credit_code(&format!("{body}1")));
    }

    #[test]
    fn mobile_numbers() {
        assert_eq!(validate_mobile("13917784483"), Ok(()));
        assert_eq!(validate_mobile(" 13917784483 "), Ok(()));
        assert_eq!(
            validate_mobile("1361234567"),
            Err(MobileError::WrongLength { digits: 10 })
        );
        assert_eq!(
            validate_mobile("136123456789"),
            Err(MobileError::WrongLength { digits: 12 })
        );
        assert_eq!(validate_mobile("23912345678"), Err(MobileError::BadPrefix));
        assert_eq!(validate_mobile("139-1778-4483"), Err(MobileError::NonDigit));
        assert_eq!(
            validate_mobile("+8613917784483"),
            Err(MobileError::NonDigit)
        );
        assert_eq!(
            validate_mobile(""),
            Err(MobileError::WrongLength { digits: 0 })
        );
    }
}
