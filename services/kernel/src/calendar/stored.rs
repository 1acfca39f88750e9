//! The calendars a court loaded, in each service's own store: a year loaded survives restarts
//! and replaces the one built in. Include [`migration::Migration`] in the migrator of every
//! service that serves the calendar (with the deadline table: loading counts its deadlines
//! again).

use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, EntityTrait, QueryOrder, Set};

use super::{Calendar, CalendarError, YearCalendar};
use crate::deadline::{self, Recounted};

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "calendar_year")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub year: i32,
        /// The notice it comes from.
        pub source: String,
        /// The file as the court loaded it, read again at every start.
        pub file: String,
        pub loaded_at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use entity::{ActiveModel, Column, Entity};

/// The loaded calendars' table.
pub mod migration {
    use sea_orm_migration::prelude::*;
    use sea_orm_migration::schema::*;

    #[derive(DeriveIden)]
    enum CalendarYear {
        Table,
        Year,
        Source,
        File,
        LoadedAtMs,
    }

    pub struct Migration;

    impl MigrationName for Migration {
        fn name(&self) -> &str {
            "m0000_kernel_calendar"
        }
    }

    #[async_trait::async_trait]
    impl MigrationTrait for Migration {
        async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
            m.create_table(
                Table::create()
                    .table(CalendarYear::Table)
                    .if_not_exists()
                    .col(integer(CalendarYear::Year).primary_key())
                    .col(string(CalendarYear::Source))
                    .col(text(CalendarYear::File))
                    .col(big_integer(CalendarYear::LoadedAtMs))
                    .to_owned(),
            )
            .await
        }

        async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
            m.drop_table(Table::drop().table(CalendarYear::Table).to_owned())
                .await
        }
    }
}

/// A year a service counts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Year {
    pub calendar: YearCalendar,
    /// When the court loaded it; `None` when built in.
    pub loaded_at_ms: Option<i64>,
}

/// Every year this service counts with, built in or loaded, by year.
pub async fn years<C: ConnectionTrait>(db: &C) -> Result<Vec<Year>, DbErr> {
    let mut years: std::collections::BTreeMap<i32, Year> = Calendar::built_in()
        .years()
        .map(|y| {
            (
                y.year,
                Year {
                    calendar: y.clone(),
                    loaded_at_ms: None,
                },
            )
        })
        .collect();
    for row in Entity::find().order_by_asc(Column::Year).all(db).await? {
        // Stored only after it parsed: one that does not parse now is corruption, and
        // counting on without the year would leave its deadlines wrong.
        let calendar = YearCalendar::parse(&row.file).map_err(|e| {
            tracing::error!(year = row.year, error = %e, "a stored calendar does not parse");
            DbErr::Custom(format!("stored calendar {}: {e}", row.year))
        })?;
        years.insert(
            row.year,
            Year {
                calendar,
                loaded_at_ms: Some(row.loaded_at_ms),
            },
        );
    }
    Ok(years.into_values().collect())
}

/// The calendar to count periods with: the built-in years, replaced by those the court
/// loaded. Read it in the transaction that schedules a deadline, before that transaction
/// changes any deadline (see [`hold`]).
pub async fn current<C: ConnectionTrait>(db: &C) -> Result<Calendar, DbErr> {
    hold(db, Hold::Counting).await?;
    let mut calendar = Calendar::empty();
    for y in years(db).await? {
        calendar.load(y.calendar);
    }
    Ok(calendar)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hold {
    /// A transaction counting periods with the calendar: many at once.
    Counting,
    /// A load: alone.
    Loading,
}

/// On PostgreSQL, the calendar's lock until the transaction ends: shared by the transactions
/// counting periods with it, held alone by a load. A load then waits for the deadlines being
/// counted to commit, so its recount sees them, and a deadline counted after the load began
/// waits for it and reads the new calendar. Without it, a deadline scheduled while a load
/// committed kept its count under the old calendar until the next load. A transaction that
/// changed a deadline before reading the calendar could deadlock with a load (PostgreSQL
/// then fails one of them), hence "read it first". SQLite needs nothing: its one writer
/// never runs a load and a scheduling transaction at once. The lock's key is the schema,
/// since services may share a database.
async fn hold<C: ConnectionTrait>(db: &C, hold: Hold) -> Result<(), DbErr> {
    if db.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    db.execute_unprepared(match hold {
        Hold::Counting => "SELECT pg_advisory_xact_lock_shared(hashtext(current_schema()))",
        Hold::Loading => "SELECT pg_advisory_xact_lock(hashtext(current_schema()))",
    })
    .await?;
    Ok(())
}

/// Why a calendar was not loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("the calendar file is refused: {0}")]
    Refused(#[from] CalendarError),
    #[error("storage: {0}")]
    Db(#[from] DbErr),
}

/// What loading a calendar did.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub year: Year,
    /// False: this very calendar was in force already, nothing was stored.
    pub changed: bool,
    pub recounted: Recounted,
}

/// Loads a year's calendar file: parses it (a bad file is refused with its line and reason),
/// stores it and counts again every running deadline whose period touches the year, all in
/// one write transaction. Loading the same calendar again stores nothing and moves nothing;
/// its deadlines are still counted again.
pub async fn load(db: &crate::db::Db, file: &str, now_ms: i64) -> Result<Loaded, LoadError> {
    let year = YearCalendar::parse(file)?;
    let txn = crate::db::begin_write(db).await?;
    hold(&txn, Hold::Loading).await?;
    let mut calendar = current(&txn).await?;
    let changed = calendar.year(year.year) != Some(&year);
    if changed {
        let row = ActiveModel {
            year: Set(year.year),
            source: Set(year.source.clone()),
            file: Set(file.to_string()),
            loaded_at_ms: Set(now_ms),
        };
        Entity::insert(row)
            .on_conflict(
                OnConflict::column(Column::Year)
                    .update_columns([Column::Source, Column::File, Column::LoadedAtMs])
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
        calendar.load(year.clone());
    }
    let why = format!(
        "the court loaded the {} holiday calendar ({}) / 法院载入{}年节假日安排",
        year.year, year.source, year.year
    );
    let recounted = deadline::recount(&txn, &calendar, year.year, &why, now_ms).await?;
    let loaded_at_ms = crate::db::by_key(Entity::find_by_id(year.year), &txn)
        .await?
        .map(|r| r.loaded_at_ms);
    txn.commit().await?;
    Ok(Loaded {
        year: Year {
            calendar: year,
            loaded_at_ms,
        },
        changed,
        recounted,
    })
}
