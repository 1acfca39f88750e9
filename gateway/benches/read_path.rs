//! `make bench`: the read path (issue 8, item 5), in one run, on SQLite and — when it answers —
//! PostgreSQL:
//!
//! - (a) intake's gRPC health check against intake's `GetCase`, on the same server (goal: the
//!   ratio >= 0.3);
//! - (b) a bare tonic server (health only: no layers, no database) against the gateway's bank
//!   `GetCase` (goal: >= 0.1). The gateway's call is the whole lookup: token, tenancy, intake's
//!   `GetCase` and the pre-check's two records;
//! - (c) intake `GetCase` latency (p50/p99/max) while a 200,000-case `SubmitBatch` is being
//!   received (goal: p99 < 20 ms).
//!
//! Load for (a) and (b): 16 connections × 32 concurrent streams, calls back to back, counted
//! for `SIEVE_BENCH_SECS` (default 3) after a second of warm-up. The server side (every
//! service, their tokio runtime of one worker, their blocking and SQLite threads) runs on CPU
//! 0, the clients on CPU 1 (`taskset` per thread; threads inherit the mask). PostgreSQL's own
//! processes are not pinned. Logs go through a `fmt` subscriber at `info` into a sink, so
//! per-call logging costs what it costs in service.
//!
//! For (c) the servers run unpinned on a runtime of every core, as deployed; four clients each
//! call `GetCase` every millisecond while the batch streams in.
//!
//! `SIEVE_BENCH_CASES` changes the batch of (c). For profiling one part alone:
//! `SIEVE_BENCH_ONLY` (`a`, `b`, `c` or a list such as `a,b`) and `SIEVE_BENCH_DB` (`sqlite` or
//! `postgres`); `SIEVE_BENCH_READ_CONNECTIONS` sizes SQLite's reader pool.

use sieve_kernel::service::{Context, Service};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sieve_gateway::token::{self, Claims, Role, SigningKey};
use sieve_kernel::Settings;
use sieve_kernel::db::Target;
use sieve_kernel::internal::InternalChannel;
use sieve_kernel::rules::resident_id::numbered as id_number;
use sieve_proto::bad_debt_check::v1 as bdc;
use sieve_proto::bad_debt_check::v1::pre_check_service_client::PreCheckServiceClient;
use sieve_proto::common::v1::{Claim, Debtor, DebtorKind, PageRequest, ProductType, Stage};
use sieve_proto::gateway::v1::BankApiServiceGetCaseRequest;
use sieve_proto::gateway::v1::bank_api_service_client::BankApiServiceClient;
use sieve_proto::intake::v1 as pb;
use sieve_proto::intake::v1::intake_service_client::IntakeServiceClient;
use tokio::sync::oneshot;
use tonic::Status;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

// The allocator `sieve` runs the services with, so the servers here cost what they cost there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CONNECTIONS: usize = 16;
const STREAMS: usize = 32;
/// Cases the lookups of (a) and (b) choose from.
const SEEDED: usize = 2_000;
const SERVER_CPU: usize = 0;
const CLIENT_CPU: usize = 1;

// ---------------------------------------------------------------------------------------------
// The machine and its CPUs

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    format!("{cores} cores, {cpu}")
}

/// Pins the calling thread to `cpu` (its thread id from /proc, then `taskset`): threads it
/// starts afterwards inherit the mask, SQLite's connection threads included.
fn pin_current_thread(cpu: usize) {
    let Ok(link) = std::fs::read_link("/proc/thread-self") else {
        return;
    };
    let Some(tid) = link.file_name().and_then(|t| t.to_str()).map(str::to_owned) else {
        return;
    };
    let _ = std::process::Command::new("taskset")
        .args(["-p", "-c", &cpu.to_string(), &tid])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}

/// A runtime of one worker whose threads (worker and blocking) run on `cpu` only.
fn pinned_runtime(cpu: usize, name: &str) -> tokio::runtime::Runtime {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let cpu = cpu.min(cores - 1);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(name)
        .on_thread_start(move || pin_current_thread(cpu))
        .enable_all()
        .build()
        .expect("runtime")
}

