#![cfg(test)]
//! Reading applications, making ruling numbers and showing preservations: compiled only
//! under `cargo test`.

use sieve_proto::common::v1::{
    CaseRef, CaseSummary, Date, Deadline, Debtor, RowOutcome, RowRefusal,
};
use sieve_proto::preservation::v1::{
    Callback, FreezeOrder, FreezeStatus, GuaranteeKind, LiftReason, Notice, PaymentPlatform,
    PreservationRuling, PreservationStatus, RulingDecision,
};

use super::*;
use crate::batch_file::FileError;

const SAMPLE: &str = include_str!("../../tests/fixtures/preservation-applications.csv");

fn ts(seconds: i64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp { seconds, nanos: 0 })
}

fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

#[test]
fn the_sample_reads_four_applications_and_reports_four_bad_cells() {
    let file = read_applications_csv(SAMPLE.as_bytes()).expect("reads");
    assert_eq!(file.rows.len(), 8);
    let rows: Vec<u64> = file.rows.iter().map(|r| r.row).collect();
    assert_eq!(rows, (1..=8).collect::<Vec<_>>());
    let first = file.rows[0].result.as_ref().expect("row 1");
    assert_eq!(first.case_id, "0193a1f2c3d44e5f8a9b0c1d2e3f4a51");
    assert_eq!(first.amount_fen, 3_366_519);
    assert_eq!(
        first.platforms,
        [
            PaymentPlatform::Alipay as i32,
            PaymentPlatform::WechatPay as i32
        ]
    );
    assert!(first.callback_phone.is_empty(), "the bank's own");
    let g = first.guarantee.as_ref().expect("security");
    assert_eq!(g.kind, GuaranteeKind::InsurancePolicy as i32);
    assert_eq!(g.issuer_code, "91230700MA1B2C3D4E");
    assert_eq!(g.instrument_number, "PICC-BQ-2026-000001");
    assert_eq!(
        (g.amount_fen, g.valid_from, g.valid_until),
        (3_366_519, date(2026, 1, 1), None)
    );

    let second = file.rows[1].result.as_ref().expect("row 2");
    assert_eq!(second.amount_fen, 1_200_000, "thousands separators");
    let g = second.guarantee.as_ref().expect("security");
    assert_eq!(g.kind, GuaranteeKind::BankGuarantee as i32);
    assert_eq!(g.valid_until, date(2027, 1, 1));
    assert_eq!(second.platforms, [PaymentPlatform::WechatPay as i32]);
    assert_eq!(second.callback_phone, "0458-6100000");
    // Chinese words for the kind and the platform.
    let third = file.rows[2].result.as_ref().expect("row 3");
    assert_eq!(
        third.guarantee.as_ref().map(|g| (g.kind, g.amount_fen)),
        Some((GuaranteeKind::InsurancePolicy as i32, 499_999)),
        "short security is the court's to refuse"
    );
    assert_eq!(third.platforms, [PaymentPlatform::Alipay as i32]);
    // No security at all: sent without one, for the court's rule (CPL 104 para 1).
    let fourth = file.rows[3].result.as_ref().expect("row 4");
    assert_eq!(fourth.guarantee, None);

    let errors: Vec<(u64, &str)> = file
        .rows
        .iter()
        .filter_map(|r| r.result.as_ref().err())
        .map(|e| (e.row, e.column.as_str()))
        .collect();
    assert_eq!(
        errors,
        [
            (5, "保全金额"),
            (6, "担保生效日期"),
            (7, "担保方式"),
            (8, "冻结平台")
        ]
    );
    let bad_kind = file.rows[6].result.as_ref().expect_err("row 7");
    assert!(bad_kind.message.contains("insurance_policy"), "{bad_kind}");
}

