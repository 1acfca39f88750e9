//! Storage: one set of sea-orm entities and migrations over embedded SQLite (the default) or
//! PostgreSQL, behind [`Db`]: a writer and readers.
//!
//! SQLite runs in WAL mode with a busy timeout. Its writer is a single connection, so there
//! is exactly one writer and write transactions begin IMMEDIATE (no upgrade deadlocks); its
//! readers are a pool of their own (`database.read_connections`, `query_only`), which WAL
//! lets read the last committed state while the writer holds a transaction. On PostgreSQL
//! writer and readers are one pool, and each service keeps its tables in a schema of its own
//! name.

use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, DbErr, EntityTrait, Iterable, Select, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;

use crate::config::DatabaseSettings;

/// A pooled connection idle this long is pinged before use; a busy one is not (a ping per
/// query is a round trip per query).
const PING_IF_IDLE: Duration = Duration::from_secs(30);

/// A service's database: writes and transactions through [`Db::begin_write`], reads through
/// [`Db::read`]. It is no `ConnectionTrait` itself, so a query has to say which it is.
#[derive(Debug, Clone)]
pub struct Db {
    writer: DatabaseConnection,
    reader: DatabaseConnection,
    /// False when the readers are the writer's own pool (PostgreSQL, in-memory SQLite).
    separate_reader: bool,
    /// How many connections reads may hold at once.
    readers: usize,
}

impl Db {
    /// Where reads go: on SQLite a pool of read-only connections that never wait for the
    /// writer.
    pub fn read(&self) -> &DatabaseConnection {
        &self.reader
    }

    /// Begins a write transaction: IMMEDIATE on SQLite, so the write lock is taken up front.
    pub async fn begin_write(&self) -> Result<DatabaseTransaction, DbErr> {
        self.writer
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..Default::default()
            })
            .await
    }

    /// The writer itself, for statements outside a transaction (migrations, DDL, benchmarks).
    /// Reads that must see the writer's own uncommitted work belong in its transaction.
    pub fn writer(&self) -> &DatabaseConnection {
        &self.writer
    }

    pub fn backend(&self) -> DatabaseBackend {
        self.writer.get_database_backend()
    }

    /// Limits for a [`crate::lookup::Batched`] lookup on these readers: as many queries at
    /// once as there are reader connections.
    pub fn lookup_limits(&self) -> crate::lookup::Limits {
        crate::lookup::Limits {
            in_flight: self.readers.max(1),
            ..Default::default()
        }
    }

    pub async fn close(self) -> Result<(), DbErr> {
        if self.separate_reader {
            self.reader.close().await?;
        }
        self.writer.close().await
    }
}

/// The row a unique key selects, if any: every point lookup (a case, a bank, a check by its
/// case) goes through this rather than sea-orm's `.one()`.
///
/// `.one()` appends `LIMIT ?` with 1 bound. SQLite's planner reads a bound LIMIT, so binding
/// it again expires the cached prepared statement and each execution parses and plans the
/// query anew (SQLite built with STAT4, as libsqlite3-sys bundles it): measured, 70% of the
/// SQLite thread's time in intake's `GetCase`. A unique key needs no LIMIT. Two rows mean a
/// key that is not unique, which is an error, not a choice.
pub async fn by_key<E, C>(select: Select<E>, conn: &C) -> Result<Option<E::Model>, DbErr>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let mut rows = select.all(conn).await?;
    match rows.len() {
        0 | 1 => Ok(rows.pop()),
        n => Err(DbErr::Custom(format!(
            "a lookup by a unique key of `{}` matched {n} rows",
            E::default().table_name()
        ))),
    }
}

/// Where a service's tables live.
#[derive(Debug, Clone)]
pub enum Target {
    /// A SQLite file (created when missing) or `sqlite::memory:`.
    Sqlite(String),
    /// A PostgreSQL database and the schema holding this service's tables.
    Postgres { url: String, schema: String },
}

