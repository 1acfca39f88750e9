//! CSV batch files: UTF-8, optional BOM, header row; and the line numbers that locate what
//! cannot be read.

use super::cell::Cell;
use super::columns::Columns;
use super::{BatchFile, FileError, FileRow, Row, RowError};

/// Reads a CSV held in memory (UTF-8, optional BOM, header row).
pub fn read_csv_bytes(bytes: &[u8]) -> Result<BatchFile, FileError> {
    let table = read_table(bytes)?;
    let columns = Columns::from_header(&table.header)?;
    let rows = table
        .records
        .into_iter()
        .map(|(row, cells)| {
            let cells: Vec<Cell> = cells.into_iter().map(Cell::Text).collect();
            FileRow {
                row,
                result: columns.case_from_cells(row, &cells),
            }
        })
        .collect();
    Ok(BatchFile { rows })
}

/// A CSV's data rows, each read by `read` with the columns `columns` makes of the header:
/// what the rulings export and the preservation applications share.
pub(crate) fn read_rows<C, T>(
    bytes: &[u8],
    columns: impl FnOnce(&[String]) -> Result<C, FileError>,
    read: impl Fn(&C, u64, &[String]) -> Result<T, RowError>,
) -> Result<Vec<Row<T>>, FileError> {
    let table = read_table(bytes)?;
    let columns = columns(&table.header)?;
    Ok(table
        .records
        .into_iter()
        .map(|(row, cells)| Row {
            row,
            result: read(&columns, row, &cells),
        })
        .collect())
}

/// A CSV file's header and its records that are not blank, each with its row number: its
/// line counted from the header's, so row 1 is the first line under the header.
pub(crate) struct Table {
    pub header: Vec<String>,
    pub records: Vec<(u64, Vec<String>)>,
}

/// Reads a CSV held in memory (UTF-8, optional BOM, header row) into a [`Table`]: what the
/// bank's batch file and the court's rulings export share.
pub(crate) fn read_table(bytes: &[u8]) -> Result<Table, FileError> {
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

    let mut rows = Vec::new();
    for record in records {
        let record = record.map_err(csv_error)?;
        let line = record
            .position()
            .map_or(header_line + 1, |p| record_line(text, p));
        let cells: Vec<String> = record.iter().map(str::to_owned).collect();
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        rows.push((line.saturating_sub(header_line), cells));
    }
    Ok(Table {
        header,
        records: rows,
    })
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
