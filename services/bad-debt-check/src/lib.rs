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

use sieve_kernel::db::Target;
use sieve_kernel::internal::Trust;
use sieve_kernel::outbox::{Relay, Routes};
use sieve_kernel::server::{Access, BoundServer, Server};
use sieve_kernel::{BuildError, Settings, SharedClock};
use sieve_proto::bad_debt_check::v1::pre_check_service_server::PreCheckServiceServer;
use sieve_proto::bad_debt_check::v1::registry_service_server::RegistryServiceServer;

use crate::domain::certificate::CourtKey;

pub const SERVICE: &str = "bad-debt-check";
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

fn config_error(problem: String) -> BuildError {
    BuildError::Bind(std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        problem,
    ))
}

/// The court's signing key: configured, or the development key kept in `data_dir`.
pub fn signing_key(settings: &Settings) -> Result<CourtKey, BuildError> {
    let s = &settings.bad_debt_check;
    if !s.signing_key_id.trim().is_empty() {
        return CourtKey::from_secret_base64(s.signing_key_id.trim(), s.signing_key_secret.trim())
            .map_err(|e| config_error(format!("bad_debt_check.signing_key_secret: {e}")));
    }
    let path = settings.database.data_dir.join(DEV_KEY_FILE);
    dev_key(&path)
}

/// Loads the development key kept in `path` or makes it (mode 0600 from the start).
fn dev_key(path: &Path) -> Result<CourtKey, BuildError> {
    let secret = sieve_kernel::secret_file::load_or_create(path, || {
        CourtKey::generate(DEV_KEY_ID).secret_base64()
    })?;
    if secret.created {
        tracing::warn!(file = %path.display(), "no bad_debt_check.signing_key configured: made a development signing key");
    }
    CourtKey::from_secret_base64(DEV_KEY_ID, &secret.text)
        .map_err(|e| config_error(format!("{}: {e}", path.display())))
}

impl Application {
    /// Connects to `target`, migrates, registers the signing key, binds `port` (0: any), and
    /// reports outcomes to intake at `intake_url`.
    pub async fn build(
        settings: &Settings,
        target: &Target,
        clock: SharedClock,
        port: u16,
        intake_url: &str,
    ) -> Result<Self, BuildError> {
        let key = signing_key(settings)?;
        let trust = Trust::from_settings(settings)?;
        let db = sieve_kernel::db::connect_and_migrate::<store::migration::Migrator>(
            target,
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
        let intake = sieve_kernel::internal::channel(intake_url, &settings.server, &trust)
            .map_err(|e| config_error(format!("intake url `{intake_url}`: {e}")))?;
        let relay = Relay::new(
            db.clone(),
            Arc::new(Routes::new().to_intake(intake.clone()).route(
                matcher::TOPIC_RUN_OUTCOMES,
                Arc::new(matcher::RunOutcomes::new(db.clone(), intake.clone())),
            )),
            clock.clone(),
            settings.outbox.clone(),
        );
        let window = settings.bad_debt_check.recency_window_months;
        let matcher = matcher::Matcher::new(
            db.clone(),
            clock.clone(),
            (window > 0).then_some(window),
            settings.bad_debt_check.max_cases_per_run,
            std::time::Duration::from_millis(settings.bad_debt_check.run_delay_ms),
            relay.waker(),
        );
        let config = api::Config {
            court_code: settings.court.code.clone(),
            court_name: settings.court.name.clone(),
            number_format: settings.bad_debt_check.certificate_number_format.clone(),
            recency_window_months: (window > 0).then_some(window),
            key,
        };
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
            .bind(&settings.server.host, port)
            .await?;
        Ok(Self {
            server,
            relay,
            matcher,
            db,
        })
    }

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
