//! Reading a bank's batch file into case inputs, row by row.
//!
//! Two formats, chosen by the file's extension: CSV (UTF-8, optional BOM, header row) and
//! Excel workbooks (`.xlsx`, `.xlsm`, `.xls`; first sheet, header row). Headers are the
//! Chinese names banks use or their English snake_case equivalents; the two may be mixed.
//!
//! The reader does not screen cases: that is the server's job, which answers with a reason
//! per field. A value the reader cannot map to the contract's enums is sent as UNSPECIFIED so
//! the server refuses it. Only a cell that cannot be represented at all (an amount that is not
//! exact yuan with at most two decimals, a yes/no cell that is neither) makes a row-level
//! error; such rows are reported locally and not sent. A file that cannot be read as a whole
//! (invalid UTF-8, an unknown or missing header) is a [`FileError`] and yields no rows.
//!
//! Rows are numbered by position: the first line (or sheet row) after the header is row 1,
//! whatever follows. Blank rows are skipped but keep their number, so row N is line N + 1 of
//! a CSV (when no quoted cell spans lines) and sheet row N + 1 of a workbook whose header is
//! in row 1.

use std::fmt;
use std::path::{Path, PathBuf};

use calamine::{Data, Reader};
use sieve_kernel::rules::money::{Sign, parse_yuan};
use sieve_proto::common::v1::{Claim, Debtor, DebtorKind, ProductType};
use sieve_proto::intake::v1::CaseInput;

/// A batch file read into rows, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchFile {
    pub rows: Vec<FileRow>,
}

impl BatchFile {
    /// The rows that read cleanly, with their row numbers: what is sent to the server.
    pub fn cases(&self) -> impl Iterator<Item = (u64, &CaseInput)> {
        self.rows
            .iter()
            .filter_map(|r| r.result.as_ref().ok().map(|c| (r.row, c)))
    }

    /// The rows that could not be read; reported locally, never sent.
    pub fn errors(&self) -> impl Iterator<Item = &RowError> {
        self.rows.iter().filter_map(|r| r.result.as_ref().err())
    }
}

/// One data row of the file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileRow {
    /// 1-based data row: the first row after the header is row 1.
    pub row: u64,
    pub result: Result<CaseInput, RowError>,
}

/// Why one row could not be read. The rest of the file is unaffected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based data row, as in [`FileRow::row`].
    pub row: u64,
    /// The column's header as written in the file, e.g. "本金".
    pub column: String,
    pub message: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "row {}, column {}: {}",
            self.row, self.column, self.message
        )
    }
}

impl std::error::Error for RowError {}

/// Why a file could not be read at all. Nothing of it is returned.
#[derive(Debug)]
pub enum FileError {
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The extension is neither CSV nor a workbook format.
    UnsupportedFormat { path: PathBuf },
    /// A CSV that is not UTF-8. `line` is 1-based with the header as line 1; `byte_offset`
    /// counts from the start of the file (a BOM included), `column_byte` is the 1-based byte
    /// within the line.
    InvalidUtf8 {
        line: u64,
        byte_offset: u64,
        column_byte: u64,
    },
    /// The CSV reader failed (malformed record).
    Csv { line: Option<u64>, message: String },
    /// The workbook could not be opened or has no sheet.
    Workbook(String),
    /// The file has no header row.
    NoHeader,
    /// Headers that are neither a known Chinese nor a known English name.
    UnknownHeaders(Vec<String>),
    /// Required headers absent from the file (named in Chinese, the form banks use).
    MissingHeaders(Vec<String>),
    /// Two columns map to the same field (e.g. 姓名 and name).
    DuplicateHeader { field: String, headers: Vec<String> },
    /// A header cell in the middle of the header row is empty.
    EmptyHeader { column: usize },
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::Io { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            FileError::UnsupportedFormat { path } => write!(
                f,
                "{}: unsupported file type (expected .csv, .xlsx, .xlsm or .xls)",
                path.display()
            ),
            FileError::InvalidUtf8 {
                line,
                byte_offset,
                column_byte,
            } => write!(
                f,
                "invalid UTF-8 at line {line} (byte {column_byte} of the line, byte offset \
                 {byte_offset} in the file); save the file as UTF-8"
            ),
            FileError::Csv {
                line: Some(line),
                message,
            } => write!(f, "malformed CSV at line {line}: {message}"),
            FileError::Csv {
                line: None,
                message,
            } => write!(f, "malformed CSV: {message}"),
            FileError::Workbook(message) => write!(f, "cannot read workbook: {message}"),
            FileError::NoHeader => write!(f, "the file has no header row"),
            FileError::UnknownHeaders(headers) => {
                write!(f, "unknown column header(s): {}", headers.join(", "))
            }
            FileError::MissingHeaders(headers) => {
                write!(f, "missing required column(s): {}", headers.join(", "))
            }
            FileError::DuplicateHeader { field, headers } => write!(
                f,
                "column {field} appears more than once: {}",
                headers.join(", ")
            ),
            FileError::EmptyHeader { column } => {
                write!(f, "column {column} of the header row is empty")
            }
        }
    }
}

