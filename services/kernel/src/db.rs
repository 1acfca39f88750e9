//! Storage: one set of sea-orm entities and migrations over embedded SQLite (the default) or
//! PostgreSQL. SQLite runs in WAL mode with a busy timeout and a single connection, so there
//! is exactly one writer and write transactions begin IMMEDIATE (no upgrade deadlocks).
//! On PostgreSQL each service keeps its tables in a schema of its own name.

use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, DbErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;

use crate::config::DatabaseSettings;

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

/// Connects (creating the SQLite file's directory or the PostgreSQL schema when missing).
pub async fn connect(
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
            let mut opts = ConnectOptions::new(url.clone());
            opts.max_connections(1)
                .min_connections(1)
                .sqlx_logging(false)
                .map_sqlx_sqlite_opts(move |o| {
                    o.create_if_missing(true)
                        .journal_mode(SqliteJournalMode::Wal)
                        .synchronous(SqliteSynchronous::Normal)
                        .busy_timeout(busy)
                        .foreign_keys(true)
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
                .sqlx_logging(false)
                .set_schema_search_path(schema.clone());
            Database::connect(opts).await
        }
    }
}

/// Connects and brings the schema up to date.
pub async fn connect_and_migrate<M: MigratorTrait>(
    target: &Target,
    settings: &DatabaseSettings,
) -> Result<DatabaseConnection, DbErr> {
    let db = connect(target, settings).await?;
    M::up(&db, None).await?;
    Ok(db)
}

/// Begins a write transaction: IMMEDIATE on SQLite, so the write lock is taken up front.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// Rows per multi-row INSERT that stay under the backend's bind-parameter limit
/// (SQLite 32,766 since 3.32; PostgreSQL 65,535), with room to spare.
pub fn rows_per_insert(backend: DatabaseBackend, columns: usize) -> usize {
    let limit = match backend {
        DatabaseBackend::Postgres => 65_535,
        _ => 32_766,
    };
    (limit / columns.max(1)).clamp(1, 4_000)
}

/// Drops a PostgreSQL schema (tests create one per test).
pub async fn drop_schema(url: &str, schema: &str) -> Result<(), DbErr> {
    let mut opts = ConnectOptions::new(url.to_string());
    opts.max_connections(1).sqlx_logging(false);
    let admin = Database::connect(opts).await?;
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
