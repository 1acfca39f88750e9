//! Periods as the Civil Procedure Law counts them (CPL 85; RULES.md "Counting time and
//! amounts"), over the State Council's yearly calendars of rest days and 调休 working days.
//!
//! - Days: the first day is not counted; the period ends at 24:00 (Asia/Shanghai) of its last
//!   day; a last day that is a rest day moves to the next working day; rest days inside the
//!   period are counted (CPL 85 paras 2–3).
//! - Months: the same-numbered day of the last month, or that month's last day when it has
//!   none; the last day moves off a rest day as above.
//! - Hours: from the next full hour (CPL 85 para 2: 开始的时不计算在期间内).
//!
//! A year with no calendar counts weekends only, and every period touching it says so
//! ([`Deadline::holiday_calendar_missing`]): a holiday is never guessed.
//!
//! Pure: no I/O and no clock; the calendars are data (`calendars/` at the repository root,
//! built in) or loaded by the court.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc, Weekday};

use crate::clock::shanghai;

/// The calendars this build knows, one file a year.
pub const BUILT_IN: &[&str] = &[
    include_str!("../../../calendars/cn-2025.toml"),
    include_str!("../../../calendars/cn-2026.toml"),
];

/// One year's rest days and 调休 working days, from the State Council's notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearCalendar {
    pub year: i32,
    /// The notice it comes from.
    pub source: String,
    /// Every day of each holiday period, weekend days inside them included, with its name.
    pub rest_days: BTreeMap<NaiveDate, String>,
    /// Weekend days made working days (调休).
    pub working_days: BTreeSet<NaiveDate>,
}

/// Why a calendar file was refused: the line (1-based, 0 when the file as a whole) and the
/// reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct CalendarError {
    pub line: usize,
    pub reason: String,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    year: i32,
    source: String,
    rest_days: Vec<RestDay>,
    working_days: Vec<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RestDay {
    date: String,
    holiday: String,
}

impl YearCalendar {
    /// Reads a calendar file (the TOML form of `calendars/cn-<year>.toml`). Every date must
    /// be of the file's year and named once; a rest day must not also be a working day, and a
    /// working day must fall on a weekend (调休 only turns weekend days into working days).
    pub fn parse(text: &str) -> Result<Self, CalendarError> {
        let file: File = toml::from_str(text).map_err(|e| CalendarError {
            line: e.span().map_or(0, |s| {
                text[..s.start.min(text.len())].matches('\n').count() + 1
            }),
            reason: e.message().to_string(),
        })?;
        let line_of = |needle: &str| {
            text.lines()
                .position(|l| l.contains(needle))
                .map_or(0, |i| i + 1)
        };
        let date = |raw: &str| -> Result<NaiveDate, CalendarError> {
            let d = NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| CalendarError {
                line: line_of(raw),
                reason: format!("`{raw}` is not a date (YYYY-MM-DD)"),
            })?;
            if d.year() != file.year {
                return Err(CalendarError {
                    line: line_of(raw),
                    reason: format!("{d} is not in {}", file.year),
                });
            }
            Ok(d)
        };
        let mut rest_days = BTreeMap::new();
        for r in &file.rest_days {
            let d = date(&r.date)?;
            if r.holiday.trim().is_empty() {
                return Err(CalendarError {
                    line: line_of(&r.date),
                    reason: format!("{d} names no holiday"),
                });
            }
            if rest_days.insert(d, r.holiday.trim().to_string()).is_some() {
                return Err(CalendarError {
                    line: line_of(&r.date),
                    reason: format!("{d} is listed twice"),
                });
            }
        }
        let mut working_days = BTreeSet::new();
        for raw in &file.working_days {
            let d = date(raw)?;
            if !is_weekend(d) {
                return Err(CalendarError {
                    line: line_of(raw),
                    reason: format!(
                        "{d} is a {}, not a weekend day: 调休 makes weekend days working days",
                        d.weekday()
                    ),
                });
            }
            if rest_days.contains_key(&d) || !working_days.insert(d) {
                return Err(CalendarError {
                    line: line_of(raw),
                    reason: format!("{d} is listed twice"),
                });
            }
        }
        Ok(Self {
            year: file.year,
            source: file.source,
            rest_days,
            working_days,
        })
    }
}

fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

/// What a day is for counting periods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DayKind {
    Working,
    /// A weekend day made a working day (调休).
    SwappedWorking,
    /// A statutory holiday (法定休假日), by name.
    Holiday(String),
    Weekend,
}

