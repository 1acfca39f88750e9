//! The header row mapped onto the contract's fields, and a data row's cells read into a case.

use sieve_proto::common::v1::{Claim, Debtor, DebtorKind, ProductType};
use sieve_proto::intake::v1::CaseInput;

use super::cell::Cell;
use super::header::{Header, Heading};
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

static FIELDS: [Heading<Field>; 15] = [
    Heading::new(Field::BankCaseRef, &["银行案件编号"], "bank_case_ref", true),
    Heading::new(Field::Product, &["产品类型"], "product", true),
    Heading::new(Field::DebtorKind, &["债务人类型"], "debtor_kind", true),
    Heading::new(Field::Name, &["姓名"], "name", true),
    Heading::new(Field::IdNumber, &["身份证号"], "id_number", true),
    Heading::new(Field::Phone, &["手机号"], "phone", true),
    Heading::new(Field::Address, &["住址"], "address", true),
    Heading::new(
        Field::DivisionCode,
        &["行政区划代码"],
        "division_code",
        true,
    ),
    Heading::new(
        Field::ContractAmount,
        &["借款金额"],
        "contract_amount",
        true,
    ),
    Heading::new(Field::Principal, &["本金"], "principal", true),
    Heading::new(Field::Interest, &["利息"], "interest", true),
    Heading::new(Field::Penalty, &["罚息"], "penalty", true),
    Heading::new(Field::Fees, &["费用"], "fees", true),
    Heading::new(Field::ContractRef, &["合同编号"], "contract_ref", true),
    Heading::new(
        Field::ContractNamesCourt,
        &["约定本院管辖"],
        "contract_names_court",
        false,
    ),
];

/// Which file column holds which field of a case.
pub(super) struct Columns(Header<Field>);

impl Columns {
    pub(super) fn from_header(header: &[String]) -> Result<Columns, FileError> {
        Header::read(header, &FIELDS).map(Columns)
    }

    pub(super) fn case_from_cells(&self, row: u64, cells: &[Cell]) -> Result<CaseInput, RowError> {
        self.0.within(row, cells.iter().map(Cell::is_blank))?;
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
}

struct RowReader<'a> {
    row: u64,
    cells: &'a [Cell],
    columns: &'a Columns,
}

impl RowReader<'_> {
    /// The cell of a field and its header; `None` when the optional column is absent.
    fn cell(&self, field: Field) -> Result<Option<(&Cell, &str)>, RowError> {
        let Some((col, header)) = self.columns.0.slot(field) else {
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
                    self.columns.0.width()
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
