//! Reading a bank's file of preservation applications (the CSV the parent module describes)
//! into applications, row by row.

use std::path::Path;

use sieve_kernel::rules::money::{Sign, parse_yuan};
use sieve_proto::preservation::v1::{Guarantee, GuaranteeKind, PaymentPlatform, PreservationInput};

use crate::batch_file::header::{Header, Heading};
use crate::batch_file::{FileError, Row, RowError, parse_date, read_csv_file, read_rows};

/// An applications file read into rows, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplicationsFile {
    pub rows: Vec<ApplicationRow>,
}

/// One data row of the file.
pub type ApplicationRow = Row<PreservationInput>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    CaseId,
    Amount,
    GuaranteeKind,
    IssuerName,
    IssuerCode,
    InstrumentNumber,
    GuaranteeAmount,
    ValidFrom,
    ValidUntil,
    Platforms,
    CallbackPhone,
}

/// The first Chinese name is canonical; the others are what banks' systems also write.
static FIELDS: [Heading<Field>; 11] = [
    Heading::new(Field::CaseId, &["案件编号"], "case_id", true),
    Heading::new(Field::Amount, &["保全金额", "申请保全金额"], "amount", true),
    Heading::new(
        Field::GuaranteeKind,
        &["担保方式", "担保类型"],
        "guarantee_kind",
        true,
    ),
    Heading::new(Field::IssuerName, &["担保机构"], "issuer_name", true),
    Heading::new(
        Field::IssuerCode,
        &["担保机构统一社会信用代码", "担保机构代码"],
        "issuer_code",
        true,
    ),
    Heading::new(
        Field::InstrumentNumber,
        &["保单或保函编号", "保单号", "保函编号"],
        "instrument_number",
        true,
    ),
    Heading::new(
        Field::GuaranteeAmount,
        &["担保金额"],
        "guarantee_amount",
        true,
    ),
    Heading::new(Field::ValidFrom, &["担保生效日期"], "valid_from", true),
    Heading::new(Field::ValidUntil, &["担保失效日期"], "valid_until", false),
    Heading::new(Field::Platforms, &["冻结平台"], "platforms", false),
    Heading::new(Field::CallbackPhone, &["回访电话"], "callback_phone", false),
];

/// Which column holds which field of an application.
struct Columns(Header<Field>);

impl Columns {
    fn application(&self, row: u64, cells: &[String]) -> Result<PreservationInput, RowError> {
        let error = |field, message| self.0.error(row, field, message);
        self.0.within_text(row, cells)?;
        let text = |field| self.0.text(cells, field);
        // A negative amount is read, so that the court refuses it with its own rule.
        let yuan =
            |field| parse_yuan(text(field), Sign::Allowed).map_err(|e| error(field, e.to_string()));
        let date = |field| parse_date(text(field)).map_err(|m| error(field, m));
        let kind = guarantee_kind(text(Field::GuaranteeKind))
            .map_err(|m| error(Field::GuaranteeKind, m))?;
        let platforms =
            platforms(text(Field::Platforms)).map_err(|m| error(Field::Platforms, m))?;
        let security = [
            Field::GuaranteeKind,
            Field::IssuerName,
            Field::IssuerCode,
            Field::InstrumentNumber,
            Field::GuaranteeAmount,
            Field::ValidFrom,
            Field::ValidUntil,
        ];
        // A row that leaves every security cell empty offers none: the court refuses it
        // (CPL 104 para 1) rather than the reader guessing.
        let guarantee = if security.iter().all(|f| text(*f).is_empty()) {
            None
        } else {
            Some(Guarantee {
                kind: kind as i32,
                issuer_name: text(Field::IssuerName).to_owned(),
                issuer_code: text(Field::IssuerCode).to_owned(),
                instrument_number: text(Field::InstrumentNumber).to_owned(),
                amount_fen: yuan(Field::GuaranteeAmount)?,
                valid_from: date(Field::ValidFrom)?,
                valid_until: date(Field::ValidUntil)?,
                document: None,
            })
        };
        Ok(PreservationInput {
            case_id: text(Field::CaseId).to_owned(),
            amount_fen: yuan(Field::Amount)?,
            guarantee,
            platforms: platforms.into_iter().map(|p| p as i32).collect(),
            callback_phone: text(Field::CallbackPhone).to_owned(),
        })
    }
}

/// `insurance_policy` or `bank_guarantee` (or their Chinese names); empty is unspecified,
/// which the court refuses with its rule.
fn guarantee_kind(text: &str) -> Result<GuaranteeKind, String> {
    match text.to_lowercase().as_str() {
        "" => Ok(GuaranteeKind::Unspecified),
        "insurance_policy" | "保险" | "保单" | "保险保单" | "诉讼保全责任保险" => {
            Ok(GuaranteeKind::InsurancePolicy)
        }
        "bank_guarantee" | "保函" | "银行保函" => Ok(GuaranteeKind::BankGuarantee),
        other => Err(format!(
            "expected insurance_policy (保险保单) or bank_guarantee (银行保函), found {:?}",
            other.chars().take(24).collect::<String>()
        )),
    }
}

/// `alipay;wechat_pay` (or 支付宝；微信支付), in the order to freeze; empty: every platform
/// the court freezes on.
fn platforms(text: &str) -> Result<Vec<PaymentPlatform>, String> {
    text.split([';', '；', '、', '|'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| match p.to_lowercase().as_str() {
            "alipay" | "支付宝" => Ok(PaymentPlatform::Alipay),
            "wechat_pay" | "wechat" | "微信支付" | "微信" => Ok(PaymentPlatform::WechatPay),
            other => Err(format!(
                "expected alipay or wechat_pay (separated by ;), found {:?}",
                other.chars().take(24).collect::<String>()
            )),
        })
        .collect()
}

/// Reads an applications CSV held in memory (UTF-8, optional BOM, header row).
pub fn read_applications_csv(bytes: &[u8]) -> Result<ApplicationsFile, FileError> {
    let columns = |header: &[String]| Header::read(header, &FIELDS).map(Columns);
    let rows = read_rows(bytes, columns, Columns::application)?;
    Ok(ApplicationsFile { rows })
}

/// Reads an applications file (`.csv`), and its bytes (for the request id).
pub fn read_applications(path: &Path) -> Result<(ApplicationsFile, Vec<u8>), FileError> {
    let bytes = read_csv_file(path)?;
    let file = read_applications_csv(&bytes)?;
    Ok((file, bytes))
}