/// The yearly calendars, and how a 调休 working day counts.
#[derive(Debug, Clone)]
pub struct Calendar {
    years: BTreeMap<i32, YearCalendar>,
    /// RULES.md: a weekend day made a working day by 调休 is a working day, so a period ending
    /// on it is not moved. The court may decide otherwise; this is that one switch.
    pub swapped_days_are_working: bool,
}

impl Default for Calendar {
    fn default() -> Self {
        Self::built_in()
    }
}

impl Calendar {
    /// No calendar at all: weekends only, every period saying so.
    pub fn empty() -> Self {
        Self {
            years: BTreeMap::new(),
            swapped_days_are_working: true,
        }
    }

    /// The calendars in `calendars/`.
    pub fn built_in() -> Self {
        let mut c = Self::empty();
        for text in BUILT_IN {
            // The built-in files are tested below; one that did not parse is left out and
            // its year counts weekends only, saying so.
            if let Ok(year) = YearCalendar::parse(text) {
                c.load(year);
            }
        }
        c
    }

    /// Adds (or replaces) a year's calendar; returns the one it replaced.
    pub fn load(&mut self, year: YearCalendar) -> Option<YearCalendar> {
        self.years.insert(year.year, year)
    }

    pub fn years(&self) -> impl Iterator<Item = &YearCalendar> {
        self.years.values()
    }

    pub fn has_year(&self, year: i32) -> bool {
        self.years.contains_key(&year)
    }

    pub fn day_kind(&self, d: NaiveDate) -> DayKind {
        let year = self.years.get(&d.year());
        if let Some(name) = year.and_then(|y| y.rest_days.get(&d)) {
            return DayKind::Holiday(name.clone());
        }
        if year.is_some_and(|y| y.working_days.contains(&d)) {
            return DayKind::SwappedWorking;
        }
        if is_weekend(d) {
            DayKind::Weekend
        } else {
            DayKind::Working
        }
    }

    fn is_rest_day(&self, d: NaiveDate) -> bool {
        match self.day_kind(d) {
            DayKind::Working => false,
            DayKind::SwappedWorking => !self.swapped_days_are_working,
            DayKind::Holiday(_) | DayKind::Weekend => true,
        }
    }

    /// A period of `days` days from the event on `start` (CPL 85): the first day is not
    /// counted, rest days inside count, a last day that is a rest day moves to the next
    /// working day.
    pub fn days(&self, rule: &'static str, start: NaiveDate, days: u32) -> Deadline {
        let nominal = start
            .checked_add_signed(Duration::days(i64::from(days)))
            .unwrap_or(NaiveDate::MAX);
        self.ending(rule, Period::Days(days), start, nominal)
    }

    /// A period of `months` months from `start`: the same-numbered day of the last month, or
    /// that month's last day; moved off a rest day as a period in days is.
    pub fn months(&self, rule: &'static str, start: NaiveDate, months: u32) -> Deadline {
        let nominal = crate::rules::dates::add_months(start, months);
        self.ending(rule, Period::Months(months), start, nominal)
    }

    /// A period of `hours` hours from `start`, counted from the next full hour (CPL 85 para
    /// 2). A period in hours is not moved off rest days.
    pub fn hours(&self, rule: &'static str, start: DateTime<Utc>, hours: u32) -> Deadline {
        let local = start.with_timezone(&shanghai());
        let on_the_hour = local.minute() == 0 && local.second() == 0 && local.nanosecond() == 0;
        let from = if on_the_hour {
            local
        } else {
            let truncated = local
                .with_minute(0)
                .and_then(|t| t.with_second(0))
                .and_then(|t| t.with_nanosecond(0))
                .unwrap_or(local);
            truncated + Duration::hours(1)
        };
        let ends_at = (from + Duration::hours(i64::from(hours))).with_timezone(&Utc);
        let end = ends_at.with_timezone(&shanghai()).date_naive();
        Deadline {
            rule,
            period: Period::Hours(hours),
            start: local.date_naive(),
            nominal_end: end,
            end,
            ends_at,
            moved_off: Vec::new(),
            holiday_calendar_missing: self.missing_between(local.date_naive(), end),
        }
    }