#[test]
fn english_headings_in_any_order_and_a_missing_column_is_named() {
    let csv = "amount,CASE_ID,guarantee_kind,issuer_name,issuer_code,instrument_number,\
               guarantee_amount,valid_from\n\
               100.00,c1,bank_guarantee,某银行,91230722MA1C2D3E4F,BH-1,-5,2026-01-01\n";
    let file = read_applications_csv(csv.as_bytes()).expect("reads");
    let a = file.rows[0].result.as_ref().expect("row 1");
    assert_eq!((a.case_id.as_str(), a.amount_fen), ("c1", 10_000));
    assert!(a.platforms.is_empty(), "every platform");
    assert_eq!(
        a.guarantee.as_ref().map(|g| g.amount_fen),
        Some(-500),
        "a negative amount is the court's to refuse"
    );
    let missing = read_applications_csv(b"case_id,amount\nc1,1\n").expect_err("missing");
    let FileError::MissingHeaders(names) = missing else {
        panic!("{missing}")
    };
    assert!(
        names.iter().any(|n| n.contains("guarantee_kind")),
        "{names:?}"
    );
    assert!(!names.iter().any(|n| n.contains("valid_until")), "optional");
}

#[test]
fn ruling_numbers_are_made_and_read_back() {
    assert_eq!(ruling_number(2026, "黑0722", 12), "(2026)黑0722财保12号");
    assert_eq!(
        ruling_sequence("(2026)黑0722财保12号", 2026, "黑0722"),
        Some(12)
    );
    assert_eq!(
        ruling_sequence(" （2026）黑0722财保7号 ", 2026, "黑0722"),
        Some(7)
    );
    for other in [
        "(2025)黑0722财保12号",
        "(2026)黑0781财保12号",
        "(2026)黑0722执12号",
        "(2026)黑0722财保号",
        "(2026)黑0722财保1a号",
        "(2026)黑0722财保12",
    ] {
        assert_eq!(ruling_sequence(other, 2026, "黑0722"), None, "{other}");
    }
}

