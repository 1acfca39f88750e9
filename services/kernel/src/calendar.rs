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

    /// Whether a year from `from` to `to` has no calendar.
    pub fn missing_between(&self, from: NaiveDate, to: NaiveDate) -> bool {
        (from.year()..=to.year()).any(|y| !self.years.contains_key(&y))
    }

    pub fn year(&self, year: i32) -> Option<&YearCalendar> {
        self.years.get(&year)
    }

    /// A stored period counted again under this calendar (one the court loaded late), from
    /// what a deadline keeps: its start day, its length and its last day. Days and months
    /// are counted anew, so the end may move. A period in hours keeps its end (rest days do
    /// not move it, CPL 85 para 2); only whether a year lacks a calendar is counted again.
    pub fn recount(&self, period: Period, start: NaiveDate, end: NaiveDate) -> Recount {
        let counted = match period {
            Period::Days(n) => self.days("", start, n),
            Period::Months(n) => self.months("", start, n),
            Period::Hours(_) => {
                return Recount {
                    end,
                    ends_at: None,
                    moved_off: Vec::new(),
                    holiday_calendar_missing: self.missing_between(start, end),
                };
            }
        };
        Recount {
            end: counted.end,
            ends_at: Some(counted.ends_at),
            moved_off: counted.moved_off,
            holiday_calendar_missing: counted.holiday_calendar_missing,
        }
    }
}

/// A period counted again: see [`Calendar::recount`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recount {
    pub end: NaiveDate,
    /// The instant it ends; `None` for a period in hours, whose end stands.
    pub ends_at: Option<DateTime<Utc>>,
    pub moved_off: Vec<(NaiveDate, DayKind)>,
    pub holiday_calendar_missing: bool,
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

impl Period {
    /// `15d`, `3m` or `24h`, as a deadline stores it.
    pub fn text(self) -> String {
        match self {
            Period::Days(n) => format!("{n}d"),
            Period::Months(n) => format!("{n}m"),
            Period::Hours(n) => format!("{n}h"),
        }
    }

    pub fn parse(text: &str) -> Option<Period> {
        let split = text.len().checked_sub(1)?;
        let n: u32 = text.get(..split)?.parse().ok()?;
        match text.get(split..)? {
            "d" => Some(Period::Days(n)),
            "m" => Some(Period::Months(n)),
            "h" => Some(Period::Hours(n)),
            _ => None,
        }
    }
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

pub mod api;
pub mod stored;

#[cfg(test)]
mod tests;
