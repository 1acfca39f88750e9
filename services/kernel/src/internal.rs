//! Internal services answer only the gateway and each other (DESIGN.md section 8). Every call
//! to an internal port carries the shared credential ([`HEADER`]); a server built with
//! [`crate::server::Access::Internal`] refuses a call without it UNAUTHENTICATED, before any
//! handler runs, and logs the refusal once per source ([`crate::refusals`]). Health is
//! exempt: probes carry no secrets. Clients get the credential from [`channel`], the one way
//! a service calls another, so no call can leave without it.

use std::path::Path;
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::body::Body;
use tower::{Layer, Service};

use crate::config::{ServerSettings, Settings};
use crate::error::{Error, ErrorCode, reason};
use crate::refusals::RefusalLog;

/// The metadata header carrying the credential.
pub const HEADER: &str = "x-sieve-internal-credential";
/// The development credential's file under `database.data_dir`.
pub const DEV_CREDENTIAL_FILE: &str = "internal-dev.credential";
/// Calls under this path prefix need no credential: load balancers and kubelets probe them.
const EXEMPT_PREFIX: &str = "/grpc.health.v1.Health/";

/// What internal services share: the credential (never shown by `Debug`), and, when
/// configured, the certificates for mutual TLS.
#[derive(Clone)]
pub struct Trust {
    credential: http::HeaderValue,
    tls: Option<Arc<MutualTls>>,
}

/// This service's certificate and key, and the CA every service's certificate is signed by:
/// servers ask callers for a certificate of that CA, channels present theirs and accept only
/// servers of that CA.
struct MutualTls {
    identity: tonic::transport::Identity,
    ca: tonic::transport::Certificate,
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trust").finish_non_exhaustive()
    }
}

impl Trust {
    /// The configured credential, or the development one in `data_dir` (created on first use,
    /// mode 0600) when none is configured.
    /// With `internal.tls_cert`, `tls_key` and `tls_ca`, the services also speak mutual TLS
    /// to each other (a file that cannot be read stops the start, naming its key).
    pub fn from_settings(settings: &Settings) -> std::io::Result<Self> {
        let configured = settings.internal.credential.trim();
        let trust = if !configured.is_empty() {
            Self::new(configured)?
        } else {
            let path = settings.database.data_dir.join(DEV_CREDENTIAL_FILE);
            let credential = dev_credential(&settings.database.data_dir)?;
            tracing::warn!(
                file = %path.display(),
                "no internal.credential configured: the services trust the development credential"
            );
            Self::new(&credential)?
        };
        let i = &settings.internal;
        if !i.tls_configured() {
            return Ok(trust);
        }
        let read = |key: &str, path: &str| {
            std::fs::read(path.trim()).map_err(|e| {
                std::io::Error::new(e.kind(), format!("internal.{key} `{}`: {e}", path.trim()))
            })
        };
        let (cert, key, ca) = (
            read("tls_cert", &i.tls_cert)?,
            read("tls_key", &i.tls_key)?,
            read("tls_ca", &i.tls_ca)?,
        );
        Ok(trust.with_mutual_tls(&cert, &key, &ca))
    }

    /// Adds mutual TLS: this service's certificate and key, and the services' CA (PEM).
    pub fn with_mutual_tls(mut self, cert_pem: &[u8], key_pem: &[u8], ca_pem: &[u8]) -> Self {
        self.tls = Some(Arc::new(MutualTls {
            identity: tonic::transport::Identity::from_pem(cert_pem, key_pem),
            ca: tonic::transport::Certificate::from_pem(ca_pem),
        }));
        self
    }

    /// What a server of these services asks of its callers: a certificate of the CA.
    pub fn server_tls(&self) -> Option<tonic::transport::ServerTlsConfig> {
        self.tls.as_ref().map(|t| {
            tonic::transport::ServerTlsConfig::new()
                .identity(t.identity.clone())
                .client_ca_root(t.ca.clone())
        })
    }

