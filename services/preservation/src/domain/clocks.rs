//! Preservation's clocks, counted by the court's calendar (CPL 85; RULES.md, "Counting time
//! and amounts"): the court rules within 48 hours of accepting (CPL 104 para 2); the applicant
//! sues within 30 days of the measure or the freezes are lifted (CPL 104 para 3), reminded 7
//! days before (local); a freeze is renewed at least 7 days before it expires (Interp. 485;
//! provisions art. 18).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sieve_kernel::calendar::{Calendar, Deadline};

/// The rules the clocks carry on their deadlines.
pub mod rule {
    /// CPL 104 para 2: rule within 48 hours of accepting the application.
    pub const RULING_48_HOURS: &str = "cpl_104.ruling_48_hours";
    /// CPL 104 para 3: sue within 30 days after the measure, or it is lifted.
    pub const SUIT_30_DAYS: &str = "cpl_104.suit_30_days";
    /// Provisions art. 18: a renewal asked fewer than 7 days before expiry is late.
    pub const RENEWAL_7_DAYS: &str = "provisions_18.renewal_7_days";
    /// Local: the bank is reminded on the 23rd day of the 30, 7 days before their nominal end.
    pub const SUIT_REMINDER: &str = "local.suit_reminder_7_days_before";
    /// Interp. 485: a freeze of deposits or payment-account funds lasts at most 1 year.
    pub const FREEZE_1_YEAR: &str = "interp_485.freeze_1_year";
}

/// Days before the suit period ends that the bank is reminded (local).
pub const SUIT_REMINDER_DAYS: i64 = 7;
/// Days before a freeze expires by which its renewal must be asked (provisions art. 18).
pub const RENEWAL_DAYS_BEFORE: i64 = 7;

/// The 48 hours for the ruling, from the next full hour after acceptance (CPL 85 para 2).
pub fn ruling_due(calendar: &Calendar, accepted_at: DateTime<Utc>) -> Deadline {
    calendar.hours(rule::RULING_48_HOURS, accepted_at, 48)
}

/// The 30 days for the suit, from the day the measure was taken (not itself counted).
pub fn suit_due(calendar: &Calendar, measure_on: NaiveDate) -> Deadline {
    calendar.days(rule::SUIT_30_DAYS, measure_on, 30)
}

/// When the bank is reminded that the suit period runs out: 7 days before its nominal end,
/// counted like a period, so a reminder due on a rest day comes on the next working day, and
/// a calendar loaded later moves it as it moves the suit period.
pub fn suit_reminder(calendar: &Calendar, measure_on: NaiveDate) -> Deadline {
    calendar.days(
        rule::SUIT_REMINDER,
        measure_on,
        (30 - SUIT_REMINDER_DAYS) as u32,
    )
}

/// How long a freeze holds: 1 year from the day it took effect (Interp. 485), counted as
/// CPL 85 counts months, so it ends on the same-numbered day a year on (moved off a rest day).
pub fn freeze_expiry(calendar: &Calendar, frozen_on: NaiveDate) -> Deadline {
    calendar.months(rule::FREEZE_1_YEAR, frozen_on, 12)
}

/// A renewal asked too late: the last day it could have been asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenewalLate {
    pub last_day: NaiveDate,
}

/// Whether a freeze expiring on `expires_on` may still be renewed `today`: up to and
/// including 7 days before ("at least 7 days before expiry").
pub fn renewal(expires_on: NaiveDate, today: NaiveDate) -> Result<(), RenewalLate> {
    let last_day = expires_on - Duration::days(RENEWAL_DAYS_BEFORE);
    if today <= last_day {
        Ok(())
    } else {
        Err(RenewalLate { last_day })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// An instant in Beijing time.
    fn beijing(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        chrono::FixedOffset::east_opt(8 * 3600)
            .unwrap()
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn the_ruling_is_due_48_hours_after_acceptance_counted_from_the_full_hour() {
        let c = Calendar::built_in();
        // Accepted at 10:00 sharp: due 10:00 two days on; 47 h 59 min later it is running.
        let accepted = beijing(2026, 3, 2, 10, 0);
        let due = ruling_due(&c, accepted);
        assert_eq!(due.ends_at, beijing(2026, 3, 4, 10, 0));
        assert!(accepted + Duration::minutes(47 * 60 + 59) < due.ends_at);
        assert_eq!(accepted + Duration::hours(48), due.ends_at);
        assert_eq!(due.rule, rule::RULING_48_HOURS);
        // Accepted at 10:20: the hour begun is not counted, so from 11:00.
        assert_eq!(
            ruling_due(&c, beijing(2026, 3, 2, 10, 20)).ends_at,
            beijing(2026, 3, 4, 11, 0)
        );
    }

    #[test]
    fn the_suit_period_runs_30_days_by_the_calendar() {
        let c = Calendar::built_in();
        // Measure 2026-09-07: day 30 is 10-07, National Day; due Thursday 10-08, 24:00.
        let due = suit_due(&c, day(2026, 9, 7));
        assert_eq!(
            (due.nominal_end, due.end),
            (day(2026, 10, 7), day(2026, 10, 8))
        );
        assert_eq!(due.ends_at, beijing(2026, 10, 9, 0, 0));
        // Reminded on day 23, Wednesday 09-30, to its end.
        let reminder = suit_reminder(&c, day(2026, 9, 7));
        assert_eq!(reminder.end, day(2026, 9, 30));
        assert_eq!(reminder.ends_at, beijing(2026, 10, 1, 0, 0));
        // Day 30 on the 调休 working Saturday 2026-10-10: not moved.
        let saturday = suit_due(&c, day(2026, 9, 10));
        assert_eq!(saturday.end, day(2026, 10, 10));
        assert!(saturday.moved_off.is_empty());
        // Into 2027, which has no calendar yet: counted on weekends alone, and flagged.
        let late = suit_due(&c, day(2026, 12, 15));
        assert_eq!(late.nominal_end, day(2027, 1, 14));
        assert!(late.holiday_calendar_missing);
    }

    #[test]
    fn a_freeze_holds_one_year_to_the_same_numbered_day() {
        let c = Calendar::built_in();
        // Frozen 2025-03-03: a year on is 2026-03-03, a Tuesday.
        let e = freeze_expiry(&c, day(2025, 3, 3));
        assert_eq!(e.end, day(2026, 3, 3));
        assert_eq!(e.rule, rule::FREEZE_1_YEAR);
    }

    #[test]
    fn a_renewal_is_taken_7_days_before_expiry_and_refused_6_days_before() {
        let expires = day(2027, 3, 2);
        assert_eq!(renewal(expires, day(2027, 2, 23)), Ok(()));
        assert_eq!(
            renewal(expires, day(2027, 2, 24)),
            Err(RenewalLate {
                last_day: day(2027, 2, 23)
            })
        );
    }
}
