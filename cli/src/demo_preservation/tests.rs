//! The demo's accounts, its freeze counts and its report: compiled only under `cargo test`.
#![cfg(test)]

use std::collections::BTreeMap;

use sieve_proto::common::v1::CaseRef;
use sieve_proto::preservation::v1::{FreezeOrder, FreezeStatus, Notice};
use sieve_proto::sim::payment::v1::Platform;

use super::*;

fn debtors(n: usize) -> Vec<(String, i64)> {
    (0..n)
        .map(|i| (format!("2307221985110{i:05}"), 100_000 + i as i64 * 37))
        .collect()
}

#[test]
fn accounts_follow_the_seed_and_leave_some_short_and_some_empty() {
    let debtors = debtors(1_000);
    let (accounts, holdings) = plan_accounts(7, &debtors);
    assert_eq!(
        plan_accounts(7, &debtors),
        (accounts.clone(), holdings.clone())
    );
    assert_ne!(plan_accounts(8, &debtors).1, holdings);
    let count = |f: &dyn Fn(&Holding) -> bool| holdings.iter().filter(|h| f(h)).count();
    let nothing = count(&|h| *h == Holding::Nothing);
    let wechat = count(&|h| *h == Holding::WechatOnly);
    let short = count(&|h| matches!(h, Holding::AlipayShort { .. }));
    let enough = count(&|h| *h == Holding::Enough);
    assert_eq!(nothing + wechat + short + enough, 1_000);
    for (n, share) in [(nothing, 15), (wechat, 10), (short, 30), (enough, 45)] {
        assert!(n.abs_diff(share * 10) < 60, "{n} not about {share}%");
    }
    for ((id, amount), holding) in debtors.iter().zip(&holdings) {
        let held = |p: Platform| {
            accounts
                .iter()
                .find(|a| a.id_number == *id && a.platform == p as i32)
                .map(|a| a.balance_fen)
        };
        match holding {
            Holding::Nothing => assert_eq!(
                (held(Platform::Alipay), held(Platform::WechatPay)),
                (None, None)
            ),
            Holding::WechatOnly => {
                assert_eq!(held(Platform::Alipay), None);
                assert!(held(Platform::WechatPay).is_some_and(|b| b >= *amount));
            }
            Holding::AlipayShort { covered } => {
                let (a, w) = (
                    held(Platform::Alipay).unwrap_or(0),
                    held(Platform::WechatPay).unwrap_or(0),
                );
                assert!(a > 0 && a < *amount, "{a} of {amount}");
                assert_eq!(a + w >= *amount, *covered, "{a} + {w} of {amount}");
            }
            Holding::Enough => assert!(held(Platform::Alipay).is_some_and(|b| b >= *amount)),
        }
    }
}

