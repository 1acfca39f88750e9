//! The suite's clock at the court's door: `GetClock` reads it, `AdvanceClock` moves a manual
//! one (demos and end-to-end tests). The gateway answers both itself, from the clock in its
//! build context: `sieve up` gives every service of the suite the same clock, so moving the
//! gateway's moves theirs.
//!
//! Bearer tokens keep expiring by the wall clock (`auth` reads the system time), so moving the
//! suite a month ahead does not expire every token handed out.

use chrono::{DateTime, Utc};
use sieve_kernel::error::reason;
use sieve_kernel::{Clock, Error};
use sieve_proto::gateway::v1::{
    CourtApiServiceAdvanceClockRequest, CourtApiServiceAdvanceClockResponse,
    CourtApiServiceGetClockResponse,
};

/// The longest single move: far beyond any legal period, short of chrono's range.
pub const MAX_ADVANCE_DAYS: i64 = 3650;

const FIELD: &str = "duration";

fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    sieve_kernel::wire::timestamp(t.timestamp_millis())
}

pub fn get(clock: &dyn Clock) -> CourtApiServiceGetClockResponse {
    CourtApiServiceGetClockResponse {
        now: Some(timestamp(clock.now())),
        manual: clock.as_manual().is_some(),
    }
}

/// Moves a manual clock by the request's duration. The request is checked first, so a bad
/// duration is INVALID_ARGUMENT whatever the clock; a system clock is FAILED_PRECONDITION.
pub fn advance(
    clock: &dyn Clock,
    request: CourtApiServiceAdvanceClockRequest,
) -> Result<CourtApiServiceAdvanceClockResponse, Error> {
    let by = duration(request.duration)?;
    let manual = clock.as_manual().ok_or_else(|| {
        Error::precondition(
            reason::CLOCK_NOT_MANUAL,
            "the suite runs on the system clock, which cannot be moved; start it with \
             `sieve up --manual-clock`",
        )
    })?;
    let before = manual.now();
    let now = manual.advance(by);
    // Who moved it: the caller's span (organisation, role) that the door opens around this.
    tracing::info!(
        by_secs = by.num_seconds(),
        from = %before.with_timezone(&sieve_kernel::clock::shanghai()),
        to = %now.with_timezone(&sieve_kernel::clock::shanghai()),
        "manual clock advanced"
    );
    Ok(CourtApiServiceAdvanceClockResponse {
        now: Some(timestamp(now)),
        manual: true,
    })
}

/// A forward move of at most [`MAX_ADVANCE_DAYS`].
fn duration(d: Option<prost_types::Duration>) -> Result<chrono::Duration, Error> {
    let d = d.ok_or_else(|| Error::invalid_field(FIELD, "missing: how far to move the clock"))?;
    // protobuf's Duration: nanos within ±999,999,999, with the sign of seconds.
    let normal = (-999_999_999..=999_999_999).contains(&d.nanos)
        && !(d.seconds > 0 && d.nanos < 0)
        && !(d.seconds < 0 && d.nanos > 0);
    if !normal {
        return Err(Error::invalid_field(
            FIELD,
            "not a valid duration: nanos must be within ±999,999,999 and share the sign of seconds",
        ));
    }
    if d.seconds < 0 || d.nanos < 0 || (d.seconds == 0 && d.nanos == 0) {
        return Err(Error::invalid_field(
            FIELD,
            "must be more than zero: the clock only moves forward",
        ));
    }
    if d.seconds > MAX_ADVANCE_DAYS * 86_400
        || (d.seconds == MAX_ADVANCE_DAYS * 86_400 && d.nanos > 0)
    {
        return Err(Error::invalid_field(
            FIELD,
            format!("at most {MAX_ADVANCE_DAYS} days in one move"),
        ));
    }
    Ok(chrono::Duration::seconds(d.seconds) + chrono::Duration::nanoseconds(i64::from(d.nanos)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(seconds: i64, nanos: i32) -> Option<prost_types::Duration> {
        Some(prost_types::Duration { seconds, nanos })
    }

    #[test]
    fn only_forward_moves_within_ten_years_are_taken() {
        assert_eq!(duration(d(86_400, 0)).unwrap(), chrono::Duration::days(1));
        assert_eq!(duration(d(0, 1)).unwrap(), chrono::Duration::nanoseconds(1));
        assert_eq!(
            duration(d(MAX_ADVANCE_DAYS * 86_400, 0)).unwrap(),
            chrono::Duration::days(MAX_ADVANCE_DAYS)
        );
        for bad in [
            None,
            d(0, 0),
            d(-1, 0),
            d(0, -5),
            d(1, -5),
            d(-1, 5),
            d(1, 1_000_000_000),
            d(MAX_ADVANCE_DAYS * 86_400, 1),
            d(i64::MAX, 0),
        ] {
            let e = duration(bad).expect_err("refused");
            assert_eq!(e.violations[0].field, FIELD, "{bad:?}");
        }
    }
}
