//! A crash in the middle of a batch, then the bank sending it again: nothing lost, nothing twice.

use super::*;

/// How a bank sends its file again after intake crashed in the middle of it.
#[derive(Debug, Clone, Copy)]
enum Resend {
    /// A new key (the file's hash changed), to intake restarted at the same address.
    NewKeyAfterRestart,
    /// A new key within the lease, to another intake instance (the crashed one's lease still
    /// runs); then again once the lease lapsed.
    NewKeyElsewhereBeforeAndAfterTheLease,
    /// The same key, once the lease lapsed.
    SameKeyAfterTheLease,
}

const CRASH_ROWS: usize = 6_000;

async fn submit_to(
    client: &mut IntakeServiceClient<Channel>,
    bank_id: &str,
    request_id: &str,
    cases: Vec<pb::CaseInput>,
) -> pb::SubmitBatchResponse {
    let mut msgs = vec![header(bank_id, request_id, cases.len())];
    msgs.extend(chunks(cases, 1000));
    client
        .submit_batch(tokio_stream::iter(msgs))
        .await
        .unwrap()
        .into_inner()
}

/// Every row of a completed batch names a case that exists, and every case of the bank
/// is one row's: nothing lost, nothing twice, no dangling id.
async fn assert_whole(
    client: &mut IntakeServiceClient<Channel>,
    bank_id: &str,
    batch_ids: &[&str],
) {
    let cases = all_cases(client, bank_id).await;
    let refs: std::collections::HashSet<&str> =
        cases.iter().map(|c| c.bank_case_ref.as_str()).collect();
    assert_eq!(cases.len(), CRASH_ROWS, "every row is one case");
    assert_eq!(refs.len(), CRASH_ROWS, "no reference twice");
    let ids: std::collections::HashSet<&str> = cases.iter().map(|c| c.case_id.as_str()).collect();
    for batch_id in batch_ids {
        for row in rows_of(client, batch_id, false).await {
            if !row.case_id.is_empty() {
                assert!(
                    ids.contains(row.case_id.as_str()),
                    "row {} of batch {batch_id} names case {} that does not exist",
                    row.row,
                    row.case_id
                );
            }
        }
    }
}

