//! Internal services answer only the gateway and each other (DESIGN.md section 8). Every call
//! to an internal port carries the shared credential ([`HEADER`]); a server built with
//! [`crate::server::Access::Internal`] refuses a call without it UNAUTHENTICATED, before any
//! handler runs, and logs the refusal once per source ([`crate::refusals`]). Health is
//! exempt: probes carry no secrets. Clients get the credential from [`channel`], the one way
//! a service calls another, so no call can leave without it.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::body::Body;
use tower::{Layer, Service};

use crate::config::{ServerSettings, Settings};
use crate::error::{Error, ErrorCode};
use crate::refusals::RefusalLog;

/// The metadata header carrying the credential.
pub const HEADER: &str = "x-sieve-internal-credential";
/// The development credential's file under `database.data_dir`.
pub const DEV_CREDENTIAL_FILE: &str = "internal-dev.credential";
/// Calls under this path prefix need no credential: load balancers and kubelets probe them.
const EXEMPT_PREFIX: &str = "/grpc.health.v1.Health/";

pub const REASON_MISSING: &str = "INTERNAL_CREDENTIAL_MISSING";
pub const REASON_INVALID: &str = "INTERNAL_CREDENTIAL_INVALID";

/// What internal services share: the credential (never shown by `Debug`).
#[derive(Clone)]
pub struct Trust {
    credential: http::HeaderValue,
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trust").finish_non_exhaustive()
    }
}

impl Trust {
    /// The configured credential, or the development one in `data_dir` (created on first use,
    /// mode 0600) when none is configured.
    pub fn from_settings(settings: &Settings) -> std::io::Result<Self> {
        // Refused rather than ignored: a deployment asking for TLS must not run without it.
        if settings.internal.tls_configured() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "internal.tls_cert/tls_key/tls_ca: mutual TLS between the services is not \
                 implemented yet; leave them empty (the credential is checked on every call)",
            ));
        }
        let configured = settings.internal.credential.trim();
        if !configured.is_empty() {
            return Self::new(configured);
        }
        let path = settings.database.data_dir.join(DEV_CREDENTIAL_FILE);
        let credential = dev_credential(&settings.database.data_dir)?;
        tracing::warn!(
            file = %path.display(),
            "no internal.credential configured: the services trust the development credential"
        );
        Self::new(&credential)
    }

    fn new(credential: &str) -> std::io::Result<Self> {
        let mut value = http::HeaderValue::from_str(credential).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "internal.credential must be visible ASCII",
            )
        })?;
        // Kept out of HTTP/2 header compression tables.
        value.set_sensitive(true);
        Ok(Self { credential: value })
    }

    fn admits(&self, presented: &http::HeaderValue) -> bool {
        use subtle::ConstantTimeEq;
        // Constant time: how much of a guess matched must not show in the answer's timing.
        bool::from(presented.as_bytes().ct_eq(self.credential.as_bytes()))
    }
}

/// Loads `<data_dir>/internal-dev.credential` or creates it (64 hex digits, mode 0600).
fn dev_credential(data_dir: &Path) -> std::io::Result<String> {
    let path = data_dir.join(DEV_CREDENTIAL_FILE);
    std::fs::create_dir_all(data_dir)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(&path) {
        Ok(mut file) => {
            let credential: String = rand::random::<[u8; 32]>()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            writeln!(file, "{credential}")?;
            file.sync_all()?;
            Ok(credential)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let mut text = String::new();
            std::fs::File::open(&path)?.read_to_string(&mut text)?;
            let text = text.trim().to_string();
            if text.len() < crate::config::InternalSettings::MIN_CREDENTIAL_CHARS {
                // Another process may be between creating the file and writing it.
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "{} holds no credential; remove it to make a new one",
                        path.display()
                    ),
                ));
            }
            Ok(text)
        }
        Err(e) => Err(e),
    }
}

/// Refuses calls without the credential on internal servers; see the module's comment.
#[derive(Clone)]
pub struct CredentialLayer {
    /// `None`: a public server, every call passes.
    trust: Option<Trust>,
    refusals: Arc<RefusalLog>,
}

