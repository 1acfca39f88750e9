//! Running services in this process: every one for `sieve up`, one for `sieve serve`.
//!
//! Services are built (each binding its port) in [`Service::ALL`] order, so each finds the
//! ones it calls already bound and is given their actual addresses; calls back to a service
//! built later (intake announcing cases to bad-debt-check) are wired once every service is
//! bound, then all start serving. All stop together, each draining its calls. Adding a
//! service is one variant, one entry in `ALL` and one arm in [`Suite::build`].

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;

use sieve_kernel::Settings;
use sieve_kernel::db::Target;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::error::CliError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Service {
    Intake,
    BadDebtCheck,
    Gateway,
}

impl Service {
    /// Every service, in build order: a service comes after those it calls, except intake's
    /// announcements to bad-debt-check, wired once both are bound.
    pub const ALL: &[Service] = &[Service::Intake, Service::BadDebtCheck, Service::Gateway];

    pub fn name(self) -> &'static str {
        match self {
            Service::Intake => sieve_intake::SERVICE,
            Service::BadDebtCheck => sieve_bad_debt_check::SERVICE,
            Service::Gateway => sieve_gateway::SERVICE,
        }
    }

    /// The port configured for the service.
    pub fn configured_port(self, settings: &Settings) -> u16 {
        match self {
            Service::Intake => settings.services.intake_port,
            Service::BadDebtCheck => settings.services.bad_debt_check_port,
            Service::Gateway => settings.services.gateway_port,
        }
    }

    /// The URL configured for reaching the service on another host, if any
    /// (`services.intake_url`, `services.bad_debt_check_url`).
    fn configured_url(self, settings: &Settings) -> Option<&str> {
        let url = match self {
            Service::Intake => settings.services.intake_url.trim(),
            Service::BadDebtCheck => settings.services.bad_debt_check_url.trim(),
            Service::Gateway => "",
        };
        (!url.is_empty()).then_some(url)
    }
}

/// A service built and bound, not yet serving.
enum Built {
    Intake(sieve_intake::Application),
    BadDebtCheck(sieve_bad_debt_check::Application),
    Gateway(sieve_gateway::Application),
}

/// How to start services beyond what the settings say.
#[derive(Debug, Clone, Default)]
pub struct Launch {
    /// Bind every service to port 0 (any free port), as tests do.
    pub any_port: bool,
    /// Storage per service instead of the configured one (tests use fresh databases).
    pub targets: HashMap<Service, Target>,
}

/// A service serving until its shutdown future completes.
type Running = Pin<Box<dyn Future<Output = Result<(), tonic::transport::Error>> + Send>>;

/// Services running in this process.
pub struct Suite {
    addrs: Vec<(Service, SocketAddr)>,
    tasks: JoinSet<(Service, Result<(), tonic::transport::Error>)>,
    stop: watch::Sender<bool>,
}

impl Suite {
    /// Builds and starts `services` in order. If one fails to start, those already running
    /// are stopped before the error is returned.
    pub async fn start(
        settings: &Settings,
        services: &[Service],
        launch: &Launch,
    ) -> Result<Self, CliError> {
        let (stop, _) = watch::channel(false);
        let mut suite = Suite {
            addrs: Vec::new(),
            tasks: JoinSet::new(),
            stop,
        };
        let mut ordered: Vec<Service> = services.to_vec();
        ordered.sort_by_key(|s| Service::ALL.iter().position(|a| a == s));
        ordered.dedup();
        // Every service binds before any serves; one that fails to build drops the others
        // unstarted, releasing their ports.
        let mut built = Vec::with_capacity(ordered.len());
        for service in ordered {
            let app = suite.build(service, settings, launch).await?;
            built.push(app);
        }
        for app in built {
            suite.spawn(app, settings)?;
        }
        Ok(suite)
    }

    /// Builds `service`, bound to its port and recorded in [`Suite::addrs`], not serving.
    async fn build(
        &mut self,
        service: Service,
        settings: &Settings,
        launch: &Launch,
    ) -> Result<Built, CliError> {
        let port = if launch.any_port {
            0
        } else {
            service.configured_port(settings)
        };
        let failed = |source| CliError::Build {
            service: service.name(),
            source,
        };
        let target = || {
            launch
                .targets
                .get(&service)
                .cloned()
                .unwrap_or_else(|| Target::for_service(&settings.database, service.name()))
        };
        let (addr, app) = match service {
            Service::Intake => {
                let app = sieve_intake::Application::build(
                    settings,
                    &target(),
                    sieve_kernel::clock::system(),
                    port,
                )
                .await
                .map_err(failed)?;
                (app.local_addr(), Built::Intake(app))
            }
            Service::BadDebtCheck => {
                let intake = self.url_of(Service::Intake, settings);
                let app = sieve_bad_debt_check::Application::build(
                    settings,
                    &target(),
                    sieve_kernel::clock::system(),
                    port,
                    &intake,
                )
                .await
                .map_err(failed)?;
                (app.local_addr(), Built::BadDebtCheck(app))
            }
            Service::Gateway => {
                let intake = self.url_of(Service::Intake, settings);
                let bad_debt_check = self.url_of(Service::BadDebtCheck, settings);
                let app =
                    sieve_gateway::Application::build(settings, &intake, &bad_debt_check, port)
                        .await
                        .map_err(failed)?;
                (app.local_addr(), Built::Gateway(app))
            }
        };
        self.addrs.push((service, addr));
        Ok(app)
    }

