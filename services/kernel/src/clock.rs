//! Time, read through one trait so tests and the demo can run a 30-day window in milliseconds.

use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Utc};

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
}

pub type SharedClock = Arc<dyn Clock>;

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Mutex::new(start),
        }
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|p| p.into_inner());
        *now += by;
    }

    pub fn set(&self, to: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(|p| p.into_inner()) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub fn system() -> SharedClock {
    Arc::new(SystemClock)
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
}