impl CredentialLayer {
    pub fn new(access: &crate::server::Access) -> Self {
        use crate::server::Access;
        Self {
            trust: match access {
                Access::Internal(trust) => Some(trust.clone()),
                Access::Public => None,
            },
            refusals: RefusalLog::new("internal call refused"),
        }
    }
}

impl<S> Layer<S> for CredentialLayer {
    type Service = CredentialService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        CredentialService {
            inner,
            trust: self.trust.clone(),
            refusals: self.refusals.clone(),
        }
    }
}

#[derive(Clone)]
pub struct CredentialService<S> {
    inner: S,
    trust: Option<Trust>,
    refusals: Arc<RefusalLog>,
}

impl<S, B, ResB> Service<http::Request<B>> for CredentialService<S>
where
    S: Service<http::Request<B>, Response = http::Response<ResB>> + Send,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResB: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future =
        std::pin::Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let Some(trust) = &self.trust else {
            return Box::pin(self.inner.call(req));
        };
        let refusal = match req.headers().get(HEADER) {
            _ if req.uri().path().starts_with(EXEMPT_PREFIX) => None,
            Some(presented) if trust.admits(presented) => None,
            Some(_) => Some(REASON_INVALID),
            None => Some(REASON_MISSING),
        };
        let Some(reason) = refusal else {
            return Box::pin(self.inner.call(req));
        };
        self.refusals
            .refused(&crate::refusals::peer(remote_addr(&req)), reason);
        let message = match reason {
            REASON_MISSING => {
                "this service answers only the gateway and the other Sieve services; call the gateway"
            }
            _ => "the internal credential does not match",
        };
        let status: tonic::Status = Error::new(ErrorCode::Unauthenticated, reason, message).into();
        Box::pin(std::future::ready(Ok(status.into_http::<ResB>())))
    }
}

/// The TCP peer of a call, as tonic records it on the request (plain or TLS).
fn remote_addr<B>(req: &http::Request<B>) -> Option<std::net::SocketAddr> {
    use tonic::transport::server::TcpConnectInfo;
    req.extensions()
        .get::<TcpConnectInfo>()
        .and_then(TcpConnectInfo::remote_addr)
}

/// A channel to an internal service: every call on it carries the credential and the request
/// id of the call being served ([`crate::request_id`]).
#[derive(Clone)]
pub struct InternalChannel {
    inner: tonic::transport::Channel,
    credential: http::HeaderValue,
}

impl std::fmt::Debug for InternalChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InternalChannel").finish_non_exhaustive()
    }
}

impl Service<http::Request<Body>> for InternalChannel {
    type Response = http::Response<Body>;
    type Error = tonic::transport::Error;
    type Future = tonic::transport::channel::ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<Body>) -> Self::Future {
        req.headers_mut().insert(HEADER, self.credential.clone());
        crate::request_id::stamp(req.headers_mut());
        self.inner.call(req)
    }
}

/// A lazily connected channel to the internal service at `url`, carrying `trust`'s credential.
pub fn channel(
    url: &str,
    settings: &ServerSettings,
    trust: &Trust,
) -> Result<InternalChannel, tonic::transport::Error> {
    Ok(InternalChannel {
        inner: crate::server::channel(url, settings)?,
        credential: trust.credential.clone(),
    })
}

/// For tests: a configured credential, so no test writes a development one into a crate's
/// `./data`.
pub mod testing {
    pub const CREDENTIAL: &str = "test-internal-credential-0123456789abcdef";

    /// The defaults with [`CREDENTIAL`] configured.
    pub fn settings() -> crate::Settings {
        match crate::Settings::defaults() {
            Ok(mut s) => {
                s.internal.credential = CREDENTIAL.to_string();
                s
            }
            Err(e) => panic!("the built-in defaults load: {e}"),
        }
    }

