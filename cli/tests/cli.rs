//! The `sieve` command against the whole suite and the outside systems' simulators, on real
//! ports and fresh databases, driven through the command's library as an operator drives it:
//! the demo past the pre-check on a manual clock, and the preservation commands on a file.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sieve_cli::demo_preservation::{PreserveOptions, Preserved, Suit};
use sieve_cli::preservation::{self as pres, Decision, RuleOptions, Selection};
use sieve_cli::submit::{self, SubmitOptions};
use sieve_cli::{BankSpec, Credentials, Gateway, follow, status};
use sieve_e2e::{Simulators, Spawn, Spawned};
use sieve_kernel::{ManualClock, Settings, SharedClock};
use sieve_proto::common::v1::{RowOutcome, Stage};
use sieve_proto::preservation::v1::{PreservationStatus, get_preservation_request::Key};

struct Running {
    spawned: Spawned,
    sims: Simulators,
    settings: Settings,
    gateway: Gateway,
    credentials: Credentials,
}

impl Running {
    /// Every service and both simulators on one manual clock starting at `start`, with the
    /// development credential and key `sieve up` makes.
    async fn at(start: &str) -> Self {
        let start = sieve_cli::clock::parse_start(start).expect("start");
        let clock: SharedClock = Arc::new(ManualClock::new(start));
        let sims = Simulators::start(clock.clone()).await;
        let spawned = Spawn::suite()
            .configure(|s| {
                let defaults = Settings::defaults().expect("defaults load");
                s.internal = defaults.internal;
                s.server = defaults.server;
                s.outbox.poll_interval_ms = 50;
                s.set_service("bad_debt_check", "run_delay_ms", 50);
                sims.configure(s);
            })
            .clock(clock)
            .start()
            .await;
        let settings = spawned.settings().clone();
        let gateway =
            Gateway::connect(&spawned.url(sieve_gateway::SERVICE), &settings).expect("gateway url");
        let credentials = Credentials::load(&settings, None).expect("credentials");
        Self {
            spawned,
            sims,
            settings,
            gateway,
            credentials,
        }
    }

    fn preserve_options(&self) -> PreserveOptions {
        PreserveOptions {
            wait: Duration::from_secs(60),
            poll: Duration::from_millis(100),
            ..PreserveOptions::from_settings(&self.settings).expect("preservation settings")
        }
    }

    async fn stop(self) {
        self.spawned.stop().await;
        self.sims.stop();
    }
}

