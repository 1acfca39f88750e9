//! Point lookups that arrive together, answered by one query.
//!
//! Under load a service gets hundreds of concurrent calls that each read one row by its key
//! (a clerk's `GetCase`, the gateway asking for a case and its check). One query per call
//! costs a database round trip per call — on SQLite two hand-offs to the connection's own
//! thread — and the answers then complete one by one, each flushed to its connection on its
//! own. A [`Batched`] lookup takes every key waiting when a query slot is free and answers
//! them all from one `WHERE key IN (...)`, so the calls complete together. A key that comes
//! alone is looked up at once: no call waits for others to arrive.
//!
//! A query starts after every key it answers was asked for, so an answer never predates the
//! call: a row committed before the call is seen, as with a query of its own.
//!
//! The same shape serves a service asking another for many records at once (the gateway's
//! lookups of cases and checks, answered by one `BatchGet` call each): the "query" is then a
//! call, and its errors are a `tonic::Status`.

use std::collections::HashMap;
use std::future::Future;

use futures::stream::{FuturesUnordered, StreamExt};
use sea_orm::sea_query::{Expr, ExprTrait, extension::postgres::PgFunc};
use sea_orm::{ColumnTrait, DatabaseBackend, DbErr};
use tokio::sync::{mpsc, oneshot};

/// How many keys one query takes and how many queries run at once.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Keys in one query.
    pub max_batch: usize,
    /// Queries at once: the reader connections a lookup may hold.
    pub in_flight: usize,
    /// Whether the keys are padded to a power of two (by repeating one), so a database sees
    /// few distinct statements; a call to another service needs no padding.
    pub pad: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_batch: 256,
            in_flight: 4,
            pad: true,
        }
    }
}

/// What a batched lookup's errors must offer: each waiting caller gets its own copy of a
/// failed query's error, and the lookup itself names the two ways it fails on its own.
pub trait LookupError: Clone + Send + 'static {
    /// The batching task is gone (its runtime shut down).
    fn stopped(what: &str) -> Self;
    /// One key matched `rows` rows: the key is not unique.
    fn not_unique(what: &str, rows: usize) -> Self;
}

impl LookupError for DbErr {
    fn stopped(what: &str) -> Self {
        DbErr::Custom(format!("the {what} lookup has stopped"))
    }
    fn not_unique(what: &str, rows: usize) -> Self {
        DbErr::Custom(format!(
            "a lookup of one {what} by its key matched {rows} rows"
        ))
    }
}

impl LookupError for tonic::Status {
    fn stopped(what: &str) -> Self {
        tonic::Status::unavailable(format!("the {what} lookup has stopped"))
    }
    fn not_unique(what: &str, rows: usize) -> Self {
        tonic::Status::internal(format!(
            "a lookup of one {what} by its key answered {rows} records"
        ))
    }
}

type Answer<V, E> = Result<Option<V>, E>;

/// `column` is one of `keys`, as a lookup's query says it: on PostgreSQL one array parameter
/// (`= ANY($1)`), which the server binds and plans the same whatever the count — an `IN`
/// list of 256 parameters cost its backend more than the rows it found (measured, read path
/// run 9 in BENCHMARKS.md); elsewhere `IN (...)`.
pub fn key_in<C: ColumnTrait>(column: C, keys: Vec<String>, backend: DatabaseBackend) -> Expr {
    match backend {
        DatabaseBackend::Postgres => {
            Expr::col(column.as_column_ref()).eq(PgFunc::any(Expr::val(keys)))
        }
        _ => column.is_in(keys),
    }
}

struct Waiter<V, E> {
    key: String,
    reply: oneshot::Sender<Answer<V, E>>,
}

/// A lookup of `V` by a unique string key, batched, failing with `E` (a database's error, or
/// a called service's Status). Cheap to clone; the batching task stops when the last clone
/// is dropped.
pub struct Batched<V, E = DbErr> {
    what: &'static str,
    waiting: mpsc::UnboundedSender<Waiter<V, E>>,
}

impl<V, E> Clone for Batched<V, E> {
    fn clone(&self) -> Self {
        Self {
            what: self.what,
            waiting: self.waiting.clone(),
        }
    }
}

impl<V, E> std::fmt::Debug for Batched<V, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batched").field("what", &self.what).finish()
    }
}

