//! Preservation with intake and the pre-check, over real gRPC on ephemeral ports, each on a
//! fresh database (SQLite; PostgreSQL when `SIEVE_TEST_DATABASE=postgres`), against the
//! payment platforms' and the document service's simulators running as real servers.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use sieve_e2e::fixtures::{self, date};
use sieve_e2e::{
    INTAKE, PRE_CHECK, PRESERVATION, Simulators, Spawn, Spawned, eventually, wait_for_stage,
};
use sieve_kernel::error::reason;
use sieve_kernel::internal::InternalChannel as Channel;
use sieve_kernel::{ManualClock, SharedClock};
use sieve_proto::common::v1::{RowOutcome, Stage};
use sieve_proto::intake::v1 as intake;
use sieve_proto::intake::v1::intake_service_client::IntakeServiceClient;
use sieve_proto::preservation::v1 as pb;
use sieve_proto::preservation::v1::preservation_service_client::PreservationServiceClient;
use sieve_proto::sim::payment::v1 as pay;
use tonic_types::StatusExt;

/// An instant in Beijing time.
fn beijing(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    chrono::FixedOffset::east_opt(8 * 3600)
        .unwrap()
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .unwrap()
        .with_timezone(&Utc)
}

/// Intake, the pre-check and preservation, wired as `sieve up` wires them, with both
/// simulators.
struct Chain {
    spawned: Spawned,
    sims: Simulators,
    intake: IntakeServiceClient<Channel>,
    preservation: PreservationServiceClient<Channel>,
    bank_id: String,
    clock: Option<Arc<ManualClock>>,
    batches: usize,
}

fn spawn(sims: &Simulators) -> Spawn {
    Spawn::new(&[INTAKE, PRE_CHECK, PRESERVATION]).configure(|s| {
        s.outbox.poll_interval_ms = 50;
        s.outbox.base_backoff_ms = 50;
        s.outbox.max_backoff_secs = 1;
        s.set_service("bad_debt_check", "run_delay_ms", 50);
        sims.configure(s);
    })
}

impl Chain {
    async fn start() -> Chain {
        Self::start_on(None).await
    }

    /// On a manual clock starting at `at`.
    async fn at(at: DateTime<Utc>) -> Chain {
        Self::start_on(Some(Arc::new(ManualClock::new(at)))).await
    }

    async fn start_on(clock: Option<Arc<ManualClock>>) -> Chain {
        let shared: SharedClock = match &clock {
            Some(c) => c.clone(),
            None => sieve_kernel::clock::system(),
        };
        let sims = Simulators::start(shared.clone()).await;
        let mut s = spawn(&sims);
        if clock.is_some() {
            s = s.clock(shared);
        }
        let spawned = s.start().await;
        Self::wire(spawned, sims, clock).await
    }

    async fn wire(spawned: Spawned, sims: Simulators, clock: Option<Arc<ManualClock>>) -> Chain {
        let mut intake = spawned.intake();
        let bank_id = intake
            .register_bank(fixtures::bank("JYRCB"))
            .await
            .unwrap()
            .into_inner()
            .bank
            .unwrap()
            .bank_id;
        Chain {
            preservation: spawned.preservation(),
            spawned,
            sims,
            intake,
            bank_id,
            clock,
            batches: 0,
        }
    }

    /// `n` new cases of the bank, once the pre-check has sent them to PRESERVATION.
    async fn cases(&mut self, n: usize) -> Vec<String> {
        self.cases_claiming(n, None).await
    }

