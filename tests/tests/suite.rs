//! The suite end to end: intake, bad-debt-check and the gateway on real ports, each test on
//! fresh databases and fresh development keys, driven through the `sieve` command's library
//! exactly as an operator drives it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sieve_cli::client::KeySource;
use sieve_cli::submit::{self, SubmitOptions, SubmitReport};
use sieve_cli::{BankSpec, CliError, Credentials, Gateway, certificates, format, registry, status};
use sieve_e2e::{Spawn, Spawned};
use sieve_kernel::Settings;
use sieve_kernel::error::reason;
use sieve_proto::bad_debt_check::v1::Certificate;
use sieve_proto::common::v1::{PageRequest, Stage};
use sieve_proto::gateway::v1::BankApiServiceListCasesRequest;
use sieve_proto::intake::v1::{Case, ListCasesRequest, RowOutcome};
use tonic_types::StatusExt;

struct Running {
    spawned: Spawned,
    settings: Settings,
    gateway: Gateway,
    credentials: Credentials,
    data_dir: PathBuf,
}

impl Running {
    async fn start() -> Self {
        Self::start_on(None).await
    }

    /// The suite on `clock` (every service the same one), else the system clock; with the
    /// development credential and keys `sieve up` makes in its data directory.
    async fn start_on(clock: Option<sieve_kernel::SharedClock>) -> Self {
        let mut spawn = Spawn::suite().configure(|s| {
            let defaults = Settings::defaults().expect("defaults load");
            s.internal = defaults.internal;
            s.server = defaults.server;
        });
        if let Some(clock) = clock {
            spawn = spawn.clock(clock);
        }
        let spawned = spawn.start().await;
        let settings = spawned.settings().clone();
        let gateway =
            Gateway::connect(&spawned.url(sieve_gateway::SERVICE), &settings).expect("gateway url");
        // The gateway created the development key when it started; the CLI only reads it.
        let credentials = Credentials::load(&settings, None).expect("credentials");
        assert!(
            matches!(credentials.key, Some((_, KeySource::Dev(_)))),
            "the development key is found"
        );
        Self {
            data_dir: spawned.data_dir().to_path_buf(),
            spawned,
            settings,
            gateway,
            credentials,
        }
    }

