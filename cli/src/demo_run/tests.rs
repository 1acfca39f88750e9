//! `sieve demo`'s report: compiled only under `cargo test`.
#![cfg(test)]

use super::*;
use sieve_proto::bad_debt_check::v1::RulingImport;
use sieve_proto::common::v1::Stage;
use sieve_proto::intake::v1::Batch;

fn report() -> DemoReport {
    DemoReport {
        generated: 100,
        seed: 1,
        flawed: 3,
        request_id: "demo:seed=1:cases=100".into(),
        bank_code: "DEMO-BANK".into(),
        rulings: registry::ImportOutcome {
            import: RulingImport {
                received_rulings: 11,
                added_rulings: 11,
                ..Default::default()
            },
            replayed: false,
            refused: Vec::new(),
        },
        should_match: 10,
        revoked_rulings: 1,
        outcome: submit::BatchOutcome {
            batch: Batch {
                batch_id: "b".into(),
                accepted_cases: 97,
                refused_cases: 3,
                received_cases: 100,
                ..Default::default()
            },
            replayed: false,
            refused: Vec::new(),
            differing: Vec::new(),
            first_case_id: Some("0193abc".into()),
        },
        flow: None,
        preservation: None,
    }
}

#[test]
fn demo_report_points_at_a_case() {
    let report = report();
    let text = render_demo(&report);
    assert!(
        text.contains("generated 100 cases, 3 of them flawed"),
        "{text}"
    );
    assert!(text.contains("try: sieve status 0193abc"), "{text}");
    assert!(
        text.contains("registry: 11 rulings for the demo's debtors (1 revoked), added 11"),
        "{text}"
    );
    assert!(
        text.contains("10 cases should match the registry"),
        "{text}"
    );
    assert!(
        text.contains("sieve certificates apply --bank DEMO-BANK --all"),
        "{text}"
    );
    assert_eq!(
        report.command(),
        "sieve demo --cases 100 --seed 1 --bank DEMO-BANK"
    );
}

#[test]
fn a_followed_demo_ends_with_its_funnel_instead_of_the_next_steps() {
    let mut report = report();
    report.flow = Some(follow::DemoFlow {
        pre_check: follow::Waited {
            remaining: 0,
            elapsed: Duration::from_millis(1_500),
            limit: Duration::from_secs(120),
        },
        certification: follow::Certification::Skipped,
        funnel: follow::Funnel {
            batch_id: "b".into(),
            stages: [
                (Stage::Certifiable as i32, 10),
                (Stage::Preservation as i32, 87),
            ]
            .into(),
            examples: [
                (Stage::Certifiable as i32, "c-match".to_owned()),
                (Stage::Preservation as i32, "c-on".to_owned()),
            ]
            .into(),
        },
    });
    let submission = render_demo_submission(&report);
    assert!(submission.contains("accepted 97"), "{submission}");
    assert!(!submission.contains("try: sieve"), "{submission}");
    let text = render_demo(&report);
    assert!(text.starts_with(&submission), "{text}");
    assert!(text.contains("pre-check: done (waited 1.5 s)"), "{text}");
    assert!(text.contains("batch b: 97 cases now"), "{text}");
    assert!(text.contains("try: sieve status c-match"), "{text}");
    assert!(text.contains("try: sieve status c-on"), "{text}");
    // The first case's hint belongs to the unfollowed demo.
    assert!(!text.contains("0193abc"), "{text}");
    assert!(!text.contains("then: "), "{text}");
}

#[test]
fn a_demo_taken_through_preservation_ends_with_that_step() {
    let mut report = report();
    assert_eq!(render_demo_preservation(&report), "");
    report.preservation = Some(Preserved::Skipped("the pre-check has not finished".into()));
    let text = render_demo(&report);
    assert!(
        text.ends_with("preservation: skipped: the pre-check has not finished\n"),
        "{text}"
    );
    assert!(text.starts_with(&render_demo_submission(&report)), "{text}");
}
