//! Counting running deadlines again when the court loads a year's calendar: a holiday
//! published late must not leave a wrong deadline standing (RULES.md, "Counting time and
//! amounts"). Runs inside the load's transaction, so the calendar and the deadlines it moves
//! commit together; each move is an outbox message to intake, which writes it on the case's
//! timeline.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use sieve_proto::common::v1::Actor;
use sieve_proto::intake::v1::RecordDeadlineMovedRequest;

use super::entity::{Column, Entity};
use super::{DueDeadline, PENDING, moved_off_text};
use crate::calendar::{Calendar, Period};
use crate::outbox::{self, NewMessage, TOPIC_DEADLINE_MOVED};

/// Rows read at a time.
const PAGE: u64 = 500;

/// A running deadline whose last day a calendar moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub id: String,
    pub case_id: String,
    pub kind: String,
    pub rule: String,
    pub previous_end: String,
    pub end: String,
    pub moved_off: String,
    pub due_at_ms: i64,
    /// The timeline event that says so: `deadline:<id>/<revision>`.
    pub event_id: String,
}

/// What counting again did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recounted {
    /// Running deadlines whose period touches the year.
    pub recounted: usize,
    /// Those that now end on another day.
    pub moved: Vec<Moved>,
}

/// Counts again, under `calendar`, every PENDING deadline whose period touches `year`, inside
/// the caller's transaction (`txn`): rows whose end, rest days moved off or missing-calendar
/// flag change are updated, and each whose end moves gets a `RecordDeadlineMoved` message for
/// intake saying `why`. Counting twice under the same calendar changes nothing.
pub async fn recount<C: ConnectionTrait>(
    txn: &C,
    calendar: &Calendar,
    year: i32,
    why: &str,
    now_ms: i64,
) -> Result<Recounted, DbErr> {
    // A period touches the year when it starts before the year ends and ends after it
    // begins. Dates are stored as zero-padded `YYYY-MM-DD`, whose text order is date order.
    let (first, last) = (format!("{year:04}-01-01"), format!("{year:04}-12-31"));
    let mut out = Recounted::default();
    let mut after = String::new();
    loop {
        let rows = Entity::find()
            .filter(Column::Status.eq(PENDING))
            .filter(Column::StartDate.lte(last.clone()))
            .filter(Column::EndDate.gte(first.clone()))
            .filter(Column::Id.gt(after.clone()))
            .order_by_asc(Column::Id)
            .limit(PAGE)
            .all(txn)
            .await?;
        let Some(tail) = rows.last() else { break };
        after = tail.id.clone();
        let full = rows.len() as u64 == PAGE;
        let mut messages = Vec::new();
        for row in rows {
            out.recounted += 1;
            if let Some(moved) = one(txn, calendar, &row, why, now_ms, &mut messages).await? {
                out.moved.push(moved);
            }
        }
        outbox::enqueue(txn, now_ms, messages).await?;
        if !full {
            break;
        }
    }
    Ok(out)
}

fn corrupt(row: &DueDeadline, what: &str) -> DbErr {
    // Only `schedule` writes these rows: one that does not read back is a fault to look at,
    // not a deadline to skip silently.
    tracing::error!(deadline = %row.id, what, "a stored deadline does not parse");
    DbErr::Custom(format!("deadline {}: stored {what} does not parse", row.id))
}

async fn one<C: ConnectionTrait>(
    txn: &C,
    calendar: &Calendar,
    row: &DueDeadline,
    why: &str,
    now_ms: i64,
    messages: &mut Vec<NewMessage>,
) -> Result<Option<Moved>, DbErr> {
    let period = Period::parse(&row.period).ok_or_else(|| corrupt(row, "period"))?;
    let date = |s: &str, what| {
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| corrupt(row, what))
    };
    let (start, end) = (date(&row.start_date, "start")?, date(&row.end_date, "end")?);
    let counted = calendar.recount(period, start, end);
    let new_end = counted.end.to_string();
    let moved_off = moved_off_text(&counted.moved_off);
    let due_at_ms = counted
        .ends_at
        .map_or(row.due_at_ms, |t| t.timestamp_millis());
    let moves = new_end != row.end_date;
    if !moves
        && moved_off == row.moved_off
        && counted.holiday_calendar_missing == row.holiday_calendar_missing
        && due_at_ms == row.due_at_ms
    {
        return Ok(None);
    }
    let revision = row.revision + i32::from(moves);
    // Still PENDING: on PostgreSQL a sweeper may have fired it since it was read.
    let updated = Entity::update_many()
        .filter(Column::Id.eq(row.id.clone()))
        .filter(Column::Status.eq(PENDING))
        .col_expr(Column::EndDate, Expr::value(new_end.clone()))
        .col_expr(Column::MovedOff, Expr::value(moved_off.clone()))
        .col_expr(
            Column::HolidayCalendarMissing,
            Expr::value(counted.holiday_calendar_missing),
        )
        .col_expr(Column::DueAtMs, Expr::value(due_at_ms))
        .col_expr(Column::Revision, Expr::value(revision))
        .exec(txn)
        .await?;
    if updated.rows_affected != 1 || !moves {
        return Ok(None);
    }
    let event_id = format!("deadline:{}/{revision}", row.id);
    tracing::info!(deadline = %row.id, case = %row.case_id, kind = %row.kind, from = %row.end_date, to = %new_end, "a calendar moved a running deadline");
    let request = RecordDeadlineMovedRequest {
        event_id: event_id.clone(),
        case_id: row.case_id.clone(),
        // The court moved it, by loading the calendar.
        actor: Actor::Court as i32,
        deadline_id: row.id.clone(),
        kind: row.kind.clone(),
        rule: row.rule.clone(),
        previous_end: row.end_date.clone(),
        end: new_end.clone(),
        moved_off: moved_off.clone(),
        why: why.to_string(),
        occurred_at: Some(crate::wire::timestamp(now_ms)),
    };
    messages.push(NewMessage::protobuf(
        TOPIC_DEADLINE_MOVED,
        &row.case_id,
        &request,
    ));
    Ok(Some(Moved {
        id: row.id.clone(),
        case_id: row.case_id.clone(),
        kind: row.kind.clone(),
        rule: row.rule.clone(),
        previous_end: row.end_date.clone(),
        end: new_end,
        moved_off,
        due_at_ms,
        event_id,
    }))
}