impl Target {
    /// The target configured for `service`: `DATABASE_URL` when set, else
    /// `<data_dir>/<service>.db`.
    pub fn for_service(settings: &DatabaseSettings, service: &str) -> Self {
        let url = settings.url.trim();
        if url.starts_with("postgres") {
            Target::Postgres {
                url: url.to_string(),
                schema: service.replace('-', "_"),
            }
        } else if url.starts_with("sqlite:") {
            Target::Sqlite(url.to_string())
        } else {
            let path = settings.data_dir.join(format!("{service}.db"));
            Target::Sqlite(format!("sqlite://{}?mode=rwc", path.display()))
        }
    }
}

/// Connects writer and readers (creating the SQLite file's directory or the PostgreSQL schema
/// when missing).
pub async fn connect(target: &Target, settings: &DatabaseSettings) -> Result<Db, DbErr> {
    let writer = connect_writer(target, settings).await?;
    with_readers(writer, target, settings).await
}

/// Connects, brings the schema up to date on the writer, then opens the readers.
pub async fn connect_and_migrate<M: MigratorTrait>(
    target: &Target,
    settings: &DatabaseSettings,
) -> Result<Db, DbErr> {
    let writer = connect_writer(target, settings).await?;
    M::up(&writer, None).await?;
    with_readers(writer, target, settings).await
}

/// Begins a write transaction on `db`'s writer (see [`Db::begin_write`]).
pub async fn begin_write(db: &Db) -> Result<DatabaseTransaction, DbErr> {
    db.begin_write().await
}

/// An in-memory SQLite database lives in its one connection: no other could read it.
fn in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

async fn connect_writer(
    target: &Target,
    settings: &DatabaseSettings,
) -> Result<DatabaseConnection, DbErr> {
    match target {
        Target::Sqlite(url) => {
            if let Some(path) = url
                .strip_prefix("sqlite://")
                .map(|p| p.split('?').next().unwrap_or(p))
                && let Some(dir) = std::path::Path::new(path).parent()
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir)
                    .map_err(|e| DbErr::Custom(format!("creating {}: {e}", dir.display())))?;
            }
            let busy = Duration::from_millis(settings.busy_timeout_ms);
            let (cache, mmap) = sqlite_memory(settings);
            let mut opts = ConnectOptions::new(url.clone());
            opts.max_connections(1)
                .min_connections(1)
                .test_before_acquire_if_idle_for(PING_IF_IDLE)
                .sqlx_logging(false)
                .map_sqlx_sqlite_opts(move |o| {
                    o.create_if_missing(true)
                        .journal_mode(SqliteJournalMode::Wal)
                        .synchronous(SqliteSynchronous::Normal)
                        .busy_timeout(busy)
                        .foreign_keys(true)
                        .pragma("cache_size", cache.clone())
                        .pragma("mmap_size", mmap.clone())
                });
            Database::connect(opts).await
        }
        Target::Postgres { url, schema } => {
            if !schema
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
            {
                return Err(DbErr::Custom(format!(
                    "schema name `{schema}` is not a plain identifier"
                )));
            }
            {
                let mut opts = ConnectOptions::new(url.clone());
                opts.max_connections(1).sqlx_logging(false);
                let admin = Database::connect(opts).await?;
                admin
                    .execute_unprepared(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
                    .await?;
                admin.close().await?;
            }
            let mut opts = ConnectOptions::new(url.clone());
            opts.max_connections(settings.max_connections)
                .test_before_acquire_if_idle_for(PING_IF_IDLE)
                .sqlx_logging(false)
                .set_schema_search_path(schema.clone());
            Database::connect(opts).await
        }
    }
}

/// The `cache_size` (negative: KiB) and `mmap_size` (bytes) pragmas of the settings.
fn sqlite_memory(settings: &DatabaseSettings) -> (String, String) {
    (
        format!("-{}", u64::from(settings.cache_mib) * 1024),
        (u64::from(settings.mmap_mib) << 20).to_string(),
    )
}

