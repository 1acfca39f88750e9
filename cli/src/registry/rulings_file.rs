//! Reading the court's export of terminated-enforcement rulings (the CSV the parent module
//! describes) into ruling inputs, row by row.

use std::path::Path;

use sieve_bad_debt_check::domain::ruling::parse_status;
use sieve_kernel::rules::money::{Sign, parse_yuan};
use sieve_proto::bad_debt_check::v1::{RulingInput, RulingStatus};
use sieve_proto::common::v1::Date;

use super::CourtSpec;
use crate::batch_file::header::{Header, Heading};
use crate::batch_file::{FileError, Row, RowError, parse_date, read_csv_file, read_rows};

/// A rulings file read into rows, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct RulingsFile {
    pub rows: Vec<RulingRow>,
}

/// One data row of the file.
pub type RulingRow = Row<RulingInput>;

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
    Heading::new(
        Field::RulingNumber,
        &["终本裁定文书号", "文书号"],
        "ruling_number",
        true,
    ),
    Heading::new(Field::Court, &["法院"], "court", true),
    Heading::new(Field::DebtorName, &["被执行人姓名"], "debtor_name", true),
    Heading::new(
        Field::DebtorIdNumber,
        &["被执行人身份证号"],
        "debtor_id_number",
        true,
    ),
    Heading::new(Field::FiledOn, &["执行立案日期"], "filed_on", true),
    Heading::new(Field::TerminatedOn, &["终本日期"], "terminated_on", true),
    Heading::new(Field::UnpaidAmount, &["未履行金额"], "unpaid_amount", true),
    Heading::new(Field::Status, &["状态"], "status", false),
];

/// Which column holds which field of a ruling.
struct Columns(Header<Field>);

impl Columns {
    fn from_header(header: &[String]) -> Result<Columns, FileError> {
        Header::read(header, &FIELDS).map(Columns)
    }

    fn text<'a>(&self, cells: &'a [String], field: Field) -> &'a str {
        self.0.text(cells, field)
    }

    fn ruling_from_cells(
        &self,
        row: u64,
        cells: &[String],
        court: &CourtSpec,
    ) -> Result<RulingInput, RowError> {
        let error = |field, message| self.0.error(row, field, message);
        self.0.within_text(row, cells)?;
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

/// Reads a rulings CSV held in memory (UTF-8, optional BOM, header row).
pub fn read_rulings_csv(bytes: &[u8], court: &CourtSpec) -> Result<RulingsFile, FileError> {
    let rows = read_rows(bytes, Columns::from_header, |columns, row, cells| {
        columns.ruling_from_cells(row, cells, court)
    })?;
    Ok(RulingsFile { rows })
}

/// Reads a rulings file (`.csv`).
pub fn read_rulings(path: &Path, court: &CourtSpec) -> Result<(RulingsFile, Vec<u8>), FileError> {
    let bytes = read_csv_file(path)?;
    let file = read_rulings_csv(&bytes, court)?;
    Ok((file, bytes))
}
