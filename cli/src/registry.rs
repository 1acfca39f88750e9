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

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::Path;

use futures::StreamExt;
use sieve_bad_debt_check::domain::ruling::parse_status;
use sieve_kernel::Settings;
use sieve_kernel::rules::dates::{date_pb, parse_iso};
use sieve_kernel::rules::money::{Sign, parse_yuan};
use sieve_proto::bad_debt_check::v1::{
    self as bdc, ImportHeader, ImportRulingsRequest, RulingChunk, RulingImport, RulingInput,
    RulingStatus, import_rulings_request::Item,
};
use sieve_proto::common::v1::{Court, Date, PageRequest};
use sieve_proto::gateway::v1::{
    CourtApiServiceImportRulingsRequest, CourtApiServiceListImportRefusalsRequest,
};

use crate::batch_file::{FileError, RowError, csv_error, record_line, utf8_error};
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

/// A rulings file read into rows, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct RulingsFile {
    pub rows: Vec<RulingRow>,
}

/// One data row of the file.
#[derive(Debug, Clone, PartialEq)]
pub struct RulingRow {
    /// 1-based data row: the first row after the header is row 1.
    pub row: u64,
    pub result: Result<RulingInput, RowError>,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    RulingNumber,
    Court,
    DebtorName,
    DebtorIdNumber,
    FiledOn,
    TerminatedOn,
    UnpaidAmount,
    Status,
}

struct FieldSpec {
    field: Field,
    /// Chinese names the enforcement system's exports use; the first is the canonical one.
    chinese: &'static [&'static str],
    english: &'static str,
    required: bool,
}

const FIELDS: [FieldSpec; 8] = [
    FieldSpec {
        field: Field::RulingNumber,
        chinese: &["终本裁定文书号", "文书号"],
        english: "ruling_number",
        required: true,
    },
    FieldSpec {
        field: Field::Court,
        chinese: &["法院"],
        english: "court",
        required: true,
    },
    FieldSpec {
        field: Field::DebtorName,
        chinese: &["被执行人姓名"],
        english: "debtor_name",
        required: true,
    },
    FieldSpec {
        field: Field::DebtorIdNumber,
        chinese: &["被执行人身份证号"],
        english: "debtor_id_number",
        required: true,
    },
    FieldSpec {
        field: Field::FiledOn,
        chinese: &["执行立案日期"],
        english: "filed_on",
        required: true,
    },
    FieldSpec {
        field: Field::TerminatedOn,
        chinese: &["终本日期"],
        english: "terminated_on",
        required: true,
    },
    FieldSpec {
        field: Field::UnpaidAmount,
        chinese: &["未履行金额"],
        english: "unpaid_amount",
        required: true,
    },
    FieldSpec {
        field: Field::Status,
        chinese: &["状态"],
        english: "status",
        required: false,
    },
];

impl FieldSpec {
    /// Whether a (trimmed) header names this field: Chinese exactly, English in any case.
    fn matches(&self, header: &str) -> bool {
        self.chinese.contains(&header) || self.english.eq_ignore_ascii_case(header)
    }
}

/// Which column holds which field (indexed like `FIELDS`), with the header as written.
struct Columns {
    slots: Vec<Option<(usize, String)>>,
}

impl Columns {
    fn from_header(header: &[String]) -> Result<Columns, FileError> {
        let used = header
            .iter()
            .rposition(|h| !h.trim().is_empty())
            .map_or(0, |i| i + 1);
        if used == 0 {
            return Err(FileError::NoHeader);
        }
        let mut slots: Vec<Option<(usize, String)>> = vec![None; FIELDS.len()];
        let mut unknown = Vec::new();
        for (col, raw) in header[..used].iter().enumerate() {
            let written = raw.trim().trim_start_matches('\u{feff}').trim();
            if written.is_empty() {
                return Err(FileError::EmptyHeader { column: col + 1 });
            }
            let Some(pos) = FIELDS.iter().position(|s| s.matches(written)) else {
                unknown.push(written.to_owned());
                continue;
            };
            if let Some((_, first)) = &slots[pos] {
                return Err(FileError::DuplicateHeader {
                    field: FIELDS[pos].chinese[0].to_owned(),
                    headers: vec![first.clone(), written.to_owned()],
                });
            }
            slots[pos] = Some((col, written.to_owned()));
        }
        if !unknown.is_empty() {
            return Err(FileError::UnknownHeaders(unknown));
        }
        let missing: Vec<String> = FIELDS
            .iter()
            .zip(&slots)
            .filter(|(spec, slot)| spec.required && slot.is_none())
            .map(|(spec, _)| format!("{} ({})", spec.chinese[0], spec.english))
            .collect();
        if !missing.is_empty() {
            return Err(FileError::MissingHeaders(missing));
        }
        Ok(Columns { slots })
    }

