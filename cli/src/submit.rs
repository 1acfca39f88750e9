//! `sieve submit` and the batch streaming `sieve demo` shares: a header, then chunks of
//! cases through `BankApiService.SubmitBatch`, then the summary with every refused row and
//! every existing row whose content differs from the stored case.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::Path;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sha2::{Digest, Sha256};
use sieve_proto::common::v1::{PageRequest, RowRefusal};
use sieve_proto::gateway::v1::{
    BankApiServiceListBatchRowsRequest, BankApiServiceSubmitBatchRequest,
};
use sieve_proto::intake::v1::{
    self as intake, Batch, BatchHeader, BatchRow, CaseChunk, CaseInput, RowOutcome,
    SubmitBatchRequest, submit_batch_request::Item,
};

use crate::batch_file::{self, RowError};
use crate::client::{BankClient, BankSpec, Credentials, Gateway};
use crate::error::CliError;

/// The summary holds at most this many refusals (intake's REFUSALS_IN_SUMMARY); past it the
/// rest are paged with ListBatchRows.
const REFUSALS_IN_SUMMARY: usize = 1_000;
const PAGE_SIZE: i32 = 1_000;

#[derive(Debug, Clone)]
pub struct SubmitOptions {
    pub bank: BankSpec,
    /// Idempotency key; `None`: derived from the content (see [`file_request_id`]).
    pub request_id: Option<String>,
    /// Cases per stream message.
    pub chunk: usize,
    /// Draw a progress bar (on stdout, and only when it is a terminal).
    pub progress: bool,
}

impl SubmitOptions {
    pub fn new(bank: BankSpec) -> Self {
        Self {
            bank,
            request_id: None,
            chunk: 1000,
            progress: false,
        }
    }
}

/// What became of a file.
pub type SubmitReport = crate::format::FileReport<BatchOutcome>;

/// The server's answer to one batch.
#[derive(Debug, Clone)]
pub struct BatchOutcome {
    pub batch: Batch,
    /// True when this repeats the result of an earlier submission with the same key.
    pub replayed: bool,
    /// Every refused row, in row order, with all its reasons.
    pub refused: Vec<RefusedRow>,
    /// Every row naming a case the bank had submitted before with other content, in row
    /// order: the stored case stands, so a correction sent this way did not take.
    pub differing: Vec<DifferingRow>,
    /// One case of the batch (accepted or existing), to try with `sieve status`.
    pub first_case_id: Option<String>,
}

/// A refused row and every rule it broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedRow {
    pub row: i64,
    pub reference: String,
    pub reasons: Vec<RowRefusal>,
}

/// An existing row whose content differs from the stored case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DifferingRow {
    pub row: i64,
    pub reference: String,
    pub case_id: String,
    /// The fields that differ, named as refusals name them (`claim.principal_fen`).
    pub fields: Vec<String>,
}

/// `sha256:<hex>` of the file's bytes: the same file is the same batch, so re-running a
/// submission replays its first result instead of storing it twice.
pub fn file_request_id(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut id = String::with_capacity(7 + 64);
    id.push_str("sha256:");
    for b in digest {
        let _ = write!(id, "{b:02x}");
    }
    id
}

/// Reads `path`, reports unreadable rows, submits the rest and collects every refusal.
pub async fn submit_file(
    gateway: &Gateway,
    credentials: &Credentials,
    path: &Path,
    options: &SubmitOptions,
) -> Result<SubmitReport, CliError> {
    let owned = path.to_path_buf();
    // Reading a million-row workbook takes seconds: off the async workers.
    let (file, request_id) = tokio::task::spawn_blocking(move || {
        let bytes = std::fs::read(&owned).map_err(|source| batch_file::FileError::Io {
            path: owned.clone(),
            source,
        })?;
        let file = batch_file::read_batch(&owned)?;
        Ok::<_, CliError>((file, file_request_id(&bytes)))
    })
    .await
    .map_err(|e| CliError::Protocol(format!("reading the file: {e}")))??;
    let request_id = options.request_id.clone().unwrap_or(request_id);

    let rows_read = file.rows.len();
    let unreadable: Vec<RowError> = file.errors().cloned().collect();
    // Each case carries its data-row number (set by the reader).
    let cases: Vec<CaseInput> = file
        .rows
        .into_iter()
        .filter_map(|r| r.result.ok())
        .collect();
    let outcome = if cases.is_empty() {
        None
    } else {
        let label = path
            .file_name()
            .map(|n| n.to_string_lossy().chars().take(256).collect())
            .unwrap_or_default();
        Some(submit_cases(gateway, credentials, cases, &request_id, label, options).await?)
    };
    Ok(SubmitReport {
        file: path.to_path_buf(),
        request_id,
        rows_read,
        unreadable,
        outcome,
    })
}

