use super::*;
use std::path::PathBuf;

use sieve_proto::bad_debt_check::v1::Certificate;
use sieve_proto::common::v1::RowRefusal;

use crate::certificates::AppliedRow;

fn waited(remaining: usize, millis: u64) -> Waited {
    Waited {
        remaining,
        elapsed: Duration::from_millis(millis),
        limit: Duration::from_secs(120),
    }
}

fn funnel(stages: &[(Stage, usize, &str)]) -> Funnel {
    Funnel {
        batch_id: "b1".into(),
        stages: stages.iter().map(|(s, n, _)| (*s as i32, *n)).collect(),
        examples: stages
            .iter()
            .map(|(s, _, id)| (*s as i32, (*id).to_owned()))
            .collect(),
    }
}

fn issued(case_id: &str, existing: bool) -> AppliedRow {
    AppliedRow {
        case_id: case_id.into(),
        outcome: Applied::Issued {
            certificate: Box::new(Certificate::default()),
            existing,
            file: PathBuf::from(format!("certificates/{case_id}.html")),
        },
    }
}

fn applied(rows: Vec<AppliedRow>, closed: Waited) -> Certification {
    Certification::Applied {
        report: ApplyReport {
            bank_code: "DEMO-BANK".into(),
            out_dir: PathBuf::from("certificates"),
            rows,
        },
        closed,
    }
}

const RERUN: &str = "sieve demo --cases 300 --seed 1 --bank DEMO-BANK";

#[test]
fn a_finished_demo_shows_the_funnel_and_two_cases_to_try() {
    let flow = DemoFlow {
        pre_check: waited(0, 2_400),
        certification: applied(
            vec![issued("c-1", false), issued("c-2", true)],
            waited(0, 600),
        ),
        funnel: funnel(&[
            (Stage::Certified, 2, "c-1"),
            (Stage::Preservation, 288, "c-9"),
        ]),
    };
    let mut text = String::new();
    render_flow(&mut text, &flow, "DEMO-BANK", RERUN);
    assert!(
        text.contains("pre-check: done (waited 2.4 s); no case of the batch is left"),
        "{text}"
    );
    assert!(
        text.contains("certificates: 2 issued (1 before), 0 refused; pages in certificates"),
        "{text}"
    );
    assert!(
        text.contains("closed as CERTIFIED (waited 0.6 s)"),
        "{text}"
    );
    assert!(text.contains("batch b1: 290 cases now"), "{text}");
    assert!(text.contains("  CERTIFIED       2  matched"), "{text}");
    assert!(
        text.contains("  PRESERVATION  288  no standing ruling"),
        "{text}"
    );
    assert!(!text.contains("BAD_DEBT_CHECK "), "{text}");
    assert!(
        text.contains("try: sieve status c-1    (certified)"),
        "{text}"
    );
    assert!(
        text.contains("try: sieve status c-9    (moved on to preservation)"),
        "{text}"
    );
    assert!(!text.contains("NOT"), "{text}");
    assert!(!text.contains("stopped waiting"), "{text}");
}

#[test]
fn a_timed_out_pre_check_is_said_plainly_and_nothing_is_applied_for() {
    let flow = DemoFlow {
        pre_check: waited(150, 120_000),
        certification: Certification::PreCheckUnfinished,
        funnel: funnel(&[
            (Stage::BadDebtCheck, 150, "c-1"),
            (Stage::Certifiable, 4, "c-3"),
            (Stage::Preservation, 136, "c-2"),
        ]),
    };
    let mut text = String::new();
    render_flow(&mut text, &flow, "DEMO-BANK", RERUN);
    assert!(
        text.contains(
            "pre-check: NOT finished: after waiting 120.0 s, 150 cases of the batch were \
             still in BAD_DEBT_CHECK"
        ),
        "{text}"
    );
    assert!(
        text.contains("Is the pre-check (bad-debt-check) running?"),
        "{text}"
    );
    assert!(
        text.contains(
            "not applied for while the pre-check is unfinished; once it is: sieve \
             certificates apply --bank DEMO-BANK --all"
        ),
        "{text}"
    );
    assert!(
        text.contains("  BAD_DEBT_CHECK  150  still waiting for the pre-check"),
        "{text}"
    );
    // Nothing certified yet: the row is there, at zero.
    assert!(text.contains("  CERTIFIED         0"), "{text}");
    assert!(
        text.contains("try: sieve status c-3    (matched)"),
        "{text}"
    );
    assert!(
        text.contains("stopped waiting. To look again later"),
        "{text}"
    );
    assert!(text.contains(RERUN), "{text}");
}

#[test]
fn a_pre_check_that_finished_after_the_wait_is_not_blamed_on_the_service() {
    let flow = DemoFlow {
        pre_check: waited(40, 0),
        certification: Certification::PreCheckUnfinished,
        funnel: funnel(&[
            (Stage::Certifiable, 4, "c-3"),
            (Stage::Preservation, 36, "c-2"),
        ]),
    };
    let mut text = String::new();
    render_flow(&mut text, &flow, "DEMO-BANK", RERUN);
    assert!(
        text.contains(
            "pre-check: NOT finished within the 0.0 s waited (40 cases were still in \
             BAD_DEBT_CHECK); it has finished since"
        ),
        "{text}"
    );
    assert!(!text.contains("running?"), "{text}");
    assert!(
        text.contains("  BAD_DEBT_CHECK   0  still waiting for the pre-check"),
        "{text}"
    );
    assert!(
        text.contains("sieve certificates apply --bank DEMO-BANK --all"),
        "{text}"
    );
}

