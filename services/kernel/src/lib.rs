//! The kernel every Sieve service stands on.
//!
//! Nothing here knows about cases or courts beyond what all services share: configuration,
//! telemetry with personal-data masking, storage on SQLite or PostgreSQL, the gRPC server
//! builder (health, reflection, request ids, limits, graceful shutdown), the clock, the legal
//! calendar (CPL 85 periods), the transactional outbox, the way out for documents served on
//! parties (`delivery`) and the one mapping from errors to `tonic::Status`.

pub mod bulk;
pub mod calendar;
pub mod clock;
pub mod config;
pub mod db;
pub mod deadline;
pub mod delivery;
pub mod error;
pub mod internal;
pub mod lookup;
pub mod malformed;
pub mod outbox;
pub mod refusals;
pub mod replay;
pub mod request_id;
pub mod rules;
pub mod secret_file;
pub mod server;
pub mod service;
pub mod stage;
pub mod telemetry;
pub mod wire;
pub mod worker;

pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use config::Settings;
pub use error::{Error, ErrorCode};

/// Why a service could not be built: its configuration, its storage, or its port.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("configuration key `{key}`: {problem}")]
    Config { key: String, problem: String },
    #[error("storage: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error("binding the port: {0}")]
    Bind(#[from] std::io::Error),
}