    /// Starts a built service serving until the suite stops.
    fn spawn(&mut self, app: Built, settings: &Settings) -> Result<(), CliError> {
        let mut stopped = self.stop.subscribe();
        let shutdown = async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        };
        let (service, run) = match app {
            Built::Intake(app) => {
                // Every service is bound by now, so bad-debt-check's address is known when it
                // runs here.
                let bad_debt_check = self.url_of(Service::BadDebtCheck, settings);
                let app = app
                    .deliver_to_bad_debt_check(&bad_debt_check)
                    .map_err(|source| CliError::Build {
                        service: Service::Intake.name(),
                        source,
                    })?;
                (
                    Service::Intake,
                    Box::pin(app.run_until(shutdown)) as Running,
                )
            }
            Built::BadDebtCheck(app) => (
                Service::BadDebtCheck,
                Box::pin(app.run_until(shutdown)) as Running,
            ),
            Built::Gateway(app) => (
                Service::Gateway,
                Box::pin(app.run_until(shutdown)) as Running,
            ),
        };
        self.tasks.spawn(async move { (service, run.await) });
        Ok(())
    }

    /// The services and the addresses they are bound to, in start order.
    pub fn addrs(&self) -> &[(Service, SocketAddr)] {
        &self.addrs
    }

    pub fn addr(&self, service: Service) -> Option<SocketAddr> {
        self.addrs
            .iter()
            .find(|(s, _)| *s == service)
            .map(|(_, a)| *a)
    }

    /// Where `service` answers: its bound address when it runs here, else the configured
    /// URL (`services.intake_url`, `services.bad_debt_check_url`) or this host's configured
    /// port.
    pub fn url_of(&self, service: Service, settings: &Settings) -> String {
        if let Some(addr) = self.addr(service) {
            return url(addr);
        }
        if let Some(configured) = service.configured_url(settings) {
            return configured.to_owned();
        }
        let host = match settings.server.host.parse::<IpAddr>() {
            Ok(ip) => ip,
            Err(_) => {
                return format!(
                    "http://{}:{}",
                    settings.server.host,
                    service.configured_port(settings)
                );
            }
        };
        url(SocketAddr::new(host, service.configured_port(settings)))
    }

    /// Runs until `signal` (or until a service stops on its own), then stops every service.
    pub async fn run_until(mut self, signal: impl Future<Output = ()>) -> Result<(), CliError> {
        let early = tokio::select! {
            () = signal => None,
            ended = self.tasks.join_next() => ended,
        };
        let first = match early {
            Some(Ok((service, Ok(())))) => Err(CliError::Stopped(service.name())),
            Some(Ok((service, Err(source)))) => Err(CliError::Serve {
                service: service.name(),
                source,
            }),
            Some(Err(join)) => Err(CliError::Crashed(join.to_string())),
            None => Ok(()),
        };
        let rest = self.shutdown().await;
        first.and(rest)
    }

    /// Stops every service and waits for each to drain.
    pub async fn shutdown(mut self) -> Result<(), CliError> {
        self.stop.send_replace(true);
        let mut first = Ok(());
        while let Some(ended) = self.tasks.join_next().await {
            if let Ok((service, Err(source))) = ended
                && first.is_ok()
            {
                first = Err(CliError::Serve {
                    service: service.name(),
                    source,
                });
            }
        }
        first
    }
}

/// `http://ip:port`, with a wildcard bind address replaced by loopback for calls from here.
fn url(addr: SocketAddr) -> String {
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

/// What `sieve up` prints once everything listens: the address table, and a court token
/// when the development key is in use.
pub fn render_started(suite: &Suite, court_dev_token: Option<&DevToken>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{:<16} address", "service");
    for (service, addr) in suite.addrs() {
        let _ = writeln!(out, "{:<16} {addr}", service.name());
    }
    let _ = writeln!(
        out,
        "each serves grpc.health.v1.Health and server reflection (grpcurl -plaintext ADDRESS list)"
    );
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
    let _ = writeln!(out, "Ctrl-C stops every service");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_binds_are_called_on_loopback() {
        assert_eq!(
            url("0.0.0.0:50051".parse().expect("addr")),
            "http://127.0.0.1:50051"
        );
        assert_eq!(
            url("10.1.2.3:7".parse().expect("addr")),
            "http://10.1.2.3:7"
        );
    }

    #[test]
    fn all_services_are_listed_once_callers_last() {
        let names: Vec<&str> = Service::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(names, ["intake", "bad-debt-check", "gateway"]);
    }

    #[test]
    fn services_alone_reach_the_others_by_configuration_or_this_hosts_port() {
        let mut settings = Settings::defaults().expect("defaults");
        let (stop, _) = watch::channel(false);
        let suite = Suite {
            addrs: Vec::new(),
            tasks: JoinSet::new(),
            stop,
        };
        assert_eq!(
            suite.url_of(Service::BadDebtCheck, &settings),
            "http://127.0.0.1:50052"
        );
        assert_eq!(
            suite.url_of(Service::Intake, &settings),
            "http://127.0.0.1:50051"
        );
        settings.services.bad_debt_check_url = " http://bad-debt-check:50052 ".into();
        settings.services.intake_url = "http://intake:50051".into();
        assert_eq!(
            suite.url_of(Service::BadDebtCheck, &settings),
            "http://bad-debt-check:50052"
        );
        assert_eq!(
            suite.url_of(Service::Intake, &settings),
            "http://intake:50051"
        );
    }
}
