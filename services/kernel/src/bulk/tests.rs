use futures::StreamExt;
use tonic::{Code, Status};
use tonic_types::StatusExt;

use super::lease::{Found, decide};
use super::*;
use crate::error::{Error, ErrorCode, reason};

/// A message of a test upload: a header declaring a count, rows by the number they name (0 for
/// none), or neither.
#[derive(Debug, Clone)]
enum Msg {
    Header(i64),
    Chunk(Vec<i64>),
    Empty,
}

fn split(m: Msg) -> Part<i64, i64> {
    match m {
        Msg::Header(declared) => Part::Header(declared),
        Msg::Chunk(rows) => Part::Rows(rows),
        Msg::Empty => Part::Neither,
    }
}

fn row(r: &i64) -> i64 {
    *r
}

type Messages = futures::stream::Iter<std::vec::IntoIter<Result<Msg, Status>>>;

fn messages(ms: Vec<Result<Msg, Status>>) -> Messages {
    futures::stream::iter(ms)
}

/// Reads a whole upload of `kind`: the row numbers it took, or the refusal.
async fn read(kind: &'static Kind, ms: Vec<Result<Msg, Status>>) -> Result<Vec<i64>, Error> {
    let (declared, upload) = Upload::begin(messages(ms), kind, split).await?;
    let mut rows = upload.rows(declared, row);
    let mut numbers = Vec::new();
    while let Some(chunk) = rows.next().await? {
        numbers.extend(chunk.into_iter().map(|(n, _)| n));
    }
    rows.finish()?;
    Ok(numbers)
}

fn ok(m: Msg) -> Result<Msg, Status> {
    Ok(m)
}

fn violations(e: &Error) -> Vec<(&str, &str)> {
    e.violations
        .iter()
        .map(|v| (v.field.as_str(), v.description.as_str()))
        .collect()
}

#[tokio::test]
async fn rows_are_numbered_in_order_and_counted() {
    let got = read(
        &BATCH,
        vec![
            ok(Msg::Header(5)),
            ok(Msg::Chunk(vec![0, 0])),
            ok(Msg::Chunk(vec![])),
            ok(Msg::Chunk(vec![7, 0, 9])),
        ],
    )
    .await
    .expect("read");
    assert_eq!(got, vec![1, 2, 7, 8, 9]);
}

#[tokio::test]
async fn the_header_comes_first() {
    let e = read(&BATCH, vec![ok(Msg::Chunk(vec![1])), ok(Msg::Header(1))])
        .await
        .unwrap_err();
    assert_eq!(
        (e.code, e.reason),
        (ErrorCode::BadRequest, reason::HEADER_FIRST)
    );
    assert_eq!(e.message, "the first message of a batch must be its header");
    assert_eq!(violations(&e), vec![("item", "expected header")]);
    // A message with nothing set is no header either.
    let e = read(&IMPORT, vec![ok(Msg::Empty)]).await.unwrap_err();
    assert_eq!(e.reason, reason::HEADER_FIRST);
    assert_eq!(
        e.message,
        "the first message of an import must be its header"
    );
    // The gateway's door names the field as its wrapped message has it.
    const DOOR: Kind = Kind {
        item_field: "request.item",
        ..BATCH
    };
    let e = stream::header(Some(Part::<i64, i64>::Neither), &DOOR).unwrap_err();
    assert_eq!(violations(&e), vec![("request.item", "expected header")]);
}

#[tokio::test]
async fn a_stream_without_a_header_is_empty() {
    let e = read(&BATCH, vec![]).await.unwrap_err();
    assert_eq!(e.reason, reason::BATCH_EMPTY);
    assert_eq!(e.message, "the stream ended before the batch header");
    let e = read(&IMPORT, vec![]).await.unwrap_err();
    assert_eq!(e.reason, reason::IMPORT_EMPTY);
    assert_eq!(e.message, "the stream ended before the import header");
}

#[tokio::test]
async fn a_second_header_is_refused() {
    let twice = || {
        vec![
            ok(Msg::Header(2)),
            ok(Msg::Chunk(vec![1])),
            ok(Msg::Header(2)),
        ]
    };
    let e = read(&BATCH, twice()).await.unwrap_err();
    assert_eq!(e.reason, reason::HEADER_TWICE);
    assert_eq!(e.message, "a batch has one header, first");
    assert_eq!(violations(&e), vec![("item", "expected a chunk of cases")]);
    let e = read(&IMPORT, twice()).await.unwrap_err();
    assert_eq!(e.reason, reason::HEADER_TWICE);
    assert_eq!(e.message, "an import has one header, first");
    assert!(e.violations.is_empty());
    // After the header, a message with nothing set is refused the same way.
    let e = read(&BATCH, vec![ok(Msg::Header(1)), ok(Msg::Empty)])
        .await
        .unwrap_err();
    assert_eq!(e.reason, reason::HEADER_TWICE);
}