impl<V: Clone + Send + 'static, E: LookupError> Batched<V, E> {
    /// Spawns the batching task on the current runtime. `fetch` gets distinct keys (padded
    /// with repeats of one of them to a power of two) and returns the rows found, each with
    /// its key; a key it returns twice is an error for the calls asking for it.
    pub fn spawn<F, Fut>(what: &'static str, limits: Limits, fetch: F) -> Self
    where
        F: Fn(Vec<String>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<(String, V)>, E>> + Send + 'static,
    {
        let (waiting, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(what, limits, rx, fetch));
        Self { what, waiting }
    }

    /// The rows of `keys` found, each asked as its own lookup (so they share the queries
    /// of every other caller's lookups waiting at the same time). The first error fails all.
    pub async fn get_many(&self, keys: &[String]) -> Result<Vec<V>, E> {
        let found = futures::future::join_all(keys.iter().map(|k| self.get(k))).await;
        found.into_iter().filter_map(Result::transpose).collect()
    }

    /// The row of `key`, if any.
    pub async fn get(&self, key: &str) -> Result<Option<V>, E> {
        let stopped = || E::stopped(self.what);
        let (reply, answer) = oneshot::channel();
        self.waiting
            .send(Waiter {
                key: key.to_string(),
                reply,
            })
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn run<V, E, F, Fut>(
    what: &'static str,
    limits: Limits,
    mut rx: mpsc::UnboundedReceiver<Waiter<V, E>>,
    fetch: F,
) where
    V: Clone + Send + 'static,
    E: LookupError,
    F: Fn(Vec<String>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Vec<(String, V)>, E>> + Send + 'static,
{
    let max_batch = limits.max_batch.max(1);
    let in_flight = limits.in_flight.max(1);
    let mut running = FuturesUnordered::new();
    loop {
        // Keys are taken only when a query slot is free; meanwhile they queue and go together.
        if running.len() >= in_flight {
            running.next().await;
            continue;
        }
        tokio::select! {
            biased;
            Some(()) = running.next(), if !running.is_empty() => {}
            first = rx.recv() => {
                let Some(first) = first else { break };
                let mut batch = vec![first];
                while batch.len() < max_batch {
                    match rx.try_recv() {
                        Ok(w) => batch.push(w),
                        Err(_) => break,
                    }
                }
                let keys = query_keys(&batch, max_batch, limits.pad);
                let rows = fetch(keys);
                running.push(async move { answer(what, batch, rows.await) });
            }
        }
    }
    while running.next().await.is_some() {}
}

/// The distinct keys of `batch`, padded when `pad` by repeating the first to a power of two
/// (at most `max_batch` when that is not one): `IN (...)` lists of few lengths, so few
/// statements.
fn query_keys<V, E>(batch: &[Waiter<V, E>], max_batch: usize, pad: bool) -> Vec<String> {
    let mut keys: Vec<String> = batch.iter().map(|w| w.key.clone()).collect();
    keys.sort_unstable();
    keys.dedup();
    if !pad {
        return keys;
    }
    let size = keys
        .len()
        .next_power_of_two()
        .min(max_batch.max(keys.len()));
    if let Some(first) = keys.first().cloned() {
        keys.resize(size, first);
    }
    keys
}

fn answer<V: Clone, E: LookupError>(
    what: &'static str,
    batch: Vec<Waiter<V, E>>,
    rows: Result<Vec<(String, V)>, E>,
) {
    let rows = match rows {
        Ok(rows) => rows,
        Err(e) => {
            for w in batch {
                let _ = w.reply.send(Err(e.clone()));
            }
            return;
        }
    };
    let mut found: HashMap<String, Vec<V>> = HashMap::with_capacity(rows.len());
    for (key, v) in rows {
        found.entry(key).or_default().push(v);
    }
    // A caller that gave up has dropped its receiver; its answer is simply not delivered.
    for w in batch {
        let reply = match found.get(&w.key).map(Vec::as_slice) {
            None | Some([]) => Ok(None),
            Some([one]) => Ok(Some(one.clone())),
            Some(many) => Err(E::not_unique(what, many.len())),
        };
        let _ = w.reply.send(reply);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    type Rows = futures::future::BoxFuture<'static, Result<Vec<(String, u32)>, DbErr>>;

    /// A fetch that records the keys of each query and finds every key starting with `k`.
    fn recording(
        calls: Arc<Mutex<Vec<Vec<String>>>>,
    ) -> impl Fn(Vec<String>) -> Rows + Send + Sync + 'static {
        move |keys: Vec<String>| {
            calls.lock().expect("lock").push(keys.clone());
            Box::pin(async move {
                tokio::task::yield_now().await;
                Ok(keys
                    .iter()
                    .filter(|k| k.starts_with('k'))
                    .map(|k| (k.clone(), k[1..].parse().unwrap_or(0)))
                    .collect::<std::collections::BTreeMap<_, _>>()
                    .into_iter()
                    .collect())
            })
        }
    }

    #[tokio::test]
    async fn a_lone_key_is_answered_and_a_missing_one_is_none() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let lookup = Batched::spawn("row", Limits::default(), recording(calls.clone()));
        assert_eq!(lookup.get("k7").await.expect("answer"), Some(7));
        assert_eq!(lookup.get("x").await.expect("answer"), None);
        assert_eq!(
            *calls.lock().expect("lock"),
            vec![vec!["k7".to_string()], vec!["x".to_string()]]
        );
    }

    #[tokio::test]
    async fn concurrent_keys_share_queries_and_each_gets_its_own_row() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let lookup = Batched::spawn(
            "row",
            Limits {
                max_batch: 64,
                in_flight: 1,
                pad: true,
            },
            recording(calls.clone()),
        );
        let asks: Vec<_> = (0..200u32)
            .map(|i| {
                let lookup = lookup.clone();
                // Every fifth key is asked twice; keys not starting with `k` exist nowhere.
                let key = if i % 7 == 0 {
                    format!("x{i}")
                } else {
                    format!("k{}", i - i % 5)
                };
                tokio::spawn(async move { (key.clone(), lookup.get(&key).await) })
            })
            .collect();
        for ask in asks {
            let (key, got) = ask.await.expect("joined");
            let want = key
                .strip_prefix('k')
                .map(|n| n.parse::<u32>().expect("number"));
            assert_eq!(got.expect("answer"), want, "{key}");
        }
        let calls = calls.lock().expect("lock");
        assert!(calls.len() < 200, "{} queries for 200 calls", calls.len());
        for keys in calls.iter() {
            assert!(keys.len().is_power_of_two() && keys.len() <= 64, "{keys:?}");
        }
    }

    #[tokio::test]
    async fn keys_for_another_service_go_unpadded_and_its_status_reaches_every_caller() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let limits = Limits {
            max_batch: 64,
            in_flight: 1,
            pad: false,
        };
        let seen = calls.clone();
        let lookup = Batched::<u32, tonic::Status>::spawn("case", limits, move |keys| {
            seen.lock().expect("lock").push(keys.clone());
            async move {
                tokio::task::yield_now().await;
                if keys.iter().any(|k| k == "down") {
                    return Err(tonic::Status::unavailable("intake is down"));
                }
                Ok(keys.into_iter().map(|k| (k, 1)).collect())
            }
        });
        let asks: Vec<_> = ["a", "b", "c"]
            .into_iter()
            .map(|k| {
                let lookup = lookup.clone();
                tokio::spawn(async move { lookup.get(k).await })
            })
            .collect();
        for ask in asks {
            assert_eq!(ask.await.expect("joined").expect("answer"), Some(1));
        }
        for keys in calls.lock().expect("lock").iter() {
            let mut distinct = keys.clone();
            distinct.dedup();
            assert_eq!(&distinct, keys, "no key repeated: {keys:?}");
        }
        let err = lookup.get("down").await.expect_err("the call failed");
        assert_eq!(err.code(), tonic::Code::Unavailable);
    }

    #[tokio::test]
    async fn a_failed_query_fails_every_call_in_it_and_a_duplicate_row_is_an_error() {
        let failing = Batched::<u32>::spawn("row", Limits::default(), |_keys| async {
            Err(DbErr::Custom("disk gone".into()))
        });
        let err = failing.get("k1").await.expect_err("the query failed");
        assert!(err.to_string().contains("disk gone"), "{err}");

        let doubled =
            Batched::<u32>::spawn("case", Limits::default(), |keys: Vec<String>| async move {
                Ok(keys
                    .iter()
                    .take(1)
                    .flat_map(|k| [(k.clone(), 1u32), (k.clone(), 2)])
                    .collect())
            });
        let err = doubled.get("k1").await.expect_err("two rows for one key");
        assert!(err.to_string().contains("matched 2 rows"), "{err}");
    }
}
