//! The gateway: the only door for outside callers (DESIGN.md section 8). It authenticates
//! every call by its bearer token, maps the caller to an organisation and role, enforces
//! tenancy, rate-limits per organisation and forwards to the internal services.
//!
//! `token` mints and verifies tokens, `auth` admits callers, `forward` holds what the doors
//! share; `bank`, `court`, `notary` and `mediator` are the four organisations' doors, and
//! `public` the door that needs no token (certificate verification). `clock` is what the court
//! door answers itself: the suite's clock, read and (when manual) moved.

mod auth;
mod bank;
mod calendar;
mod clock;
mod court;
mod forward;
mod mediator;
mod notary;
mod public;
pub mod token;

use std::net::SocketAddr;
use std::sync::Arc;

use futures::future::BoxFuture;
use sieve_kernel::server::{Access, BoundServer, Server};
use sieve_kernel::service::{Context, Service, Validate};
use sieve_kernel::{BuildError, Settings};
use sieve_proto::gateway::v1::bank_api_service_server::BankApiServiceServer;
use sieve_proto::gateway::v1::court_api_service_server::CourtApiServiceServer;
use sieve_proto::gateway::v1::mediator_api_service_server::MediatorApiServiceServer;
use sieve_proto::gateway::v1::notary_api_service_server::NotaryApiServiceServer;
use sieve_proto::gateway::v1::public_api_service_server::PublicApiServiceServer;

use crate::token::SigningKey;

pub const SERVICE: &str = "gateway";
/// The services behind the doors.
pub const INTAKE_SERVICE: &str = "intake";
pub const PRE_CHECK_SERVICE: &str = "bad-debt-check";
pub const PRESERVATION_SERVICE: &str = "preservation";

/// The gateway, built and bound, not yet serving.
pub struct Application {
    server: BoundServer,
}

/// `[services.gateway]`, less its endpoint.
#[derive(Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewaySettings {
    /// Key id → base64 HMAC secret (at least 32 bytes) that bearer tokens are signed with.
    /// Several keys let an old one keep verifying while a new one is rolled out. Empty: the
    /// development key in `database.data_dir`, with a warning.
    #[serde(default)]
    pub signing_keys: std::collections::BTreeMap<String, String>,
    /// Calls per second per organisation, with a burst of the same size.
    pub rate_limit_per_second: u32,
}

// Secrets stay out of logs and panic messages: only the key ids are shown.
impl std::fmt::Debug for GatewaySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewaySettings")
            .field(
                "signing_keys",
                &self.signing_keys.keys().collect::<Vec<_>>(),
            )
            .field("rate_limit_per_second", &self.rate_limit_per_second)
            .finish()
    }
}

impl Validate for GatewaySettings {
    fn validate(&self) -> Result<(), (&'static str, String)> {
        for (kid, secret) in &self.signing_keys {
            let kid_ok = !kid.is_empty()
                && kid
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !kid_ok {
                return Err((
                    "signing_keys",
                    format!("key id `{kid}` must be letters, digits, `-` or `_`"),
                ));
            }
            // The secret itself is never quoted.
            if let Err(e) = SigningKey::from_base64(kid, secret.trim()) {
                return Err(("signing_keys", e.to_string()));
            }
        }
        if self.rate_limit_per_second == 0 {
            return Err(("rate_limit_per_second", "must be at least 1".into()));
        }
        Ok(())
    }
}

impl GatewaySettings {
    /// As `settings` configure them (defaults where they are silent).
    pub fn of(settings: &Settings) -> Result<Self, BuildError> {
        Context::of::<Application>(settings)?.own()
    }
}