#[tokio::test]
async fn the_demo_freezes_the_unmatched_cases_and_sends_them_to_mediation_or_suit() {
    let run = Running::at("2026-09-07T09:00:00+08:00").await;
    let options = sieve_cli::DemoOptions::new(80, 4, "DEMO-BANK", &run.settings).expect("options");
    let mut report = sieve_cli::demo_batch(&run.gateway, &run.credentials, &options)
        .await
        .unwrap_or_else(|e| panic!("demo failed: {e}"));
    let watch = follow::FollowOptions {
        wait: Duration::from_secs(60),
        certificates_dir: None,
        ..Default::default()
    };
    let flow = sieve_cli::follow_demo(&run.gateway, &run.credentials, &report, &watch)
        .await
        .unwrap_or_else(|e| panic!("following failed: {e}"));
    let unmatched = flow.funnel.count(Stage::Preservation);
    assert!(unmatched > 40, "{:?}", flow.funnel);
    report.flow = Some(flow);

    let preserve = run.preserve_options();
    let preserved = sieve_cli::preserve_demo(&run.gateway, &run.credentials, &report, &preserve)
        .await
        .unwrap_or_else(|e| panic!("preservation failed: {e}"));
    let Preserved::Done(flow) = &preserved else {
        panic!("skipped: {preserved:?}")
    };
    assert_eq!(flow.candidates, unmatched);
    assert_eq!(
        flow.applied.count(RowOutcome::Accepted),
        unmatched,
        "{:?}",
        flow.applied
    );
    assert_eq!(flow.ruled.ruled(Decision::Approve), unmatched);
    assert!(flow.executed.finished(), "{:?}", flow.executed);
    let f = &flow.freezes;
    assert_eq!(f.in_force, unmatched);
    assert_eq!(f.frozen_cases + f.nothing_frozen, unmatched);
    assert!(f.nothing_frozen > 0 && f.second_platform > 0, "{f:?}");
    assert!(f.frozen_fen > 0 && f.frozen_fen <= f.preserved_fen, "{f:?}");
    assert_eq!(f.notices_delivered, unmatched);
    let c = &flow.callbacks;
    assert!(c.recorded > 0 && c.recorded < unmatched, "{c:?}");
    assert_eq!((c.calling, c.refused, c.not_yet), (c.recorded, 0, 0));
    assert!(c.clock_moved.is_some(), "the calls come after the notices");
    assert!(c.mediation.as_ref().is_some_and(|w| w.finished()), "{c:?}");
    let Suit::Advanced {
        waited,
        lifted,
        litigation,
        example,
        ..
    } = &flow.suit
    else {
        panic!("no suit step: {:?}", flow.suit)
    };
    assert!(waited.finished(), "{waited:?}");
    assert_eq!(
        *lifted, unmatched,
        "every freeze lifted: no suit in 30 days"
    );
    assert_eq!(*litigation, unmatched - c.recorded);
    assert_eq!(flow.funnel.count(Stage::Mediation), c.recorded);
    assert_eq!(flow.funnel.count(Stage::Litigation), unmatched - c.recorded);
    assert_eq!(flow.funnel.count(Stage::Preservation), 0);

    report.preservation = Some(preserved.clone());
    let text = sieve_cli::render_demo(&report);
    for line in [
        format!("frozen: {} cases", f.frozen_cases),
        format!("called back into MEDIATION: {}", c.recorded),
        format!(
            "lifted after the suit period (NO_SUIT_IN_TIME): {unmatched}; sent to LITIGATION \
             (no callback): {}",
            unmatched - c.recorded
        ),
    ] {
        assert!(text.contains(&line), "{line:?} missing from\n{text}");
    }
    assert!(!text.contains("NOT"), "{text}");

    // The case sent to suit shows its preservation step, lifted with its reason.
    let court = run.credentials.court_token().expect("court token");
    let sued = example.clone().expect("a case sent to suit");
    let shown = status::render_status(
        &status::case_status(&run.gateway, &court, &sued)
            .await
            .unwrap_or_else(|e| panic!("status failed: {e}")),
    );
    for needle in [
        "stage       LITIGATION",
        "preservation  ",
        "LIFTED",
        "NO_SUIT_IN_TIME",
        "suit due",
    ] {
        assert!(shown.contains(needle), "{needle:?} missing from\n{shown}");
    }
    let client = run.gateway.court(&court).expect("court client");
    let lifted = pres::list(&client, "", PreservationStatus::Lifted)
        .await
        .unwrap_or_else(|e| panic!("list failed: {e}"));
    assert_eq!(lifted.len(), unmatched);

    // Again: nothing is left in PRESERVATION, nothing is applied twice.
    let again = sieve_cli::preserve_demo(&run.gateway, &run.credentials, &report, &preserve)
        .await
        .unwrap_or_else(|e| panic!("preservation failed: {e}"));
    assert!(matches!(again, Preserved::Skipped(_)), "{again:?}");
    run.stop().await;
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[tokio::test]
async fn a_bank_applies_from_a_file_and_the_court_rules_on_all_applied() {
    let run = Running::at("2026-09-07T09:00:00+08:00").await;
    // No rulings in the registry: every admitted case goes on to PRESERVATION.
    let bank = BankSpec {
        code: "JYRCB".into(),
        name: "嘉荫农村商业银行".into(),
        callback_phone: "0458-6100000".into(),
    };
    let submitted = submit::submit_file(
        &run.gateway,
        &run.credentials,
        &fixture("bank-batch.csv"),
        &SubmitOptions::new(bank),
    )
    .await
    .unwrap_or_else(|e| panic!("submit failed: {e}"));
    let batch = submitted.outcome.expect("sent").batch.batch_id;
    let token = run
        .credentials
        .bank_token_for_code(&run.gateway, "JYRCB")
        .await
        .expect("bank token");
    let mut client = run.gateway.bank(&token).expect("bank client");
    let mut ids = Vec::new();
    for _ in 0..600 {
        ids.clear();
        follow::visit_cases(&mut client, Stage::Preservation, &batch, |c| {
            ids.push(c.case_id)
        })
        .await
        .expect("cases");
        if ids.len() == 30 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(ids.len(), 30, "rows 1-30 in PRESERVATION");

    let header = "case_id,amount,guarantee_kind,issuer_name,issuer_code,instrument_number,\
                  guarantee_amount,valid_from";
    let row = |id: &str, security: &str| {
        format!(
            "{id},100.00,insurance_policy,人保伊春分公司,91230700MA1B2C3D4E,P-{id},{security},2026-01-01"
        )
    };
    let csv = [
        header.to_owned(),
        row(&ids[0], "100.00"),
        row(&ids[1], "99.99"),
        row(&ids[2], "1.001"),
        row(&ids[3], "200.00"),
    ]
    .join("\n");
    let file = run.spawned.data_dir().join("applications.csv");
    std::fs::write(&file, csv).expect("write");
    let options = pres::ApplyOptions {
        bank_code: "JYRCB".into(),
        request_id: None,
        progress: false,
    };
    let report = pres::apply_file(&run.gateway, &run.credentials, &file, &options)
        .await
        .unwrap_or_else(|e| panic!("apply failed: {e}"));
    assert_eq!(report.unreadable.len(), 1);
    assert_eq!(
        (
            report.unreadable[0].row,
            report.unreadable[0].column.as_str()
        ),
        (3, "guarantee_amount")
    );
    let outcome = report.outcome.as_ref().expect("sent");
    let rows: Vec<(u64, RowOutcome)> = outcome.rows.iter().map(|r| (r.row, r.outcome)).collect();
    assert_eq!(
        rows,
        [
            (1, RowOutcome::Accepted),
            (2, RowOutcome::Refused),
            (4, RowOutcome::Accepted)
        ]
    );
    assert_eq!(outcome.rows[1].refusals[0].rule, "security.short");
    let text = pres::render_apply(&report);
    assert!(
        text.contains(&format!(
            "  row      2  case {}  refused  guarantee.amount_fen  security.short",
            ids[1]
        )),
        "{text}"
    );
    // The same file again: replayed, nothing applied twice.
    let again = pres::apply_file(&run.gateway, &run.credentials, &file, &options)
        .await
        .unwrap_or_else(|e| panic!("apply failed: {e}"));
    let again = again.outcome.expect("sent");
    assert_eq!(again.replayed_calls, 1);
    assert_eq!(again.rows, outcome.rows);

    let court = run.credentials.court_token().expect("court token");
    let rule = RuleOptions {
        judge: "李法官".into(),
        ruling_numbers: Vec::new(),
        first_number: None,
        court_code: run.settings.court.code.clone(),
        request_id: None,
    };
    let ruled = pres::rule(&run.gateway, &court, &Selection::AllApplied, &rule)
        .await
        .unwrap_or_else(|e| panic!("rule failed: {e}"));
    let numbers: Vec<&str> = ruled
        .rows
        .iter()
        .map(|r| r.ruling_number.as_str())
        .collect();
    let code = &run.settings.court.code;
    assert_eq!(
        numbers,
        [
            format!("(2026){code}财保1号"),
            format!("(2026){code}财保2号")
        ]
    );
    assert_eq!(ruled.ruled(Decision::Approve), 2);
    // Numbers go on after the highest given; a rejection needs no number.
    let applied = pres::apply_file(
        &run.gateway,
        &run.credentials,
        &{
            let more = run.spawned.data_dir().join("more.csv");
            std::fs::write(
                &more,
                [
                    header.to_owned(),
                    row(&ids[4], "100.00"),
                    row(&ids[5], "100.00"),
                ]
                .join("\n"),
            )
            .expect("write");
            more
        },
        &options,
    )
    .await
    .unwrap_or_else(|e| panic!("apply failed: {e}"));
    let ps: Vec<String> = applied
        .outcome
        .expect("sent")
        .rows
        .iter()
        .filter_map(|r| r.preservation.as_ref().map(|p| p.preservation_id.clone()))
        .collect();
    let selection = Selection::Ids {
        approve: vec![ps[0].clone()],
        reject: vec![ps[1].clone()],
        reason: "担保材料不全".into(),
    };
    let ruled = pres::rule(&run.gateway, &court, &selection, &rule)
        .await
        .unwrap_or_else(|e| panic!("rule failed: {e}"));
    assert_eq!(ruled.rows[0].ruling_number, format!("(2026){code}财保3号"));
    assert_eq!(
        (
            ruled.ruled(Decision::Approve),
            ruled.ruled(Decision::Reject)
        ),
        (1, 1)
    );

    let client = run.gateway.court(&court).expect("court client");
    let shown = pres::get(&client, Key::CaseId(ids[0].clone()))
        .await
        .unwrap_or_else(|e| panic!("show failed: {e}"));
    let text = pres::render_preservation(&shown);
    assert!(
        text.contains(&format!(
            "ruling        approved (2026){code}财保1号 by 李法官"
        )),
        "{text}"
    );
    assert!(text.contains("ruling due    "), "{text}");
    let listed = pres::list(&client, "", PreservationStatus::Unspecified)
        .await
        .unwrap_or_else(|e| panic!("list failed: {e}"));
    assert_eq!(listed.len(), 4);
    assert!(pres::render_list(&listed).contains("4 preservations, 0 with the ruling OVERDUE"));
    run.stop().await;
}
