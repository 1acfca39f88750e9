//! `sieve preservation apply FILE.csv`: a bank's applications in calls of
//! [`MAX_PER_CALL`](super::MAX_PER_CALL), each under `<base>-<n>` so that running the same
//! file again replays what was answered instead of applying twice; then a line per row.

use std::fmt::Write as _;
use std::path::Path;

use sieve_kernel::rules::money::format_yuan;
use sieve_proto::common::v1::{RowOutcome, RowRefusal};
use sieve_proto::gateway::v1::BankApiServiceApplyPreservationRequest;
use sieve_proto::preservation::v1::{ApplyPreservationRequest, Preservation, PreservationInput};

use super::{MAX_PER_CALL, file::read_applications, render};
use crate::client::{BankClient, Credentials, Gateway};
use crate::error::CliError;
use crate::format;
use crate::submit::{file_request_id, progress_bar};

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// The applying bank's code (a registered bank).
    pub bank_code: String,
    /// The calls' request ids are `<this>-1`, `<this>-2`, …; `None`: derived from the file's
    /// content, so the same file is the same calls.
    pub request_id: Option<String>,
    /// Draw a progress bar (on stdout, and only when it is a terminal).
    pub progress: bool,
}

/// An application and the row it is reported under.
#[derive(Debug, Clone, PartialEq)]
pub struct Numbered {
    pub row: u64,
    pub input: PreservationInput,
}

/// What became of a file.
pub type ApplyReport = format::FileReport<ApplyOutcome>;

/// The court's answers, row by row in the order sent.
#[derive(Debug, Clone, Default)]
pub struct ApplyOutcome {
    pub rows: Vec<AppliedRow>,
    pub calls: usize,
    /// Calls answered as an earlier call with the same request id was.
    pub replayed_calls: usize,
}

