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

mod cell;
mod columns;
mod csv_file;
pub(crate) mod header;
mod workbook;

use std::fmt;
use std::path::{Path, PathBuf};

use sieve_proto::intake::v1::CaseInput;

pub use cell::parse_amount_fen;
pub(crate) use cell::parse_date;
pub use csv_file::read_csv_bytes;
pub(crate) use csv_file::read_rows;
use workbook::read_workbook;

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

/// One data row of a file read into `T` (a case, a ruling, an application), or why it
/// could not be.
#[derive(Debug, Clone, PartialEq)]
pub struct Row<T> {
    /// 1-based data row: the first row after the header is row 1.
    pub row: u64,
    pub result: Result<T, RowError>,
}

/// One data row of a batch file.
pub type FileRow = Row<CaseInput>;

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

/// The bytes of a `.csv` file (the rulings export, preservation applications: CSV only).
pub(crate) fn read_csv_file(path: &Path) -> Result<Vec<u8>, FileError> {
    let is_csv = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    if !is_csv {
        return Err(FileError::UnsupportedFormat {
            path: path.to_path_buf(),
        });
    }
    std::fs::read(path).map_err(|source| FileError::Io {
        path: path.to_path_buf(),
        source,
    })
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

#[cfg(test)]
mod tests;
