//! Calendar dates (Asia/Shanghai, DESIGN.md section 4) between the contract's
//! `sieve.common.v1.Date`, chrono and storage (ISO text, which orders like the dates), and
//! periods in months.

use chrono::{Datelike, Months, NaiveDate};
use sieve_proto::common::v1 as common;

pub fn date_pb(d: NaiveDate) -> common::Date {
    common::Date {
        year: d.year(),
        // Months and days are at most 31: they fit.
        month: i32::try_from(d.month()).unwrap_or(0),
        day: i32::try_from(d.day()).unwrap_or(0),
    }
}

/// `None` when not given or no calendar date (month 13, 30 February).
pub fn date_from_pb(d: Option<&common::Date>) -> Option<NaiveDate> {
    let d = d?;
    NaiveDate::from_ymd_opt(
        d.year,
        u32::try_from(d.month).ok()?,
        u32::try_from(d.day).ok()?,
    )
}

/// `2025-03-01`: how dates are stored and written in files.
pub fn iso(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// A date written exactly `YYYY-MM-DD` (ten characters, zero-padded) that exists.
pub fn parse_iso(s: &str) -> Option<NaiveDate> {
    let shaped = s.len() == 10
        && s.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    shaped
        .then(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        .flatten()
}

/// `date` plus `months` (RULES.md "Counting time and amounts": a period in months ends on the
/// same day of the last month, or that month's last day when it has none): 2024-11-30 + 3 →
/// 2025-02-28; 2024-01-31 + 1 → 2024-02-29. Saturates at the last representable date.
pub fn add_months(date: NaiveDate, months: u32) -> NaiveDate {
    date.checked_add_months(Months::new(months))
        .unwrap_or(NaiveDate::MAX)
}

/// `date` minus `months`, by the same rule as [`add_months`]: 2025-05-31 − 3 → 2025-02-28.
/// Saturates at the first representable date.
pub fn sub_months(date: NaiveDate, months: u32) -> NaiveDate {
    date.checked_sub_months(Months::new(months))
        .unwrap_or(NaiveDate::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    #[test]
    fn dates_round_trip_through_the_contract_and_storage() {
        let d = day(2024, 2, 29);
        assert_eq!(
            date_pb(d),
            common::Date {
                year: 2024,
                month: 2,
                day: 29
            }
        );
        assert_eq!(date_from_pb(Some(&date_pb(d))), Some(d));
        assert_eq!(date_from_pb(None), None);
        let bad = common::Date {
            year: 2025,
            month: 2,
            day: 29,
        };
        assert_eq!(date_from_pb(Some(&bad)), None);
        assert_eq!(iso(d), "2024-02-29");
        assert_eq!(parse_iso("2024-02-29"), Some(d));
        for bad in [
            "2024-2-29",
            "2025-02-29",
            "2024/02/29",
            "+024-02-29",
            "",
            "2024-02-29 ",
        ] {
            assert_eq!(parse_iso(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn months_end_on_the_same_day_or_the_month_end() {
        assert_eq!(add_months(day(2024, 11, 30), 3), day(2025, 2, 28));
        assert_eq!(add_months(day(2024, 1, 31), 1), day(2024, 2, 29));
        assert_eq!(add_months(day(2024, 1, 10), 3), day(2024, 4, 10));
        assert_eq!(add_months(day(2024, 1, 10), 0), day(2024, 1, 10));
        assert_eq!(add_months(day(2024, 12, 15), 14), day(2026, 2, 15));
        assert_eq!(sub_months(day(2025, 5, 31), 3), day(2025, 2, 28));
        assert_eq!(sub_months(day(2024, 3, 31), 1), day(2024, 2, 29));
        assert_eq!(sub_months(day(2025, 1, 15), 13), day(2023, 12, 15));
        assert_eq!(add_months(NaiveDate::MAX, 1), NaiveDate::MAX);
        assert_eq!(sub_months(NaiveDate::MIN, 1), NaiveDate::MIN);
    }
}