    fn ending(
        &self,
        rule: &'static str,
        period: Period,
        start: NaiveDate,
        nominal: NaiveDate,
    ) -> Deadline {
        let mut end = nominal;
        let mut moved_off = Vec::new();
        // CPL 85 para 3: a period whose last day is a rest day ends on the first day after.
        while self.is_rest_day(end) && end < NaiveDate::MAX {
            moved_off.push((end, self.day_kind(end)));
            end = end.succ_opt().unwrap_or(NaiveDate::MAX);
        }
        Deadline {
            rule,
            period,
            start,
            nominal_end: nominal,
            end,
            ends_at: end_of_day(end),
            moved_off,
            holiday_calendar_missing: self.missing_between(start, end),
        }
    }

    fn missing_between(&self, from: NaiveDate, to: NaiveDate) -> bool {
        (from.year()..=to.year()).any(|y| !self.years.contains_key(&y))
    }
}

/// 24:00 Asia/Shanghai of `day`, as an instant: a document posted before then is in time.
pub fn end_of_day(day: NaiveDate) -> DateTime<Utc> {
    let next = day.succ_opt().unwrap_or(day);
    shanghai()
        .from_local_datetime(&next.and_time(chrono::NaiveTime::MIN))
        .single()
        .map_or(DateTime::<Utc>::MAX_UTC, |t| t.with_timezone(&Utc))
}

/// How long a period is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Days(u32),
    Months(u32),
    Hours(u32),
}

