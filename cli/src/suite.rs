//! Running services in this process: every one for `sieve up`, one for `sieve serve`.
//!
//! [`registry`] lists the suite's services, each after those it calls. Services are built
//! (each binding its port) in that order, so each finds the ones it calls already bound and
//! is given their actual addresses; calls back to a service built later (intake announcing
//! cases to bad-debt-check) are wired once every service is bound, then all start serving.
//! All stop together, each draining its calls. Adding a service is one line in [`registry`].
//! With [`Launch::simulators`] (`sieve up`) the outside systems' simulators start first and
//! stop last ([`crate::simulators`]).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use sieve_kernel::Settings;
use sieve_kernel::db::Target;
use sieve_kernel::service::{Bound, Peers, Registration, register};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::error::CliError;
use crate::simulators::Simulators;

/// The suite: every service, in build order (a service after those it calls).
pub fn registry() -> Vec<Registration> {
    vec![
        register::<sieve_intake::Application>(),
        register::<sieve_bad_debt_check::Application>(),
        register::<sieve_preservation::Application>(),
        register::<sieve_gateway::Application>(),
    ]
}

/// The names of the suite's services, in build order.
pub fn names() -> Vec<&'static str> {
    registry().iter().map(|r| r.name).collect()
}

fn registration(name: &str) -> Result<Registration, CliError> {
    registry()
        .into_iter()
        .find(|r| r.name == name)
        .ok_or_else(|| {
            CliError::Usage(format!(
                "no service `{name}`: the services are {}",
                names().join(", ")
            ))
        })
}

/// How to start services beyond what the settings say.
#[derive(Clone, Default)]
pub struct Launch {
    /// Bind every service to port 0 (any free port), as tests do.
    pub any_port: bool,
    /// Storage per service (by name) instead of the configured one (tests use fresh
    /// databases).
    pub targets: HashMap<&'static str, Target>,
    /// The clock every service reads (tests and demos: a manual one).
    pub clock: Option<sieve_kernel::SharedClock>,
    /// A service's port by name, over `any_port` (a test restarting a service where its
    /// callers still look for it).
    pub ports: HashMap<&'static str, u16>,
    /// Where the services not started here answer. `None`: as configured (`sieve up`,
    /// `sieve serve`); `Some`: only these, so that a test reaches nothing it did not start.
    pub peers: Option<Peers>,
    /// Run the payment platforms' and the document service's simulators too, where the
    /// preservation settings look for them (`sieve up`; with `any_port`, on free ports the
    /// services are pointed at).
    pub simulators: bool,
}