    fn width(&self) -> usize {
        self.slots
            .iter()
            .flatten()
            .map(|(col, _)| col + 1)
            .max()
            .unwrap_or(0)
    }

    fn slot(&self, field: Field) -> Option<&(usize, String)> {
        FIELDS
            .iter()
            .position(|s| s.field == field)
            .and_then(|i| self.slots.get(i))
            .and_then(Option::as_ref)
    }

    /// The trimmed cell of `field` (empty when the column is absent or the row short).
    fn text<'a>(&self, cells: &'a [String], field: Field) -> &'a str {
        self.slot(field)
            .and_then(|(col, _)| cells.get(*col))
            .map_or("", |s| s.trim())
    }

    fn header(&self, field: Field) -> String {
        self.slot(field).map_or_else(
            || {
                FIELDS
                    .iter()
                    .find(|s| s.field == field)
                    .map_or("", |s| s.chinese[0])
                    .to_owned()
            },
            |(_, h)| h.clone(),
        )
    }

    fn ruling_from_cells(
        &self,
        row: u64,
        cells: &[String],
        court: &CourtSpec,
    ) -> Result<RulingInput, RowError> {
        let error = |field: Field, message: String| RowError {
            row,
            column: self.header(field),
            message,
        };
        if let Some((col, _)) = cells
            .iter()
            .enumerate()
            .skip(self.width())
            .find(|(_, c)| !c.trim().is_empty())
        {
            return Err(RowError {
                row,
                column: format!("#{}", col + 1),
                message: format!(
                    "the row has a value in column {} but the header has only {} columns",
                    col + 1,
                    self.width()
                ),
            });
        }
        let date = |field: Field| -> Result<Option<Date>, RowError> {
            parse_date(self.text(cells, field)).map_err(|m| error(field, m))
        };
        // A negative amount is read, so that the registry refuses it with its own rule.
        let unpaid_fen = parse_yuan(self.text(cells, Field::UnpaidAmount), Sign::Allowed)
            .map_err(|e| error(Field::UnpaidAmount, e.to_string()))?;
        let status_text = self.text(cells, Field::Status);
        let status = match (status_text.is_empty(), parse_status(status_text)) {
            // The contract reads an unspecified status as standing, as an export without
            // the column means.
            (true, _) => RulingStatus::Unspecified,
            (false, Some(false)) => RulingStatus::Standing,
            (false, Some(true)) => RulingStatus::Revoked,
            (false, None) => {
                return Err(error(
                    Field::Status,
                    format!(
                        "expected 终本 or 已恢复执行, found {:?}",
                        status_text.chars().take(16).collect::<String>()
                    ),
                ));
            }
        };
        Ok(RulingInput {
            ruling_number: self.text(cells, Field::RulingNumber).to_owned(),
            court: Some(court.court_of(self.text(cells, Field::Court))),
            debtor_name: self.text(cells, Field::DebtorName).to_owned(),
            debtor_id_number: self.text(cells, Field::DebtorIdNumber).to_owned(),
            enforcement_filed_on: date(Field::FiledOn)?,
            terminated_on: date(Field::TerminatedOn)?,
            unpaid_fen,
            status: status as i32,
            // The file's own row, so the registry's refusals point at it.
            row: i64::try_from(row).unwrap_or(i64::MAX),
        })
    }
}

/// A `YYYY-MM-DD` date; empty is no date (the registry then says the field is required).
fn parse_date(text: &str) -> Result<Option<Date>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    let date = parse_iso(text).ok_or_else(|| {
        format!(
            "expected a date YYYY-MM-DD, found {:?}",
            text.chars().take(24).collect::<String>()
        )
    })?;
    Ok(Some(date_pb(date)))
}