impl std::error::Error for FileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FileError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Reads a batch file, CSV or workbook by extension.
pub fn read_batch(path: &Path) -> Result<BatchFile, FileError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match ext.as_str() {
        "csv" => {
            let bytes = std::fs::read(path).map_err(|source| FileError::Io {
                path: path.to_path_buf(),
                source,
            })?;
            read_csv_bytes(&bytes)
        }
        "xlsx" | "xlsm" | "xls" => read_workbook(path),
        _ => Err(FileError::UnsupportedFormat {
            path: path.to_path_buf(),
        }),
    }
}

/// Reads a CSV held in memory (UTF-8, optional BOM, header row).
pub fn read_csv_bytes(bytes: &[u8]) -> Result<BatchFile, FileError> {
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
        let cells: Vec<Cell> = record.iter().map(|s| Cell::Text(s.to_owned())).collect();
        if cells.iter().all(Cell::is_blank) {
            continue;
        }
        rows.push(FileRow {
            row,
            result: columns.case_from_cells(row, &cells),
        });
    }
    Ok(BatchFile { rows })
}

/// The line a CSV record is on. The reader places a record at the end of the one before, so
/// empty lines it skipped in between would count as the record's own: they are stepped over.
pub(crate) fn record_line(text: &str, position: &csv::Position) -> u64 {
    let mut line = position.line();
    let mut rest = usize::try_from(position.byte())
        .ok()
        .and_then(|b| text.get(b..))
        .unwrap_or_default();
    loop {
        if let Some(r) = rest.strip_prefix("\r\n") {
            rest = r;
        } else if let Some(r) = rest.strip_prefix('\n').or_else(|| rest.strip_prefix('\r')) {
            rest = r;
        } else {
            return line;
        }
        line += 1;
    }
}

pub(crate) fn utf8_error(bytes: &[u8], valid_up_to: usize) -> FileError {
    let before = &bytes[..valid_up_to];
    let newlines = before.iter().filter(|&&b| b == b'\n').count();
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    FileError::InvalidUtf8 {
        line: newlines as u64 + 1,
        byte_offset: valid_up_to as u64,
        column_byte: (valid_up_to - line_start) as u64 + 1,
    }
}

pub(crate) fn csv_error(e: csv::Error) -> FileError {
    let line = e.position().map(|p| p.line());
    FileError::Csv {
        line,
        message: e.to_string(),
    }
}

fn read_workbook(path: &Path) -> Result<BatchFile, FileError> {
    let mut workbook =
        calamine::open_workbook_auto(path).map_err(|e| FileError::Workbook(e.to_string()))?;
    let range = workbook
        .worksheet_range_at(0)
        .ok_or_else(|| FileError::Workbook("the workbook has no sheet".to_owned()))?
        .map_err(|e| FileError::Workbook(e.to_string()))?;

    let mut sheet_rows = range
        .rows()
        .enumerate()
        .map(|(i, cells)| (i, cells.iter().map(Cell::from_data).collect::<Vec<_>>()));
    let (header_index, header) = loop {
        match sheet_rows.next() {
            None => return Err(FileError::NoHeader),
            Some((_, cells)) if cells.iter().all(Cell::is_blank) => continue,
            Some((i, cells)) => break (i, cells),
        }
    };
    let header: Vec<String> = header.iter().map(Cell::header_text).collect();
    let columns = Columns::from_header(&header)?;

    let mut rows = Vec::new();
    for (i, cells) in sheet_rows {
        if cells.iter().all(Cell::is_blank) {
            continue;
        }
        let row = (i - header_index) as u64;
        rows.push(FileRow {
            row,
            result: columns.case_from_cells(row, &cells),
        });
    }
    Ok(BatchFile { rows })
}

/// One cell as read: CSV cells are always text; workbook cells keep their type.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A date/time cell, or an Excel error such as #N/A; the string describes it.
    Unusable(String),
    Empty,
}

