//! Quoting what a caller sent back in a refusal message.
//!
//! A refusal names the value it refused, so the caller can find it in their file. The quote
//! is bounded (a field may be megabytes of garbage), has control characters replaced (it ends
//! up in terminals and logs), and masks personal data as log lines do (DESIGN.md section 9).
//! These read only the ends of the value. Log fields use [`crate::pii`] instead.

/// `230722198511021742` → `230722********1742`.
pub fn id_number(raw: &str) -> String {
    mask_middle(raw, 6, "********", 4)
}

/// `13917784483` → `139****4483`.
pub fn phone(raw: &str) -> String {
    mask_middle(raw, 3, "****", 4)
}

/// At most `max` characters of `s`, control characters replaced, `…` when cut.
pub fn excerpt(s: &str, max: usize) -> String {
    let mut out: String = s.chars().take(max).map(printable).collect();
    if s.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

/// A control character as `?`; anything else as it is.
pub fn printable(c: char) -> char {
    if c.is_control() { '?' } else { c }
}

/// Keeps `head` and `tail` characters around `stars`; a value too short to leave at least
/// three characters hidden is replaced by `stars` alone.
fn mask_middle(raw: &str, head: usize, stars: &str, tail: usize) -> String {
    let s = raw.trim();
    if s.chars().nth(head + tail + 2).is_none() {
        return stars.to_owned();
    }
    let head: String = s.chars().take(head).map(printable).collect();
    let mut tail: Vec<char> = s.chars().rev().take(tail).map(printable).collect();
    tail.reverse();
    let tail: String = tail.into_iter().collect();
    format!("{head}{stars}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_masked_bounded_and_printable() {
        assert_eq!(id_number("23072219851102174X"), "230722********174X");
        assert_eq!(id_number(" 1234567890123 "), "123456********0123");
        assert_eq!(id_number("123"), "********");
        assert_eq!(phone("13917784483"), "139****4483");
        assert_eq!(phone("12345"), "****");
        assert_eq!(excerpt("ab\ncd", 3), "ab?…");
        assert_eq!(excerpt("黑0722", 5), "黑0722");
        assert_eq!(id_number("230722\u{7}9851102174X"), "230722********174X");
        assert_eq!(id_number("23072\u{1b}19851102174X"), "23072?********174X");
    }
}