    async fn stop(self) {
        self.spawned.stop().await;
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
async fn a_correction_sent_in_a_later_batch_is_reported_as_not_taken() {
    let run = Running::start().await;
    let first = submit_sample(&run, &run.credentials).await;
    let first = first.outcome.expect("the batch was sent");
    assert!(first.differing.is_empty());

    // Rows 1 and 2 again in another file, row 2 with another principal (49,433.69 yuan).
    let sample = std::fs::read_to_string(sample()).expect("the sample reads");
    let mut lines = sample.lines();
    let header = lines.next().expect("a header");
    let row1 = lines.next().expect("row 1");
    let row2 = lines.next().expect("row 2");
    assert!(row2.contains(",49433.69,"), "{row2}");
    let corrected = format!(
        "{header}\n{row1}\n{}\n",
        row2.replace(",49433.69,", ",49533.69,")
    );
    std::fs::create_dir_all(&run.data_dir).expect("data dir");
    let path = run.data_dir.join("correction.csv");
    std::fs::write(&path, corrected).expect("the correction is written");
    let report = submit::submit_file(&run.gateway, &run.credentials, &path, &options())
        .await
        .unwrap_or_else(|e| panic!("submit failed: {e}"));
    let outcome = report.outcome.as_ref().expect("the batch was sent");
    assert_eq!(
        (outcome.batch.accepted_cases, outcome.batch.existing_cases),
        (0, 2)
    );
    let bank_token = run
        .credentials
        .mint_bank(&first.batch.bank_id, None)
        .expect("bank token");
    let mut bank = run.gateway.bank(&bank_token).expect("bank client");
    let first_rows = submit::list_batch_rows(&mut bank, &first.batch.batch_id, false)
        .await
        .expect("rows list");
    assert_eq!(
        outcome.differing,
        [submit::DifferingRow {
            row: 2,
            reference: "JY-2025-00002".into(),
            case_id: first_rows[1].case_id.clone(),
            fields: vec!["claim.principal_fen".into()],
        }]
    );
    let text = submit::render_report(&report);
    assert!(text.contains("the stored case stands"), "{text}");
    assert!(
        text.lines().any(|l| l.contains("row      2")
            && l.contains("JY-2025-00002")
            && l.contains("differs in claim.principal_fen")),
        "{text}"
    );
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
        Some(reason::NOT_FOUND)
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

fn rulings_sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/rulings.csv")
}

fn import_options(run: &Running) -> registry::ImportOptions {
    registry::ImportOptions::new(registry::CourtSpec::from_settings(&run.settings))
}

/// Polls the bank's cases until every one is in the stage `want` gives for its row
/// (`JY-2025-000NN` is row NN), or fails after a minute. The outbox relays move the cases;
/// the poll only waits for them.
async fn wait_for_stages(
    run: &Running,
    bank_token: &str,
    want: impl Fn(i64) -> Stage,
) -> Vec<Case> {
    let bank = run.gateway.bank(bank_token).expect("bank client");
    let row = |c: &Case| -> i64 {
        c.bank_case_ref
            .trim_start_matches("JY-2025-")
            .parse()
            .expect("a sample reference")
    };
    sieve_e2e::eventually("cases where expected (row, stage)", || {
        let mut bank = bank.clone();
        let (want, row) = (&want, &row);
        async move {
            let mut cases = bank
                .list_cases(BankApiServiceListCasesRequest {
                    request: Some(ListCasesRequest {
                        page: Some(PageRequest {
                            page_size: 1000,
                            page_token: String::new(),
                        }),
                        ..Default::default()
                    }),
                })
                .await
                .expect("list cases")
                .into_inner()
                .response
                .expect("response")
                .cases;
            let pending: Vec<(i64, String)> = cases
                .iter()
                .filter(|c| c.stage != want(row(c)) as i32)
                .map(|c| (row(c), format::stage(c.stage)))
                .collect();
            if !pending.is_empty() {
                return Err(pending);
            }
            cases.sort_by_key(|c| row(c));
            Ok(cases)
        }
    })
    .await
}

/// The page with one byte of its signed content changed: a digit of `field`'s value.
fn tamper(html: &str, field: &str) -> String {
    use base64::Engine;
    let engine = base64::engine::general_purpose::STANDARD;
    let marker = "data-sieve-content=\"";
    let start = html.find(marker).expect("content attribute") + marker.len();
    let end = start + html[start..].find('"').expect("attribute end");
    let mut content = engine.decode(&html[start..end]).expect("base64");
    let key = format!("\n{field}=");
    let at = content
        .windows(key.len())
        .position(|w| w == key.as_bytes())
        .expect("field in content")
        + key.len();
    content[at] = if content[at] == b'9' {
        b'8'
    } else {
        content[at] + 1
    };
    format!(
        "{}{}{}",
        &html[..start],
        engine.encode(&content),
        &html[end..]
    )
}

#[tokio::test]
async fn rulings_match_and_certificates_issue_verify_and_detect_tampering() {
    let run = Running::start().await;

    // The registry: six rulings added, the seventh refused (terminated within 3 months).
    let report = registry::import_file(
        &run.gateway,
        &run.credentials,
        &rulings_sample(),
        &import_options(&run),
    )
    .await
    .unwrap_or_else(|e| panic!("import failed: {e}"));
    assert_eq!(report.rows_read, 7);
    assert!(report.unreadable.is_empty(), "{:?}", report.unreadable);
    let outcome = report.outcome.as_ref().expect("sent");
    let import = &outcome.import;
    assert_eq!(
        (
            import.added_rulings,
            import.updated_rulings,
            import.unchanged_rulings,
            import.refused_rulings
        ),
        (6, 0, 0, 1)
    );
    let refused: Vec<(i64, Vec<&str>)> = outcome
        .refused
        .iter()
        .map(|r| (r.row, r.reasons.iter().map(|x| x.rule.as_str()).collect()))
        .collect();
    assert_eq!(refused, [(7, vec!["ruling.three_months"])]);
    let text = registry::render_report(&report);
    assert!(
        text.contains("added 6, updated 0, unchanged 0, refused 1 (of 7 received)"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("row      7") && l.contains("ruling.three_months")),
        "{text}"
    );

    // The bank's batch: rows 1-5 match a standing ruling, the rest go on to preservation
    // (row 6's ruling was revoked, row 7's refused).
    let batch = submit_sample(&run, &run.credentials)
        .await
        .outcome
        .expect("sent")
        .batch;
    assert_eq!(batch.accepted_cases, 30);
    let bank_token = run
        .credentials
        .mint_bank(&batch.bank_id, None)
        .expect("bank token");
    let expected = |row: i64| {
        if row <= 5 {
            Stage::Certifiable
        } else {
            Stage::Preservation
        }
    };
    let cases = wait_for_stages(&run, &bank_token, expected).await;
    assert_eq!(cases.len(), 30);

    // The bank applies for every CERTIFIABLE case: five certificates, numbered in sequence,
    // each page written to the directory.
    let out_dir = run.data_dir.join("certificates");
    let applied = certificates::apply(
        &run.gateway,
        &run.credentials,
        &certificates::Selection::AllCertifiable,
        &certificates::ApplyOptions {
            bank_code: "JY-RCB".into(),
            out_dir: out_dir.clone(),
        },
    )
    .await
    .unwrap_or_else(|e| panic!("apply failed: {e}"));
    let issued: Vec<(&Certificate, &Path)> = applied.certificates().collect();
    assert_eq!(issued.len(), 5, "{}", certificates::render_apply(&applied));
    let mut numbers: Vec<&str> = issued
        .iter()
        .map(|(c, _)| c.certificate_number.as_str())
        .collect();
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), 5, "distinct numbers");
    let year = this_year();
    for n in &numbers {
        let prefix = format!("({year})黑0722预查废第");
        let digits = n
            .strip_prefix(&prefix)
            .and_then(|r| r.strip_suffix('号'))
            .unwrap_or_else(|| panic!("{n} is not like ({year})黑0722预查废第000001号"));
        assert!(
            digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()),
            "{n}"
        );
    }
    let certified: Vec<&str> = issued
        .iter()
        .map(|(c, _)| c.case_ref.as_ref().map_or("", |r| r.bank_case_ref.as_str()))
        .collect();
    assert_eq!(
        certified,
        [
            "JY-2025-00001",
            "JY-2025-00002",
            "JY-2025-00003",
            "JY-2025-00004",
            "JY-2025-00005"
        ]
    );
    for (c, file) in &issued {
        assert!(file.starts_with(&out_dir), "{}", file.display());
        let html = std::fs::read_to_string(file).expect("page written");
        assert!(html.contains(&c.certificate_number));
    }
    let text = certificates::render_apply(&applied);
    assert!(
        text.contains("5 certificates (0 issued before), 0 refused"),
        "{text}"
    );

    // The cases close as CERTIFIED.
    wait_for_stages(&run, &bank_token, |row| {
        if row <= 5 {
            Stage::Certified
        } else {
            Stage::Preservation
        }
    })
    .await;

    // Applying again, by case id, returns the same certificates; a case without a match is
    // refused with its reason.
    let again = certificates::apply(
        &run.gateway,
        &run.credentials,
        &certificates::Selection::Cases(vec![cases[0].case_id.clone(), cases[5].case_id.clone()]),
        &certificates::ApplyOptions {
            bank_code: "JY-RCB".into(),
            out_dir: out_dir.clone(),
        },
    )
    .await
    .unwrap_or_else(|e| panic!("apply failed: {e}"));
    let first = issued
        .iter()
        .find(|(c, _)| c.case_ref.as_ref().map(|r| r.case_id.as_str()) == Some(&cases[0].case_id))
        .expect("row 1's certificate");
    match &again.rows[0].outcome {
        certificates::Applied::Issued {
            certificate,
            existing,
            ..
        } => {
            assert!(*existing);
            assert_eq!(certificate.certificate_number, first.0.certificate_number);
        }
        other => panic!("row 1 not issued: {other:?}"),
    }
    match &again.rows[1].outcome {
        certificates::Applied::Refused(reasons) => {
            assert_eq!(reasons[0].rule, "pre_check.no_match")
        }
        other => panic!("row 6 issued: {other:?}"),
    }

    // Anyone verifies a page through the public door, without a token.
    let verified = certificates::verify_file(&run.gateway, first.1)
        .await
        .unwrap_or_else(|e| panic!("verify failed: {e}"));
    assert!(verified.answer.genuine && verified.answer.unaltered && !verified.answer.revoked);
    assert_eq!(verified.page_matches, Some(true));
    assert!(verified.is_valid());
    let text = certificates::render_verification(&verified);
    assert!(text.contains("genuine    yes"), "{text}");
    assert!(text.trim_end().ends_with("VALID"), "{text}");
    assert!(!text.contains("23072219851102174X"), "{text}");

    // One byte of the claim changed: no longer what was issued, and the field is named.
    let forged_path = run.data_dir.join("forged.html");
    let html = std::fs::read_to_string(first.1).expect("page");
    std::fs::write(&forged_path, tamper(&html, "principal_fen")).expect("write forged");
    let forged = certificates::verify_file(&run.gateway, &forged_path)
        .await
        .unwrap_or_else(|e| panic!("verify failed: {e}"));
    assert!(!forged.answer.unaltered);
    assert!(!forged.answer.genuine);
    assert_eq!(forged.answer.altered_fields, ["principal_fen"]);
    assert!(!forged.is_valid());
    let text = certificates::render_verification(&forged);
    assert!(text.contains("altered fields: principal_fen"), "{text}");
    assert!(text.trim_end().ends_with("NOT VALID"), "{text}");

    // The printed claim edited, the signed content left alone: the court finds the content
    // genuine, but the page is not what it prints.
    let edited_path = run.data_dir.join("edited.html");
    let printed = sieve_kernel::rules::money::format_yuan(
        first.0.claim.as_ref().map_or(0, |c| c.principal_fen),
    );
    assert!(html.contains(&printed), "{printed}");
    std::fs::write(&edited_path, html.replace(&printed, "99,999.99")).expect("write edited");
    let edited = certificates::verify_file(&run.gateway, &edited_path)
        .await
        .unwrap_or_else(|e| panic!("verify failed: {e}"));
    assert!(edited.answer.genuine && edited.answer.unaltered);
    assert_eq!(edited.page_matches, Some(false));
    assert!(!edited.is_valid());

    // Re-importing the rulings changes nothing: the same file replays, and under another
    // request id every ruling is unchanged.
    let replay = registry::import_file(
        &run.gateway,
        &run.credentials,
        &rulings_sample(),
        &import_options(&run),
    )
    .await
    .unwrap_or_else(|e| panic!("import failed: {e}"));
    let replayed = replay.outcome.expect("sent");
    assert!(replayed.replayed);
    assert_eq!(replayed.import.import_id, import.import_id);
    let mut fresh = import_options(&run);
    fresh.request_id = Some("rulings-again".into());
    let again = registry::import_file(&run.gateway, &run.credentials, &rulings_sample(), &fresh)
        .await
        .unwrap_or_else(|e| panic!("import failed: {e}"))
        .outcome
        .expect("sent");
    assert!(!again.replayed);
    let i = &again.import;
    assert_eq!(
        (
            i.added_rulings,
            i.updated_rulings,
            i.unchanged_rulings,
            i.refused_rulings
        ),
        (0, 0, 6, 1)
    );

    run.stop().await;
}

