//! Batches: screening every row, resubmissions, rows that differ, and bad or broken streams.

use super::*;

#[tokio::test]
async fn a_10000_case_batch_refuses_exactly_its_100_invalid_rows() {
    let mut app = spawn_app().await;
    let bank = register_bank(&mut app, "JYRCB").await;
    let mut cases: Vec<pb::CaseInput> = (0..10_000).map(valid_case).collect();
    let mut bad_rows = Vec::new();
    for k in 0..100 {
        let i = k * 97 + 13; // spread through the batch
        let row = i + 1;
        bad_rows.push(row as i64);
        let debtor = cases[i].debtor.as_mut().unwrap();
        match k % 4 {
            0 => debtor.id_number.replace_range(
                17..18,
                if debtor.id_number.ends_with('0') {
                    "1"
                } else {
                    "0"
                },
            ),
            1 => debtor.phone = "1391234567".into(),
            2 => cases[i].claim.as_mut().unwrap().principal_fen = -5,
            _ => debtor.division_code = "110105".into(),
        }
    }
    let res = submit(&mut app, &bank, "batch-1", cases).await.unwrap();
    let batch = res.batch.unwrap();
    assert_eq!(batch.status, pb::BatchStatus::Completed as i32);
    assert_eq!(batch.received_cases, 10_000);
    assert_eq!(batch.accepted_cases, 9_900);
    assert_eq!(batch.refused_cases, 100);
    let mut refused_rows: Vec<i64> = res.refusals.iter().map(|r| r.row).collect();
    refused_rows.dedup();
    assert_eq!(refused_rows, bad_rows);
    for r in &res.refusals {
        assert!(
            !r.field.is_empty() && !r.rule.is_empty() && !r.description.is_empty(),
            "{r:?}"
        );
    }
    let rows = all_rows(&mut app, &batch.batch_id, false).await;
    assert_eq!(rows.len(), 10_000);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row.row, i as i64 + 1);
        let refused = bad_rows.contains(&row.row);
        assert_eq!(
            row.outcome == pb::RowOutcome::Refused as i32,
            refused,
            "row {}",
            row.row
        );
        assert_eq!(row.case_id.is_empty(), refused);
    }
    assert_eq!(count_cases(&mut app, &bank).await, 9_900);
    let first = &rows[0];
    let case = case(&mut app, &first.case_id).await;
    assert_eq!(
        case.stage,
        Stage::BadDebtCheck as i32,
        "admitted cases enter the bad-debt pre-check"
    );
    assert_eq!(case.claim.unwrap().total_fen, 1_001_000);
    app.stop().await;
}

