//! `sieve preservation rule`: the court approves or rejects applications in calls of
//! [`MAX_PER_CALL`](super::MAX_PER_CALL). An approval needs its ruling's number: given, or
//! made as `(YEAR)<court code>财保<n>号`, the year the suite's clock's and `n` continuing
//! after the highest of that year already given.

use std::collections::HashSet;
use std::fmt::Write as _;

use chrono::Datelike;
use sieve_proto::common::v1::{RowOutcome, RowRefusal};
use sieve_proto::gateway::v1::CourtApiServiceRuleOnPreservationApplicationsRequest;
use sieve_proto::preservation::v1::{
    ApplicationRuling, Preservation, PreservationStatus, RuleOnApplicationsRequest, RulingDecision,
};

use super::{MAX_PER_CALL, list, render};
use crate::client::{CourtClient, Gateway};
use crate::error::CliError;
use crate::submit::file_request_id;

/// Which applications to rule on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// These, approved and rejected (all of them for the one reason).
    Ids {
        approve: Vec<String>,
        reject: Vec<String>,
        reason: String,
    },
    /// Every APPLIED preservation, approved, in the court's order (overdue first).
    AllApplied,
}

#[derive(Debug, Clone)]
pub struct RuleOptions {
    /// The judge who signs the rulings.
    pub judge: String,
    /// The approvals' ruling numbers, in the order approved; empty: made.
    pub ruling_numbers: Vec<String>,
    /// The first `n` of made numbers; `None`: after the highest of the year.
    pub first_number: Option<u64>,
    /// This court's code in numbers, e.g. `黑0722`.
    pub court_code: String,
    /// The calls' request ids are `<this>-1`, `<this>-2`, …; `None`: derived from the
    /// rulings, so the same rulings are the same calls.
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
}

/// What the court answered for one ruling.
#[derive(Debug, Clone, PartialEq)]
pub struct RuledRow {
    pub preservation_id: String,
    pub decision: Decision,
    /// The approval's number; empty for a rejection.
    pub ruling_number: String,
    pub outcome: RowOutcome,
    pub preservation: Option<Preservation>,
    pub refusals: Vec<RowRefusal>,
}

#[derive(Debug, Clone, Default)]
pub struct RuleReport {
    pub judge: String,
    pub request_id: String,
    pub rows: Vec<RuledRow>,
    pub calls: usize,
    pub replayed_calls: usize,
}

impl RuleReport {
    /// Rulings the court recorded (accepted or, replayed, existing) with this decision.
    pub fn ruled(&self, decision: Decision) -> usize {
        self.rows
            .iter()
            .filter(|r| r.decision == decision && r.outcome != RowOutcome::Refused)
            .count()
    }
}

/// `(2026)黑0722财保12号`.
pub fn ruling_number(year: i32, court_code: &str, n: u64) -> String {
    format!("({year}){court_code}财保{n}号")
}

