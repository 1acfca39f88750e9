//! The gateway: the only door for outside callers (DESIGN.md section 8). It authenticates
//! every call by its bearer token, maps the caller to an organisation and role, enforces
//! tenancy, rate-limits per organisation and forwards to the internal services.
//!
//! `token` mints and verifies tokens, `auth` admits callers, `forward` holds what the doors
//! share; `bank`, `court`, `notary` and `mediator` are the four organisations' doors, and
//! `public` the door that needs no token (certificate verification).

mod auth;
mod bank;
mod court;
mod forward;
mod mediator;
mod notary;
mod public;
pub mod token;

use std::net::SocketAddr;
use std::sync::Arc;

use sieve_kernel::server::{Access, BoundServer, Server};
use sieve_kernel::{BuildError, Settings};
use sieve_proto::gateway::v1::bank_api_service_server::BankApiServiceServer;
use sieve_proto::gateway::v1::court_api_service_server::CourtApiServiceServer;
use sieve_proto::gateway::v1::mediator_api_service_server::MediatorApiServiceServer;
use sieve_proto::gateway::v1::notary_api_service_server::NotaryApiServiceServer;
use sieve_proto::gateway::v1::public_api_service_server::PublicApiServiceServer;

use crate::forward::Context;
use crate::token::SigningKey;

pub const SERVICE: &str = "gateway";

/// The gateway, built and bound, not yet serving.
pub struct Application {
    server: BoundServer,
}

impl Application {
    /// Binds `port` (0: any free port) and forwards to intake at `intake_url`
    /// (e.g. `http://127.0.0.1:50051`) and to bad-debt-check at `bad_debt_check_url`. Each
    /// is connected on first use, so they may start after the gateway.
    pub async fn build(
        settings: &Settings,
        intake_url: &str,
        bad_debt_check_url: &str,
        port: u16,
    ) -> Result<Self, BuildError> {
        let keys = signing_keys(settings)?;
        let trust = sieve_kernel::internal::Trust::from_settings(settings)?;
        let intake = sieve_kernel::internal::channel(intake_url, &settings.server, &trust)
            .map_err(|e| invalid_input(format!("intake url `{intake_url}`: {e}")))?;
        let bad_debt_check =
            sieve_kernel::internal::channel(bad_debt_check_url, &settings.server, &trust).map_err(
                |e| invalid_input(format!("bad-debt-check url `{bad_debt_check_url}`: {e}")),
            )?;
        let max = settings.server.max_message_bytes;
        let intake = forward::intake_client(intake, max);
        let gate = auth::Gate::new(
            keys,
            settings.gateway.rate_limit_per_second,
            settings.court.clone(),
            intake.clone(),
        );
        let ctx = Context {
            gate: Arc::new(gate),
            intake,
            registry: forward::registry_client(bad_debt_check.clone(), max),
            pre_check: forward::pre_check_client(bad_debt_check, max),
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
                bank::BankApi { ctx: ctx.clone() }
            ))
            .add_service(limited!(
                CourtApiServiceServer,
                court::CourtApi { ctx: ctx.clone() }
            ))
            .add_service(limited!(
                NotaryApiServiceServer,
                notary::NotaryApi { ctx: ctx.clone() }
            ))
            .add_service(limited!(
                MediatorApiServiceServer,
                mediator::MediatorApi { ctx: ctx.clone() }
            ))
            .add_service(limited!(PublicApiServiceServer, public::PublicApi { ctx }))
            .bind(&settings.server.host, port)
            .await?;
        Ok(Self { server })
    }

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
fn signing_keys(settings: &Settings) -> Result<Vec<SigningKey>, BuildError> {
    let configured = &settings.gateway.signing_keys;
    if configured.is_empty() {
        let key = token::dev_key(&settings.database.data_dir)?;
        tracing::warn!(
            file = %settings.database.data_dir.join(token::DEV_KEY_FILE).display(),
            "no gateway.signing_keys configured: accepting tokens of the development key"
        );
        return Ok(vec![key]);
    }
    configured
        .iter()
        .map(|(kid, secret)| {
            SigningKey::from_base64(kid, secret)
                .map_err(|e| invalid_input(format!("gateway.signing_keys: {e}")).into())
        })
        .collect()
}

// BuildError has no configuration variant; settings are validated at load, so this only
// catches settings assembled by hand.
fn invalid_input(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, message)
}