    /// A lazily connected channel to the internal service at `url`, carrying [`CREDENTIAL`].
    pub fn channel(url: &str) -> super::InternalChannel {
        let settings = settings();
        super::Trust::new(CREDENTIAL)
            .and_then(|trust| {
                super::channel(url, &settings.server, &trust).map_err(std::io::Error::other)
            })
            .unwrap_or_else(|e| panic!("a channel to {url}: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_development_credential_is_made_once_and_private() {
        let dir = std::env::temp_dir().join(format!(
            "sieve-internal-dev-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        let first = dev_credential(&dir).unwrap();
        assert_eq!(first, dev_credential(&dir).unwrap());
        assert_eq!(first.len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(DEV_CREDENTIAL_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn only_the_exact_credential_is_admitted() {
        let trust = Trust::new("0123456789abcdef0123456789abcdef").unwrap();
        assert!(trust.admits(&http::HeaderValue::from_static(
            "0123456789abcdef0123456789abcdef"
        )));
        for wrong in [
            "",
            "0123456789abcdef0123456789abcde",
            "0123456789abcdef0123456789abcdeF",
        ] {
            assert!(
                !trust.admits(&http::HeaderValue::from_static(wrong)),
                "{wrong}"
            );
        }
        assert!(!format!("{trust:?}").contains("0123"));
    }

    #[test]
    fn tls_files_are_refused_until_mutual_tls_is_served() {
        let mut settings = testing::settings();
        settings.internal.tls_cert = "cert.pem".into();
        settings.internal.tls_key = "key.pem".into();
        settings.internal.tls_ca = "ca.pem".into();
        let err = Trust::from_settings(&settings).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::Unsupported);
    }

    fn health(
        channel: InternalChannel,
    ) -> tonic_health::pb::health_client::HealthClient<InternalChannel> {
        tonic_health::pb::health_client::HealthClient::new(channel)
    }

    async fn list_services(
        channel: tonic::transport::Channel,
        credential: Option<&str>,
    ) -> Result<(), tonic::Status> {
        use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
        use tonic_reflection::pb::v1::{ServerReflectionRequest, server_reflection_request};
        let mut request = tonic::Request::new(futures::stream::iter([ServerReflectionRequest {
            host: String::new(),
            message_request: Some(server_reflection_request::MessageRequest::ListServices(
                String::new(),
            )),
        }]));
        if let Some(c) = credential {
            request.metadata_mut().insert(HEADER, c.parse().unwrap());
        }
        let mut answers = ServerReflectionClient::new(channel)
            .server_reflection_info(request)
            .await?
            .into_inner();
        answers.message().await?;
        Ok(())
    }

    #[tokio::test]
    async fn an_internal_server_answers_only_calls_with_the_credential() {
        let settings = testing::settings();
        let trust = Trust::from_settings(&settings).unwrap();
        let (addr, stop, task) = crate::server::spawn_for_test_with(
            &settings.server,
            crate::server::Access::Internal(trust.clone()),
        )
        .await;
        let url = format!("http://{addr}");
        let plain = crate::server::channel(&url, &settings.server).unwrap();
        use tonic_types::StatusExt;
        for (credential, reason) in [
            (None, REASON_MISSING),
            (Some("x".repeat(40)), REASON_INVALID),
        ] {
            let err = list_services(plain.clone(), credential.as_deref())
                .await
                .unwrap_err();
            assert_eq!(err.code(), tonic::Code::Unauthenticated, "{err:?}");
            let info = err.get_error_details().error_info().cloned().unwrap();
            assert_eq!(info.reason, reason);
            assert_eq!(info.domain, crate::error::ERROR_DOMAIN);
        }
        list_services(plain.clone(), Some(testing::CREDENTIAL))
            .await
            .unwrap();
        // Probes need no credential; the channel of the services carries it anyway.
        tonic_health::pb::health_client::HealthClient::new(plain)
            .check(tonic_health::pb::HealthCheckRequest::default())
            .await
            .unwrap();
        let internal = channel(&url, &settings.server, &trust).unwrap();
        health(internal)
            .check(tonic_health::pb::HealthCheckRequest::default())
            .await
            .unwrap();
        let _ = stop.send(());
        let _ = task.await;
    }
}
