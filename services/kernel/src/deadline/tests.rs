use std::collections::HashSet;
use std::sync::Mutex;

use chrono::{NaiveDate, TimeZone, Utc};
use sea_orm::Statement;
use sea_orm_migration::{MigrationTrait, MigratorTrait};

use super::*;
use crate::calendar::Calendar;
use crate::clock::{Clock, ManualClock};

struct DeadlinesOnly;

impl MigratorTrait for DeadlinesOnly {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(migration::Migration),
            Box::new(crate::calendar::stored::migration::Migration),
            Box::new(crate::outbox::migration::Migration),
        ]
    }
}

async fn fresh() -> (crate::db::Db, crate::db::Target) {
    let target = crate::db::testing::fresh_target("kernel-deadline");
    let settings = crate::Settings::defaults().unwrap().database;
    let db = crate::db::connect_and_migrate::<DeadlinesOnly>(&target, &settings)
        .await
        .unwrap();
    // What a stage record would be: one row per fired deadline, a second one an error.
    db.writer()
        .execute_unprepared(
            "CREATE TABLE fired (deadline_id VARCHAR PRIMARY KEY, subject VARCHAR NOT NULL)",
        )
        .await
        .unwrap();
    (db, target)
}

async fn drop_target(db: crate::db::Db, target: crate::db::Target) {
    let _ = db.close().await;
    if let crate::db::Target::Postgres { url, schema } = target {
        let _ = crate::db::drop_schema(&url, &schema).await;
    }
}

/// Writes its record in the sweep's transaction; refuses the subjects it is told to.
#[derive(Default)]
struct Record {
    refuse: Mutex<HashSet<String>>,
}

#[async_trait]
impl OnDue for Record {
    async fn fire(&self, txn: &DatabaseTransaction, due: &DueDeadline) -> Result<(), String> {
        if self.refuse.lock().unwrap().contains(&due.subject) {
            return Err("not now".into());
        }
        let backend = txn.get_database_backend();
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            match backend {
                DatabaseBackend::Postgres => {
                    "INSERT INTO fired (deadline_id, subject) VALUES ($1, $2)"
                }
                _ => "INSERT INTO fired (deadline_id, subject) VALUES (?, ?)",
            },
            [due.id.clone().into(), due.subject.clone().into()],
        ))
        .await
        .map_err(|e| e.to_string())?;
        Ok(())
    }
}

async fn fired(db: &sea_orm::DatabaseConnection) -> Vec<String> {
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT subject FROM fired ORDER BY subject",
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.try_get::<String>("", "subject").unwrap())
        .collect()
}

fn start() -> chrono::DateTime<Utc> {
    // 10:00 Beijing time, Monday 2026-03-02.
    Utc.with_ymd_and_hms(2026, 3, 2, 2, 0, 0).unwrap()
}