#[test]
fn no_certify_and_unclosed_certificates_are_reported() {
    let skipped = DemoFlow {
        pre_check: waited(0, 100),
        certification: Certification::Skipped,
        funnel: funnel(&[
            (Stage::Certifiable, 3, "c-1"),
            (Stage::Preservation, 7, "c-2"),
        ]),
    };
    let mut text = String::new();
    render_flow(&mut text, &skipped, "DEMO-BANK", RERUN);
    assert!(
        text.contains("certificates: not applied for (--no-certify); to apply: sieve certificates apply --bank DEMO-BANK --all"),
        "{text}"
    );
    assert!(
        text.contains("  CERTIFIABLE   3  matched a standing ruling; no certificate"),
        "{text}"
    );
    assert!(!text.contains("stopped waiting"), "{text}");

    let unclosed = DemoFlow {
        pre_check: waited(0, 100),
        certification: applied(
            vec![
                issued("c-1", false),
                AppliedRow {
                    case_id: "c-5".into(),
                    outcome: Applied::Refused(vec![RowRefusal::default()]),
                },
            ],
            waited(1, 120_000),
        ),
        funnel: funnel(&[(Stage::Certifiable, 1, "c-1")]),
    };
    let mut text = String::new();
    render_flow(&mut text, &unclosed, "DEMO-BANK", RERUN);
    assert!(text.contains("1 issued (0 before), 1 refused"), "{text}");
    assert!(text.contains("why refused"), "{text}");
    assert!(
        text.contains(
            "NOT all closed: after waiting 120.0 s, 1 certified cases are still CERTIFIABLE"
        ),
        "{text}"
    );
    assert!(text.contains("stopped waiting"), "{text}");

    let none = DemoFlow {
        pre_check: waited(0, 100),
        certification: applied(Vec::new(), waited(0, 0)),
        funnel: Funnel::default(),
    };
    let mut text = String::new();
    render_flow(&mut text, &none, "DEMO-BANK", RERUN);
    assert!(
        text.contains("certificates: none to apply for (no case of bank DEMO-BANK is CERTIFIABLE)"),
        "{text}"
    );
    assert!(!text.contains("try: sieve"), "{text}");
}

#[test]
fn the_funnel_counts_and_keeps_the_first_case_of_each_stage() {
    let mut f = Funnel::default();
    for (id, stage) in [
        ("a", Stage::Preservation),
        ("b", Stage::Certified),
        ("c", Stage::Preservation),
    ] {
        f.add(Case {
            case_id: id.into(),
            stage: stage as i32,
            ..Default::default()
        });
    }
    assert_eq!(f.count(Stage::Preservation), 2);
    assert_eq!(f.count(Stage::Certified), 1);
    assert_eq!(f.count(Stage::BadDebtCheck), 0);
    assert_eq!(f.total(), 3);
    assert_eq!(f.example(Stage::Preservation), Some("a"));
    assert_eq!(f.example(Stage::Certifiable), None);
}

#[tokio::test]
async fn waiting_ends_when_none_is_left_or_the_time_is_up() {
    let options = FollowOptions {
        wait: Duration::from_secs(5),
        poll: Duration::from_millis(1),
        ..FollowOptions::default()
    };
    let hidden = ProgressBar::hidden();
    let mut left = 3_usize;
    let waited = wait_until_none(
        &options,
        &hidden,
        || {
            left = left.saturating_sub(1);
            let n = left;
            async move { Ok(n) }
        },
        |n, _| n.to_string(),
    )
    .await
    .expect("waits");
    assert!(waited.finished());
    assert_eq!(left, 0);

    let short = FollowOptions {
        wait: Duration::from_millis(30),
        ..options.clone()
    };
    let mut looks = 0;
    let waited = wait_until_none(
        &short,
        &hidden,
        || {
            looks += 1;
            async { Ok(7) }
        },
        |n, _| n.to_string(),
    )
    .await
    .expect("waits");
    assert_eq!(waited.remaining, 7);
    assert!(waited.elapsed >= Duration::from_millis(30), "{waited:?}");
    assert!(looks > 1, "{looks}");

    // Zero: one look.
    let once = FollowOptions {
        wait: Duration::ZERO,
        ..options.clone()
    };
    let mut looks = 0;
    let waited = wait_until_none(
        &once,
        &hidden,
        || {
            looks += 1;
            async { Ok(2) }
        },
        |n, _| n.to_string(),
    )
    .await
    .expect("waits");
    assert_eq!((waited.remaining, looks), (2, 1));

    // A failed look is the error.
    let failed = wait_until_none(
        &options,
        &hidden,
        || async { Err(CliError::Protocol("x".into())) },
        |n, _| n.to_string(),
    )
    .await;
    assert!(failed.is_err());
}
