//! What every printable court document (a certificate, a preservation notice, a payment order)
//! is written with: HTML escaping, and dates as Chinese court documents write them.

use chrono::{Datelike, NaiveDate};

/// Escapes text for HTML content and attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Reverses [`html_escape`], for reading back a value a document carries.
pub fn html_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// `2025-03-01` → `2025年3月1日`.
pub fn chinese_date(d: NaiveDate) -> String {
    format!("{}年{}月{}日", d.year(), d.month(), d.day())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_survives_escaping_and_dates_read_as_in_court_documents() {
        let text = r#"<b>"O'Brien" & 赵磊</b>"#;
        assert_eq!(
            html_escape(text),
            "&lt;b&gt;&quot;O&#39;Brien&quot; &amp; 赵磊&lt;/b&gt;"
        );
        assert_eq!(html_unescape(&html_escape(text)), text);
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(chinese_date(day(2025, 3, 1)), "2025年3月1日");
        assert_eq!(chinese_date(day(2024, 12, 31)), "2024年12月31日");
    }
}
