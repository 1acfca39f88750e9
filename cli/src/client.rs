//! Reaching the suite as outside callers do: through the gateway, with a bearer token.
//!
//! Tokens come from `--token`/`SIEVE_TOKEN`, or are minted here from the signing key the
//! gateway verifies with: the newest configured key, else the development key that the
//! gateway created under `database.data_dir`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sieve_gateway::token::{self, Claims, Role, SigningKey};
use sieve_kernel::Settings;
use sieve_proto::gateway::v1::bank_api_service_client::BankApiServiceClient;
use sieve_proto::gateway::v1::court_api_service_client::CourtApiServiceClient;
use sieve_proto::gateway::v1::public_api_service_client::PublicApiServiceClient;
use sieve_proto::gateway::v1::{
    CourtApiServiceListBanksRequest, CourtApiServiceRegisterBankRequest,
};
use sieve_proto::intake::v1 as intake;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::error::CliError;

/// How long tokens minted for one command's own calls live.
const CALL_TOKEN_TTL: Duration = Duration::from_secs(3600);
/// Calls refused for the gateway's rate limit are made again, this many times at most.
const RATE_LIMIT_RETRIES: u32 = 50;

/// Adds `authorization: Bearer <token>` to every call.
#[derive(Clone)]
pub struct Bearer(MetadataValue<Ascii>);

impl Bearer {
    pub fn new(token: &str) -> Result<Self, CliError> {
        format!("Bearer {}", token.trim())
            .parse()
            .map(Bearer)
            .map_err(|_| CliError::Usage("the token holds characters a header cannot".into()))
    }
}

// The token is a credential: never printed, not even in debug output.
impl std::fmt::Debug for Bearer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Bearer(..)")
    }
}

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        req.metadata_mut().insert("authorization", self.0.clone());
        Ok(req)
    }
}

pub type BankClient = BankApiServiceClient<InterceptedService<Channel, Bearer>>;
pub type CourtClient = CourtApiServiceClient<InterceptedService<Channel, Bearer>>;
/// The door that needs no token.
pub type PublicClient = PublicApiServiceClient<Channel>;

/// A (lazily connected) channel to the gateway.
#[derive(Debug, Clone)]
pub struct Gateway {
    channel: Channel,
    max_message_bytes: usize,
}

impl Gateway {
    pub fn connect(url: &str, settings: &Settings) -> Result<Self, CliError> {
        let channel = sieve_kernel::server::channel(url, &settings.server).map_err(|source| {
            CliError::Endpoint {
                url: url.to_owned(),
                source,
            }
        })?;
        Ok(Self {
            channel,
            max_message_bytes: settings.server.max_message_bytes,
        })
    }

    /// `http://127.0.0.1:<services.gateway.port>` unless `url` is given.
    pub fn default_url(url: Option<&str>, settings: &Settings) -> String {
        let port = sieve_kernel::service::register::<sieve_gateway::Application>()
            .endpoint(settings)
            .map_or(50050, |e| e.port);
        match url {
            Some(u) => u.to_owned(),
            None => format!("http://127.0.0.1:{port}"),
        }
    }

    pub fn bank(&self, token: &str) -> Result<BankClient, CliError> {
        Ok(
            BankApiServiceClient::with_interceptor(self.channel.clone(), Bearer::new(token)?)
                .max_decoding_message_size(self.max_message_bytes)
                .max_encoding_message_size(self.max_message_bytes),
        )
    }

    pub fn court(&self, token: &str) -> Result<CourtClient, CliError> {
        Ok(
            CourtApiServiceClient::with_interceptor(self.channel.clone(), Bearer::new(token)?)
                .max_decoding_message_size(self.max_message_bytes)
                .max_encoding_message_size(self.max_message_bytes),
        )
    }

    /// Calls anyone may make, without a token.
    pub fn public(&self) -> PublicClient {
        PublicApiServiceClient::new(self.channel.clone())
            .max_decoding_message_size(self.max_message_bytes)
            .max_encoding_message_size(self.max_message_bytes)
    }
}

/// Where a key came from, so messages can say which one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Configured,
    /// The development key file.
    Dev(PathBuf),
}

/// What a command authenticates with.
#[derive(Clone)]
pub struct Credentials {
    /// Given on the command line or in SIEVE_TOKEN.
    pub token: Option<String>,
    /// A key to mint tokens with, when one is at hand.
    pub key: Option<(SigningKey, KeySource)>,
    /// The court's name: the organisation of court tokens.
    pub court_name: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("token", &self.token.as_ref().map(|_| ".."))
            .field("key", &self.key.as_ref().map(|(k, s)| (&k.kid, s)))
            .finish()
    }
}

impl Credentials {
    /// The given token, and the key this machine can mint with, if any. The development key
    /// is only read, never created: a fresh key would not be the gateway's.
    pub fn load(settings: &Settings, token: Option<String>) -> Result<Self, CliError> {
        Ok(Self {
            token: token.filter(|t| !t.trim().is_empty()),
            key: local_key(settings)?,
            court_name: settings.court.name.clone(),
        })
    }

