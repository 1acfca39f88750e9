//! The resident ID number (GB 11643) as every service keys and checks it: intake screens a
//! debtor's number, the pre-check matches rulings by it. Each service adds its own rules
//! (intake: region, birth date not in the future); the key and the check character are one.

/// Weights of ISO 7064 MOD 11-2 over the first 17 digits (GB 11643 § 5.1.4).
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// `sum mod 11` indexes this table to give the check character (GB 11643).
const CHECK_TABLE: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

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

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
