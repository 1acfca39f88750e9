//! The unified social credit code of an organisation (GB 32100): how intake tells that a
//! debtor's "ID number" is an organisation's, and how the demo makes one.

/// The 31 characters of a unified social credit code (GB 32100: no I, O, S, V, Z).
const ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
/// Weights of positions 1-17 (GB 32100 § 4.2).
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// The check character `31 - (Σ value × weight mod 31)` (31 becomes 0) of the first 17
/// characters (GB 32100 § 4.2), or `None` when they are not 17 of the alphabet (upper case).
pub fn check_character(first17: &str) -> Option<char> {
    if first17.len() != 17 {
        return None;
    }
    let mut sum = 0u32;
    for (c, weight) in first17.chars().zip(WEIGHTS) {
        sum += value(c)? * weight;
    }
    let check = usize::try_from((31 - sum % 31) % 31).ok()?;
    ALPHABET.chars().nth(check)
}

/// Whether `s` (trimmed, letters in either case) is a unified social credit code by GB 32100:
/// 18 characters of the alphabet `0123456789ABCDEFGHJKLMNPQRTUWXY` whose 18th is the check
/// character of the first 17.
///
/// An 18-digit resident ID passes this test too about once in 31 (its characters are all in
/// the alphabet), so a caller that must tell the two apart tries the resident ID first and
/// asks this only of a number that is no valid resident ID.
pub fn is_valid(s: &str) -> bool {
    let s = s.trim();
    if s.len() != 18 {
        return false;
    }
    let s = s.to_ascii_uppercase();
    match (s.get(..17), s.get(17..)) {
        (Some(body), Some(last)) if last.len() == 1 => {
            check_character(body).is_some_and(|c| last.starts_with(c))
        }
        _ => false,
    }
}

/// Value (0-30) of a character in the GB 32100 alphabet.
fn value(c: char) -> Option<u32> {
    ALPHABET
        .chars()
        .position(|a| a == c)
        .and_then(|i| u32::try_from(i).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unified_social_credit_code() {
        // Check character computed by GB 32100 for this body is 4.
        assert!(is_valid("91230722MA1B2C3D44"));
        assert!(is_valid(" 91230722ma1b2c3d44 "));
        // The sample batch's code has a wrong check character.
        assert!(!is_valid("91230722MA1B2C3D4E"));
        // Letters outside the alphabet (I, O, S, V, Z).
        assert!(!is_valid("91230722MA1B2C3DI4"));
        assert!(!is_valid("9123072"));
        assert!(!is_valid(""));
        // Check character F (value 15), computed independently.
        assert!(is_valid("91330100716105852F"));
        assert!(!is_valid("91330100716105852E"));
        // A body whose weighted sum is 0 gives 31 - 0 = 31, which becomes 0.
        let body = "00000000000000000";
        assert!(is_valid(&format!("{body}0")));
        assert!(!is_valid(&format!("{body}1")));
        // Real codes.
        assert_eq!(check_character("9144030071526726X"), Some('G'));
        assert_eq!(check_character("91110000100006485"), Some('K'));
        assert_eq!(check_character("9144030071526726I"), None);
    }
}