    fn client_tls(&self) -> Option<tonic::transport::ClientTlsConfig> {
        self.tls.as_ref().map(|t| {
            tonic::transport::ClientTlsConfig::new()
                .ca_certificate(t.ca.clone())
                .identity(t.identity.clone())
        })
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
        Ok(Self {
            credential: value,
            tls: None,
        })
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
    let secret = crate::secret_file::load_or_create(&path, || {
        rand::random::<[u8; 32]>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    })?;
    if secret.text.len() < crate::config::InternalSettings::MIN_CREDENTIAL_CHARS {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{} holds no credential; remove it to make a new one",
                path.display()
            ),
        ));
    }
    Ok(secret.text)
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
            Some(_) => Some(reason::INTERNAL_CREDENTIAL_INVALID),
            None => Some(reason::INTERNAL_CREDENTIAL_MISSING),
        };
        let Some(reason) = refusal else {
            return Box::pin(self.inner.call(req));
        };
        self.refusals
            .refused(&crate::refusals::peer(remote_addr(&req)), reason);
        let message = match reason {
            reason::INTERNAL_CREDENTIAL_MISSING => {
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
    use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
    req.extensions()
        .get::<TcpConnectInfo>()
        .and_then(TcpConnectInfo::remote_addr)
        .or_else(|| {
            req.extensions()
                .get::<TlsConnectInfo<TcpConnectInfo>>()
                .and_then(|i| i.get_ref().remote_addr())
        })
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

/// A lazily connected channel to the internal service at `url`, carrying `trust`'s credential;
/// over mutual TLS when `trust` has it (an `http://` URL is then called as `https://`, and the
/// server's certificate must name the URL's host).
pub fn channel(
    url: &str,
    settings: &ServerSettings,
    trust: &Trust,
) -> Result<InternalChannel, tonic::transport::Error> {
    let inner = match trust.client_tls() {
        None => crate::server::channel(url, settings)?,
        Some(tls) => {
            let url = match url.strip_prefix("http://") {
                Some(rest) => format!("https://{rest}"),
                None => url.to_string(),
            };
            crate::server::endpoint(&url, settings)?
                .tls_config(tls)?
                .connect_lazy()
        }
    };
    Ok(InternalChannel {
        inner,
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

    /// Lists the services by reflection (a call every internal server answers), presenting
    /// `credential` when given: what refusal tests call without and with it.
    pub async fn list_services(
        channel: tonic::transport::Channel,
        credential: Option<&str>,
    ) -> Result<Vec<String>, tonic::Status> {
        use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
        use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
        let answers = reflect(
            channel,
            credential,
            vec![MessageRequest::ListServices(String::new())],
        )
        .await?;
        match answers.into_iter().next() {
            Some(MessageResponse::ListServicesResponse(list)) => {
                Ok(list.service.into_iter().map(|s| s.name).collect())
            }
            other => Err(tonic::Status::internal(format!(
                "reflection answered {other:?} to a list of services"
            ))),
        }
    }

    /// Sends `requests` to the reflection service (v1) on one stream and returns its answers
    /// in order, presenting `credential` when given.
    pub async fn reflect(
        channel: tonic::transport::Channel,
        credential: Option<&str>,
        requests: Vec<tonic_reflection::pb::v1::server_reflection_request::MessageRequest>,
    ) -> Result<
        Vec<tonic_reflection::pb::v1::server_reflection_response::MessageResponse>,
        tonic::Status,
    > {
        use tonic_reflection::pb::v1::ServerReflectionRequest;
        use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
        let expected = requests.len();
        let mut request =
            tonic::Request::new(futures::stream::iter(requests.into_iter().map(|r| {
                ServerReflectionRequest {
                    host: String::new(),
                    message_request: Some(r),
                }
            })));
        if let Some(c) = credential {
            let value = c
                .parse()
                .map_err(|_| tonic::Status::invalid_argument("a credential is visible ASCII"))?;
            request.metadata_mut().insert(super::HEADER, value);
        }
        let mut answers = ServerReflectionClient::new(channel)
            .server_reflection_info(request)
            .await?
            .into_inner();
        let mut out = Vec::with_capacity(expected);
        while out.len() < expected
            && let Some(answer) = answers.message().await?
        {
            out.extend(answer.message_response);
        }
        Ok(out)
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
    fn tls_files_that_cannot_be_read_stop_the_start_naming_their_key() {
        let mut settings = testing::settings();
        settings.internal.tls_cert = "/nonexistent/cert.pem".into();
        settings.internal.tls_key = "/nonexistent/key.pem".into();
        settings.internal.tls_ca = "/nonexistent/ca.pem".into();
        let err = Trust::from_settings(&settings).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
        assert!(err.to_string().contains("internal.tls_cert"), "{err}");
    }

    /// A CA, and a certificate it signed for 127.0.0.1 and localhost: (ca, cert, key), PEM.
    fn test_pki() -> (String, String, String) {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "sieve test CA");
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let key = KeyPair::generate().unwrap();
        let params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        let cert = params.signed_by(&key, &issuer).unwrap();
        (ca_cert.pem(), cert.pem(), key.serialize_pem())
    }

    #[tokio::test]
    async fn with_mutual_tls_only_callers_holding_a_certificate_of_the_ca_are_served() {
        let settings = testing::settings();
        let (ca, cert, key) = test_pki();
        let trust = Trust::new(testing::CREDENTIAL).unwrap().with_mutual_tls(
            cert.as_bytes(),
            key.as_bytes(),
            ca.as_bytes(),
        );
        let (addr, stop, task) = crate::server::spawn_for_test_with(
            &settings.server,
            crate::server::Access::Internal(trust.clone()),
        )
        .await;
        let request = || tonic_health::pb::HealthCheckRequest::default();
        // The services' own channel: TLS with its certificate, and the credential.
        let ours = channel(&format!("http://{addr}"), &settings.server, &trust).unwrap();
        health(ours).check(request()).await.unwrap();
        // TLS without a client certificate: the handshake is refused.
        let anonymous = crate::server::endpoint(&format!("https://{addr}"), &settings.server)
            .unwrap()
            .tls_config(
                tonic::transport::ClientTlsConfig::new()
                    .ca_certificate(tonic::transport::Certificate::from_pem(&ca)),
            )
            .unwrap()
            .connect_lazy();
        let refused = tonic_health::pb::health_client::HealthClient::new(anonymous)
            .check(request())
            .await;
        assert!(refused.is_err(), "{refused:?}");
        // Plain TCP is not answered either.
        let plain = crate::server::channel(&format!("http://{addr}"), &settings.server).unwrap();
        let refused = tonic_health::pb::health_client::HealthClient::new(plain)
            .check(request())
            .await;
        assert!(refused.is_err(), "{refused:?}");
        let _ = stop.send(());
        let _ = task.await;
    }

    fn health(
        channel: InternalChannel,
    ) -> tonic_health::pb::health_client::HealthClient<InternalChannel> {
        tonic_health::pb::health_client::HealthClient::new(channel)
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
            (None, reason::INTERNAL_CREDENTIAL_MISSING),
            (Some("x".repeat(40)), reason::INTERNAL_CREDENTIAL_INVALID),
        ] {
            let err = testing::list_services(plain.clone(), credential.as_deref())
                .await
                .unwrap_err();
            assert_eq!(err.code(), tonic::Code::Unauthenticated, "{err:?}");
            let info = err.get_error_details().error_info().cloned().unwrap();
            assert_eq!(info.reason, reason);
            assert_eq!(info.domain, crate::error::ERROR_DOMAIN);
        }
        testing::list_services(plain.clone(), Some(testing::CREDENTIAL))
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