/// Reads a rulings CSV held in memory (UTF-8, optional BOM, header row).
pub fn read_rulings_csv(bytes: &[u8], court: &CourtSpec) -> Result<RulingsFile, FileError> {
    let text = std::str::from_utf8(bytes).map_err(|e| utf8_error(bytes, e.valid_up_to()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let (header_line, header) = match records.next() {
        None => return Err(FileError::NoHeader),
        Some(record) => {
            let record = record.map_err(csv_error)?;
            let line = record.position().map_or(1, |p| record_line(text, p));
            (line, record.iter().map(str::to_owned).collect::<Vec<_>>())
        }
    };
    let columns = Columns::from_header(&header)?;
    let mut rows = Vec::new();
    for record in records {
        let record = record.map_err(csv_error)?;
        let line = record
            .position()
            .map_or(header_line + 1, |p| record_line(text, p));
        let row = line.saturating_sub(header_line);
        let cells: Vec<String> = record.iter().map(str::to_owned).collect();
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        rows.push(RulingRow {
            row,
            result: columns.ruling_from_cells(row, &cells, court),
        });
    }
    Ok(RulingsFile { rows })
}

/// Reads a rulings file (`.csv`).
pub fn read_rulings(path: &Path, court: &CourtSpec) -> Result<(RulingsFile, Vec<u8>), FileError> {
    let is_csv = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    if !is_csv {
        return Err(FileError::UnsupportedFormat {
            path: path.to_path_buf(),
        });
    }
    let bytes = std::fs::read(path).map_err(|source| FileError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let file = read_rulings_csv(&bytes, court)?;
    Ok((file, bytes))
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
    let chunk = options.chunk.max(1);
    let sent = bar.clone();
    // Chunks are cut as tonic pulls them, so the bar follows what has gone out.
    let chunks = futures::stream::unfold(rulings.into_iter(), move |mut rest| {
        let sent = sent.clone();
        async move {
            let rulings: Vec<RulingInput> = rest.by_ref().take(chunk).collect();
            if rulings.is_empty() {
                sent.set_message("waiting for the summary");
                return None;
            }
            sent.inc(rulings.len() as u64);
            Some((wrap(Item::Chunk(RulingChunk { rulings })), rest))
        }
    });
    let stream = futures::stream::iter([header]).chain(chunks);
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
    let mut refusals = Vec::new();
    let mut page_token = String::new();
    let mut seen = HashSet::new();
    loop {
        let page = client
            .list_import_refusals(CourtApiServiceListImportRefusalsRequest {
                request: Some(bdc::ListImportRefusalsRequest {
                    import_id: import_id.to_owned(),
                    page: Some(PageRequest {
                        page_size: PAGE_SIZE,
                        page_token: page_token.clone(),
                    }),
                }),
            })
            .await
            .map_err(|s| CliError::grpc("CourtApiService.ListImportRefusals", s))?
            .into_inner()
            .response
            .unwrap_or_default();
        refusals.extend(page.refusals);
        // A token seen before would loop forever: the server broke its paging.
        if page.next_page_token.is_empty() || !seen.insert(page.next_page_token.clone()) {
            return Ok(refusals);
        }
        page_token = page.next_page_token;
    }
}

/// The report as printed: unreadable rows, the counts, every refused row.
pub fn render_report(report: &ImportReport) -> String {
    report.render("import", |out, outcome| render_outcome(out, outcome, None))
}

/// Counts and refused rows of one import; `max_refused` limits how many rows are listed.
pub fn render_outcome(out: &mut String, outcome: &ImportOutcome, max_refused: Option<usize>) {
    let i = &outcome.import;
    let _ = writeln!(out, "import {} ({})", i.import_id, status_name(i.status));
    if outcome.replayed {
        let _ = writeln!(
            out,
            "replayed: this file was imported before with the same request id; this is its \
             first result and nothing new was stored"
        );
    }
    let _ = writeln!(
        out,
        "added {}, updated {}, unchanged {}, refused {} (of {} received)",
        i.added_rulings,
        i.updated_rulings,
        i.unchanged_rulings,
        i.refused_rulings,
        i.received_rulings
    );
    if outcome.refused.is_empty() {
        return;
    }
    let shown = max_refused.unwrap_or(usize::MAX).min(outcome.refused.len());
    let _ = writeln!(out, "refused rows:");
    for row in &outcome.refused[..shown] {
        for r in &row.reasons {
            let _ = writeln!(
                out,
                "  row {:>6}  {}  {}  {}  {}",
                row.row, row.reference, r.field, r.rule, r.description
            );
        }
    }
    if shown < outcome.refused.len() {
        let _ = writeln!(
            out,
            "  … and {} more refused rows",
            outcome.refused.len() - shown
        );
    }
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
mod tests {
    use super::*;
    use sieve_proto::common::v1::RowRefusal;

    fn court() -> CourtSpec {
        CourtSpec {
            code: "黑0722".into(),
            name: "嘉荫县人民法院".into(),
        }
    }

    const SAMPLE: &str = include_str!("../tests/fixtures/rulings.csv");

    #[test]
    fn the_sample_reads_into_seven_rulings() {
        let file = read_rulings_csv(SAMPLE.as_bytes(), &court()).expect("reads");
        assert_eq!(file.rows.len(), 7);
        let rows: Vec<&RulingInput> = file
            .rows
            .iter()
            .map(|r| r.result.as_ref().expect("readable"))
            .collect();
        let first = rows[0];
        assert_eq!(first.ruling_number, "(2024)黑0722执300号之一");
        assert_eq!(first.court, Some(court().court_of("嘉荫县人民法院")));
        assert_eq!(
            first.court.as_ref().map(|c| c.code.as_str()),
            Some("黑0722")
        );
        assert_eq!(first.debtor_id_number, "23072219851102174X");
        assert_eq!(first.unpaid_fen, 1_595_750);
        assert_eq!(
            first.enforcement_filed_on,
            Some(Date {
                year: 2024,
                month: 1,
                day: 10
            })
        );
        assert_eq!(first.status, RulingStatus::Standing as i32);
        assert_eq!(first.row, 1);
        assert_eq!(rows[5].status, RulingStatus::Revoked as i32);
        assert_eq!(rows[6].row, 7);
        assert_eq!(rows[1].unpaid_fen, 1_435_993);
    }

    #[test]
    fn english_headers_other_courts_and_unreadable_cells() {
        let csv = "\u{feff}ruling_number,COURT,debtor_name,debtor_id_number,filed_on,terminated_on,unpaid_amount\n\
                   (2024)黑0781执1号,铁力市人民法院,王芳,230722196001010011,2024-01-10,2024-06-20,\"1,234.5\"\n\
                   \n\
                   (2024)黑0722执2号,嘉荫县人民法院,王芳,230722196001010011,2024/01/10,2024-06-20,1.00\n\
                   (2024)黑0722执3号,嘉荫县人民法院,王芳,230722196001010011,2024-01-10,2024-06-20,1.005\n\
                   (2024)黑0722执4号,嘉荫县人民法院,王芳,230722196001010011,,2024-06-20,-3\n";
        let file = read_rulings_csv(csv.as_bytes(), &court()).expect("reads");
        assert_eq!(file.rows.len(), 4);
        let first = file.rows[0].result.as_ref().expect("readable");
        assert_eq!(
            first.court,
            Some(Court {
                code: String::new(),
                name: "铁力市人民法院".into()
            })
        );
        assert_eq!(first.unpaid_fen, 123_450);
        assert_eq!(first.status, RulingStatus::Unspecified as i32);
        // Row numbers keep blank lines' places.
        let bad_date = file.rows[1].result.as_ref().expect_err("date");
        assert_eq!((bad_date.row, bad_date.column.as_str()), (3, "filed_on"));
        let bad_amount = file.rows[2].result.as_ref().expect_err("amount");
        assert_eq!(bad_amount.column, "unpaid_amount");
        // Empty dates and negative amounts go to the registry, which refuses them by rule.
        let sent = file.rows[3].result.as_ref().expect("sent");
        assert_eq!(sent.enforcement_filed_on, None);
        assert_eq!(sent.unpaid_fen, -300);
    }

    #[test]
    fn statuses_and_headers_are_checked() {
        let head = "终本裁定文书号,法院,被执行人姓名,被执行人身份证号,执行立案日期,终本日期,未履行金额,状态\n";
        let csv = format!(
            "{head}a,b,c,d,2024-01-01,2024-06-01,1,revoked\na,b,c,d,2024-01-01,2024-06-01,1,撤销\n"
        );
        let file = read_rulings_csv(csv.as_bytes(), &court()).expect("reads");
        assert_eq!(
            file.rows[0].result.as_ref().map(|r| r.status),
            Ok(RulingStatus::Revoked as i32)
        );
        assert_eq!(
            file.rows[1].result.as_ref().map_err(|e| e.column.as_str()),
            Err("状态")
        );
        assert!(matches!(
            read_rulings_csv("文书号,法院\n".as_bytes(), &court()),
            Err(FileError::MissingHeaders(m)) if m.len() == 5
        ));
        assert!(matches!(
            read_rulings_csv("文书号,ruling_number\n".as_bytes(), &court()),
            Err(FileError::DuplicateHeader { .. })
        ));
        assert!(matches!(
            read_rulings_csv("文书号,金额\n".as_bytes(), &court()),
            Err(FileError::UnknownHeaders(u)) if u == ["金额"]
        ));
    }

    #[test]
    fn report_lists_counts_and_every_refused_row() {
        let refusal = RowRefusal {
            row: 7,
            reference: "(2025)黑0722执88号之一".into(),
            field: "terminated_on".into(),
            rule: "ruling.three_months".into(),
            description: "终本距立案不足3个月".into(),
        };
        let report = ImportReport {
            file: std::path::PathBuf::from("rulings.csv"),
            request_id: "sha256:00".into(),
            rows_read: 7,
            unreadable: Vec::new(),
            outcome: Some(ImportOutcome {
                import: RulingImport {
                    import_id: "i1".into(),
                    status: bdc::ImportStatus::Completed as i32,
                    received_rulings: 7,
                    added_rulings: 6,
                    refused_rulings: 1,
                    ..Default::default()
                },
                replayed: false,
                refused: group_refusals([refusal].iter()),
            }),
        };
        let text = render_report(&report);
        assert!(
            text.contains("added 6, updated 0, unchanged 0, refused 1 (of 7 received)"),
            "{text}"
        );
        assert!(
            text.contains(
                "row      7  (2025)黑0722执88号之一  terminated_on  ruling.three_months  终本距立案不足3个月"
            ),
            "{text}"
        );
    }
}
