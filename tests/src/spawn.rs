//! Services started for a test: from the registry, on port 0, on fresh storage.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sieve_cli::{CliError, Launch, Suite};
use sieve_kernel::db::Target;
use sieve_kernel::internal::{self, InternalChannel};
use sieve_kernel::service::Peers;
use sieve_kernel::{Settings, SharedClock};
use sieve_proto::bad_debt_check::v1::pre_check_service_client::PreCheckServiceClient;
use sieve_proto::bad_debt_check::v1::registry_service_client::RegistryServiceClient;
use sieve_proto::intake::v1::intake_service_client::IntakeServiceClient;
use sieve_proto::preservation::v1::preservation_service_client::PreservationServiceClient;

/// What a test starts: which services, under which settings, on which storage and clock.
/// Clones share their storage, so a clone started after a stop (or a crash) finds what the
/// first one wrote; the storage goes when the last of them is dropped.
#[derive(Clone)]
pub struct Spawn {
    services: Vec<&'static str>,
    settings: Settings,
    launch: Launch,
    storage: Arc<Storage>,
}

impl Spawn {
    /// `services` (registry names; started in registry order, each wired to the others),
    /// each on a fresh database, on free ports, with the test credential configured and a
    /// short shutdown grace. A service not started here is not reachable unless
    /// [`Spawn::peer`] says where it is.
    pub fn new(services: &[&'static str]) -> Self {
        Self::on(services, &Database::from_env())
    }

    /// As [`Spawn::new`], on `database` whatever the environment says (a benchmark measures
    /// both in one run).
    pub fn on(services: &[&'static str], database: &Database) -> Self {
        sieve_kernel::telemetry::init_for_tests();
        let dir = fresh_dir();
        let mut settings = internal::testing::settings();
        settings.server.shutdown_grace_secs = 2;
        settings.database.data_dir = dir.clone();
        let targets: HashMap<&'static str, Target> = services
            .iter()
            .map(|name| (*name, fresh_target(&dir, name, database)))
            .collect();
        Self {
            services: services.to_vec(),
            settings,
            launch: Launch {
                any_port: true,
                targets: targets.clone(),
                peers: Some(Peers::new()),
                ..Launch::default()
            },
            storage: Arc::new(Storage { dir, targets }),
        }
    }

    /// Every service of the suite.
    pub fn suite() -> Self {
        Self::new(&sieve_cli::suite::names())
    }

    /// Changes the settings (a service's section: `settings.set_service(..)`).
    pub fn configure(mut self, change: impl FnOnce(&mut Settings)) -> Self {
        change(&mut self.settings);
        self
    }

    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.launch.clock = Some(clock);
        self
    }

    /// `service` on `port` instead of a free one (a restart where its callers look for it).
    pub fn port(mut self, service: &'static str, port: u16) -> Self {
        self.launch.ports.insert(service, port);
        self
    }

    /// `service`, not started here, answers at `url`.
    pub fn peer(mut self, service: &str, url: impl Into<String>) -> Self {
        if let Some(peers) = self.launch.peers.as_mut() {
            peers.insert(service, url);
        }
        self
    }

    /// Services not started here answer where the settings say, as under `sieve up`.
    pub fn configured_peers(mut self) -> Self {
        self.launch.peers = None;
        self
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Where `service` keeps its tables (one of those started).
    pub fn target(&self, service: &str) -> &Target {
        target_of(&self.storage, service)
    }

    /// Builds and starts the services; panics, naming the service, if one fails to.
    pub async fn start(self) -> Spawned {
        match self.try_start().await {
            Ok(spawned) => spawned,
            Err(e) => panic!("the services {:?} did not start: {e}", self.services),
        }
    }

    pub async fn try_start(&self) -> Result<Spawned, CliError> {
        let suite = Suite::start(&self.settings, &self.services, &self.launch).await?;
        Ok(Spawned {
            reach: Reach {
                addrs: suite.addrs().to_vec(),
                settings: self.settings.clone(),
                storage: self.storage.clone(),
            },
            suite: Some(suite),
        })
    }

    /// Starts the services on a runtime of their own, so that the test can kill them as a
    /// crash would: every task dropped where it stands, no cleanup run, connections cut.
    pub fn start_crashable(self) -> Crashable {
        let (ready, started) = std::sync::mpsc::channel();
        let (kill, killed) = std::sync::mpsc::channel::<()>();
        let (settings, services, launch) = (
            self.settings.clone(),
            self.services.clone(),
            self.launch.clone(),
        );
        let thread = std::thread::spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => panic!("a runtime for the crashable services: {e}"),
            };
            match runtime.block_on(Suite::start(&settings, &services, &launch)) {
                Ok(suite) => {
                    let _ = ready.send(suite.addrs().to_vec());
                    runtime.spawn(suite.run_until(std::future::pending()));
                }
                Err(e) => panic!("the services {services:?} did not start: {e}"),
            }
            let _ = killed.recv();
            runtime.shutdown_timeout(Duration::from_secs(2));
        });
        let addrs = match started.recv() {
            Ok(addrs) => addrs,
            Err(_) => panic!("the crashable services did not start (see the panic above)"),
        };
        Crashable {
            reach: Reach {
                addrs,
                settings: self.settings,
                storage: self.storage,
            },
            kill,
            thread: Some(thread),
        }
    }
}

/// How a test reaches services that run: their addresses and clients carrying the internal
/// credential.
pub struct Reach {
    addrs: Vec<(&'static str, SocketAddr)>,
    settings: Settings,
    storage: Arc<Storage>,
}

impl Reach {
    /// Where `service` listens; panics for a service not started.
    pub fn addr(&self, service: &str) -> SocketAddr {
        match self.addrs.iter().find(|(name, _)| *name == service) {
            Some((_, addr)) => *addr,
            None => panic!("{service} was not started (started: {:?})", self.addrs),
        }
    }

