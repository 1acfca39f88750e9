//! Masking of personal data, the one mask for log lines and for refusals that quote what a
//! caller sent (DESIGN.md section 9): ID numbers as `230722********1742`, phones as
//! `139****5678`, a name as its surname. A clerk who reads a refusal and an operator who reads
//! the log see the same mask.
//!
//! A quote is bounded (a field may be megabytes of garbage) and has control characters
//! replaced (it ends up in terminals and logs). The masks read only the ends of a value.

/// `230722198511021742` → `230722********1742`.
pub fn id_number(raw: &str) -> String {
    mask_middle(raw, 6, "********", 4)
}

/// `13917784483` → `139****4483`.
pub fn phone(raw: &str) -> String {
    mask_middle(raw, 3, "****", 4)
}

/// `杨秀英` → `杨**`: the surname alone.
pub fn name(raw: &str) -> String {
    let mut chars = raw.trim().chars();
    match chars.next() {
        Some(first) => format!("{}{}", printable(first), "*".repeat(chars.take(8).count())),
        None => String::new(),
    }
}

/// Free text a caller sent (a reason, an address): cut short so that a 10 MB field cannot
/// flood a log, and with any run of 6+ digits masked in case it holds an ID or phone.
pub fn text(raw: &str) -> String {
    let mut out = String::new();
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        if digits.chars().count() >= 6 {
            out.push_str(&"*".repeat(digits.chars().count()));
        } else {
            out.push_str(digits);
        }
        digits.clear();
    };
    for c in raw.chars().take(80) {
        if c.is_ascii_digit() || c == 'X' || c == 'x' && !digits.is_empty() {
            digits.push(c);
        } else {
            flush(&mut digits, &mut out);
            out.push(printable(c));
        }
    }
    flush(&mut digits, &mut out);
    if raw.chars().nth(80).is_some() {
        out.push('…');
    }
    out
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
/// three characters hidden is replaced by `stars` alone (so the mask does not tell its length).
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
    fn masks_keep_only_what_tells_records_apart() {
        assert_eq!(id_number("23072219851102174X"), "230722********174X");
        assert_eq!(id_number(" 230722 "), "********");
        assert_eq!(phone("13917784483"), "139****4483");
        assert_eq!(phone("12345"), "****");
        assert_eq!(name("杨秀英"), "杨**");
        assert_eq!(name(""), "");
        assert_eq!(text("call 13917784483 now"), "call *********** now");
        assert!(text(&"名".repeat(1000)).chars().count() <= 81);
    }

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
        assert_eq!(text("a\nb"), "a?b");
    }
}
