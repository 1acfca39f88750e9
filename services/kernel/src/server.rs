//! The one way a Sieve service serves gRPC: health (grpc.health.v1) and reflection of what it
//! serves, a request id on every call, the internal credential checked on internal servers,
//! a per-call timeout, a concurrency limit, and graceful shutdown that first reports
//! NOT_SERVING, then drains in-flight calls for a bounded time.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::service::{Routes, RoutesBuilder};
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;

use crate::config::ServerSettings;
use crate::internal::Trust;
use crate::request_id::RequestIdLayer;

/// Who may call a server. Every server says which, so none is left open by omission.
#[derive(Debug, Clone)]
pub enum Access {
    /// Only the gateway and the other services, by the internal credential (health aside).
    Internal(Trust),
    /// Anyone: the server authenticates calls itself (the gateway's bearer tokens).
    Public,
}

/// A service's gRPC server before it starts: add services, then [`Server::bind`].
pub struct Server {
    name: &'static str,
    settings: ServerSettings,
    access: Access,
    routes: RoutesBuilder,
    service_names: Vec<&'static str>,
}

impl Server {
    /// `name` is what logs call this server (`intake`, `gateway`, ...).
    pub fn new(name: &'static str, settings: &ServerSettings, access: Access) -> Self {
        Self {
            name,
            settings: settings.clone(),
            access,
            routes: RoutesBuilder::default(),
            service_names: Vec::new(),
        }
    }

    /// Adds a generated tonic service; it is reported SERVING by health while the server runs.
    pub fn add_service<S>(mut self, svc: S) -> Self
    where
        S: tower::Service<http::Request<Body>, Error = Infallible, Response = http::Response<Body>>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.service_names.push(S::NAME);
        self.routes.add_service(svc);
        self
    }

    /// Binds `host:port` (port 0: any free port, as tests do).
    pub async fn bind(self, host: &str, port: u16) -> std::io::Result<BoundServer> {
        let listener = TcpListener::bind((host, port)).await?;
        self.with_listener(listener)
    }

    pub fn with_listener(self, listener: TcpListener) -> std::io::Result<BoundServer> {
        let addr = listener.local_addr()?;
        Ok(BoundServer {
            server: self,
            listener,
            addr,
        })
    }
}

/// A server holding its port, ready to run.
pub struct BoundServer {
    server: Server,
    listener: TcpListener,
    addr: SocketAddr,
}

impl BoundServer {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes, then drains for at most `shutdown_grace_secs`.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), tonic::transport::Error> {
        let BoundServer {
            server,
            listener,
            addr,
        } = self;
        let Server {
            name,
            settings,
            access,
            mut routes,
            service_names,
        } = server;

        let (reporter, health) = tonic_health::server::health_reporter();
        routes.add_service(health);
        match reflection(&service_names) {
            Ok((v1, v1alpha)) => {
                routes.add_service(v1);
                routes.add_service(v1alpha);
            }
            Err(e) => {
                tracing::error!(server = name, error = %e, "reflection unavailable")
            }
        }
        for svc in &service_names {
            reporter
                .set_service_status(*svc, ServingStatus::Serving)
                .await;
        }
        reporter
            .set_service_status("", ServingStatus::Serving)
            .await;

