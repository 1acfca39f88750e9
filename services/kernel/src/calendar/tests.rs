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
fn periods_ending_in_the_national_day_week_and_the_spring_festival_end_after_them() {
    let c = Calendar::built_in();
    // 2026-09-07 + 30 days = 10-07, the last day of National Day: ends Thursday 10-08.
    let d = c.days("test", day(2026, 9, 7), 30);
    assert_eq!((d.nominal_end, d.end), (day(2026, 10, 7), day(2026, 10, 8)));
    assert_eq!(
        d.moved_off,
        [(day(2026, 10, 7), DayKind::Holiday("National Day".into()))]
    );
    // 2026-02-06 + 15 days = 02-21, inside the Spring Festival (02-15..02-23): ends Tuesday
    // 02-24, after the three rest days left of it.
    let d = c.days("test", day(2026, 2, 6), 15);
    assert_eq!((d.nominal_end, d.end), (day(2026, 2, 21), day(2026, 2, 24)));
    assert_eq!(d.moved_off.len(), 3);
    assert!(!d.holiday_calendar_missing);
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

#[test]
fn a_refused_file_names_its_line_and_reason_in_the_violation() {
    let e = api::check(
        "year = 2027\nsource = \"x\"\nrest_days = []\nworking_days = [\"2027-01-11\"]\n",
    )
    .unwrap_err();
    assert_eq!(e.reason, crate::error::reason::CALENDAR_INVALID);
    assert_eq!(e.violations[0].field, "file");
    assert!(
        e.violations[0]
            .description
            .starts_with("line 4: 2027-01-11"),
        "{:?}",
        e.violations
    );
    let big = "#".repeat(api::MAX_FILE_BYTES + 1);
    assert!(
        api::check(&big).unwrap_err().violations[0]
            .description
            .contains("bytes")
    );
}

#[test]
fn a_stored_period_is_counted_again_under_a_later_calendar() {
    let without = Calendar::built_in();
    let start = day(2026, 12, 17);
    let first = without.days("r", start, 15);
    assert_eq!(first.end, day(2027, 1, 1));
    let mut with = Calendar::built_in();
    with.load(YearCalendar {
        year: 2027,
        source: "test".into(),
        rest_days: [(day(2027, 1, 1), "New Year's Day".to_string())].into(),
        working_days: Default::default(),
    });
    let again = with.recount(Period::Days(15), start, first.end);
    assert_eq!(
        again.end,
        day(2027, 1, 4),
        "Friday's holiday, then the weekend"
    );
    assert_eq!(again.ends_at, Some(end_of_day(day(2027, 1, 4))));
    assert!(!again.holiday_calendar_missing);
    // Hours keep their end; only the flag is counted again.
    let hours = with.recount(Period::Hours(24), day(2027, 1, 1), day(2027, 1, 2));
    assert_eq!((hours.end, hours.ends_at), (day(2027, 1, 2), None));
    assert!(!hours.holiday_calendar_missing);
    for p in [Period::Days(15), Period::Months(3), Period::Hours(24)] {
        assert_eq!(Period::parse(&p.text()), Some(p));
    }
    assert_eq!(Period::parse("15"), None);
    assert_eq!(Period::parse("d"), None);
    assert_eq!(Period::parse(""), None);
}