#[tokio::test]
async fn resubmission_returns_the_same_case_ids() {
    let mut app = spawn_app().await;
    let bank = register_bank(&mut app, "JYRCB").await;
    let cases: Vec<pb::CaseInput> = (0..1200).map(valid_case).collect();
    let first = submit(&mut app, &bank, "same-key", cases.clone())
        .await
        .unwrap();
    let first_batch = first.batch.unwrap();
    let first_rows = all_rows(&mut app, &first_batch.batch_id, false).await;

    // The same key: the first result again, nothing new stored.
    let replay = submit(&mut app, &bank, "same-key", cases.clone())
        .await
        .unwrap();
    assert!(replay.replayed);
    assert_eq!(replay.batch.unwrap().batch_id, first_batch.batch_id);

    // Another key, the same bank references: the existing cases, never second ones.
    let again = submit(&mut app, &bank, "other-key", cases).await.unwrap();
    let again_batch = again.batch.unwrap();
    assert_ne!(again_batch.batch_id, first_batch.batch_id);
    assert_eq!(again_batch.accepted_cases, 0);
    assert_eq!(again_batch.existing_cases, 1200);
    let again_rows = all_rows(&mut app, &again_batch.batch_id, false).await;
    assert_eq!(again_rows.len(), 1200);
    for (a, b) in first_rows.iter().zip(&again_rows) {
        assert_eq!(b.outcome, pb::RowOutcome::Existing as i32);
        assert_eq!(a.case_id, b.case_id);
    }
    assert_eq!(count_cases(&mut app, &bank).await, 1200);

    // The unary form answers row by row, with the same ids.
    let unary = app
        .client
        .submit_cases(pb::SubmitCasesRequest {
            bank_id: bank.clone(),
            request_id: "unary".into(),
            cases: vec![valid_case(0), valid_case(5000)],
            label: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(unary.rows[0].case_id, first_rows[0].case_id);
    assert_eq!(unary.rows[0].outcome, pb::RowOutcome::Existing as i32);
    assert_eq!(unary.rows[1].outcome, pb::RowOutcome::Accepted as i32);
    app.stop().await;
}

#[tokio::test]
async fn a_reference_sent_again_with_other_content_names_the_fields_that_differ() {
    let mut app = spawn_app().await;
    let bank = register_bank(&mut app, "JYRCB").await;
    let cases: Vec<pb::CaseInput> = (0..3).map(valid_case).collect();
    let first = submit(&mut app, &bank, "first", cases.clone())
        .await
        .unwrap();
    let first_rows = all_rows(&mut app, &first.batch.unwrap().batch_id, false).await;
    assert!(first_rows.iter().all(|r| r.differing_fields.is_empty()));

    // The same content under another key: the existing cases, nothing differs.
    let same = submit(&mut app, &bank, "same-content", cases.clone())
        .await
        .unwrap();
    let same_rows = all_rows(&mut app, &same.batch.unwrap().batch_id, false).await;
    assert_eq!(same_rows.len(), 3);
    for (a, b) in first_rows.iter().zip(&same_rows) {
        assert_eq!(b.outcome, pb::RowOutcome::Existing as i32);
        assert_eq!(a.case_id, b.case_id);
        assert!(b.differing_fields.is_empty(), "{b:?}");
    }

    // Another name and principal in row 2; padding in row 3, which screening trims as it
    // trimmed the stored case's.
    let mut changed = cases.clone();
    if let Some(debtor) = changed[1].debtor.as_mut() {
        debtor.name = "王芳芳".into();
    }
    if let Some(claim) = changed[1].claim.as_mut() {
        claim.principal_fen += 100;
    }
    if let Some(debtor) = changed[2].debtor.as_mut() {
        debtor.name = format!(" {} ", debtor.name);
    }
    let answer = submit(&mut app, &bank, "changed-content", changed)
        .await
        .unwrap();
    let batch = answer.batch.unwrap();
    assert_eq!((batch.accepted_cases, batch.existing_cases), (0, 3));
    let rows = all_rows(&mut app, &batch.batch_id, false).await;
    let differing: Vec<Vec<&str>> = rows
        .iter()
        .map(|r| r.differing_fields.iter().map(String::as_str).collect())
        .collect();
    assert_eq!(
        differing,
        [vec![], vec!["debtor.name", "claim.principal_fen"], vec![]]
    );
    for (a, b) in first_rows.iter().zip(&rows) {
        assert_eq!(b.outcome, pb::RowOutcome::Existing as i32);
        assert_eq!(a.case_id, b.case_id);
    }
    // The stored case stands as it was first sent.
    let case = case(&mut app, &rows[1].case_id).await;
    assert_eq!(case.debtor.unwrap().name, "王芳");
    assert_eq!(case.claim.unwrap().principal_fen, 1_000_001);

    // The unary form says so as well.
    let mut one = valid_case(0);
    one.contract_names_court = true;
    let unary = app
        .client
        .submit_cases(pb::SubmitCasesRequest {
            bank_id: bank.clone(),
            request_id: "unary-changed".into(),
            cases: vec![one],
            label: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(unary.rows[0].outcome, pb::RowOutcome::Existing as i32);
    assert_eq!(unary.rows[0].differing_fields, ["contract_names_court"]);
    app.stop().await;
}

/// The rows of one outcome, as a bank's system lists them.
async fn rows_with(
    app: &mut TestApp,
    batch_id: &str,
    outcome: pb::RowOutcome,
) -> Vec<pb::BatchRow> {
    app.client
        .list_batch_rows(pb::ListBatchRowsRequest {
            batch_id: batch_id.into(),
            outcome: outcome as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .rows
}

#[tokio::test]
async fn existing_rows_are_listed_on_their_own_with_the_fields_that_differ() {
    let mut app = spawn_app().await;
    let bank = register_bank(&mut app, "JYRCB").await;
    submit(&mut app, &bank, "first", (0..2).map(valid_case).collect())
        .await
        .unwrap();
    // Row 1 corrects the principal of a stored case, row 2 repeats one, row 3 is new, row 4
    // is refused.
    let mut later: Vec<pb::CaseInput> = vec![valid_case(0), valid_case(1), valid_case(7)];
    if let Some(claim) = later[0].claim.as_mut() {
        claim.principal_fen += 100;
    }
    let mut bad = valid_case(8);
    if let Some(debtor) = bad.debtor.as_mut() {
        debtor.phone = "1391234567".into();
    }
    later.push(bad);
    let batch = submit(&mut app, &bank, "later", later)
        .await
        .unwrap()
        .batch
        .unwrap();
    assert_eq!(
        (
            batch.accepted_cases,
            batch.existing_cases,
            batch.refused_cases
        ),
        (1, 2, 1)
    );

    let existing = rows_with(&mut app, &batch.batch_id, pb::RowOutcome::Existing).await;
    let listed: Vec<(i64, Vec<&str>)> = existing
        .iter()
        .map(|r| {
            (
                r.row,
                r.differing_fields.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(listed, [(1, vec!["claim.principal_fen"]), (2, vec![])]);
    assert!(existing.iter().all(|r| !r.case_id.is_empty()));
    let accepted = rows_with(&mut app, &batch.batch_id, pb::RowOutcome::Accepted).await;
    assert_eq!(accepted.iter().map(|r| r.row).collect::<Vec<_>>(), [3]);
    let refused = rows_with(&mut app, &batch.batch_id, pb::RowOutcome::Refused).await;
    assert_eq!(refused.iter().map(|r| r.row).collect::<Vec<_>>(), [4]);
    assert_eq!(all_rows(&mut app, &batch.batch_id, true).await, refused);
    assert_eq!(all_rows(&mut app, &batch.batch_id, false).await.len(), 4);

    // refused_only and another outcome contradict each other.
    let status = app
        .client
        .list_batch_rows(pb::ListBatchRowsRequest {
            batch_id: batch.batch_id.clone(),
            refused_only: true,
            outcome: pb::RowOutcome::Existing as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    app.stop().await;
}

#[tokio::test]
async fn the_same_reference_twice_in_one_batch_refuses_the_second() {
    let mut app = spawn_app().await;
    let bank = register_bank(&mut app, "JYRCB").await;
    let mut cases = vec![valid_case(1), valid_case(2), valid_case(3)];
    cases[2].bank_case_ref = cases[0].bank_case_ref.clone();
    let res = submit(&mut app, &bank, "dup", cases).await.unwrap();
    assert_eq!(res.batch.unwrap().accepted_cases, 2);
    assert_eq!(res.refusals.len(), 1);
    assert_eq!(res.refusals[0].row, 3);
    assert_eq!(res.refusals[0].rule, "bank_case_ref.duplicate_in_batch");
    app.stop().await;
}

#[tokio::test]
async fn bad_batches_get_precise_errors_and_leave_nothing() {
    let mut app = spawn_app().await;
    let bank = register_bank(&mut app, "JYRCB").await;

    // Empty batch.
    let err = submit(&mut app, &bank, "empty", vec![]).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        err.get_error_details().error_info().unwrap().reason,
        reason::BATCH_EMPTY
    );

    // Over the limit: refused before anything is stored.
    let msgs = vec![header(&bank, "huge", 1_000_001)];
    let err = app
        .client
        .submit_batch(tokio_stream::iter(msgs))
        .await
        .unwrap_err();
    assert_eq!(
        err.get_error_details().error_info().unwrap().reason,
        reason::BATCH_TOO_LARGE
    );
    assert_eq!(
        err.get_error_details()
            .bad_request()
            .unwrap()
            .field_violations[0]
            .field,
        "header.expected_cases"
    );

    // Shorter than declared: aborted after chunks were written, and nothing stays.
    let mut msgs = vec![header(&bank, "short", 3000)];
    msgs.extend(chunks((0..2500).map(valid_case).collect(), 500));
    let err = app
        .client
        .submit_batch(tokio_stream::iter(msgs))
        .await
        .unwrap_err();
    assert_eq!(
        err.get_error_details().error_info().unwrap().reason,
        reason::BATCH_SHORTER_THAN_DECLARED
    );
    assert_eq!(count_cases(&mut app, &bank).await, 0);

    // Longer than declared.
    let mut msgs = vec![header(&bank, "long", 2000)];
    msgs.extend(chunks((0..2001).map(valid_case).collect(), 500));
    let err = app
        .client
        .submit_batch(tokio_stream::iter(msgs))
        .await
        .unwrap_err();
    assert_eq!(
        err.get_error_details().error_info().unwrap().reason,
        reason::BATCH_LONGER_THAN_DECLARED
    );
    assert_eq!(count_cases(&mut app, &bank).await, 0);

    // Chunk before header.
    let err = app
        .client
        .submit_batch(tokio_stream::iter(chunks(vec![valid_case(1)], 1)))
        .await
        .unwrap_err();
    assert_eq!(
        err.get_error_details().error_info().unwrap().reason,
        reason::HEADER_FIRST
    );

    // Unknown bank.
    let err = submit(&mut app, "no-such-bank", "x", vec![valid_case(1)])
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    // A 10 MB name and a negative amount: those rows are refused, field by field.
    let mut cases: Vec<pb::CaseInput> = (0..3).map(valid_case).collect();
    cases[1].debtor.as_mut().unwrap().name = "名".repeat(10 * 1024 * 1024 / 3);
    cases[2].claim.as_mut().unwrap().interest_fen = -1;
    let res = submit(&mut app, &bank, "rows", cases).await.unwrap();
    assert_eq!(res.batch.unwrap().accepted_cases, 1);
    let fields: Vec<(i64, &str, &str)> = res
        .refusals
        .iter()
        .map(|r| (r.row, r.field.as_str(), r.rule.as_str()))
        .collect();
    assert_eq!(
        fields,
        vec![
            (2, "debtor.name", "max_length"),
            (3, "claim.interest_fen", "amount.negative")
        ]
    );
    assert!(
        res.refusals[0].description.len() < 1000,
        "the 10 MB value is not echoed"
    );

    // A retried aborted batch starts over cleanly.
    let ok = submit(
        &mut app,
        &bank,
        "short",
        (0..3000).map(valid_case).collect(),
    )
    .await
    .unwrap();
    assert_eq!(ok.batch.unwrap().accepted_cases, 3000 - 1);
    assert_eq!(count_cases(&mut app, &bank).await, 3000);
    app.stop().await;
}

#[tokio::test]
async fn a_malformed_message_mid_stream_aborts_the_batch() {
    use sieve_e2e::raw::RawCodec;

    let mut app = spawn_app().await;
    let bank = register_bank(&mut app, "JYRCB").await;
    use prost::Message;
    let mut msgs: Vec<Vec<u8>> = vec![header(&bank, "garbage", 1001).encode_to_vec()];
    msgs.extend(
        chunks((0..1000).map(valid_case).collect(), 1000)
            .into_iter()
            .map(|m| m.encode_to_vec()),
    );
    msgs.push(vec![0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]); // a length running past the end
    let channel = sieve_kernel::internal::testing::channel(&format!("http://{}", app.addr));
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let path = http::uri::PathAndQuery::from_static("/sieve.intake.v1.IntakeService/SubmitBatch");
    let err = grpc
        .client_streaming(
            tonic::Request::new(tokio_stream::iter(msgs)),
            path,
            RawCodec::<pb::SubmitBatchResponse>::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert_eq!(
        err.get_error_details().error_info().unwrap().reason,
        reason::MALFORMED_MESSAGE
    );
    assert_eq!(
        count_cases(&mut app, &bank).await,
        0,
        "nothing half-written"
    );
    // Its first 1,000 cases were written before the stream broke; none was announced to the
    // pre-check, which hears of a batch only once it completes.
    let settings = sieve_kernel::internal::testing::settings();
    let db = sieve_kernel::db::connect(&app.target, &settings.database)
        .await
        .unwrap();
    assert_eq!(sieve_kernel::outbox::pending(db.read()).await.unwrap(), 0);
    app.stop().await;
}