/// Services running in this process.
pub struct Suite {
    addrs: Vec<(&'static str, SocketAddr)>,
    tasks: JoinSet<(&'static str, Result<(), tonic::transport::Error>)>,
    stop: watch::Sender<bool>,
    /// [`Launch::peers`].
    others: Option<Peers>,
    /// Started before the services and stopped after them.
    simulators: Simulators,
}

impl Suite {
    /// Builds and starts the services named, in registry order. Every section of the
    /// settings is checked first; if a service fails to start, those already built are
    /// dropped unstarted, releasing their ports, before the error is returned.
    pub async fn start(
        settings: &Settings,
        services: &[&str],
        launch: &Launch,
    ) -> Result<Self, CliError> {
        let registry = registry();
        sieve_kernel::service::check_sections(settings, &registry).map_err(|source| {
            CliError::Build {
                service: "suite",
                source,
            }
        })?;
        for name in services {
            registration(name)?;
        }
        let ordered: Vec<Registration> = registry
            .into_iter()
            .filter(|r| services.contains(&r.name))
            .collect();
        for r in &ordered {
            r.check(settings).map_err(|source| CliError::Build {
                service: r.name,
                source,
            })?;
        }
        let mut settings = settings.clone();
        let simulators = if launch.simulators {
            let clock = launch
                .clock
                .clone()
                .unwrap_or_else(sieve_kernel::clock::system);
            let sims = Simulators::start(&settings, clock, launch.any_port).await?;
            sims.point(&mut settings);
            sims
        } else {
            Simulators::default()
        };
        let settings = &settings;
        let (stop, _) = watch::channel(false);
        let mut suite = Suite {
            addrs: Vec::new(),
            tasks: JoinSet::new(),
            stop,
            others: launch.peers.clone(),
            simulators,
        };
        let mut built = Vec::with_capacity(ordered.len());
        for r in &ordered {
            let app = suite.build(r, settings, launch).await?;
            built.push((r.name, app));
        }
        let peers = suite.peers(settings);
        for (name, app) in built {
            let app = app.connect_late(&peers).map_err(|source| CliError::Build {
                service: name,
                source,
            })?;
            let mut stopped = suite.stop.subscribe();
            let shutdown = Box::pin(async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            });
            let run = app.run(shutdown);
            suite.tasks.spawn(async move { (name, run.await) });
        }
        Ok(suite)
    }

    /// Builds `r`, bound to its port and recorded in [`Suite::addrs`], not serving.
    async fn build(
        &mut self,
        r: &Registration,
        settings: &Settings,
        launch: &Launch,
    ) -> Result<Box<dyn Bound>, CliError> {
        let failed = |source| CliError::Build {
            service: r.name,
            source,
        };
        let mut ctx = r
            .context(settings)
            .map_err(failed)?
            .with_peers(self.peers(settings));
        if launch.any_port {
            ctx = ctx.any_port();
        }
        if let Some(port) = launch.ports.get(r.name) {
            ctx.port = *port;
        }
        if let Some(target) = launch.targets.get(r.name) {
            ctx = ctx.with_target(target.clone());
        }
        if let Some(clock) = &launch.clock {
            ctx = ctx.with_clock(clock.clone());
        }
        let app = r.build(ctx).await.map_err(failed)?;
        self.addrs.push((r.name, app.local_addr()));
        Ok(app)
    }

    /// Where every service of the suite answers, as far as is known now.
    fn peers(&self, settings: &Settings) -> Peers {
        if let Some(others) = &self.others {
            let mut peers = others.clone();
            for (name, addr) in &self.addrs {
                peers.insert(name, url(*addr));
            }
            return peers;
        }
        let mut peers = Peers::new();
        for r in registry() {
            if let Some(url) = self.url_of(r.name, settings) {
                peers.insert(r.name, url);
            }
        }
        peers
    }

    /// The simulators running with the services ([`Launch::simulators`]).
    pub fn simulators(&self) -> &[crate::simulators::Simulator] {
        self.simulators.running()
    }

    /// The services and the addresses they are bound to, in start order.
    pub fn addrs(&self) -> &[(&'static str, SocketAddr)] {
        &self.addrs
    }

    pub fn addr(&self, service: &str) -> Option<SocketAddr> {
        self.addrs
            .iter()
            .find(|(s, _)| *s == service)
            .map(|(_, a)| *a)
    }

    /// Where `service` answers: its bound address when it runs here, else its configured
    /// `url` (`services.<name>.url`) or this host's configured port. `None` for a service
    /// the suite does not know or whose section does not parse.
    pub fn url_of(&self, service: &str, settings: &Settings) -> Option<String> {
        if let Some(addr) = self.addr(service) {
            return Some(url(addr));
        }
        let endpoint = registration(service).ok()?.endpoint(settings).ok()?;
        let configured = endpoint.url.trim();
        if !configured.is_empty() {
            return Some(configured.to_owned());
        }
        Some(match settings.server.host.parse::<IpAddr>() {
            Ok(ip) => url(SocketAddr::new(ip, endpoint.port)),
            Err(_) => format!("http://{}:{}", settings.server.host, endpoint.port),
        })
    }

    /// Runs until `signal` (or until a service stops on its own), then stops every service.
    pub async fn run_until(mut self, signal: impl Future<Output = ()>) -> Result<(), CliError> {
        let early = tokio::select! {
            () = signal => None,
            ended = self.tasks.join_next() => ended,
        };
        let first = match early {
            Some(Ok((service, Ok(())))) => Err(CliError::Stopped(service)),
            Some(Ok((service, Err(source)))) => Err(CliError::Serve { service, source }),
            Some(Err(join)) => Err(CliError::Crashed(join.to_string())),
            None => Ok(()),
        };
        let rest = self.shutdown().await;
        first.and(rest)
    }

    /// Stops every service and waits for each to drain, then the simulators (a service
    /// draining may still call them).
    pub async fn shutdown(mut self) -> Result<(), CliError> {
        self.stop.send_replace(true);
        let mut first = Ok(());
        while let Some(ended) = self.tasks.join_next().await {
            if let Ok((service, Err(source))) = ended
                && first.is_ok()
            {
                first = Err(CliError::Serve { service, source });
            }
        }
        self.simulators.stop();
        first
    }
}

/// A suite dropped without [`Suite::shutdown`] (a test that ended, a panic) still stops its
/// services the orderly way, in the background: each drains and releases its storage.
impl Drop for Suite {
    fn drop(&mut self) {
        self.stop.send_replace(true);
        self.tasks.detach_all();
    }
}

/// `http://ip:port`, with a wildcard bind address replaced by loopback for calls from here.
pub(crate) fn url(addr: SocketAddr) -> String {
    let ip = if addr.ip().is_unspecified() {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        addr.ip()
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

/// The development court token `sieve up` offers when the development key is in use.
#[derive(Debug, Clone)]
pub enum DevToken {
    /// Stdout is a terminal: the token itself.
    Shown(String),
    /// Stdout is a file or a pipe (a log): only how to mint one.
    NotShown,
}

/// What `sieve up` prints once everything listens: the address table, a court token when the
/// development key is in use, and the clock when it is manual.
pub fn render_started(
    suite: &Suite,
    court_dev_token: Option<&DevToken>,
    clock: &dyn sieve_kernel::Clock,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{:<16} address", "service");
    for (service, addr) in suite.addrs() {
        let _ = writeln!(out, "{service:<16} {addr}");
    }
    let _ = writeln!(
        out,
        "each serves grpc.health.v1.Health and server reflection (grpcurl -plaintext ADDRESS list)"
    );
    if !suite.simulators().is_empty() {
        let _ = writeln!(out, "{:<16} address", "simulator");
        for sim in suite.simulators() {
            let _ = writeln!(out, "{:<16} {}  {}", sim.name, sim.addr, sim.what);
        }
    }
    match court_dev_token {
        Some(DevToken::Shown(token)) => {
            let _ = writeln!(
                out,
                "development key in use; a court token for grpcurl and `sieve status`:"
            );
            let _ = writeln!(out, "export SIEVE_TOKEN={token}");
        }
        Some(DevToken::NotShown) => {
            let _ = writeln!(
                out,
                "development key in use; a court token for grpcurl: export SIEVE_TOKEN=$(sieve token --court)"
            );
        }
        None => {}
    }
    if clock.as_manual().is_some() {
        out.push_str(&crate::clock::render_manual_start(clock.now()));
    }
    let _ = writeln!(out, "Ctrl-C stops every service");
    out
}

#[cfg(test)]
mod tests;
