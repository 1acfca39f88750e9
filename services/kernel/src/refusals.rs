//! Refused calls, counted and logged without letting a caller grow the log: the first refusal
//! of a source for a reason is logged at once; the ones after it are counted, and their count
//! is logged at most once per [`SUMMARY_INTERVAL`] per source and reason (and when the log is
//! dropped). A flood of 10,000 refused calls is then a handful of lines, not 10,000.
//!
//! Sources are client addresses, which identify a person as much as a phone number does: they
//! are logged as [`peer`], a keyed hash that tells sources apart within one process and
//! cannot be turned back into the address.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

/// How often a source still being refused for a reason gets a line, with the count since.
pub const SUMMARY_INTERVAL: Duration = Duration::from_secs(10);
/// Sources and reasons tracked at once; past it, new ones share one entry, so a flood from
/// many addresses costs bounded memory and lines.
pub const MAX_KEYS: usize = 4_096;
/// A source quiet this long is forgotten: when it comes back, its first refusal logs again.
const FORGET_AFTER: Duration = Duration::from_secs(600);
/// What the entry shared by sources past [`MAX_KEYS`] is called.
pub const MANY_SOURCES: &str = "many-sources";

/// `peer:1a2b3c4d`: the address's keyed hash (one random key per process).
pub fn peer(addr: Option<SocketAddr>) -> String {
    static KEY: OnceLock<std::hash::RandomState> = OnceLock::new();
    match addr {
        Some(addr) => {
            let ip: IpAddr = addr.ip();
            let hash = KEY.get_or_init(std::hash::RandomState::new).hash_one(ip);
            format!("peer:{:08x}", hash >> 32)
        }
        None => "peer:unknown".to_string(),
    }
}

struct Entry {
    logged_at: Instant,
    /// Refusals since the last line.
    suppressed: u64,
    total: u64,
}

/// Refusals of one kind (what [`RefusalLog::new`] names), by source and reason.
pub struct RefusalLog {
    what: &'static str,
    total: AtomicU64,
    entries: Mutex<HashMap<(String, &'static str), Entry>>,
}

impl RefusalLog {
    /// `what` is every line's message, e.g. "internal call refused". Inside a Tokio runtime a
    /// task logs the counts of sources that went quiet, until the log is dropped.
    pub fn new(what: &'static str) -> Arc<Self> {
        let log = Arc::new(Self {
            what,
            total: AtomicU64::new(0),
            entries: Mutex::new(HashMap::new()),
        });
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let weak: Weak<Self> = Arc::downgrade(&log);
            runtime.spawn(async move {
                let mut tick = tokio::time::interval(SUMMARY_INTERVAL);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    match weak.upgrade() {
                        Some(log) => log.flush(Instant::now(), false),
                        None => break,
                    }
                }
            });
        }
        log
    }

    /// Refusals counted since the start.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// Counts a refusal of `source` for `reason`, logging it when it is the first, or when
    /// the last line for them is older than [`SUMMARY_INTERVAL`].
    pub fn refused(&self, source: &str, reason: &'static str) {
        self.total.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        let mut entries = self.lock();
        let mut key = (source.to_string(), reason);
        // One slot stays free for the shared entry.
        if !entries.contains_key(&key) && entries.len() >= MAX_KEYS - 1 {
            entries.retain(|_, e| now.duration_since(e.logged_at) < FORGET_AFTER);
            if entries.len() >= MAX_KEYS - 1 {
                key.0 = MANY_SOURCES.to_string();
            }
        }
        match entries.get_mut(&key) {
            Some(entry) => {
                entry.total += 1;
                if now.duration_since(entry.logged_at) < SUMMARY_INTERVAL {
                    entry.suppressed += 1;
                    return;
                }
                let suppressed = std::mem::take(&mut entry.suppressed);
                entry.logged_at = now;
                let total = entry.total;
                drop(entries);
                self.line(&key.0, reason, suppressed, total);
            }
            None => {
                entries.insert(
                    key.clone(),
                    Entry {
                        logged_at: now,
                        suppressed: 0,
                        total: 1,
                    },
                );
                drop(entries);
                self.line(&key.0, reason, 0, 1);
            }
        }
    }

    /// Logs the suppressed counts of sources last logged over [`SUMMARY_INTERVAL`] ago (every
    /// one when `all`), and forgets sources quiet for long.
    fn flush(&self, now: Instant, all: bool) {
        let mut due = Vec::new();
        {
            let mut entries = self.lock();
            for ((source, reason), entry) in entries.iter_mut() {
                if entry.suppressed > 0
                    && (all || now.duration_since(entry.logged_at) >= SUMMARY_INTERVAL)
                {
                    due.push((source.clone(), *reason, entry.suppressed, entry.total));
                    entry.suppressed = 0;
                    entry.logged_at = now;
                }
            }
            entries
                .retain(|_, e| e.suppressed > 0 || now.duration_since(e.logged_at) < FORGET_AFTER);
        }
        for (source, reason, suppressed, total) in due {
            self.line(&source, reason, suppressed, total);
        }
    }

    fn line(&self, source: &str, reason: &'static str, suppressed: u64, total: u64) {
        tracing::warn!(source, reason, suppressed, total, "{}", self.what);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, &'static str), Entry>> {
        // A poisoned lock only means a panic mid-update; counts are still usable.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for RefusalLog {
    // What was counted but not yet logged is logged when the server holding it stops.
    fn drop(&mut self) {
        self.flush(Instant::now(), true);
    }
}