/// The readers beside `writer`: on a SQLite file a pool of `read_connections` connections
/// that may only read; otherwise the writer's own pool.
async fn with_readers(
    writer: DatabaseConnection,
    target: &Target,
    settings: &DatabaseSettings,
) -> Result<Db, DbErr> {
    let url = match target {
        Target::Sqlite(url) if !in_memory(url) && settings.read_connections > 0 => url,
        _ => {
            let readers = match target {
                // Half the pool, so lookups never hold every connection writes need.
                Target::Postgres { .. } => (settings.max_connections as usize / 2).max(1),
                Target::Sqlite(_) => 1,
            };
            return Ok(Db {
                reader: writer.clone(),
                writer,
                separate_reader: false,
                readers,
            });
        }
    };
    let busy = Duration::from_millis(settings.busy_timeout_ms);
    let (cache, mmap) = sqlite_memory(settings);
    let mut opts = ConnectOptions::new(url.clone());
    opts.max_connections(settings.read_connections)
        .min_connections(1)
        .test_before_acquire_if_idle_for(PING_IF_IDLE)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(move |o| {
            // The writer made the file and its WAL; a reader never creates or changes either.
            o.create_if_missing(false)
                .busy_timeout(busy)
                .foreign_keys(true)
                .pragma("cache_size", cache.clone())
                .pragma("mmap_size", mmap.clone())
                .pragma("query_only", "ON")
        });
    let reader = Database::connect(opts).await?;
    Ok(Db {
        writer,
        reader,
        separate_reader: true,
        readers: settings.read_connections as usize,
    })
}

/// Rows of `E` per multi-row INSERT that stay under the backend's bind-parameter limit
/// (SQLite 32,766 since 3.32; PostgreSQL 65,535), with room to spare. Each row binds every
/// column of the entity, counted from it: a column added to the model is counted, not
/// forgotten in a hand-written number.
pub fn rows_per_insert<E: EntityTrait>(backend: DatabaseBackend) -> usize {
    let columns = <E::Column as Iterable>::iter().count();
    let limit = match backend {
        DatabaseBackend::Postgres => 65_535,
        _ => 32_766,
    };
    (limit / columns.max(1)).clamp(1, 4_000)
}

