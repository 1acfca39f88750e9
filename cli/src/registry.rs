//! `sieve registry import FILE.csv`: the court's export of terminated-enforcement rulings
//! (终本) streamed into the registry through `CourtApiService.ImportRulings` — a header, then
//! chunks — and the summary with every refused row.
//!
//! The file is a UTF-8 CSV (optional BOM) with a header row naming its columns in Chinese, as
//! the enforcement system exports them, or in English snake_case (the two may be mixed):
//! 终本裁定文书号 `ruling_number`, 法院 `court`, 被执行人姓名 `debtor_name`, 被执行人身份证号
//! `debtor_id_number`, 执行立案日期 `filed_on` (YYYY-MM-DD), 终本日期 `terminated_on`,
//! 未履行金额 `unpaid_amount` (yuan, exact to the fen) and, optionally, 状态 `status`
//! (终本, or 已恢复执行 when enforcement resumed; empty: 终本).
//!
//! As for batches, the reader does not judge rulings — the registry does, with a rule per
//! field — and reports locally only the cells it cannot represent (an amount that is not
//! exact yuan, a date that is not YYYY-MM-DD, an unknown status); such rows are not sent.
//! Rows are numbered as in batch files: the first line after the header is row 1.

use std::fmt::Write as _;
use std::path::Path;

use sieve_kernel::Settings;
use sieve_proto::bad_debt_check::v1::{
    self as bdc, ImportHeader, ImportRulingsRequest, RulingChunk, RulingImport, RulingInput,
    import_rulings_request::Item,
};
use sieve_proto::common::v1::{Court, PageRequest};
use sieve_proto::gateway::v1::{
    CourtApiServiceImportRulingsRequest, CourtApiServiceListImportRefusalsRequest,
};

mod rulings_file;

pub use rulings_file::{RulingRow, RulingsFile, read_rulings, read_rulings_csv};

use crate::client::{CourtClient, Credentials, Gateway};
use crate::error::CliError;
use crate::submit::{RefusedRow, file_request_id, group_refusals, progress_bar};

/// The summary holds at most this many refusals (the registry's REFUSALS_IN_SUMMARY); past
/// it the rest are paged with ListImportRefusals.
const REFUSALS_IN_SUMMARY: usize = 1_000;
const PAGE_SIZE: i32 = 1_000;

/// This court, as imports name it: the source of the export, and the court code given to
/// rulings of this court.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CourtSpec {
    pub code: String,
    pub name: String,
}