#[tokio::test]
async fn a_deadline_fires_once_its_period_ends_by_the_clock_and_not_before() {
    let (db, target) = fresh().await;
    let clock = Arc::new(ManualClock::new(start()));
    let calendar = Calendar::built_in();
    let served = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
    // 30 days from 03-02: 04-01, a Wednesday; due at 24:00 that day, Beijing time.
    let period = calendar.days("test.thirty_days", served, 30);
    let txn = crate::db::begin_write(&db).await.unwrap();
    schedule(&txn, "order.objection", "order-1", "case-1", &period, 0)
        .await
        .unwrap();
    // Scheduling again changes nothing.
    schedule(
        &txn,
        "order.objection",
        "order-1",
        "case-1",
        &calendar.days("x", served, 1),
        0,
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();
    let row = find(db.read(), "order.objection", "order-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            row.end_date.as_str(),
            row.rule.as_str(),
            row.period.as_str()
        ),
        ("2026-04-01", "test.thirty_days", "30d")
    );

    let sweeper = Sweeper::new(db.clone(), Arc::new(Record::default()), clock.clone());
    assert_eq!(sweeper.run_once().await.unwrap().fired, 0);
    // The last minute of 04-01 in Beijing: not yet.
    clock.set(Utc.with_ymd_and_hms(2026, 4, 1, 15, 59, 59).unwrap());
    assert_eq!(sweeper.run_once().await.unwrap().fired, 0);
    clock.set(Utc.with_ymd_and_hms(2026, 4, 1, 16, 0, 0).unwrap());
    assert_eq!(sweeper.run_once().await.unwrap().fired, 1);
    assert_eq!(fired(db.read()).await, ["order-1"]);
    // Fired once: the next sweep and a restarted sweeper find nothing.
    assert_eq!(sweeper.run_once().await.unwrap().fired, 0);
    let again = Sweeper::new(db.clone(), Arc::new(Record::default()), clock.clone());
    assert_eq!(again.run_once().await.unwrap().fired, 0);
    let row = find(db.read(), "order.objection", "order-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, FIRED);
    // Stored as the word written before the column was typed.
    let raw = db
        .read()
        .query_one_raw(Statement::from_string(
            db.read().get_database_backend(),
            "SELECT status FROM deadline WHERE subject = 'order-1'",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<String>(0)
        .unwrap();
    assert_eq!(raw, "FIRED");
    drop_target(db, target).await;
}

#[tokio::test]
async fn a_cancelled_deadline_never_fires_and_a_failing_handler_holds_back_only_its_own() {
    let (db, target) = fresh().await;
    let clock = Arc::new(ManualClock::new(start()));
    let calendar = Calendar::built_in();
    let served = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
    let txn = crate::db::begin_write(&db).await.unwrap();
    for s in ["a", "b", "c"] {
        schedule(&txn, "k", s, "case-1", &calendar.days("r", served, 15), 0)
            .await
            .unwrap();
    }
    assert!(cancel(&txn, "k", "a", 1).await.unwrap());
    txn.commit().await.unwrap();
    let record = Arc::new(Record::default());
    record.refuse.lock().unwrap().insert("b".into());
    let sweeper = Sweeper::new(db.clone(), record.clone(), clock.clone());
    clock.advance(chrono::Duration::days(31));
    let pass = sweeper.run_once().await.unwrap();
    assert_eq!((pass.fired, pass.failed), (1, 1));
    assert_eq!(fired(db.read()).await, ["c"]);
    let b = find(db.read(), "k", "b").await.unwrap().unwrap();
    assert_eq!((b.status, b.attempts), (PENDING, 1));
    assert_eq!(b.last_error.as_deref(), Some("not now"));
    // After its backoff, once the handler works again, it fires.
    record.refuse.lock().unwrap().clear();
    assert_eq!(
        sweeper.run_once().await.unwrap().fired,
        0,
        "waits for its backoff"
    );
    clock.advance(chrono::Duration::seconds(2));
    assert_eq!(sweeper.run_once().await.unwrap().fired, 1);
    assert_eq!(fired(db.read()).await, ["b", "c"]);
    assert!(
        !cancel(db.writer(), "k", "b", 2).await.unwrap(),
        "a fired deadline stays fired"
    );
    drop_target(db, target).await;
}

#[tokio::test]
async fn two_sweepers_on_one_database_never_fire_a_deadline_twice() {
    let (db, target) = fresh().await;
    let clock = Arc::new(ManualClock::new(start()));
    let calendar = Calendar::built_in();
    let served = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
    let txn = crate::db::begin_write(&db).await.unwrap();
    for i in 0..600 {
        schedule(
            &txn,
            "k",
            &format!("s{i:04}"),
            "case-1",
            &calendar.days("r", served, 1 + i % 40),
            0,
        )
        .await
        .unwrap();
    }
    txn.commit().await.unwrap();
    clock.advance(chrono::Duration::days(60));
    // A second connection pool, as a second replica has.
    let settings = crate::Settings::defaults().unwrap().database;
    let other = crate::db::connect(&target, &settings).await.unwrap();
    let record = Arc::new(Record::default());
    let sweep = |db: crate::db::Db| {
        let sweeper = Sweeper::new(db, record.clone(), clock.clone()).batch_size(25);
        tokio::spawn(async move {
            let mut fired = 0;
            loop {
                let pass = sweeper.run_once().await.expect("no sweep fails");
                assert_eq!(
                    pass.failed, 0,
                    "a second firing would fail on the record's key"
                );
                if pass.fired == 0 {
                    return fired;
                }
                fired += pass.fired;
            }
        })
    };
    let (a, b) = (sweep(db.clone()), sweep(other.clone()));
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    assert_eq!(a + b, 600);
    assert_eq!(fired(db.read()).await.len(), 600);
    let _ = other.close().await;
    drop_target(db, target).await;
}

#[tokio::test]
async fn a_running_sweeper_fires_a_30_day_window_as_soon_as_a_manual_clock_passes_it() {
    let (db, target) = fresh().await;
    let clock = Arc::new(ManualClock::new(start()));
    let served = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
    let txn = crate::db::begin_write(&db).await.unwrap();
    schedule(
        &txn,
        "k",
        "a",
        "case-1",
        &Calendar::built_in().days("r", served, 30),
        0,
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();
    // Polling once an hour: only the clock's move can make it fire within the test.
    let sweeper = Sweeper::new(db.clone(), Arc::new(Record::default()), clock.clone())
        .poll(Duration::from_secs(3600));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(sweeper.run(async move {
        let _ = stopped.await;
    }));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(fired(db.read()).await.is_empty(), "not due yet");
    clock.advance(chrono::Duration::days(31));
    let fired_at = tokio::time::timeout(Duration::from_secs(30), async {
        while fired(db.read()).await.is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(fired_at.is_ok(), "the move woke the sweeper");
    let _ = stop.send(());
    task.await.unwrap();
    drop_target(db, target).await;
}

/// A 2027 calendar as the State Council might publish it late: New Year's Day on Friday
/// 2027-01-01, with the weekend after it.
const CN_2027: &str = r#"year = 2027
source = "国务院办公厅关于2027年部分节假日安排的通知 (test)"
rest_days = [
  { date = "2027-01-01", holiday = "New Year's Day" },
  { date = "2027-01-02", holiday = "New Year's Day" },
  { date = "2027-01-03", holiday = "New Year's Day" },
]
working_days = []
"#;

async fn moved_messages(
    db: &sea_orm::DatabaseConnection,
) -> Vec<sieve_proto::intake::v1::RecordDeadlineMovedRequest> {
    use prost::Message;
    crate::outbox::entity::Entity::find()
        .filter(crate::outbox::entity::Column::Topic.eq(crate::outbox::TOPIC_DEADLINE_MOVED))
        .all(db)
        .await
        .unwrap()
        .iter()
        .map(|m| {
            sieve_proto::intake::v1::RecordDeadlineMovedRequest::decode(m.payload.as_slice())
                .unwrap()
        })
        .collect()
}

#[tokio::test]
async fn a_calendar_loaded_late_moves_a_running_deadline_and_says_so_on_the_timeline() {
    use crate::calendar::stored;
    let (db, target) = fresh().await;
    let clock = Arc::new(ManualClock::new(start()));
    let calendar = stored::current(db.read()).await.unwrap();
    assert!(!calendar.has_year(2027), "2027 is not built in");
    // Served Thursday 2026-12-17: 15 days end Friday 2027-01-01, counted without a 2027
    // calendar, so New Year's Day is not known to be a rest day.
    let served = NaiveDate::from_ymd_opt(2026, 12, 17).unwrap();
    let txn = crate::db::begin_write(&db).await.unwrap();
    let period = calendar.days("cpl_227.objection_15_days", served, 15);
    schedule(&txn, "order.objection", "order-1", "case-1", &period, 0)
        .await
        .unwrap();
    // One in March 2026, which a 2027 calendar does not touch, and one already fired.
    let march = calendar.days("r", NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(), 15);
    schedule(&txn, "k", "march", "case-2", &march, 0)
        .await
        .unwrap();
    schedule(&txn, "k", "fired", "case-3", &period, 0)
        .await
        .unwrap();
    txn.commit().await.unwrap();
    let before = find(db.read(), "order.objection", "order-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(before.end_date, "2027-01-01");
    assert!(before.holiday_calendar_missing);
    Entity::update_many()
        .filter(Column::Subject.eq("fired"))
        .col_expr(Column::Status, Expr::value(FIRED))
        .exec(db.writer())
        .await
        .unwrap();

    // A bad file is refused with its line and reason, and changes nothing.
    let bad = CN_2027.replace("2027-01-03", "2026-01-03");
    match stored::load(&db, &bad, 1).await {
        Err(stored::LoadError::Refused(e)) => {
            assert_eq!(e.line, 6, "{e}");
            assert!(e.reason.contains("not in 2027"), "{e}");
        }
        other => panic!("refused, not {other:?}"),
    }
    assert!(!stored::current(db.read()).await.unwrap().has_year(2027));

    let now = clock.now().timestamp_millis();
    let loaded = stored::load(&db, CN_2027, now).await.unwrap();
    assert!(loaded.changed);
    assert_eq!(loaded.year.loaded_at_ms, Some(now));
    assert_eq!(
        loaded.recounted.recounted, 1,
        "only the running one touching 2027"
    );
    let [moved] = loaded.recounted.moved.as_slice() else {
        panic!("one moved: {:?}", loaded.recounted.moved)
    };
    assert_eq!(
        (
            moved.previous_end.as_str(),
            moved.end.as_str(),
            moved.case_id.as_str()
        ),
        ("2027-01-01", "2027-01-04", "case-1")
    );
    let after = find(db.read(), "order.objection", "order-1")
        .await
        .unwrap()
        .unwrap();
    // CPL 85 para 3: the last day, a holiday, moves to Monday 2027-01-04, 24:00 Beijing time.
    assert_eq!(after.end_date, "2027-01-04");
    assert_eq!(after.nominal_end, "2027-01-01");
    assert_eq!(
        after.due_at_ms,
        Utc.with_ymd_and_hms(2027, 1, 4, 16, 0, 0)
            .unwrap()
            .timestamp_millis()
    );
    assert!(!after.holiday_calendar_missing, "counted with 2027 now");
    assert!(
        after.moved_off.starts_with("2027-01-01 New Year's Day"),
        "{}",
        after.moved_off
    );
    assert_eq!(after.revision, 1);
    let untouched = find(db.read(), "k", "march").await.unwrap().unwrap();
    assert_eq!(untouched.revision, 0);

    // The timeline's message, for intake, in the same commit.
    let [message] = moved_messages(db.read()).await.try_into().unwrap();
    assert_eq!(message.event_id, format!("deadline:{}/1", after.id));
    assert_eq!(message.case_id, "case-1");
    assert_eq!(
        (message.previous_end.as_str(), message.end.as_str()),
        ("2027-01-01", "2027-01-04")
    );
    assert_eq!(message.rule, "cpl_227.objection_15_days");
    assert!(message.moved_off.contains("New Year's Day"));
    assert!(message.why.contains("2027"), "{}", message.why);

    // Loading it again is harmless: nothing stored, nothing moved, no second message.
    let again = stored::load(&db, CN_2027, now + 1).await.unwrap();
    assert!(!again.changed);
    assert!(again.recounted.moved.is_empty());
    assert_eq!(again.year.loaded_at_ms, Some(now), "the first load stands");
    assert_eq!(moved_messages(db.read()).await.len(), 1);
    assert_eq!(
        find(db.read(), "order.objection", "order-1")
            .await
            .unwrap()
            .unwrap(),
        after
    );

    // The year survives a restart (a new connection reads it), over the built-in years.
    let settings = crate::Settings::defaults().unwrap().database;
    let other = crate::db::connect(&target, &settings).await.unwrap();
    let counted = stored::current(other.read()).await.unwrap();
    assert!(counted.has_year(2027) && counted.has_year(2026));
    let _ = other.close().await;

    // It fires at its new end, not the old one.
    let sweeper = Sweeper::new(db.clone(), Arc::new(Record::default()), clock.clone());
    clock.set(Utc.with_ymd_and_hms(2027, 1, 1, 16, 0, 0).unwrap());
    sweeper.run_once().await.unwrap();
    assert_eq!(fired(db.read()).await, ["march"], "Friday 24:00: not yet");
    clock.set(Utc.with_ymd_and_hms(2027, 1, 4, 16, 0, 0).unwrap());
    assert_eq!(sweeper.run_once().await.unwrap().fired, 1);
    assert_eq!(fired(db.read()).await, ["march", "order-1"]);
    drop_target(db, target).await;
}

#[tokio::test]
async fn a_deadline_counted_while_a_calendar_loads_is_counted_again_by_the_load() {
    use crate::calendar::stored;
    let (db, target) = fresh().await;
    // A stage counts a period without 2027 and has not committed when the court loads 2027.
    let txn = crate::db::begin_write(&db).await.unwrap();
    let calendar = stored::current(&txn).await.unwrap();
    let served = NaiveDate::from_ymd_opt(2026, 12, 17).unwrap();
    let period = calendar.days("cpl_227.objection_15_days", served, 15);
    schedule(&txn, "order.objection", "order-1", "case-1", &period, 0)
        .await
        .unwrap();
    let loader = db.clone();
    let load = tokio::spawn(async move { stored::load(&loader, CN_2027, 1).await });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !load.is_finished(),
        "the load waits for the transaction counting with the calendar"
    );
    txn.commit().await.unwrap();
    let loaded = load.await.unwrap().unwrap();
    assert_eq!(
        loaded.recounted.recounted, 1,
        "the load saw the new deadline"
    );
    let counted = find(db.read(), "order.objection", "order-1")
        .await
        .unwrap()
        .unwrap();
    // Friday 2027-01-01 is New Year's Day: the period ends Monday 2027-01-04 (CPL 85).
    assert_eq!(counted.end_date, "2027-01-04");
    assert!(!counted.holiday_calendar_missing);
    drop_target(db, target).await;
}
