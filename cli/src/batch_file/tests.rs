use sieve_proto::common::v1::{DebtorKind, ProductType};

use super::cell::Cell;
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
