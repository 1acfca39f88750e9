//! `make bench`: preservation at scale (issue 10, item 4), on SQLite and — when it answers —
//! PostgreSQL, in one run:
//!
//! 100,000 cases (untimed: submitted to intake, passed by the pre-check into PRESERVATION, and
//! their debtors' accounts opened at both simulated platforms), then, timed:
//! 1. **apply**: 100 `ApplyPreservation` calls of 1,000 rows (4 in flight, as a bank's client
//!    sends them), each row checked against intake's record of the case;
//! 2. **rule**: the court approves all of them, 100 `RuleOnApplications` calls of 1,000;
//! 3. **freeze**: the executor sends the 200,000 freeze orders to the payment simulator (a
//!    real gRPC server, one call per order) and records the answers, until none is waiting.
//!
//! Next to it, in the same run and database kind: the raw insert of the same rows (the
//! 100,000 preservations and 200,000 freeze orders read back from the service's tables) into
//! a fresh database of the same schema: multi-row INSERTs under the bind limit, a transaction
//! per chunk, no gRPC, no checks. Goals: the whole 100,000 under 60 s on SQLite, and a rate of
//! at least 0.3× the raw insert's on both databases.
//!
//! The notices (CPL 106) the executor serves after the freezes are timed on their own.
//! `SIEVE_BENCH_CASES` changes the size; `SIEVE_BENCH_DB` (`sqlite` or `postgres`) measures
//! one database only.

use std::time::{Duration, Instant};

use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, IntoActiveModel};
use sieve_e2e::{Database, INTAKE, PRE_CHECK, PRESERVATION, Simulators, Spawn, fixtures};
use sieve_kernel::Settings;
use sieve_kernel::db::{Db, Target};
use sieve_kernel::internal::InternalChannel;
use sieve_preservation::store::{freeze_order, migration, preservation};
use sieve_proto::common::v1::RowOutcome;
use sieve_proto::intake::v1 as intake;
use sieve_proto::preservation::v1 as pb;
use sieve_proto::preservation::v1::preservation_service_client::PreservationServiceClient;
use sieve_proto::sim::payment::v1 as pay;

// The allocator `sieve` runs the services with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Rows per call (the contract's limit) and calls in flight.
const PER_CALL: usize = 1_000;
const IN_FLIGHT: usize = 4;

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

fn databases() -> Vec<(&'static str, Database)> {
    let only = std::env::var("SIEVE_BENCH_DB").unwrap_or_default();
    let mut out = Vec::new();
    if only.is_empty() || only == "sqlite" {
        out.push(("SQLite", Database::Sqlite));
    }
    if only.is_empty() || only == "postgres" {
        if std::net::TcpStream::connect("127.0.0.1:5432").is_ok() {
            let url = std::env::var("SIEVE_TEST_POSTGRES_URL")
                .unwrap_or_else(|_| sieve_kernel::db::testing::POSTGRES_DEFAULT.into());
            out.push(("PostgreSQL", Database::Postgres(url)));
        } else {
            println!("PostgreSQL is not answering on 127.0.0.1:5432: measuring SQLite only");
        }
    }
    out
}

async fn count(db: &Db, sql: &str) -> i64 {
    db.read()
        .query_one_raw(sea_orm::Statement::from_string(db.backend(), sql))
        .await
        .expect("count")
        .and_then(|r| r.try_get_by_index::<i64>(0).ok())
        .unwrap_or(-1)
}

