//! `sieve calendar load FILE`: the court loads a year's holiday calendar (the form of
//! `calendars/cn-<year>.toml`) into every service that counts periods, through the court's
//! door. A bad file is refused with its line and reason; each service reports the running
//! deadlines it counted again and those that now end on another day.

use std::fmt::Write as _;
use std::path::Path;

use sieve_kernel::Settings;
use sieve_proto::calendar::v1::{ListCalendarsRequest, LoadCalendarRequest};
use sieve_proto::gateway::v1::{
    CourtApiServiceListCalendarsRequest, CourtApiServiceListCalendarsResponse,
    CourtApiServiceLoadCalendarRequest, CourtApiServiceLoadCalendarResponse,
};

use crate::args::{CalendarCommand, GatewayArgs};
use crate::client::{Credentials, Gateway};
use crate::error::CliError;

/// `sieve calendar load`: sends the file with a court token (the given one, else minted) and
/// prints what each service did. A service that did not take it fails the command, after
/// the report: loading the same file again is harmless. `sieve calendar list`: what each
/// service holds.
pub async fn run(command: CalendarCommand, settings: &Settings) -> Result<(), CliError> {
    let a = match command {
        CalendarCommand::Load(a) => a,
        CalendarCommand::List(a) => {
            let (gateway, token) = court_door(a.gateway, settings)?;
            print!("{}", render_list(&list(&gateway, &token).await?));
            return Ok(());
        }
    };
    let file = read(&a.file)?;
    let (gateway, token) = court_door(a.gateway, settings)?;
    let answer = load(&gateway, &token, file).await?;
    print!("{}", render(&answer));
    let failed: Vec<&str> = answer
        .loads
        .iter()
        .filter(|l| l.response.is_none())
        .map(|l| l.service.as_str())
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::Rejected(format!(
            "{} did not take the calendar; load the same file again once it is back",
            failed.join(", ")
        )))
    }
}

/// The gateway and a court token for it.
fn court_door(args: GatewayArgs, settings: &Settings) -> Result<(Gateway, String), CliError> {
    let url = Gateway::default_url(args.gateway.as_deref(), settings);
    let gateway = Gateway::connect(&url, settings)?;
    let token = Credentials::load(settings, args.token)?.court_token()?;
    Ok((gateway, token))
}

pub fn read(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))
}

pub async fn load(
    gateway: &Gateway,
    court_token: &str,
    file: String,
) -> Result<CourtApiServiceLoadCalendarResponse, CliError> {
    Ok(gateway
        .court(court_token)?
        .load_calendar(CourtApiServiceLoadCalendarRequest {
            request: Some(LoadCalendarRequest { file }),
        })
        .await
        .map_err(|s| CliError::grpc("CourtApiService.LoadCalendar", s))?
        .into_inner())
}

/// One paragraph per service: the year, whether it changed, the counts, the moved deadlines.
pub fn render(answer: &CourtApiServiceLoadCalendarResponse) -> String {
    let mut out = String::new();
    if answer.loads.is_empty() {
        out.push_str("no service keeps the calendar\n");
    }
    for l in &answer.loads {
        let Some(r) = &l.response else {
            let _ = writeln!(out, "{}: not loaded: {}", l.service, l.error);
            continue;
        };
        let (year, source, rest, working) = r.calendar.as_ref().map_or((0, "", 0, 0), |c| {
            (c.year, c.source.as_str(), c.rest_days, c.working_days)
        });
        let _ = writeln!(
            out,
            "{}: {year} calendar {} ({rest} rest days, {working} 调休 working days; {source})",
            l.service,
            if r.changed {
                "loaded"
            } else {
                "already in force"
            },
        );
        let _ = writeln!(
            out,
            "  running deadlines touching {year}: {} counted again, {} moved",
            r.recounted, r.moved_count
        );
        for m in &r.moved {
            let off = if m.moved_off.is_empty() {
                String::new()
            } else {
                format!(" (moved off {})", m.moved_off)
            };
            let _ = writeln!(
                out,
                "  case {}: {} ({}) ends {}, not {}{off}",
                m.case_id, m.kind, m.rule, m.end, m.previous_end
            );
        }
        let unlisted = usize::try_from(r.moved_count)
            .unwrap_or(0)
            .saturating_sub(r.moved.len());
        if unlisted > 0 {
            let _ = writeln!(
                out,
                "  ... and {unlisted} more, each on its case's timeline"
            );
        }
    }
    out
}

/// The calendars each service holds.
pub async fn list(
    gateway: &Gateway,
    court_token: &str,
) -> Result<CourtApiServiceListCalendarsResponse, CliError> {
    Ok(gateway
        .court(court_token)?
        .list_calendars(CourtApiServiceListCalendarsRequest {
            request: Some(ListCalendarsRequest {}),
        })
        .await
        .map_err(|s| CliError::grpc("CourtApiService.ListCalendars", s))?
        .into_inner())
}

/// One line per service and year: where the year comes from and its counts.
pub fn render_list(answer: &CourtApiServiceListCalendarsResponse) -> String {
    let mut out = String::new();
    if answer.lists.is_empty() {
        out.push_str("no service keeps the calendar\n");
    }
    for l in &answer.lists {
        let Some(r) = &l.response else {
            let _ = writeln!(out, "{}: not answered: {}", l.service, l.error);
            continue;
        };
        for y in &r.years {
            let origin = if y.built_in {
                "built in"
            } else {
                "loaded by the court"
            };
            let _ = writeln!(
                out,
                "{}: {} ({} rest days, {} 调休 working days; {origin}; {})",
                l.service, y.year, y.rest_days, y.working_days, y.source
            );
        }
    }
    out
}