/// Streams `cases` as one batch (their `row` fields numbered by the caller) and collects the
/// outcome.
pub async fn submit_cases(
    gateway: &Gateway,
    credentials: &Credentials,
    cases: Vec<CaseInput>,
    request_id: &str,
    label: String,
    options: &SubmitOptions,
) -> Result<BatchOutcome, CliError> {
    let session = credentials.bank_session(gateway, &options.bank).await?;
    let mut client = gateway.bank(&session.token)?;
    let bank_id = session.bank.map(|b| b.bank_id).unwrap_or_default();

    let total = cases.len();
    let bar = progress_bar(total as u64, options.progress, "cases");
    let header = wrap(Item::Header(BatchHeader {
        bank_id,
        request_id: request_id.to_owned(),
        expected_cases: i64::try_from(total).unwrap_or(i64::MAX),
        label,
    }));
    let stream = crate::upload::header_first(header, cases, options.chunk, bar.clone(), |cases| {
        wrap(Item::Chunk(CaseChunk { cases }))
    });
    let answer = client.submit_batch(stream).await;
    bar.finish_and_clear();
    let answer = answer
        .map_err(|s| CliError::grpc("BankApiService.SubmitBatch", s))?
        .into_inner()
        .response
        .ok_or_else(|| CliError::Protocol("SubmitBatch answered without a summary".into()))?;
    let batch = answer
        .batch
        .ok_or_else(|| CliError::Protocol("SubmitBatch answered without the batch".into()))?;

    let mut refused = group_refusals(answer.refusals.iter());
    let summary_complete =
        answer.refusals.len() < REFUSALS_IN_SUMMARY && refused.len() as i64 >= batch.refused_cases;
    if !summary_complete {
        refused = rows_with(&mut client, &batch.batch_id, RowOutcome::Refused)
            .await?
            .into_iter()
            .filter(|r| r.outcome == RowOutcome::Refused as i32)
            .map(|r| RefusedRow {
                row: r.row,
                reference: r.bank_case_ref,
                reasons: r.refusals,
            })
            .collect();
    }
    // The summary counts existing rows but does not say which differ: they are listed.
    let differing = if batch.existing_cases > 0 {
        rows_with(&mut client, &batch.batch_id, RowOutcome::Existing)
            .await?
            .into_iter()
            .filter(|r| !r.differing_fields.is_empty())
            .map(|r| DifferingRow {
                row: r.row,
                reference: r.bank_case_ref,
                case_id: r.case_id,
                fields: r.differing_fields,
            })
            .collect()
    } else {
        Vec::new()
    };
    let first_case_id = if batch.accepted_cases + batch.existing_cases > 0 {
        first_case_id(&mut client, &batch.batch_id).await?
    } else {
        None
    };
    Ok(BatchOutcome {
        batch,
        replayed: answer.replayed,
        refused,
        differing,
        first_case_id,
    })
}

fn wrap(item: Item) -> BankApiServiceSubmitBatchRequest {
    BankApiServiceSubmitBatchRequest {
        request: Some(SubmitBatchRequest { item: Some(item) }),
    }
}

/// A bar counting `unit` sent (on stdout, and only when it is a terminal and `wanted`).
pub(crate) fn progress_bar(total: u64, wanted: bool, unit: &str) -> ProgressBar {
    if !wanted || !std::io::stdout().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stdout());
    if let Ok(style) = ProgressStyle::with_template(&format!(
        "{{spinner}} [{{bar:30}}] {{human_pos}}/{{human_len}} {unit} sent, {{eta}} left {{msg}}"
    )) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

/// Refusals grouped by row, rows in order.
pub(crate) fn group_refusals<'a>(
    refusals: impl Iterator<Item = &'a RowRefusal>,
) -> Vec<RefusedRow> {
    let mut rows: BTreeMap<i64, RefusedRow> = BTreeMap::new();
    for r in refusals {
        rows.entry(r.row)
            .or_insert_with(|| RefusedRow {
                row: r.row,
                reference: r.reference.clone(),
                reasons: Vec::new(),
            })
            .reasons
            .push(r.clone());
    }
    rows.into_values().collect()
}

