//! Excel workbooks (`.xlsx`, `.xlsm`, `.xls`): the first sheet, header row; cells keep their
//! type.

use std::path::Path;

use calamine::Reader;

use super::cell::Cell;
use super::columns::Columns;
use super::{BatchFile, FileError, FileRow};

pub(super) fn read_workbook(path: &Path) -> Result<BatchFile, FileError> {
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
