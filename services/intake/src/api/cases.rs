//! Cases: one by id, a page of them, and a case's timeline.

use sieve_kernel::bulk::Page;
use sieve_kernel::error::Error;
use sieve_proto::intake::v1 as pb;
use tonic::{Request, Response, Status};

use super::IntakeApi;
use crate::{convert, store};

pub(super) async fn get_case(
    api: &IntakeApi,
    request: Request<pb::GetCaseRequest>,
) -> Result<Response<pb::GetCaseResponse>, Status> {
    let id = &request.get_ref().case_id;
    sieve_kernel::wire::require_id("case_id", id)?;
    let case = api
        .inner
        .cases
        .get(id)
        .await
        .map_err(Error::from)?
        .ok_or_else(|| Error::not_found("case", id))?;
    Ok(Response::new(pb::GetCaseResponse {
        case: Some(convert::case_pb(case)),
    }))
}

pub(super) async fn batch_get_cases(
    api: &IntakeApi,
    request: Request<pb::BatchGetCasesRequest>,
) -> Result<Response<pb::BatchGetCasesResponse>, Status> {
    let ids = &request.get_ref().case_ids;
    sieve_kernel::wire::require_case_ids(ids)?;
    let cases = api.inner.cases.get_many(ids).await.map_err(Error::from)?;
    Ok(Response::new(pb::BatchGetCasesResponse {
        cases: cases.into_iter().map(convert::case_pb).collect(),
    }))
}

pub(super) async fn list_cases(
    api: &IntakeApi,
    request: Request<pb::ListCasesRequest>,
) -> Result<Response<pb::ListCasesResponse>, Status> {
    let r = request.into_inner();
    let page = Page::of(r.page.as_ref())?;
    let stage = if r.stage == 0 {
        None
    } else {
        Some(convert::require_stage("stage", r.stage)?)
    };
    let filter = store::CaseFilter {
        bank_id: Some(r.bank_id).filter(|s| !s.is_empty()),
        stage,
        batch_id: Some(r.batch_id).filter(|s| !s.is_empty()),
    };
    let cases = store::list_cases(api.inner.db.read(), &filter, &page.token, page.size)
        .await
        .map_err(Error::from)?;
    let next = page.next_token(&cases, |c| c.id.clone());
    Ok(Response::new(pb::ListCasesResponse {
        cases: cases.into_iter().map(convert::case_pb).collect(),
        next_page_token: next,
    }))
}

pub(super) async fn get_timeline(
    api: &IntakeApi,
    request: Request<pb::GetTimelineRequest>,
) -> Result<Response<pb::GetTimelineResponse>, Status> {
    let id = &request.get_ref().case_id;
    sieve_kernel::wire::require_id("case_id", id)?;
    let case = store::get_case(api.inner.db.read(), id)
        .await
        .map_err(Error::from)?
        .ok_or_else(|| Error::not_found("case", id))?;
    let mut events = vec![convert::admission_event(&case)];
    events.extend(
        store::events(api.inner.db.read(), id)
            .await
            .map_err(Error::from)?
            .into_iter()
            .map(convert::event_pb),
    );
    Ok(Response::new(pb::GetTimelineResponse { events }))
}
