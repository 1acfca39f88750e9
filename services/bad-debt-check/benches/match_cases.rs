//! `make bench`: import 5,000,000 rulings through `ImportRulings`, then pre-check 1,000,000
//! cases through `CheckCases` (calls of 1,000, as intake's relay sends them) until the
//! matching runs have decided every case, against the same match as one SQL join in the same
//! database in the same run. SQLite, and PostgreSQL when it
//! answers. `SIEVE_BENCH_RULINGS` / `SIEVE_BENCH_CASES` change the sizes.

use std::time::Instant;

use sea_orm::{ConnectionTrait, EntityTrait};
use sieve_bad_debt_check::domain::ruling::check_character;
use sieve_bad_debt_check::store;
use sieve_kernel::Settings;
use sieve_kernel::db::Target;
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

async fn run(name: &str, target: Target, rulings: u64, cases: u64) {
    let mut s = Settings::defaults().expect("defaults");
    s.server.request_timeout_secs = 7200;
    s.database.data_dir = std::env::temp_dir().join("sieve-bench");
    let app = sieve_bad_debt_check::Application::build(
        &s,
        &target,
        sieve_kernel::clock::system(),
        0,
        "http://127.0.0.1:1",
    )
    .await
    .expect("build");
    let addr = app.local_addr();
    let db = app.db().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .expect("url")
        .connect()
        .await
        .expect("connect");
    let mut registry =
        RegistryServiceClient::new(channel.clone()).max_encoding_message_size(64 << 20);
    let mut pre_check = PreCheckServiceClient::new(channel)
        .max_decoding_message_size(64 << 20)
        .max_encoding_message_size(64 << 20);

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
    let imported = registry
        .import_rulings(tokio_stream::iter(std::iter::once(header).chain(chunks)))
        .await
        .expect("import")
        .into_inner();
    let import_secs = start.elapsed().as_secs_f64();
    assert_eq!(
        imported.ruling_import.expect("import").added_rulings as u64,
        rulings
    );

    // The pre-check of every case, as intake's relay would deliver it: calls of 1,000 cases
    // taken, and matching runs going on meanwhile over whatever has been taken.
    let calls: Vec<Vec<common::CaseSummary>> = (0..cases.div_ceil(1000))
        .map(|c| (c * 1000..((c + 1) * 1000).min(cases)).map(case).collect())
        .collect();
    let start = Instant::now();
    let mut accepted = 0u64;
    for (n, cases) in calls.into_iter().enumerate() {
        accepted += pre_check
            .check_cases(bdc::CheckCasesRequest {
                request_id: format!("bench-{n}"),
                cases,
            })
            .await
            .expect("check")
            .into_inner()
            .accepted as u64;
    }
    let take_secs = start.elapsed().as_secs_f64();
    assert_eq!(accepted, cases);
    loop {
        if store::progress(&db).await.expect("progress").waiting() <= 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let match_secs = start.elapsed().as_secs_f64();
    let runs = store::match_run::Entity::find()
        .all(&db)
        .await
        .expect("runs");
    let run_secs = runs.iter().map(|r| r.took_ms).sum::<i64>() as f64 / 1000.0;
    let largest_run = runs.iter().map(|r| r.cases).max().unwrap_or(0);
    let matched = count(&db, "SELECT COUNT(DISTINCT check_seq) FROM check_match").await as u64;

    // The same match as one SQL join over the same rulings, the cases staged in a table first.
    db.execute_unprepared(
        "CREATE TABLE bench_case (case_id VARCHAR NOT NULL, id_number VARCHAR NOT NULL)",
    )
    .await
    .expect("stage");
    let per = 2000u64;
    for c in 0..cases.div_ceil(per) {
        let values: Vec<String> = (c * per..((c + 1) * per).min(cases))
            .map(|i| format!("('case-{i:09}', '{}')", id_number(i)))
            .collect();
        db.execute_unprepared(&format!(
            "INSERT INTO bench_case VALUES {}",
            values.join(",")
        ))
        .await
        .expect("stage");
    }
    let start = Instant::now();
    db.execute_unprepared(
        "CREATE TABLE bench_match AS SELECT c.case_id, r.ruling_number FROM bench_case c \
         LEFT JOIN ruling r ON r.debtor_id_number = c.id_number AND r.revoked = false",
    )
    .await
    .expect("join");
    let join_secs = start.elapsed().as_secs_f64();
    let joined = count(
        &db,
        "SELECT COUNT(*) FROM bench_match WHERE ruling_number IS NOT NULL",
    )
    .await;
    assert_eq!(
        joined as u64, matched,
        "the service and the join agree on the matches"
    );

    println!(
        "{name:<10}  import {rulings} rulings: {:>8.0} rows/s ({import_secs:.1} s)",
        rulings as f64 / import_secs
    );
    println!(
        "{name:<10}  pre-check {cases} cases: {:>8.0} cases/s ({match_secs:.1} s to the last outcome; calls done at {take_secs:.1} s; {matched} matched)",
        cases as f64 / match_secs
    );
    println!(
        "{name:<10}  matching runs: {} (largest {largest_run} cases), {run_secs:.2} s in all   one SQL join: {join_secs:.2} s   runs/join {:.2}",
        runs.len(),
        run_secs / join_secs
    );
    let _ = stop.send(());
    let _ = server.await;
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