#[tokio::test]
async fn fewer_rows_than_declared_are_refused_at_the_end() {
    let short = || vec![ok(Msg::Header(3)), ok(Msg::Chunk(vec![0, 0]))];
    let e = read(&BATCH, short()).await.unwrap_err();
    assert_eq!(e.reason, reason::BATCH_SHORTER_THAN_DECLARED);
    assert_eq!(
        e.message,
        "the header declared 3 cases but only 2 arrived; nothing was kept"
    );
    let e = read(&IMPORT, short()).await.unwrap_err();
    assert_eq!(e.reason, reason::IMPORT_SHORTER_THAN_DECLARED);
    assert_eq!(e.message, "the header declared 3 rulings but 2 arrived");

    // The chunks that came are read before the shortfall is known.
    let (declared, upload) = Upload::begin(messages(short()), &IMPORT, split)
        .await
        .unwrap();
    let mut rows = upload.rows(declared, row);
    assert_eq!(rows.next().await.unwrap().map(|c| c.len()), Some(2));
    assert!(rows.next().await.unwrap().is_none());
    assert_eq!(rows.received(), 2);
    assert_eq!(
        rows.finish().unwrap_err().reason,
        reason::IMPORT_SHORTER_THAN_DECLARED
    );
}

#[tokio::test]
async fn more_rows_than_declared_are_refused_at_the_first_extra_one() {
    let over = || {
        vec![
            ok(Msg::Header(2)),
            ok(Msg::Chunk(vec![0])),
            ok(Msg::Chunk(vec![0, 0, 0])),
        ]
    };
    let e = read(&BATCH, over()).await.unwrap_err();
    assert_eq!(e.reason, reason::BATCH_LONGER_THAN_DECLARED);
    assert_eq!(e.message, "the header declared 2 cases but more arrived");
    assert_eq!(
        violations(&e),
        vec![("cases[3]", "beyond the declared count")]
    );
    let e = read(&IMPORT, over()).await.unwrap_err();
    assert_eq!(e.reason, reason::IMPORT_LONGER_THAN_DECLARED);
    assert_eq!(e.message, "the header declared 2 rulings but more arrived");
    assert!(e.violations.is_empty());
}

#[tokio::test]
async fn row_numbers_must_increase() {
    let back = || vec![ok(Msg::Header(3)), ok(Msg::Chunk(vec![4, 0, 5]))];
    let e = read(&BATCH, back()).await.unwrap_err();
    assert_eq!(e.reason, reason::ROWS_OUT_OF_ORDER);
    assert_eq!(e.message, "row 5 follows row 5; row numbers must increase");
    assert_eq!(
        violations(&e),
        vec![("cases[3].row", "must be greater than the previous row")]
    );
    let e = read(&IMPORT, back()).await.unwrap_err();
    assert_eq!(e.reason, reason::ROWS_OUT_OF_ORDER);
    assert_eq!(e.message, "row 5 follows row 5");
    // Across chunks too, and a repeated number is out of order.
    let e = read(
        &BATCH,
        vec![
            ok(Msg::Header(2)),
            ok(Msg::Chunk(vec![9])),
            ok(Msg::Chunk(vec![3])),
        ],
    )
    .await
    .unwrap_err();
    assert_eq!(e.message, "row 3 follows row 9; row numbers must increase");
    // After the largest number there is no next one: refused, not a panic.
    let mut tally = Tally::new(&BATCH, 2);
    assert_eq!(tally.next(i64::MAX).unwrap(), i64::MAX);
    assert_eq!(tally.next(0).unwrap_err().reason, reason::ROWS_OUT_OF_ORDER);
}

#[tokio::test]
async fn a_broken_stream_says_what_was_kept() {
    let broken = || Err(Status::internal("failed to decode Protobuf message"));
    let e = read(&BATCH, vec![broken()]).await.unwrap_err();
    assert_eq!(e.reason, reason::MALFORMED_MESSAGE);
    assert!(e.message.ends_with("nothing was kept"), "{}", e.message);
    let e = read(&IMPORT, vec![ok(Msg::Header(2)), broken()])
        .await
        .unwrap_err();
    assert_eq!(e.reason, reason::MALFORMED_MESSAGE);
    assert!(
        e.message
            .ends_with("rulings of earlier chunks stay imported"),
        "{}",
        e.message
    );
    let cancelled = Err(Status::cancelled("gone"));
    let e = read(&BATCH, vec![ok(Msg::Header(2)), cancelled])
        .await
        .unwrap_err();
    assert_eq!(e.reason, reason::STREAM_CANCELLED);
}

