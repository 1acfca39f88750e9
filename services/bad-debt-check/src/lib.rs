//! Bad-debt pre-check (预查废): the registry of terminated-enforcement rulings (终本), batch
//! matching of cases against it, and verifiable pre-check certificates.

pub mod api;
pub mod convert;
pub mod domain;
pub mod matcher;
pub mod store;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use futures::future::BoxFuture;
use sieve_kernel::outbox::{Relay, Routes};
use sieve_kernel::server::{Access, BoundServer, Server};
use sieve_kernel::service::{Context, Service, Validate};
use sieve_kernel::{BuildError, Settings};
use sieve_proto::bad_debt_check::v1::pre_check_service_server::PreCheckServiceServer;
use sieve_proto::bad_debt_check::v1::registry_service_server::RegistryServiceServer;

use crate::domain::certificate::CourtKey;

pub const SERVICE: &str = "bad-debt-check";
/// The service it reports outcomes to and reads banks from.
pub const INTAKE_SERVICE: &str = "intake";
/// The development signing key `sieve up` makes on first start when none is configured.
pub const DEV_KEY_FILE: &str = "court-signing-dev.key";
pub const DEV_KEY_ID: &str = "dev";

/// The pre-check service, built and bound, not yet serving.
pub struct Application {
    server: BoundServer,
    relay: Relay,
    matcher: matcher::Matcher,
    db: sieve_kernel::db::Db,
}

/// `[services.bad_debt_check]`, less its endpoint.
#[derive(Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreCheckSettings {
    /// e.g. `({year}){court}预查废第{seq:06}号`: unique per court and year.
    pub certificate_number_format: String,
    /// Only rulings terminated within this many months count; 0: any (RULES.md, local).
    pub recency_window_months: u32,
    /// Cases one matching run compares at most: larger runs cost less per case, but hold
    /// the database's writer (SQLite) or the taking of cases (PostgreSQL) for longer.
    pub max_cases_per_run: i64,
    /// How long taken cases gather before a run matches them (unless a full run waits):
    /// longer means fewer, larger runs; it adds at most this much to a case's pre-check.
    pub run_delay_ms: u64,
    /// The court's Ed25519 signing key; both empty: a development key kept in `data_dir`.
    pub signing_key_id: String,
    pub signing_key_secret: String,
}

impl std::fmt::Debug for PreCheckSettings {
    // The secret never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreCheckSettings")
            .field("certificate_number_format", &self.certificate_number_format)
            .field("recency_window_months", &self.recency_window_months)
            .field("max_cases_per_run", &self.max_cases_per_run)
            .field("run_delay_ms", &self.run_delay_ms)
            .field("signing_key_id", &self.signing_key_id)
            .finish_non_exhaustive()
    }
}

impl Validate for PreCheckSettings {
    fn validate(&self) -> Result<(), (&'static str, String)> {
        let f = &self.certificate_number_format;
        if !f.contains("{seq") || !f.contains("{year}") {
            return Err((
                "certificate_number_format",
                "must contain {year} and {seq} (or {seq:0N}) so numbers are unique per year".into(),
            ));
        }
        if self.max_cases_per_run < 1 {
            return Err(("max_cases_per_run", "must be at least 1".into()));
        }
        if self.signing_key_id.trim().is_empty() != self.signing_key_secret.trim().is_empty() {
            return Err((
                "signing_key_secret",
                "set signing_key_id and signing_key_secret together (or neither, for the development key)".into(),
            ));
        }
        Ok(())
    }
}

impl PreCheckSettings {
    /// As `settings` configure them (defaults where they are silent).
    pub fn of(settings: &Settings) -> Result<Self, BuildError> {
        Context::of::<Application>(settings)?.own()
    }

    /// Months of the recency window, if one is in force.
    pub fn recency_window(&self) -> Option<u32> {
        (self.recency_window_months > 0).then_some(self.recency_window_months)
    }
}

/// The court's signing key: configured, or the development key kept in `data_dir`.
pub fn signing_key(settings: &Settings) -> Result<CourtKey, BuildError> {
    court_key(
        &PreCheckSettings::of(settings)?,
        &settings.database.data_dir,
    )
}