/// Integers up to 2^53 are exact in an f64; beyond, digits may have been lost.
const F64_EXACT_INT: f64 = 9_007_199_254_740_992.0;

impl Cell {
    fn from_data(data: &Data) -> Cell {
        match data {
            Data::Empty => Cell::Empty,
            Data::String(s) => Cell::Text(s.clone()),
            Data::Int(i) => Cell::Int(*i),
            Data::Float(f) => Cell::Float(*f),
            Data::Bool(b) => Cell::Bool(*b),
            Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::Text(s.clone()),
            Data::DateTime(d) => Cell::Unusable(format!("a date/time cell ({d})")),
            Data::Error(e) => Cell::Unusable(format!("an Excel error cell ({e})")),
        }
    }

    fn is_blank(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(s) => s.trim().is_empty(),
            _ => false,
        }
    }

    fn header_text(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Int(i) => i.to_string(),
            Cell::Float(f) => format!("{f}"),
            Cell::Bool(b) => b.to_string(),
            Cell::Unusable(s) => s.clone(),
            Cell::Empty => String::new(),
        }
    }

    /// The cell as text, for text fields (names, ID numbers, phones, codes).
    fn text(&self) -> Result<String, String> {
        match self {
            Cell::Text(s) => Ok(s.trim().to_owned()),
            Cell::Empty => Ok(String::new()),
            Cell::Int(i) => Ok(i.to_string()),
            Cell::Float(f) if f.is_finite() && f.fract() == 0.0 && f.abs() >= F64_EXACT_INT => {
                Err(format!(
                    "the number {f} is too long to be stored exactly as a number; \
                     format the column as text"
                ))
            }
            Cell::Float(f) => Ok(format!("{f}")),
            Cell::Bool(b) => Ok(if *b { "TRUE" } else { "FALSE" }.to_owned()),
            Cell::Unusable(what) => Err(format!("expected text, found {what}")),
        }
    }

    /// The cell as an amount in fen (the file holds yuan), by the one exact parser.
    fn amount_fen(&self) -> Result<i64, String> {
        match self {
            Cell::Text(s) => parse_amount_fen(s),
            Cell::Empty => parse_amount_fen(""),
            Cell::Int(i) => parse_amount_fen(&i.to_string()),
            // The shortest decimal that reads back as this f64, then the exact parser:
            // 32676.2 -> "32676.2" -> 3267620; 0.1 + 0.2 -> "0.30000000000000004" -> error.
            Cell::Float(f) => parse_amount_fen(&format!("{f}")),
            Cell::Bool(b) => Err(format!("expected an amount, found the boolean {b}")),
            Cell::Unusable(what) => Err(format!("expected an amount, found {what}")),
        }
    }

    /// The cell as yes/no (约定本院管辖).
    fn yes_no(&self) -> Result<bool, String> {
        match self {
            Cell::Bool(b) => Ok(*b),
            Cell::Empty => Ok(false),
            Cell::Int(0) => Ok(false),
            Cell::Int(1) => Ok(true),
            Cell::Float(f) if *f == 0.0 => Ok(false),
            Cell::Float(f) if *f == 1.0 => Ok(true),
            Cell::Text(s) => match s.trim().to_lowercase().as_str() {
                "是" | "yes" | "y" | "true" | "1" => Ok(true),
                "否" | "no" | "n" | "false" | "0" | "" => Ok(false),
                other => Err(format!("expected 是 or 否, found {other:?}")),
            },
            other => Err(format!("expected 是 or 否, found {}", other.header_text())),
        }
    }
}

/// An amount in yuan with at most two decimals, as fen, exactly (no floating point): the
/// kernel's parser, no sign (a claim's parts are not negative).
pub fn parse_amount_fen(text: &str) -> Result<i64, String> {
    parse_yuan(text, Sign::Refused).map_err(|e| e.to_string())
}

/// The fields of a row, in the contract's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    BankCaseRef,
    Product,
    DebtorKind,
    Name,
    IdNumber,
    Phone,
    Address,
    DivisionCode,
    ContractAmount,
    Principal,
    Interest,
    Penalty,
    Fees,
    ContractRef,
    ContractNamesCourt,
}

struct FieldSpec {
    field: Field,
    chinese: &'static str,
    english: &'static str,
    required: bool,
}

