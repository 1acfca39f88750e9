//! Reading the court's export of terminated-enforcement rulings (the CSV the parent module
//! describes) into ruling inputs, row by row.

use std::path::Path;

use sieve_bad_debt_check::domain::ruling::parse_status;
use sieve_kernel::rules::dates::{date_pb, parse_iso};
use sieve_kernel::rules::money::{Sign, parse_yuan};
use sieve_proto::bad_debt_check::v1::{RulingInput, RulingStatus};
use sieve_proto::common::v1::Date;

use super::CourtSpec;
use crate::batch_file::header::{Header, Heading};
use crate::batch_file::{FileError, RowError, read_table};

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

/// Chinese names are those the enforcement system's exports use; the first is canonical.
static FIELDS: [Heading<Field>; 8] = [
    Heading {
        field: Field::RulingNumber,
        chinese: &["终本裁定文书号", "文书号"],
        english: "ruling_number",
        required: true,
    },
    Heading {
        field: Field::Court,
        chinese: &["法院"],
        english: "court",
        required: true,
    },
    Heading {
        field: Field::DebtorName,
        chinese: &["被执行人姓名"],
        english: "debtor_name",
        required: true,
    },
    Heading {
        field: Field::DebtorIdNumber,
        chinese: &["被执行人身份证号"],
        english: "debtor_id_number",
        required: true,
    },
    Heading {
        field: Field::FiledOn,
        chinese: &["执行立案日期"],
        english: "filed_on",
        required: true,
    },
    Heading {
        field: Field::TerminatedOn,
        chinese: &["终本日期"],
        english: "terminated_on",
        required: true,
    },
    Heading {
        field: Field::UnpaidAmount,
        chinese: &["未履行金额"],
        english: "unpaid_amount",
        required: true,
    },
    Heading {
        field: Field::Status,
        chinese: &["状态"],
        english: "status",
        required: false,
    },
];

/// Which column holds which field of a ruling.
struct Columns(Header<Field>);

impl Columns {
    fn from_header(header: &[String]) -> Result<Columns, FileError> {
        Header::read(header, &FIELDS).map(Columns)
    }

    /// The trimmed cell of `field` (empty when the column is absent or the row short).
    fn text<'a>(&self, cells: &'a [String], field: Field) -> &'a str {
        self.0
            .slot(field)
            .and_then(|(col, _)| cells.get(*col))
            .map_or("", |s| s.trim())
    }

    fn ruling_from_cells(
        &self,
        row: u64,
        cells: &[String],
        court: &CourtSpec,
    ) -> Result<RulingInput, RowError> {
        let error = |field: Field, message: String| RowError {
            row,
            column: self.0.name(field),
            message,
        };
        self.0
            .within(row, cells.iter().map(|c| c.trim().is_empty()))?;
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
    let table = read_table(bytes)?;
    let columns = Columns::from_header(&table.header)?;
    let rows = table
        .records
        .into_iter()
        .map(|(row, cells)| RulingRow {
            row,
            result: columns.ruling_from_cells(row, &cells, court),
        })
        .collect();
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