// ---------------------------------------------------------------------------------------------
// Input

fn case_input(prefix: &str, i: usize) -> pb::CaseInput {
    pb::CaseInput {
        bank_case_ref: format!("{prefix}-{i:08}"),
        product: if i.is_multiple_of(3) {
            ProductType::Loan
        } else {
            ProductType::CreditCard
        } as i32,
        debtor: Some(Debtor {
            kind: DebtorKind::NaturalPerson as i32,
            name: "张秀英".into(),
            id_number: id_number(i),
            phone: format!("139{:08}", i % 100_000_000),
            address: "黑龙江省伊春市嘉荫县朝阳镇幸福街12号".into(),
            division_code: "230722".into(),
        }),
        contract_amount_fen: if i.is_multiple_of(3) { 5_000_000 } else { 0 },
        claim: Some(Claim {
            principal_fen: 3_267_620,
            interest_fen: 45_061,
            penalty_fen: 56_838,
            fees_fen: 0,
            total_fen: 0,
        }),
        contract_ref: format!("HT{i:010}"),
        contract_names_court: false,
        row: 0,
    }
}

fn batch_stream(
    bank_id: &str,
    request_id: &str,
    cases: Vec<pb::CaseInput>,
) -> impl tokio_stream::Stream<Item = pb::SubmitBatchRequest> + Send + 'static {
    let header = pb::SubmitBatchRequest {
        item: Some(pb::submit_batch_request::Item::Header(pb::BatchHeader {
            bank_id: bank_id.into(),
            request_id: request_id.into(),
            expected_cases: cases.len() as i64,
            label: request_id.into(),
        })),
    };
    let chunks: Vec<pb::SubmitBatchRequest> = cases
        .chunks(1000)
        .map(|c| pb::SubmitBatchRequest {
            item: Some(pb::submit_batch_request::Item::Chunk(pb::CaseChunk {
                cases: c.to_vec(),
            })),
        })
        .collect();
    tokio_stream::iter(std::iter::once(header).chain(chunks))
}

// ---------------------------------------------------------------------------------------------
// Databases