/// Inserts `models` in multi-row statements of [`rows_per_insert`] rows each, inside the
/// caller's transaction (`conn`).
pub async fn insert_all<A, C>(conn: &C, models: Vec<A>) -> Result<(), DbErr>
where
    A: sea_orm::ActiveModelTrait + Send,
    C: ConnectionTrait,
{
    let per = rows_per_insert::<A::Entity>(conn.get_database_backend());
    let mut it = models.into_iter().peekable();
    while it.peek().is_some() {
        let part: Vec<A> = it.by_ref().take(per).collect();
        <A::Entity as EntityTrait>::insert_many(part)
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

/// Writes every column of `models` (rows that exist) back, in multi-row statements
/// (`INSERT … ON CONFLICT (primary key) DO UPDATE`) inside the caller's transaction: a
/// thousand rows changed in memory cost a few statements instead of a thousand UPDATEs.
pub async fn update_all<A, C>(conn: &C, models: Vec<A>) -> Result<(), DbErr>
where
    A: sea_orm::ActiveModelTrait + Send,
    C: ConnectionTrait,
{
    use sea_orm::sea_query::OnConflict;
    use sea_orm::{IdenStatic, PrimaryKeyToColumn};
    type Col<A> = <<A as sea_orm::ActiveModelTrait>::Entity as EntityTrait>::Column;
    if models.is_empty() {
        return Ok(());
    }
    let keys: Vec<Col<A>> = <<A::Entity as EntityTrait>::PrimaryKey as Iterable>::iter()
        .map(|k| k.into_column())
        .collect();
    let others: Vec<Col<A>> = <Col<A> as Iterable>::iter()
        .filter(|c| !keys.iter().any(|k| k.as_str() == c.as_str()))
        .collect();
    let per = rows_per_insert::<A::Entity>(conn.get_database_backend());
    let mut it = models.into_iter().peekable();
    while it.peek().is_some() {
        let part: Vec<A> = it.by_ref().take(per).collect();
        <A::Entity as EntityTrait>::insert_many(part)
            .on_conflict(
                OnConflict::columns(keys.clone())
                    .update_columns(others.clone())
                    .to_owned(),
            )
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

/// Writes `columns` of each of `models` back to its row, found by its primary key (one
/// column): `UPDATE … FROM (VALUES …)` in multi-row statements under the bind limit, on
/// SQLite (3.33+) and PostgreSQL alike. For rows whose other columns did not change, this
/// binds and writes only what did — [`update_all`] rewrites every column, index entries
/// included, and makes each row's full content travel. Each model must hold a value for
/// its key and for every column named.
pub async fn update_columns<A, C>(
    conn: &C,
    models: Vec<A>,
    columns: &[<A::Entity as EntityTrait>::Column],
) -> Result<(), DbErr>
where
    A: sea_orm::ActiveModelTrait + Send,
    C: ConnectionTrait,
{
    use sea_orm::{EntityName, IdenStatic, PrimaryKeyToColumn};
    if models.is_empty() || columns.is_empty() {
        return Ok(());
    }
    let keys: Vec<_> = <<A::Entity as EntityTrait>::PrimaryKey as Iterable>::iter()
        .map(|k| k.into_column())
        .collect();
    let [key] = keys.as_slice() else {
        return Err(DbErr::Custom(
            "update_columns: the entity's primary key must be one column".into(),
        ));
    };
    let backend = conn.get_database_backend();
    let quote = |name: &str| format!("\"{}\"", name.replace('"', "\"\""));
    let table = quote(A::Entity::default().table_name());
    // `column1` of the VALUES list is the key, `column2`… the columns in order: both
    // databases name a VALUES list's columns so.
    let set: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{} = \"v\".\"column{}\"", quote(c.as_str()), i + 2))
        .collect();
    let set = set.join(", ");
    let width = columns.len() + 1;
    let limit = match backend {
        DatabaseBackend::Postgres => 65_535,
        _ => 32_766,
    };
    let per = (limit / width).clamp(1, 4_000);
    let mut it = models.into_iter().peekable();
    while it.peek().is_some() {
        let mut values = Vec::new();
        let mut rows = Vec::new();
        for m in it.by_ref().take(per) {
            let mut marks = Vec::with_capacity(width);
            for c in std::iter::once(key).chain(columns) {
                let value = m.get(*c).into_value().ok_or_else(|| {
                    DbErr::Custom(format!("update_columns: no value for {}", c.as_str()))
                })?;
                values.push(value);
                marks.push(match backend {
                    DatabaseBackend::Postgres => format!("${}", values.len()),
                    _ => "?".to_string(),
                });
            }
            rows.push(format!("({})", marks.join(", ")));
        }
        let sql = format!(
            "UPDATE {table} SET {set} FROM (VALUES {}) AS \"v\" WHERE {table}.{} = \"v\".\"column1\"",
            rows.join(", "),
            quote(key.as_str()),
        );
        conn.execute_raw(sea_orm::Statement::from_sql_and_values(
            backend, sql, values,
        ))
        .await?;
    }
    Ok(())
}

/// Drops a PostgreSQL schema (tests create one per test). Sessions still holding locks in it
/// (a service whose test ended without stopping it, a transaction left open) are ended first,
/// or the drop would wait for them forever.
pub async fn drop_schema(url: &str, schema: &str) -> Result<(), DbErr> {
    let mut opts = ConnectOptions::new(url.to_string());
    opts.max_connections(1).sqlx_logging(false);
    let admin = Database::connect(opts).await?;
    admin
        .execute_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT pg_terminate_backend(l.pid) FROM pg_locks l \
             JOIN pg_class c ON c.oid = l.relation \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND l.pid <> pg_backend_pid()",
            [schema.into()],
        ))
        .await?;
    admin
        .execute_unprepared(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
        .await?;
    admin.close().await
}

/// A database for one test: a fresh SQLite file in a temp dir, or — when `SIEVE_TEST_DATABASE`
/// is `postgres` — a fresh schema on `SIEVE_TEST_POSTGRES_URL`
/// (default `postgres://postgres@127.0.0.1:5432/test`).
pub mod testing {
    use super::*;

    pub const POSTGRES_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432/test";

    pub fn postgres_url() -> Option<String> {
        match std::env::var("SIEVE_TEST_DATABASE").as_deref() {
            Ok("postgres") => Some(
                std::env::var("SIEVE_TEST_POSTGRES_URL")
                    .unwrap_or_else(|_| POSTGRES_DEFAULT.into()),
            ),
            _ => None,
        }
    }

    /// A fresh target that is removed when dropped (on a panic too).
    pub struct Scratch(pub Target);

    impl Scratch {
        pub fn new(service: &str) -> Self {
            Self(fresh_target(service))
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            remove(std::slice::from_ref(&self.0));
        }
    }

    /// Removes tests' storage now: PostgreSQL schemas dropped, SQLite files deleted. Callable
    /// from a `Drop` inside a test's runtime, which must not block on itself: the schemas are
    /// dropped on a thread and a runtime of their own.
    pub fn remove(targets: &[Target]) {
        let mut schemas = Vec::new();
        for target in targets {
            match target {
                Target::Postgres { url, schema } => schemas.push((url.clone(), schema.clone())),
                Target::Sqlite(url) => {
                    let path = url.trim_start_matches("sqlite://");
                    let path = path.split('?').next().unwrap_or(path);
                    for suffix in ["", "-wal", "-shm"] {
                        let _ = std::fs::remove_file(format!("{path}{suffix}"));
                    }
                }
            }
        }
        if schemas.is_empty() {
            return;
        }
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(runtime) = runtime {
                runtime.block_on(async {
                    for (url, schema) in &schemas {
                        if let Err(e) = drop_schema(url, schema).await {
                            eprintln!("schema {schema} not dropped: {e}");
                        }
                    }
                });
            }
        });
        let _ = dropped.join();
    }

    /// A fresh target named after `service`, never shared with another test.
    pub fn fresh_target(service: &str) -> Target {
        let unique = uuid::Uuid::new_v4().simple().to_string();
        match postgres_url() {
            Some(url) => Target::Postgres {
                url,
                schema: format!("t_{}_{}", service.replace('-', "_"), &unique[..12]),
            },
            None => {
                let dir = std::env::temp_dir().join("sieve-tests");
                let _ = std::fs::create_dir_all(&dir);
                Target::Sqlite(format!(
                    "sqlite://{}?mode=rwc",
                    dir.join(format!("{service}-{unique}.db")).display()
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::Statement;

    async fn fresh() -> (Target, Db) {
        let settings = crate::config::Settings::defaults().expect("defaults");
        let target = testing::fresh_target("kernel-db");
        let db = connect(&target, &settings.database).await.expect("connect");
        db.writer()
            .execute_unprepared("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
            .await
            .expect("table");
        (target, db)
    }

    async fn count(db: &DatabaseConnection) -> i64 {
        db.query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) FROM note",
        ))
        .await
        .expect("count")
        .and_then(|r| r.try_get_by_index::<i64>(0).ok())
        .unwrap_or(-1)
    }

    async fn drop_target(target: &Target) {
        if let Target::Postgres { url, schema } = target {
            let _ = drop_schema(url, schema).await;
        }
    }

    #[tokio::test]
    async fn readers_answer_while_the_writer_holds_a_transaction() {
        let (target, db) = fresh().await;
        let txn = db.begin_write().await.expect("begin");
        txn.execute_unprepared("INSERT INTO note (id, body) VALUES (1, 'uncommitted')")
            .await
            .expect("insert");
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let writer = tokio::spawn(async move {
            let _ = released.await;
            txn.commit().await.expect("commit");
        });
        // Generous: it only fails if the read waits for the writer.
        let seen = tokio::time::timeout(Duration::from_secs(30), count(db.read()))
            .await
            .expect("the read waited for the writer's transaction");
        assert!(!writer.is_finished(), "the transaction is still open");
        assert_eq!(seen, 0, "readers see only committed rows");
        release.send(()).expect("release");
        writer.await.expect("writer");
        assert_eq!(count(db.read()).await, 1, "and every committed one");
        db.close().await.expect("close");
        drop_target(&target).await;
    }

    #[tokio::test]
    async fn sqlite_readers_cannot_write() {
        let (target, db) = fresh().await;
        let written = db
            .read()
            .execute_unprepared("INSERT INTO note (id, body) VALUES (1, 'by a reader')")
            .await;
        if matches!(target, Target::Sqlite(_)) {
            assert!(written.is_err(), "a SQLite reader is query_only");
        }
        drop_target(&target).await;
    }

    #[test]
    fn rows_per_insert_counts_the_entity_s_columns() {
        // The outbox has 12 columns: 2,730 rows bind 32,760 parameters on SQLite.
        type Outbox = crate::outbox::entity::Entity;
        assert_eq!(
            rows_per_insert::<Outbox>(DatabaseBackend::Sqlite),
            32_766 / 12
        );
        assert_eq!(rows_per_insert::<Outbox>(DatabaseBackend::Postgres), 4_000);
    }

    #[tokio::test]
    async fn update_columns_writes_the_named_columns_only() {
        use crate::outbox::entity::{ActiveModel, Column, Entity, Model};
        use sea_orm::{ActiveValue::Set, IntoActiveModel, QueryOrder};
        struct OutboxOnly;
        impl MigratorTrait for OutboxOnly {
            fn migrations() -> Vec<Box<dyn sea_orm_migration::MigrationTrait>> {
                vec![Box::new(crate::outbox::migration::Migration)]
            }
        }
        let settings = crate::config::Settings::defaults().expect("defaults");
        let target = testing::fresh_target("kernel-db-columns");
        let db = connect_and_migrate::<OutboxOnly>(&target, &settings.database)
            .await
            .expect("database");
        let row = |k: i64| Model {
            id: format!("m{k:05}"),
            topic: "t".into(),
            key: format!("k{k}"),
            payload: vec![1, 2, 3],
            created_at_ms: k,
            attempts: 0,
            next_attempt_at_ms: 0,
            lease_until_ms: Some(7),
            leased_by: None,
            delivered_at_ms: None,
            failed_at_ms: None,
            last_error: None,
        };
        // More rows than one statement holds (4,000), so the chunks are tried too.
        let n = 4_100;
        let txn = begin_write(&db).await.expect("begin");
        insert_all(&txn, (0..n).map(|k| row(k).into_active_model()).collect())
            .await
            .expect("insert");
        txn.commit().await.expect("commit");

        let changed: Vec<ActiveModel> = (0..n)
            .filter(|k| k % 2 == 0)
            .map(|k| {
                let mut m = row(k).into_active_model();
                m.attempts = Set(k as i32);
                m.leased_by = Set(Some(format!("by-{k}")));
                m.lease_until_ms = Set(None);
                // Not among the columns written: left as it was.
                m.topic = Set("ignored".into());
                m
            })
            .collect();
        let txn = begin_write(&db).await.expect("begin");
        update_columns(
            &txn,
            changed,
            &[Column::Attempts, Column::LeasedBy, Column::LeaseUntilMs],
        )
        .await
        .expect("update");
        txn.commit().await.expect("commit");

        let rows = Entity::find()
            .order_by_asc(Column::Id)
            .all(db.read())
            .await
            .expect("read");
        assert_eq!(rows.len(), n as usize);
        for (k, r) in rows.iter().enumerate() {
            let k = k as i64;
            assert_eq!(r.topic, "t", "row {k}: a column not named is untouched");
            assert_eq!(r.payload, vec![1, 2, 3]);
            if k % 2 == 0 {
                assert_eq!(
                    (r.attempts, r.leased_by.clone(), r.lease_until_ms),
                    (k as i32, Some(format!("by-{k}")), None),
                    "row {k}"
                );
            } else {
                assert_eq!(
                    (r.attempts, r.leased_by.clone(), r.lease_until_ms),
                    (0, None, Some(7)),
                    "row {k}"
                );
            }
        }
        db.close().await.expect("close");
        drop_target(&target).await;
    }

    #[tokio::test]
    async fn in_memory_sqlite_reads_through_its_one_connection() {
        let settings = crate::config::Settings::defaults().expect("defaults");
        let db = connect(
            &Target::Sqlite("sqlite::memory:".into()),
            &settings.database,
        )
        .await
        .expect("connect");
        db.writer()
            .execute_unprepared("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
            .await
            .expect("table");
        let txn = db.begin_write().await.expect("begin");
        txn.execute_unprepared("INSERT INTO note (id, body) VALUES (1, 'x')")
            .await
            .expect("insert");
        txn.commit().await.expect("commit");
        assert_eq!(count(db.read()).await, 1);
    }
}