    /// As `cases`, each claiming `principal_fen` when given.
    async fn cases_claiming(&mut self, n: usize, principal_fen: Option<i64>) -> Vec<String> {
        self.batches += 1;
        let prefix = format!("P{}", self.batches);
        let cases = (0..n)
            .map(|i| {
                let mut case = fixtures::case(&prefix, self.batches * 1000 + i);
                if let (Some(p), Some(claim)) = (principal_fen, case.claim.as_mut()) {
                    claim.principal_fen = p;
                }
                case
            })
            .collect();
        let rows = self
            .intake
            .submit_cases(intake::SubmitCasesRequest {
                bank_id: self.bank_id.clone(),
                request_id: format!("batch-{}", self.batches),
                cases,
                label: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .rows;
        let ids: Vec<String> = rows.into_iter().map(|r| r.case_id).collect();
        wait_for_stage(&self.intake, &ids, |s| s == Stage::Preservation).await;
        ids
    }

    /// The debtor of the `i`th case of batch `batch` (as `cases` numbers them).
    fn debtor_id(batch: usize, i: usize) -> String {
        fixtures::resident_id(batch * 1000 + i)
    }

    fn advance(&self, by: Duration) {
        self.clock.as_ref().expect("a manual clock").advance(by);
    }

    async fn open_accounts(&self, id_number: &str, alipay_fen: i64, wechat_fen: i64) {
        let accounts = [
            (pay::Platform::Alipay, alipay_fen),
            (pay::Platform::WechatPay, wechat_fen),
        ]
        .into_iter()
        .filter(|(_, b)| *b >= 0)
        .map(|(platform, balance_fen)| pay::Account {
            platform: platform as i32,
            id_number: id_number.into(),
            balance_fen,
            frozen_fen: 0,
        })
        .collect();
        self.sims
            .payment()
            .open_accounts(pay::OpenAccountsRequest { accounts })
            .await
            .unwrap();
    }

    async fn frozen_at(&self, platform: pay::Platform, id_number: &str) -> i64 {
        match self
            .sims
            .payment()
            .get_account(pay::GetAccountRequest {
                platform: platform as i32,
                id_number: id_number.into(),
            })
            .await
        {
            Ok(found) => found.into_inner().account.map_or(0, |a| a.frozen_fen),
            Err(s) if s.code() == tonic::Code::NotFound => 0,
            Err(s) => panic!("the platform simulator: {s:?}"),
        }
    }

    async fn apply(
        &mut self,
        request_id: &str,
        applications: Vec<pb::PreservationInput>,
    ) -> pb::ApplyPreservationResponse {
        self.preservation
            .apply_preservation(pb::ApplyPreservationRequest {
                request_id: request_id.into(),
                bank_id: self.bank_id.clone(),
                applications,
            })
            .await
            .unwrap()
            .into_inner()
    }

    async fn rule(
        &mut self,
        request_id: &str,
        rulings: Vec<pb::ApplicationRuling>,
    ) -> pb::RuleOnApplicationsResponse {
        self.preservation
            .rule_on_applications(pb::RuleOnApplicationsRequest {
                request_id: request_id.into(),
                judge: "李法官".into(),
                rulings,
            })
            .await
            .unwrap()
            .into_inner()
    }

    async fn get(&mut self, preservation_id: &str) -> pb::Preservation {
        self.preservation
            .get_preservation(pb::GetPreservationRequest {
                key: Some(pb::get_preservation_request::Key::PreservationId(
                    preservation_id.into(),
                )),
            })
            .await
            .unwrap()
            .into_inner()
            .preservation
            .unwrap()
    }

    /// Waits until the preservation satisfies `done`.
    async fn until(
        &self,
        id: &str,
        what: &str,
        done: impl Fn(&pb::Preservation) -> bool,
    ) -> pb::Preservation {
        eventually(what, || {
            let mut client = self.preservation.clone();
            let done = &done;
            async move {
                let p = client
                    .get_preservation(pb::GetPreservationRequest {
                        key: Some(pb::get_preservation_request::Key::PreservationId(id.into())),
                    })
                    .await
                    .map_err(|e| format!("{e:?}"))?
                    .into_inner()
                    .preservation
                    .ok_or("no preservation")?;
                if done(&p) {
                    Ok(p)
                } else {
                    Err(format!("{:?} {:?}", p.status, p.freeze_orders))
                }
            }
        })
        .await
    }

    async fn stop(self) {
        self.spawned.stop().await;
        self.sims.stop();
    }
}

/// An application for `amount_fen` with an insurer's policy covering exactly that.
fn application(case_id: &str, amount_fen: i64) -> pb::PreservationInput {
    pb::PreservationInput {
        case_id: case_id.into(),
        amount_fen,
        guarantee: Some(pb::Guarantee {
            kind: pb::GuaranteeKind::InsurancePolicy as i32,
            issuer_name: "中国人民财产保险股份有限公司伊春市分公司".into(),
            issuer_code: "91230700MA1B2C3D4E".into(),
            instrument_number: format!("PICC-{case_id}"),
            amount_fen,
            valid_from: date(2020, 1, 1),
            valid_until: None,
            document: None,
        }),
        platforms: vec![],
        callback_phone: String::new(),
    }
}

fn approve(p: &pb::Preservation, n: usize) -> pb::ApplicationRuling {
    pb::ApplicationRuling {
        preservation_id: p.preservation_id.clone(),
        decision: pb::RulingDecision::Approve as i32,
        reason: String::new(),
        ruling_number: format!("(2026)黑0722财保{n}号"),
    }
}

fn accepted(rows: &[pb::PreservationRow]) -> Vec<pb::Preservation> {
    rows.iter()
        .filter(|r| r.outcome == RowOutcome::Accepted as i32)
        .map(|r| r.preservation.clone().unwrap())
        .collect()
}

fn refused_rules(row: &pb::PreservationRow) -> Vec<&str> {
    row.refusals.iter().map(|r| r.rule.as_str()).collect()
}

#[tokio::test]
async fn applications_are_answered_per_row_and_a_retry_is_harmless() {
    let mut c = Chain::start().await;
    let ids = c.cases(5).await;
    // fixtures::case: 10,000.00 yuan + i fen principal, 10.00 interest; case 3 is i = 1003.
    let claim = 1_000_000 + 1003 + 1000;
    let mut short = application(&ids[1], 500_000);
    short.guarantee.as_mut().unwrap().amount_fen = 499_999;
    let mut bare = application(&ids[2], 500_000);
    bare.guarantee = None;
    let mut unknown_platform = application(&ids[4], 500_000);
    unknown_platform.platforms = vec![9];
    let request = vec![
        application(&ids[0], 500_000),
        short,
        bare,
        application(&ids[3], claim + 1),
        unknown_platform.clone(),
        application(&ids[0], 100),
        application("no-such-case", 100),
    ];
    let first = c.apply("apply-1", request.clone()).await;
    assert!(!first.replayed);
    let rows = &first.rows;
    assert_eq!(rows.len(), 7);
    assert_eq!(rows[0].outcome, RowOutcome::Accepted as i32);
    let p = rows[0].preservation.clone().unwrap();
    assert_eq!(p.status, pb::PreservationStatus::Applied as i32);
    // Fees art. 14(2): 30 yuan + 1% of the 4,000 above 1,000.
    assert_eq!(p.fee_fen, 3_000 + 4_000);
    assert_eq!(
        p.callback_phone, "0458-6123456",
        "the bank's own, from its record"
    );
    let due = p.ruling_due.unwrap();
    assert_eq!(due.rule, "cpl_104.ruling_48_hours");
    assert_eq!(refused_rules(&rows[1]), ["security.short"]);
    assert!(
        rows[1].refusals[0].description.contains("4,999.99"),
        "{:?}",
        rows[1].refusals
    );
    assert_eq!(refused_rules(&rows[2]), ["security.missing"]);
    assert_eq!(refused_rules(&rows[3]), ["amount.above_claim"]);
    assert_eq!(refused_rules(&rows[4]), ["platform.unknown"]);
    assert_eq!(rows[4].refusals[0].field, "platforms[0]");
    assert_eq!(refused_rules(&rows[5]), ["case.duplicate_in_call"]);
    assert_eq!(refused_rules(&rows[6]), ["case.not_found"]);
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r.row, i as i64 + 1);
    }

