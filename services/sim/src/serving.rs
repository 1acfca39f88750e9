//! How every simulator serves: its services on a port of its own, in the background, until
//! told to stop.

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::transport::Channel;
use tonic::transport::server::{Router, TcpIncoming};

/// A stopped simulator's sender: send (or drop) it to stop the server.
pub type Stop = oneshot::Sender<()>;

/// Binds `addr` (port 0: any) and serves `router` in the background; the address it answers
/// on and the sender that stops it. `what` names the simulator in the log if it fails.
pub async fn spawn(
    router: Router,
    addr: SocketAddr,
    what: &'static str,
) -> std::io::Result<(SocketAddr, Stop)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        if let Err(e) = router
            .serve_with_incoming_shutdown(incoming, shutdown)
            .await
        {
            tracing::error!(error = %e, simulator = what, "a simulator stopped");
        }
    });
    Ok((local, stop))
}

/// Serves `router` on a free port of this host: a channel to it, and the sender that stops it.
pub async fn start_local(
    router: Router,
    what: &'static str,
) -> Result<(Channel, Stop), Box<dyn std::error::Error + Send + Sync>> {
    let (addr, stop) = spawn(router, SocketAddr::from(([127, 0, 0, 1], 0)), what).await?;
    let channel = Channel::from_shared(format!("http://{addr}"))?
        .connect()
        .await?;
    Ok((channel, stop))
}
