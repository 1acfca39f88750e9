//! `sieve clock show` and `sieve clock advance 31d`: the running suite's clock, read and (when
//! `sieve up --manual-clock` runs it) moved, through the court's door. Also the text forms both
//! take: durations (`1d12h`) and the manual clock's start (RFC 3339).

use std::fmt::Write as _;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use sieve_proto::gateway::v1::{
    CourtApiServiceAdvanceClockRequest, CourtApiServiceGetClockRequest,
};

use sieve_kernel::Settings;

use crate::args::ClockCommand;
use crate::client::{Credentials, Gateway};
use crate::error::CliError;
use crate::format;

/// `sieve clock show|advance`: asks the gateway with a court token (the given one, else
/// minted) and prints the clock's time.
pub async fn run(command: ClockCommand, settings: &Settings) -> Result<(), CliError> {
    let (args, by) = match command {
        ClockCommand::Show(a) => (a.gateway, None),
        ClockCommand::Advance(a) => (a.gateway, Some(a.by)),
    };
    let gateway = Gateway::connect(
        &Gateway::default_url(args.gateway.as_deref(), settings),
        settings,
    )?;
    let token = Credentials::load(settings, args.token)?.court_token()?;
    let reading = match by {
        None => show(&gateway, &token).await?,
        Some(by) => advance(&gateway, &token, by).await?,
    };
    print!("{}", render(&reading, by));
    Ok(())
}

/// The suite's clock as the gateway answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    pub now: prost_types::Timestamp,
    pub manual: bool,
}

pub async fn show(gateway: &Gateway, court_token: &str) -> Result<Reading, CliError> {
    let answer = gateway
        .court(court_token)?
        .get_clock(CourtApiServiceGetClockRequest {})
        .await
        .map_err(|s| CliError::grpc("CourtApiService.GetClock", s))?
        .into_inner();
    reading(answer.now, answer.manual, "GetClock")
}

pub async fn advance(
    gateway: &Gateway,
    court_token: &str,
    by: Duration,
) -> Result<Reading, CliError> {
    let duration = prost_types::Duration::try_from(by)
        .map_err(|_| CliError::Usage(format!("{} is too long", format_duration(by))))?;
    let answer = gateway
        .court(court_token)?
        .advance_clock(CourtApiServiceAdvanceClockRequest {
            duration: Some(duration),
        })
        .await
        .map_err(|s| CliError::grpc("CourtApiService.AdvanceClock", s))?
        .into_inner();
    reading(answer.now, answer.manual, "AdvanceClock")
}

fn reading(
    now: Option<prost_types::Timestamp>,
    manual: bool,
    call: &str,
) -> Result<Reading, CliError> {
    let now = now.ok_or_else(|| CliError::Protocol(format!("{call} answered without a time")))?;
    Ok(Reading { now, manual })
}

/// `2026-10-08 09:00:00 Asia/Shanghai (manual clock)`, and by how much it moved.
pub fn render(reading: &Reading, advanced_by: Option<Duration>) -> String {
    let mut out = String::new();
    let kind = if reading.manual {
        "manual clock"
    } else {
        "system clock"
    };
    let _ = write!(
        out,
        "{} Asia/Shanghai ({kind}",
        format::shanghai_time(Some(&reading.now))
    );
    if let Some(by) = advanced_by {
        let _ = write!(out, ", advanced by {}", format_duration(by));
    }
    let _ = writeln!(out, ")");
    out
}

/// What `sieve up --manual-clock` says about its clock, once it listens.
pub fn render_manual_start(start: DateTime<Utc>) -> String {
    format!(
        "clock: manual, at {} Asia/Shanghai; it moves only by `sieve clock advance 31d` (court token)\n",
        start
            .with_timezone(&sieve_kernel::clock::shanghai())
            .format("%Y-%m-%d %H:%M:%S")
    )
}

const UNITS: [(char, u64); 4] = [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)];

/// `30d`, `12h`, `90m`, `45s` or several largest first (`1d12h`, `2h30m`): days, hours,
/// minutes, seconds. More than zero.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let explain = |why: &str| {
        format!(
            "`{text}`: {why}; a duration is a number and a unit, d (days), h (hours), m (minutes) \
             or s (seconds), several largest first: 31d, 12h, 90m, 45s, 1d12h"
        )
    };
    let text = text.trim();
    if text.is_empty() {
        return Err(explain("empty"));
    }
    let mut seconds: u64 = 0;
    // Units must come largest first, each once: `next_unit` is the first one still allowed.
    let mut next_unit = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(explain("expected a number"));
        }
        let (number, after) = rest.split_at(digits);
        let mut chars = after.chars();
        let Some(unit) = chars.next() else {
            return Err(explain(&format!("{number} has no unit")));
        };
        let Some(at) = UNITS.iter().position(|(u, _)| *u == unit) else {
            return Err(explain(&format!("unknown unit `{unit}`")));
        };
        if at < next_unit {
            return Err(explain("units go largest first, each once"));
        }
        next_unit = at + 1;
        let n: u64 = number.parse().map_err(|_| explain("number too large"))?;
        seconds = n
            .checked_mul(UNITS[at].1)
            .and_then(|s| seconds.checked_add(s))
            .ok_or_else(|| explain("too long"))?;
        rest = chars.as_str();
    }
    if seconds == 0 {
        return Err(explain("must be more than zero"));
    }
    Ok(Duration::from_secs(seconds))
}

