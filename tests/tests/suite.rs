//! The suite end to end: intake and the gateway on real ports, each test on a fresh database
//! and a fresh development key, driven through the `sieve` command's library exactly as an
//! operator drives it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use sieve_cli::client::KeySource;
use sieve_cli::submit::{self, SubmitOptions, SubmitReport};
use sieve_cli::{BankSpec, CliError, Credentials, Gateway, Launch, Service, Suite, status};
use sieve_kernel::Settings;
use sieve_kernel::db::Target;
use sieve_proto::common::v1::Stage;
use sieve_proto::intake::v1::RowOutcome;
use tonic_types::StatusExt;

struct Running {
    suite: Suite,
    gateway: Gateway,
    credentials: Credentials,
    data_dir: PathBuf,
    target: Target,
}

impl Running {
    async fn start() -> Self {
        sieve_kernel::telemetry::init_for_tests();
        static N: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let data_dir = std::env::temp_dir().join(format!(
            "sieve-e2e-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let mut settings = Settings::defaults().expect("defaults load");
        settings.database.data_dir = data_dir.clone();
        let target = sieve_kernel::db::testing::fresh_target("intake");
        let launch = Launch {
            any_port: true,
            targets: [(Service::Intake, target.clone())].into(),
        };
        let suite = Suite::start(&settings, Service::ALL, &launch)
            .await
            .expect("intake and gateway start");
        let url = suite.url_of(Service::Gateway, &settings);
        let gateway = Gateway::connect(&url, &settings).expect("gateway url");
        // The gateway created the development key when it started; the CLI only reads it.
        let credentials = Credentials::load(&settings, None).expect("credentials");
        assert!(
            matches!(credentials.key, Some((_, KeySource::Dev(_)))),
            "the development key is found"
        );
        Self {
            suite,
            gateway,
            credentials,
            data_dir,
            target,
        }
    }

    async fn stop(self) {
        self.suite.shutdown().await.expect("clean shutdown");
        let _ = std::fs::remove_dir_all(&self.data_dir);
        if let Target::Postgres { url, schema } = &self.target {
            let _ = sieve_kernel::db::drop_schema(url, schema).await;
        }
    }
}

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/bank-batch.csv")
}

fn options() -> SubmitOptions {
    SubmitOptions::new(BankSpec {
        code: "JY-RCB".into(),
        name: "嘉荫农村商业银行".into(),
        callback_phone: "0458-6100000".into(),
    })
}

async fn submit_sample(run: &Running, credentials: &Credentials) -> SubmitReport {
    submit::submit_file(&run.gateway, credentials, &sample(), &options())
        .await
        .unwrap_or_else(|e| panic!("submit failed: {e}"))
}

/// Rows 31-35 of the sample, each refused for the one reason the sample's README gives.
const EXPECTED_REFUSALS: [(i64, &str); 5] = [
    (31, "scope.loan_amount"),
    (32, "id_number.check_character"),
    (33, "scope.natural_person"),
    (34, "scope.district"),
    (35, "phone.mobile_format"),
];

#[tokio::test]
async fn submit_admits_rows_1_to_30_refuses_31_to_35_and_replays() {
    let run = Running::start().await;
    let report = submit_sample(&run, &run.credentials).await;
    assert_eq!(report.rows_read, 35);
    assert!(report.unreadable.is_empty(), "{:?}", report.unreadable);
    assert!(report.request_id.starts_with("sha256:"));
    let outcome = report.outcome.as_ref().expect("the batch was sent");
    assert!(!outcome.replayed);
    let batch = &outcome.batch;
    assert_eq!(
        (
            batch.received_cases,
            batch.accepted_cases,
            batch.existing_cases,
            batch.refused_cases
        ),
        (35, 30, 0, 5)
    );
    let refused: Vec<(i64, Vec<&str>)> = outcome
        .refused
        .iter()
        .map(|r| (r.row, r.reasons.iter().map(|x| x.rule.as_str()).collect()))
        .collect();
    let expected: Vec<(i64, Vec<&str>)> = EXPECTED_REFUSALS
        .iter()
        .map(|(row, rule)| (*row, vec![*rule]))
        .collect();
    assert_eq!(refused, expected);
    for row in &outcome.refused {
        assert_eq!(row.reference, format!("JY-2025-{:05}", row.row));
        for reason in &row.reasons {
            assert!(!reason.field.is_empty() && !reason.description.is_empty());
        }
    }
    let text = submit::render_report(&report);
    assert!(
        text.contains("accepted 30, existing 0, refused 5"),
        "{text}"
    );
    for (row, rule) in EXPECTED_REFUSALS {
        assert!(
            text.lines()
                .any(|l| l.contains(&format!("row {row:>6}")) && l.contains(rule)),
            "row {row} {rule} missing from\n{text}"
        );
    }

    // Every row, as the bank pages them: 1-30 became cases, in row order.
    let bank_token = run
        .credentials
        .mint_bank(&batch.bank_id, None)
        .expect("bank token");
    let mut bank = run.gateway.bank(&bank_token).expect("bank client");
    let rows = submit::list_batch_rows(&mut bank, &batch.batch_id, false)
        .await
        .expect("rows list");
    assert_eq!(rows.len(), 35);
    let case_ids: Vec<String> = rows
        .iter()
        .filter(|r| r.outcome == RowOutcome::Accepted as i32)
        .map(|r| r.case_id.clone())
        .collect();
    let accepted_rows: Vec<i64> = rows
        .iter()
        .filter(|r| r.outcome == RowOutcome::Accepted as i32)
        .map(|r| r.row)
        .collect();
    assert_eq!(accepted_rows, (1..=30).collect::<Vec<_>>());
    assert!(case_ids.iter().all(|id| !id.is_empty()));
    assert_eq!(outcome.first_case_id.as_ref(), case_ids.first());

    // The same file again: the first result, nothing stored twice.
    let again = submit_sample(&run, &run.credentials).await;
    assert_eq!(again.request_id, report.request_id);
    let replay = again.outcome.as_ref().expect("sent again");
    assert!(replay.replayed);
    assert_eq!(replay.batch.batch_id, batch.batch_id);
    assert_eq!(replay.batch.accepted_cases, 30);
    assert_eq!(replay.refused, outcome.refused);
    let rows_again = submit::list_batch_rows(&mut bank, &batch.batch_id, false)
        .await
        .expect("rows list");
    let ids_again: Vec<String> = rows_again
        .iter()
        .filter(|r| r.outcome == RowOutcome::Accepted as i32)
        .map(|r| r.case_id.clone())
        .collect();
    assert_eq!(ids_again, case_ids);
    assert!(submit::render_report(&again).contains("replayed"));

    run.stop().await;
}

#[tokio::test]
async fn status_shows_the_case_masked_and_its_timeline() {
    let run = Running::start().await;
    let report = submit_sample(&run, &run.credentials).await;
    let case_id = report
        .outcome
        .and_then(|o| o.first_case_id)
        .expect("an accepted case");

    let court = run.credentials.court_token().expect("court token");
    let shown = status::case_status(&run.gateway, &court, &case_id)
        .await
        .unwrap_or_else(|e| panic!("status failed: {e}"));
    let dossier = &shown.dossier;
    let case = dossier.case.as_ref().expect("case");
    assert_eq!(case.case_id, case_id);
    assert_eq!(case.bank_case_ref, "JY-2025-00001");
    assert!(
        dossier
            .timeline
            .iter()
            .any(|e| e.to_stage == Stage::BadDebtCheck as i32),
        "{:?}",
        dossier.timeline
    );
    assert_eq!(shown.bank.as_ref().map(|b| b.code.as_str()), Some("JY-RCB"));

    let text = status::render_status(&shown);
    assert!(text.contains("BAD_DEBT_CHECK"), "{text}");
    assert!(text.contains("32,676.20"), "{text}");
    // Row 1's debtor: ID and phone masked, never in full.
    assert!(text.contains("230722********174X"), "{text}");
    assert!(text.contains("139****4483"), "{text}");
    assert!(!text.contains("23072219851102174X"), "{text}");
    assert!(!text.contains("13917784483"), "{text}");

    // An unknown case: the gRPC code and the structured reason reach the operator.
    let err = status::case_status(&run.gateway, &court, "no-such-case")
        .await
        .expect_err("unknown case");
    let status = err.status().expect("a gRPC error");
    assert_eq!(status.code(), tonic::Code::NotFound);
    assert_eq!(
        status
            .get_error_details()
            .error_info()
            .map(|i| i.reason.as_str()),
        Some("NOT_FOUND")
    );
    assert!(err.to_string().contains("reason: NOT_FOUND"), "{err}");

    run.stop().await;
}

#[tokio::test]
async fn given_tokens_are_honoured() {
    let run = Running::start().await;

    // The court token `sieve up` prints (SIEVE_TOKEN) still submits: the bank is registered
    // with it and a bank token minted.
    let mut with_court = run.credentials.clone();
    with_court.token = Some(run.credentials.mint_court(None).expect("court token"));
    let report = submit_sample(&run, &with_court).await;
    let batch = report.outcome.expect("sent").batch;
    assert_eq!(batch.accepted_cases, 30);

    // A bank token alone, no key at hand: the gateway takes the bank from the token, and the
    // same file replays.
    let bank_only = Credentials {
        token: Some(
            run.credentials
                .mint_bank(&batch.bank_id, None)
                .expect("bank token"),
        ),
        key: None,
        court_name: String::new(),
    };
    let replay = submit_sample(&run, &bank_only).await.outcome.expect("sent");
    assert!(replay.replayed);
    assert_eq!(replay.batch.batch_id, batch.batch_id);

    // A token the gateway did not sign: refused, with a hint.
    let forged = Credentials {
        token: Some("sieve1.dev.e30.AAAA".into()),
        key: None,
        court_name: String::new(),
    };
    let err = submit::submit_file(&run.gateway, &forged, &sample(), &options())
        .await
        .expect_err("forged token");
    assert!(
        matches!(&err, CliError::Grpc { status, .. } if status.code() == tonic::Code::Unauthenticated),
        "{err}"
    );
    assert!(err.to_string().contains("hint:"), "{err}");

    run.stop().await;
}
