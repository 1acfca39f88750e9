//! One loop for every background worker (the outbox relay, the pre-check's matcher, the
//! deadline sweeper, and the stage services' own): run a pass; go again at once while work is
//! left; otherwise wait for the poll interval or a wake-up; stop when shutdown resolves.
//!
//! A pass is never cut short: shutdown is looked at between passes, so a worker stops after
//! the pass it is in (a busy worker does not start another one once shutdown has resolved).
//! The poll covers a missed wake-up and work another replica left.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;

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
}

impl Worker {
    /// Polls every `poll` when idle, and at once when `wake` is notified. A failed pass waits
    /// `poll` too unless [`Worker::error_backoff`] says otherwise.
    pub fn new(poll: Duration, wake: Arc<Notify>) -> Self {
        Self {
            poll,
            backoff: poll,
            wake,
        }
    }

    /// How long a failed pass waits before the next (a wake-up still cuts it short).
    pub fn error_backoff(mut self, wait: Duration) -> Self {
        self.backoff = wait;
        self
    }

    /// Runs `work` until `shutdown` resolves.
    pub async fn run<W: Work>(self, mut work: W, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
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
            }
        }
    }
}

#[cfg(test)]
mod tests;
