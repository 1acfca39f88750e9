//! One way to build, wire and run a service (DESIGN.md §11).
//!
//! A service crate implements [`Service`]: its name, its settings section
//! `[services.<key>]` (defaults in its own TOML, its own typed settings), the services it
//! calls, and how it is built from a [`Context`]. The CLI keeps one registry of
//! [`Registration`]s, built in order, each given its peers' addresses; nothing in the kernel
//! names a service.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use futures::future::BoxFuture;
use serde::de::DeserializeOwned;

use crate::db::Target;
use crate::internal::{InternalChannel, Trust};
use crate::{BuildError, Settings, SharedClock};

/// What a service's own settings check beyond their types, naming the key at fault.
pub trait Validate {
    /// `Err((key within the section, problem))`.
    fn validate(&self) -> Result<(), (&'static str, String)> {
        Ok(())
    }
}

/// A service of the suite.
pub trait Service: Sized + Send + 'static {
    /// What logs, the CLI and storage call it: `intake`, `bad-debt-check`.
    const NAME: &'static str;
    /// Its settings section: `[services.<KEY>]`, `SIEVE__SERVICES__<KEY>__<FIELD>`.
    const KEY: &'static str;
    /// Its section's defaults (TOML): `port`, `url` and the keys of [`Service::Settings`].
    const DEFAULTS: &'static str;
    /// The services whose addresses it needs when built; they are built before it.
    const CALLS: &'static [&'static str] = &[];
    /// Its section, less `port` and `url`.
    type Settings: DeserializeOwned + Validate;

    /// Connects its storage, binds its port and builds its API; nothing serves yet.
    fn build(ctx: Context) -> impl Future<Output = Result<Self, BuildError>> + Send;

    fn local_addr(&self) -> SocketAddr;

    /// Once every service of the suite is bound: wiring to services built after this one.
    fn connect_late(self, _peers: &Peers) -> Result<Self, BuildError> {
        Ok(self)
    }

    /// Serves until `shutdown`, then drains.
    fn run(
        self,
        shutdown: BoxFuture<'static, ()>,
    ) -> impl Future<Output = Result<(), tonic::transport::Error>> + Send;
}

/// The addresses of the services a service calls, by name.
#[derive(Debug, Clone, Default)]
pub struct Peers(BTreeMap<String, String>);

impl Peers {
    pub fn new() -> Self {
        Self::default()
    }

    /// `url` answers for service `name` (e.g. `http://127.0.0.1:50051`).
    pub fn with(mut self, name: &str, url: impl Into<String>) -> Self {
        self.0.insert(name.to_string(), url.into());
        self
    }

    pub fn insert(&mut self, name: &str, url: impl Into<String>) {
        self.0.insert(name.to_string(), url.into());
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// The address of `name`, which the service cannot be built without.
    pub fn url(&self, name: &str) -> Result<&str, BuildError> {
        self.get(name).ok_or_else(|| BuildError::Config {
            key: format!("services.{}.url", section_key(name)),
            problem: format!("no address for service `{name}`"),
        })
    }
}

/// The settings key of a service's name (`bad-debt-check` → `bad_debt_check`).
pub fn section_key(name: &str) -> String {
    name.replace('-', "_")
}

/// Where a service listens and how others reach it: the two keys every section has.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Endpoint {
    pub port: u16,
    /// Where it answers for services on other hosts; empty: this host's `port`.
    #[serde(default)]
    pub url: String,
}

/// Everything a service is built from.
#[derive(Clone)]
pub struct Context {
    pub settings: Settings,
    /// Where its tables live.
    pub target: Target,
    pub clock: SharedClock,
    /// The port to bind (0: any free port, as tests ask).
    pub port: u16,
    pub peers: Peers,
    name: &'static str,
    key: &'static str,
    /// Its section, defaults overlaid with what is configured, less `port` and `url`.
    own: Table,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("service", &self.name)
            .field("target", &self.target)
            .field("port", &self.port)
            .field("peers", &self.peers)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// The context of `S` under `settings`: its configured port, its configured storage, the
    /// system clock and no peers yet.
    pub fn of<S: Service>(settings: &Settings) -> Result<Self, BuildError> {
        Self::new(S::NAME, S::KEY, S::DEFAULTS, settings)
    }