/// When a period ends, and how that was counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadline {
    /// The rule that set the period, e.g. `"cpl_227.objection_15_days"`.
    pub rule: &'static str,
    pub period: Period,
    /// The day of the event that started the clock (not itself counted).
    pub start: NaiveDate,
    /// The last day before any move off rest days.
    pub nominal_end: NaiveDate,
    /// The last day of the period.
    pub end: NaiveDate,
    /// The instant the period ends: 24:00 of `end` in Asia/Shanghai (hours: the exact hour).
    pub ends_at: DateTime<Utc>,
    /// The rest days the last day moved off, in order, and what each was.
    pub moved_off: Vec<(NaiveDate, DayKind)>,
    /// A year the period touches has no calendar: only weekends were taken as rest days.
    pub holiday_calendar_missing: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn the_built_in_calendars_parse() {
        for text in BUILT_IN {
            YearCalendar::parse(text).unwrap();
        }
        let c = Calendar::built_in();
        assert!(c.has_year(2025) && c.has_year(2026));
        assert_eq!(
            c.day_kind(day(2025, 10, 1)),
            DayKind::Holiday("National Day".into())
        );
        // 2026-01-04 is a Sunday made a working day.
        assert_eq!(c.day_kind(day(2026, 1, 4)), DayKind::SwappedWorking);
        assert_eq!(c.day_kind(day(2026, 1, 10)), DayKind::Weekend);
        assert_eq!(c.day_kind(day(2026, 1, 5)), DayKind::Working);
    }

    #[test]
    fn days_do_not_count_the_first_day_and_end_at_midnight_in_shanghai() {
        let c = Calendar::built_in();
        // Served Monday 2026-03-02: 15 days end Tuesday 2026-03-17, 24:00 Beijing time.
        let d = c.days("test", day(2026, 3, 2), 15);
        assert_eq!((d.nominal_end, d.end), (day(2026, 3, 17), day(2026, 3, 17)));
        assert_eq!(
            d.ends_at,
            Utc.with_ymd_and_hms(2026, 3, 17, 16, 0, 0).unwrap()
        );
        assert!(d.moved_off.is_empty());
        assert!(!d.holiday_calendar_missing);
    }

    #[test]
    fn a_last_day_on_a_rest_day_moves_to_the_next_working_day_and_says_why() {
        let c = Calendar::built_in();
        // 2026-09-18 + 15 days = 2026-10-03, inside National Day (10-01..10-07): ends 10-08.
        let d = c.days("test", day(2026, 9, 18), 15);
        assert_eq!(d.nominal_end, day(2026, 10, 3));
        assert_eq!(d.end, day(2026, 10, 8));
        assert_eq!(d.moved_off.len(), 5);
        assert_eq!(
            d.moved_off[0],
            (day(2026, 10, 3), DayKind::Holiday("National Day".into()))
        );
        // A plain weekend: Saturday 2026-03-14 moves to Monday 03-16.
        let d = c.days("test", day(2026, 3, 4), 10);
        assert_eq!((d.nominal_end, d.end), (day(2026, 3, 14), day(2026, 3, 16)));
        assert_eq!(d.moved_off[1], (day(2026, 3, 15), DayKind::Weekend));
        // The day before and the day after: a Friday end is not moved.
        assert_eq!(c.days("test", day(2026, 3, 3), 10).end, day(2026, 3, 13));
    }

    #[test]
    fn rest_days_inside_a_period_count() {
        let c = Calendar::built_in();
        // 2026-09-30 + 10 days = 10-10, a Saturday made a working day (调休): not moved,
        // though seven rest days lie inside.
        let d = c.days("test", day(2026, 9, 30), 10);
        assert_eq!(d.end, day(2026, 10, 10));
        assert!(d.moved_off.is_empty());
        // The court's one switch: 调休 days as rest days.
        let mut strict = Calendar::built_in();
        strict.swapped_days_are_working = false;
        assert_eq!(
            strict.days("test", day(2026, 9, 30), 10).end,
            day(2026, 10, 12)
        );
    }

    #[test]
    fn months_end_on_the_same_day_or_the_months_last_day() {
        let c = Calendar::built_in();
        // 2025-11-30 + 3 months = 2026-02-28, a Saturday made a working day: not moved.
        let d = c.months("test", day(2025, 11, 30), 3);
        assert_eq!((d.nominal_end, d.end), (day(2026, 2, 28), day(2026, 2, 28)));
        // 2026-01-31 + 1 month = 2026-02-28 (no 31st), as above.
        assert_eq!(
            c.months("test", day(2026, 1, 31), 1).nominal_end,
            day(2026, 2, 28)
        );
        // 2026-03-15 + 3 months = 2026-06-15, a Monday.
        assert_eq!(c.months("test", day(2026, 3, 15), 3).end, day(2026, 6, 15));
        // 2026-01-21 + 1 month = 2026-02-21, Spring Festival: moves to Tuesday 02-24.
        assert_eq!(c.months("test", day(2026, 1, 21), 1).end, day(2026, 2, 24));
    }

    #[test]
    fn hours_start_from_the_next_full_hour() {
        let c = Calendar::built_in();
        // 10:23 Beijing time (02:23 UTC): 24 hours count from 11:00, ending 11:00 next day.
        let at = Utc.with_ymd_and_hms(2026, 3, 2, 2, 23, 0).unwrap();
        let d = c.hours("test", at, 24);
        assert_eq!(
            d.ends_at,
            Utc.with_ymd_and_hms(2026, 3, 3, 3, 0, 0).unwrap()
        );
        // Exactly on the hour: that hour is the start.
        let at = Utc.with_ymd_and_hms(2026, 3, 2, 2, 0, 0).unwrap();
        assert_eq!(
            c.hours("test", at, 1).ends_at,
            Utc.with_ymd_and_hms(2026, 3, 2, 3, 0, 0).unwrap()
        );
    }

    #[test]
    fn a_year_without_a_calendar_counts_weekends_only_and_says_so() {
        let c = Calendar::built_in();
        // 2026-12-20 + 15 days = 2027-01-04, a Monday; 2027-01-01 is not known as a holiday.
        let d = c.days("test", day(2026, 12, 20), 15);
        assert_eq!(d.end, day(2027, 1, 4));
        assert!(d.holiday_calendar_missing);
        // 2027-01-02 (Saturday) still moves, to Monday.
        let d = c.days("test", day(2026, 12, 18), 15);
        assert_eq!((d.nominal_end, d.end), (day(2027, 1, 2), day(2027, 1, 4)));
        assert!(d.holiday_calendar_missing);
    }

    #[test]
    fn a_bad_calendar_file_is_refused_with_its_line_and_reason() {
        let base = "year = 2027\nsource = \"x\"\nrest_days = [\n  { date = \"2027-01-01\", holiday = \"New Year's Day\" },\n]\nworking_days = [\n  \"2027-01-09\",\n]\n";
        YearCalendar::parse(base).unwrap();
        let wrong_year = base.replace("2027-01-01", "2026-01-01");
        let e = YearCalendar::parse(&wrong_year).unwrap_err();
        assert_eq!(e.line, 4, "{e}");
        assert!(e.reason.contains("not in 2027"), "{e}");
        let weekday = base.replace("2027-01-09", "2027-01-11");
        let e = YearCalendar::parse(&weekday).unwrap_err();
        assert_eq!(e.line, 7, "{e}");
        assert!(e.reason.contains("not a weekend day"), "{e}");
        let not_a_date = base.replace("2027-01-01", "2027-13-01");
        assert!(
            YearCalendar::parse(&not_a_date)
                .unwrap_err()
                .reason
                .contains("not a date")
        );
        let e = YearCalendar::parse("year = \"twenty\"\n").unwrap_err();
        assert_eq!(e.line, 1, "{e}");
    }
}