        let routes: Routes = routes.routes();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let mut builder = tonic::transport::Server::builder();
        // Internal servers with mutual TLS configured accept only callers holding a
        // certificate of the services' CA, besides the credential.
        if let Access::Internal(trust) = &access
            && let Some(tls) = trust.server_tls()
        {
            builder = builder.tls_config(tls)?;
        }
        let serve = builder
            .timeout(Duration::from_secs(settings.request_timeout_secs))
            .layer(RequestIdLayer)
            .layer(crate::internal::CredentialLayer::new(&access))
            .layer(crate::malformed::MalformedMessageLayer)
            .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
                settings.concurrency_limit,
            ))
            // Larger HTTP/2 windows: a call of 1,000 cases is ~150 KB, over the default 64 KB.
            .initial_stream_window_size(Some(HTTP2_STREAM_WINDOW))
            .initial_connection_window_size(Some(HTTP2_CONNECTION_WINDOW))
            .add_routes(routes)
            // Without TCP_NODELAY, a small frame (a window update, a short answer) waits for
            // the peer's delayed ACK: 40 ms stalls on a third of the calls, measured.
            .serve_with_incoming_shutdown(
                TcpIncoming::from(listener).with_nodelay(Some(true)),
                async {
                    let _ = stop_rx.await;
                },
            );
        tracing::info!(server = name, %addr, services = ?service_names, "serving");
        tokio::pin!(serve);
        tokio::select! {
            res = &mut serve => return res,
            () = shutdown => {}
        }
        // Tell load balancers first, then stop accepting and let in-flight calls finish.
        for svc in &service_names {
            reporter
                .set_service_status(*svc, ServingStatus::NotServing)
                .await;
        }
        reporter
            .set_service_status("", ServingStatus::NotServing)
            .await;
        let _ = stop_tx.send(());
        let grace = Duration::from_secs(settings.shutdown_grace_secs);
        match tokio::time::timeout(grace, serve).await {
            Ok(res) => {
                tracing::info!(server = name, "stopped");
                res
            }
            Err(_) => {
                tracing::warn!(
                    server = name,
                    grace_secs = grace.as_secs(),
                    "calls still running after the grace period were cut off"
                );
                Ok(())
            }
        }
    }
}

/// The services every server answers besides its own: health and both reflection versions.
const COMMON_SERVICES: [&str; 3] = [
    tonic_health::pb::health_server::SERVICE_NAME,
    tonic_reflection::pb::v1::server_reflection_server::SERVICE_NAME,
    tonic_reflection::pb::v1alpha::server_reflection_server::SERVICE_NAME,
];

/// Reflection (v1 and v1alpha) listing exactly what this server answers: `services`, health
/// and reflection. It describes the files defining them, the error details refusals carry
/// (so clients decode `ErrorInfo` and `BadRequest`) and every file those import, and nothing
/// of the suite's other services.
fn reflection(
    services: &[&'static str],
) -> Result<
    (
        tonic_reflection::server::v1::ServerReflectionServer<
            impl tonic_reflection::server::v1::ServerReflection,
        >,
        tonic_reflection::server::v1alpha::ServerReflectionServer<
            impl tonic_reflection::server::v1alpha::ServerReflection,
        >,
    ),
    tonic_reflection::server::Error,
> {
    let files = reflected_files(services)?;
    let listed: Vec<&str> = services.iter().copied().chain(COMMON_SERVICES).collect();
    // Each version's builder adds only its own descriptor; both are registered so that each
    // lists, and describes, both.
    let builder = || {
        listed.iter().fold(
            tonic_reflection::server::Builder::configure()
                .register_file_descriptor_set(files.clone())
                .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(
                    tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
                ),
            |b, name| b.with_service_name(*name),
        )
    };
    Ok((builder().build_v1()?, builder().build_v1alpha()?))
}

/// The files defining `services` and health, google.rpc's error details and status, and all
/// they import. Decoded and re-encoded: our files carry no custom options that this would
/// drop.
fn reflected_files(
    services: &[&str],
) -> Result<prost_types::FileDescriptorSet, prost::DecodeError> {
    use prost::Message;
    use std::collections::{BTreeMap, BTreeSet};
    let mut all: BTreeMap<String, prost_types::FileDescriptorProto> = BTreeMap::new();
    let mut wanted: Vec<String> = Vec::new();
    for (encoded, whole) in [
        (sieve_proto::FILE_DESCRIPTOR_SET, false),
        (tonic_health::pb::FILE_DESCRIPTOR_SET, true),
        (sieve_proto::GOOGLE_RPC_FILE_DESCRIPTOR_SET, true),
    ] {
        for file in prost_types::FileDescriptorSet::decode(encoded)?.file {
            let defines_one = || {
                file.service.iter().any(|s| {
                    let full = format!("{}.{}", file.package(), s.name());
                    services.contains(&full.as_str())
                })
            };
            if whole || defines_one() {
                wanted.push(file.name().to_string());
            }
            all.entry(file.name().to_string()).or_insert(file);
        }
    }
    let mut kept = BTreeSet::new();
    while let Some(name) = wanted.pop() {
        if let Some(file) = all.get(&name)
            && kept.insert(name)
        {
            wanted.extend(file.dependency.iter().cloned());
        }
    }
    Ok(prost_types::FileDescriptorSet {
        file: all
            .into_iter()
            .filter(|(name, _)| kept.contains(name))
            .map(|(_, file)| file)
            .collect(),
    })
}

impl BoundServer {
    /// Serves, and runs the service's outbox relay beside the server until both stop.
    pub async fn run_with_relay(
        self,
        relay: Option<crate::outbox::Relay>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), tonic::transport::Error> {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let relay = relay.map(|relay| {
            let mut stopped = stopped.clone();
            tokio::spawn(relay.run(async move {
                let _ = stopped.wait_for(|s| *s).await;
            }))
        });
        let served = self.run_until(shutdown).await;
        let _ = stop.send(true);
        if let Some(task) = relay {
            let _ = task.await;
        }
        served
    }
}

/// This host's name, for telling processes apart in leases (`localhost` when it cannot be
/// read).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// HTTP/2 flow-control windows of servers and channels.
pub const HTTP2_STREAM_WINDOW: u32 = 2 << 20;
pub const HTTP2_CONNECTION_WINDOW: u32 = 8 << 20;

/// A channel to a Sieve service, with the message size limit of the configuration.
pub fn channel(
    url: &str,
    settings: &ServerSettings,
) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    Ok(endpoint(url, settings)?.connect_lazy())
}