/// The `n` of a ruling number of `year` and this court, in the form [`ruling_number`] makes
/// (full-width brackets too); `None` for any other.
pub fn ruling_sequence(number: &str, year: i32, court_code: &str) -> Option<u64> {
    let rest = number.trim();
    let rest = rest.strip_prefix('(').or_else(|| rest.strip_prefix('（'))?;
    let rest = rest.strip_prefix(&year.to_string())?;
    let rest = rest.strip_prefix(')').or_else(|| rest.strip_prefix('）'))?;
    let digits = rest
        .strip_prefix(court_code)?
        .strip_prefix("财保")?
        .strip_suffix('号')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The next free `n` of `year`: one after the highest given to any preservation.
async fn next_sequence(court: &CourtClient, year: i32, code: &str) -> Result<u64, CliError> {
    let all = list(court, "", PreservationStatus::Unspecified).await?;
    let highest = all
        .iter()
        .filter_map(|p| p.ruling.as_ref())
        .filter_map(|r| ruling_sequence(&r.ruling_number, year, code))
        .max()
        .unwrap_or(0);
    Ok(highest + 1)
}

fn distinct(ids: &[String]) -> Vec<String> {
    let mut seen = HashSet::new();
    ids.iter()
        .map(|id| id.trim().to_owned())
        .filter(|id| !id.is_empty() && seen.insert(id.clone()))
        .collect()
}

/// Rules on the selected applications; a row per ruling, in the order sent.
pub async fn rule(
    gateway: &Gateway,
    court_token: &str,
    selection: &Selection,
    options: &RuleOptions,
) -> Result<RuleReport, CliError> {
    let court = gateway.court(court_token)?;
    let (approve, reject, reason) = match selection {
        Selection::AllApplied => {
            let applied = list(&court, "", PreservationStatus::Applied).await?;
            let ids = applied.into_iter().map(|p| p.preservation_id).collect();
            (ids, Vec::new(), String::new())
        }
        Selection::Ids {
            approve,
            reject,
            reason,
        } => (
            distinct(approve),
            distinct(reject),
            reason.trim().to_owned(),
        ),
    };
    let numbers = if !options.ruling_numbers.is_empty() {
        if options.ruling_numbers.len() != approve.len() {
            return Err(CliError::Usage(format!(
                "{} ruling numbers for {} approvals: give one for each --approve, in order, or \
                 none to have them made",
                options.ruling_numbers.len(),
                approve.len()
            )));
        }
        options.ruling_numbers.clone()
    } else if approve.is_empty() {
        Vec::new()
    } else {
        let now = crate::clock::show(gateway, court_token).await?.now;
        let year = crate::format::shanghai_date(&now).year();
        let first = match options.first_number {
            Some(n) => n,
            None => next_sequence(&court, year, &options.court_code).await?,
        };
        (first..)
            .take(approve.len())
            .map(|n| ruling_number(year, &options.court_code, n))
            .collect()
    };
    let rulings: Vec<ApplicationRuling> = approve
        .into_iter()
        .zip(numbers)
        .map(|(id, number)| ApplicationRuling {
            preservation_id: id,
            decision: RulingDecision::Approve as i32,
            reason: String::new(),
            ruling_number: number,
        })
        .chain(reject.into_iter().map(|id| ApplicationRuling {
            preservation_id: id,
            decision: RulingDecision::Reject as i32,
            reason: reason.clone(),
            ruling_number: String::new(),
        }))
        .collect();
    let request_id = options.request_id.clone().unwrap_or_else(|| {
        let mut content = options.judge.clone();
        for r in &rulings {
            let _ = write!(
                content,
                "\n{}\t{}\t{}\t{}",
                r.preservation_id, r.decision, r.ruling_number, r.reason
            );
        }
        format!("ruling:{}", file_request_id(content.as_bytes()))
    });
    let mut report = RuleReport {
        judge: options.judge.clone(),
        request_id,
        ..RuleReport::default()
    };
    for (n, chunk) in rulings.chunks(MAX_PER_CALL).enumerate() {
        send(&court, chunk, n + 1, &mut report).await?;
    }
    Ok(report)
}

/// One call: the `n`th chunk of rulings, its rows added to `report`.
async fn send(
    court: &CourtClient,
    chunk: &[ApplicationRuling],
    n: usize,
    report: &mut RuleReport,
) -> Result<(), CliError> {
    let request = CourtApiServiceRuleOnPreservationApplicationsRequest {
        request: Some(RuleOnApplicationsRequest {
            request_id: format!("{}-{n}", report.request_id),
            judge: report.judge.clone(),
            rulings: chunk.to_vec(),
        }),
    };
    let answer = crate::client::patiently(court, &request, |mut court, r| async move {
        court.rule_on_preservation_applications(r).await
    })
    .await
    .map_err(|s| CliError::grpc("CourtApiService.RuleOnPreservationApplications", s))?
    .into_inner()
    .response
    .ok_or_else(|| {
        CliError::Protocol("RuleOnPreservationApplications answered without rows".into())
    })?;
    report.calls += 1;
    report.replayed_calls += usize::from(answer.replayed);
    for r in answer.rows {
        let Some(sent) = usize::try_from(r.row - 1).ok().and_then(|i| chunk.get(i)) else {
            return Err(CliError::Protocol(format!(
                "RuleOnPreservationApplications answered row {} of a call of {}",
                r.row,
                chunk.len()
            )));
        };
        report.rows.push(RuledRow {
            preservation_id: sent.preservation_id.clone(),
            decision: if sent.decision == RulingDecision::Reject as i32 {
                Decision::Reject
            } else {
                Decision::Approve
            },
            ruling_number: sent.ruling_number.clone(),
            outcome: RowOutcome::try_from(r.outcome).unwrap_or(RowOutcome::Unspecified),
            preservation: r.preservation,
            refusals: r.refusals,
        });
    }
    Ok(())
}

/// A line per ruling (or each refusal), then the counts.
pub fn render_rule(report: &RuleReport) -> String {
    let mut out = String::new();
    if report.rows.is_empty() {
        let _ = writeln!(out, "nothing to rule on: no application awaits a ruling");
        return out;
    }
    let _ = writeln!(out, "request id {}", report.request_id);
    super::render_replayed(
        &mut out,
        report.replayed_calls,
        report.calls,
        "these rulings were sent",
    );
    for r in &report.rows {
        let what = match r.decision {
            Decision::Approve => format!("approve {}", r.ruling_number),
            Decision::Reject => "reject".to_owned(),
        };
        if r.refusals.is_empty() {
            let (case, status) = r.preservation.as_ref().map_or_else(
                || (String::new(), String::new()),
                |p| (super::case_id(p).to_owned(), render::status_word(p.status)),
            );
            let _ = writeln!(
                out,
                "  {}  case {case}  {what}  {status}",
                r.preservation_id
            );
        }
        for x in &r.refusals {
            let _ = writeln!(
                out,
                "  {}  {what}  refused  {}  {}  {}",
                r.preservation_id, x.field, x.rule, x.description
            );
        }
    }
    let refused = report
        .rows
        .iter()
        .filter(|r| r.outcome == RowOutcome::Refused)
        .count();
    let _ = writeln!(
        out,
        "judge {}: approved {}, rejected {}, refused {} (of {} sent)",
        report.judge,
        report.ruled(Decision::Approve),
        report.ruled(Decision::Reject),
        refused,
        report.rows.len()
    );
    out
}