/// Polls `sql` (a count) until it reaches `n`; returns when it did.
async fn until_count(db: &Db, sql: &str, n: i64, what: &str) {
    let patience = Instant::now() + Duration::from_secs(1800);
    loop {
        let c = count(db, sql).await;
        if c >= n {
            return;
        }
        assert!(Instant::now() < patience, "{what}: {c} of {n} after 30 min");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Debtor `i`'s accounts: most hold something at both platforms, some have none at one.
/// Alipay never holds the whole amount, so every case needs an order at both.
fn accounts(i: usize) -> Vec<pay::Account> {
    let id_number = fixtures::resident_id(i);
    let mut out = Vec::new();
    if !i.is_multiple_of(10) {
        out.push(pay::Account {
            platform: pay::Platform::Alipay as i32,
            id_number: id_number.clone(),
            balance_fen: (i as i64 * 7_919) % 900_000,
            frozen_fen: 0,
        });
    }
    if !i.is_multiple_of(7) {
        out.push(pay::Account {
            platform: pay::Platform::WechatPay as i32,
            id_number,
            balance_fen: (i as i64 * 4_513) % 800_000,
            frozen_fen: 0,
        });
    }
    out
}

fn application(case_id: String, i: usize) -> pb::PreservationInput {
    let amount_fen = 1_000_000;
    pb::PreservationInput {
        amount_fen,
        guarantee: Some(pb::Guarantee {
            kind: pb::GuaranteeKind::InsurancePolicy as i32,
            issuer_name: "中国人民财产保险股份有限公司伊春市分公司".into(),
            issuer_code: "91230700MA1B2C3D4E".into(),
            instrument_number: format!("PICC-{i:07}"),
            amount_fen,
            valid_from: fixtures::date(2020, 1, 1),
            valid_until: None,
            document: None,
        }),
        platforms: vec![],
        callback_phone: String::new(),
        case_id,
    }
}

type Client = PreservationServiceClient<InternalChannel>;

/// Sends `calls`, `IN_FLIGHT` at once; returns every row answered.
async fn send_all<R, F, Fut>(calls: Vec<R>, call: F) -> Vec<pb::PreservationRow>
where
    F: Fn(R) -> Fut,
    Fut: Future<Output = Vec<pb::PreservationRow>>,
{
    use futures::StreamExt;
    futures::stream::iter(calls)
        .map(call)
        .buffer_unordered(IN_FLIGHT)
        .flat_map(futures::stream::iter)
        .collect()
        .await
}

struct Measured {
    apply: f64,
    rule: f64,
    freeze: f64,
    notices: f64,
    frozen_fen: i64,
    raw: f64,
    /// CPU seconds the process spent (every service and simulator in it) over the timed
    /// phases: near twice the wall time means both cores were busy.
    cpu: f64,
}

/// This process's user and system CPU seconds so far (Linux `/proc`; 0 elsewhere).
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime (stat(5) fields 14 and 15) in ticks of 1/100 s.
    (ticks(11) + ticks(12)) / 100.0
}

async fn measure(database: &Database, n: usize) -> Measured {
    let sims = Simulators::start(sieve_kernel::clock::system()).await;
    let spawn = Spawn::on(&[INTAKE, PRE_CHECK, PRESERVATION], database).configure(|s| {
        s.server.request_timeout_secs = 3600;
        s.set_service("bad_debt_check", "run_delay_ms", 50);
        sims.configure(s);
    });
    let spawned = spawn.clone().start().await;

    // Untimed: the cases in PRESERVATION, the accounts open.
    let mut intake_client = spawned
        .intake()
        .max_encoding_message_size(64 << 20)
        .max_decoding_message_size(64 << 20);
    let bank_id = intake_client
        .register_bank(fixtures::bank("BENCH"))
        .await
        .expect("bank")
        .into_inner()
        .bank
        .expect("bank")
        .bank_id;
    let header = intake::SubmitBatchRequest {
        item: Some(intake::submit_batch_request::Item::Header(
            intake::BatchHeader {
                bank_id: bank_id.clone(),
                request_id: "bench".into(),
                expected_cases: n as i64,
                label: "bench".into(),
            },
        )),
    };
    let chunks: Vec<intake::SubmitBatchRequest> = (0..n)
        .step_by(PER_CALL)
        .map(|from| intake::SubmitBatchRequest {
            item: Some(intake::submit_batch_request::Item::Chunk(
                intake::CaseChunk {
                    cases: (from..(from + PER_CALL).min(n))
                        .map(|i| fixtures::case("B", i))
                        .collect(),
                },
            )),
        })
        .collect();
    let batch = intake_client
        .submit_batch(futures::stream::iter(std::iter::once(header).chain(chunks)))
        .await
        .expect("submit")
        .into_inner()
        .batch
        .expect("batch");
    assert_eq!(
        batch.accepted_cases as usize, n,
        "every bench case is valid"
    );
    let intake_db = spawned.database(INTAKE).await;
    until_count(
        &intake_db,
        "SELECT COUNT(*) FROM court_case WHERE stage = 'PRESERVATION'",
        n as i64,
        "cases in PRESERVATION",
    )
    .await;
    // The cases in submission order: case i's debtor is resident_id(i).
    let cases: Vec<(String, String)> = intake_db
        .read()
        .query_all_raw(sea_orm::Statement::from_string(
            intake_db.backend(),
            "SELECT id, bank_case_ref FROM court_case ORDER BY bank_case_ref",
        ))
        .await
        .expect("cases")
        .into_iter()
        .map(|r| {
            (
                r.try_get_by_index::<String>(0).expect("id"),
                r.try_get_by_index::<String>(1).expect("ref"),
            )
        })
        .collect();
    assert_eq!(cases.len(), n);
    let mut payment = sims.payment().max_encoding_message_size(64 << 20);
    for from in (0..n).step_by(10_000) {
        payment
            .open_accounts(pay::OpenAccountsRequest {
                accounts: (from..(from + 10_000).min(n)).flat_map(accounts).collect(),
            })
            .await
            .expect("accounts");
    }
    let store = spawned.database(PRESERVATION).await;
    let client: Client = spawned
        .preservation()
        .max_encoding_message_size(64 << 20)
        .max_decoding_message_size(64 << 20);

    eprintln!("{n} cases in PRESERVATION, their accounts open: measuring");
    // 1. apply
    let cpu_before = cpu_secs();
    let started = Instant::now();
    let calls: Vec<(usize, Vec<pb::PreservationInput>)> = cases
        .chunks(PER_CALL)
        .enumerate()
        .map(|(k, chunk)| {
            let applications = chunk
                .iter()
                .enumerate()
                .map(|(j, (id, _))| application(id.clone(), k * PER_CALL + j))
                .collect();
            (k, applications)
        })
        .collect();
    let applied = send_all(calls, |(k, applications)| {
        let mut client = client.clone();
        let bank_id = bank_id.clone();
        async move {
            client
                .apply_preservation(pb::ApplyPreservationRequest {
                    request_id: format!("apply-{k}"),
                    bank_id,
                    applications,
                })
                .await
                .expect("apply")
                .into_inner()
                .rows
        }
    })
    .await;
    let apply = started.elapsed().as_secs_f64();
    let ids: Vec<String> = applied
        .iter()
        .filter(|r| r.outcome == RowOutcome::Accepted as i32)
        .filter_map(|r| r.preservation.as_ref().map(|p| p.preservation_id.clone()))
        .collect();
    assert_eq!(
        ids.len(),
        n,
        "every application accepted: {:?}",
        applied.first()
    );

    // 2. rule
    let started = Instant::now();
    let calls: Vec<(usize, Vec<pb::ApplicationRuling>)> = ids
        .chunks(PER_CALL)
        .enumerate()
        .map(|(k, chunk)| {
            let rulings = chunk
                .iter()
                .enumerate()
                .map(|(j, id)| pb::ApplicationRuling {
                    preservation_id: id.clone(),
                    decision: pb::RulingDecision::Approve as i32,
                    reason: String::new(),
                    ruling_number: format!("(2026)黑0722财保{}号", k * PER_CALL + j + 1),
                })
                .collect();
            (k, rulings)
        })
        .collect();
    let ruled = send_all(calls, |(k, rulings)| {
        let mut client = client.clone();
        async move {
            client
                .rule_on_applications(pb::RuleOnApplicationsRequest {
                    request_id: format!("rule-{k}"),
                    judge: "李法官".into(),
                    rulings,
                })
                .await
                .expect("rule")
                .into_inner()
                .rows
        }
    })
    .await;
    let rule = started.elapsed().as_secs_f64();
    let approved = ruled
        .iter()
        .filter(|r| r.outcome == RowOutcome::Accepted as i32)
        .count();
    assert_eq!(approved, n, "every ruling accepted: {:?}", ruled.first());

    // 3. freeze: every order answered and recorded (the notice falls due when a
    // preservation's last order has answered).
    let started = Instant::now();
    until_count(
        &store,
        "SELECT COUNT(*) FROM preservation WHERE notice_status <> ''",
        n as i64,
        "freeze orders answered",
    )
    .await;
    let freeze = started.elapsed().as_secs_f64();
    let cpu = cpu_secs() - cpu_before;
    let frozen_fen = count(
        &store,
        "SELECT CAST(COALESCE(SUM(frozen_fen), 0) AS BIGINT) FROM freeze_order",
    )
    .await;
    let over = count(
        &store,
        "SELECT COUNT(*) FROM preservation p WHERE amount_fen < \
         (SELECT SUM(frozen_fen) FROM freeze_order o WHERE o.preservation_id = p.id)",
    )
    .await;
    assert_eq!(over, 0, "no preservation frozen above its amount");

    let started = Instant::now();
    until_count(
        &store,
        "SELECT COUNT(*) FROM preservation WHERE notice_status IN ('delivered', 'failed')",
        n as i64,
        "notices served",
    )
    .await;
    let notices = started.elapsed().as_secs_f64();

    // The same rows, read back, for the raw insert.
    let rows = preservation::Entity::find()
        .all(store.read())
        .await
        .expect("preservations");
    let orders = freeze_order::Entity::find()
        .all(store.read())
        .await
        .expect("orders");
    assert_eq!(
        (rows.len(), orders.len()),
        (n, 2 * n),
        "preservations, orders"
    );
    spawned.stop().await;
    sims.stop();
    let raw = raw_insert(database, &spawn.settings().clone(), rows, orders).await;
    drop(spawn);
    Measured {
        apply,
        rule,
        freeze,
        notices,
        frozen_fen,
        raw,
        cpu,
    }
}

/// The raw insert of the same rows into a fresh database of the same kind and schema.
async fn raw_insert(
    database: &Database,
    settings: &Settings,
    rows: Vec<preservation::Model>,
    orders: Vec<freeze_order::Model>,
) -> f64 {
    let target = match database {
        Database::Sqlite => {
            let dir = std::env::temp_dir().join("sieve-bench");
            let _ = std::fs::create_dir_all(&dir);
            let id = uuid::Uuid::new_v4().simple().to_string();
            Target::Sqlite(format!(
                "sqlite://{}?mode=rwc",
                dir.join(format!("preservation-{id}.db")).display()
            ))
        }
        Database::Postgres(url) => {
            let id = uuid::Uuid::new_v4().simple().to_string();
            Target::Postgres {
                url: url.clone(),
                schema: format!("t_bench_{}", &id[..12]),
            }
        }
    };
    let scratch = sieve_kernel::db::testing::Scratch(target);
    let db = sieve_kernel::db::connect_and_migrate::<migration::Migrator>(
        &scratch.0,
        &settings.database,
    )
    .await
    .expect("a fresh database");
    let started = Instant::now();
    insert(&db, rows).await;
    insert(&db, orders).await;
    let secs = started.elapsed().as_secs_f64();
    let _ = db.close().await;
    secs
}

async fn insert<M>(db: &Db, rows: Vec<M>)
where
    M: sea_orm::ModelTrait + IntoActiveModel<<M::Entity as EntityTrait>::ActiveModel>,
    <M::Entity as EntityTrait>::ActiveModel: ActiveModelTrait<Entity = M::Entity>,
{
    let per_insert = sieve_kernel::db::rows_per_insert::<M::Entity>(db.backend());
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let txn = sieve_kernel::db::begin_write(db).await.expect("txn");
        let models: Vec<_> = rows
            .by_ref()
            .take(per_insert)
            .map(|m| m.into_active_model().reset_all())
            .collect();
        <M::Entity as EntityTrait>::insert_many(models)
            .exec_without_returning(&txn)
            .await
            .expect("insert");
        txn.commit().await.expect("commit");
    }
}

fn main() {
    let n: usize = std::env::var("SIEVE_BENCH_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "{n} preservations: apply → rule → {} freeze orders answered, vs raw insert of the same rows — {}",
        2 * n,
        machine()
    );
    for (name, database) in databases() {
        let m = rt.block_on(measure(&database, n));
        let whole = m.apply + m.rule + m.freeze;
        let rate = n as f64 / whole;
        let raw_rate = n as f64 / m.raw;
        println!(
            "{name:<10}  whole {rate:>7.0} cases/s ({whole:.1} s: apply {:.1}, rule {:.1}, freeze {:.1})   \
             raw insert {raw_rate:>7.0} cases/s ({:.2} s)   ratio {:.2}   cpu {:.1} s   notices after {:.1} s   frozen {:.2} yuan",
            m.apply,
            m.rule,
            m.freeze,
            m.raw,
            rate / raw_rate,
            m.cpu,
            m.notices,
            m.frozen_fen as f64 / 100.0,
        );
    }
}
