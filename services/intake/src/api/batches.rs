//! Batches: submitting one (streamed or in one call), and reading it and its rows back. The
//! receiving itself is `receive`'s.

use sieve_kernel::bulk::{self, Page, Part};
use sieve_kernel::error::{Error, Result, reason};
use sieve_proto::intake::v1 as pb;
use tonic::{Request, Response, Status, Streaming};

use super::{IntakeApi, MAX_UNARY_CASES};
use crate::{convert, store};

pub(super) async fn submit_batch(
    api: &IntakeApi,
    request: Request<Streaming<pb::SubmitBatchRequest>>,
) -> Result<Response<pb::SubmitBatchResponse>, Status> {
    let (header, upload) =
        bulk::Upload::begin(request.into_inner(), &bulk::BATCH, batch_part).await?;
    let receipt = match api.open(&header).await? {
        Err(done) => {
            let refusals = api.first_refusals(&done.id).await?;
            return Ok(Response::new(pb::SubmitBatchResponse {
                batch: Some(convert::batch_pb(done)),
                refusals,
                replayed: true,
            }));
        }
        Ok(r) => r,
    };
    let batch_id = receipt.batch.id.clone();
    tracing::info!(batch = %batch_id, expected = header.expected_cases, "receiving batch");
    let chunks = upload.rows(header.expected_cases, case_row).into_stream();
    // Receive on a task of its own: if the caller goes away mid-batch, the abort still
    // runs to the end and nothing half-written stays.
    let owned = api.clone();
    let request_id = sieve_kernel::request_id::current().unwrap_or_default();
    let task = tokio::spawn(sieve_kernel::request_id::scope(request_id, async move {
        owned.receive(receipt, Box::pin(chunks)).await
    }));
    let batch = task.await.map_err(Error::internal)??;
    let refusals = api.first_refusals(&batch.id).await?;
    tracing::info!(batch = %batch.id, accepted = batch.accepted_cases, existing = batch.existing_cases, refused = batch.refused_cases, "batch received");
    Ok(Response::new(pb::SubmitBatchResponse {
        batch: Some(convert::batch_pb(batch)),
        refusals,
        replayed: false,
    }))
}

pub(super) async fn submit_cases(
    api: &IntakeApi,
    request: Request<pb::SubmitCasesRequest>,
) -> Result<Response<pb::SubmitCasesResponse>, Status> {
    let r = request.into_inner();
    if r.cases.len() > MAX_UNARY_CASES {
        return Err(Error::bad_request(
            reason::BATCH_TOO_LARGE,
            format!("SubmitCases takes at most {MAX_UNARY_CASES} cases; stream larger batches with SubmitBatch"),
        )
        .with_violation("cases", format!("{} > {MAX_UNARY_CASES}", r.cases.len()))
        .into());
    }
    let header = pb::BatchHeader {
        bank_id: r.bank_id,
        request_id: r.request_id,
        expected_cases: r.cases.len() as i64,
        label: r.label,
    };
    let (batch, replayed) = match api.open(&header).await? {
        Err(done) => (done, true),
        Ok(receipt) => {
            // Held to the stream's rules: row numbers in order, as many as declared.
            let chunks = futures::stream::iter([Ok(r.cases)]);
            let rows = bulk::Rows::new(chunks, &bulk::BATCH, header.expected_cases, case_row);
            (
                api.receive(receipt, Box::pin(rows.into_stream())).await?,
                false,
            )
        }
    };
    let rows = store::batch_rows(
        api.inner.db.read(),
        &batch.id,
        0,
        MAX_UNARY_CASES as u64,
        store::WhichRows::All,
    )
    .await
    .map_err(Error::from)?;
    let rows = rows
        .into_iter()
        .map(convert::row_pb)
        .collect::<Result<Vec<_>>>()?;
    Ok(Response::new(pb::SubmitCasesResponse {
        batch: Some(convert::batch_pb(batch)),
        rows,
        replayed,
    }))
}