impl Service for Application {
    const NAME: &'static str = SERVICE;
    const KEY: &'static str = "gateway";
    const DEFAULTS: &'static str = include_str!("defaults.toml");
    const CALLS: &'static [&'static str] =
        &[INTAKE_SERVICE, PRE_CHECK_SERVICE, PRESERVATION_SERVICE];
    type Settings = GatewaySettings;

    /// Binds its port and forwards to the services it calls; each is connected on first
    /// use, so they may start after the gateway.
    async fn build(ctx: Context) -> Result<Self, BuildError> {
        let own: GatewaySettings = ctx.own()?;
        let settings = &ctx.settings;
        let port = ctx.port;
        let keys = signing_keys(&own, settings)?;
        let trust = ctx.trust()?;
        let intake = ctx.channel_to(INTAKE_SERVICE, &trust)?;
        let bad_debt_check = ctx.channel_to(PRE_CHECK_SERVICE, &trust)?;
        let preservation = ctx.channel_to(PRESERVATION_SERVICE, &trust)?;
        let max = settings.server.max_message_bytes;
        let intake = forward::intake_client(intake, max);
        let gate = auth::Gate::new(
            keys,
            own.rate_limit_per_second,
            settings.court.clone(),
            intake.clone(),
        );
        let pre_check = forward::pre_check_client(bad_debt_check.clone(), max);
        let preservation_client = forward::preservation_client(preservation.clone(), max);
        let doors = forward::Context {
            gate: Arc::new(gate),
            backends: forward::Backends {
                cases: forward::case_lookup(&intake),
                intake,
                registry: forward::registry_client(bad_debt_check.clone(), max),
                checks: forward::check_lookup(&pre_check),
                pre_check,
                preservations: forward::preservation_lookup(&preservation_client),
                preservation: preservation_client,
                // Each stage service adds itself here as it is deployed; intake counts no
                // periods.
                calendars: vec![
                    (
                        PRE_CHECK_SERVICE,
                        forward::calendar_client(bad_debt_check, max),
                    ),
                    (
                        PRESERVATION_SERVICE,
                        forward::calendar_client(preservation, max),
                    ),
                ],
            },
            clock: ctx.clock.clone(),
        };
        // Generated servers share one builder shape; each gets the configured size limits.
        macro_rules! limited {
            ($server:ident, $api:expr) => {
                $server::new($api)
                    .max_decoding_message_size(max)
                    .max_encoding_message_size(max)
            };
        }
        // The door outsiders use: each call is authenticated by its bearer token instead.
        let server = Server::new(SERVICE, &settings.server, Access::Public)
            .add_service(limited!(
                BankApiServiceServer,
                bank::BankApi { ctx: doors.clone() }
            ))
            .add_service(limited!(
                CourtApiServiceServer,
                court::CourtApi { ctx: doors.clone() }
            ))
            .add_service(limited!(
                NotaryApiServiceServer,
                notary::NotaryApi { ctx: doors.clone() }
            ))
            .add_service(limited!(
                MediatorApiServiceServer,
                mediator::MediatorApi { ctx: doors.clone() }
            ))
            .add_service(limited!(
                PublicApiServiceServer,
                public::PublicApi { ctx: doors }
            ))
            .bind(&settings.server.host, port)
            .await?;
        Ok(Self { server })
    }

    fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    async fn run(self, shutdown: BoxFuture<'static, ()>) -> Result<(), tonic::transport::Error> {
        self.run_until(shutdown).await
    }
}

impl Application {
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), tonic::transport::Error> {
        self.server.run_until(shutdown).await
    }
}

/// The configured keys, or the development key when none are configured.
fn signing_keys(own: &GatewaySettings, settings: &Settings) -> Result<Vec<SigningKey>, BuildError> {
    let configured = &own.signing_keys;
    if configured.is_empty() {
        let key = token::dev_key(&settings.database.data_dir)?;
        tracing::warn!(
            file = %settings.database.data_dir.join(token::DEV_KEY_FILE).display(),
            "no services.gateway.signing_keys configured: accepting tokens of the development key"
        );
        return Ok(vec![key]);
    }
    configured
        .iter()
        .map(|(kid, secret)| {
            SigningKey::from_base64(kid, secret.trim()).map_err(|e| BuildError::Config {
                key: "services.gateway.signing_keys".into(),
                problem: e.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn gateway_keys_are_checked_at_start() {
        let s = Settings::defaults().expect("defaults");
        let own = GatewaySettings::of(&s).expect("the defaults are valid");
        assert!(own.signing_keys.is_empty());
        assert_eq!(own.rate_limit_per_second, 200);
        let strong = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="; // 32 bytes
        let s = Settings::load_from(
            None,
            env(&[("SIEVE__SERVICES__GATEWAY__SIGNING_KEYS__K1", strong)]),
        )
        .expect("settings");
        let own = GatewaySettings::of(&s).expect("a strong key");
        assert_eq!(own.signing_keys["k1"], strong);
        assert!(!format!("{own:?}").contains(strong));
        assert!(!format!("{s:?}").contains(strong), "{s:?}");
        for bad in ["c2hvcnQ=", "not base64!"] {
            let s = Settings::load_from(
                None,
                env(&[("SIEVE__SERVICES__GATEWAY__SIGNING_KEYS__K1", bad)]),
            )
            .expect("settings");
            let err = GatewaySettings::of(&s)
                .expect_err("a weak or malformed key")
                .to_string();
            assert!(err.contains("services.gateway.signing_keys"), "{err}");
            assert!(!err.contains(bad), "{err}");
        }
        let s = Settings::load_from(
            None,
            env(&[("SIEVE__SERVICES__GATEWAY__RATE_LIMIT_PER_SECOND", "0")]),
        )
        .expect("settings");
        let err = GatewaySettings::of(&s)
            .expect_err("no calls at all")
            .to_string();
        assert!(
            err.contains("services.gateway.rate_limit_per_second"),
            "{err}"
        );
    }
}