/// Every row of a batch (or its refused ones), page by page.
pub async fn list_batch_rows(
    client: &mut BankClient,
    batch_id: &str,
    refused_only: bool,
) -> Result<Vec<BatchRow>, CliError> {
    let outcome = if refused_only {
        RowOutcome::Refused
    } else {
        RowOutcome::Unspecified
    };
    rows_with(client, batch_id, outcome).await
}

/// The rows of a batch with `outcome` (UNSPECIFIED: every row), page by page.
pub async fn rows_with(
    client: &mut BankClient,
    batch_id: &str,
    outcome: RowOutcome,
) -> Result<Vec<BatchRow>, CliError> {
    crate::paging::all_pages(|page_token| {
        let mut client = client.clone();
        async move {
            let page =
                batch_rows_page(&mut client, batch_id, outcome, PAGE_SIZE, &page_token).await?;
            Ok((page.rows, page.next_page_token))
        }
    })
    .await
}

async fn batch_rows_page(
    client: &mut BankClient,
    batch_id: &str,
    outcome: RowOutcome,
    page_size: i32,
    page_token: &str,
) -> Result<intake::ListBatchRowsResponse, CliError> {
    Ok(client
        .list_batch_rows(BankApiServiceListBatchRowsRequest {
            request: Some(intake::ListBatchRowsRequest {
                batch_id: batch_id.to_owned(),
                refused_only: false,
                page: Some(PageRequest {
                    page_size,
                    page_token: page_token.to_owned(),
                }),
                outcome: outcome as i32,
            }),
        })
        .await
        .map_err(|s| CliError::grpc("BankApiService.ListBatchRows", s))?
        .into_inner()
        .response
        .unwrap_or_default())
}

/// The first case of the batch, looking through a few pages at most (a batch whose first
/// rows are all refused is rare; giving up there costs only the hint).
async fn first_case_id(
    client: &mut BankClient,
    batch_id: &str,
) -> Result<Option<String>, CliError> {
    let mut page_token = String::new();
    for _ in 0..10 {
        let page =
            batch_rows_page(client, batch_id, RowOutcome::Unspecified, 100, &page_token).await?;
        if let Some(id) = page.rows.iter().find(|r| !r.case_id.is_empty()) {
            return Ok(Some(id.case_id.clone()));
        }
        if page.next_page_token.is_empty() || page.next_page_token == page_token {
            break;
        }
        page_token = page.next_page_token;
    }
    Ok(None)
}

/// The report as printed: unreadable rows, the counts, every refused row.
pub fn render_report(report: &SubmitReport) -> String {
    report.render("submit", |out, outcome| render_outcome(out, outcome, None))
}

/// Counts, existing rows with other content and refused rows of one batch; `max_refused`
/// limits how many refused rows are listed.
pub fn render_outcome(out: &mut String, outcome: &BatchOutcome, max_refused: Option<usize>) {
    let b = &outcome.batch;
    let heading = format!("batch {} ({})", b.batch_id, status_name(b.status));
    render_heading(
        out,
        &heading,
        outcome.replayed.then_some("this batch was submitted"),
    );
    let _ = writeln!(
        out,
        "accepted {}, existing {}, refused {} (of {} received)",
        b.accepted_cases, b.existing_cases, b.refused_cases, b.received_cases
    );
    render_differing(out, &outcome.differing);
    render_refused(out, &outcome.refused, max_refused);
}

/// An upload's first line, and when the call was a replay what that means: `replayed` says
/// what happened before ("this batch was submitted").
pub(crate) fn render_heading(out: &mut String, heading: &str, replayed: Option<&str>) {
    let _ = writeln!(out, "{heading}");
    if let Some(before) = replayed {
        let _ = writeln!(
            out,
            "replayed: {before} before with the same request id; this is its first result and \
             nothing new was stored"
        );
    }
}

/// The refused rows, each reason on a line; at most `max_refused` rows.
pub(crate) fn render_refused(out: &mut String, refused: &[RefusedRow], max_refused: Option<usize>) {
    if refused.is_empty() {
        return;
    }
    let shown = max_refused.unwrap_or(usize::MAX).min(refused.len());
    let _ = writeln!(out, "refused rows:");
    for row in &refused[..shown] {
        for r in &row.reasons {
            let _ = writeln!(
                out,
                "  row {:>6}  {}  {}  {}  {}",
                row.row, row.reference, r.field, r.rule, r.description
            );
        }
    }
    if shown < refused.len() {
        let _ = writeln!(out, "  … and {} more refused rows", refused.len() - shown);
    }
}

