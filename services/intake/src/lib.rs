//! Intake: creditor banks, batches, cases, screening and the chain router.
//!
//! `domain` holds the pure rules, `store` the tables and queries, `api` the gRPC service;
//! [`Application`] puts them on a port.

pub mod announce;
pub mod api;
pub mod closed;
pub mod convert;
pub mod domain;
pub mod store;

use std::net::SocketAddr;

use futures::future::BoxFuture;
use sieve_kernel::internal::Trust;
use sieve_kernel::server::{Access, BoundServer, Server};
use sieve_kernel::service::{Context, Peers, Service};
use sieve_kernel::{BuildError, SharedClock};
use sieve_proto::intake::v1::intake_service_server::IntakeServiceServer;

pub const SERVICE: &str = "intake";
/// The service of the chain's first stage, which intake announces admitted cases to.
pub const PRE_CHECK_SERVICE: &str = "bad-debt-check";
/// The preservation service, which intake tells when a case it preserved closes.
pub const PRESERVATION_SERVICE: &str = "preservation";

/// The intake service, built and bound, not yet serving.
pub struct Application {
    server: BoundServer,
    db: sieve_kernel::db::Db,
    clock: SharedClock,
    outbox: sieve_kernel::config::OutboxSettings,
    server_settings: sieve_kernel::config::ServerSettings,
    trust: Trust,
    routes: Option<sieve_kernel::outbox::Routes>,
}

/// Intake's own settings: none beyond its endpoint yet (screening reads `[court]`).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntakeSettings {}

impl sieve_kernel::service::Validate for IntakeSettings {}

impl Service for Application {
    const NAME: &'static str = SERVICE;
    const KEY: &'static str = "intake";
    const DEFAULTS: &'static str = include_str!("defaults.toml");
    type Settings = IntakeSettings;

    /// Connects to its storage, migrates, binds its port (0: any free port) and clears the
    /// batches a crashed receiver left: those whose lease lapsed, and those an earlier run
    /// bound to this same address left (it is dead, since this process holds its port now).
    async fn build(ctx: Context) -> Result<Self, BuildError> {
        let _: IntakeSettings = ctx.own()?;
        let Context {
            settings,
            target,
            clock,
            port,
            ..
        } = ctx;
        let trust = Trust::from_settings(&settings)?;
        let db = sieve_kernel::db::connect_and_migrate::<store::migration::Migrator>(
            &target,
            &settings.database,
        )
        .await?;
        let listener = tokio::net::TcpListener::bind((settings.server.host.as_str(), port)).await?;
        let receiver =
            store::Receiver::new(&sieve_kernel::server::hostname(), listener.local_addr()?);
        let aborted =
            store::abort_abandoned_batches(&db, clock.now().timestamp_millis(), Some(&receiver))
                .await?;
        if aborted > 0 {
            tracing::warn!(aborted, "aborted batches left unfinished by an earlier run");
        }
        let scope = domain::screening::ScopeConfig {
            divisions: settings.court.divisions.clone(),
            loan_limit_fen: settings.court.loan_limit_fen,
        };
        let api = api::IntakeApi::new(db.clone(), clock.clone(), scope, receiver);
        let max = settings.server.max_message_bytes;
        let service = IntakeServiceServer::new(api)
            .max_decoding_message_size(max)
            .max_encoding_message_size(max);
        let server = Server::new(SERVICE, &settings.server, Access::Internal(trust.clone()))
            .add_service(service)
            .with_listener(listener)?;
        Ok(Self {
            server,
            db,
            clock,
            outbox: settings.outbox.clone(),
            server_settings: settings.server.clone(),
            trust,
            routes: None,
        })
    }

    fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The pre-check and preservation are built after intake (they call intake), so cases
    /// entering the one and closed cases for the other are sent once every service is bound.
    /// A peer not there: its messages wait in the outbox.
    fn connect_late(self, peers: &Peers) -> Result<Self, BuildError> {
        let app = match peers.get(PRE_CHECK_SERVICE) {
            Some(url) => self.deliver_to_bad_debt_check(url)?,
            None => self,
        };
        match peers.get(PRESERVATION_SERVICE) {
            Some(url) => app.deliver_to_preservation(url),
            None => Ok(app),
        }
    }

    async fn run(self, shutdown: BoxFuture<'static, ()>) -> Result<(), tonic::transport::Error> {
        self.run_until(shutdown).await
    }
}

impl Application {
    /// Announces cases entering the pre-check to bad-debt-check at `url`. Without it the
    /// announcements wait in intake's outbox until a receiver is configured.
    pub fn deliver_to_bad_debt_check(self, url: &str) -> Result<Self, BuildError> {
        let channel = self.channel_to(PRE_CHECK_SERVICE, url)?;
        let db = self.db.clone();
        Ok(self.route(|routes| {
            routes
                .route(
                    announce::TOPIC_ANNOUNCED_CASES,
                    std::sync::Arc::new(announce::AnnouncedCases::new(db, channel.clone())),
                )
                // Messages an earlier version wrote, each carrying its cases.
                .route(
                    sieve_kernel::outbox::TOPIC_CHECK_CASES,
                    std::sync::Arc::new(sieve_kernel::outbox::PreCheckCases::new(channel)),
                )
        }))
    }

    /// Tells preservation at `url` of closed cases it was applied for. Without it the
    /// messages wait in intake's outbox until a receiver is configured.
    pub fn deliver_to_preservation(self, url: &str) -> Result<Self, BuildError> {
        let channel = self.channel_to(PRESERVATION_SERVICE, url)?;
        Ok(self.route(|routes| {
            routes.route(
                closed::TOPIC_CASE_CLOSED,
                std::sync::Arc::new(closed::CaseClosed::new(channel)),
            )
        }))
    }

    /// A channel to peer `name` at `url`; a bad URL names the peer's settings key.
    fn channel_to(
        &self,
        name: &str,
        url: &str,
    ) -> Result<sieve_kernel::internal::InternalChannel, BuildError> {
        sieve_kernel::internal::channel(url, &self.server_settings, &self.trust).map_err(|e| {
            BuildError::Config {
                key: format!("services.{}.url", sieve_kernel::service::section_key(name)),
                problem: format!("`{url}`: {e}"),
            }
        })
    }

    /// Adds routes to the relay's (the relay runs once there is one).
    fn route(
        mut self,
        add: impl FnOnce(sieve_kernel::outbox::Routes) -> sieve_kernel::outbox::Routes,
    ) -> Self {
        self.routes = Some(add(self.routes.take().unwrap_or_default()));
        self
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
        let sweep = tokio::spawn(sweep_abandoned_batches(self.db.clone(), self.clock.clone()));
        let relay = self.routes.map(|routes| {
            sieve_kernel::outbox::Relay::new(
                self.db.clone(),
                std::sync::Arc::new(routes),
                self.clock.clone(),
                self.outbox.clone(),
            )
        });
        let served = self.server.run_with_relay(relay, shutdown).await;
        sweep.abort();
        served
    }
}

/// How often the batches of receivers that died are looked for.
const SWEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// Aborts, while the service runs, the batches whose receiver died (their lease lapsed), so
/// an abandoned batch is resolved within a lease and a sweep, not only at the next start.
async fn sweep_abandoned_batches(db: sieve_kernel::db::Db, clock: SharedClock) {
    let mut tick = tokio::time::interval(SWEEP_INTERVAL);
    loop {
        tick.tick().await;
        let now = clock.now().timestamp_millis();
        match store::abort_abandoned_batches(&db, now, None).await {
            Ok(0) => {}
            Ok(aborted) => tracing::warn!(aborted, "aborted batches whose receiver stopped"),
            Err(e) => tracing::warn!(error = %e, "could not sweep abandoned batches"),
        }
    }
}
