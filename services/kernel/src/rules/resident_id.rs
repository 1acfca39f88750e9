//! The resident ID number (GB 11643) as every service keys and checks it: intake screens a
//! debtor's number, the pre-check matches rulings by it, the demo makes them. One key, one
//! check character, one validator; what a service asks beyond GB 11643's form is a [`Checks`].

use chrono::NaiveDate;

use super::mask;
use super::violation::{Violation, rule};

/// Weights of ISO 7064 MOD 11-2 over the first 17 digits (GB 11643 § 5.1.4).
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// `sum mod 11` indexes this table to give the check character (GB 11643): the eleven
/// characters a check character can be.
pub const CHECK_TABLE: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// First two digits of the region code: the provincial-level divisions of GB/T 2260, plus
/// 81/82/83 of the residence permits for Hong Kong, Macao and Taiwan residents (which use
/// the GB 11643 layout and check character).
const PROVINCE_CODES: [&str; 35] = [
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41",
    "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71",
    "81", "82", "83",
];

/// Earliest birth date taken as possible of a living person: nobody born before 1900 is a
/// living debtor.
const EARLIEST_BIRTH_DATE: (i32, u32, u32) = (1900, 1, 1);

/// Trims surrounding whitespace (including the ideographic space U+3000) and upper-cases a
/// lower-case `x`, the only letter a resident ID may hold: `" 34052419800101001x "` →
/// `"34052419800101001X"`. The same person is the same normalized number (RULES.md).
pub fn normalize_id_number(raw: &str) -> String {
    raw.trim().replace('x', "X")
}

/// The check character (ISO 7064 MOD 11-2, GB 11643) of the first 17 digits of a resident
/// ID, or `None` when `first17` is not exactly 17 ASCII digits.
pub fn check_character(first17: &str) -> Option<char> {
    if first17.len() != 17 {
        return None;
    }
    let mut sum = 0u32;
    for (c, weight) in first17.chars().zip(WEIGHTS) {
        sum += c.to_digit(10)? * weight;
    }
    CHECK_TABLE.get((sum % 11) as usize).copied()
}

/// The 18-character number with its check character, or `None` unless `first17` is 17 ASCII
/// digits (how the demo and the tests make numbers).
pub fn with_check_character(first17: &str) -> Option<String> {
    check_character(first17).map(|c| format!("{first17}{c}"))
}

/// A valid resident ID of Jiayin County (230722) for index `i`, born 1960 to 1999: how the
/// tests and benches make many distinct debtors.
pub fn numbered(i: usize) -> String {
    let birth = 19_600_101 + i % 28 + (i / 28 % 12) * 100 + (i / 336 % 40) * 10_000;
    let first17 = format!("230722{birth:08}{:03}", i % 1000);
    // 17 digits: there is a check character.
    let check = check_character(&first17).unwrap_or('0');
    format!("{first17}{check}")
}

/// Sex as GB 11643 encodes it: an odd sequence number is a man, an even one a woman.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    Male,
    Female,
}

/// A resident ID that passed the checks asked of it.
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
/// personal data); [`violation`] adds a masked form.
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
    /// Digits 7-14 are no calendar date (e.g. 19990230), or (of a living person) a date
    /// before 1900.
    #[error("the birth date in the resident ID does not exist")]
    ImpossibleBirthDate,
    /// Digits 7-14 are a date after today.
    #[error("the birth date in the resident ID is in the future")]
    FutureBirthDate,
    /// The 18th character does not match ISO 7064 MOD 11-2 over the first 17.
    #[error("check character should be {expected}, found {found}")]
    WrongCheckCharacter { expected: char, found: char },
}

/// What is asked of a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checks {
    /// GB 11643's form: 18 characters, 17 digits, a birth date that exists, the check
    /// character. What the registry asks of the court's own enforcement records.
    Form,
    /// Also a number issued to a person living `today`: a province's region code (GB/T 2260)
    /// and a birth date from 1900-01-01 to `today` inclusive (RULES.md "Scope (intake)").
    Issued { today: NaiveDate },
}

