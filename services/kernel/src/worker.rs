//! One loop for every background worker (the outbox relay, the pre-check's matcher, the
//! deadline sweeper, and the stage services' own): run a pass; go again at once while work is
//! left; otherwise wait for the poll interval or a wake-up; stop when shutdown resolves.
//!
//! A pass is never cut short: shutdown is looked at between passes, so a worker stops after
//! the pass it is in (a busy worker does not start another one once shutdown has resolved).
//! The poll covers a missed wake-up and work another replica left. A worker whose work waits on
//! the kernel clock can also be woken when a manual clock moves ([`Worker::wake_on_clock`]).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::{Notify, watch};

use crate::clock::Clock;

/// What a pass says about the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// Work may be left: run again at once, unless shutting down.
    Busy,
    /// Nothing left: wait for the poll interval or a wake-up.
    Idle,
    /// Wait this long, and let no wake-up cut it short: the matcher lets cases gather so that
    /// one run decides many calls' cases.
    Hold(Duration),
}

/// One pass of a worker's work.
#[async_trait]
pub trait Work: Send {
    type Error: std::fmt::Display + Send;

    async fn pass(&mut self) -> Result<Pass, Self::Error>;

    /// The warning logged (with the error) when a pass fails, e.g. "deadline sweep failed".
    fn failed(&self, error: &Self::Error) -> &'static str;
}

/// How a worker waits between passes.
pub struct Worker {
    poll: Duration,
    backoff: Duration,
    wake: Arc<Notify>,
    /// A manual clock's moves, when the work waits on clock time.
    moves: Option<watch::Receiver<DateTime<Utc>>>,
}

impl Worker {
    /// Polls every `poll` when idle, and at once when `wake` is notified. A failed pass waits
    /// `poll` too unless [`Worker::error_backoff`] says otherwise.
    pub fn new(poll: Duration, wake: Arc<Notify>) -> Self {
        Self {
            poll,
            backoff: poll,
            wake,
            moves: None,
        }
    }

    /// Also wakes when `clock` moves, if it is a manual clock: what came due by the move
    /// (a deadline, a retry) is then taken at once instead of at the next poll. A system
    /// clock changes nothing.
    pub fn wake_on_clock(mut self, clock: &dyn Clock) -> Self {
        self.moves = clock.as_manual().map(|c| c.moves());
        self
    }

    /// How long a failed pass waits before the next (a wake-up still cuts it short).
    pub fn error_backoff(mut self, wait: Duration) -> Self {
        self.backoff = wait;
        self
    }

    /// Runs `work` until `shutdown` resolves.
    pub async fn run<W: Work>(mut self, mut work: W, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut moves = self.moves.take();
        loop {
            let wait = match work.pass().await {
                Ok(Pass::Busy) => {
                    if futures::FutureExt::now_or_never(&mut shutdown).is_some() {
                        return;
                    }
                    continue;
                }
                Ok(Pass::Idle) => self.poll,
                Ok(Pass::Hold(d)) => {
                    tokio::select! {
                        () = &mut shutdown => return,
                        () = tokio::time::sleep(d) => {}
                    }
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "{}", work.failed(&e));
                    self.backoff
                }
            };
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(wait) => {}
                () = self.wake.notified() => {}
                () = clock_moved(&mut moves) => {}
            }
        }
    }
}

/// Resolves when the clock moves; never without a manual clock (or once it is gone).
async fn clock_moved(moves: &mut Option<watch::Receiver<DateTime<Utc>>>) {
    if let Some(rx) = moves.as_mut() {
        if rx.changed().await.is_ok() {
            return;
        }
        *moves = None;
    }
    std::future::pending::<()>().await
}

#[cfg(test)]
mod tests;