    pub fn url(&self, service: &str) -> String {
        format!("http://{}", self.addr(service))
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn data_dir(&self) -> &Path {
        &self.storage.dir
    }

    pub fn target(&self, service: &str) -> &Target {
        target_of(&self.storage, service)
    }

    /// A channel to `service` with the internal credential the settings configure.
    pub fn channel(&self, service: &str) -> InternalChannel {
        let url = self.url(service);
        internal::Trust::from_settings(&self.settings)
            .map_err(|e| e.to_string())
            .and_then(|trust| {
                internal::channel(&url, &self.settings.server, &trust).map_err(|e| e.to_string())
            })
            .unwrap_or_else(|e| panic!("a channel to {service} at {url}: {e}"))
    }

    /// A plain channel (no credential), as an outside caller has: for the gateway's doors
    /// and for refusal tests.
    pub fn plain_channel(&self, service: &str) -> tonic::transport::Channel {
        let url = self.url(service);
        sieve_kernel::server::channel(&url, &self.settings.server)
            .unwrap_or_else(|e| panic!("a channel to {service} at {url}: {e}"))
    }

    /// Intake's client, taking and sending messages as large as a batch's.
    pub fn intake(&self) -> IntakeServiceClient<InternalChannel> {
        IntakeServiceClient::new(self.channel(crate::INTAKE))
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20)
    }

    pub fn registry(&self) -> RegistryServiceClient<InternalChannel> {
        RegistryServiceClient::new(self.channel(crate::PRE_CHECK))
    }

    pub fn preservation(&self) -> PreservationServiceClient<InternalChannel> {
        PreservationServiceClient::new(self.channel(crate::PRESERVATION))
    }

    pub fn pre_check(&self) -> PreCheckServiceClient<InternalChannel> {
        PreCheckServiceClient::new(self.channel(crate::PRE_CHECK))
    }

    /// `service`'s own database, connected anew: for tests that must see or damage what it
    /// stored.
    pub async fn database(&self, service: &str) -> sieve_kernel::db::Db {
        let target = self.target(service);
        sieve_kernel::db::connect(target, &self.settings.database)
            .await
            .unwrap_or_else(|e| panic!("{service}'s database {target:?}: {e}"))
    }
}

/// Services started by [`Spawn::start`], serving until [`Spawned::stop`].
pub struct Spawned {
    reach: Reach,
    suite: Option<Suite>,
}

impl std::ops::Deref for Spawned {
    type Target = Reach;
    fn deref(&self) -> &Reach {
        &self.reach
    }
}

impl Spawned {
    /// Stops every service, each draining its calls, and fails the test if one did not stop
    /// cleanly. The storage goes with the last [`Spawn`] or `Spawned` that shares it.
    pub async fn stop(mut self) {
        if let Some(suite) = self.suite.take()
            && let Err(e) = suite.shutdown().await
        {
            panic!("a service did not stop cleanly: {e}");
        }
    }
}

/// Services on a runtime of their own ([`Spawn::start_crashable`]).
pub struct Crashable {
    reach: Reach,
    kill: std::sync::mpsc::Sender<()>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::ops::Deref for Crashable {
    type Target = Reach;
    fn deref(&self) -> &Reach {
        &self.reach
    }
}

impl Crashable {
    /// kill -9, as far as the databases and the callers can tell. Returns where the services
    /// listened.
    pub fn crash(mut self) -> Vec<(&'static str, SocketAddr)> {
        let _ = self.kill.send(());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        std::mem::take(&mut self.reach.addrs)
    }
}

impl Drop for Crashable {
    fn drop(&mut self) {
        let _ = self.kill.send(());
    }
}

/// A test's data directory and databases, removed when the last holder lets go (on a panic
/// too). What survives a killed test process, `make clean-test-db` removes.
struct Storage {
    dir: PathBuf,
    targets: HashMap<&'static str, Target>,
}

impl Drop for Storage {
    fn drop(&mut self) {
        let targets: Vec<Target> = self.targets.values().cloned().collect();
        sieve_kernel::db::testing::remove(&targets);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn target_of<'a>(storage: &'a Storage, service: &str) -> &'a Target {
    match storage.targets.get(service) {
        Some(target) => target,
        None => panic!("{service} has no storage here (not started by this Spawn)"),
    }
}

/// A directory no other test uses.
fn fresh_dir() -> PathBuf {
    let unique = uuid::Uuid::new_v4().simple().to_string();
    let dir = std::env::temp_dir().join("sieve-tests").join(format!(
        "{}-{}",
        std::process::id(),
        &unique[..12]
    ));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        panic!("a test directory at {}: {e}", dir.display());
    }
    dir
}

/// Where a [`Spawn`] keeps its services' tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// A file per service in the test's directory.
    Sqlite,
    /// A fresh schema per service on this server.
    Postgres(String),
}

impl Database {
    /// PostgreSQL when `SIEVE_TEST_DATABASE=postgres`, else SQLite.
    pub fn from_env() -> Self {
        match sieve_kernel::db::testing::postgres_url() {
            Some(url) => Database::Postgres(url),
            None => Database::Sqlite,
        }
    }
}

fn fresh_target(dir: &Path, service: &str, database: &Database) -> Target {
    match database {
        Database::Sqlite => Target::Sqlite(format!(
            "sqlite://{}?mode=rwc",
            dir.join(format!("{service}.db")).display()
        )),
        Database::Postgres(url) => {
            let unique = uuid::Uuid::new_v4().simple().to_string();
            Target::Postgres {
                url: url.clone(),
                schema: format!("t_{}_{}", service.replace('-', "_"), &unique[..12]),
            }
        }
    }
}
