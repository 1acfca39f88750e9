//! The pre-check with intake, both over real gRPC on ephemeral ports, each on a fresh
//! database: SQLite by default, PostgreSQL when `SIEVE_TEST_DATABASE=postgres`.

use sieve_e2e::fixtures::{date, ruling};
use sieve_e2e::{INTAKE, PRE_CHECK, Spawn, Spawned, fixtures, wait_for_stage};
use std::time::Duration;

use sieve_kernel::Settings;
use sieve_kernel::db::Target;
use sieve_kernel::error::reason;
use sieve_kernel::internal::InternalChannel as Channel;
use sieve_kernel::rules::resident_id::check_character;
use sieve_proto::bad_debt_check::v1 as bdc;
use sieve_proto::bad_debt_check::v1::pre_check_service_client::PreCheckServiceClient;
use sieve_proto::bad_debt_check::v1::registry_service_client::RegistryServiceClient;
use sieve_proto::common::v1::{Claim, Debtor, DebtorKind, ProductType, RowOutcome, Stage};
use sieve_proto::intake::v1 as intake;
use sieve_proto::intake::v1::intake_service_client::IntakeServiceClient;
use tonic_types::StatusExt;

/// Fast relays and a short gathering delay, so that the tests wait little.
fn spawn(services: &[&'static str]) -> Spawn {
    Spawn::new(services).configure(|s| {
        s.outbox.poll_interval_ms = 50;
        s.outbox.base_backoff_ms = 50;
        s.outbox.max_backoff_secs = 1;
        s.set_service("bad_debt_check", "run_delay_ms", 50);
    })
}

/// Starts `spawn`; the address of `service` among what it started.
async fn start(spawn: Spawn, service: &str) -> (std::net::SocketAddr, Spawned) {
    let spawned = spawn.start().await;
    (spawned.addr(service), spawned)
}

async fn stop(spawned: Spawned) {
    spawned.stop().await;
}

fn channel(addr: std::net::SocketAddr) -> Channel {
    sieve_kernel::internal::testing::channel(&format!("http://{addr}"))
}

/// Intake and the pre-check wired to each other, as `sieve up` does.
struct Suite {
    intake: IntakeServiceClient<Channel>,
    registry: RegistryServiceClient<Channel>,
    pre_check: PreCheckServiceClient<Channel>,
    bdc_addr: std::net::SocketAddr,
    /// The pre-check's database, for tests that must see or damage what it stored.
    bdc_target: Target,
    spawned: Spawned,
}

impl Suite {
    async fn start() -> Suite {
        Self::start_with(|_| {}).await
    }

    async fn start_with(configure: impl FnOnce(&mut Settings)) -> Suite {
        let spawned = spawn(&[INTAKE, PRE_CHECK])
            .configure(configure)
            .start()
            .await;
        Suite {
            intake: spawned.intake(),
            registry: spawned.registry(),
            pre_check: spawned.pre_check(),
            bdc_addr: spawned.addr(PRE_CHECK),
            bdc_target: spawned.target(PRE_CHECK).clone(),
            spawned,
        }
    }

    async fn stop(self) {
        self.spawned.stop().await;
    }
}

/// A valid resident ID of 230722 whose check character is `want` (or any when None).
fn id_number(seed: u32, want: Option<char>) -> String {
    for seq in 0..1000 {
        let first17 = format!(
            "230722{:08}{:03}",
            19700101 + (seed % 28) + (seed / 28 % 12) * 100,
            (seed * 7 + seq) % 1000
        );
        let check = check_character(&first17).unwrap();
        if want.is_none_or(|w| w == check) {
            return format!("{first17}{check}");
        }
    }
    panic!("no ID with check character {want:?}");
}

async fn import(
    registry: &mut RegistryServiceClient<Channel>,
    request_id: &str,
    rulings: Vec<bdc::RulingInput>,
) -> bdc::ImportRulingsResponse {
    registry
        .import_rulings(tokio_stream::iter(fixtures::ruling_import(
            request_id, rulings,
        )))
        .await
        .unwrap()
        .into_inner()
}

fn case(i: usize, name: &str, id: &str) -> intake::CaseInput {
    intake::CaseInput {
        bank_case_ref: format!("BDC-{i:04}"),
        product: ProductType::CreditCard as i32,
        debtor: Some(Debtor {
            kind: DebtorKind::NaturalPerson as i32,
            name: name.into(),
            id_number: id.into(),
            phone: "13917784483".into(),
            address: "黑龙江省伊春市嘉荫县朝阳镇1号".into(),
            division_code: "230722".into(),
        }),
        contract_amount_fen: 0,
        claim: Some(Claim {
            principal_fen: 3_267_620,
            interest_fen: 45_061,
            penalty_fen: 56_838,
            fees_fen: 0,
            total_fen: 0,
        }),
        contract_ref: format!("HT{i:06}"),
        contract_names_court: false,
        row: 0,
    }
}

/// Registers the bank and submits `cases` as one batch: (bank id, case ids in row order).
async fn submit(s: &mut Suite, cases: Vec<intake::CaseInput>) -> (String, Vec<String>) {
    submit_to(&mut s.intake, cases).await
}

async fn submit_to(
    intake: &mut IntakeServiceClient<Channel>,
    cases: Vec<intake::CaseInput>,
) -> (String, Vec<String>) {
    let bank = intake
        .register_bank(intake::RegisterBankRequest {
            code: "JYRCB".into(),
            name: "嘉荫农村商业银行".into(),
            callback_phone: "0458-6123456".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .bank
        .unwrap()
        .bank_id;
    let res = intake
        .submit_cases(intake::SubmitCasesRequest {
            bank_id: bank.clone(),
            request_id: "b1".into(),
            cases,
            label: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    (bank, res.rows.into_iter().map(|r| r.case_id).collect())
}

/// Waits until every case has left `from` (the relays run on their own).
async fn settled(
    client: &mut IntakeServiceClient<Channel>,
    case_ids: &[String],
    from: Stage,
) -> Vec<i32> {
    wait_for_stage(client, case_ids, |stage| stage != from)
        .await
        .into_iter()
        .map(|case| case.stage)
        .collect()
}

#[tokio::test]
async fn the_registry_refuses_what_it_must_and_reimport_changes_nothing() {
    let mut s = Suite::start().await;
    let a = id_number(1, None);
    let b = id_number(2, None);
    let mut too_soon = ruling("(2025)黑0722执88号之一", "朱芳", &id_number(3, None), false);
    too_soon.enforcement_filed_on = date(2025, 3, 1);
    too_soon.terminated_on = date(2025, 4, 15);
    let rulings = vec![
        ruling("(2024)黑0722执300号之一", "徐敏", &a, false),
        ruling("(2024)黑0722执305号之一", "林洋", &b, true),
        too_soon,
    ];
    let first = import(&mut s.registry, "r1", rulings.clone()).await;
    let summary = first.ruling_import.unwrap();
    assert_eq!((summary.added_rulings, summary.refused_rulings), (2, 1));
    assert_eq!(first.refusals.len(), 1);
    assert_eq!(
        (first.refusals[0].row, first.refusals[0].rule.as_str()),
        (3, "ruling.three_months")
    );

    // The same key: the first answer. Another key: every ruling unchanged, nothing added.
    let replay = import(&mut s.registry, "r1", rulings.clone()).await;
    assert!(replay.replayed);
    let again = import(&mut s.registry, "r2", rulings)
        .await
        .ruling_import
        .unwrap();
    assert_eq!(
        (
            again.added_rulings,
            again.updated_rulings,
            again.unchanged_rulings,
            again.refused_rulings
        ),
        (0, 0, 2, 1)
    );

    // A row naming another debtor under a stored number is refused, not overwritten.
    let contradicting = import(
        &mut s.registry,
        "r3",
        vec![ruling(
            "(2024)黑0722执300号之一",
            "徐敏",
            &id_number(9, None),
            false,
        )],
    )
    .await;
    assert_eq!(contradicting.refusals[0].rule, "ruling.contradicts_stored");
    let stored = s
        .registry
        .get_ruling(bdc::GetRulingRequest {
            key: Some(bdc::get_ruling_request::Key::RulingNumber(
                "(2024)黑0722执300号之一".into(),
            )),
        })
        .await
        .unwrap()
        .into_inner()
        .ruling
        .unwrap();
    assert_eq!(stored.debtor_id_number, a);
    s.stop().await;
}

#[tokio::test]
async fn cases_are_matched_by_normalized_id_and_standing_rulings_only() {
    let mut s = Suite::start().await;
    let with_x = id_number(11, Some('X'));
    let revoked = id_number(12, None);
    let namesake = id_number(13, None);
    import(
        &mut s.registry,
        "r",
        vec![
            ruling("(2024)黑0722执310号之一", "徐敏", &with_x, false),
            ruling("(2024)黑0722执311号之一", "林洋", &revoked, true),
            ruling("(2024)黑0722执312号之一", "王芳", &namesake, false),
        ],
    )
    .await;
    let lower_x = format!(" {} ", with_x.to_lowercase());
    let (_, ids) = submit(
        &mut s,
        vec![
            case(1, "徐敏", &lower_x), // lowercase x, spaces: still the same person
            case(2, "林洋", &revoked), // enforcement resumed: no match
            case(3, "王芳", &id_number(14, None)), // same name, another ID: no match
        ],
    )
    .await;
    let stages = settled(&mut s.intake, &ids, Stage::BadDebtCheck).await;
    assert_eq!(
        stages,
        vec![
            Stage::Certifiable as i32,
            Stage::Preservation as i32,
            Stage::Preservation as i32
        ]
    );
    let check = s
        .pre_check
        .get_check(bdc::GetCheckRequest {
            key: Some(bdc::get_check_request::Key::CaseId(ids[0].clone())),
        })
        .await
        .unwrap()
        .into_inner()
        .check
        .unwrap();
    assert_eq!(check.matches.len(), 1);
    assert_eq!(check.matches[0].ruling_number, "(2024)黑0722执310号之一");
    assert!(check.matches[0].name_agrees);
    let timeline = s
        .intake
        .get_timeline(intake::GetTimelineRequest {
            case_id: ids[0].clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    assert!(
        timeline
            .last()
            .unwrap()
            .reason
            .contains("(2024)黑0722执310号之一")
    );
    s.stop().await;
}

#[tokio::test]
async fn certificates_are_signed_verifiable_and_close_the_case() {
    let mut s = Suite::start().await;
    let id = id_number(21, None);
    import(
        &mut s.registry,
        "r",
        vec![ruling("(2024)黑0722执320号之一", "杨秀英", &id, false)],
    )
    .await;
    let (bank, ids) = submit(
        &mut s,
        vec![
            case(1, "杨秀英", &id),
            case(2, "李强", &id_number(22, None)),
        ],
    )
    .await;
    settled(&mut s.intake, &ids, Stage::BadDebtCheck).await;

    let apply = |case_ids: Vec<String>| bdc::ApplyCertificatesRequest {
        request_id: "a1".into(),
        bank_id: bank.clone(),
        case_ids,
    };
    let res = s
        .pre_check
        .apply_certificates(apply(ids.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(res.rows[0].outcome, RowOutcome::Accepted as i32);
    assert_eq!(res.rows[1].outcome, RowOutcome::Refused as i32);
    assert_eq!(res.rows[1].refusals[0].rule, "pre_check.no_match");
    let cert = res.rows[0].certificate.clone().unwrap();
    assert!(
        cert.certificate_number.contains("黑0722预查废第000001号"),
        "{}",
        cert.certificate_number
    );
    assert_eq!(
        cert.ruling_numbers,
        vec!["(2024)黑0722执320号之一".to_string()]
    );
    assert_eq!(cert.bank_name, "嘉荫农村商业银行");

    // Applying again answers with the same certificate.
    let again = s
        .pre_check
        .apply_certificates(apply(vec![ids[0].clone()]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.rows[0].outcome, RowOutcome::Existing as i32);
    assert_eq!(
        again.rows[0]
            .certificate
            .as_ref()
            .unwrap()
            .certificate_number,
        cert.certificate_number
    );

    let stages = settled(&mut s.intake, &ids[..1], Stage::Certifiable).await;
    assert_eq!(stages, vec![Stage::Certified as i32]);

    let sig = cert.signature.clone().unwrap();
    let verify = |content: Vec<u8>, signature: Vec<u8>| bdc::VerifyCertificateRequest {
        certificate_number: cert.certificate_number.clone(),
        content,
        signature,
        key_id: sig.key_id.clone(),
    };
    let ok = s
        .pre_check
        .verify_certificate(verify(
            cert.canonical_content.clone(),
            sig.signature.clone(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(ok.genuine && ok.unaltered && !ok.revoked, "{ok:?}");

    // A claim raised by one digit on the holder's copy: not what was signed, and named.
    let text = String::from_utf8(cert.canonical_content.clone()).unwrap();
    let tampered = text.replacen("3267620", "9267620", 1).into_bytes();
    assert_ne!(tampered, cert.canonical_content);
    let bad = s
        .pre_check
        .verify_certificate(verify(tampered, sig.signature.clone()))
        .await
        .unwrap()
        .into_inner();
    assert!(!bad.genuine && !bad.unaltered, "{bad:?}");
    assert!(
        bad.altered_fields.iter().any(|f| f.contains("principal")),
        "{:?}",
        bad.altered_fields
    );
    let mut forged = sig.signature.clone();
    forged[0] ^= 1;
    let bad = s
        .pre_check
        .verify_certificate(verify(cert.canonical_content.clone(), forged))
        .await
        .unwrap()
        .into_inner();
    assert!(!bad.genuine, "{bad:?}");

    let doc = s
        .pre_check
        .get_certificate_document(bdc::GetCertificateDocumentRequest {
            key: Some(
                bdc::get_certificate_document_request::Key::CertificateNumber(
                    cert.certificate_number.clone(),
                ),
            ),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(doc.html.contains(&cert.certificate_number) && doc.html.contains("<svg"));

    // Enforcement resumed: the certificate no longer stands.
    let revoked = s
        .registry
        .revoke_ruling(bdc::RevokeRulingRequest {
            request_id: "rv".into(),
            ruling_number: "(2024)黑0722执320号之一".into(),
            reason: "found property".into(),
            resumed_case_number: "(2026)黑0722执恢1号".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        revoked.revoked_certificate_numbers,
        vec![cert.certificate_number.clone()]
    );
    let after = s
        .pre_check
        .verify_certificate(verify(
            cert.canonical_content.clone(),
            sig.signature.clone(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(
        after.genuine && after.unaltered && after.revoked,
        "{after:?}"
    );
    s.stop().await;
}

#[tokio::test]
async fn outcomes_produced_while_intake_is_down_all_arrive_once_it_is_back() {
    let intake = spawn(&[INTAKE]);
    let (intake_addr, intake_stop) = start(intake.clone(), INTAKE).await;
    let mut intake_client = IntakeServiceClient::new(channel(intake_addr));
    let cases: Vec<intake::CaseInput> = (0..50)
        .map(|i| case(i, "张三", &id_number(100 + i as u32, None)))
        .collect();
    let (_, ids) = submit_to(&mut intake_client, cases).await;
    let summaries: Vec<_> = {
        let mut out = Vec::new();
        for id in &ids {
            let c = intake_client
                .get_case(intake::GetCaseRequest {
                    case_id: id.clone(),
                })
                .await
                .unwrap()
                .into_inner()
                .case
                .unwrap();
            out.push(sieve_proto::common::v1::CaseSummary {
                case_ref: Some(sieve_proto::common::v1::CaseRef {
                    case_id: c.case_id,
                    bank_id: c.bank_id,
                    bank_case_ref: c.bank_case_ref,
                }),
                product: c.product,
                debtor: c.debtor,
                claim: c.claim,
                contract_ref: c.contract_ref,
            });
        }
        out
    };
    stop(intake_stop).await;

    // The pre-check works while intake is down; its outcomes wait in its outbox.
    let (bdc_addr, bdc_stop) = start(
        spawn(&[PRE_CHECK]).peer(INTAKE, format!("http://{intake_addr}")),
        PRE_CHECK,
    )
    .await;
    let mut pre_check = PreCheckServiceClient::new(channel(bdc_addr));
    let taken = pre_check
        .check_cases(bdc::CheckCasesRequest {
            request_id: "c".into(),
            cases: summaries.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((taken.accepted, taken.existing), (50, 0));
    assert!(taken.refused.is_empty());
    // A redelivered request takes nothing new: the first delivery stands.
    let replay = pre_check
        .check_cases(bdc::CheckCasesRequest {
            request_id: "c".into(),
            cases: summaries,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(replay.replayed);
    assert_eq!((replay.accepted, replay.existing), (0, 50));
    tokio::time::sleep(Duration::from_millis(300)).await;

    let (_, intake_stop) = start(intake.port(INTAKE, intake_addr.port()), INTAKE).await;
    let stages = settled(&mut intake_client, &ids, Stage::BadDebtCheck).await;
    assert!(stages.iter().all(|s| *s == Stage::Preservation as i32));
    stop(bdc_stop).await;
    stop(intake_stop).await;
}

fn summary(i: usize, name: &str, id: &str) -> sieve_proto::common::v1::CaseSummary {
    use sieve_proto::common::v1 as common;
    common::CaseSummary {
        case_ref: Some(common::CaseRef {
            case_id: format!("case-{i:06}"),
            bank_id: "bank".into(),
            bank_case_ref: format!("REF-{i:06}"),
        }),
        product: ProductType::CreditCard as i32,
        debtor: Some(Debtor {
            kind: DebtorKind::NaturalPerson as i32,
            name: name.into(),
            id_number: id.into(),
            ..Default::default()
        }),
        claim: Some(Claim {
            principal_fen: 1_000_000,
            ..Default::default()
        }),
        contract_ref: format!("HT{i:06}"),
    }
}

/// The case's check, once the pre-check has taken the case.
async fn check_of(client: &mut PreCheckServiceClient<Channel>, case_id: &str) -> bdc::Check {
    for _ in 0..250 {
        match client
            .get_check(bdc::GetCheckRequest {
                key: Some(bdc::get_check_request::Key::CaseId(case_id.into())),
            })
            .await
        {
            Ok(r) => return r.into_inner().check.unwrap(),
            Err(e) if e.code() == tonic::Code::NotFound => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(e) => panic!("get_check: {e}"),
        }
    }
    panic!("case {case_id} was never taken");
}

/// The case's check, once a run has decided it.
async fn decided(client: &mut PreCheckServiceClient<Channel>, case_id: &str) -> bdc::Check {
    for _ in 0..250 {
        let check = check_of(client, case_id).await;
        if check.outcome != bdc::CheckOutcome::Pending as i32 {
            return check;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("case {case_id} was never decided");
}

#[tokio::test]
async fn a_taken_case_is_pending_until_its_run_and_no_certificate_is_issued_before() {
    // A long gathering delay keeps the run from starting while the test looks.
    let mut s = Suite::start_with(|s| s.set_service("bad_debt_check", "run_delay_ms", 3_000)).await;
    let id = id_number(21, None);
    import(
        &mut s.registry,
        "r",
        vec![ruling("(2024)黑0722执400号之一", "赵磊", &id, false)],
    )
    .await;
    let (bank, ids) = submit(&mut s, vec![case(1, "赵磊", &id)]).await;
    // Intake's relay delivers the case within its poll; the run waits for the delay.
    let check = check_of(&mut s.pre_check, &ids[0]).await;
    assert_eq!(check.outcome, bdc::CheckOutcome::Pending as i32);
    assert!(check.checked_at.is_none() && check.match_run_id.is_empty());
    let early = s
        .pre_check
        .apply_certificates(bdc::ApplyCertificatesRequest {
            request_id: "early".into(),
            bank_id: bank.clone(),
            case_ids: ids.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(early.rows[0].refusals[0].rule, "pre_check.pending");

    let stages = settled(&mut s.intake, &ids, Stage::BadDebtCheck).await;
    assert_eq!(stages, vec![Stage::Certifiable as i32]);
    let check = check_of(&mut s.pre_check, &ids[0]).await;
    assert_eq!(check.outcome, bdc::CheckOutcome::Matched as i32);
    assert!(check.checked_at.is_some() && !check.match_run_id.is_empty());
    // Many at once: the same check, and a case with none left out.
    let batch = s
        .pre_check
        .batch_get_checks(bdc::BatchGetChecksRequest {
            case_ids: vec![ids[0].clone(), "no-such-case".into()],
        })
        .await
        .unwrap()
        .into_inner()
        .checks;
    assert_eq!(batch, vec![check]);
    let blank = s
        .pre_check
        .batch_get_checks(bdc::BatchGetChecksRequest {
            case_ids: vec![ids[0].clone(), String::new()],
        })
        .await
        .unwrap_err();
    assert_eq!(blank.code(), tonic::Code::InvalidArgument);
    assert_eq!(
        blank
            .get_error_details()
            .bad_request()
            .unwrap()
            .field_violations[0]
            .field,
        "case_ids[1]"
    );
    s.stop().await;
}

#[tokio::test]
async fn concurrent_deliveries_and_runs_decide_every_case_exactly_once() {
    let configured = spawn(&[PRE_CHECK])
        .configure(|s| {
            // Runs start as soon as cases are taken, so they interleave with the takers.
            s.set_service("bad_debt_check", "run_delay_ms", 0);
            s.set_service("bad_debt_check", "max_cases_per_run", 150);
        })
        .peer(INTAKE, "http://127.0.0.1:1");
    let (addr, bdc_stop) = start(configured, PRE_CHECK).await;
    let mut registry = RegistryServiceClient::new(channel(addr));
    // Every third debtor has a standing ruling.
    let ids: Vec<String> = (0..800).map(|i| id_number(1_000 + i, None)).collect();
    let rulings: Vec<bdc::RulingInput> = ids
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 == 0)
        .map(|(i, id)| {
            ruling(
                &format!("(2024)黑0722执{}号之一", 5_000 + i),
                "周涛",
                id,
                false,
            )
        })
        .collect();
    import(&mut registry, "concurrent", rulings).await;

    // Eight deliveries of 100 cases at once, each delivered twice.
    let mut calls = Vec::new();
    for call in 0..8 {
        let mut client = PreCheckServiceClient::new(channel(addr));
        let cases: Vec<_> = (call * 100..(call + 1) * 100)
            .map(|i| summary(i, "周涛", &ids[i]))
            .collect();
        calls.push(tokio::spawn(async move {
            let mut accepted = 0;
            for attempt in 0..2 {
                accepted += client
                    .check_cases(bdc::CheckCasesRequest {
                        request_id: format!("call-{call}-{attempt}"),
                        cases: cases.clone(),
                    })
                    .await
                    .unwrap()
                    .into_inner()
                    .accepted;
            }
            accepted
        }));
    }
    let mut accepted = 0;
    for c in calls {
        accepted += c.await.unwrap();
    }
    assert_eq!(
        accepted, 800,
        "each case is taken once, whatever the deliveries"
    );

    let mut client = PreCheckServiceClient::new(channel(addr));
    let mut runs = std::collections::HashSet::new();
    for i in 0..800 {
        let case_id = format!("case-{i:06}");
        let check = decided(&mut client, &case_id).await;
        let want = if i % 3 == 0 {
            bdc::CheckOutcome::Matched
        } else {
            bdc::CheckOutcome::NoMatch
        };
        assert_eq!(check.outcome, want as i32, "case {i}");
        if i % 3 == 0 {
            assert_eq!(
                check.matches[0].ruling_number,
                format!("(2024)黑0722执{}号之一", 5_000 + i)
            );
        }
        runs.insert(check.match_run_id);
    }
    // At most 150 cases per run: the cases were decided by several runs.
    assert!(runs.len() >= 6, "{} runs", runs.len());
    stop(bdc_stop).await;
}

#[tokio::test]
async fn checks_made_before_matching_runs_are_carried_into_runs_by_the_migration() {
    use sea_orm::{ConnectionTrait, Statement};
    use sea_orm_migration::MigratorTrait;
    use sieve_bad_debt_check::store;

    // The pre-check's storage, never started: migrated by hand in steps, on the writer.
    let storage = spawn(&[PRE_CHECK]);
    let db = sieve_kernel::db::connect(storage.target(PRE_CHECK), &storage.settings().database)
        .await
        .unwrap()
        .writer()
        .clone();
    // The outbox and m0001: the schema as the first release left it.
    store::migration::Migrator::up(&db, Some(2)).await.unwrap();
    let backend = db.get_database_backend();
    let exec = |sql: &str| Statement::from_string(backend, sql.to_string());
    db.execute_raw(exec(
        "INSERT INTO ruling (id, ruling_number, court_code, court_name, debtor_name, \
         debtor_id_number, filed_on, terminated_on, unpaid_fen, revoked, revocation_reason, \
         resumed_case_number, import_id, imported_at_ms, updated_at_ms) VALUES ('r1', \
         '(2024)黑0722执9号之一', '黑0722', '嘉荫县人民法院', '孙丽', '230722199001010011', \
         '2024-01-10', '2024-06-20', 100, false, '', '', 'i1', 1, 1)",
    ))
    .await
    .unwrap();
    for (id, case, at, matches) in [
        (
            "c1",
            "case-a",
            1_000,
            r#"[{"ruling_id":"r1","ruling_number":"(2024)黑0722执9号之一"}]"#,
        ),
        ("c2", "case-b", 1_000, "[]"),
        ("c3", "case-c", 2_000, "[]"),
    ] {
        db.execute_raw(exec(&format!(
            "INSERT INTO pre_check (id, case_id, bank_id, bank_case_ref, debtor_name, \
             debtor_id_number, principal_fen, interest_fen, penalty_fen, fees_fen, outcome, \
             matches, terminated_since, checked_at_ms, certificate_id) VALUES ('{id}', \
             '{case}', 'bank', 'ref-{id}', '孙丽', '230722199001010011', 1, 0, 0, 0, \
             'MATCHED', '{matches}', NULL, {at}, NULL)"
        )))
        .await
        .unwrap();
    }
    store::migration::Migrator::up(&db, None).await.unwrap();

    let a = store::get_check(&db, None, Some("case-a"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.outcome(), store::Outcome::Matched);
    assert_eq!(a.rulings[0].ruling_number, "(2024)黑0722执9号之一");
    assert_eq!(a.run.as_ref().unwrap().checked_at_ms, 1_000);
    let b = store::get_check(&db, None, Some("case-b"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.outcome(), store::Outcome::NoMatch);
    assert_eq!(b.run, a.run, "one original call, one run");
    let c = store::get_check(&db, None, Some("case-c"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.outcome(), store::Outcome::NoMatch);
    assert_eq!(c.run.as_ref().unwrap().checked_at_ms, 2_000);
    let progress = store::progress(&db).await.unwrap();
    assert_eq!((progress.taken, progress.matched), (3, 3));
    // New cases are numbered after the carried ones.
    assert_eq!(store::take_sequence(&db, 2).await.unwrap(), 3);
}

#[tokio::test]
async fn cases_taken_before_a_stop_are_matched_after_the_restart() {
    let base = spawn(&[PRE_CHECK]).peer(INTAKE, "http://127.0.0.1:1");
    // No run before the stop: the cases are taken and wait.
    let waiting = base
        .clone()
        .configure(|s| s.set_service("bad_debt_check", "run_delay_ms", 600_000));
    let (addr, first) = start(waiting, PRE_CHECK).await;
    let mut registry = RegistryServiceClient::new(channel(addr));
    let matching = id_number(31, None);
    import(
        &mut registry,
        "restart",
        vec![ruling("(2024)黑0722执700号之一", "钱伟", &matching, false)],
    )
    .await;
    let mut client = PreCheckServiceClient::new(channel(addr));
    let taken = client
        .check_cases(bdc::CheckCasesRequest {
            request_id: "before-stop".into(),
            cases: vec![
                summary(1, "钱伟", &matching),
                summary(2, "钱伟", &id_number(32, None)),
            ],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(taken.accepted, 2);
    let waiting = check_of(&mut client, "case-000001").await;
    assert_eq!(waiting.outcome, bdc::CheckOutcome::Pending as i32);
    stop(first).await;

    let running = base.configure(|s| s.set_service("bad_debt_check", "run_delay_ms", 0));
    let (addr, second) = start(running, PRE_CHECK).await;
    let mut client = PreCheckServiceClient::new(channel(addr));
    let mut outcomes = Vec::new();
    for case_id in ["case-000001", "case-000002"] {
        outcomes.push(decided(&mut client, case_id).await.outcome);
    }
    assert_eq!(
        outcomes,
        vec![
            bdc::CheckOutcome::Matched as i32,
            bdc::CheckOutcome::NoMatch as i32
        ]
    );
    stop(second).await;
}

#[tokio::test]
async fn the_pre_check_answers_only_callers_with_the_internal_credential() {
    use tonic::Code;
    let mut suite = Suite::start().await;
    let plain = tonic::transport::Channel::from_shared(format!("http://{}", suite.bdc_addr))
        .unwrap()
        .connect_lazy();
    let request = || bdc::GetCertificateRequest {
        key: Some(bdc::get_certificate_request::Key::CaseId("c-1".into())),
    };
    // No credential, then a wrong one: refused before any certificate is looked at.
    let mut outsider = PreCheckServiceClient::new(plain.clone());
    let err = outsider.get_certificate(request()).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
    let info = err.get_error_details().error_info().cloned().unwrap();
    assert_eq!(info.reason, reason::INTERNAL_CREDENTIAL_MISSING);
    assert_eq!(info.domain, sieve_kernel::error::ERROR_DOMAIN);
    let mut guessed = tonic::Request::new(request());
    guessed.metadata_mut().insert(
        sieve_kernel::internal::HEADER,
        "a-guess-of-forty-characters-0123456789ab".parse().unwrap(),
    );
    let err = outsider.get_certificate(guessed).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
    assert_eq!(
        err.get_error_details().error_info().unwrap().reason,
        reason::INTERNAL_CREDENTIAL_INVALID
    );
    // The signing keys are as closed as the certificates.
    let err = PreCheckServiceClient::new(plain)
        .list_signing_keys(bdc::ListSigningKeysRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
    // With the credential the call is served: this case simply has no certificate.
    let err = suite
        .pre_check
        .get_certificate(request())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    suite
        .pre_check
        .list_signing_keys(bdc::ListSigningKeysRequest::default())
        .await
        .unwrap();
    suite.stop().await;
}

#[tokio::test]
async fn a_certificate_whose_stored_rulings_do_not_parse_is_not_revoked_on_a_guess() {
    use sea_orm::ConnectionTrait;
    let mut s = Suite::start().await;
    let id = id_number(31, None);
    let number = "(2024)黑0722执330号之一";
    import(
        &mut s.registry,
        "r",
        vec![ruling(number, "杨秀英", &id, false)],
    )
    .await;
    let (bank, ids) = submit(&mut s, vec![case(1, "杨秀英", &id)]).await;
    settled(&mut s.intake, &ids, Stage::BadDebtCheck).await;
    let cert = s
        .pre_check
        .apply_certificates(bdc::ApplyCertificatesRequest {
            request_id: "a1".into(),
            bank_id: bank,
            case_ids: ids,
        })
        .await
        .unwrap()
        .into_inner()
        .rows[0]
        .certificate
        .clone()
        .unwrap();
    // The stored list of the rulings it rests on is damaged: it still names the ruling (so
    // the certificate is found as citing it), but it is no longer a list.
    let db = sieve_kernel::db::connect(&s.bdc_target, &Settings::defaults().unwrap().database)
        .await
        .unwrap();
    db.writer()
        .execute_unprepared(&format!(
            "UPDATE certificate SET ruling_numbers = '[\"{number}\", ' WHERE number = '{}'",
            cert.certificate_number
        ))
        .await
        .unwrap();
    // Read as an empty list, "every ruling it rests on is revoked" would hold and revoke it.
    let err = s
        .registry
        .revoke_ruling(bdc::RevokeRulingRequest {
            request_id: "rv".into(),
            ruling_number: number.into(),
            reason: "found property".into(),
            resumed_case_number: "(2026)黑0722执恢2号".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Internal, "{err:?}");
    let revoked = db
        .read()
        .query_one_raw(sea_orm::Statement::from_string(
            db.backend(),
            format!(
                "SELECT COUNT(*) AS n FROM certificate WHERE revoked_at_ms IS NOT NULL AND number = '{}'",
                cert.certificate_number
            ),
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(revoked, 0, "nothing of the revocation was written");
    let _ = db.close().await;
    s.stop().await;
}
