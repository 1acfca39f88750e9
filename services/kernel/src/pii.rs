//! Masking of personal data before it reaches a log line (DESIGN.md section 9).
//!
//! Log fields that could hold an ID number, phone or name go through these functions; the
//! masks keep enough for a clerk to tell records apart and nothing that identifies a person.

/// `230722198511021742` → `230722********1742`.
pub fn id_number(raw: &str) -> String {
    let chars: Vec<char> = raw.trim().chars().collect();
    if chars.len() <= 10 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..6].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 10))
}

/// `13917784483` → `139****4483`.
pub fn phone(raw: &str) -> String {
    let chars: Vec<char> = raw.trim().chars().collect();
    if chars.len() <= 7 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 7))
}

/// `杨秀英` → `杨**`: the surname alone.
pub fn name(raw: &str) -> String {
    let mut chars = raw.trim().chars();
    match chars.next() {
        Some(first) => format!("{first}{}", "*".repeat(chars.count().min(8))),
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
            out.push(c);
        }
    }
    flush(&mut digits, &mut out);
    if raw.chars().nth(80).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_only_what_tells_records_apart() {
        assert_eq!(id_number("23072219851102174X"), "230722********174X");
        assert_eq!(id_number(" 230722 "), "******");
        assert_eq!(phone("13917784483"), "139****4483");
        assert_eq!(phone("12345"), "*****");
        assert_eq!(name("杨秀英"), "杨**");
        assert_eq!(name(""), "");
        assert_eq!(text("call 13917784483 now"), "call *********** now");
        assert!(text(&"名".repeat(1000)).chars().count() <= 81);
    }
}
