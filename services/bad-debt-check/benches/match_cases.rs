//! `make bench`: import 5,000,000 rulings through `ImportRulings`, then
//! 1. pre-check 1,000,000 cases as in service: `CheckCases` calls of 1,000 (as intake's relay
//!    sends them) while matching runs decide what has been taken, until the last case;
//! 2. match another 1,000,000 cases with the matcher alone;
//!
//! each next to the same match as one SQL join in the same database in the same run. SQLite, and PostgreSQL when it
//! answers. `SIEVE_BENCH_RULINGS` / `SIEVE_BENCH_CASES` change the sizes.

use sieve_kernel::service::{Context, Service as _};
use std::time::Instant;

use sea_orm::{ConnectionTrait, EntityTrait};
use sieve_bad_debt_check::store;
use sieve_kernel::Settings;
use sieve_kernel::db::Target;
use sieve_kernel::rules::resident_id::check_character;
use sieve_proto::bad_debt_check::v1 as bdc;
use sieve_proto::bad_debt_check::v1::pre_check_service_client::PreCheckServiceClient;
use sieve_proto::bad_debt_check::v1::registry_service_client::RegistryServiceClient;
use sieve_proto::common::v1 as common;

fn id_number(i: u64) -> String {
    // Distinct, valid IDs: region 230722, a birth date, a sequence.
    let day = 1 + (i % 28);
    let month = 1 + (i / 28 % 12);
    let year = 1950 + (i / 336 % 50);
    let seq = i / 16_800 % 1000;
    let region = 230700 + (i / 16_800_000 % 100);
    let first17 = format!("{region:06}{year:04}{month:02}{day:02}{seq:03}");
    let check = check_character(&first17).unwrap_or('0');
    format!("{first17}{check}")
}

fn ruling(i: u64) -> bdc::RulingInput {
    bdc::RulingInput {
        ruling_number: format!("(2024)黑0722执{i}号之一"),
        court: Some(common::Court {
            code: "黑0722".into(),
            name: "嘉荫县人民法院".into(),
        }),
        debtor_name: "张秀英".into(),
        // Every other ruling names a debtor the cases will have: half the cases match.
        debtor_id_number: id_number(i * 2),
        enforcement_filed_on: Some(common::Date {
            year: 2024,
            month: 1,
            day: 10,
        }),
        terminated_on: Some(common::Date {
            year: 2024,
            month: 6,
            day: 20,
        }),
        unpaid_fen: 1_595_750,
        status: if i.is_multiple_of(50) {
            bdc::RulingStatus::Revoked
        } else {
            bdc::RulingStatus::Standing
        } as i32,
        row: 0,
    }
}

fn case(i: u64) -> common::CaseSummary {
    common::CaseSummary {
        case_ref: Some(common::CaseRef {
            case_id: format!("case-{i:09}"),
            bank_id: "bank".into(),
            bank_case_ref: format!("REF-{i:09}"),
        }),
        product: common::ProductType::CreditCard as i32,
        debtor: Some(common::Debtor {
            kind: common::DebtorKind::NaturalPerson as i32,
            name: "张秀英".into(),
            id_number: id_number(i),
            ..Default::default()
        }),
        claim: Some(common::Claim {
            principal_fen: 3_267_620,
            interest_fen: 45_061,
            penalty_fen: 56_838,
            fees_fen: 0,
            total_fen: 0,
        }),
        contract_ref: format!("HT{i:09}"),
    }
}

async fn count(db: &sea_orm::DatabaseConnection, sql: &str) -> i64 {
    db.query_one_raw(sea_orm::Statement::from_string(
        db.get_database_backend(),
        sql,
    ))
    .await
    .expect("count")
    .and_then(|r| r.try_get_by_index::<i64>(0).ok())
    .unwrap_or(-1)
}