impl CourtSpec {
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            code: settings.court.code.clone(),
            name: settings.court.name.clone(),
        }
    }

    /// A ruling's court from the 法院 column: this court's code when it names this court,
    /// else no code (the export gives none).
    pub fn court_of(&self, name: &str) -> Court {
        let name = name.trim();
        Court {
            code: if name == self.name.trim() {
                self.code.clone()
            } else {
                String::new()
            },
            name: name.to_owned(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub court: CourtSpec,
    /// Idempotency key; `None`: derived from the file's content (see [`file_request_id`]).
    pub request_id: Option<String>,
    /// Rulings per stream message.
    pub chunk: usize,
    /// Draw a progress bar (on stdout, and only when it is a terminal).
    pub progress: bool,
}

impl ImportOptions {
    pub fn new(court: CourtSpec) -> Self {
        Self {
            court,
            request_id: None,
            chunk: 1000,
            progress: false,
        }
    }
}

/// What became of a file.
pub type ImportReport = crate::format::FileReport<ImportOutcome>;

/// The registry's answer to one import.
#[derive(Debug, Clone)]
pub struct ImportOutcome {
    pub import: RulingImport,
    /// True when this repeats the result of an earlier import with the same key.
    pub replayed: bool,
    /// Every refused row, in row order, with all its reasons.
    pub refused: Vec<RefusedRow>,
}

/// Reads `path`, reports unreadable rows, imports the rest and collects every refusal.
pub async fn import_file(
    gateway: &Gateway,
    credentials: &Credentials,
    path: &Path,
    options: &ImportOptions,
) -> Result<ImportReport, CliError> {
    let owned = path.to_path_buf();
    let court = options.court.clone();
    let (file, bytes) = tokio::task::spawn_blocking(move || read_rulings(&owned, &court))
        .await
        .map_err(|e| CliError::Protocol(format!("reading the file: {e}")))??;
    let request_id = options
        .request_id
        .clone()
        .unwrap_or_else(|| file_request_id(&bytes));
    let rows_read = file.rows.len();
    let mut unreadable = Vec::new();
    let mut rulings = Vec::with_capacity(rows_read);
    for row in file.rows {
        match row.result {
            Ok(r) => rulings.push(r),
            Err(e) => unreadable.push(e),
        }
    }
    let outcome = if rulings.is_empty() {
        None
    } else {
        let label = path
            .file_name()
            .map(|n| n.to_string_lossy().chars().take(256).collect())
            .unwrap_or_default();
        Some(import_rulings(gateway, credentials, rulings, &request_id, label, options).await?)
    };
    Ok(ImportReport {
        file: path.to_path_buf(),
        request_id,
        rows_read,
        unreadable,
        outcome,
    })
}

/// Streams `rulings` as one import (their `row` fields numbered by the caller) and collects
/// the outcome.
pub async fn import_rulings(
    gateway: &Gateway,
    credentials: &Credentials,
    rulings: Vec<RulingInput>,
    request_id: &str,
    label: String,
    options: &ImportOptions,
) -> Result<ImportOutcome, CliError> {
    let mut client = gateway.court(&credentials.court_token()?)?;
    let total = rulings.len();
    let bar = progress_bar(total as u64, options.progress, "rulings");
    let header = wrap(Item::Header(ImportHeader {
        request_id: request_id.to_owned(),
        source_court: Some(Court {
            code: options.court.code.clone(),
            name: options.court.name.clone(),
        }),
        expected_rulings: i64::try_from(total).unwrap_or(i64::MAX),
        label,
    }));
    let stream =
        crate::upload::header_first(header, rulings, options.chunk, bar.clone(), |rulings| {
            wrap(Item::Chunk(RulingChunk { rulings }))
        });
    let answer = client.import_rulings(stream).await;
    bar.finish_and_clear();
    let answer = answer
        .map_err(|s| CliError::grpc("CourtApiService.ImportRulings", s))?
        .into_inner()
        .response
        .ok_or_else(|| CliError::Protocol("ImportRulings answered without a summary".into()))?;
    let import = answer
        .ruling_import
        .ok_or_else(|| CliError::Protocol("ImportRulings answered without the import".into()))?;
    let mut refused = group_refusals(answer.refusals.iter());
    let complete = answer.refusals.len() < REFUSALS_IN_SUMMARY
        && refused.len() as i64 >= import.refused_rulings;
    if !complete {
        refused = group_refusals(list_refusals(&mut client, &import.import_id).await?.iter());
    }
    Ok(ImportOutcome {
        import,
        replayed: answer.replayed,
        refused,
    })
}

fn wrap(item: Item) -> CourtApiServiceImportRulingsRequest {
    CourtApiServiceImportRulingsRequest {
        request: Some(ImportRulingsRequest { item: Some(item) }),
    }
}

/// Every refusal of an import, page by page.
pub async fn list_refusals(
    client: &mut CourtClient,
    import_id: &str,
) -> Result<Vec<sieve_proto::common::v1::RowRefusal>, CliError> {
    crate::paging::all_pages(|page_token| {
        let mut client = client.clone();
        async move {
            let page = client
                .list_import_refusals(CourtApiServiceListImportRefusalsRequest {
                    request: Some(bdc::ListImportRefusalsRequest {
                        import_id: import_id.to_owned(),
                        page: Some(PageRequest {
                            page_size: PAGE_SIZE,
                            page_token,
                        }),
                    }),
                })
                .await
                .map_err(|s| CliError::grpc("CourtApiService.ListImportRefusals", s))?
                .into_inner()
                .response
                .unwrap_or_default();
            Ok((page.refusals, page.next_page_token))
        }
    })
    .await
}

/// The report as printed: unreadable rows, the counts, every refused row.
pub fn render_report(report: &ImportReport) -> String {
    report.render("import", |out, outcome| render_outcome(out, outcome, None))
}

/// Counts and refused rows of one import; `max_refused` limits how many rows are listed.
pub fn render_outcome(out: &mut String, outcome: &ImportOutcome, max_refused: Option<usize>) {
    let i = &outcome.import;
    let heading = format!("import {} ({})", i.import_id, status_name(i.status));
    crate::submit::render_heading(
        out,
        &heading,
        outcome.replayed.then_some("this file was imported"),
    );
    let _ = writeln!(
        out,
        "added {}, updated {}, unchanged {}, refused {} (of {} received)",
        i.added_rulings,
        i.updated_rulings,
        i.unchanged_rulings,
        i.refused_rulings,
        i.received_rulings
    );
    crate::submit::render_refused(out, &outcome.refused, max_refused);
}

fn status_name(status: i32) -> &'static str {
    match bdc::ImportStatus::try_from(status) {
        Ok(bdc::ImportStatus::Completed) => "completed",
        Ok(bdc::ImportStatus::Receiving) => "receiving",
        Ok(bdc::ImportStatus::Aborted) => "aborted",
        _ => "unknown status",
    }
}

#[cfg(test)]
mod tests;