#[tokio::test]
async fn as_a_stream_the_shortfall_is_the_last_item() {
    let chunks = futures::stream::iter([Ok(vec![0i64, 0])]);
    let items: Vec<_> = Rows::new(chunks, &BATCH, 3, row)
        .into_stream()
        .collect()
        .await;
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].as_ref().unwrap(), &vec![(1, 0), (2, 0)]);
    let e = items[1].as_ref().unwrap_err();
    assert_eq!(e.reason, reason::BATCH_SHORTER_THAN_DECLARED);

    // Complete: the chunks and nothing else. An error ends the stream.
    let complete: Vec<_> = Rows::new(futures::stream::iter([Ok(vec![0i64])]), &BATCH, 1, row)
        .into_stream()
        .collect()
        .await;
    assert_eq!(complete.len(), 1);
    assert!(complete[0].is_ok());
    let broken: Vec<_> = Rows::new(
        futures::stream::iter([Ok(vec![2i64, 1]), Ok(vec![3])]),
        &BATCH,
        3,
        row,
    )
    .into_stream()
    .collect()
    .await;
    assert_eq!(broken.len(), 1);
    assert_eq!(
        broken[0].as_ref().unwrap_err().reason,
        reason::ROWS_OUT_OF_ORDER
    );
}

#[test]
fn refusals_become_invalid_argument_with_their_reason() {
    let status: Status = BATCH.header_twice().into();
    assert_eq!(status.code(), Code::InvalidArgument);
    let details = status.get_error_details();
    assert_eq!(
        details.error_info().map(|i| i.reason.as_str()),
        Some(reason::HEADER_TWICE)
    );
    assert_eq!(
        details
            .bad_request()
            .map(|b| b.field_violations[0].field.as_str()),
        Some("item")
    );
}

#[test]
fn an_earlier_upload_is_answered_refused_or_taken_over() {
    let now = 1_000;
    assert_eq!(decide(Standing::Completed, now), Found::Completed);
    let held = Standing::Receiving {
        lease_until_ms: now + 1,
    };
    assert_eq!(decide(held, now), Found::Held);
    // A lease that ends now has lapsed.
    let lapsed = Standing::Receiving {
        lease_until_ms: now,
    };
    assert_eq!(decide(lapsed, now), Found::Free);
    assert_eq!(decide(Standing::Aborted, now), Found::Free);
    // As stored.
    assert_eq!(
        Standing::of(UploadStatus::Receiving, 5),
        Standing::Receiving { lease_until_ms: 5 }
    );
    assert_eq!(
        Standing::of(UploadStatus::Completed, 5),
        Standing::Completed
    );
    assert_eq!(Standing::of(UploadStatus::Aborted, 5), Standing::Aborted);
    // Stored as the words written before the column was typed; any other word is corrupt
    // (an error when read), no longer taken over as aborted.
    use sea_orm::ActiveEnum;
    let words: Vec<String> = UploadStatus::values();
    assert_eq!(words, ["RECEIVING", "COMPLETED", "ABORTED"]);
    assert!(UploadStatus::try_from_value(&String::new()).is_err());
    assert_eq!(
        Lease::new(now, 30_000),
        Lease {
            now_ms: now,
            until_ms: 31_000
        }
    );
    assert_eq!(Lease::new(i64::MAX - 1, 30_000).until_ms, i64::MAX);
}

fn request(size: i32, token: &str) -> sieve_proto::common::v1::PageRequest {
    sieve_proto::common::v1::PageRequest {
        page_size: size,
        page_token: token.into(),
    }
}

#[test]
fn page_sizes_default_cap_and_refuse_negatives() {
    assert_eq!(Page::of(None).unwrap().size, page::DEFAULT_SIZE as u64);
    assert_eq!(
        Page::of(Some(&request(0, ""))).unwrap().size,
        page::DEFAULT_SIZE as u64
    );
    assert_eq!(Page::of(Some(&request(7, ""))).unwrap().size, 7);
    assert_eq!(
        Page::of(Some(&request(1_000_000, ""))).unwrap().size,
        page::MAX_SIZE as u64
    );
    let e = Page::of(Some(&request(-1, ""))).unwrap_err();
    assert_eq!(e.reason, reason::INVALID_FIELD);
    assert_eq!(
        violations(&e),
        vec![("page.page_size", "must not be negative")]
    );
}

#[test]
fn row_tokens_are_numbers_this_call_returned() {
    assert_eq!(Page::of(None).unwrap().after_row().unwrap(), 0);
    let page = Page::of(Some(&request(2, "41"))).unwrap();
    assert_eq!(page.token, "41");
    assert_eq!(page.after_row().unwrap(), 41);
    let e = Page::of(Some(&request(2, "abc")))
        .unwrap()
        .after_row()
        .unwrap_err();
    assert_eq!(
        violations(&e),
        vec![("page.page_token", "not a token this call returned")]
    );
}

#[test]
fn the_next_token_is_the_last_key_of_a_full_page() {
    let page = Page::of(Some(&request(2, ""))).unwrap();
    assert_eq!(page.next_token(&[3, 5], |r| *r), "5");
    assert_eq!(page.next_token(&[3], |r| *r), "");
    assert_eq!(page.next_token::<i64, i64>(&[], |r| *r), "");
    let ids = ["a".to_string(), "b".to_string()];
    assert_eq!(page.next_token(&ids, |s| s.clone()), "b");
}