fn env_n(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A running pre-check service and a client of it.
struct Service {
    registry: RegistryServiceClient<sieve_kernel::internal::InternalChannel>,
    pre_check: PreCheckServiceClient<sieve_kernel::internal::InternalChannel>,
    db: sieve_kernel::db::Db,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
}

impl Service {
    async fn start(s: &Settings, target: &Target) -> Service {
        let app = sieve_bad_debt_check::Application::build(
            Context::of::<sieve_bad_debt_check::Application>(s)
                .expect("the pre-check's settings")
                .with_target(target.clone())
                .with_peer(sieve_intake::SERVICE, "http://127.0.0.1:1")
                .any_port(),
        )
        .await
        .expect("build");
        let addr = app.local_addr();
        let db = app.db().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        let trust = sieve_kernel::internal::Trust::from_settings(s).expect("credential");
        let channel = sieve_kernel::internal::channel(&format!("http://{addr}"), &s.server, &trust)
            .expect("channel");
        Service {
            registry: RegistryServiceClient::new(channel.clone())
                .max_encoding_message_size(64 << 20),
            pre_check: PreCheckServiceClient::new(channel)
                .max_decoding_message_size(64 << 20)
                .max_encoding_message_size(64 << 20),
            db,
            stop,
            server,
        }
    }

    async fn stop(self) -> sieve_kernel::db::Db {
        let _ = self.stop.send(());
        let _ = self.server.await;
        self.db
    }

    /// Delivers the calls one after another, as intake's relay does.
    async fn take(&mut self, calls: Vec<Vec<common::CaseSummary>>) {
        let expected: usize = calls.iter().map(Vec::len).sum();
        let mut accepted = 0;
        for cases in calls {
            // Named after its first case: unique across both phases.
            let first = cases.first().and_then(|c| c.case_ref.as_ref());
            let request_id = format!("bench-{}", first.map_or("", |r| r.case_id.as_str()));
            accepted += self
                .pre_check
                .check_cases(bdc::CheckCasesRequest { request_id, cases })
                .await
                .expect("check")
                .into_inner()
                .accepted as u64;
        }
        assert_eq!(accepted, expected as u64);
    }
}

/// Cases `from..to` in calls of 1,000, generated before any clock starts.
fn calls(from: u64, to: u64) -> Vec<Vec<common::CaseSummary>> {
    (from..to)
        .step_by(1000)
        .map(|c| (c..(c + 1000).min(to)).map(case).collect())
        .collect()
}

/// The same match as one SQL join over the same rulings, cases `from..to` staged in a table
/// first (untimed). Returns its seconds and the cases it matched.
/// The same match as one SQL statement over the same cases, staged first (untimed).
struct Join {
    /// `CREATE TABLE … AS SELECT … LEFT JOIN`: the fastest one statement; PostgreSQL runs
    /// it as a parallel hash join.
    create_as: f64,
    /// `INSERT INTO … SELECT … LEFT JOIN` into an existing table, the statement a service
    /// that keeps its results must write; PostgreSQL 15 plans no workers for it.
    insert_select: f64,
    matched: u64,
}

async fn join(db: &sea_orm::DatabaseConnection, from: u64, to: u64) -> Join {
    for sql in [
        "DROP TABLE IF EXISTS bench_case",
        "DROP TABLE IF EXISTS bench_match",
        "DROP TABLE IF EXISTS bench_insert",
    ] {
        db.execute_unprepared(sql).await.expect("drop");
    }
    for sql in [
        "CREATE TABLE bench_case (case_id VARCHAR NOT NULL, id_number VARCHAR NOT NULL)",
        "CREATE TABLE bench_insert (case_id VARCHAR NOT NULL, ruling_number VARCHAR)",
    ] {
        db.execute_unprepared(sql).await.expect("stage");
    }
    for c in (from..to).step_by(2000) {
        let values: Vec<String> = (c..(c + 2000).min(to))
            .map(|i| format!("('case-{i:09}', '{}')", id_number(i)))
            .collect();
        db.execute_unprepared(&format!(
            "INSERT INTO bench_case VALUES {}",
            values.join(",")
        ))
        .await
        .expect("stage");
    }
    const SELECT: &str = "SELECT c.case_id, r.ruling_number FROM bench_case c \
         LEFT JOIN ruling r ON r.debtor_id_number = c.id_number AND r.revoked = false";
    let timed = |sql: String| async move {
        let start = Instant::now();
        db.execute_unprepared(&sql).await.expect("join");
        start.elapsed().as_secs_f64()
    };
    let create_as = timed(format!("CREATE TABLE bench_match AS {SELECT}")).await;
    let insert_select = timed(format!("INSERT INTO bench_insert {SELECT}")).await;
    let distinct = |table: &str| {
        format!("SELECT COUNT(DISTINCT case_id) FROM {table} WHERE ruling_number IS NOT NULL")
    };
    let matched = count(db, &distinct("bench_match")).await;
    assert_eq!(
        count(db, &distinct("bench_insert")).await,
        matched,
        "both statements match the same cases"
    );
    Join {
        create_as,
        insert_select,
        matched: matched as u64,
    }
}

/// Cases the service matched among checks numbered `after < seq <= last`.
async fn matched_between(db: &sea_orm::DatabaseConnection, after: i64, last: i64) -> u64 {
    count(
        db,
        &format!(
            "SELECT COUNT(DISTINCT check_seq) FROM check_match \
             WHERE check_seq > {after} AND check_seq <= {last}"
        ),
    )
    .await as u64
}

async fn run(name: &str, target: Target, rulings: u64, cases: u64) {
    let mut s = Settings::defaults().expect("defaults");
    s.server.request_timeout_secs = 7200;
    s.database.data_dir = std::env::temp_dir().join("sieve-bench");
    let mut service = Service::start(&s, &target).await;

    // Import, streamed in chunks generated as they are sent.
    let header = bdc::ImportRulingsRequest {
        item: Some(bdc::import_rulings_request::Item::Header(
            bdc::ImportHeader {
                request_id: "bench".into(),
                source_court: Some(common::Court {
                    code: "黑0722".into(),
                    name: "嘉荫县人民法院".into(),
                }),
                expected_rulings: rulings as i64,
                label: "bench".into(),
            },
        )),
    };
    let chunks = (0..rulings.div_ceil(2000)).map(move |c| bdc::ImportRulingsRequest {
        item: Some(bdc::import_rulings_request::Item::Chunk(bdc::RulingChunk {
            rulings: (c * 2000..((c + 1) * 2000).min(rulings))
                .map(ruling)
                .collect(),
        })),
    });
    let start = Instant::now();
    let imported = service
        .registry
        .import_rulings(tokio_stream::iter(std::iter::once(header).chain(chunks)))
        .await
        .expect("import")
        .into_inner();
    let import_secs = start.elapsed().as_secs_f64();
    assert_eq!(
        imported.ruling_import.expect("import").added_rulings as u64,
        rulings
    );
    println!(
        "{name:<10}  import {rulings} rulings: {:>8.0} rows/s ({import_secs:.1} s)",
        rulings as f64 / import_secs
    );

    // 1. As in service: cases delivered in calls of 1,000 while the matcher runs over
    //    whatever has been taken, until the last case is decided.
    let first = calls(0, cases);
    let start = Instant::now();
    service.take(first).await;
    let take_secs = start.elapsed().as_secs_f64();
    while store::progress(service.db.read())
        .await
        .expect("progress")
        .waiting()
        > 0
    {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let flow_secs = start.elapsed().as_secs_f64();
    let db = service.stop().await;
    let runs = store::match_run::Entity::find()
        .all(db.writer())
        .await
        .expect("runs");
    let flow_run_secs = runs.iter().map(|r| r.took_ms).sum::<i64>() as f64 / 1000.0;
    let flow_matched = matched_between(db.writer(), 0, cases as i64).await;
    let flow_join = join(db.writer(), 0, cases).await;
    assert_eq!(
        flow_join.matched, flow_matched,
        "the service and the join agree"
    );
    println!(
        "{name:<10}  as in service: {cases} cases pre-checked in {flow_secs:.1} s ({:.0} cases/s; calls done at {take_secs:.1} s), {flow_matched} matched; {} runs took {flow_run_secs:.2} s   one SQL join: {:.2} s (as INSERT … SELECT: {:.2} s)   runs/join {:.2}",
        cases as f64 / flow_secs,
        runs.len(),
        flow_join.create_as,
        flow_join.insert_select,
        flow_run_secs / flow_join.create_as
    );

    // 2. Matching alone, as the join runs alone: another million cases taken while the
    //    matcher waits, then runs of `max_cases_per_run` over them with nothing else going on.
    s.set_service("bad_debt_check", "run_delay_ms", 24 * 3_600_000i64);
    s.set_service("bad_debt_check", "max_cases_per_run", i64::MAX);
    let mut service = Service::start(&s, &target).await;
    service.take(calls(cases, 2 * cases)).await;
    let db = service.stop().await;
    let matcher = sieve_bad_debt_check::matcher::Matcher::new(
        db.clone(),
        sieve_kernel::clock::system(),
        None,
        // SIEVE_BENCH_RUN_CASES measures another run size than the default.
        env_n(
            "SIEVE_BENCH_RUN_CASES",
            sieve_bad_debt_check::PreCheckSettings::of(&Settings::defaults().expect("defaults"))
                .expect("the pre-check's defaults")
                .max_cases_per_run as u64,
        ) as i64,
        std::time::Duration::ZERO,
        std::sync::Arc::new(tokio::sync::Notify::new()),
    );
    let start = Instant::now();
    let mut alone_runs = 0;
    while matcher.run_once().await.expect("run").is_some() {
        alone_runs += 1;
    }
    let alone_secs = start.elapsed().as_secs_f64();
    let alone_matched = matched_between(db.writer(), cases as i64, 2 * cases as i64).await;
    let alone_join = join(db.writer(), cases, 2 * cases).await;
    assert_eq!(
        alone_join.matched, alone_matched,
        "the service and the join agree"
    );
    println!(
        "{name:<10}  matching alone: {cases} cases in {alone_runs} runs: {alone_secs:.2} s, {alone_matched} matched   one SQL join: {:.2} s (as INSERT … SELECT: {:.2} s)   runs/join {:.2}",
        alone_join.create_as,
        alone_join.insert_select,
        alone_secs / alone_join.create_as
    );

    match target {
        Target::Postgres { url, schema } => {
            let _ = sieve_kernel::db::drop_schema(&url, &schema).await;
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

fn main() {
    let rulings = env_n("SIEVE_BENCH_RULINGS", 5_000_000);
    let cases = env_n("SIEVE_BENCH_CASES", 1_000_000);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    println!("pre-check: {rulings} rulings, {cases} cases — {cores} cores");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let id = || uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
    let dir = std::env::temp_dir().join("sieve-bench");
    let _ = std::fs::create_dir_all(&dir);
    // SIEVE_BENCH_DATABASES=sqlite or =postgres measures one of them only.
    let only = std::env::var("SIEVE_BENCH_DATABASES").unwrap_or_default();
    if only.is_empty() || only.contains("sqlite") {
        rt.block_on(run(
            "SQLite",
            Target::Sqlite(format!(
                "sqlite://{}?mode=rwc",
                dir.join(format!("bdc-{}.db", id())).display()
            )),
            rulings,
            cases,
        ));
    }
    if !(only.is_empty() || only.contains("postgres")) {
        return;
    }
    if std::net::TcpStream::connect("127.0.0.1:5432").is_ok() {
        let url = std::env::var("SIEVE_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| sieve_kernel::db::testing::POSTGRES_DEFAULT.into());
        rt.block_on(run(
            "PostgreSQL",
            Target::Postgres {
                url,
                schema: format!("bench_{}", id()),
            },
            rulings,
            cases,
        ));
    } else {
        println!("PostgreSQL is not answering on 127.0.0.1:5432: measuring SQLite only");
    }
}