/// For tests: log lines kept in memory, to count them. Install [`testing::subscriber`] as the
/// global one of a test binary of its own: a subscriber set per thread can miss events of
/// callsites other threads hit at the same time.
pub mod testing {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    /// A `MakeWriter` that keeps what is written, for counting lines.
    #[derive(Clone, Default)]
    pub struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Captured {
        pub fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
        }
    }

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    /// A subscriber writing `info` and above to `captured`.
    pub fn subscriber(captured: Captured) -> impl tracing::Subscriber + Send + Sync {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
            .with_ansi(false)
            .with_writer(captured)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::reason;

    #[test]
    fn a_flood_from_one_source_is_counted_not_logged_call_by_call() {
        // The lines themselves are counted in tests/tests/flood.rs, with a subscriber of its own.
        let log = RefusalLog::new("test refusal");
        for _ in 0..10_000 {
            log.refused("peer:1", reason::TOKEN_INVALID);
        }
        log.refused("peer:2", reason::TOKEN_INVALID);
        assert_eq!(log.total(), 10_001);
        let entries = log.lock();
        let one = &entries[&("peer:1".to_string(), reason::TOKEN_INVALID)];
        // The first was logged; the rest wait for the next summary.
        assert_eq!((one.total, one.suppressed), (10_000, 9_999));
        assert_eq!(
            entries[&("peer:2".to_string(), reason::TOKEN_INVALID)].suppressed,
            0
        );
    }

    #[test]
    fn many_sources_share_one_entry_past_the_cap() {
        let log = RefusalLog::new("test refusal");
        for i in 0..MAX_KEYS + 100 {
            log.refused(&format!("peer:{i}"), "R");
        }
        let entries = log.lock();
        assert_eq!(entries.len(), MAX_KEYS);
        assert!(entries.contains_key(&(MANY_SOURCES.to_string(), "R")));
    }

    #[test]
    fn peers_are_hashed_not_shown() {
        let addr: SocketAddr = "203.0.113.7:443".parse().unwrap();
        let shown = peer(Some(addr));
        assert!(!shown.contains("203"), "{shown}");
        // Same address, any port: the same source.
        assert_eq!(shown, peer(Some("203.0.113.7:1".parse().unwrap())));
        assert_ne!(shown, peer(Some("203.0.113.8:443".parse().unwrap())));
    }
}