/// Validates a resident ID by GB 11643 and returns its parts. The input is normalized first
/// ([`normalize_id_number`]).
///
/// Checks run in this order and the first failure is returned: length, digits in the body,
/// region (`Issued`), birth date exists, birth date not in the future (`Issued`), check
/// character.
pub fn parse(raw: &str, checks: Checks) -> Result<ResidentId, IdNumberError> {
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
    if matches!(checks, Checks::Issued { .. }) && !PROVINCE_CODES.contains(&&region[..2]) {
        return Err(IdNumberError::BadRegion {
            region: region.to_owned(),
        });
    }

    // GB 11643: digits 7-14, the birth date YYYYMMDD.
    let birth_date = parse_birth_date(&body[6..14]).ok_or(IdNumberError::ImpossibleBirthDate)?;
    if let Checks::Issued { today } = checks {
        let (y, m, d) = EARLIEST_BIRTH_DATE;
        if NaiveDate::from_ymd_opt(y, m, d).is_some_and(|earliest| birth_date < earliest) {
            return Err(IdNumberError::ImpossibleBirthDate);
        }
        if birth_date > today {
            return Err(IdNumberError::FutureBirthDate);
        }
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

/// `YYYYMMDD` (8 ASCII digits) to a date that exists.
fn parse_birth_date(digits: &str) -> Option<NaiveDate> {
    let year: i32 = digits.get(..4)?.parse().ok()?;
    let month: u32 = digits.get(4..6)?.parse().ok()?;
    let day: u32 = digits.get(6..8)?.parse().ok()?;
    NaiveDate::from_ymd_opt(year, month, day)
}

/// The violation of `field` for a number `raw` (as the caller sent it; quoted masked) that
/// failed with `error`, under the shared `id_number.*` rules.
pub fn violation(field: &'static str, raw: &str, error: &IdNumberError) -> Violation {
    let masked = mask::id_number(raw);
    let (rule, description) = match error {
        IdNumberError::WrongLength { chars } => (
            rule::ID_NUMBER_LENGTH,
            format!(
                "身份证号应为18位，实为{chars}位。 \
                 A resident ID number has 18 characters; this one has {chars}."
            ),
        ),
        IdNumberError::NonDigit { position } => (
            rule::ID_NUMBER_NON_DIGIT,
            format!(
                "身份证号 {masked} 第{position}位不是数字。 \
                 Character {position} of ID number {masked} is not a digit."
            ),
        ),
        IdNumberError::BadRegion { region } => (
            rule::ID_NUMBER_REGION,
            format!(
                "身份证号 {masked} 的地址码 {region} 不是有效的行政区划。 \
                 ID number {masked}: region code {region} is not a valid division."
            ),
        ),
        IdNumberError::ImpossibleBirthDate => (
            rule::ID_NUMBER_BIRTH_DATE,
            format!(
                "身份证号 {masked} 中的出生日期不存在。 \
                 ID number {masked}: the birth date does not exist."
            ),
        ),
        IdNumberError::FutureBirthDate => (
            rule::ID_NUMBER_BIRTH_DATE_FUTURE,
            format!(
                "身份证号 {masked} 中的出生日期晚于今天。 \
                 ID number {masked}: the birth date is in the future."
            ),
        ),
        IdNumberError::WrongCheckCharacter { expected, found } => {
            let found = mask::printable(*found);
            (
                rule::ID_NUMBER_CHECK_CHARACTER,
                format!(
                    "身份证号 {masked} 校验位应为 {expected}，实为 {found}，请核对号码。 \
                     ID number {masked}: the check character should be {expected}, not \
                     {found}; please check the number."
                ),
            )
        }
    };
    Violation {
        field,
        rule,
        description,
    }
}

#[cfg(test)]
mod tests;