fn preservation() -> Preservation {
    Preservation {
        preservation_id: "p1".into(),
        case_summary: Some(CaseSummary {
            case_ref: Some(CaseRef {
                case_id: "c1".into(),
                bank_id: "b1".into(),
                bank_case_ref: "JY-2025-00001".into(),
            }),
            debtor: Some(Debtor {
                name: "朱娜".into(),
                id_number: "230722197502185342".into(),
                phone: "13845678901".into(),
                address: "黑龙江省伊春市嘉荫县朝阳镇1号".into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        status: PreservationStatus::Lifted as i32,
        amount_fen: 1_000_000,
        fee_fen: 12_000,
        guarantee: Some(sieve_proto::preservation::v1::Guarantee {
            kind: GuaranteeKind::InsurancePolicy as i32,
            issuer_name: "中国人民财产保险股份有限公司伊春市分公司".into(),
            issuer_code: "91230700MA1B2C3D4E".into(),
            instrument_number: "PICC-1".into(),
            amount_fen: 1_000_000,
            valid_from: date(2026, 1, 1),
            ..Default::default()
        }),
        platforms: vec![
            PaymentPlatform::Alipay as i32,
            PaymentPlatform::WechatPay as i32,
        ],
        callback_phone: "0458-6100000".into(),
        // 2026-09-07 10:00 Beijing.
        applied_at: ts(1_788_746_400),
        ruling_due: Some(Deadline {
            due_at: ts(1_788_919_200),
            rule: "cpl_104.ruling_48_hours".into(),
            ..Default::default()
        }),
        ruling: Some(PreservationRuling {
            decision: RulingDecision::Approve as i32,
            ruling_number: "(2026)黑0722财保1号".into(),
            judge: "李法官".into(),
            ruled_at: ts(1_788_750_000),
            ..Default::default()
        }),
        measure_taken_at: ts(1_788_750_000),
        suit_due: Some(Deadline {
            due_on: date(2026, 10, 8),
            rule: "cpl_104.suit_30_days".into(),
            ..Default::default()
        }),
        suit_reminder: Some(Deadline {
            due_on: date(2026, 9, 30),
            rule: "local.suit_reminder_7_days".into(),
            holiday_calendar_missing: true,
            ..Default::default()
        }),
        freeze_orders: vec![
            FreezeOrder {
                platform: PaymentPlatform::Alipay as i32,
                status: FreezeStatus::Lifted as i32,
                requested_fen: 1_000_000,
                frozen_fen: 600_000,
                expires_on: date(2027, 9, 7),
                renewal_due: Some(Deadline {
                    due_on: date(2027, 8, 31),
                    rule: "interp_485.renewal".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            FreezeOrder {
                platform: PaymentPlatform::WechatPay as i32,
                status: FreezeStatus::Failed as i32,
                requested_fen: 400_000,
                failure_reason: "no account".into(),
                ..Default::default()
            },
        ],
        callbacks: vec![Callback {
            called_at: ts(1_788_800_000),
            caller_phone: "13845678901".into(),
            note: "愿意协商，身份证230722197502185342".into(),
            ..Default::default()
        }],
        notice: Some(Notice {
            channel: "sms".into(),
            status: "delivered".into(),
            delivered_at: ts(1_788_750_060),
            html: "<html>…</html>".into(),
            ..Default::default()
        }),
        lift_reason: LiftReason::NoSuitInTime as i32,
        lifted_at: ts(1_791_475_260),
        ..Default::default()
    }
}

#[test]
fn a_preservation_shows_its_deadlines_freezes_notice_callbacks_and_lift_masked() {
    let text = render_preservation(&preservation());
    for needle in [
        "preservation  p1  LIFTED",
        "case          c1  JY-2025-00001, debtor 朱*",
        "amount        10,000.00 yuan, fee 120.00 yuan",
        "保险保单 insurance policy, 中国人民财产保险股份有限公司伊春市分公司 (91230700MA1B2C3D4E), \
         PICC-1 for 10,000.00 yuan, valid 2026-01-01 to the end",
        "platforms     ALIPAY, WECHAT_PAY; callback phone 0458-6100000",
        "ruling due    2026-09-09 10:00:00 (cpl_104.ruling_48_hours)",
        "ruling        approved (2026)黑0722财保1号 by 李法官",
        "suit due      2026-10-08 (cpl_104.suit_30_days)",
        "reminder      2026-09-30 (local.suit_reminder_7_days, weekends only",
        "  ALIPAY      asked 10,000.00 yuan, frozen 6,000.00 yuan  LIFTED, expires 2027-09-07, \
         renew by 2027-08-31 (interp_485.renewal)",
        "  WECHAT_PAY  asked 4,000.00 yuan, frozen 0.00 yuan  FAILED: no account",
        "notice        delivered by sms at",
        "from 138****8901",
        "NO_SUIT_IN_TIME",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from\n{text}");
    }
    for personal in [
        "朱娜",
        "13845678901",
        "230722197502185342",
        "朝阳镇",
        "<html>",
    ] {
        assert!(!text.contains(personal), "{personal} shown in\n{text}");
    }
}

#[test]
fn the_list_marks_overdue_rulings_and_shows_the_next_deadline() {
    let mut overdue = preservation();
    overdue.preservation_id = "p0".into();
    overdue.status = PreservationStatus::Applied as i32;
    overdue.ruling_overdue = true;
    overdue.freeze_orders.clear();
    let mut in_force = preservation();
    in_force.status = PreservationStatus::InForce as i32;
    in_force.freeze_orders[0].status = FreezeStatus::Frozen as i32;
    let text = render_list(&[overdue, in_force, preservation()]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "p0  case c1  APPLIED  10,000.00 yuan, ruling due 2026-09-09 10:00:00 \
         (cpl_104.ruling_48_hours) OVERDUE"
    );
    assert_eq!(
        lines[1],
        "p1  case c1  IN_FORCE  10,000.00 yuan, frozen 6,000.00, suit due 2026-10-08 \
         (cpl_104.suit_30_days)"
    );
    assert!(
        lines[2].ends_with("10,000.00 yuan, lifted: NO_SUIT_IN_TIME"),
        "{text}"
    );
    assert_eq!(lines[3], "3 preservations, 1 with the ruling OVERDUE");
}

fn refusal(field: &str, rule: &str) -> RowRefusal {
    RowRefusal {
        row: 1,
        reference: String::new(),
        field: field.into(),
        rule: rule.into(),
        description: "d".into(),
    }
}

#[test]
fn an_apply_report_has_a_line_per_row_under_the_files_row_numbers() {
    let mut applied = preservation();
    applied.status = PreservationStatus::Applied as i32;
    let report = ApplyReport {
        file: "a.csv".into(),
        request_id: "preservation:sha256:00".into(),
        rows_read: 4,
        unreadable: vec![crate::batch_file::RowError {
            row: 2,
            column: "保全金额".into(),
            message: "m".into(),
        }],
        outcome: Some(ApplyOutcome {
            rows: vec![
                AppliedRow {
                    row: 1,
                    case_id: "c1".into(),
                    outcome: RowOutcome::Accepted,
                    preservation: Some(applied),
                    refusals: Vec::new(),
                },
                AppliedRow {
                    row: 3,
                    case_id: "c3".into(),
                    outcome: RowOutcome::Existing,
                    preservation: Some(preservation()),
                    refusals: Vec::new(),
                },
                AppliedRow {
                    row: 4,
                    case_id: "c4".into(),
                    outcome: RowOutcome::Refused,
                    preservation: None,
                    refusals: vec![refusal("guarantee.amount_fen", "security.short")],
                },
            ],
            calls: 1,
            replayed_calls: 1,
        }),
    };
    let text = render_apply(&report);
    for needle in [
        "a.csv: 4 data rows, 1 could not be read",
        "  row      2  column 保全金额: m",
        "request id preservation:sha256:00",
        "replayed: these applications were sent before",
        "  row      1  case c1  accepted  p1  APPLIED  10,000.00 yuan, fee 120.00, ruling due \
         2026-09-09 10:00:00 (cpl_104.ruling_48_hours)",
        "  row      3  case c3  existing  p1  LIFTED  10,000.00 yuan, fee 120.00\n",
        "  row      4  case c4  refused  guarantee.amount_fen  security.short  d",
        "accepted 1, existing 1, refused 1 (of 3 sent)",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from\n{text}");
    }
}

#[test]
fn a_rule_report_names_each_ruling_and_counts_them() {
    let mut approved = preservation();
    approved.status = PreservationStatus::InForce as i32;
    let report = RuleReport {
        judge: "李法官".into(),
        request_id: "ruling:sha256:00".into(),
        rows: vec![
            RuledRow {
                preservation_id: "p1".into(),
                decision: Decision::Approve,
                ruling_number: "(2026)黑0722财保3号".into(),
                outcome: RowOutcome::Accepted,
                preservation: Some(approved),
                refusals: Vec::new(),
            },
            RuledRow {
                preservation_id: "p2".into(),
                decision: Decision::Reject,
                ruling_number: String::new(),
                outcome: RowOutcome::Refused,
                preservation: None,
                refusals: vec![refusal(
                    "preservation_id",
                    "preservation.not_awaiting_ruling",
                )],
            },
        ],
        calls: 1,
        replayed_calls: 0,
    };
    let text = render_rule(&report);
    assert!(
        text.contains("  p1  case c1  approve (2026)黑0722财保3号  IN_FORCE"),
        "{text}"
    );
    assert!(
        text.contains(
            "  p2  reject  refused  preservation_id  preservation.not_awaiting_ruling  d"
        ),
        "{text}"
    );
    assert!(
        text.contains("judge 李法官: approved 1, rejected 0, refused 1 (of 2 sent)"),
        "{text}"
    );
    assert!(render_rule(&RuleReport::default()).contains("nothing to rule on"));
}
