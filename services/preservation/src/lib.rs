//! Preservation (以保促调), the second layer of the chain: the bank applies with security, the
//! court rules in batch, freezes go to the payment platforms, the debtor calls the bank's
//! callback phone printed on the notice and enters mediation; a suit not filed within 30 days
//! lifts the freezes (CPL 104).
//!
//! `domain` holds the rules, pure: what an application must carry, its fee, the clocks (the
//! 48-hour ruling limit, the 30-day suit period and its reminder, the renewal window) and the
//! order of freezes across platforms. `store` keeps applications, orders, callbacks and the
//! deadlines; `api` is the tonic service; `executor` carries approvals out at the platforms
//! (through [`channel::FreezeChannel`]) and serves the notice (through the kernel's
//! `Delivery`); the kernel's sweeper fires the clocks.

pub mod api;
pub mod channel;
pub mod convert;
pub mod domain;
pub mod executor;
pub mod store;

use std::net::SocketAddr;
use std::sync::Arc;

use futures::future::BoxFuture;
use sieve_kernel::deadline::Sweeper;
use sieve_kernel::outbox::{Relay, Routes};
use sieve_kernel::server::{Access, BoundServer, Server};
use sieve_kernel::service::{Context, Service, Validate};
use sieve_kernel::{BuildError, Settings};
use sieve_proto::preservation::v1::preservation_service_server::PreservationServiceServer;

use crate::domain::freezes::Platform;

pub const SERVICE: &str = "preservation";
/// The service it asks about cases and reports outcomes to.
pub const INTAKE_SERVICE: &str = "intake";

/// `[services.preservation]`, less its endpoint.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreservationSettings {
    pub platforms_url: String,
    pub delivery_url: String,
    pub platforms: Vec<String>,
    pub executor_batch: u64,
}

impl Validate for PreservationSettings {
    fn validate(&self) -> Result<(), (&'static str, String)> {
        for (key, url) in [
            ("platforms_url", &self.platforms_url),
            ("delivery_url", &self.delivery_url),
        ] {
            if tonic::transport::Endpoint::from_shared(url.clone()).is_err()
                || url.trim().is_empty()
            {
                return Err((key, format!("not a URL: {url:?}")));
            }
        }
        if self.platforms.is_empty() {
            return Err((
                "platforms",
                "name at least one of ALIPAY, WECHAT_PAY".into(),
            ));
        }
        if let Some(bad) = self.platforms.iter().find(|p| Platform::parse(p).is_none()) {
            return Err(("platforms", format!("{bad:?} is not ALIPAY or WECHAT_PAY")));
        }
        if self.executor_batch < 1 {
            return Err(("executor_batch", "must be at least 1".into()));
        }
        Ok(())
    }
}

impl PreservationSettings {
    pub fn of(settings: &Settings) -> Result<Self, BuildError> {
        Context::of::<Application>(settings)?.own()
    }
}

/// The preservation service, built and bound, not yet serving.
pub struct Application {
    server: BoundServer,
    relay: Relay,
    sweeper: Sweeper,
    executor: executor::Executor,
    db: sieve_kernel::db::Db,
}

fn external(key: &str, url: &str) -> Result<tonic::transport::Channel, BuildError> {
    tonic::transport::Endpoint::from_shared(url.to_string())
        .map(|e| e.connect_lazy())
        .map_err(|e| BuildError::Config {
            key: format!("services.preservation.{key}"),
            problem: e.to_string(),
        })
}

impl Service for Application {
    const NAME: &'static str = SERVICE;
    const KEY: &'static str = "preservation";
    const DEFAULTS: &'static str = include_str!("defaults.toml");
    const CALLS: &'static [&'static str] = &[INTAKE_SERVICE];
    type Settings = PreservationSettings;

    /// Connects to its storage, migrates, binds its port; the relay reports to intake, the
    /// sweeper fires the clocks, the executor talks to the platforms and the document service.
    async fn build(ctx: Context) -> Result<Self, BuildError> {
        let own: PreservationSettings = ctx.own()?;
        let trust = ctx.trust()?;
        let intake = ctx.channel_to(INTAKE_SERVICE, &trust)?;
        let Context {
            settings,
            target,
            clock,
            port,
            ..
        } = ctx;
        let db = sieve_kernel::db::connect_and_migrate::<store::migration::Migrator>(
            &target,
            &settings.database,
        )
        .await?;
        let relay = Relay::new(
            db.clone(),
            Arc::new(Routes::new().to_intake(intake.clone())),
            clock.clone(),
            settings.outbox.clone(),
        );
        let sweeper = Sweeper::new(db.clone(), Arc::new(store::OnDueDeadline), clock.clone());
        let platforms: Arc<dyn channel::FreezeChannel> = Arc::new(channel::PaymentPlatforms::new(
            external("platforms_url", &own.platforms_url)?,
        ));
        let delivery = executor::document_service(external("delivery_url", &own.delivery_url)?);
        let executor = executor::Executor::new(
            db.clone(),
            clock.clone(),
            platforms,
            delivery,
            settings.court.name.clone(),
            relay.waker(),
        )
        .batch(own.executor_batch);
        let config = api::Config {
            platforms: own
                .platforms
                .iter()
                .filter_map(|p| Platform::parse(p))
                .collect(),
        };
        let calendar = sieve_kernel::calendar::api::CalendarApi::new(db.clone(), clock.clone());
        let api = api::PreservationApi::new(
            db.clone(),
            clock,
            config,
            intake,
            Some(relay.waker()),
            Some(executor.waker()),
        );
        let max = settings.server.max_message_bytes;
        let server = Server::new(SERVICE, &settings.server, Access::Internal(trust))
            .add_service(
                PreservationServiceServer::new(api)
                    .max_decoding_message_size(max)
                    .max_encoding_message_size(max),
            )
            .add_service(calendar.server())
            .bind(&settings.server.host, port)
            .await?;
        Ok(Self {
            server,
            relay,
            sweeper,
            executor,
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
    pub fn db(&self) -> &sieve_kernel::db::Db {
        &self.db
    }

    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), tonic::transport::Error> {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let until = |mut s: tokio::sync::watch::Receiver<bool>| async move {
            let _ = s.wait_for(|s| *s).await;
        };
        let sweeper = tokio::spawn(self.sweeper.run(until(stopped.clone())));
        let executor = tokio::spawn(self.executor.run(until(stopped.clone())));
        let served = self.server.run_with_relay(Some(self.relay), shutdown).await;
        let _ = stop.send(true);
        let _ = sweeper.await;
        let _ = executor.await;
        served
    }
}
