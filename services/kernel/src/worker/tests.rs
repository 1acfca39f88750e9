use std::collections::VecDeque;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::*;

/// Long enough never to come in a test: a pass that comes was woken, not polled.
const HOUR: Duration = Duration::from_secs(3600);
/// A bound on waiting for what must happen, so that a broken loop fails instead of hanging.
const PATIENCE: Duration = Duration::from_secs(30);
const NONE: Vec<usize> = Vec::new();

/// Answers its script, then `then` forever; reports each pass's number.
struct Scripted {
    script: VecDeque<Result<Pass, String>>,
    then: Result<Pass, String>,
    passes: usize,
    seen: mpsc::UnboundedSender<usize>,
    /// Resolves the worker's shutdown from inside pass `.0`.
    stop_at: Option<(usize, oneshot::Sender<()>)>,
}

#[async_trait]
impl Work for Scripted {
    type Error = String;

    async fn pass(&mut self) -> Result<Pass, String> {
        self.passes += 1;
        let _ = self.seen.send(self.passes);
        if let Some((n, _)) = &self.stop_at
            && *n == self.passes
            && let Some((_, stop)) = self.stop_at.take()
        {
            let _ = stop.send(());
        }
        self.script.pop_front().unwrap_or_else(|| self.then.clone())
    }

    fn failed(&self, _error: &String) -> &'static str {
        "scripted pass failed"
    }
}

struct Running {
    seen: mpsc::UnboundedReceiver<usize>,
    wake: Arc<Notify>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Running {
    async fn next_pass(&mut self) -> usize {
        match tokio::time::timeout(PATIENCE, self.seen.recv()).await {
            Ok(Some(n)) => n,
            Ok(None) => panic!("the worker stopped"),
            Err(_) => panic!("no pass within {PATIENCE:?}"),
        }
    }

    /// Stops the worker; the passes it ran that were not looked at.
    async fn stop(mut self) -> Vec<usize> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        finished(self.task).await;
        unseen(&mut self.seen)
    }
}

fn unseen(seen: &mut mpsc::UnboundedReceiver<usize>) -> Vec<usize> {
    let mut passes = Vec::new();
    while let Ok(n) = seen.try_recv() {
        passes.push(n);
    }
    passes
}

async fn finished(task: JoinHandle<()>) {
    match tokio::time::timeout(PATIENCE, task).await {
        Ok(joined) => joined.expect("the worker does not panic"),
        Err(_) => panic!("the worker did not stop within {PATIENCE:?}"),
    }
}

fn start(
    worker: impl FnOnce(Arc<Notify>) -> Worker,
    script: Vec<Result<Pass, String>>,
    then: Result<Pass, String>,
) -> Running {
    let wake = Arc::new(Notify::new());
    let worker = worker(wake.clone());
    let (seen_tx, seen) = mpsc::unbounded_channel();
    let (stop, stopped) = oneshot::channel::<()>();
    let work = Scripted {
        script: script.into(),
        then,
        passes: 0,
        seen: seen_tx,
        stop_at: None,
    };
    let task = tokio::spawn(worker.run(work, async move {
        let _ = stopped.await;
    }));
    Running {
        seen,
        wake,
        stop: Some(stop),
        task,
    }
}

#[tokio::test]
async fn runs_when_woken_before_the_poll_interval() {
    let mut w = start(|wake| Worker::new(HOUR, wake), vec![], Ok(Pass::Idle));
    assert_eq!(w.next_pass().await, 1, "the first pass runs at once");
    w.wake.notify_one();
    assert_eq!(w.next_pass().await, 2, "a wake-up runs a pass");
    assert_eq!(w.stop().await, NONE);
}

#[tokio::test]
async fn runs_on_the_poll_interval() {
    let mut w = start(
        |wake| Worker::new(Duration::from_millis(10), wake),
        vec![],
        Ok(Pass::Idle),
    );
    for n in 1..=3 {
        assert_eq!(w.next_pass().await, n);
    }
    w.stop().await;
}

