//! The calendar service every service that counts periods serves over its own store
//! (`sieve.calendar.v1.CalendarService`): the court loads a year, the service counts its
//! running deadlines again. Add it with
//! `.add_service(CalendarApi::new(db, clock).server())` and include
//! [`super::stored::migration::Migration`] and the deadline migration in the migrator.

use sieve_proto::calendar::v1 as pb;
use sieve_proto::calendar::v1::calendar_service_server::{CalendarService, CalendarServiceServer};
use tonic::{Request, Response, Status};

use super::CalendarError;
use super::stored::{self, LoadError, Year};
use crate::clock::SharedClock;
use crate::deadline::Moved;
use crate::error::{Error, reason};

/// The largest calendar file taken: a year's notice is 2 KB.
pub const MAX_FILE_BYTES: usize = 64 << 10;

/// Moved deadlines listed in one answer; all are counted and all go on the timelines.
pub const MAX_MOVED_LISTED: usize = 1_000;

#[derive(Clone)]
pub struct CalendarApi {
    db: crate::db::Db,
    clock: SharedClock,
}

impl CalendarApi {
    pub fn new(db: crate::db::Db, clock: SharedClock) -> Self {
        Self { db, clock }
    }

    pub fn server(self) -> CalendarServiceServer<Self> {
        CalendarServiceServer::new(self)
    }
}

/// The refusal of a calendar file: the violation names the line and the reason.
pub fn refusal(e: &CalendarError) -> Error {
    let at = if e.line == 0 {
        "the file".to_string()
    } else {
        format!("line {}", e.line)
    };
    Error::bad_request(
        reason::CALENDAR_INVALID,
        format!("the calendar file is refused at {at}: {}", e.reason),
    )
    .with_violation("file", format!("{at}: {}", e.reason))
    .with_meta("line", e.line.to_string())
}

/// Checks a file's size, then parses it: what the service and the gateway both refuse.
pub fn check(file: &str) -> Result<super::YearCalendar, Error> {
    if file.len() > MAX_FILE_BYTES {
        return Err(Error::bad_request(
            reason::CALENDAR_INVALID,
            format!("a calendar file is at most {MAX_FILE_BYTES} bytes"),
        )
        .with_violation("file", format!("{} bytes > {MAX_FILE_BYTES}", file.len())));
    }
    super::YearCalendar::parse(file).map_err(|e| refusal(&e))
}

pub fn year_pb(y: &Year) -> pb::CalendarYear {
    pb::CalendarYear {
        year: y.calendar.year,
        source: y.calendar.source.clone(),
        rest_days: count(y.calendar.rest_days.len()),
        working_days: count(y.calendar.working_days.len()),
        built_in: y.loaded_at_ms.is_none(),
        loaded_at: y.loaded_at_ms.map(crate::wire::timestamp),
    }
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn moved_pb(m: &Moved) -> pb::MovedDeadline {
    pb::MovedDeadline {
        deadline_id: m.id.clone(),
        case_id: m.case_id.clone(),
        kind: m.kind.clone(),
        rule: m.rule.clone(),
        previous_end: m.previous_end.clone(),
        end: m.end.clone(),
        moved_off: m.moved_off.clone(),
        due_at: Some(crate::wire::timestamp(m.due_at_ms)),
    }
}

#[tonic::async_trait]
impl CalendarService for CalendarApi {
    async fn load_calendar(
        &self,
        request: Request<pb::LoadCalendarRequest>,
    ) -> Result<Response<pb::LoadCalendarResponse>, Status> {
        let file = request.into_inner().file;
        check(&file)?;
        let now = self.clock.now().timestamp_millis();
        let loaded = stored::load(&self.db, &file, now)
            .await
            .map_err(|e| match e {
                LoadError::Refused(e) => refusal(&e),
                LoadError::Db(e) => Error::from(e),
            })?;
        let moved = &loaded.recounted.moved;
        tracing::info!(
            year = loaded.year.calendar.year,
            changed = loaded.changed,
            recounted = loaded.recounted.recounted,
            moved = moved.len(),
            "holiday calendar loaded"
        );
        Ok(Response::new(pb::LoadCalendarResponse {
            calendar: Some(year_pb(&loaded.year)),
            changed: loaded.changed,
            recounted: count(loaded.recounted.recounted),
            moved_count: count(moved.len()),
            moved: moved.iter().take(MAX_MOVED_LISTED).map(moved_pb).collect(),
        }))
    }

    async fn list_calendars(
        &self,
        _: Request<pb::ListCalendarsRequest>,
    ) -> Result<Response<pb::ListCalendarsResponse>, Status> {
        let years = stored::years(self.db.read()).await.map_err(Error::from)?;
        Ok(Response::new(pb::ListCalendarsResponse {
            years: years.iter().map(year_pb).collect(),
        }))
    }
}