#[tokio::test]
async fn the_demo_flows_through_the_pre_check_and_certifies_the_matches() {
    let run = Running::start().await;
    let options = sieve_cli::DemoOptions {
        cases: 200,
        seed: 5,
        submit: SubmitOptions::new(sieve_cli::demo_bank("DEMO-BANK")),
        registry: import_options(&run),
        recency_window_months: sieve_cli::recency_window(&run.settings)
            .expect("pre-check settings"),
    };
    let report = sieve_cli::demo_batch(&run.gateway, &run.credentials, &options)
        .await
        .unwrap_or_else(|e| panic!("demo failed: {e}"));
    let valid = report.generated - report.flawed;
    assert_eq!(report.outcome.batch.accepted_cases as usize, valid);
    assert_eq!(report.should_match, (valid * 10 + 50) / 100);
    assert!(report.revoked_rulings >= 1);
    assert_eq!(
        report.rulings.import.added_rulings as usize,
        report.should_match + report.revoked_rulings
    );
    assert!(
        report.rulings.refused.is_empty(),
        "{:?}",
        report.rulings.refused
    );
    let text = sieve_cli::render_demo(&report);
    assert!(
        text.contains(&format!("{} cases should match", report.should_match)),
        "{text}"
    );

    // Followed without certificates: the demo waits until the pre-check has taken every
    // case; exactly the matching ones are CERTIFIABLE, the rest went on to PRESERVATION.
    let out_dir = run.data_dir.join("certificates");
    let watch = sieve_cli::follow::FollowOptions {
        wait: Duration::from_secs(60),
        certificates_dir: None,
        ..Default::default()
    };
    let flow = sieve_cli::follow_demo(&run.gateway, &run.credentials, &report, &watch)
        .await
        .unwrap_or_else(|e| panic!("following failed: {e}"));
    assert!(flow.pre_check.finished(), "{:?}", flow.pre_check);
    assert!(matches!(
        flow.certification,
        sieve_cli::follow::Certification::Skipped
    ));
    let funnel = &flow.funnel;
    assert_eq!(funnel.batch_id, report.outcome.batch.batch_id);
    assert_eq!(funnel.total(), valid);
    assert_eq!(funnel.count(Stage::BadDebtCheck), 0);
    assert_eq!(funnel.count(Stage::Certifiable), report.should_match);
    assert_eq!(
        funnel.count(Stage::Preservation),
        valid - report.should_match
    );
    assert!(!out_dir.exists(), "--no-certify writes no pages");

    // Followed as `sieve demo` does: the matched cases' certificates are applied for, their
    // pages written, and the cases close as CERTIFIED.
    let follow = sieve_cli::follow::FollowOptions {
        wait: Duration::from_secs(60),
        certificates_dir: Some(out_dir.clone()),
        ..Default::default()
    };
    let mut report = report;
    report.flow = Some(
        sieve_cli::follow_demo(&run.gateway, &run.credentials, &report, &follow)
            .await
            .unwrap_or_else(|e| panic!("following failed: {e}")),
    );
    let flow = report.flow.as_ref().expect("followed");
    assert!(flow.pre_check.finished());
    let sieve_cli::follow::Certification::Applied {
        report: applied,
        closed,
    } = &flow.certification
    else {
        panic!("not applied for: {:?}", flow.certification)
    };
    assert!(closed.finished(), "{closed:?}");
    let issued: Vec<(&Certificate, &Path)> = applied.certificates().collect();
    assert_eq!(issued.len(), report.should_match);
    for (_, file) in &issued {
        assert!(
            file.starts_with(&out_dir) && file.exists(),
            "{}",
            file.display()
        );
    }
    let funnel = &flow.funnel;
    assert_eq!(funnel.total(), valid);
    assert_eq!(funnel.count(Stage::Certified), report.should_match);
    assert_eq!(
        funnel.count(Stage::Preservation),
        valid - report.should_match
    );
    assert_eq!(funnel.count(Stage::BadDebtCheck), 0);
    assert_eq!(funnel.count(Stage::Certifiable), 0);

    let certified = funnel.example(Stage::Certified).expect("a certified case");
    let preserved = funnel
        .example(Stage::Preservation)
        .expect("a preserved case");
    let text = sieve_cli::render_demo(&report);
    for line in [
        "pre-check: done (waited".to_owned(),
        format!(
            "certificates: {} issued (0 before), 0 refused",
            report.should_match
        ),
        format!("try: sieve status {certified}    (certified)"),
        format!("try: sieve status {preserved}    (moved on to preservation)"),
    ] {
        assert!(text.contains(&line), "{line:?} missing from\n{text}");
    }
    assert!(!text.contains("NOT"), "{text}");

    // The suggested cases show their way through the pre-check.
    let court = run.credentials.court_token().expect("court token");
    for (id, last) in [
        (certified, Stage::Certified),
        (preserved, Stage::Preservation),
    ] {
        let shown = status::case_status(&run.gateway, &court, id)
            .await
            .unwrap_or_else(|e| panic!("status failed: {e}"));
        let stages: Vec<i32> = shown.dossier.timeline.iter().map(|e| e.to_stage).collect();
        assert!(stages.contains(&(Stage::BadDebtCheck as i32)), "{stages:?}");
        assert_eq!(stages.last(), Some(&(last as i32)), "{stages:?}");
    }

    run.stop().await;
}