/// A duration the way [`parse_duration`] reads it: `1d12h`, `45s`.
pub fn format_duration(d: Duration) -> String {
    let mut left = d.as_secs();
    let mut out = String::new();
    for (unit, size) in UNITS {
        if left >= size {
            let _ = write!(out, "{}{unit}", left / size);
            left %= size;
        }
    }
    if out.is_empty() {
        out.push_str("0s");
    }
    out
}

/// The manual clock's start: an RFC 3339 time with its offset, e.g. `2026-09-07T09:00:00+08:00`.
pub fn parse_start(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            format!("`{text}`: {e}; give a time with its offset, e.g. 2026-09-07T09:00:00+08:00")
        })
}

/// Where a manual clock starts when no start is given: now, to the second.
pub fn default_start() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(text: &str) -> u64 {
        parse_duration(text)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .as_secs()
    }

    #[test]
    fn durations_are_days_hours_minutes_seconds_largest_first() {
        assert_eq!(secs("31d"), 31 * 86_400);
        assert_eq!(secs("30d"), 30 * 86_400);
        assert_eq!(secs("12h"), 12 * 3_600);
        assert_eq!(secs("90m"), 90 * 60);
        assert_eq!(secs("45s"), 45);
        assert_eq!(secs("1d12h"), 36 * 3_600);
        assert_eq!(secs("2h30m"), 9_000);
        assert_eq!(secs("1d2h3m4s"), 86_400 + 7_200 + 180 + 4);
        assert_eq!(secs(" 7d "), 7 * 86_400);
        assert_eq!(
            secs("0d5s"),
            5,
            "a zero part is allowed when the whole is not zero"
        );
    }

    #[test]
    fn anything_else_is_refused_saying_what_a_duration_is() {
        for bad in [
            "",
            "31",
            "d",
            "31x",
            "1.5d",
            "-1d",
            "+1d",
            "1d 12h",
            "12h1d",
            "1d1d",
            "0s",
            "0d0h",
            "1w",
            "31D",
            "P31D",
            "99999999999999999999d",
            "1e3s",
        ] {
            let e = parse_duration(bad).expect_err(bad);
            assert!(e.contains("31d, 12h, 90m, 45s, 1d12h"), "{bad}: {e}");
        }
        assert!(
            parse_duration("12h1d")
                .unwrap_err()
                .contains("largest first")
        );
        assert!(parse_duration("0s").unwrap_err().contains("more than zero"));
        assert!(
            parse_duration("31x")
                .unwrap_err()
                .contains("unknown unit `x`")
        );
        assert!(parse_duration("31").unwrap_err().contains("31 has no unit"));
        assert!(
            parse_duration("213503982334602d")
                .unwrap_err()
                .contains("too long")
        );
    }

    #[test]
    fn durations_print_as_they_are_read() {
        for text in ["31d", "1d12h", "2h30m", "45s", "1d2h3m4s"] {
            assert_eq!(format_duration(parse_duration(text).unwrap()), text);
        }
        assert_eq!(format_duration(Duration::from_secs(90 * 60)), "1h30m");
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }

    #[test]
    fn a_start_is_a_time_with_its_offset() {
        let t = parse_start("2026-09-07T09:00:00+08:00").expect("valid");
        assert_eq!(t.to_rfc3339(), "2026-09-07T01:00:00+00:00");
        assert_eq!(parse_start("2026-09-07T01:00:00Z").expect("valid"), t);
        for bad in ["2026-09-07", "2026-09-07 09:00", "tomorrow"] {
            assert!(parse_start(bad).unwrap_err().contains("+08:00"), "{bad}");
        }
        assert_eq!(default_start().timestamp_subsec_nanos(), 0);
    }

    #[test]
    fn readings_show_shanghai_time_and_the_kind_of_clock() {
        let now = prost_types::Timestamp {
            seconds: parse_start("2026-10-08T09:00:00+08:00")
                .unwrap()
                .timestamp(),
            nanos: 0,
        };
        let manual = Reading { now, manual: true };
        assert_eq!(
            render(&manual, Some(Duration::from_secs(31 * 86_400))),
            "2026-10-08 09:00:00 Asia/Shanghai (manual clock, advanced by 31d)\n"
        );
        let system = Reading { now, manual: false };
        assert_eq!(
            render(&system, None),
            "2026-10-08 09:00:00 Asia/Shanghai (system clock)\n"
        );
        let start = parse_start("2026-09-07T09:00:00+08:00").unwrap();
        assert!(
            render_manual_start(start).contains("manual, at 2026-09-07 09:00:00 Asia/Shanghai")
        );
    }
}