/// A database kind and how to make a fresh database of it.
type MakeTarget = (&'static str, Box<dyn Fn(&str) -> Target>);

fn targets() -> Vec<MakeTarget> {
    let only = std::env::var("SIEVE_BENCH_DB").unwrap_or_default();
    let mut out = all_targets();
    out.retain(|(name, _)| only.is_empty() || name.eq_ignore_ascii_case(&only));
    out
}

/// Whether part `part` ("a", "b" or "c") is to run (`SIEVE_BENCH_ONLY`; all when unset).
fn runs(part: &str) -> bool {
    std::env::var("SIEVE_BENCH_ONLY")
        .map(|only| only.split(',').any(|p| p.trim() == part))
        .unwrap_or(true)
}

fn all_targets() -> Vec<MakeTarget> {
    let mut out: Vec<MakeTarget> = vec![(
        "SQLite",
        Box::new(|service| {
            let dir = std::env::temp_dir().join("sieve-bench");
            let _ = std::fs::create_dir_all(&dir);
            let id = uuid::Uuid::new_v4().simple().to_string();
            Target::Sqlite(format!(
                "sqlite://{}?mode=rwc",
                dir.join(format!("{service}-{id}.db")).display()
            ))
        }),
    )];
    if std::net::TcpStream::connect("127.0.0.1:5432").is_ok() {
        out.push((
            "PostgreSQL",
            Box::new(|service| {
                let id = uuid::Uuid::new_v4().simple().to_string();
                Target::Postgres {
                    url: std::env::var("SIEVE_TEST_POSTGRES_URL")
                        .unwrap_or_else(|_| sieve_kernel::db::testing::POSTGRES_DEFAULT.into()),
                    schema: format!("bench_{}_{}", service.replace('-', "_"), &id[..12]),
                }
            }),
        ));
    } else {
        println!("PostgreSQL is not answering on 127.0.0.1:5432: measuring SQLite only");
    }
    out
}

async fn cleanup(target: &Target) {
    match target {
        Target::Postgres { url, schema } => {
            let _ = sieve_kernel::db::drop_schema(url, schema).await;
        }
        Target::Sqlite(url) => {
            if let Some(path) = url
                .strip_prefix("sqlite://")
                .and_then(|p| p.split('?').next())
            {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{path}{suffix}"));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Servers

fn settings(data_dir: &std::path::Path, key: &SigningKey) -> Settings {
    // Internal calls carry the credential these settings configure.
    let mut s = sieve_kernel::internal::testing::settings();
    s.server.request_timeout_secs = 3600;
    s.server.shutdown_grace_secs = 1;
    // The bench's 512 concurrent streams, each call also fanning out behind the gateway.
    s.server.concurrency_limit = 4096;
    s.database.data_dir = data_dir.to_path_buf();
    // For experiments: SQLite's reader pool (default `database.read_connections`).
    if let Some(n) = std::env::var("SIEVE_BENCH_READ_CONNECTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        s.database.read_connections = n;
    }
    s.set_service(
        "gateway",
        "signing_keys",
        sieve_kernel::config::Map::from_iter([(key.kid.clone(), key.secret_base64())]),
    );
    // One bank calls hundreds of thousands of times a second here: no rate limit.
    s.set_service("gateway", "rate_limit_per_second", i64::from(u32::MAX));
    let court_key = sieve_bad_debt_check::domain::certificate::CourtKey::generate("bench");
    s.set_service("bad_debt_check", "signing_key_id", court_key.key_id());
    s.set_service(
        "bad_debt_check",
        "signing_key_secret",
        court_key.secret_base64(),
    );
    s
}

/// Intake, the pre-check and the gateway, serving on the runtime this is called on.
struct Suite {
    intake: SocketAddr,
    pre_check: SocketAddr,
    gateway: SocketAddr,
    targets: Vec<Target>,
    stops: Vec<oneshot::Sender<()>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

fn serve<F>(fut: F) -> (oneshot::Sender<()>, tokio::task::JoinHandle<()>)
where
    F: FnOnce(oneshot::Receiver<()>) -> Pin<Box<dyn Future<Output = ()> + Send>>,
{
    let (tx, rx) = oneshot::channel();
    (tx, tokio::spawn(fut(rx)))
}

impl Suite {
    async fn start(settings: &Settings, make: &dyn Fn(&str) -> Target, gateway: bool) -> Self {
        let intake_target = make("intake");
        let intake = sieve_intake::Application::build(
            Context::of::<sieve_intake::Application>(settings)
                .expect("intake's settings")
                .with_target(intake_target.clone())
                .any_port(),
        )
        .await
        .expect("build intake");
        let intake_addr = intake.local_addr();
        let intake_url = format!("http://{intake_addr}");
        let mut suite = Suite {
            intake: intake_addr,
            pre_check: intake_addr,
            gateway: intake_addr,
            targets: vec![intake_target],
            stops: Vec::new(),
            tasks: Vec::new(),
        };
        if !gateway {
            let (stop, task) = serve(|rx| {
                Box::pin(async move {
                    let _ = intake.run_until(async { drop(rx.await) }).await;
                })
            });
            suite.stops.push(stop);
            suite.tasks.push(task);
            return suite;
        }
        let pre_check_target = make("bad-debt-check");
        let pre_check = sieve_bad_debt_check::Application::build(
            Context::of::<sieve_bad_debt_check::Application>(settings)
                .expect("the pre-check's settings")
                .with_target(pre_check_target.clone())
                .with_peer(sieve_intake::SERVICE, &intake_url)
                .any_port(),
        )
        .await
        .expect("build bad-debt-check");
        suite.targets.push(pre_check_target);
        suite.pre_check = pre_check.local_addr();
        let pre_check_url = format!("http://{}", pre_check.local_addr());
        let intake = intake
            .deliver_to_bad_debt_check(&pre_check_url)
            .expect("pre-check url");
        // The gateway shows each case's stage records: the preservation service answers too.
        let preservation_target = make("preservation");
        let preservation = sieve_preservation::Application::build(
            Context::of::<sieve_preservation::Application>(settings)
                .expect("preservation's settings")
                .with_target(preservation_target.clone())
                .with_peer(sieve_intake::SERVICE, &intake_url)
                .any_port(),
        )
        .await
        .expect("build preservation");
        suite.targets.push(preservation_target);
        let preservation_url = format!(
            "http://{}",
            sieve_kernel::service::Service::local_addr(&preservation)
        );
        let gw = sieve_gateway::Application::build(
            Context::of::<sieve_gateway::Application>(settings)
                .expect("the gateway's settings")
                .with_peer(sieve_intake::SERVICE, &intake_url)
                .with_peer(sieve_bad_debt_check::SERVICE, &pre_check_url)
                .with_peer(sieve_preservation::SERVICE, &preservation_url)
                .any_port(),
        )
        .await
        .expect("build gateway");
        suite.gateway = gw.local_addr();
        for (stop, task) in [
            serve(|rx| {
                Box::pin(async move {
                    let _ = intake.run_until(async { drop(rx.await) }).await;
                })
            }),
            serve(|rx| {
                Box::pin(async move {
                    let _ = pre_check.run_until(async { drop(rx.await) }).await;
                })
            }),
            serve(|rx| {
                Box::pin(async move {
                    let _ = preservation.run_until(async { drop(rx.await) }).await;
                })
            }),
            serve(|rx| {
                Box::pin(async move {
                    let _ = gw.run_until(async { drop(rx.await) }).await;
                })
            }),
        ] {
            suite.stops.push(stop);
            suite.tasks.push(task);
        }
        suite
    }

    async fn stop(self) {
        for stop in self.stops {
            let _ = stop.send(());
        }
        for task in self.tasks {
            let _ = task.await;
        }
        for target in &self.targets {
            cleanup(target).await;
        }
    }
}

/// A bare tonic server: the health service alone, no layers, TCP_NODELAY as ours.
async fn echo_server() -> (SocketAddr, oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (_reporter, health) = tonic_health::server::health_reporter();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(health)
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
                async {
                    let _ = rx.await;
                },
            ),
    );
    (addr, tx)
}

// ---------------------------------------------------------------------------------------------
// Clients

async fn connect(addr: SocketAddr) -> Channel {
    Endpoint::from_shared(format!("http://{addr}"))
        .expect("url")
        .tcp_nodelay(true)
        .connect()
        .await
        .expect("connect")
}

/// A channel to an internal service (its own connection, made on first use), carrying the
/// credential.
fn internal(addr: SocketAddr) -> InternalChannel {
    sieve_kernel::internal::testing::channel(&format!("http://{addr}"))
}

/// `CONNECTIONS` connections to a public server (the gateway, the bare server).
async fn public_connections(addr: SocketAddr) -> Vec<Channel> {
    let mut out = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        out.push(connect(addr).await);
    }
    out
}

/// `CONNECTIONS` connections to an internal server.
fn internal_connections(addr: SocketAddr) -> Vec<InternalChannel> {
    (0..CONNECTIONS).map(|_| internal(addr)).collect()
}

/// A bank with `SEEDED` admitted cases, decided by the pre-check when it runs. Returns the
/// bank and its case ids.
async fn seed(intake: SocketAddr, prefix: &str, wait_for_pre_check: bool) -> (String, Vec<String>) {
    let mut client = IntakeServiceClient::new(internal(intake))
        .max_decoding_message_size(64 << 20)
        .max_encoding_message_size(64 << 20);
    let bank = client
        .register_bank(pb::RegisterBankRequest {
            code: prefix.into(),
            name: "bench".into(),
            callback_phone: "0458-6123456".into(),
        })
        .await
        .expect("bank")
        .into_inner()
        .bank
        .expect("bank")
        .bank_id;
    let cases: Vec<pb::CaseInput> = (0..SEEDED).map(|i| case_input(prefix, i)).collect();
    let batch = client
        .submit_batch(batch_stream(&bank, &format!("{prefix}-seed"), cases))
        .await
        .expect("seed batch")
        .into_inner()
        .batch
        .expect("batch");
    assert_eq!(batch.accepted_cases as usize, SEEDED);
    let list = |stage: Stage| pb::ListCasesRequest {
        bank_id: bank.clone(),
        stage: stage as i32,
        batch_id: String::new(),
        page: Some(PageRequest {
            page_size: 1000,
            page_token: String::new(),
        }),
    };
    if wait_for_pre_check {
        // Lookups of decided cases: the pre-check then has a record to show.
        let until = Instant::now() + Duration::from_secs(60);
        loop {
            let waiting = client
                .list_cases(list(Stage::BadDebtCheck))
                .await
                .expect("list")
                .into_inner()
                .cases
                .len();
            if waiting == 0 {
                break;
            }
            if Instant::now() > until {
                println!("  (the pre-check had not decided every seeded case after 60 s)");
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let mut ids = Vec::with_capacity(SEEDED);
    let mut token = String::new();
    loop {
        let mut request = list(Stage::Unspecified);
        request.page = Some(PageRequest {
            page_size: 1000,
            page_token: token,
        });
        let page = client.list_cases(request).await.expect("list").into_inner();
        ids.extend(page.cases.into_iter().map(|c| c.case_id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(ids.len(), SEEDED);
    (bank, ids)
}

type CallFuture = Pin<Box<dyn Future<Output = Result<(), Status>> + Send>>;
/// One call on a connection; the number says which call this is (to pick a case).
type Call<C> = Arc<dyn Fn(C, u64) -> CallFuture + Send + Sync>;

/// Calls back to back on each connection × `STREAMS` streams; calls completed per second over
/// `secs` after a second of warm-up.
async fn throughput<C: Clone + Send + 'static>(
    connections: Vec<C>,
    secs: f64,
    call: Call<C>,
) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for (c, channel) in connections.into_iter().enumerate() {
        for s in 0..STREAMS {
            let (channel, call) = (channel.clone(), call.clone());
            let (done, failed, stop) = (done.clone(), failed.clone(), stop.clone());
            let mut n = (c * STREAMS + s) as u64 * 7919;
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    match call(channel.clone(), n).await {
                        Ok(()) => done.fetch_add(1, Ordering::Relaxed),
                        Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            }));
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let start = Instant::now();
    let before = done.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    let calls = done.load(Ordering::Relaxed) - before;
    let elapsed = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let failed = failed.load(Ordering::Relaxed);
    assert_eq!(failed, 0, "{failed} calls failed");
    calls as f64 / elapsed
}

/// The health check as a call on connections of type `$channel`.
macro_rules! health_call {
    ($channel:ty) => {{
        let call: Call<$channel> = Arc::new(|channel, _| {
            Box::pin(async move {
                HealthClient::new(channel)
                    .check(HealthCheckRequest {
                        service: String::new(),
                    })
                    .await
                    .map(drop)
            })
        });
        call
    }};
}

fn intake_get_case(ids: Arc<Vec<String>>) -> Call<InternalChannel> {
    Arc::new(move |channel, n| {
        let case_id = ids[n as usize % ids.len()].clone();
        Box::pin(async move {
            let case = IntakeServiceClient::new(channel)
                .get_case(pb::GetCaseRequest { case_id })
                .await?
                .into_inner()
                .case;
            assert!(case.is_some());
            Ok(())
        })
    })
}

fn pre_check_get_check(ids: Arc<Vec<String>>) -> Call<InternalChannel> {
    Arc::new(move |channel, n| {
        let case_id = ids[n as usize % ids.len()].clone();
        Box::pin(async move {
            let check = PreCheckServiceClient::new(channel)
                .get_check(bdc::GetCheckRequest {
                    key: Some(bdc::get_check_request::Key::CaseId(case_id)),
                })
                .await?
                .into_inner()
                .check;
            assert!(check.is_some());
            Ok(())
        })
    })
}

fn gateway_get_case(ids: Arc<Vec<String>>, bearer: String) -> Call<Channel> {
    let bearer: tonic::metadata::MetadataValue<tonic::metadata::Ascii> =
        format!("Bearer {bearer}").parse().expect("header");
    Arc::new(move |channel, n| {
        let case_id = ids[n as usize % ids.len()].clone();
        let bearer = bearer.clone();
        Box::pin(async move {
            let mut request = tonic::Request::new(BankApiServiceGetCaseRequest { case_id });
            request.metadata_mut().insert("authorization", bearer);
            let answer = BankApiServiceClient::new(channel)
                .get_case(request)
                .await?
                .into_inner();
            assert!(answer.case.is_some());
            let records = answer.records.expect("records");
            assert!(records.unavailable_services.is_empty(), "{records:?}");
            Ok(())
        })
    })
}

// ---------------------------------------------------------------------------------------------
// (c) lookups while a batch is received

struct Latencies {
    samples: Vec<Duration>,
    batch_secs: f64,
}

impl Latencies {
    fn quantile(&self, q: f64) -> Duration {
        if self.samples.is_empty() {
            return Duration::ZERO;
        }
        let i = ((self.samples.len() as f64 - 1.0) * q).round() as usize;
        self.samples[i]
    }
}

async fn during_batch(intake: SocketAddr, batch: usize) -> Latencies {
    let (bank, ids) = seed(intake, "LOOKUP", false).await;
    let ids = Arc::new(ids);
    let stop = Arc::new(AtomicBool::new(false));
    let mut samplers = Vec::new();
    for k in 0..4usize {
        let (ids, stop) = (ids.clone(), stop.clone());
        let mut client = IntakeServiceClient::new(internal(intake));
        samplers.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_millis(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut n = k * 1009;
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                n += 1;
                let case_id = ids[n % ids.len()].clone();
                let start = Instant::now();
                let answer = client.get_case(pb::GetCaseRequest { case_id }).await;
                samples.push(start.elapsed());
                assert!(answer.is_ok(), "{answer:?}");
            }
            samples
        }));
    }
    let mut client = IntakeServiceClient::new(internal(intake))
        .max_decoding_message_size(64 << 20)
        .max_encoding_message_size(64 << 20);
    let cases: Vec<pb::CaseInput> = (0..batch).map(|i| case_input("BIG", i)).collect();
    let stream = batch_stream(&bank, "big", cases);
    let start = Instant::now();
    let answer = client
        .submit_batch(stream)
        .await
        .expect("batch")
        .into_inner();
    let batch_secs = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    assert_eq!(
        answer.batch.expect("batch").accepted_cases as usize,
        batch,
        "every bench case is valid"
    );
    let mut samples = Vec::new();
    for s in samplers {
        samples.extend(s.await.expect("sampler"));
    }
    samples.sort();
    Latencies {
        samples,
        batch_secs,
    }
}

// ---------------------------------------------------------------------------------------------

fn main() {
    let secs: f64 = std::env::var("SIEVE_BENCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3.0);
    let batch: usize = std::env::var("SIEVE_BENCH_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    // Logs as in service (`info`), written nowhere: their cost stays, their text does not.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .with_writer(std::io::sink)
        .try_init();
    let data_dir = std::env::temp_dir().join(format!("sieve-bench-read-{}", std::process::id()));
    let key = SigningKey::generate("bench");
    let settings = settings(&data_dir, &key);
    println!("Read path — {}", machine());
    println!(
        "(a), (b): {CONNECTIONS} connections × {STREAMS} streams, {secs} s each; servers on CPU {SERVER_CPU} (one tokio worker), clients on CPU {CLIENT_CPU}"
    );

    let server_rt = pinned_runtime(SERVER_CPU, "bench-server");
    let client_rt = pinned_runtime(CLIENT_CPU, "bench-client");

    let (echo_addr, echo_stop) = server_rt.block_on(echo_server());
    let echo = client_rt.block_on(async {
        throughput(
            public_connections(echo_addr).await,
            secs,
            health_call!(Channel),
        )
        .await
    });
    let _ = echo_stop.send(());
    println!("bare tonic server (health check)   {echo:>9.0} calls/s");

    for (name, make) in targets() {
        // (a): intake alone.
        if runs("a") {
            let suite = server_rt.block_on(Suite::start(&settings, make.as_ref(), false));
            let (_, ids) = client_rt.block_on(seed(suite.intake, "ALONE", false));
            let ids = Arc::new(ids);
            // Channels are made inside the client runtime: each spawns its connection's task there.
            let health = client_rt.block_on(async {
                throughput(
                    internal_connections(suite.intake),
                    secs,
                    health_call!(InternalChannel),
                )
                .await
            });
            let get_case = client_rt.block_on(async {
                throughput(
                    internal_connections(suite.intake),
                    secs,
                    intake_get_case(ids.clone()),
                )
                .await
            });
            server_rt.block_on(suite.stop());
            println!(
                "{name:<10} (a) intake health {health:>9.0} calls/s   intake GetCase {get_case:>9.0} calls/s   ratio {:.3} (goal >= 0.3)",
                get_case / health
            );
        }

        // (b): the gateway in front of intake and the pre-check.
        if !runs("b") {
            continue;
        }
        let suite = server_rt.block_on(Suite::start(&settings, make.as_ref(), true));
        let (bank, ids) = client_rt.block_on(seed(suite.intake, "GATE", true));
        let bearer = token::mint(
            &key,
            &Claims {
                org_id: bank,
                role: Role::Bank,
                exp: None,
            },
        );
        let gateway = client_rt.block_on(async {
            throughput(
                public_connections(suite.gateway).await,
                secs,
                gateway_get_case(Arc::new(ids.clone()), bearer),
            )
            .await
        });
        // What the gateway's call is made of, each called directly on the same servers.
        let ids = Arc::new(ids);
        let parts = client_rt.block_on(async {
            (
                throughput(
                    internal_connections(suite.intake),
                    secs,
                    intake_get_case(ids.clone()),
                )
                .await,
                throughput(
                    internal_connections(suite.pre_check),
                    secs,
                    pre_check_get_check(ids.clone()),
                )
                .await,
            )
        });
        server_rt.block_on(suite.stop());
        println!(
            "{name:<10} (b) parts: intake GetCase {:>9.0} calls/s   pre-check GetCheck {:>9.0} calls/s",
            parts.0, parts.1
        );
        println!(
            "{name:<10} (b) gateway GetCase {gateway:>9.0} calls/s   bare tonic {echo:>9.0} calls/s   ratio {:.3} (goal >= 0.1)",
            gateway / echo
        );
    }

    // (c): servers and clients on every core, as deployed.
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for (name, make) in targets().into_iter().filter(|_| runs("c")) {
        let suite = server_rt.block_on(Suite::start(&settings, make.as_ref(), false));
        let lat = client_rt.block_on(during_batch(suite.intake, batch));
        server_rt.block_on(suite.stop());
        println!(
            "{name:<10} (c) GetCase during a {batch}-case SubmitBatch ({:.2} s): {} lookups, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (goal p99 < 20 ms)",
            lat.batch_secs,
            lat.samples.len(),
            lat.quantile(0.5).as_secs_f64() * 1e3,
            lat.quantile(0.99).as_secs_f64() * 1e3,
            lat.samples
                .last()
                .copied()
                .unwrap_or_default()
                .as_secs_f64()
                * 1e3,
        );
    }
    let _ = std::fs::remove_dir_all(&data_dir);
}