/// This year in Asia/Shanghai, as certificate numbers carry it.
fn this_year() -> i32 {
    use chrono::Datelike;
    sieve_kernel::clock::system().today().year()
}

#[tokio::test]
async fn a_manual_clock_moved_through_the_gateway_is_the_time_of_every_service() {
    let start = sieve_cli::clock::parse_start("2026-09-07T09:00:00+08:00").expect("start");
    let run = Running::start_on(Some(sieve_kernel::clock::manual(start))).await;
    let court = run.credentials.court_token().expect("court token");
    let shown = sieve_cli::clock::show(&run.gateway, &court)
        .await
        .unwrap_or_else(|e| panic!("clock show failed: {e}"));
    assert!(shown.manual);
    assert_eq!(shown.now.seconds, start.timestamp());

    let by = sieve_cli::clock::parse_duration("31d").expect("31d");
    let moved = sieve_cli::clock::advance(&run.gateway, &court, by)
        .await
        .unwrap_or_else(|e| panic!("clock advance failed: {e}"));
    let later = start + chrono::Duration::days(31);
    assert_eq!(moved.now.seconds, later.timestamp());
    assert_eq!(
        sieve_cli::clock::render(&moved, Some(by)),
        "2026-10-08 09:00:00 Asia/Shanghai (manual clock, advanced by 31d)\n"
    );

    // Intake admits the batch at the new time; the pre-check decides it then too.
    let report = submit_sample(&run, &run.credentials).await;
    let case_id = report
        .outcome
        .and_then(|o| o.first_case_id)
        .expect("an accepted case");
    let deadline = Instant::now() + Duration::from_secs(60);
    let dossier = loop {
        let dossier = status::case_status(&run.gateway, &court, &case_id)
            .await
            .unwrap_or_else(|e| panic!("status failed: {e}"))
            .dossier;
        let decided = dossier
            .records
            .as_ref()
            .and_then(|r| r.check.as_ref())
            .is_some_and(|c| !c.match_run_id.is_empty());
        if decided {
            break dossier;
        }
        assert!(Instant::now() < deadline, "not checked: {dossier:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let at = |ts: Option<&prost_types::Timestamp>| ts.map(|t| t.seconds);
    let case = dossier.case.as_ref().expect("case");
    assert_eq!(at(case.submitted_at.as_ref()), Some(later.timestamp()));
    let check = dossier.records.as_ref().and_then(|r| r.check.as_ref());
    assert_eq!(
        at(check.and_then(|c| c.checked_at.as_ref())),
        Some(later.timestamp())
    );
    assert!(!dossier.timeline.is_empty());
    for event in &dossier.timeline {
        assert_eq!(
            at(event.occurred_at.as_ref()),
            Some(later.timestamp()),
            "{event:?}"
        );
    }
    assert_eq!(
        at(dossier.assembled_at.as_ref()),
        Some(later.timestamp()),
        "the gateway stamps by the same clock"
    );
    run.stop().await;
}

#[tokio::test]
async fn the_system_clock_cannot_be_moved() {
    let run = Running::start().await;
    let court = run.credentials.court_token().expect("court token");
    let shown = sieve_cli::clock::show(&run.gateway, &court)
        .await
        .unwrap_or_else(|e| panic!("clock show failed: {e}"));
    assert!(!shown.manual);
    let by = sieve_cli::clock::parse_duration("31d").expect("31d");
    let err = sieve_cli::clock::advance(&run.gateway, &court, by)
        .await
        .expect_err("the system clock");
    let status = err.status().expect("a gRPC error");
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    assert!(
        err.to_string().contains("reason: CLOCK_NOT_MANUAL"),
        "{err}"
    );
    run.stop().await;
}

/// A 2027 calendar published late: New Year's Day on Friday 2027-01-01, and its weekend.
const CN_2027: &str = r#"year = 2027
source = "国务院办公厅关于2027年部分节假日安排的通知 (test)"
rest_days = [
  { date = "2027-01-01", holiday = "New Year's Day" },
  { date = "2027-01-02", holiday = "New Year's Day" },
  { date = "2027-01-03", holiday = "New Year's Day" },
]
working_days = []
"#;

#[tokio::test]
async fn a_calendar_loaded_late_moves_a_running_deadline_and_says_so_on_the_timeline() {
    use sieve_kernel::calendar::stored;
    let run = Running::start().await;
    let report = submit_sample(&run, &run.credentials).await;
    let case_id = report
        .outcome
        .and_then(|o| o.first_case_id)
        .expect("an accepted case");
    let court = run.credentials.court_token().expect("court token");

    // A stage service's deadline for the case, counted while 2027 has no calendar: served
    // Thursday 2026-12-17, 15 days end Friday 2027-01-01 (CPL 85), flagged as counted
    // without holidays. The pre-check is today's stage service keeping the calendar.
    let target = run.spawned.target(sieve_bad_debt_check::SERVICE);
    let db = sieve_kernel::db::connect(target, &run.settings.database)
        .await
        .expect("the pre-check's store");
    let calendar = stored::current(db.read()).await.expect("its calendar");
    let served = chrono::NaiveDate::from_ymd_opt(2026, 12, 17).expect("a date");
    let period = calendar.days("cpl_227.objection_15_days", served, 15);
    assert!(period.holiday_calendar_missing);
    let txn = sieve_kernel::db::begin_write(&db).await.expect("txn");
    sieve_kernel::deadline::schedule(&txn, "order.objection", "order-1", &case_id, &period, 0)
        .await
        .expect("scheduled");
    txn.commit().await.expect("commit");

    // A bad file is refused at the door, with its line and reason.
    let bad = sieve_cli::calendar::load(
        &run.gateway,
        &court,
        CN_2027.replace("2027-01-03", "2026-01-03"),
    )
    .await
    .expect_err("refused");
    let status = bad.status().expect("a gRPC error");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    let details = status.get_error_details();
    assert_eq!(
        details.error_info().map(|i| i.reason.as_str()),
        Some(reason::CALENDAR_INVALID)
    );
    let violation = &details.bad_request().expect("violations").field_violations[0];
    assert_eq!(violation.field, "file");
    assert!(
        violation.description.starts_with("line 6:")
            && violation.description.contains("not in 2027"),
        "{violation:?}"
    );

    // `sieve calendar load FILE`, from a file.
    let file = run.data_dir.join("cn-2027.toml");
    std::fs::write(&file, CN_2027).expect("written");
    let text = sieve_cli::calendar::read(&file).expect("read");
    let answer = sieve_cli::calendar::load(&run.gateway, &court, text.clone())
        .await
        .unwrap_or_else(|e| panic!("calendar load failed: {e}"));
    // Every service that counts periods takes it; the pre-check's deadline moves.
    let services: Vec<&str> = answer.loads.iter().map(|l| l.service.as_str()).collect();
    assert_eq!(
        services,
        [sieve_bad_debt_check::SERVICE, sieve_preservation::SERVICE],
        "{answer:?}"
    );
    assert!(
        answer.loads.iter().all(|l| l.error.is_empty()),
        "{answer:?}"
    );
    let load = &answer.loads[0];
    let r = load.response.as_ref().expect("loaded");
    assert!(r.changed);
    assert_eq!((r.recounted, r.moved_count), (1, 1));
    assert_eq!(
        (r.moved[0].previous_end.as_str(), r.moved[0].end.as_str()),
        ("2027-01-01", "2027-01-04")
    );
    let printed = sieve_cli::calendar::render(&answer);
    assert!(
        printed.contains(&format!(
            "case {case_id}: order.objection (cpl_227.objection_15_days) ends 2027-01-04, not 2027-01-01"
        )),
        "{printed}"
    );
    let row = sieve_kernel::deadline::find(db.read(), "order.objection", "order-1")
        .await
        .expect("read")
        .expect("the deadline");
    assert_eq!(row.end_date, "2027-01-04");
    assert!(!row.holiday_calendar_missing);

    // The move reaches the case's timeline, as an event within its stage.
    let event_id = format!("deadline:{}/1", row.id);
    let wait = Instant::now() + Duration::from_secs(60);
    let event = loop {
        let timeline = status::case_status(&run.gateway, &court, &case_id)
            .await
            .unwrap_or_else(|e| panic!("status failed: {e}"))
            .dossier
            .timeline;
        if let Some(e) = timeline.into_iter().find(|e| e.event_id == event_id) {
            break e;
        }
        assert!(Instant::now() < wait, "the move is not on the timeline");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(event.from_stage, event.to_stage);
    assert_eq!(event.actor, sieve_proto::common::v1::Actor::Court as i32);
    assert!(
        event.reason.contains("now ends 2027-01-04, not 2027-01-01")
            && event.reason.contains("New Year's Day"),
        "{}",
        event.reason
    );

    // The same file again: harmless, nothing moves.
    let again = sieve_cli::calendar::load(&run.gateway, &court, text)
        .await
        .unwrap_or_else(|e| panic!("calendar load failed: {e}"));
    let r = again.loads[0].response.as_ref().expect("loaded");
    assert!(!r.changed);
    assert_eq!((r.recounted, r.moved_count), (1, 0));
    assert!(sieve_cli::calendar::render(&again).contains("already in force"));
    // The court sees the loaded year next to the built-in ones.
    let listed = sieve_cli::calendar::list(&run.gateway, &court)
        .await
        .unwrap_or_else(|e| panic!("calendar list failed: {e}"));
    let years = &listed.lists[0].response.as_ref().expect("listed").years;
    let loaded = years
        .iter()
        .find(|y| y.year == 2027)
        .expect("2027 is listed");
    assert!(!loaded.built_in && loaded.loaded_at.is_some());
    assert!(years.iter().any(|y| y.year == 2026 && y.built_in));
    assert!(sieve_cli::calendar::render_list(&listed).contains("2027 ("));
    let _ = db.close().await;
    run.stop().await;
}