/// Every existing row sent with other content: the bank's system must see that its
/// correction did not take.
fn render_differing(out: &mut String, rows: &[DifferingRow]) {
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "existing rows with other content (the stored case stands; these values were not \
         kept):"
    );
    for row in rows {
        let _ = writeln!(
            out,
            "  row {:>6}  {}  case {}  differs in {}",
            row.row,
            row.reference,
            row.case_id,
            row.fields.join(", ")
        );
    }
}

fn status_name(status: i32) -> &'static str {
    match intake::BatchStatus::try_from(status) {
        Ok(intake::BatchStatus::Completed) => "completed",
        Ok(intake::BatchStatus::Receiving) => "receiving",
        Ok(intake::BatchStatus::Aborted) => "aborted",
        _ => "unknown status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_id_is_the_content_hash() {
        let id = file_request_id(b"abc");
        assert_eq!(
            id,
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(id.len() <= 128, "intake takes ids up to 128 bytes");
        assert_ne!(file_request_id(b"abc "), id);
    }

    fn refusal(row: i64, rule: &str) -> RowRefusal {
        RowRefusal {
            row,
            reference: format!("R{row}"),
            field: "f".into(),
            rule: rule.into(),
            description: "d".into(),
        }
    }

    #[test]
    fn refusals_group_by_row_in_order() {
        let list = [refusal(7, "a"), refusal(3, "b"), refusal(7, "c")];
        let rows = group_refusals(list.iter());
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].row, rows[0].reasons.len()), (3, 1));
        assert_eq!((rows[1].row, rows[1].reasons.len()), (7, 2));
        assert_eq!(rows[1].reference, "R7");
    }

    #[test]
    fn report_lists_unreadable_and_refused_rows() {
        let report = SubmitReport {
            file: std::path::PathBuf::from("b.csv"),
            request_id: "sha256:00".into(),
            rows_read: 3,
            unreadable: vec![RowError {
                row: 2,
                column: "本金".into(),
                message: "\"1.234\" is not an amount".into(),
            }],
            outcome: Some(BatchOutcome {
                batch: Batch {
                    batch_id: "b1".into(),
                    status: intake::BatchStatus::Completed as i32,
                    received_cases: 2,
                    accepted_cases: 1,
                    refused_cases: 1,
                    ..Default::default()
                },
                replayed: true,
                refused: group_refusals([refusal(3, "phone.mobile_format")].iter()),
                differing: Vec::new(),
                first_case_id: Some("c1".into()),
            }),
        };
        let text = render_report(&report);
        assert!(text.contains("row      2  column 本金"), "{text}");
        assert!(
            text.contains("accepted 1, existing 0, refused 1 (of 2 received)"),
            "{text}"
        );
        assert!(
            text.contains("row      3  R3  f  phone.mobile_format  d"),
            "{text}"
        );
        assert!(text.contains("replayed"), "{text}");
    }

    #[test]
    fn report_names_the_fields_of_existing_rows_that_differ() {
        let report = SubmitReport {
            file: std::path::PathBuf::from("b.csv"),
            request_id: "sha256:00".into(),
            rows_read: 2,
            unreadable: Vec::new(),
            outcome: Some(BatchOutcome {
                batch: Batch {
                    batch_id: "b2".into(),
                    status: intake::BatchStatus::Completed as i32,
                    received_cases: 2,
                    existing_cases: 2,
                    ..Default::default()
                },
                replayed: false,
                refused: Vec::new(),
                differing: vec![DifferingRow {
                    row: 2,
                    reference: "R2".into(),
                    case_id: "c2".into(),
                    fields: vec!["debtor.name".into(), "claim.principal_fen".into()],
                }],
                first_case_id: Some("c1".into()),
            }),
        };
        let text = render_report(&report);
        assert!(text.contains("the stored case stands"), "{text}");
        assert!(
            text.contains("row      2  R2  case c2  differs in debtor.name, claim.principal_fen"),
            "{text}"
        );
        assert!(!text.contains("refused rows"), "{text}");
    }
}