/// A batch half received when intake is killed, then sent again: every row ends as exactly
/// one case, the half-written batch is never visible, and its final state says what happened.
async fn crash_mid_batch_then(resend: Resend) {
    let manual = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 2, 1, 0, 0).unwrap(),
    ));
    let clock: SharedClock = manual.clone();
    let base = Spawn::new(&[INTAKE]).clock(clock);
    let target = base.target(INTAKE).clone();
    let first = base.clone().start_crashable();
    let mut client = first.intake();
    let bank_id = register_bank_with(&mut client, "CRASH").await;
    let cases: Vec<pb::CaseInput> = (0..CRASH_ROWS).map(valid_case).collect();

    // Half the file, then the sender waits (as a slow upload does) while intake dies.
    let (tx, rx) = tokio::sync::mpsc::channel::<pb::SubmitBatchRequest>(16);
    let mut uploading = client.clone();
    let upload = tokio::spawn(async move {
        uploading
            .submit_batch(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
    });
    tx.send(header(&bank_id, "file-v1", CRASH_ROWS))
        .await
        .unwrap();
    for chunk in chunks(cases[..CRASH_ROWS / 2].to_vec(), 1000) {
        tx.send(chunk).await.unwrap();
    }
    let db = sieve_kernel::db::connect(&target, &settings().database)
        .await
        .unwrap();
    let half = loop {
        let batch = sieve_intake::store::find_batch(db.read(), &bank_id, "file-v1")
            .await
            .unwrap();
        if let Some(b) = batch.filter(|b| b.received_cases >= 2_000) {
            break b;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let written = sieve_intake::store::cases_in_rows(db.read(), &half.id, 0, i64::MAX)
        .await
        .unwrap();
    assert!(
        !written.is_empty(),
        "the batch wrote cases before the crash"
    );

    // Nothing of the unfinished batch is a case for any caller.
    let status = client
        .get_case(pb::GetCaseRequest {
            case_id: written[0].id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let batched = client
        .batch_get_cases(pb::BatchGetCasesRequest {
            case_ids: written.iter().take(100).map(|c| c.id.clone()).collect(),
        })
        .await
        .unwrap()
        .into_inner()
        .cases;
    assert!(
        batched.is_empty(),
        "{} cases of the unfinished batch",
        batched.len()
    );
    assert_eq!(all_cases(&mut client, &bank_id).await.len(), 0);
    let rows = client
        .list_batch_rows(pb::ListBatchRowsRequest {
            batch_id: half.id.clone(),
            refused_only: false,
            page: None,
            outcome: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(rows.code(), Code::FailedPrecondition);

    let port = first.addr(INTAKE).port();
    first.crash();
    drop(tx);
    assert!(
        upload.await.unwrap().is_err(),
        "the sender learns the upload broke"
    );

    let lease = Duration::from_millis(sieve_intake::api::BATCH_LEASE_MS as u64 + 1_000);
    let (second, batches) = match resend {
        Resend::NewKeyAfterRestart => {
            let second = base.clone().port(INTAKE, port).start_crashable();
            let mut client = second.intake();
            // The restarted receiver knows its predecessor's batch is dead.
            let aborted = client
                .get_batch(pb::GetBatchRequest {
                    batch_id: half.id.clone(),
                })
                .await
                .unwrap()
                .into_inner()
                .batch
                .unwrap();
            assert_eq!(aborted.status, pb::BatchStatus::Aborted as i32);
            assert!(
                aborted.status_reason.starts_with("ABANDONED"),
                "{}",
                aborted.status_reason
            );
            let done = submit_to(&mut client, &bank_id, "file-v2", cases.clone()).await;
            let b = done.batch.unwrap();
            assert_eq!(
                (b.accepted_cases, b.existing_cases, b.refused_cases),
                (CRASH_ROWS as i64, 0, 0)
            );
            (second, vec![b.batch_id])
        }
        Resend::NewKeyElsewhereBeforeAndAfterTheLease => {
            let second = base.clone().start_crashable();
            let mut client = second.intake();
            // Within the lease the crashed batch may still be alive somewhere: its rows are
            // refused, naming it, not counted as cases that exist.
            let early = submit_to(&mut client, &bank_id, "file-v2", cases.clone()).await;
            let b = early.batch.unwrap();
            let held = written.len() as i64;
            assert!(
                b.refused_cases >= held,
                "{} refused, {held} held",
                b.refused_cases
            );
            assert_eq!(b.existing_cases, 0);
            assert_eq!(b.accepted_cases + b.refused_cases, CRASH_ROWS as i64);
            assert!(
                early
                    .refusals
                    .iter()
                    .all(|r| r.rule == "bank_case_ref.in_unfinished_batch"
                        && r.description.contains(&half.id))
            );
            // After the lease the crashed batch is aborted, and the refused rows come in.
            manual.advance(chrono::Duration::from_std(lease).unwrap());
            let late = submit_to(&mut client, &bank_id, "file-v3", cases.clone()).await;
            let c = late.batch.unwrap();
            assert_eq!(c.accepted_cases, b.refused_cases);
            assert_eq!(c.existing_cases, b.accepted_cases);
            assert_eq!(c.refused_cases, 0);
            (second, vec![b.batch_id, c.batch_id])
        }
        Resend::SameKeyAfterTheLease => {
            let second = base.clone().start_crashable();
            let mut client = second.intake();
            manual.advance(chrono::Duration::from_std(lease).unwrap());
            // The service resolves the abandoned batch itself once the lease lapsed, with no
            // restart and no resubmission to prompt it.
            let swept = tokio::time::timeout(Duration::from_secs(30), async {
                loop {
                    let b = client
                        .get_batch(pb::GetBatchRequest {
                            batch_id: half.id.clone(),
                        })
                        .await
                        .unwrap()
                        .into_inner()
                        .batch
                        .unwrap();
                    if b.status == pb::BatchStatus::Aborted as i32 {
                        return b;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
            .await
            .expect("the sweep aborts the abandoned batch");
            assert!(swept.status_reason.starts_with("ABANDONED"));
            let done = submit_to(&mut client, &bank_id, "file-v1", cases.clone()).await;
            assert!(!done.replayed);
            let b = done.batch.unwrap();
            assert_eq!(b.batch_id, half.id, "the same key is the same batch");
            assert_eq!((b.accepted_cases, b.existing_cases), (CRASH_ROWS as i64, 0));
            (second, vec![b.batch_id])
        }
    };
    let mut client = second.intake();
    let ids: Vec<&str> = batches.iter().map(String::as_str).collect();
    assert_whole(&mut client, &bank_id, &ids).await;
    if !matches!(resend, Resend::SameKeyAfterTheLease) {
        let old = client
            .get_batch(pb::GetBatchRequest {
                batch_id: half.id.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .batch
            .unwrap();
        assert_eq!(old.status, pb::BatchStatus::Aborted as i32);
        assert_eq!(old.accepted_cases, 0);
        assert!(
            sieve_intake::store::cases_in_rows(db.read(), &half.id, 0, i64::MAX)
                .await
                .unwrap()
                .is_empty()
        );
    }
    drop(second);
    let _ = db.close().await;
}

#[tokio::test]
async fn a_crash_mid_batch_then_a_new_key_after_the_restart_loses_nothing() {
    crash_mid_batch_then(Resend::NewKeyAfterRestart).await;
}

#[tokio::test]
async fn a_crash_mid_batch_then_a_new_key_before_and_after_the_lease_loses_nothing() {
    crash_mid_batch_then(Resend::NewKeyElsewhereBeforeAndAfterTheLease).await;
}

#[tokio::test]
async fn a_crash_mid_batch_then_the_same_key_after_the_lease_loses_nothing() {
    crash_mid_batch_then(Resend::SameKeyAfterTheLease).await;
}
