//! The court loads a year's holiday calendar (`sieve calendar load FILE`): the gateway
//! refuses a bad file itself, with its line and reason, then hands the file to every service
//! that keeps the calendar and reports what each did. A service that did not take it is
//! reported, not hidden behind the others: loading the same file again is harmless, so the
//! court loads it again once that service is back. The court lists what each holds, so a
//! service that missed a load shows.

use sieve_proto::calendar::v1::{ListCalendarsRequest, LoadCalendarRequest};
use sieve_proto::gateway::v1::{
    CalendarList, CalendarLoad, CourtApiServiceListCalendarsResponse,
    CourtApiServiceLoadCalendarResponse,
};
use tonic::Status;

use crate::forward::CalendarClient;

pub async fn load(
    services: &[(&'static str, CalendarClient)],
    request: LoadCalendarRequest,
) -> Result<CourtApiServiceLoadCalendarResponse, Status> {
    // The same check every service makes: a bad file is refused once, before any sees it.
    let year = sieve_kernel::calendar::api::check(&request.file)?;
    let loads = futures::future::join_all(services.iter().map(|(name, client)| {
        let (mut client, request) = (client.clone(), request.clone());
        async move {
            match client.load_calendar(request).await {
                Ok(answer) => {
                    let answer = answer.into_inner();
                    tracing::info!(service = name, year = year.year, changed = answer.changed, recounted = answer.recounted, moved = answer.moved_count, "calendar loaded");
                    CalendarLoad {
                        service: (*name).to_string(),
                        response: Some(answer),
                        error: String::new(),
                    }
                }
                Err(status) => {
                    tracing::warn!(service = name, year = year.year, code = ?status.code(), error = %status.message(), "a service did not take the calendar");
                    CalendarLoad {
                        service: (*name).to_string(),
                        response: None,
                        error: format!("{:?}: {}", status.code(), status.message()),
                    }
                }
            }
        }
    }))
    .await;
    Ok(CourtApiServiceLoadCalendarResponse { loads })
}

/// What every service that keeps the calendar holds; one that does not answer is reported.
pub async fn list(
    services: &[(&'static str, CalendarClient)],
    request: ListCalendarsRequest,
) -> CourtApiServiceListCalendarsResponse {
    let lists = futures::future::join_all(services.iter().map(|(name, client)| {
        let mut client = client.clone();
        async move {
            match client.list_calendars(request).await {
                Ok(answer) => CalendarList {
                    service: (*name).to_string(),
                    response: Some(answer.into_inner()),
                    error: String::new(),
                },
                Err(status) => CalendarList {
                    service: (*name).to_string(),
                    response: None,
                    error: format!("{:?}: {}", status.code(), status.message()),
                },
            }
        }
    }))
    .await;
    CourtApiServiceListCalendarsResponse { lists }
}