    // The same call again: the same answer, nothing new.
    let again = c.apply("apply-1", request.clone()).await;
    assert!(again.replayed);
    assert_eq!(again.rows, first.rows);
    // The same id with other content is refused, naming the field.
    let status = c
        .preservation
        .apply_preservation(pb::ApplyPreservationRequest {
            request_id: "apply-1".into(),
            bank_id: c.bank_id.clone(),
            applications: vec![application(&ids[1], 400_000)],
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert_eq!(
        status.get_details_error_info().unwrap().reason,
        reason::REQUEST_ID_REUSED
    );
    // A new call for the same case returns the open preservation.
    let repeat = c
        .apply("apply-2", vec![application(&ids[0], 300_000)])
        .await;
    assert_eq!(repeat.rows[0].outcome, RowOutcome::Existing as i32);
    assert_eq!(
        repeat.rows[0]
            .preservation
            .as_ref()
            .unwrap()
            .preservation_id,
        p.preservation_id
    );
    // Intake's record shows that preservation was applied for (Interp. 427(7)).
    eventually("intake marks the case", || {
        let mut intake = c.intake.clone();
        let id = ids[0].clone();
        async move {
            let case = intake
                .get_case(intake::GetCaseRequest { case_id: id })
                .await
                .map_err(|e| e.to_string())?
                .into_inner()
                .case
                .ok_or_else(|| "no case".to_string())?;
            case.preservation_applied_at
                .ok_or_else(|| "not marked".to_string())
                .map(|_| ())
        }
    })
    .await;
    c.stop().await;
}

#[tokio::test]
async fn fees_follow_the_bands_and_the_cap_at_their_boundaries() {
    let mut c = Chain::start().await;
    // Credit-card claims of 1,000,000 yuan: any amount below is within the claim.
    let amounts = [
        100_000, 100_001, 999_999, 10_000_000, 10_000_001, 89_600_000, 90_000_000,
    ];
    let ids = c.cases_claiming(amounts.len(), Some(100_000_000)).await;
    let res = c
        .apply(
            "fees",
            ids.iter()
                .zip(amounts)
                .map(|(id, a)| application(id, a))
                .collect(),
        )
        .await;
    let fees: Vec<i64> = res
        .rows
        .iter()
        .map(|r| r.preservation.as_ref().unwrap().fee_fen)
        .collect();
    // 1,000.00 → 30; 1,000.01 → 30.0001, rounded once to 30.00; 9,999.99 → 30 + 89.9999;
    // 100,000.00 → 1,020; 100,000.01 → 1,020.00005; 896,000 → 5,000 exactly; 900,000 →
    // 5,020, capped at 5,000 (Fees art. 14(2)).
    assert_eq!(
        fees,
        [3_000, 3_000, 12_000, 102_000, 102_000, 500_000, 500_000]
    );
    c.stop().await;
}

#[tokio::test]
async fn approval_freezes_at_once_without_exceeding_the_amount_and_a_callback_leads_to_mediation() {
    let mut c = Chain::start().await;
    let ids = c.cases(3).await;
    let (a, b) = (Chain::debtor_id(1, 0), Chain::debtor_id(1, 1));
    // Alipay holds 6,000, WeChat Pay 6,000: 10,000 preserved takes 6,000 + 4,000.
    c.open_accounts(&a, 600_000, 600_000).await;
    let applied = c
        .apply(
            "apply",
            vec![
                application(&ids[0], 1_000_000),
                application(&ids[1], 500_000),
                application(&ids[2], 500_000),
            ],
        )
        .await;
    let ps = accepted(&applied.rows);
    assert_eq!(ps.len(), 3);
    let reject = pb::ApplicationRuling {
        preservation_id: ps[2].preservation_id.clone(),
        decision: pb::RulingDecision::Reject as i32,
        reason: "担保材料不全".into(),
        ruling_number: String::new(),
    };
    let ruled = c
        .rule(
            "rule-1",
            vec![approve(&ps[0], 1), approve(&ps[1], 2), reject],
        )
        .await;
    assert!(
        ruled
            .rows
            .iter()
            .all(|r| r.outcome == RowOutcome::Accepted as i32),
        "{:?}",
        ruled.rows
    );
    let rejected = ruled.rows[2].preservation.clone().unwrap();
    assert_eq!(rejected.status, pb::PreservationStatus::Rejected as i32);
    // A ruling on one not awaiting one is refused, naming its status.
    let again = c.rule("rule-2", vec![approve(&ps[0], 3)]).await;
    assert_eq!(
        refused_rules(&again.rows[0]),
        ["preservation.not_awaiting_ruling"]
    );
    assert!(again.rows[0].refusals[0].description.contains("IN_FORCE"));

    let frozen = c
        .until(
            &ps[0].preservation_id,
            "both platforms answer and the notice is served",
            |p| {
                p.freeze_orders.len() == 2
                    && p.freeze_orders
                        .iter()
                        .all(|o| o.status == pb::FreezeStatus::Frozen as i32)
                    && p.notice.as_ref().is_some_and(|n| n.status == "delivered")
            },
        )
        .await;
    let held: Vec<(i32, i64, i64)> = frozen
        .freeze_orders
        .iter()
        .map(|o| (o.platform, o.requested_fen, o.frozen_fen))
        .collect();
    assert_eq!(
        held,
        [
            (pb::PaymentPlatform::Alipay as i32, 1_000_000, 600_000),
            (pb::PaymentPlatform::WechatPay as i32, 400_000, 400_000)
        ]
    );
    assert_eq!(c.frozen_at(pay::Platform::Alipay, &a).await, 600_000);
    assert_eq!(c.frozen_at(pay::Platform::WechatPay, &a).await, 400_000);
    let notice = frozen.notice.clone().unwrap();
    assert!(
        notice.html.contains("0458-6123456"),
        "the callback phone is on the notice"
    );
    assert_eq!(
        frozen.suit_due.as_ref().unwrap().rule,
        "cpl_104.suit_30_days"
    );
    assert!(frozen.freeze_orders[0].expires_on.is_some());
    // B has no account anywhere: both asked, nothing held, the preservation stands.
    let none = c
        .until(&ps[1].preservation_id, "both platforms answer", |p| {
            p.freeze_orders.len() == 2
                && p.freeze_orders
                    .iter()
                    .all(|o| o.status == pb::FreezeStatus::Failed as i32)
        })
        .await;
    assert_eq!(none.status, pb::PreservationStatus::InForce as i32);
    assert_eq!(c.frozen_at(pay::Platform::Alipay, &b).await, 0);

    // The debtor calls back: the case moves to mediation, once.
    for _ in 0..2 {
        c.preservation
            .record_callback(pb::RecordCallbackRequest {
                request_id: "call-1".into(),
                preservation_id: ps[0].preservation_id.clone(),
                called_at: None,
                caller_phone: "13900000000".into(),
                note: "愿意协商分期".into(),
            })
            .await
            .unwrap();
    }
    wait_for_stage(&c.intake, &ids[..1], |s| s == Stage::Mediation).await;
    let after = c.get(&ps[0].preservation_id).await;
    assert_eq!(
        after.callbacks.len(),
        1,
        "the retried call is recorded once"
    );
    // A callback on one not in force is refused.
    let status = c
        .preservation
        .record_callback(pb::RecordCallbackRequest {
            request_id: "call-2".into(),
            preservation_id: ps[2].preservation_id.clone(),
            called_at: None,
            caller_phone: String::new(),
            note: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    assert_eq!(
        status.get_details_error_info().unwrap().reason,
        reason::PRESERVATION_NOT_IN_FORCE
    );
    c.stop().await;
}

/// Applied and approved at `c`'s clock: the preservations, in the order of `amounts`.
async fn applied_and_approved(
    c: &mut Chain,
    ids: &[String],
    amount_fen: i64,
    tag: &str,
) -> Vec<pb::Preservation> {
    let ps = accepted(
        &c.apply(
            &format!("apply-{tag}"),
            ids.iter().map(|id| application(id, amount_fen)).collect(),
        )
        .await
        .rows,
    );
    assert_eq!(ps.len(), ids.len());
    let rulings = ps
        .iter()
        .enumerate()
        .map(|(i, p)| approve(p, i + 1))
        .collect();
    let ruled = c.rule(&format!("rule-{tag}"), rulings).await;
    assert!(
        ruled
            .rows
            .iter()
            .all(|r| r.outcome == RowOutcome::Accepted as i32)
    );
    ps
}

#[tokio::test]
async fn the_ruling_is_overdue_at_48_hours_and_listed_first() {
    // Applied at 10:00 sharp Beijing time.
    let mut c = Chain::at(beijing(2026, 3, 2, 10, 0)).await;
    let ids = c.cases(2).await;
    let ps = accepted(
        &c.apply("apply", vec![application(&ids[0], 100_000)])
            .await
            .rows,
    );
    c.advance(Duration::minutes(1));
    let later = accepted(
        &c.apply("apply-2", vec![application(&ids[1], 100_000)])
            .await
            .rows,
    );
    let due = ps[0].ruling_due.clone().unwrap();
    assert_eq!(
        due.due_at.unwrap().seconds,
        beijing(2026, 3, 4, 10, 0).timestamp()
    );
    // 47 h 59 min: still in time.
    c.advance(Duration::minutes(47 * 60 + 58));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!c.get(&ps[0].preservation_id).await.ruling_overdue);
    // 48 h: overdue, and first on the court's list although the later one was applied later.
    c.advance(Duration::minutes(1));
    c.until(&ps[0].preservation_id, "the ruling is overdue", |p| {
        p.ruling_overdue
    })
    .await;
    let list = c
        .preservation
        .list_preservations(pb::ListPreservationsRequest {
            bank_id: String::new(),
            status: pb::PreservationStatus::Applied as i32,
            page: None,
        })
        .await
        .unwrap()
        .into_inner()
        .preservations;
    let order: Vec<&str> = list.iter().map(|p| p.preservation_id.as_str()).collect();
    assert_eq!(
        order,
        [
            ps[0].preservation_id.as_str(),
            later[0].preservation_id.as_str()
        ]
    );
    assert!(!list[1].ruling_overdue);
    // Paged one at a time, the same order.
    let first = c
        .preservation
        .list_preservations(pb::ListPreservationsRequest {
            bank_id: c.bank_id.clone(),
            status: 0,
            page: Some(sieve_proto::common::v1::PageRequest {
                page_size: 1,
                page_token: String::new(),
            }),
        })
        .await
        .unwrap()
        .into_inner();
    let second = c
        .preservation
        .list_preservations(pb::ListPreservationsRequest {
            bank_id: c.bank_id.clone(),
            status: 0,
            page: Some(sieve_proto::common::v1::PageRequest {
                page_size: 1,
                page_token: first.next_page_token.clone(),
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        first.preservations[0].preservation_id,
        ps[0].preservation_id
    );
    assert_eq!(
        second.preservations[0].preservation_id,
        later[0].preservation_id
    );
    c.stop().await;
}

#[tokio::test]
async fn no_suit_within_30_days_lifts_every_freeze_and_sends_the_case_to_suit() {
    // Measure 2026-09-07: the 30th day is National Day; due Thursday 2026-10-08.
    let mut c = Chain::at(beijing(2026, 9, 7, 10, 0)).await;
    let ids = c.cases(2).await;
    for i in 0..2 {
        c.open_accounts(&Chain::debtor_id(1, i), 300_000, 300_000)
            .await;
    }
    let ps = applied_and_approved(&mut c, &ids, 500_000, "a").await;
    let p = c
        .until(&ps[0].preservation_id, "frozen", |p| {
            p.freeze_orders.len() == 2
                && p.freeze_orders
                    .iter()
                    .all(|o| o.status == pb::FreezeStatus::Frozen as i32)
        })
        .await;
    let suit = p.suit_due.clone().unwrap();
    assert_eq!(suit.due_on, date(2026, 10, 8));
    assert_eq!(p.suit_reminder.unwrap().due_on, date(2026, 9, 30));
    // The second files its suit in time: its freezes carry over.
    let filed = c
        .preservation
        .record_suit_filed(pb::RecordSuitFiledRequest {
            request_id: "suit-1".into(),
            preservation_id: ps[1].preservation_id.clone(),
            litigation_id: "(2026)黑0722民初300号".into(),
            filed_on: date(2026, 10, 8),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(filed.in_time);
    // 2026-10-09 00:00 Beijing: the period has ended.
    c.advance(Duration::hours(24 * 31 + 14));
    let lifted = c
        .until(&ps[0].preservation_id, "the freezes are lifted", |p| {
            p.status == pb::PreservationStatus::Lifted as i32
        })
        .await;
    assert_eq!(lifted.lift_reason, pb::LiftReason::NoSuitInTime as i32);
    assert!(
        lifted
            .freeze_orders
            .iter()
            .all(|o| o.status == pb::FreezeStatus::Lifted as i32)
    );
    assert_eq!(
        c.frozen_at(pay::Platform::Alipay, &Chain::debtor_id(1, 0))
            .await,
        0
    );
    assert_eq!(
        c.frozen_at(pay::Platform::WechatPay, &Chain::debtor_id(1, 0))
            .await,
        0
    );
    // No callback, and no payment order after preservation (Interp. 427(7)): to litigation.
    wait_for_stage(&c.intake, &ids[..1], |s| s == Stage::Litigation).await;
    let carried = c.get(&ps[1].preservation_id).await;
    assert_eq!(carried.status, pb::PreservationStatus::InForce as i32);
    assert_eq!(
        c.frozen_at(pay::Platform::Alipay, &Chain::debtor_id(1, 1))
            .await,
        300_000
    );
    // The timeline shows the steps with their rules.
    let events = c
        .intake
        .get_timeline(intake::GetTimelineRequest {
            case_id: ids[0].clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    let reasons: Vec<&str> = events.iter().map(|e| e.reason.as_str()).collect();
    for needle in ["48", "CPL 104 para 2", "CPL 104 para 3", "Interp. 427(7)"] {
        assert!(
            reasons.iter().any(|r| r.contains(needle)),
            "{needle} in {reasons:?}"
        );
    }
    c.stop().await;
}

#[tokio::test]
async fn a_freeze_is_renewed_7_days_before_expiry_not_6_and_lapses_unrenewed() {
    let mut c = Chain::at(beijing(2026, 3, 2, 10, 0)).await;
    let ids = c.cases(2).await;
    for i in 0..2 {
        c.open_accounts(&Chain::debtor_id(1, i), 100_000, -1).await;
    }
    let mut ps = Vec::new();
    for id in &ids {
        let mut a = application(id, 100_000);
        a.platforms = vec![pb::PaymentPlatform::Alipay as i32];
        ps.extend(accepted(
            &c.apply(&format!("apply-{id}"), vec![a]).await.rows,
        ));
    }
    let rulings = ps
        .iter()
        .enumerate()
        .map(|(i, p)| approve(p, i + 1))
        .collect();
    c.rule("rule", rulings).await;
    // Filed in time, so the suit period does not lift them.
    for (i, p) in ps.iter().enumerate() {
        c.preservation
            .record_suit_filed(pb::RecordSuitFiledRequest {
                request_id: format!("suit-{i}"),
                preservation_id: p.preservation_id.clone(),
                litigation_id: format!("(2026)黑0722民初{i}号"),
                filed_on: date(2026, 3, 10),
            })
            .await
            .unwrap();
    }
    let mut orders = Vec::new();
    for p in &ps {
        let p = c
            .until(&p.preservation_id, "frozen", |p| {
                p.freeze_orders
                    .first()
                    .is_some_and(|o| o.status == pb::FreezeStatus::Frozen as i32)
            })
            .await;
        let o = p.freeze_orders[0].clone();
        // A year on: 2027-03-02, a Tuesday (2027 has no calendar yet: weekends only).
        assert_eq!(o.expires_on, date(2027, 3, 2));
        assert_eq!(o.renewal_due.as_ref().unwrap().due_on, date(2027, 2, 23));
        orders.push(o);
    }
    // 2027-02-23, 7 days before: renewed.
    c.clock.as_ref().unwrap().set(beijing(2027, 2, 23, 9, 0));
    let renewed = c
        .preservation
        .renew_freeze(pb::RenewFreezeRequest {
            request_id: "renew-1".into(),
            freeze_order_id: orders[0].freeze_order_id.clone(),
            new_expires_on: date(2028, 3, 2),
        })
        .await
        .unwrap()
        .into_inner()
        .freeze_order
        .unwrap();
    assert_eq!(
        (renewed.renewals, renewed.expires_on),
        (1, date(2028, 3, 2))
    );
    // 2027-02-24, 6 days before: refused, naming the last day.
    c.clock.as_ref().unwrap().set(beijing(2027, 2, 24, 9, 0));
    let late = c
        .preservation
        .renew_freeze(pb::RenewFreezeRequest {
            request_id: "renew-2".into(),
            freeze_order_id: orders[1].freeze_order_id.clone(),
            new_expires_on: date(2028, 3, 2),
        })
        .await
        .unwrap_err();
    assert_eq!(late.code(), tonic::Code::FailedPrecondition);
    assert_eq!(
        late.get_details_error_info().unwrap().reason,
        reason::RENEWAL_LATE
    );
    assert!(late.message().contains("2027-02-23"), "{}", late.message());
    // Past its expiry the unrenewed one lapses; the renewed one holds.
    c.clock.as_ref().unwrap().set(beijing(2027, 3, 3, 1, 0));
    let lapsed = c
        .until(&ps[1].preservation_id, "the freeze lapses", |p| {
            p.freeze_orders[0].status == pb::FreezeStatus::Expired as i32
        })
        .await;
    assert_eq!(lapsed.status, pb::PreservationStatus::Lifted as i32);
    assert_eq!(
        c.frozen_at(pay::Platform::Alipay, &Chain::debtor_id(1, 1))
            .await,
        0
    );
    assert_eq!(
        c.frozen_at(pay::Platform::Alipay, &Chain::debtor_id(1, 0))
            .await,
        100_000
    );
    c.stop().await;
}

#[tokio::test]
async fn a_platform_down_during_approval_freezes_once_it_is_back() {
    let mut c = Chain::start().await;
    let ids = c.cases(1).await;
    let debtor = Chain::debtor_id(1, 0);
    c.open_accounts(&debtor, 200_000, 200_000).await;
    for platform in [pay::Platform::Alipay, pay::Platform::WechatPay] {
        c.sims
            .payment()
            .set_outage(pay::SetOutageRequest {
                platform: platform as i32,
                down: true,
            })
            .await
            .unwrap();
    }
    let ps = applied_and_approved(&mut c, &ids, 300_000, "a").await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let waiting = c.get(&ps[0].preservation_id).await;
    assert_eq!(waiting.freeze_orders.len(), 1);
    assert_eq!(
        waiting.freeze_orders[0].status,
        pb::FreezeStatus::Requested as i32
    );
    for platform in [pay::Platform::Alipay, pay::Platform::WechatPay] {
        c.sims
            .payment()
            .set_outage(pay::SetOutageRequest {
                platform: platform as i32,
                down: false,
            })
            .await
            .unwrap();
    }
    c.until(
        &ps[0].preservation_id,
        "frozen once the platforms are back",
        |p| {
            p.freeze_orders.len() == 2
                && p.freeze_orders
                    .iter()
                    .all(|o| o.status == pb::FreezeStatus::Frozen as i32)
        },
    )
    .await;
    // Once each: 2,000 + 1,000, however often the first order was sent.
    assert_eq!(c.frozen_at(pay::Platform::Alipay, &debtor).await, 200_000);
    assert_eq!(
        c.frozen_at(pay::Platform::WechatPay, &debtor).await,
        100_000
    );
    c.stop().await;
}

#[tokio::test]
async fn killed_between_ruling_and_freeze_nothing_is_lost_and_nothing_frozen_twice() {
    let sims = Simulators::start(sieve_kernel::clock::system()).await;
    let base = spawn(&sims);
    let first = base.clone().start_crashable();
    let mut intake = first.intake();
    let bank_id = intake
        .register_bank(fixtures::bank("JYRCB"))
        .await
        .unwrap()
        .into_inner()
        .bank
        .unwrap()
        .bank_id;
    let ids: Vec<String> = intake
        .submit_cases(intake::SubmitCasesRequest {
            bank_id: bank_id.clone(),
            request_id: "b1".into(),
            cases: (0..3).map(|i| fixtures::case("K", i)).collect(),
            label: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .rows
        .into_iter()
        .map(|r| r.case_id)
        .collect();
    wait_for_stage(&intake, &ids, |s| s == Stage::Preservation).await;
    for i in 0..3 {
        sims.payment()
            .open_accounts(pay::OpenAccountsRequest {
                accounts: vec![pay::Account {
                    platform: pay::Platform::Alipay as i32,
                    id_number: fixtures::resident_id(i),
                    balance_fen: 50_000,
                    frozen_fen: 0,
                }],
            })
            .await
            .unwrap();
    }
    // The platforms are down, so the orders are written and not yet answered when it dies.
    sims.payment()
        .set_outage(pay::SetOutageRequest {
            platform: pay::Platform::Alipay as i32,
            down: true,
        })
        .await
        .unwrap();
    let mut preservation = first.preservation();
    let ps: Vec<pb::Preservation> = accepted(
        &preservation
            .apply_preservation(pb::ApplyPreservationRequest {
                request_id: "apply".into(),
                bank_id: bank_id.clone(),
                applications: ids.iter().map(|id| application(id, 100_000)).collect(),
            })
            .await
            .unwrap()
            .into_inner()
            .rows,
    );
    preservation
        .rule_on_applications(pb::RuleOnApplicationsRequest {
            request_id: "rule".into(),
            judge: "李法官".into(),
            rulings: ps.iter().enumerate().map(|(i, p)| approve(p, i)).collect(),
        })
        .await
        .unwrap();
    first.crash();
    sims.payment()
        .set_outage(pay::SetOutageRequest {
            platform: pay::Platform::Alipay as i32,
            down: false,
        })
        .await
        .unwrap();
    let second = base.clone().start().await;
    let c = Chain {
        preservation: second.preservation(),
        intake: second.intake(),
        spawned: second,
        sims,
        bank_id,
        clock: None,
        batches: 0,
    };
    for p in &ps {
        let done = c
            .until(&p.preservation_id, "frozen after the restart", |p| {
                p.freeze_orders.len() == 2
                    && p.freeze_orders[0].status == pb::FreezeStatus::Frozen as i32
                    && p.freeze_orders[1].status == pb::FreezeStatus::Failed as i32
            })
            .await;
        assert_eq!(done.freeze_orders[0].frozen_fen, 50_000);
    }
    for i in 0..3 {
        assert_eq!(
            c.frozen_at(pay::Platform::Alipay, &fixtures::resident_id(i))
                .await,
            50_000,
            "frozen once"
        );
    }
    c.stop().await;
}

#[tokio::test]
async fn a_case_goes_on_without_preservation_only_if_none_was_applied_for() {
    let mut c = Chain::start().await;
    let ids = c.cases(3).await;
    let ps = accepted(
        &c.apply(
            "apply",
            vec![application(&ids[1], 100_000), application(&ids[2], 100_000)],
        )
        .await
        .rows,
    );
    c.rule(
        "rule",
        vec![pb::ApplicationRuling {
            preservation_id: ps[0].preservation_id.clone(),
            decision: pb::RulingDecision::Reject as i32,
            reason: "担保不足".into(),
            ruling_number: String::new(),
        }],
    )
    .await;
    let res = c
        .preservation
        .forgo_preservation(pb::ForgoPreservationRequest {
            request_id: "forgo".into(),
            bank_id: c.bank_id.clone(),
            case_ids: ids.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(res.rows[0].to_stage, Stage::PaymentOrder as i32);
    assert_eq!(res.rows[0].rule, "cpl_225.no_preservation_applied");
    assert_eq!(res.rows[1].to_stage, Stage::Litigation as i32);
    assert_eq!(res.rows[1].rule, "interp_427_7.preservation_applied");
    assert_eq!(res.rows[2].outcome, RowOutcome::Refused as i32);
    assert_eq!(res.rows[2].refusals[0].rule, "preservation.open");
    wait_for_stage(&c.intake, &ids[..1], |s| s == Stage::PaymentOrder).await;
    wait_for_stage(&c.intake, &ids[1..2], |s| s == Stage::Litigation).await;
    // A case in another stage is refused, naming the stage.
    let again = c
        .preservation
        .forgo_preservation(pb::ForgoPreservationRequest {
            request_id: "forgo-2".into(),
            bank_id: c.bank_id.clone(),
            case_ids: ids[..1].to_vec(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.rows[0].refusals[0].rule, "case.stage");
    assert!(
        again.rows[0].refusals[0]
            .description
            .contains("PAYMENT_ORDER")
    );
    c.stop().await;
}

#[tokio::test]
async fn a_case_closed_at_intake_lifts_its_freezes() {
    let mut c = Chain::start().await;
    let ids = c.cases(1).await;
    let debtor = Chain::debtor_id(1, 0);
    c.open_accounts(&debtor, 80_000, 80_000).await;
    let ps = applied_and_approved(&mut c, &ids, 100_000, "a").await;
    c.until(&ps[0].preservation_id, "frozen", |p| {
        p.freeze_orders.len() == 2
            && p.freeze_orders
                .iter()
                .all(|o| o.status == pb::FreezeStatus::Frozen as i32)
    })
    .await;
    assert_eq!(c.frozen_at(pay::Platform::WechatPay, &debtor).await, 20_000);
    // The bank withdraws the case: intake tells preservation through its outbox.
    c.intake
        .withdraw_case(intake::WithdrawCaseRequest {
            request_id: "w-1".into(),
            case_id: ids[0].clone(),
            reason: "债务人已还款".into(),
        })
        .await
        .unwrap();
    let lifted = c
        .until(&ps[0].preservation_id, "lifted on close", |p| {
            p.status == pb::PreservationStatus::Lifted as i32
        })
        .await;
    assert_eq!(lifted.lift_reason, pb::LiftReason::CaseClosed as i32);
    assert!(
        lifted.lift_note.contains("WITHDRAWN"),
        "{}",
        lifted.lift_note
    );
    assert_eq!(c.frozen_at(pay::Platform::Alipay, &debtor).await, 0);
    assert_eq!(c.frozen_at(pay::Platform::WechatPay, &debtor).await, 0);
    c.stop().await;
}