fn court_key(s: &PreCheckSettings, data_dir: &Path) -> Result<CourtKey, BuildError> {
    if !s.signing_key_id.trim().is_empty() {
        return CourtKey::from_secret_base64(s.signing_key_id.trim(), s.signing_key_secret.trim())
            .map_err(|e| BuildError::Config {
                key: "services.bad_debt_check.signing_key_secret".into(),
                problem: e.to_string(),
            });
    }
    dev_key(&data_dir.join(DEV_KEY_FILE))
}

/// Loads the development key kept in `path` or makes it (mode 0600 from the start).
fn dev_key(path: &Path) -> Result<CourtKey, BuildError> {
    let secret = sieve_kernel::secret_file::load_or_create(path, || {
        CourtKey::generate(DEV_KEY_ID).secret_base64()
    })?;
    if secret.created {
        tracing::warn!(file = %path.display(), "no services.bad_debt_check.signing_key_id configured: made a development signing key");
    }
    CourtKey::from_secret_base64(DEV_KEY_ID, &secret.text).map_err(|e| {
        BuildError::Bind(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{}: {e}", path.display()),
        ))
    })
}

impl Service for Application {
    const NAME: &'static str = SERVICE;
    const KEY: &'static str = "bad_debt_check";
    const DEFAULTS: &'static str = include_str!("defaults.toml");
    const CALLS: &'static [&'static str] = &[INTAKE_SERVICE];
    type Settings = PreCheckSettings;

    /// Connects to its storage, migrates, registers the signing key, binds its port, and
    /// reports outcomes to intake.
    async fn build(ctx: Context) -> Result<Self, BuildError> {
        let own: PreCheckSettings = ctx.own()?;
        let trust = ctx.trust()?;
        let intake = ctx.channel_to(INTAKE_SERVICE, &trust)?;
        let Context {
            settings,
            target,
            clock,
            port,
            ..
        } = ctx;
        let key = court_key(&own, &settings.database.data_dir)?;
        let db = sieve_kernel::db::connect_and_migrate::<store::migration::Migrator>(
            &target,
            &settings.database,
        )
        .await?;
        store::register_signing_key(
            &db,
            key.key_id(),
            &key.public_key_bytes(),
            clock.now().timestamp_millis(),
        )
        .await?;
        let relay = Relay::new(
            db.clone(),
            Arc::new(Routes::new().to_intake(intake.clone()).route(
                matcher::TOPIC_RUN_OUTCOMES,
                Arc::new(matcher::RunOutcomes::new(db.clone(), intake.clone())),
            )),
            clock.clone(),
            settings.outbox.clone(),
        );
        let window = own.recency_window();
        let matcher = matcher::Matcher::new(
            db.clone(),
            clock.clone(),
            window,
            own.max_cases_per_run,
            std::time::Duration::from_millis(own.run_delay_ms),
            relay.waker(),
        );
        let config = api::Config {
            court_code: settings.court.code.clone(),
            court_name: settings.court.name.clone(),
            number_format: own.certificate_number_format.clone(),
            recency_window_months: window,
            key,
        };
        let calendar = sieve_kernel::calendar::api::CalendarApi::new(db.clone(), clock.clone());
        let api = api::PreCheckApi::new(
            db.clone(),
            clock,
            config,
            intake,
            Some(relay.waker()),
            Some(matcher.waker()),
        );
        let max = settings.server.max_message_bytes;
        let server = Server::new(SERVICE, &settings.server, Access::Internal(trust))
            .add_service(
                RegistryServiceServer::new(api.clone())
                    .max_decoding_message_size(max)
                    .max_encoding_message_size(max),
            )
            .add_service(
                PreCheckServiceServer::new(api)
                    .max_decoding_message_size(max)
                    .max_encoding_message_size(max),
            )
            .add_service(calendar.server())
            .bind(&settings.server.host, port)
            .await?;
        Ok(Self {
            server,
            relay,
            matcher,
            db,
        })
    }

    fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    async fn run(self, shutdown: BoxFuture<'static, ()>) -> Result<(), tonic::transport::Error> {
        self.run_until(shutdown).await
    }
}

impl Application {
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    pub fn db(&self) -> &sieve_kernel::db::Db {
        &self.db
    }

    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), tonic::transport::Error> {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut stopped = stopped.clone();
        let matcher = tokio::spawn(self.matcher.run(async move {
            let _ = stopped.wait_for(|s| *s).await;
        }));
        let served = self.server.run_with_relay(Some(self.relay), shutdown).await;
        let _ = stop.send(true);
        let _ = matcher.await;
        served
    }
}