    /// Credentials that mint from `key` (tests, and `sieve up` itself).
    pub fn from_key(key: SigningKey, source: KeySource, court_name: &str) -> Self {
        Self {
            token: None,
            key: Some((key, source)),
            court_name: court_name.to_owned(),
        }
    }

    fn mint(&self, org_id: &str, role: Role, ttl: Option<Duration>) -> Result<String, CliError> {
        let (key, _) = self.key.as_ref().ok_or_else(|| {
            CliError::Usage(
                "no token: pass --token or set SIEVE_TOKEN, or run where the suite's signing \
                 key is (configure services.gateway.signing_keys, or start `sieve up` in this directory \
                 for the development key)"
                    .into(),
            )
        })?;
        Ok(mint(key, org_id, role, ttl))
    }

    pub fn mint_court(&self, ttl: Option<Duration>) -> Result<String, CliError> {
        self.mint(&self.court_name, Role::Court, ttl)
    }

    pub fn mint_bank(&self, bank_id: &str, ttl: Option<Duration>) -> Result<String, CliError> {
        self.mint(bank_id, Role::Bank, ttl)
    }

    /// The role of the given token, when our key can verify it.
    fn token_role(&self) -> Option<Role> {
        let (token, (key, _)) = (self.token.as_ref()?, self.key.as_ref()?);
        token::verify(std::slice::from_ref(key), token, now_unix())
            .ok()
            .map(|c| c.role)
    }

    /// A court token: the given one, else minted.
    pub fn court_token(&self) -> Result<String, CliError> {
        match &self.token {
            Some(t) => Ok(t.clone()),
            None => self.mint_court(Some(CALL_TOKEN_TTL)),
        }
    }

    /// A token for `bank` and its id when known. A given bank token is used as it is (the
    /// gateway fills the bank from it); a given court token, or none, registers the bank
    /// (idempotent by code) and mints a token for it.
    pub async fn bank_session(
        &self,
        gateway: &Gateway,
        bank: &BankSpec,
    ) -> Result<BankSession, CliError> {
        let court = match (&self.token, self.token_role()) {
            (Some(t), Some(Role::Court)) => t.clone(),
            (Some(t), _) => {
                return Ok(BankSession {
                    token: t.clone(),
                    bank: None,
                });
            }
            (None, _) => self.mint_court(Some(CALL_TOKEN_TTL))?,
        };
        let registered = register_bank(gateway, &court, bank).await?;
        let token = self.mint_bank(&registered.bank_id, Some(CALL_TOKEN_TTL))?;
        Ok(BankSession {
            token,
            bank: Some(registered),
        })
    }

    /// A token for the registered bank with `code`. A given bank token is used as it is (the
    /// gateway takes the bank from it); a given court token, or none, looks the bank up and
    /// mints a token for it. Unlike [`Credentials::bank_session`], nothing is registered.
    pub async fn bank_token_for_code(
        &self,
        gateway: &Gateway,
        code: &str,
    ) -> Result<String, CliError> {
        let court = match (&self.token, self.token_role()) {
            (Some(t), Some(Role::Court)) => t.clone(),
            (Some(t), _) => return Ok(t.clone()),
            (None, _) => self.mint_court(Some(CALL_TOKEN_TTL))?,
        };
        let banks = list_banks(gateway, &court).await?;
        let bank = banks.iter().find(|b| b.code == code).ok_or_else(|| {
            CliError::Usage(format!(
                "no bank with code {code} is registered; `sieve submit --bank {code}` registers it"
            ))
        })?;
        self.mint_bank(&bank.bank_id, Some(CALL_TOKEN_TTL))
    }
}

/// `call(client, request)`, made again (with a fresh clone of each) while the gateway's rate
/// limit refuses it (RESOURCE_EXHAUSTED), after the delay its `RetryInfo` asks: a command that
/// makes many calls (pages of a large batch, a demo's callbacks) can only wait the limit out.
pub async fn patiently<C, R, T, Fut>(
    client: &C,
    request: &R,
    call: impl Fn(C, R) -> Fut,
) -> Result<T, tonic::Status>
where
    C: Clone,
    R: Clone,
    Fut: Future<Output = Result<T, tonic::Status>>,
{
    let mut retries = 0;
    loop {
        match call(client.clone(), request.clone()).await {
            Err(s)
                if s.code() == tonic::Code::ResourceExhausted && retries < RATE_LIMIT_RETRIES =>
            {
                retries += 1;
                let delay = tonic_types::StatusExt::get_details_retry_info(&s)
                    .and_then(|r| r.retry_delay)
                    .unwrap_or(Duration::from_millis(100))
                    .clamp(Duration::from_millis(10), Duration::from_secs(2));
                tokio::time::sleep(delay).await;
            }
            answer => return answer,
        }
    }
}

/// Signs a token for `org_id` as `role`, expiring after `ttl` (never when `None`).
pub fn mint(key: &SigningKey, org_id: &str, role: Role, ttl: Option<Duration>) -> String {
    let exp =
        ttl.map(|d| now_unix().saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)));
    token::mint(
        key,
        &Claims {
            org_id: org_id.to_owned(),
            role,
            exp,
        },
    )
}

fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The newest configured key (greatest key id, e.g. `k2025` over `k2024`), else the
/// development key when its file exists.
pub fn local_key(settings: &Settings) -> Result<Option<(SigningKey, KeySource)>, CliError> {
    let configured = crate::gateway_settings(settings)?.signing_keys;
    if let Some((kid, secret)) = configured.iter().next_back() {
        let key = SigningKey::from_base64(kid, secret).map_err(|e| CliError::Key(e.to_string()))?;
        return Ok(Some((key, KeySource::Configured)));
    }
    let dir = &settings.database.data_dir;
    if !dir.join(token::DEV_KEY_FILE).exists() {
        return Ok(None);
    }
    dev_key(dir).map(Some)
}

/// Loads (or, for `sieve up`, creates) the development key.
pub fn dev_key(dir: &Path) -> Result<(SigningKey, KeySource), CliError> {
    let key = token::dev_key(dir)
        .map_err(|e| CliError::Key(format!("{}: {e}", dir.join(token::DEV_KEY_FILE).display())))?;
    Ok((key, KeySource::Dev(dir.join(token::DEV_KEY_FILE))))
}

/// The bank a batch is submitted for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankSpec {
    pub code: String,
    pub name: String,
    pub callback_phone: String,
}

/// A bank token, and the bank when it was registered (or found) on the way.
#[derive(Clone)]
pub struct BankSession {
    pub token: String,
    pub bank: Option<intake::Bank>,
}

pub async fn register_bank(
    gateway: &Gateway,
    court_token: &str,
    bank: &BankSpec,
) -> Result<intake::Bank, CliError> {
    let response = gateway
        .court(court_token)?
        .register_bank(CourtApiServiceRegisterBankRequest {
            request: Some(intake::RegisterBankRequest {
                code: bank.code.clone(),
                name: bank.name.clone(),
                callback_phone: bank.callback_phone.clone(),
            }),
        })
        .await
        .map_err(|s| CliError::grpc("CourtApiService.RegisterBank", s))?
        .into_inner();
    response
        .response
        .and_then(|r| r.bank)
        .ok_or_else(|| CliError::Protocol("RegisterBank answered without the bank".into()))
}

/// Every registered bank, page by page.
pub async fn list_banks(
    gateway: &Gateway,
    court_token: &str,
) -> Result<Vec<intake::Bank>, CliError> {
    let client = gateway.court(court_token)?;
    crate::paging::all_pages(|page_token| {
        let mut client = client.clone();
        async move {
            let page = client
                .list_banks(CourtApiServiceListBanksRequest {
                    request: Some(intake::ListBanksRequest {
                        page: Some(sieve_proto::common::v1::PageRequest {
                            page_size: 1000,
                            page_token,
                        }),
                    }),
                })
                .await
                .map_err(|s| CliError::grpc("CourtApiService.ListBanks", s))?
                .into_inner()
                .response
                .unwrap_or_default();
            Ok((page.banks, page.next_page_token))
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_verify_with_their_claims() {
        let key = SigningKey::generate("dev");
        let token = mint(&key, "bank-1", Role::Bank, Some(Duration::from_secs(60)));
        let claims = token::verify(std::slice::from_ref(&key), &token, now_unix()).expect("valid");
        assert_eq!(claims.org_id, "bank-1");
        assert_eq!(claims.role, Role::Bank);
        let exp = claims.exp.expect("expires");
        assert!((exp - now_unix() - 60).abs() <= 2, "{exp}");
        let forever = mint(&key, "c", Role::Court, None);
        assert_eq!(
            token::verify(&[key], &forever, i64::MAX - 1)
                .map(|c| c.exp)
                .ok(),
            Some(None)
        );
    }

    #[test]
    fn a_given_court_token_is_recognised_with_our_key() {
        let key = SigningKey::generate("dev");
        let mut creds = Credentials::from_key(key.clone(), KeySource::Configured, "嘉荫县人民法院");
        creds.token = Some(mint(&key, "嘉荫县人民法院", Role::Court, None));
        assert_eq!(creds.token_role(), Some(Role::Court));
        creds.token = Some(mint(&key, "bank-1", Role::Bank, None));
        assert_eq!(creds.token_role(), Some(Role::Bank));
        // Another key's token: used as given.
        creds.token = Some(mint(&SigningKey::generate("dev"), "x", Role::Court, None));
        assert_eq!(creds.token_role(), None);
        assert!(!format!("{creds:?}").contains("sieve1."));
    }

    #[test]
    fn without_token_or_key_minting_explains_what_to_do() {
        let creds = Credentials {
            token: None,
            key: None,
            court_name: "c".into(),
        };
        let err = creds.court_token().expect_err("no key").to_string();
        assert!(err.contains("--token"), "{err}");
    }

    #[test]
    fn bearer_refuses_header_breaking_tokens() {
        assert!(Bearer::new("sieve1.dev.abc.def").is_ok());
        assert!(Bearer::new("bad\ntoken").is_err());
    }
}