impl ApplyOutcome {
    pub fn count(&self, outcome: RowOutcome) -> usize {
        self.rows.iter().filter(|r| r.outcome == outcome).count()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AppliedRow {
    /// The file's row (or the caller's number).
    pub row: u64,
    pub case_id: String,
    pub outcome: RowOutcome,
    /// Set when accepted or existing (one open preservation per case: a repeat returns it).
    pub preservation: Option<Preservation>,
    pub refusals: Vec<RowRefusal>,
}

/// Reads `path`, reports unreadable rows, applies with the rest.
pub async fn apply_file(
    gateway: &Gateway,
    credentials: &Credentials,
    path: &Path,
    options: &ApplyOptions,
) -> Result<ApplyReport, CliError> {
    let owned = path.to_path_buf();
    let (file, bytes) = tokio::task::spawn_blocking(move || read_applications(&owned))
        .await
        .map_err(|e| CliError::Protocol(format!("reading the file: {e}")))??;
    let base = options
        .request_id
        .clone()
        .unwrap_or_else(|| format!("preservation:{}", file_request_id(&bytes)));
    let rows_read = file.rows.len();
    let mut unreadable = Vec::new();
    let mut applications = Vec::with_capacity(rows_read);
    for r in file.rows {
        match r.result {
            Ok(input) => applications.push(Numbered { row: r.row, input }),
            Err(e) => unreadable.push(e),
        }
    }
    let outcome = if applications.is_empty() {
        None
    } else {
        let token = credentials
            .bank_token_for_code(gateway, &options.bank_code)
            .await?;
        let bank = gateway.bank(&token)?;
        Some(apply_applications(&bank, applications, &base, options.progress).await?)
    };
    Ok(ApplyReport {
        file: path.to_path_buf(),
        request_id: base,
        rows_read,
        unreadable,
        outcome,
    })
}

/// Applies in calls of at most [`MAX_PER_CALL`], the `n`th (from 1) under `<base>-<n>`.
pub async fn apply_applications(
    bank: &BankClient,
    applications: Vec<Numbered>,
    base: &str,
    progress: bool,
) -> Result<ApplyOutcome, CliError> {
    let bar = progress_bar(applications.len() as u64, progress, "applications");
    let mut outcome = ApplyOutcome::default();
    let mut sent = Ok(());
    for (n, chunk) in applications.chunks(MAX_PER_CALL).enumerate() {
        sent = apply_chunk(bank, chunk, &format!("{base}-{}", n + 1), &mut outcome).await;
        if sent.is_err() {
            break;
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    sent.map(|()| outcome)
}

/// One call, its rows added to `outcome` under the rows they were sent for.
async fn apply_chunk(
    bank: &BankClient,
    chunk: &[Numbered],
    request_id: &str,
    outcome: &mut ApplyOutcome,
) -> Result<(), CliError> {
    let request = BankApiServiceApplyPreservationRequest {
        request: Some(ApplyPreservationRequest {
            request_id: request_id.to_owned(),
            bank_id: String::new(),
            applications: chunk.iter().map(|a| a.input.clone()).collect(),
        }),
    };
    let answer = crate::client::patiently(bank, &request, |mut bank, r| async move {
        bank.apply_preservation(r).await
    })
    .await
    .map_err(|s| CliError::grpc("BankApiService.ApplyPreservation", s))?
    .into_inner()
    .response
    .ok_or_else(|| CliError::Protocol("ApplyPreservation answered without rows".into()))?;
    outcome.calls += 1;
    outcome.replayed_calls += usize::from(answer.replayed);
    for r in answer.rows {
        // The court numbers rows within the call, from 1.
        let Some(sent) = usize::try_from(r.row - 1).ok().and_then(|i| chunk.get(i)) else {
            return Err(CliError::Protocol(format!(
                "ApplyPreservation answered row {} of a call of {}",
                r.row,
                chunk.len()
            )));
        };
        outcome.rows.push(AppliedRow {
            row: sent.row,
            case_id: if r.case_id.is_empty() {
                sent.input.case_id.clone()
            } else {
                r.case_id
            },
            outcome: RowOutcome::try_from(r.outcome).unwrap_or(RowOutcome::Unspecified),
            preservation: r.preservation,
            refusals: r.refusals,
        });
    }
    Ok(())
}

/// The report as printed: rows read, the unreadable ones, then a line per row.
pub fn render_apply(report: &ApplyReport) -> String {
    report.render("apply", render_outcome)
}

/// A line per row (accepted, existing, or each refusal), then the counts.
pub fn render_outcome(out: &mut String, outcome: &ApplyOutcome) {
    super::render_replayed(
        out,
        outcome.replayed_calls,
        outcome.calls,
        "these applications were sent",
    );
    for r in &outcome.rows {
        let word = match r.outcome {
            RowOutcome::Accepted => "accepted",
            RowOutcome::Existing => "existing",
            RowOutcome::Refused => "refused",
            RowOutcome::Unspecified => "unknown",
        };
        match &r.preservation {
            Some(p) => {
                let _ = writeln!(
                    out,
                    "  row {:>6}  case {}  {word}  {}  {}  {} yuan, fee {}{}",
                    r.row,
                    r.case_id,
                    p.preservation_id,
                    render::status_word(p.status),
                    format_yuan(p.amount_fen),
                    format_yuan(p.fee_fen),
                    render::ruling_due_note(p),
                );
            }
            None if r.refusals.is_empty() => {
                let _ = writeln!(out, "  row {:>6}  case {}  {word}", r.row, r.case_id);
            }
            None => {}
        }
        for x in &r.refusals {
            let _ = writeln!(
                out,
                "  row {:>6}  case {}  {word}  {}  {}  {}",
                r.row, r.case_id, x.field, x.rule, x.description
            );
        }
    }
    let _ = writeln!(
        out,
        "accepted {}, existing {}, refused {} (of {} sent)",
        outcome.count(RowOutcome::Accepted),
        outcome.count(RowOutcome::Existing),
        outcome.count(RowOutcome::Refused),
        outcome.rows.len()
    );
}