    fn new(
        name: &'static str,
        key: &'static str,
        defaults: &'static str,
        settings: &Settings,
    ) -> Result<Self, BuildError> {
        let (endpoint, own) = section(key, defaults, settings)?;
        Ok(Self {
            settings: settings.clone(),
            target: Target::for_service(&settings.database, name),
            clock: crate::clock::system(),
            port: endpoint.port,
            peers: Peers::new(),
            name,
            key,
            own,
        })
    }

    /// Binds any free port.
    pub fn any_port(mut self) -> Self {
        self.port = 0;
        self
    }

    pub fn with_target(mut self, target: Target) -> Self {
        self.target = target;
        self
    }

    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    pub fn with_peer(mut self, name: &str, url: impl Into<String>) -> Self {
        self.peers.insert(name, url);
        self
    }

    pub fn with_peers(mut self, peers: Peers) -> Self {
        self.peers = peers;
        self
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The service's own settings, checked: an error names the key.
    pub fn own<T: DeserializeOwned + Validate>(&self) -> Result<T, BuildError> {
        own_settings(self.key, &self.own)
    }

    /// How it proves itself to the other services and checks their calls.
    pub fn trust(&self) -> Result<Trust, BuildError> {
        Ok(Trust::from_settings(&self.settings)?)
    }

    /// A channel to peer `name`, carrying the internal credential; connected on first use.
    pub fn channel_to(&self, name: &str, trust: &Trust) -> Result<InternalChannel, BuildError> {
        let url = self.peers.url(name)?;
        crate::internal::channel(url, &self.settings.server, trust).map_err(|e| {
            BuildError::Config {
                key: format!("services.{}.url", section_key(name)),
                problem: format!("`{url}`: {e}"),
            }
        })
    }
}

fn config_error(key: &str, problem: impl std::fmt::Display) -> BuildError {
    BuildError::Config {
        key: key.to_string(),
        problem: problem.to_string(),
    }
}

type Table = config::Map<String, config::Value>;

/// The section `[services.<key>]`: `defaults` overlaid with what `settings` configure, split
/// into its endpoint and the rest. Values stay `config` values, so that a variable's text
/// reads as the number or string the field wants, as everywhere else in the settings.
fn section(
    key: &str,
    defaults: &str,
    settings: &Settings,
) -> Result<(Endpoint, Table), BuildError> {
    let at = format!("services.{key}");
    let mut merged: Table = config::Config::builder()
        .add_source(config::File::from_str(defaults, config::FileFormat::Toml))
        .build()
        .and_then(|c| c.try_deserialize())
        .map_err(|e| config_error(&at, format!("the built-in defaults do not parse: {e}")))?;
    if let Some(configured) = settings.services.get(key) {
        let configured = configured
            .clone()
            .into_table()
            .map_err(|e| config_error(&at, e))?;
        overlay(&mut merged, configured);
    }
    let endpoint =
        Endpoint::deserialize(table_value(merged.clone())).map_err(|e| config_error(&at, e))?;
    merged.remove("port");
    merged.remove("url");
    Ok((endpoint, merged))
}

fn table_value(table: Table) -> config::Value {
    config::Value::new(None, table)
}

fn own_settings<T: DeserializeOwned + Validate>(key: &str, own: &Table) -> Result<T, BuildError> {
    let at = format!("services.{key}");
    let parsed = T::deserialize(table_value(own.clone())).map_err(|e| config_error(&at, e))?;
    parsed
        .validate()
        .map_err(|(field, problem)| config_error(&format!("{at}.{field}"), problem))?;
    Ok(parsed)
}

use serde::Deserialize as _;

/// `over` laid on `base`: tables merge key by key, anything else replaces.
fn overlay(base: &mut Table, over: Table) {
    for (k, v) in over {
        match (base.get_mut(&k).map(|b| &mut b.kind), v.kind) {
            (Some(config::ValueKind::Table(b)), config::ValueKind::Table(o)) => overlay(b, o),
            (_, kind) => {
                base.insert(k, config::Value::new(None, kind));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The registry's view of a service

/// A service built and bound, whatever its type.
pub trait Bound: Send {
    fn local_addr(&self) -> SocketAddr;
    fn connect_late(self: Box<Self>, peers: &Peers) -> Result<Box<dyn Bound>, BuildError>;
    fn run(
        self: Box<Self>,
        shutdown: BoxFuture<'static, ()>,
    ) -> BoxFuture<'static, Result<(), tonic::transport::Error>>;
}

impl<S: Service> Bound for S {
    fn local_addr(&self) -> SocketAddr {
        Service::local_addr(self)
    }

    fn connect_late(self: Box<Self>, peers: &Peers) -> Result<Box<dyn Bound>, BuildError> {
        Ok(Box::new(Service::connect_late(*self, peers)?))
    }

    fn run(
        self: Box<Self>,
        shutdown: BoxFuture<'static, ()>,
    ) -> BoxFuture<'static, Result<(), tonic::transport::Error>> {
        Box::pin(Service::run(*self, shutdown))
    }
}

/// A service being built, whatever its type.
pub type Building = BoxFuture<'static, Result<Box<dyn Bound>, BuildError>>;

/// One line of the suite's registry: a service, as the CLI builds and runs it.
#[derive(Clone, Copy)]
pub struct Registration {
    pub name: &'static str,
    pub key: &'static str,
    pub calls: &'static [&'static str],
    defaults: &'static str,
    check: fn(&Table) -> Result<(), BuildError>,
    build: fn(Context) -> Building,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("name", &self.name)
            .field("calls", &self.calls)
            .finish_non_exhaustive()
    }
}

/// The registration of `S`.
pub fn register<S: Service>() -> Registration {
    Registration {
        name: S::NAME,
        key: S::KEY,
        calls: S::CALLS,
        defaults: S::DEFAULTS,
        check: |own| own_settings::<S::Settings>(S::KEY, own).map(drop),
        build: |ctx| {
            Box::pin(async move {
                let built = S::build(ctx).await?;
                Ok(Box::new(built) as Box<dyn Bound>)
            })
        },
    }
}

impl Registration {
    /// Its endpoint as `settings` configure it.
    pub fn endpoint(&self, settings: &Settings) -> Result<Endpoint, BuildError> {
        Ok(section(self.key, self.defaults, settings)?.0)
    }

    /// Checks its whole section, so a bad value fails before anything starts.
    pub fn check(&self, settings: &Settings) -> Result<(), BuildError> {
        let (_, own) = section(self.key, self.defaults, settings)?;
        (self.check)(&own)
    }

    /// Its context under `settings`.
    pub fn context(&self, settings: &Settings) -> Result<Context, BuildError> {
        Context::new(self.name, self.key, self.defaults, settings)
    }

    pub fn build(&self, ctx: Context) -> Building {
        (self.build)(ctx)
    }
}

/// Refuses a `[services.<key>]` section that no registered service owns (a typo would
/// otherwise be ignored).
pub fn check_sections(settings: &Settings, registry: &[Registration]) -> Result<(), BuildError> {
    match settings
        .services
        .keys()
        .find(|k| !registry.iter().any(|r| r.key == k.as_str()))
    {
        Some(unknown) => Err(config_error(
            &format!("services.{unknown}"),
            format!(
                "no such service; the services are {}",
                registry
                    .iter()
                    .map(|r| r.key)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests;
