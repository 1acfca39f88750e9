//! The outside systems' simulators that `sieve up` runs beside the services (`sieve serve`
//! does not: a deployment talks to the real ones): the payment platforms' freezing interface
//! and the document service, each a real gRPC server, where the preservation service looks
//! for them (`[services.preservation] platforms_url` and `delivery_url`). No section of their
//! own: the preservation service's URLs are the one place their addresses are written.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use sieve_kernel::{Settings, SharedClock};
use sieve_preservation::PreservationSettings;
use sieve_sim::delivery::DeliverySimulator;
use sieve_sim::payment::PaymentSimulator;
use tokio::sync::oneshot;

use crate::error::CliError;

/// One simulator listening.
#[derive(Debug)]
pub struct Simulator {
    /// As the banner names it.
    pub name: &'static str,
    pub addr: SocketAddr,
    /// What it stands in for.
    pub what: &'static str,
    stop: Option<oneshot::Sender<()>>,
}

/// The simulators running in this process; stopped when stopped or dropped.
#[derive(Debug, Default)]
pub struct Simulators {
    running: Vec<Simulator>,
}

/// Which simulator, and the preservation setting that says where it is.
struct Spec {
    name: &'static str,
    key: &'static str,
    what: &'static str,
}

const PAYMENT: Spec = Spec {
    name: "payment-sim",
    key: "platforms_url",
    what: "Alipay and WeChat Pay freezes (sieve.sim.payment.v1)",
};
const DELIVERY: Spec = Spec {
    name: "delivery-sim",
    key: "delivery_url",
    what: "service of documents, debtors calling back (sieve.sim.delivery.v1)",
};

impl Simulators {
    /// Both simulators, each on the port of its URL in the preservation settings (port 0,
    /// any free one, with `any_port`), the document service timing deliveries by `clock`.
    /// A port that is taken fails the start, naming it and its setting.
    pub async fn start(
        settings: &Settings,
        clock: SharedClock,
        any_port: bool,
    ) -> Result<Self, CliError> {
        let own = PreservationSettings::of(settings).map_err(|source| CliError::Build {
            service: sieve_preservation::SERVICE,
            source,
        })?;
        let host = &settings.server.host;
        let mut sims = Simulators::default();
        let at = bind_addr(&own.platforms_url, &PAYMENT, host, any_port)?;
        let bound = PaymentSimulator::default().spawn(at).await;
        sims.add(&PAYMENT, at, bound)?;
        let at = bind_addr(&own.delivery_url, &DELIVERY, host, any_port)?;
        let bound = DeliverySimulator::new(clock).spawn(at).await;
        sims.add(&DELIVERY, at, bound)?;
        Ok(sims)
    }

    fn add(
        &mut self,
        spec: &Spec,
        at: SocketAddr,
        bound: std::io::Result<(SocketAddr, oneshot::Sender<()>)>,
    ) -> Result<(), CliError> {
        let (addr, stop) = bound.map_err(|source| CliError::Simulator {
            name: spec.name,
            addr: at,
            key: spec.key,
            source,
        })?;
        self.running.push(Simulator {
            name: spec.name,
            addr,
            what: spec.what,
            stop: Some(stop),
        });
        Ok(())
    }

    pub fn running(&self) -> &[Simulator] {
        &self.running
    }

    /// The preservation settings pointed at where the simulators listen (they may have
    /// taken any port).
    pub fn point(&self, settings: &mut Settings) {
        for (sim, spec) in self.running.iter().zip([PAYMENT, DELIVERY]) {
            settings.set_service("preservation", spec.key, crate::suite::url(sim.addr));
        }
    }

    pub fn stop(&mut self) {
        for sim in &mut self.running {
            if let Some(stop) = sim.stop.take() {
                let _ = stop.send(());
            }
        }
    }
}

impl Drop for Simulators {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Where a simulator listens: the URL's port, on the URL's host when it is an address (as
/// the preservation service will call it), else on the suite's host.
fn bind_addr(url: &str, spec: &Spec, host: &str, any_port: bool) -> Result<SocketAddr, CliError> {
    let uri: tonic::codegen::http::Uri = url.trim().parse().map_err(|e| {
        CliError::Usage(format!(
            "services.preservation.{} = {url:?} is not a URL: {e}",
            spec.key
        ))
    })?;
    let port = match (any_port, uri.port_u16()) {
        (true, _) => 0,
        (false, Some(port)) => port,
        (false, None) if uri.scheme_str() == Some("https") => 443,
        (false, None) => 80,
    };
    let ip = uri
        .host()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
        .and_then(|h| h.parse::<IpAddr>().ok())
        .or_else(|| host.parse().ok())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    Ok(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests;