const FIELDS: [FieldSpec; 15] = [
    spec(Field::BankCaseRef, "银行案件编号", "bank_case_ref", true),
    spec(Field::Product, "产品类型", "product", true),
    spec(Field::DebtorKind, "债务人类型", "debtor_kind", true),
    spec(Field::Name, "姓名", "name", true),
    spec(Field::IdNumber, "身份证号", "id_number", true),
    spec(Field::Phone, "手机号", "phone", true),
    spec(Field::Address, "住址", "address", true),
    spec(Field::DivisionCode, "行政区划代码", "division_code", true),
    spec(Field::ContractAmount, "借款金额", "contract_amount", true),
    spec(Field::Principal, "本金", "principal", true),
    spec(Field::Interest, "利息", "interest", true),
    spec(Field::Penalty, "罚息", "penalty", true),
    spec(Field::Fees, "费用", "fees", true),
    spec(Field::ContractRef, "合同编号", "contract_ref", true),
    spec(
        Field::ContractNamesCourt,
        "约定本院管辖",
        "contract_names_court",
        false,
    ),
];

const fn spec(
    field: Field,
    chinese: &'static str,
    english: &'static str,
    required: bool,
) -> FieldSpec {
    FieldSpec {
        field,
        chinese,
        english,
        required,
    }
}

impl FieldSpec {
    /// Whether a (trimmed) header names this field: Chinese exactly, English in any case.
    fn matches(&self, header: &str) -> bool {
        self.chinese == header || self.english.eq_ignore_ascii_case(header)
    }
}

/// Which file column holds which field, with the header as the file wrote it.
struct Columns {
    /// Indexed like `FIELDS`: (column index, header as written).
    slots: Vec<Option<(usize, String)>>,
}

impl Columns {
    fn from_header(header: &[String]) -> Result<Columns, FileError> {
        // Trailing empty header cells (trailing commas, formatted-but-empty Excel columns)
        // are ignored; an empty one before a named column is an error.
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
                    field: FIELDS[pos].chinese.to_owned(),
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
            .map(|(spec, _)| format!("{} ({})", spec.chinese, spec.english))
            .collect();
        if !missing.is_empty() {
            return Err(FileError::MissingHeaders(missing));
        }
        Ok(Columns { slots })
    }

    fn case_from_cells(&self, row: u64, cells: &[Cell]) -> Result<CaseInput, RowError> {
        // Cells beyond the header must be empty (a trailing comma is fine).
        if let Some(extra) = cells
            .iter()
            .enumerate()
            .skip(self.width())
            .find(|(_, c)| !c.is_blank())
        {
            return Err(RowError {
                row,
                column: format!("#{}", extra.0 + 1),
                message: format!(
                    "the row has a value in column {} but the header has only {} columns",
                    extra.0 + 1,
                    self.width()
                ),
            });
        }

        let r = RowReader {
            row,
            cells,
            columns: self,
        };
        let product = match r.text(Field::Product)?.to_lowercase().as_str() {
            "信用卡" | "credit_card" => ProductType::CreditCard,
            "贷款" | "loan" => ProductType::Loan,
            _ => ProductType::Unspecified,
        };
        let kind = match r.text(Field::DebtorKind)?.to_lowercase().as_str() {
            "自然人" | "natural_person" => DebtorKind::NaturalPerson,
            "法人" | "非自然人" | "organisation" | "organization" => DebtorKind::Organisation,
            _ => DebtorKind::Unspecified,
        };
        Ok(CaseInput {
            bank_case_ref: r.text(Field::BankCaseRef)?,
            product: product as i32,
            debtor: Some(Debtor {
                kind: kind as i32,
                name: r.text(Field::Name)?,
                id_number: r.text(Field::IdNumber)?,
                phone: r.text(Field::Phone)?,
                address: r.text(Field::Address)?,
                division_code: r.text(Field::DivisionCode)?,
            }),
            contract_amount_fen: r.amount(Field::ContractAmount)?,
            claim: Some(Claim {
                principal_fen: r.amount(Field::Principal)?,
                interest_fen: r.amount(Field::Interest)?,
                penalty_fen: r.amount(Field::Penalty)?,
                fees_fen: r.amount(Field::Fees)?,
                // Output only: the server computes it.
                total_fen: 0,
            }),
            contract_ref: r.text(Field::ContractRef)?,
            contract_names_court: r.yes_no(Field::ContractNamesCourt)?,
            // The file's own row, so the server's refusals point at it.
            row: i64::try_from(row).unwrap_or(i64::MAX),
        })
    }

