//! Time, read through one trait so tests and the demo can run a 30-day window in milliseconds.

use std::fmt::Debug;
use std::sync::Arc;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Utc};
use tokio::sync::watch;

/// Asia/Shanghai. China has kept UTC+8 without daylight saving since 1991, so a fixed offset
/// is exact for every date Sieve handles and needs no time-zone database.
pub fn shanghai() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| unreachable!("+08:00 is a valid offset"))
}

pub trait Clock: Send + Sync + Debug {
    fn now(&self) -> DateTime<Utc>;

    /// The calendar date in Asia/Shanghai: deadlines are counted in the court's days.
    fn today(&self) -> NaiveDate {
        self.now().with_timezone(&shanghai()).date_naive()
    }

    /// The manual clock this is, if it is one: only a manual clock can be moved
    /// (`sieve clock advance`), and workers that wait on time wake when it moves.
    fn as_manual(&self) -> Option<&ManualClock> {
        None
    }
}

pub type SharedClock = Arc<dyn Clock>;

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to. Between moves time stands still for everything that
/// reads it: two events a second apart on the wall carry the same time.
///
/// The time lives in a `watch` channel so that a move wakes whoever waits on
/// [`ManualClock::moves`] (the deadline sweeper, the outbox relay) at once, rather than at
/// their next poll.
#[derive(Debug)]
pub struct ManualClock {
    now: watch::Sender<DateTime<Utc>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: watch::Sender::new(start),
        }
    }

    /// Moves the clock by `by` (backwards when negative) and answers the new time. A move
    /// past the end of chrono's range stops there rather than panicking.
    pub fn advance(&self, by: Duration) -> DateTime<Utc> {
        let mut moved = DateTime::<Utc>::MAX_UTC;
        self.now.send_modify(|now| {
            *now = now
                .checked_add_signed(by)
                .unwrap_or(if by < Duration::zero() {
                    DateTime::<Utc>::MIN_UTC
                } else {
                    DateTime::<Utc>::MAX_UTC
                });
            moved = *now;
        });
        moved
    }

    pub fn set(&self, to: DateTime<Utc>) {
        self.now.send_replace(to);
    }

    /// Resolves `changed()` each time the clock moves after this call.
    pub fn moves(&self) -> watch::Receiver<DateTime<Utc>> {
        self.now.subscribe()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.borrow()
    }

    fn as_manual(&self) -> Option<&ManualClock> {
        Some(self)
    }
}

pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

/// A manual clock starting at `start`, shared (what `sieve up --manual-clock` runs on).
pub fn manual(start: DateTime<Utc>) -> SharedClock {
    Arc::new(ManualClock::new(start))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn today_is_the_shanghai_date() {
        // 2025-03-01 17:00 UTC is already 2025-03-02 01:00 in Shanghai.
        let clock = ManualClock::new(Utc.with_ymd_and_hms(2025, 3, 1, 17, 0, 0).unwrap());
        assert_eq!(clock.today(), NaiveDate::from_ymd_opt(2025, 3, 2).unwrap());
        clock.advance(Duration::days(30));
        assert_eq!(clock.today(), NaiveDate::from_ymd_opt(2025, 4, 1).unwrap());
    }

    #[test]
    fn only_a_manual_clock_says_it_is_one() {
        assert!(system().as_manual().is_none());
        let start = Utc.with_ymd_and_hms(2026, 9, 7, 1, 0, 0).unwrap();
        let shared = manual(start);
        let clock = shared.as_manual().expect("manual");
        assert_eq!(
            clock.advance(Duration::days(31)),
            start + Duration::days(31)
        );
        assert_eq!(shared.now(), start + Duration::days(31));
        assert_eq!(clock.advance(Duration::MAX), DateTime::<Utc>::MAX_UTC);
        assert_eq!(clock.advance(Duration::MIN), DateTime::<Utc>::MIN_UTC);
    }

    #[tokio::test]
    async fn a_move_is_seen_by_those_waiting_on_it() {
        let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 9, 7, 1, 0, 0).unwrap());
        let mut moves = clock.moves();
        assert!(!moves.has_changed().unwrap());
        let to = clock.advance(Duration::hours(1));
        moves.changed().await.expect("the clock lives");
        assert_eq!(*moves.borrow_and_update(), to);
        clock.set(to);
        assert!(moves.has_changed().unwrap(), "setting is a move too");
    }
}