fn in_force(case: &str, amount_fen: i64, orders: &[(i32, i64)]) -> Preservation {
    Preservation {
        preservation_id: format!("p-{case}"),
        case_summary: Some(sieve_proto::common::v1::CaseSummary {
            case_ref: Some(CaseRef {
                case_id: case.into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        status: PreservationStatus::InForce as i32,
        amount_fen,
        freeze_orders: orders
            .iter()
            .map(|(status, frozen_fen)| FreezeOrder {
                status: *status,
                frozen_fen: *frozen_fen,
                ..Default::default()
            })
            .collect(),
        notice: Some(Notice {
            status: "delivered".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn freezes_are_counted_by_what_each_holds() {
    let frozen = FreezeStatus::Frozen as i32;
    let failed = FreezeStatus::Failed as i32;
    let f = freezes(&[
        in_force("a", 1_000, &[(frozen, 1_000)]),
        in_force("b", 1_000, &[(frozen, 600), (frozen, 400)]),
        in_force("c", 1_000, &[(frozen, 600), (frozen, 100)]),
        in_force("d", 1_000, &[(failed, 0), (failed, 0)]),
    ]);
    assert_eq!(
        (f.in_force, f.preserved_fen, f.frozen_cases, f.frozen_fen),
        (4, 4_000, 3, 2_700)
    );
    assert_eq!(
        (f.fully_frozen, f.second_platform, f.nothing_frozen),
        (2, 3, 1)
    );
    assert_eq!(f.notices_delivered, 4);
    assert_eq!(f.example_two_platforms.as_deref(), Some("b"));
    assert_eq!(f.example_nothing.as_deref(), Some("d"));
}

fn flow(suit: Suit) -> PreservationFlow {
    let waited = Waited {
        remaining: 0,
        elapsed: Duration::from_millis(1_200),
        limit: Duration::from_secs(120),
    };
    PreservationFlow {
        batch_id: "b".into(),
        candidates: 87,
        holdings: [("enough at Alipay", 40), ("no account", 13)].into(),
        applied: ApplyOutcome {
            rows: Vec::new(),
            calls: 1,
            replayed_calls: 0,
        },
        ruled: RuleReport::default(),
        executed: waited,
        freezes: Freezes {
            in_force: 87,
            preserved_fen: 15_000_000,
            frozen_cases: 74,
            frozen_fen: 12_345_678,
            fully_frozen: 60,
            second_platform: 35,
            nothing_frozen: 13,
            notices_delivered: 87,
            notices_failed: 0,
            example_two_platforms: Some("c-two".into()),
            example_nothing: Some("c-none".into()),
        },
        callbacks: Callbacks {
            share_percent: 33,
            calling: 29,
            recorded: 29,
            refused: 0,
            not_yet: 0,
            clock_moved: Some(Duration::from_secs(3 * 86_400)),
            mediation: Some(waited),
            example: Some("c-called".into()),
        },
        suit,
        funnel: Funnel {
            batch_id: "b".into(),
            stages: BTreeMap::from([
                (Stage::Certified as i32, 10),
                (Stage::Mediation as i32, 29),
                (Stage::Litigation as i32, 58),
            ]),
            examples: BTreeMap::new(),
        },
    }
}

#[test]
fn the_report_counts_frozen_called_back_lifted_and_sued() {
    let advanced = Suit::Advanced {
        by: Duration::from_secs(31 * 86_400 + 60),
        now: prost_types::Timestamp {
            seconds: 1_791_475_260,
            nanos: 0,
        },
        waited: flow(Suit::NotManual).executed,
        lifted: 87,
        litigation: 58,
        example: Some("c-sued".into()),
    };
    let mut out = String::new();
    render(
        &mut out,
        &Preserved::Done(Box::new(flow(advanced))),
        "sieve demo --cases 100",
    );
    for needle in [
        "preservation: 87 cases of batch b in PRESERVATION",
        "(seeded): 40 enough at Alipay, 13 no account",
        "freezes and notices: done (waited 1.2 s); 87 in force hold 123,456.78 of 150,000.00 \
         yuan preserved (60 in full); a second platform was asked for 35; 13 hold nothing",
        "33% of served debtors call the bank (seeded): 29 calls, 29 recorded",
        "the manual clock moved 3d for the calls",
        "into MEDIATION: done",
        "the manual clock moved 31d1m to 2026-10-09 00:01:00 Asia/Shanghai",
        "frozen: 74 cases, 123,456.78 yuan in all",
        "called back into MEDIATION: 29",
        "lifted after the suit period (NO_SUIT_IN_TIME): 87; sent to LITIGATION (no callback): 58",
        "batch b after preservation:",
        "  LITIGATION  58",
        "try: sieve status c-two    (frozen at two platforms)",
        "try: sieve status c-called    (called back: mediation)",
        "try: sieve status c-sued    (no callback: lifted, to suit)",
        "then: sieve preservation list --status lifted",
    ] {
        assert!(out.contains(needle), "{needle:?} missing from\n{out}");
    }
    assert!(!out.contains("stopped waiting"), "{out}");
}

#[test]
fn on_the_system_clock_the_suit_step_is_skipped_and_said_so() {
    let mut f = flow(Suit::NotManual);
    f.callbacks.not_yet = 12;
    f.callbacks.clock_moved = None;
    f.executed.remaining = 3;
    let mut out = String::new();
    render(
        &mut out,
        &Preserved::Done(Box::new(f)),
        "sieve demo --cases 100",
    );
    assert!(
        out.contains("suit period: skipped: the suite runs on the system clock"),
        "{out}"
    );
    assert!(out.contains("12 calls are not due yet"), "{out}");
    assert!(
        out.contains("lifted after the suit period: - (the clock step did not run)"),
        "{out}"
    );
    assert!(out.contains("NOT finished: 3 still waiting"), "{out}");
    assert!(
        out.contains("stopped waiting. To look again later, run the same demo"),
        "{out}"
    );
    let mut out = String::new();
    render(&mut out, &Preserved::Skipped("no simulator".into()), "x");
    assert_eq!(out, "preservation: skipped: no simulator\n");
}