#[tokio::test]
async fn stops_on_shutdown_while_waiting() {
    let mut w = start(|wake| Worker::new(HOUR, wake), vec![], Ok(Pass::Idle));
    assert_eq!(w.next_pass().await, 1);
    assert_eq!(w.stop().await, NONE, "no pass after the first");
}

#[tokio::test]
async fn a_busy_worker_runs_again_at_once_and_stops_after_its_pass() {
    let wake = Arc::new(Notify::new());
    let (seen, mut passes) = mpsc::unbounded_channel();
    let (stop, stopped) = oneshot::channel::<()>();
    let work = Scripted {
        script: VecDeque::new(),
        then: Ok(Pass::Busy),
        passes: 0,
        seen,
        stop_at: Some((3, stop)),
    };
    // Never polled nor woken: only being busy runs the passes after the first.
    let task = tokio::spawn(Worker::new(HOUR, wake).run(work, async move {
        let _ = stopped.await;
    }));
    finished(task).await;
    assert_eq!(
        unseen(&mut passes),
        vec![1, 2, 3],
        "shutdown during pass 3 stops the worker after it"
    );
}

#[tokio::test]
async fn keeps_going_after_an_error() {
    let mut w = start(
        |wake| Worker::new(HOUR, wake).error_backoff(Duration::from_millis(10)),
        vec![Err("the database is away".into())],
        Ok(Pass::Idle),
    );
    assert_eq!(w.next_pass().await, 1);
    assert_eq!(w.next_pass().await, 2, "the pass after the backoff");
    w.stop().await;
}

#[tokio::test]
async fn a_wake_up_cuts_the_error_backoff_short() {
    let mut w = start(
        |wake| Worker::new(HOUR, wake),
        vec![Err("the database is away".into())],
        Ok(Pass::Idle),
    );
    assert_eq!(w.next_pass().await, 1);
    w.wake.notify_one();
    assert_eq!(w.next_pass().await, 2);
    w.stop().await;
}

#[tokio::test]
async fn a_hold_runs_the_next_pass_when_it_ends() {
    let mut w = start(
        |wake| Worker::new(HOUR, wake),
        vec![Ok(Pass::Hold(Duration::from_millis(10)))],
        Ok(Pass::Idle),
    );
    assert_eq!(w.next_pass().await, 1);
    assert_eq!(w.next_pass().await, 2);
    w.stop().await;
}

#[tokio::test]
async fn a_wake_up_does_not_cut_a_hold_short() {
    let mut w = start(|wake| Worker::new(HOUR, wake), vec![], Ok(Pass::Hold(HOUR)));
    assert_eq!(w.next_pass().await, 1);
    w.wake.notify_one();
    // Time for a wrongly woken pass to come; a correct loop passes whatever the timing.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(w.stop().await, NONE, "no pass while holding");
}

#[tokio::test]
async fn a_manual_clock_moving_wakes_a_worker_that_waits_on_it() {
    let clock = crate::clock::ManualClock::new(chrono::Utc::now());
    let mut w = start(
        |wake| Worker::new(HOUR, wake).wake_on_clock(&clock),
        vec![],
        Ok(Pass::Idle),
    );
    assert_eq!(w.next_pass().await, 1);
    clock.advance(chrono::Duration::days(31));
    assert_eq!(w.next_pass().await, 2, "the move runs a pass");
    clock.advance(chrono::Duration::seconds(1));
    assert_eq!(w.next_pass().await, 3, "and each move after it");
    assert_eq!(w.stop().await, NONE);
}

#[tokio::test]
async fn a_system_clock_adds_no_wake_ups() {
    let clock = crate::clock::system();
    let mut w = start(
        |wake| Worker::new(HOUR, wake).wake_on_clock(clock.as_ref()),
        vec![],
        Ok(Pass::Idle),
    );
    assert_eq!(w.next_pass().await, 1);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        w.stop().await,
        NONE,
        "nothing but the poll would run a pass"
    );
}