pub(super) async fn get_batch(
    api: &IntakeApi,
    request: Request<pb::GetBatchRequest>,
) -> Result<Response<pb::GetBatchResponse>, Status> {
    let id = &request.get_ref().batch_id;
    sieve_kernel::wire::require_id("batch_id", id)?;
    let batch = store::get_batch(api.inner.db.read(), id)
        .await
        .map_err(Error::from)?
        .ok_or_else(|| Error::not_found("batch", id))?;
    Ok(Response::new(pb::GetBatchResponse {
        batch: Some(convert::batch_pb(batch)),
    }))
}

pub(super) async fn list_batch_rows(
    api: &IntakeApi,
    request: Request<pb::ListBatchRowsRequest>,
) -> Result<Response<pb::ListBatchRowsResponse>, Status> {
    let r = request.into_inner();
    sieve_kernel::wire::require_id("batch_id", &r.batch_id)?;
    let page = Page::of(r.page.as_ref())?;
    let after = page.after_row()?;
    let batch = store::get_batch(api.inner.db.read(), &r.batch_id)
        .await
        .map_err(Error::from)?
        .ok_or_else(|| Error::not_found("batch", &r.batch_id))?;
    // Rows of a batch still being received name cases that do not exist yet; an aborted
    // batch kept none.
    if batch.status != store::BatchStatus::Completed {
        let status = sea_orm::ActiveEnum::to_value(&batch.status);
        return Err(Error::precondition(
            reason::BATCH_NOT_COMPLETED,
            format!(
                "batch {} is {}: its rows are listed once it completes",
                batch.id,
                status.to_lowercase()
            ),
        )
        .with_meta("status", status)
        .into());
    }
    let which = which_rows(r.refused_only, r.outcome)?;
    let rows = store::batch_rows(api.inner.db.read(), &r.batch_id, after, page.size, which)
        .await
        .map_err(Error::from)?;
    let next = page.next_token(&rows, |r| match r {
        store::RowRecord::Accepted { row, .. } => *row,
        store::RowRecord::Other(m) => m.row,
    });
    let rows = rows
        .into_iter()
        .map(convert::row_pb)
        .collect::<Result<Vec<_>>>()?;
    Ok(Response::new(pb::ListBatchRowsResponse {
        rows,
        next_page_token: next,
    }))
}

/// The rows a `ListBatchRows` asks for: `refused_only` is the older way to say REFUSED.
fn which_rows(refused_only: bool, outcome: i32) -> Result<store::WhichRows> {
    use store::{RowOutcome, WhichRows};
    let named = match pb::RowOutcome::try_from(outcome) {
        Ok(pb::RowOutcome::Unspecified) => None,
        Ok(pb::RowOutcome::Accepted) => Some(WhichRows::Accepted),
        Ok(pb::RowOutcome::Existing) => Some(WhichRows::Of(RowOutcome::Existing)),
        Ok(pb::RowOutcome::Refused) => Some(WhichRows::Of(RowOutcome::Refused)),
        Err(_) => {
            return Err(Error::invalid_field(
                "outcome",
                format!("unknown value {outcome}: not a row outcome"),
            ));
        }
    };
    let refused = WhichRows::Of(RowOutcome::Refused);
    match (refused_only, named) {
        (false, named) => Ok(named.unwrap_or(WhichRows::All)),
        (true, None) => Ok(refused),
        (true, Some(w)) if w == refused => Ok(refused),
        (true, Some(_)) => Err(Error::invalid_field(
            "outcome",
            "refused_only asks for the refused rows; another outcome contradicts it",
        )),
    }
}

/// What a message of `SubmitBatch` holds.
fn batch_part(m: pb::SubmitBatchRequest) -> Part<pb::BatchHeader, pb::CaseInput> {
    use pb::submit_batch_request::Item;
    match m.item {
        Some(Item::Header(h)) => Part::Header(h),
        Some(Item::Chunk(c)) => Part::Rows(c.cases),
        None => Part::Neither,
    }
}

fn case_row(c: &pb::CaseInput) -> i64 {
    c.row
}
