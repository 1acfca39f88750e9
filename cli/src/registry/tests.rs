use sieve_proto::bad_debt_check::v1::RulingStatus;
use sieve_proto::common::v1::{Date, RowRefusal};

use super::*;
use crate::batch_file::FileError;

fn court() -> CourtSpec {
    CourtSpec {
        code: "黑0722".into(),
        name: "嘉荫县人民法院".into(),
    }
}

const SAMPLE: &str = include_str!("../../tests/fixtures/rulings.csv");

#[test]
fn the_sample_reads_into_seven_rulings() {
    let file = read_rulings_csv(SAMPLE.as_bytes(), &court()).expect("reads");
    assert_eq!(file.rows.len(), 7);
    let rows: Vec<&RulingInput> = file
        .rows
        .iter()
        .map(|r| r.result.as_ref().expect("readable"))
        .collect();
    let first = rows[0];
    assert_eq!(first.ruling_number, "(2024)黑0722执300号之一");
    assert_eq!(first.court, Some(court().court_of("嘉荫县人民法院")));
    assert_eq!(
        first.court.as_ref().map(|c| c.code.as_str()),
        Some("黑0722")
    );
    assert_eq!(first.debtor_id_number, "23072219851102174X");
    assert_eq!(first.unpaid_fen, 1_595_750);
    assert_eq!(
        first.enforcement_filed_on,
        Some(Date {
            year: 2024,
            month: 1,
            day: 10
        })
    );
    assert_eq!(first.status, RulingStatus::Standing as i32);
    assert_eq!(first.row, 1);
    assert_eq!(rows[5].status, RulingStatus::Revoked as i32);
    assert_eq!(rows[6].row, 7);
    assert_eq!(rows[1].unpaid_fen, 1_435_993);
}

#[test]
fn english_headers_other_courts_and_unreadable_cells() {
    let csv = "\u{feff}ruling_number,COURT,debtor_name,debtor_id_number,filed_on,terminated_on,unpaid_amount\n\
               (2024)黑0781执1号,铁力市人民法院,王芳,230722196001010011,2024-01-10,2024-06-20,\"1,234.5\"\n\
               \n\
               (2024)黑0722执2号,嘉荫县人民法院,王芳,230722196001010011,2024/01/10,2024-06-20,1.00\n\
               (2024)黑0722执3号,嘉荫县人民法院,王芳,230722196001010011,2024-01-10,2024-06-20,1.005\n\
               (2024)黑0722执4号,嘉荫县人民法院,王芳,230722196001010011,,2024-06-20,-3\n";
    let file = read_rulings_csv(csv.as_bytes(), &court()).expect("reads");
    assert_eq!(file.rows.len(), 4);
    let first = file.rows[0].result.as_ref().expect("readable");
    assert_eq!(
        first.court,
        Some(Court {
            code: String::new(),
            name: "铁力市人民法院".into()
        })
    );
    assert_eq!(first.unpaid_fen, 123_450);
    assert_eq!(first.status, RulingStatus::Unspecified as i32);
    // Row numbers keep blank lines' places.
    let bad_date = file.rows[1].result.as_ref().expect_err("date");
    assert_eq!((bad_date.row, bad_date.column.as_str()), (3, "filed_on"));
    let bad_amount = file.rows[2].result.as_ref().expect_err("amount");
    assert_eq!(bad_amount.column, "unpaid_amount");
    // Empty dates and negative amounts go to the registry, which refuses them by rule.
    let sent = file.rows[3].result.as_ref().expect("sent");
    assert_eq!(sent.enforcement_filed_on, None);
    assert_eq!(sent.unpaid_fen, -300);
}

#[test]
fn statuses_and_headers_are_checked() {
    let head =
        "终本裁定文书号,法院,被执行人姓名,被执行人身份证号,执行立案日期,终本日期,未履行金额,状态\n";
    let csv = format!(
        "{head}a,b,c,d,2024-01-01,2024-06-01,1,revoked\na,b,c,d,2024-01-01,2024-06-01,1,撤销\n"
    );
    let file = read_rulings_csv(csv.as_bytes(), &court()).expect("reads");
    assert_eq!(
        file.rows[0].result.as_ref().map(|r| r.status),
        Ok(RulingStatus::Revoked as i32)
    );
    assert_eq!(
        file.rows[1].result.as_ref().map_err(|e| e.column.as_str()),
        Err("状态")
    );
    assert!(matches!(
        read_rulings_csv("文书号,法院\n".as_bytes(), &court()),
        Err(FileError::MissingHeaders(m)) if m.len() == 5
    ));
    assert!(matches!(
        read_rulings_csv("文书号,ruling_number\n".as_bytes(), &court()),
        Err(FileError::DuplicateHeader { .. })
    ));
    assert!(matches!(
        read_rulings_csv("文书号,金额\n".as_bytes(), &court()),
        Err(FileError::UnknownHeaders(u)) if u == ["金额"]
    ));
}

#[test]
fn report_lists_counts_and_every_refused_row() {
    let refusal = RowRefusal {
        row: 7,
        reference: "(2025)黑0722执88号之一".into(),
        field: "terminated_on".into(),
        rule: "ruling.three_months".into(),
        description: "终本距立案不足3个月".into(),
    };
    let report = ImportReport {
        file: std::path::PathBuf::from("rulings.csv"),
        request_id: "sha256:00".into(),
        rows_read: 7,
        unreadable: Vec::new(),
        outcome: Some(ImportOutcome {
            import: RulingImport {
                import_id: "i1".into(),
                status: bdc::ImportStatus::Completed as i32,
                received_rulings: 7,
                added_rulings: 6,
                refused_rulings: 1,
                ..Default::default()
            },
            replayed: false,
            refused: group_refusals([refusal].iter()),
        }),
    };
    let text = render_report(&report);
    assert!(
        text.contains("added 6, updated 0, unchanged 0, refused 1 (of 7 received)"),
        "{text}"
    );
    assert!(
        text.contains(
            "row      7  (2025)黑0722执88号之一  terminated_on  ruling.three_months  终本距立案不足3个月"
        ),
        "{text}"
    );
}