/// The endpoint [`channel`] connects to, for callers that add to it (TLS).
pub fn endpoint(
    url: &str,
    settings: &ServerSettings,
) -> Result<tonic::transport::Endpoint, tonic::transport::Error> {
    Ok(tonic::transport::Endpoint::from_shared(url.to_string())?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(settings.request_timeout_secs))
        .tcp_nodelay(true)
        .initial_stream_window_size(Some(HTTP2_STREAM_WINDOW))
        .initial_connection_window_size(Some(HTTP2_CONNECTION_WINDOW)))
}

/// For the kernel's tests: a server with only health and reflection, serving on a free port
/// until the sender is used.
#[cfg(test)]
pub(crate) async fn spawn_for_test(
    settings: &ServerSettings,
) -> (
    SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
) {
    spawn_for_test_with(settings, Access::Public).await
}

#[cfg(test)]
pub(crate) async fn spawn_for_test_with(
    settings: &ServerSettings,
    access: Access,
) -> (
    SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
) {
    let bound = Server::new("test", settings, access)
        .bind("127.0.0.1", 0)
        .await
        .expect("bind a test server");
    let addr = bound.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(bound.run_until(async {
        let _ = stopped.await;
    }));
    (addr, stop, task)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashSet};

    use prost::Message;
    use tonic_health::pb::health_check_response::ServingStatus as Status;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    /// Stands in for intake's service: reflection needs only its name.
    #[derive(Clone)]
    struct IntakeStandIn;

    impl tonic::server::NamedService for IntakeStandIn {
        const NAME: &'static str = "sieve.intake.v1.IntakeService";
    }

    impl tower::Service<http::Request<tonic::body::Body>> for IntakeStandIn {
        type Response = http::Response<tonic::body::Body>;
        type Error = std::convert::Infallible;
        type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

        fn poll_ready(
            &mut self,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), Self::Error>> {
            std::task::Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: http::Request<tonic::body::Body>) -> Self::Future {
            std::future::ready(Ok(tonic::Status::unimplemented("a stand-in").into_http()))
        }
    }

    /// The files of a reflection answer, decoded.
    fn files(answer: MessageResponse) -> Vec<prost_types::FileDescriptorProto> {
        let MessageResponse::FileDescriptorResponse(found) = answer else {
            panic!("not a file: {answer:?}")
        };
        found
            .file_descriptor_proto
            .iter()
            .map(|raw| prost_types::FileDescriptorProto::decode(raw.as_slice()).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn reflection_lists_what_the_server_serves_and_resolves_its_files() {
        let settings = crate::Settings::defaults().unwrap().server;
        let bound = super::Server::new("test", &settings, super::Access::Public)
            .add_service(IntakeStandIn)
            .bind("127.0.0.1", 0)
            .await
            .unwrap();
        let addr = bound.local_addr();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(bound.run_until(async {
            let _ = stopped.await;
        }));
        let channel = super::channel(&format!("http://{addr}"), &settings).unwrap();
        let reflect = |requests| crate::internal::testing::reflect(channel.clone(), None, requests);

        // What `grpcurl -plaintext ADDRESS list` prints.
        let listed = crate::internal::testing::list_services(channel.clone(), None)
            .await
            .unwrap();
        eprintln!("grpcurl list:\n{}", listed.join("\n"));
        assert_eq!(
            listed.iter().map(String::as_str).collect::<BTreeSet<_>>(),
            BTreeSet::from([
                "grpc.health.v1.Health",
                "grpc.reflection.v1.ServerReflection",
                "grpc.reflection.v1alpha.ServerReflection",
                "sieve.intake.v1.IntakeService",
            ])
        );

        // Every listed service, and the error details of a refusal, resolve to their file;
        // the suite's other services are not described.
        let mut symbols = listed.clone();
        symbols.extend([
            "google.rpc.ErrorInfo".into(),
            "google.rpc.BadRequest".into(),
        ]);
        let answers = reflect(
            symbols
                .iter()
                .cloned()
                .map(MessageRequest::FileContainingSymbol)
                .collect(),
        )
        .await
        .unwrap();
        assert_eq!(answers.len(), symbols.len());
        let mut pending: Vec<prost_types::FileDescriptorProto> = Vec::new();
        for (symbol, answer) in symbols.iter().zip(answers) {
            let found = files(answer);
            assert!(!found.is_empty(), "{symbol}");
            pending.extend(found);
        }
        assert!(
            pending
                .iter()
                .any(|f| f.name() == "google/rpc/error_details.proto"),
            "{:?}",
            pending.iter().map(|f| f.name()).collect::<Vec<_>>()
        );
        let elsewhere = reflect(vec![MessageRequest::FileContainingSymbol(
            "sieve.gateway.v1.BankApiService".into(),
        )])
        .await
        .unwrap_err();
        assert_eq!(elsewhere.code(), tonic::Code::NotFound, "{elsewhere:?}");

        // Each file's imports resolve by name, and theirs in turn.
        let mut resolved: HashSet<String> = HashSet::new();
        while let Some(file) = pending.pop() {
            if !resolved.insert(file.name().to_string()) {
                continue;
            }
            for dependency in &file.dependency {
                if resolved.contains(dependency) {
                    continue;
                }
                let answers = reflect(vec![MessageRequest::FileByFilename(dependency.clone())])
                    .await
                    .unwrap();
                let [answer] = <[MessageResponse; 1]>::try_from(answers).unwrap();
                let found = files(answer);
                assert!(
                    found.iter().any(|f| f.name() == dependency),
                    "{} imports {dependency}, which does not resolve",
                    file.name()
                );
                pending.extend(found);
            }
        }
        for expected in [
            "sieve/intake/v1/intake.proto",
            "sieve/common/v1/common.proto",
            "google/protobuf/timestamp.proto",
            "google/protobuf/duration.proto",
        ] {
            assert!(resolved.contains(expected), "{expected}: {resolved:?}");
        }
        let _ = stop.send(());
        task.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn shutdown_reports_not_serving_then_drains_with_a_bounded_wait() {
        let mut settings = crate::Settings::defaults().unwrap().server;
        settings.shutdown_grace_secs = 1;
        let (addr, stop, task) = crate::server::spawn_for_test(&settings).await;
        let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
        // A watch is a call that never ends by itself: the drain must not wait for it forever.
        let mut watch = health
            .watch(tonic_health::pb::HealthCheckRequest {
                service: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            watch.message().await.unwrap().unwrap().status,
            Status::Serving as i32
        );
        let _ = stop.send(());
        assert_eq!(
            watch.message().await.unwrap().unwrap().status,
            Status::NotServing as i32
        );
        task.await.unwrap().unwrap();
    }
}
