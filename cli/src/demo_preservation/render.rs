//! What `sieve demo` prints of its preservation step.

use std::fmt::Write as _;

use sieve_kernel::rules::money::format_yuan;
use sieve_proto::common::v1::{RowOutcome, Stage};

use super::{Holding, PreservationFlow, Preserved, Suit};
use crate::follow::{Waited, render_stages, seconds};
use crate::preservation::Decision;

/// How many refused applications are listed.
const REFUSALS_SHOWN: usize = 5;

/// A holding as the report counts it.
pub(crate) fn holding_word(h: Holding) -> &'static str {
    match h {
        Holding::Enough => "enough at Alipay",
        Holding::AlipayShort { .. } => "less at Alipay than preserved",
        Holding::WechatOnly => "at WeChat Pay only",
        Holding::Nothing => "no account",
    }
}

fn waited(w: &Waited) -> String {
    if w.finished() {
        format!("done (waited {})", seconds(w.elapsed))
    } else {
        format!(
            "NOT finished: {} still waiting after {}",
            w.remaining,
            seconds(w.elapsed)
        )
    }
}

/// The step, its counts and the cases to look at; `rerun` is the command that picks the
/// demo up again.
pub fn render(out: &mut String, preserved: &Preserved, rerun: &str) {
    let flow = match preserved {
        Preserved::Skipped(why) => {
            let _ = writeln!(out, "preservation: skipped: {why}");
            return;
        }
        Preserved::Done(flow) => flow,
    };
    let _ = writeln!(
        out,
        "preservation: {} cases of batch {} in PRESERVATION",
        flow.candidates, flow.batch_id
    );
    render_steps(out, flow);
    render_summary(out, flow);
    let _ = writeln!(out, "batch {} after preservation:", flow.batch_id);
    render_stages(out, &flow.funnel.stages);
    render_hints(out, flow);
    let unfinished = !flow.executed.finished()
        || flow
            .callbacks
            .mediation
            .as_ref()
            .is_some_and(|w| !w.finished())
        || matches!(&flow.suit, Suit::Advanced { waited, .. } if !waited.finished());
    if unfinished {
        let _ = writeln!(
            out,
            "stopped waiting. To look again later, run the same demo (it replays: nothing is \
             applied or recorded twice): {rerun}"
        );
    }
}

fn render_steps(out: &mut String, flow: &PreservationFlow) {
    let mut holdings: Vec<_> = flow.holdings.iter().collect();
    holdings.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let holdings: Vec<String> = holdings.iter().map(|(w, n)| format!("{n} {w}")).collect();
    let _ = writeln!(
        out,
        "  debtors' accounts at the platforms' simulator (seeded): {}",
        holdings.join(", ")
    );
    let a = &flow.applied;
    let _ = writeln!(
        out,
        "  applications (insurance policy for each whole claim): accepted {}, existing {}, \
         refused {}",
        a.count(RowOutcome::Accepted),
        a.count(RowOutcome::Existing),
        a.count(RowOutcome::Refused)
    );
    for r in a
        .rows
        .iter()
        .filter(|r| r.outcome == RowOutcome::Refused)
        .take(REFUSALS_SHOWN)
    {
        for x in &r.refusals {
            let _ = writeln!(
                out,
                "    case {}  {}  {}  {}",
                r.case_id, x.field, x.rule, x.description
            );
        }
    }
    let refused_rulings = flow.ruled.rows.len() - flow.ruled.ruled(Decision::Approve);
    let _ = writeln!(
        out,
        "  rulings (judge {}): approved {}, refused {}",
        super::DEMO_JUDGE,
        flow.ruled.ruled(Decision::Approve),
        refused_rulings
    );
    let f = &flow.freezes;
    let _ = writeln!(
        out,
        "  freezes and notices: {}; {} in force hold {} of {} yuan preserved ({} in full); a \
         second platform was asked for {}; {} hold nothing (no account, or nothing free); \
         notices served {}, failed {} (CPL 106)",
        waited(&flow.executed),
        f.in_force,
        format_yuan(f.frozen_fen),
        format_yuan(f.preserved_fen),
        f.fully_frozen,
        f.second_platform,
        f.nothing_frozen,
        f.notices_delivered,
        f.notices_failed
    );
    let c = &flow.callbacks;
    let moved = c.clock_moved.map_or_else(String::new, |by| {
        format!(
            "; the manual clock moved {} for the calls to have been made",
            crate::clock::format_duration(by)
        )
    });
    let _ = writeln!(
        out,
        "  callbacks: {}% of served debtors call the bank (seeded): {} calls, {} recorded \
         through the bank's door, {} refused{moved}",
        c.share_percent, c.calling, c.recorded, c.refused
    );
    if c.not_yet > 0 {
        let _ = writeln!(
            out,
            "    {} calls are not due yet on the system clock (within 72 hours of the notice); \
             run the demo again later to record them",
            c.not_yet
        );
    }
    if let Some(w) = &c.mediation {
        let _ = writeln!(out, "    into MEDIATION: {}", waited(w));
    }
    match &flow.suit {
        Suit::NothingInForce => {
            let _ = writeln!(
                out,
                "  suit period: no preservation of the batch is in force"
            );
        }
        Suit::NotManual => {
            let _ = writeln!(
                out,
                "  suit period: skipped: the suite runs on the system clock, so 30 days cannot \
                 pass here (`sieve up --manual-clock` runs it on a clock the demo moves)"
            );
        }
        Suit::Advanced {
            by, now, waited: w, ..
        } => {
            let _ = writeln!(
                out,
                "  suit period (CPL 104 para 3): the manual clock moved {} to {} Asia/Shanghai; \
                 the freezes lifted and the cases moved on: {}",
                crate::clock::format_duration(*by),
                crate::format::shanghai_time(Some(now)),
                waited(w)
            );
        }
    }
}

/// The four counts the step is about, on their own lines.
fn render_summary(out: &mut String, flow: &PreservationFlow) {
    let f = &flow.freezes;
    let _ = writeln!(
        out,
        "frozen: {} cases, {} yuan in all",
        f.frozen_cases,
        format_yuan(f.frozen_fen)
    );
    let _ = writeln!(
        out,
        "called back into MEDIATION: {}",
        flow.funnel.count(Stage::Mediation)
    );
    match &flow.suit {
        Suit::Advanced {
            lifted, litigation, ..
        } => {
            let _ = writeln!(
                out,
                "lifted after the suit period (NO_SUIT_IN_TIME): {lifted}; sent to LITIGATION \
                 (no callback): {litigation}"
            );
        }
        _ => {
            let _ = writeln!(
                out,
                "lifted after the suit period: - (the clock step did not run)"
            );
        }
    }
}

fn render_hints(out: &mut String, flow: &PreservationFlow) {
    let f = &flow.freezes;
    let hints = [
        (
            f.example_two_platforms.as_deref(),
            "frozen at two platforms",
        ),
        (f.example_nothing.as_deref(), "nothing to freeze"),
        (flow.callbacks.example.as_deref(), "called back: mediation"),
        (
            match &flow.suit {
                Suit::Advanced { example, .. } => example.as_deref(),
                _ => None,
            },
            "no callback: lifted, to suit",
        ),
    ];
    for (case, what) in hints {
        if let Some(id) = case {
            let _ = writeln!(out, "try: sieve status {id}    ({what})");
        }
    }
    let status = match &flow.suit {
        Suit::Advanced { .. } => "lifted",
        _ => "in_force",
    };
    let _ = writeln!(out, "then: sieve preservation list --status {status}");
}
