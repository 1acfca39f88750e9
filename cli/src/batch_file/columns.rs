//! The header row mapped onto the contract's fields, and a data row's cells read into a case.

use sieve_proto::common::v1::{Claim, Debtor, DebtorKind, ProductType};
use sieve_proto::intake::v1::CaseInput;

use super::cell::Cell;
use super::{FileError, RowError};

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
pub(super) struct Columns {
    /// Indexed like `FIELDS`: (column index, header as written).
    slots: Vec<Option<(usize, String)>>,
}

impl Columns {
    pub(super) fn from_header(header: &[String]) -> Result<Columns, FileError> {
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

    pub(super) fn case_from_cells(&self, row: u64, cells: &[Cell]) -> Result<CaseInput, RowError> {
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
