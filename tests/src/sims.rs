//! The outside systems' simulators, started for a test as real servers on free ports: the
//! payment platforms and the document service. [`Simulators::configure`] points the
//! preservation service at them.

use std::net::SocketAddr;

use sieve_kernel::{Settings, SharedClock};
use sieve_proto::sim::delivery::v1::delivery_simulator_service_client::DeliverySimulatorServiceClient;
use sieve_proto::sim::payment::v1::payment_simulator_service_client::PaymentSimulatorServiceClient;
use sieve_sim::delivery::DeliverySimulator;
use sieve_sim::payment::PaymentSimulator;
use tokio::sync::oneshot;
use tonic::transport::Channel;

pub struct Simulators {
    pub payment_addr: SocketAddr,
    pub delivery_addr: SocketAddr,
    stops: Vec<oneshot::Sender<()>>,
}

impl Simulators {
    /// Both simulators; the document service times deliveries by `clock`.
    pub async fn start(clock: SharedClock) -> Self {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        let (payment_addr, a) = PaymentSimulator::default()
            .spawn(any)
            .await
            .expect("the payment simulator binds");
        let (delivery_addr, b) = DeliverySimulator::new(clock)
            .spawn(any)
            .await
            .expect("the delivery simulator binds");
        Self {
            payment_addr,
            delivery_addr,
            stops: vec![a, b],
        }
    }

    /// The preservation service's settings pointed at these simulators.
    pub fn configure(&self, s: &mut Settings) {
        s.set_service(
            "preservation",
            "platforms_url",
            format!("http://{}", self.payment_addr),
        );
        s.set_service(
            "preservation",
            "delivery_url",
            format!("http://{}", self.delivery_addr),
        );
    }

    fn channel(addr: SocketAddr) -> Channel {
        Channel::from_shared(format!("http://{addr}"))
            .expect("a simulator's URL")
            .connect_lazy()
    }

    /// The platforms' controls: accounts, outages.
    pub fn payment(&self) -> PaymentSimulatorServiceClient<Channel> {
        PaymentSimulatorServiceClient::new(Self::channel(self.payment_addr))
    }

    /// The document service's controls: deliveries, debtor behaviour.
    pub fn delivery(&self) -> DeliverySimulatorServiceClient<Channel> {
        DeliverySimulatorServiceClient::new(Self::channel(self.delivery_addr))
    }

    pub fn stop(mut self) {
        for s in self.stops.drain(..) {
            let _ = s.send(());
        }
    }
}
