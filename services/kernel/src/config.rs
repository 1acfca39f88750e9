//! Layered configuration: built-in defaults < `sieve.toml` < `SIEVE__SECTION__KEY` environment
//! variables (and `DATABASE_URL`), validated once at start so a bad value fails fast with the
//! name of the key.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The defaults, in the same TOML form an operator writes, so the file documents itself.
pub const DEFAULTS: &str = include_str!("defaults.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub telemetry: TelemetrySettings,
    pub database: DatabaseSettings,
    pub server: ServerSettings,
    pub services: ServiceSettings,
    pub court: CourtSettings,
    pub bad_debt_check: BadDebtCheckSettings,
    pub outbox: OutboxSettings,
    pub gateway: GatewaySettings,
    pub internal: InternalSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySettings {
    /// `pretty` for people, `json` for log shippers.
    pub format: LogFormat,
    /// An `EnvFilter` directive such as `info,sieve_intake=debug`; `RUST_LOG` wins when set.
    pub filter: String,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// Empty: embedded SQLite, one file per service under `data_dir`. Otherwise a
    /// `postgres://` URL; each service then keeps its tables in its own schema.
    pub url: String,
    pub data_dir: PathBuf,
    /// PostgreSQL: the pool's size (reads and writes share it).
    pub max_connections: u32,
    /// SQLite: connections that only read, beside the one writer (0: reads use the writer).
    pub read_connections: u32,
    pub busy_timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub host: String,
    /// Upper bound of any call, streaming batches included.
    pub request_timeout_secs: u64,
    /// Calls served at once per service, across connections.
    pub concurrency_limit: usize,
    /// Largest message accepted or sent, on servers and clients alike.
    pub max_message_bytes: usize,
    /// How long graceful shutdown waits for in-flight calls.
    pub shutdown_grace_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSettings {
    pub gateway_port: u16,
    pub intake_port: u16,
    /// Where intake answers, for services reporting stage outcomes; empty: this host.
    pub intake_url: String,
    pub bad_debt_check_port: u16,
    /// Where the bad-debt pre-check answers; empty: this host.
    pub bad_debt_check_url: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CourtSettings {
    pub name: String,
    /// The court's code in case numbers, e.g. 黑0722.
    pub code: String,
    /// Administrative division codes of the court's district (RULES.md, "Scope").
    pub divisions: Vec<String>,
    /// 10万元以下 includes 100,000.00 yuan (Civil Code 1259).
    pub loan_limit_fen: i64,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BadDebtCheckSettings {
    /// e.g. `({year}){court}预查废第{seq:06}号`: unique per court and year.
    pub certificate_number_format: String,
    /// Only rulings terminated within this many months count; 0: any (RULES.md, local).
    pub recency_window_months: u32,
    /// Cases one matching run compares at most: larger runs cost less per case, but hold
    /// the database's writer (SQLite) or the taking of cases (PostgreSQL) for longer.
    pub max_cases_per_run: i64,
    /// How long taken cases gather before a run matches them (unless a full run waits):
    /// longer means fewer, larger runs; it adds at most this much to a case's pre-check.
    pub run_delay_ms: u64,
    /// The court's Ed25519 signing key; both empty: a development key kept in `data_dir`.
    pub signing_key_id: String,
    pub signing_key_secret: String,
}

impl std::fmt::Debug for BadDebtCheckSettings {
    // The secret never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BadDebtCheckSettings")
            .field("certificate_number_format", &self.certificate_number_format)
            .field("recency_window_months", &self.recency_window_months)
            .field("max_cases_per_run", &self.max_cases_per_run)
            .field("run_delay_ms", &self.run_delay_ms)
            .field("signing_key_id", &self.signing_key_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxSettings {
    pub poll_interval_ms: u64,
    pub batch_size: u64,
    pub lease_secs: u64,
    pub base_backoff_ms: u64,
    pub max_backoff_secs: u64,
    /// Delivered messages are kept this long (for tracing what was sent), then removed.
    pub retention_hours: u64,
}

#[derive(Clone, Deserialize)]
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

/// How the internal services (all but the gateway's public port) recognise each other.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InternalSettings {
    /// The secret every internal call carries and every internal server checks. Empty: the
    /// development credential `<database.data_dir>/internal-dev.credential`, created on first
    /// use, so services started apart on one `data_dir` agree.
    pub credential: String,
    /// Mutual TLS between the services (PEM files, all or none): this service's certificate
    /// and key, and the CA that signed every service's certificate.
    pub tls_cert: String,
    pub tls_key: String,
    pub tls_ca: String,
}

impl InternalSettings {
    /// The smallest credential accepted: a shorter one could be guessed over the network.
    pub const MIN_CREDENTIAL_CHARS: usize = 32;

    pub fn tls_configured(&self) -> bool {
        !(self.tls_cert.trim().is_empty()
            && self.tls_key.trim().is_empty()
            && self.tls_ca.trim().is_empty())
    }
}

// The credential never reaches a log.
impl std::fmt::Debug for InternalSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InternalSettings")
            .field("credential_configured", &!self.credential.is_empty())
            .field("tls_cert", &self.tls_cert)
            .field("tls_key", &self.tls_key)
            .field("tls_ca", &self.tls_ca)
            .finish()
    }
}

/// The length of what standard base64 `s` decodes to, or `None` when it is not base64
/// (checked here so that a bad key fails at start, without a base64 dependency in the kernel).
fn base64_decoded_len(s: &str) -> Option<usize> {
    let body = s.trim_end_matches('=');
    let padding = s.len() - body.len();
    let alphabet = |b: u8| b.is_ascii_alphanumeric() || b == b'+' || b == b'/';
    if !s.len().is_multiple_of(4) || padding > 2 || !body.bytes().all(alphabet) {
        return None;
    }
    Some(s.len() / 4 * 3 - padding)
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error("configuration key `{key}`: {problem}")]
    Invalid { key: &'static str, problem: String },
}

impl Settings {
    /// Defaults, then `file` (or `./sieve.toml` when it exists), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(file, std::env::vars())
    }

    /// As [`Settings::load`], with the environment passed in (tests do not touch the process's).
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml));
        match file {
            Some(path) => {
                builder = builder.add_source(config::File::from(path).required(true));
            }
            None => {
                builder =
                    builder.add_source(config::File::from(Path::new("sieve.toml")).required(false));
            }
        }
        let mut vars: std::collections::HashMap<String, String> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("SIEVE__") || k == "DATABASE_URL")
            .collect();
        // The conventional variable, honoured unless the namespaced one is set.
        if let Some(url) = vars.remove("DATABASE_URL") {
            vars.entry("SIEVE__DATABASE__URL".into()).or_insert(url);
        }
        builder = builder.add_source(
            config::Environment::with_prefix("SIEVE")
                .prefix_separator("__")
                .separator("__")
                .list_separator(",")
                .with_list_parse_key("court.divisions")
                .try_parsing(true)
                .source(Some(vars)),
        );
        let settings: Settings = builder.build()?.try_deserialize()?;
        settings.validate()?;
        Ok(settings)
    }

    /// The built-in defaults alone: what tests start from.
    pub fn defaults() -> Result<Self, ConfigError> {
        let settings: Settings = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml))
            .build()?
            .try_deserialize()?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, problem: &str| ConfigError::Invalid {
            key,
            problem: problem.into(),
        };
        let url = &self.database.url;
        if !(url.is_empty()
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://")
            || url.starts_with("sqlite:"))
        {
            return Err(invalid(
                "database.url",
                "must be empty (embedded SQLite), sqlite:... or postgres://...",
            ));
        }
        if self.database.max_connections == 0 {
            return Err(invalid("database.max_connections", "must be at least 1"));
        }
        if self.court.divisions.is_empty() {
            return Err(invalid(
                "court.divisions",
                "name at least one division code",
            ));
        }
        if let Some(bad) = self
            .court
            .divisions
            .iter()
            .find(|d| d.len() != 6 || !d.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(ConfigError::Invalid {
                key: "court.divisions",
                problem: format!("`{bad}` is not a six-digit division code"),
            });
        }
        if self.court.code.trim().is_empty() {
            return Err(invalid("court.code", "required, e.g. 黑0722"));
        }
        let f = &self.bad_debt_check.certificate_number_format;
        if !f.contains("{seq") || !f.contains("{year}") {
            return Err(invalid(
                "bad_debt_check.certificate_number_format",
                "must contain {year} and {seq} (or {seq:0N}) so numbers are unique per year",
            ));
        }
        if self.bad_debt_check.max_cases_per_run < 1 {
            return Err(invalid(
                "bad_debt_check.max_cases_per_run",
                "must be at least 1",
            ));
        }
        if self.bad_debt_check.signing_key_id.trim().is_empty()
            != self.bad_debt_check.signing_key_secret.trim().is_empty()
        {
            return Err(invalid(
                "bad_debt_check.signing_key_secret",
                "set signing_key_id and signing_key_secret together (or neither, for the development key)",
            ));
        }
        if self.court.loan_limit_fen <= 0 {
            return Err(invalid("court.loan_limit_fen", "must be positive"));
        }
        if self.server.max_message_bytes < 64 * 1024 {
            return Err(invalid(
                "server.max_message_bytes",
                "must be at least 65536",
            ));
        }
        if self.server.concurrency_limit == 0 {
            return Err(invalid("server.concurrency_limit", "must be at least 1"));
        }
        if self.server.request_timeout_secs == 0 {
            return Err(invalid("server.request_timeout_secs", "must be at least 1"));
        }
        if self.outbox.batch_size == 0 || self.outbox.lease_secs == 0 {
            return Err(invalid(
                "outbox.batch_size",
                "batch_size and lease_secs must be at least 1",
            ));
        }
        for (kid, secret) in &self.gateway.signing_keys {
            let kid_ok = !kid.is_empty()
                && kid
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !kid_ok {
                return Err(ConfigError::Invalid {
                    key: "gateway.signing_keys",
                    problem: format!("key id `{kid}` must be letters, digits, `-` or `_`"),
                });
            }
            if base64_decoded_len(secret.trim()).is_none_or(|n| n < 32) {
                return Err(ConfigError::Invalid {
                    key: "gateway.signing_keys",
                    problem: format!(
                        "the secret of key `{kid}` must be standard base64 of at least 32 bytes"
                    ),
                });
            }
        }
        let credential = &self.internal.credential;
        if !credential.is_empty()
            && (credential.len() < InternalSettings::MIN_CREDENTIAL_CHARS
                || !credential.bytes().all(|b| b.is_ascii_graphic()))
        {
            // The value itself is not quoted: it is a secret.
            return Err(invalid(
                "internal.credential",
                "must be at least 32 visible ASCII characters (e.g. `openssl rand -hex 32`), or empty for the development credential",
            ));
        }
        let i = &self.internal;
        if i.tls_configured()
            && [&i.tls_cert, &i.tls_key, &i.tls_ca]
                .iter()
                .any(|f| f.trim().is_empty())
        {
            return Err(invalid(
                "internal.tls_cert",
                "set tls_cert, tls_key and tls_ca together (or none, for plain TCP)",
            ));
        }
        if self.gateway.rate_limit_per_second == 0 {
            return Err(invalid(
                "gateway.rate_limit_per_second",
                "must be at least 1",
            ));
        }
        Ok(())
    }
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
    fn defaults_load() {
        let s = Settings::defaults().unwrap();
        assert_eq!(s.court.divisions, vec!["230722".to_string()]);
        assert_eq!(s.court.loan_limit_fen, 10_000_000);
        assert!(s.database.url.is_empty());
    }

    #[test]
    fn environment_overrides_file_and_defaults() {
        let dir = std::env::temp_dir().join(format!("sieve-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("sieve.toml");
        std::fs::write(
            &file,
            "[server]\nhost = \"0.0.0.0\"\n[services]\nintake_port = 6000\n",
        )
        .unwrap();
        let s = Settings::load_from(
            Some(&file),
            env(&[
                ("SIEVE__SERVICES__INTAKE_PORT", "7000"),
                ("SIEVE__COURT__DIVISIONS", "230722,230721"),
                ("DATABASE_URL", "postgres://postgres@127.0.0.1/test"),
            ]),
        )
        .unwrap();
        assert_eq!(s.server.host, "0.0.0.0");
        assert_eq!(s.services.intake_port, 7000);
        assert_eq!(s.court.divisions, vec!["230722", "230721"]);
        assert_eq!(s.database.url, "postgres://postgres@127.0.0.1/test");
    }

    #[test]
    fn a_bad_value_names_its_key() {
        let err = Settings::load_from(None, env(&[("SIEVE__SERVICES__INTAKE_PORT", "seventy")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("intake_port"), "{err}");
        let err = Settings::load_from(None, env(&[("SIEVE__COURT__DIVISIONS", "23072")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("court.divisions") && err.contains("23072"),
            "{err}"
        );
        let err = Settings::load_from(None, env(&[("DATABASE_URL", "mysql://x")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("database.url"), "{err}");
    }

    #[test]
    fn gateway_keys_are_checked_at_start() {
        let s = Settings::defaults().unwrap();
        assert!(s.gateway.signing_keys.is_empty());
        assert_eq!(s.gateway.rate_limit_per_second, 200);
        let strong = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="; // 32 bytes
        let s = Settings::load_from(None, env(&[("SIEVE__GATEWAY__SIGNING_KEYS__K1", strong)]))
            .unwrap();
        assert_eq!(s.gateway.signing_keys["k1"], strong);
        assert!(!format!("{s:?}").contains(strong));
        for bad in ["c2hvcnQ=", "not base64!"] {
            let err = Settings::load_from(None, env(&[("SIEVE__GATEWAY__SIGNING_KEYS__K1", bad)]))
                .unwrap_err()
                .to_string();
            assert!(err.contains("gateway.signing_keys"), "{err}");
            assert!(!err.contains(bad), "{err}");
        }
    }

    #[test]
    fn the_internal_credential_is_checked_and_never_shown() {
        let s = Settings::defaults().unwrap();
        assert!(s.internal.credential.is_empty());
        let strong = "0123456789abcdef0123456789abcdef";
        let s = Settings::load_from(None, env(&[("SIEVE__INTERNAL__CREDENTIAL", strong)])).unwrap();
        assert_eq!(s.internal.credential, strong);
        assert!(!format!("{s:?}").contains(strong));
        let weak = "short-secret";
        let err = Settings::load_from(None, env(&[("SIEVE__INTERNAL__CREDENTIAL", weak)]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("internal.credential"), "{err}");
        assert!(!err.contains(weak), "{err}");
        let err = Settings::load_from(None, env(&[("SIEVE__INTERNAL__TLS_CERT", "a.pem")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("internal.tls_cert"), "{err}");
    }
}
