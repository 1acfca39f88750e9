//! Reading the court's export of terminated-enforcement rulings (the CSV the parent module
//! describes) into ruling inputs, row by row.

use std::path::Path;

use sieve_bad_debt_check::domain::ruling::parse_status;
use sieve_kernel::rules::dates::{date_pb, parse_iso};
use sieve_kernel::rules::money::{Sign, parse_yuan};
use sieve_proto::bad_debt_check::v1::{RulingInput, RulingStatus};
use sieve_proto::common::v1::Date;

use super::CourtSpec;
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
