//! `make bench`: a 200,000-case SubmitBatch over real gRPC, against the raw bulk insert of the
//! same rows into the same database in the same run (no gRPC, no screening), on SQLite and —
//! when it answers — PostgreSQL. Prints cases/s, rows/s and their ratio (goal: >= 0.5).
//!
//! `SIEVE_BENCH_CASES` changes the batch size.

use sieve_kernel::service::{Context, Service as _};
use std::time::Instant;

use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel};
use sieve_intake::store::{self, case};
use sieve_kernel::Settings;
use sieve_kernel::db::Target;
use sieve_kernel::rules::resident_id::numbered as id_number;
use sieve_proto::common::v1::{Claim, Debtor, DebtorKind, ProductType};
use sieve_proto::intake::v1 as pb;
use sieve_proto::intake::v1::intake_service_client::IntakeServiceClient;

fn case_input(i: usize) -> pb::CaseInput {
    pb::CaseInput {
        bank_case_ref: format!("BENCH-{i:08}"),
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

fn settings() -> Settings {
    let mut s = sieve_kernel::internal::testing::settings();
    s.server.request_timeout_secs = 3600;
    s
}

/// A database kind and how to make a fresh database of it.
type MakeTarget = (&'static str, Box<dyn Fn() -> Target>);

fn targets() -> Vec<MakeTarget> {
    let mut out: Vec<MakeTarget> = vec![(
        "SQLite",
        Box::new(|| {
            let dir = std::env::temp_dir().join("sieve-bench");
            let _ = std::fs::create_dir_all(&dir);
            let id = uuid::Uuid::new_v4().simple().to_string();
            Target::Sqlite(format!(
                "sqlite://{}?mode=rwc",
                dir.join(format!("intake-{id}.db")).display()
            ))
        }),
    )];
    if std::net::TcpStream::connect("127.0.0.1:5432").is_ok() {
        out.push((
            "PostgreSQL",
            Box::new(|| {
                let id = uuid::Uuid::new_v4().simple().to_string();
                Target::Postgres {
                    url: std::env::var("SIEVE_TEST_POSTGRES_URL")
                        .unwrap_or_else(|_| sieve_kernel::db::testing::POSTGRES_DEFAULT.into()),
                    schema: format!("bench_{}", &id[..12]),
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

/// The whole path: gRPC stream, decoding, screening, chunked transactional writes.
async fn submit_batch(target: &Target, cases: &[pb::CaseInput]) -> f64 {
    let s = settings();
    let app = sieve_intake::Application::build(
        Context::of::<sieve_intake::Application>(&s)
            .expect("intake's settings")
            .with_target(target.clone())
            .any_port(),
    )
    .await
    .expect("build");
    let addr = app.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let channel = sieve_kernel::internal::testing::channel(&format!("http://{addr}"));
    let mut client = IntakeServiceClient::new(channel)
        .max_encoding_message_size(64 << 20)
        .max_decoding_message_size(64 << 20);
    let bank = client
        .register_bank(pb::RegisterBankRequest {
            code: "BENCH".into(),
            name: "bench".into(),
            callback_phone: "0458-6123456".into(),
        })
        .await
        .expect("bank")
        .into_inner()
        .bank
        .expect("bank")
        .bank_id;
    let header = pb::SubmitBatchRequest {
        item: Some(pb::submit_batch_request::Item::Header(pb::BatchHeader {
            bank_id: bank,
            request_id: "bench".into(),
            expected_cases: cases.len() as i64,
            label: "bench".into(),
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
    let stream = tokio_stream::iter(std::iter::once(header).chain(chunks));
    let start = Instant::now();
    let res = client
        .submit_batch(stream)
        .await
        .expect("submit")
        .into_inner();
    let secs = start.elapsed().as_secs_f64();
    let batch = res.batch.expect("batch");
    assert_eq!(
        batch.accepted_cases as usize,
        cases.len(),
        "every bench case is valid"
    );
    let _ = stop.send(());
    let _ = server.await;
    secs
}

/// The raw bulk insert of the same rows: the same table, the same multi-row INSERT sized under
/// the bind limit, one transaction per chunk; no gRPC, no screening, no conflict handling.
async fn raw_insert(target: &Target, cases: &[pb::CaseInput]) -> f64 {
    let s = settings();
    let db =
        sieve_kernel::db::connect_and_migrate::<store::migration::Migrator>(target, &s.database)
            .await
            .expect("db");
    let now = chrono::Utc::now().timestamp_millis();
    let rows: Vec<case::Model> = cases
        .iter()
        .enumerate()
        .map(|(i, c)| {
            sieve_intake::convert::new_case(
                sieve_intake::convert::draft(c.clone()),
                uuid::Uuid::now_v7().simple().to_string(),
                "bank",
                "batch",
                i as i64 + 1,
                now,
            )
        })
        .collect();
    let per_insert = sieve_kernel::db::rows_per_insert::<case::Entity>(db.backend());
    let start = Instant::now();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let txn = sieve_kernel::db::begin_write(&db).await.expect("txn");
        let models: Vec<case::ActiveModel> = rows
            .by_ref()
            .take(per_insert)
            .map(|m| m.into_active_model().reset_all())
            .collect();
        case::Entity::insert_many(models)
            .exec_without_returning(&txn)
            .await
            .expect("insert");
        txn.commit().await.expect("commit");
    }
    let secs = start.elapsed().as_secs_f64();
    let _ = db.close().await;
    secs
}

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

fn main() {
    let n: usize = std::env::var("SIEVE_BENCH_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "SubmitBatch of {n} cases vs raw bulk insert of the same rows — {}",
        machine()
    );
    let cases: Vec<pb::CaseInput> = (0..n).map(case_input).collect();
    for (name, make) in targets() {
        rt.block_on(async {
            let t1 = make();
            let raw = raw_insert(&t1, &cases).await;
            cleanup(&t1).await;
            let t2 = make();
            let grpc = submit_batch(&t2, &cases).await;
            cleanup(&t2).await;
            let raw_rate = n as f64 / raw;
            let grpc_rate = n as f64 / grpc;
            println!(
                "{name:<10}  SubmitBatch {grpc_rate:>9.0} cases/s ({grpc:.2} s)   raw insert {raw_rate:>9.0} rows/s ({raw:.2} s)   ratio {:.2}",
                grpc_rate / raw_rate
            );
        });
    }
}