    fn width(&self) -> usize {
        self.slots
            .iter()
            .flatten()
            .map(|(col, _)| col + 1)
            .max()
            .unwrap_or(0)
    }
}

struct RowReader<'a> {
    row: u64,
    cells: &'a [Cell],
    columns: &'a Columns,
}

impl RowReader<'_> {
    /// The cell of a field and its header; `None` when the optional column is absent.
    fn cell(&self, field: Field) -> Result<Option<(&Cell, &str)>, RowError> {
        let Some(pos) = FIELDS.iter().position(|s| s.field == field) else {
            return Ok(None);
        };
        let Some((col, header)) = &self.columns.slots[pos] else {
            return Ok(None);
        };
        match self.cells.get(*col) {
            Some(cell) => Ok(Some((cell, header))),
            None => Err(RowError {
                row: self.row,
                column: header.clone(),
                message: format!(
                    "the row has {} cells but the header has {}",
                    self.cells.len(),
                    self.columns.width()
                ),
            }),
        }
    }

    fn error(&self, header: &str, message: String) -> RowError {
        RowError {
            row: self.row,
            column: header.to_owned(),
            message,
        }
    }

    fn text(&self, field: Field) -> Result<String, RowError> {
        match self.cell(field)? {
            None => Ok(String::new()),
            Some((cell, header)) => cell.text().map_err(|m| self.error(header, m)),
        }
    }

    fn amount(&self, field: Field) -> Result<i64, RowError> {
        match self.cell(field)? {
            None => Ok(0),
            Some((cell, header)) => cell.amount_fen().map_err(|m| self.error(header, m)),
        }
    }

    fn yes_no(&self, field: Field) -> Result<bool, RowError> {
        match self.cell(field)? {
            None => Ok(false),
            Some((cell, header)) => cell.yes_no().map_err(|m| self.error(header, m)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name)
    }

    const HEADER_ZH: &str = "银行案件编号,产品类型,债务人类型,姓名,身份证号,手机号,住址,行政区划代码,借款金额,本金,利息,罚息,费用,合同编号";
    const HEADER_EN: &str = "bank_case_ref,product,debtor_kind,name,id_number,phone,address,division_code,contract_amount,principal,interest,penalty,fees,contract_ref";
    const ROW_1: &str = "JY-2025-00001,信用卡,自然人,徐敏,23072219851102174X,13917784483,黑龙江省伊春市嘉荫县沿江乡10号,230722,0.00,32676.20,450.61,568.38,0.00,HT2020000001";

    fn read_str(text: &str) -> Result<BatchFile, FileError> {
        read_csv_bytes(text.as_bytes())
    }

    fn only_case(file: &BatchFile) -> &CaseInput {
        assert_eq!(file.rows.len(), 1);
        match &file.rows[0].result {
            Ok(case) => case,
            Err(e) => panic!("row error: {e}"),
        }
    }

    #[test]
    fn sample_csv_reads_35_rows() {
        let file = read_batch(&fixture("bank-batch.csv")).expect("sample reads");
        assert_eq!(file.rows.len(), 35);
        let rows: Vec<u64> = file.rows.iter().map(|r| r.row).collect();
        assert_eq!(rows, (1..=35).collect::<Vec<_>>());
        assert_eq!(file.errors().count(), 0);

        let first = file.rows[0].result.as_ref().expect("row 1");
        assert_eq!(first.bank_case_ref, "JY-2025-00001");
        assert_eq!(first.row, 1);
        assert_eq!(first.product, ProductType::CreditCard as i32);
        assert_eq!(first.contract_amount_fen, 0);
        assert!(!first.contract_names_court);
        let claim = first.claim.as_ref().expect("claim");
        assert_eq!(claim.principal_fen, 3_267_620);
        assert_eq!(claim.interest_fen, 45_061);
        assert_eq!(claim.penalty_fen, 56_838);
        assert_eq!(claim.fees_fen, 0);
        let debtor = first.debtor.as_ref().expect("debtor");
        assert_eq!(debtor.kind, DebtorKind::NaturalPerson as i32);
        assert_eq!(debtor.name, "徐敏");
        assert_eq!(debtor.id_number, "23072219851102174X");
        assert_eq!(debtor.phone, "13917784483");
        assert_eq!(debtor.division_code, "230722");
        assert_eq!(first.contract_ref, "HT2020000001");

        // The last five are the refused ones, still read faithfully.
        let case = |row: usize| file.rows[row - 1].result.as_ref().expect("row reads");
        assert_eq!(case(31).bank_case_ref, "JY-2025-00031");
        assert_eq!(case(31).product, ProductType::Loan as i32);
        assert_eq!(case(31).contract_amount_fen, 10_000_001);
        assert_eq!(
            case(32).debtor.as_ref().map(|d| d.id_number.as_str()),
            Some("230722199001012220")
        );
        assert_eq!(
            case(33).debtor.as_ref().map(|d| d.kind),
            Some(DebtorKind::Organisation as i32)
        );
        assert_eq!(
            case(34).debtor.as_ref().map(|d| d.division_code.as_str()),
            Some("110105")
        );
        assert_eq!(
            case(35).debtor.as_ref().map(|d| d.phone.as_str()),
            Some("1361234567")
        );
    }

    #[test]
    fn english_headers_and_values() {
        let text = format!(
            "{HEADER_EN},contract_names_court\n\
             R1,loan,natural_person,Wang,230722198001010011,13800000000,addr,230722,\"100,000.00\",90000,1.5,0,0,C1,yes\n\
             R2,Credit_Card,organization,Co,91230722MA1B2C3D4E,13800000000,addr,110105,0,1,0,0,0,C2,否\n"
        );
        let file = read_str(&text).expect("reads");
        assert_eq!(file.rows.len(), 2);
        let r1 = file.rows[0].result.as_ref().expect("row 1");
        assert_eq!(r1.product, ProductType::Loan as i32);
        assert_eq!(r1.contract_amount_fen, 10_000_000);
        assert_eq!(r1.claim.as_ref().map(|c| c.principal_fen), Some(9_000_000));
        assert_eq!(r1.claim.as_ref().map(|c| c.interest_fen), Some(150));
        assert!(r1.contract_names_court);
        let r2 = file.rows[1].result.as_ref().expect("row 2");
        assert_eq!(r2.product, ProductType::CreditCard as i32);
        assert_eq!(
            r2.debtor.as_ref().map(|d| d.kind),
            Some(DebtorKind::Organisation as i32)
        );
        assert!(!r2.contract_names_court);
    }

    #[test]
    fn bom_is_stripped_and_mixed_headers_accepted() {
        let header = HEADER_ZH.replace("姓名", "name");
        let text = format!("\u{feff}{header},约定本院管辖\n{ROW_1},是\n");
        let file = read_str(&text).expect("reads");
        let case = only_case(&file);
        assert_eq!(case.bank_case_ref, "JY-2025-00001");
        assert_eq!(case.debtor.as_ref().map(|d| d.name.as_str()), Some("徐敏"));
        assert!(case.contract_names_court);
    }

    #[test]
    fn unrecognised_enum_values_are_unspecified_not_dropped() {
        let row = ROW_1.replace("信用卡", "保理").replace("自然人", "个体户");
        let file = read_str(&format!("{HEADER_ZH}\n{row}\n")).expect("reads");
        let case = only_case(&file);
        assert_eq!(case.product, ProductType::Unspecified as i32);
        assert_eq!(
            case.debtor.as_ref().map(|d| d.kind),
            Some(DebtorKind::Unspecified as i32)
        );
    }

    #[test]
    fn other_debtor_kind_spellings() {
        for (value, kind) in [
            ("法人", DebtorKind::Organisation),
            ("非自然人", DebtorKind::Organisation),
            ("organisation", DebtorKind::Organisation),
            ("Organization", DebtorKind::Organisation),
            ("natural_person", DebtorKind::NaturalPerson),
        ] {
            let row = ROW_1.replace("自然人", value);
            let file = read_str(&format!("{HEADER_ZH}\n{row}\n")).expect("reads");
            let case = only_case(&file);
            assert_eq!(
                case.debtor.as_ref().map(|d| d.kind),
                Some(kind as i32),
                "{value}"
            );
        }
    }

    #[test]
    fn unknown_header_is_named() {
        let text = format!("{HEADER_ZH},备注,extra\n{ROW_1},x,y\n");
        match read_str(&text) {
            Err(FileError::UnknownHeaders(h)) => assert_eq!(h, vec!["备注", "extra"]),
            other => panic!("expected unknown headers, got {other:?}"),
        }
    }

    #[test]
    fn missing_header_is_named() {
        let header = HEADER_ZH.replace(",罚息", "");
        let row = ROW_1.replace(",568.38", "");
        match read_str(&format!("{header}\n{row}\n")) {
            Err(FileError::MissingHeaders(h)) => assert_eq!(h, vec!["罚息 (penalty)"]),
            other => panic!("expected missing header, got {other:?}"),
        }
    }

    #[test]
    fn duplicate_header_is_an_error() {
        let text = format!("{HEADER_ZH},name\n{ROW_1},x\n");
        assert!(matches!(
            read_str(&text),
            Err(FileError::DuplicateHeader { .. })
        ));
    }

    #[test]
    fn empty_file_has_no_header() {
        assert!(matches!(read_str(""), Err(FileError::NoHeader)));
        assert!(matches!(read_str("\u{feff}"), Err(FileError::NoHeader)));
    }

    #[test]
    fn amount_parser() {
        for (text, fen) in [
            ("32676.20", 3_267_620),
            ("0", 0),
            ("0.00", 0),
            ("100000.01", 10_000_001),
            ("100000.00", 10_000_000),
            ("1,234.50", 123_450),
            ("1,234,567.8", 123_456_780),
            ("12.3", 1_230),
            ("12.05", 1_205),
            (" 7 ", 700),
            ("007.10", 710),
        ] {
            assert_eq!(parse_amount_fen(text), Ok(fen), "{text}");
        }
        for text in [
            "12.345",
            "abc",
            "-",
            "1e5",
            "",
            " ",
            "-5",
            "+5",
            "12.",
            ".5",
            "1.2.3",
            "1,23.00",
            "1234,567",
            ",123",
            "12 34",
            "１２",
            "¥12",
            "99999999999999999999",
        ] {
            assert!(
                parse_amount_fen(text).is_err(),
                "{text:?} should be refused"
            );
        }
    }

    #[test]
    fn bad_amount_is_a_row_error_and_the_file_still_reads() {
        let bad = ROW_1.replace("32676.20", "32676.205");
        let text = format!("{HEADER_ZH}\n{ROW_1}\n{bad}\n{ROW_1}\n");
        let file = read_str(&text).expect("file reads");
        assert_eq!(file.rows.len(), 3);
        assert!(file.rows[0].result.is_ok());
        assert!(file.rows[2].result.is_ok());
        let err = file.rows[1].result.as_ref().expect_err("row 2 refused");
        assert_eq!(err.row, 2);
        assert_eq!(err.column, "本金");
        assert!(err.message.contains("two decimals"), "{}", err.message);
        assert_eq!(
            file.cases().map(|(row, _)| row).collect::<Vec<_>>(),
            vec![1, 3]
        );
        assert_eq!(file.errors().count(), 1);
    }

    #[test]
    fn bad_yes_no_is_a_row_error() {
        let text = format!("{HEADER_ZH},约定本院管辖\n{ROW_1},也许\n");
        let file = read_str(&text).expect("file reads");
        let err = file.rows[0].result.as_ref().expect_err("refused");
        assert_eq!(err.column, "约定本院管辖");
    }

    #[test]
    fn ragged_rows_are_row_errors() {
        let short = "JY-1,信用卡,自然人,徐敏";
        let long = format!("{ROW_1},surplus");
        let trailing_comma = format!("{ROW_1},");
        let text = format!("{HEADER_ZH}\n{short}\n{long}\n{trailing_comma}\n");
        let file = read_str(&text).expect("file reads");
        assert_eq!(file.rows.len(), 3);
        let short_err = file.rows[0].result.as_ref().expect_err("short row");
        assert_eq!(short_err.column, "身份证号");
        assert!(file.rows[1].result.is_err());
        assert!(file.rows[2].result.is_ok());
    }

    #[test]
    fn blank_rows_are_skipped_but_keep_numbering() {
        let text = format!("{HEADER_ZH}\n{ROW_1}\n\n,,,,,,,,,,,,,\n{ROW_1}\n");
        let file = read_str(&text).expect("reads");
        assert_eq!(
            file.rows.iter().map(|r| r.row).collect::<Vec<_>>(),
            vec![1, 4]
        );
        // A row right after empty lines is numbered by its own line, CRLF or LF.
        let text = format!("{HEADER_ZH}\r\n{ROW_1}\r\n\r\n\r\n{ROW_1}\r\n{ROW_1}\n\n{ROW_1}\n");
        let file = read_str(&text).expect("reads");
        assert_eq!(
            file.rows.iter().map(|r| r.row).collect::<Vec<_>>(),
            vec![1, 4, 5, 7]
        );
        // Empty lines before the header do not shift the numbering.
        let text = format!("\n\n{HEADER_ZH}\n{ROW_1}\n");
        let file = read_str(&text).expect("reads");
        assert_eq!(file.rows.iter().map(|r| r.row).collect::<Vec<_>>(), vec![1]);
    }

    #[test]
    fn invalid_utf8_names_the_line() {
        let mut bytes = format!("{HEADER_ZH}\n{ROW_1}\n").into_bytes();
        let line3_start = bytes.len();
        bytes.extend_from_slice(b"JY-2025-00002,");
        bytes.extend_from_slice(&[0xff, 0xff]);
        bytes.extend_from_slice(b",rest\n");
        let path = std::env::temp_dir().join(format!("sieve-bad-utf8-{}.csv", std::process::id()));
        std::fs::write(&path, &bytes).expect("write temp file");
        let result = read_batch(&path);
        let _ = std::fs::remove_file(&path);
        match result {
            Err(FileError::InvalidUtf8 {
                line,
                byte_offset,
                column_byte,
            }) => {
                assert_eq!(line, 3);
                assert_eq!(byte_offset, (line3_start + 14) as u64);
                assert_eq!(column_byte, 15);
            }
            other => panic!("expected invalid UTF-8, got {other:?}"),
        }
        // The message names the line too.
        let e = read_csv_bytes(&bytes).expect_err("invalid");
        assert!(e.to_string().contains("line 3"), "{e}");
    }

    #[test]
    fn unsupported_extension() {
        assert!(matches!(
            read_batch(Path::new("batch.txt")),
            Err(FileError::UnsupportedFormat { .. })
        ));
    }

    #[test]
    fn xlsx_reads_like_the_csv() {
        let xlsx = read_batch(&fixture("bank-batch.xlsx")).expect("xlsx reads");
        let csv = read_batch(&fixture("bank-batch.csv")).expect("csv reads");
        assert_eq!(xlsx.rows.len(), 3);
        assert_eq!(xlsx.rows, csv.rows[..3].to_vec());
    }

    #[test]
    fn xlsx_typed_cells() {
        // Amounts, a phone and a division code typed as numbers, a boolean 约定本院管辖; then
        // an amount with three decimals; a blank sheet row; an ID typed as a number.
        let file = read_batch(&fixture("typed-cells.xlsx")).expect("xlsx reads");
        assert_eq!(
            file.rows.iter().map(|r| r.row).collect::<Vec<_>>(),
            vec![1, 2, 4]
        );
        let r1 = file.rows[0].result.as_ref().expect("row 1");
        let claim = r1.claim.as_ref().expect("claim");
        assert_eq!(claim.principal_fen, 3_267_620);
        assert_eq!(claim.interest_fen, 45_061);
        assert_eq!(claim.penalty_fen, 56_838);
        assert_eq!(claim.fees_fen, 0);
        assert_eq!(r1.contract_amount_fen, 10_000_000);
        let debtor = r1.debtor.as_ref().expect("debtor");
        assert_eq!(debtor.phone, "13917784483");
        assert_eq!(debtor.division_code, "230722");
        assert!(r1.contract_names_court);

        let r2 = file.rows[1]
            .result
            .as_ref()
            .expect_err("row 2: three decimals");
        assert_eq!((r2.row, r2.column.as_str()), (2, "利息"));

        let r4 = file.rows[2].result.as_ref().expect_err("row 4: numeric ID");
        assert_eq!((r4.row, r4.column.as_str()), (4, "身份证号"));
    }

    #[test]
    fn numeric_cells_convert_exactly() {
        assert_eq!(Cell::Float(32676.2).amount_fen(), Ok(3_267_620));
        assert_eq!(Cell::Float(100000.01).amount_fen(), Ok(10_000_001));
        assert_eq!(Cell::Float(0.0).amount_fen(), Ok(0));
        assert_eq!(Cell::Int(5).amount_fen(), Ok(500));
        assert!(Cell::Float(0.1 + 0.2).amount_fen().is_err());
        assert!(Cell::Float(12.345).amount_fen().is_err());
        assert!(Cell::Float(-1.0).amount_fen().is_err());
        assert!(Cell::Float(f64::NAN).amount_fen().is_err());
        assert!(Cell::Int(-1).amount_fen().is_err());
        assert!(Cell::Empty.amount_fen().is_err());
        assert_eq!(
            Cell::Float(13917784483.0).text(),
            Ok("13917784483".to_owned())
        );
        assert!(Cell::Float(230722198511021740.0).text().is_err());
    }
}
