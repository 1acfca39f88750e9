//! Layered configuration: built-in defaults < `sieve.toml` < `SIEVE__SECTION__KEY` environment
//! variables (and `DATABASE_URL`), validated once at start so a bad value fails fast with the
//! name of the key.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A table of settings, as `Settings::set_service` takes one (e.g. `gateway`'s signing keys).
pub use config::Map;

/// The defaults, in the same TOML form an operator writes, so the file documents itself.
pub const DEFAULTS: &str = include_str!("defaults.toml");

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub telemetry: TelemetrySettings,
    pub database: DatabaseSettings,
    pub server: ServerSettings,
    pub court: CourtSettings,
    pub outbox: OutboxSettings,
    pub internal: InternalSettings,
    /// Each service's own section, `[services.<key>]`, as configured: the service's crate
    /// holds its defaults and its types (`sieve_kernel::service`).
    #[serde(default)]
    pub services: std::collections::BTreeMap<String, config::Value>,
}

// A service's section may hold secrets (signing keys): only the keys it sets are shown.
impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let services: std::collections::BTreeMap<&str, Vec<String>> = self
            .services
            .iter()
            .map(|(name, section)| {
                let keys = match &section.kind {
                    config::ValueKind::Table(t) => t.keys().cloned().collect(),
                    _ => Vec::new(),
                };
                (name.as_str(), keys)
            })
            .collect();
        f.debug_struct("Settings")
            .field("telemetry", &self.telemetry)
            .field("database", &self.database)
            .field("server", &self.server)
            .field("court", &self.court)
            .field("outbox", &self.outbox)
            .field("internal", &self.internal)
            .field("services (keys set)", &services)
            .finish()
    }
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
    /// SQLite: page cache per connection, MiB (SQLite's own default is 2 MiB, small for
    /// tables of a few hundred thousand rows; no gain measured at 30,000 cases).
    pub cache_mib: u32,
    /// SQLite: how much of the file each connection maps into memory, MiB (0: none), so
    /// reads take pages in place instead of copying them through `read`.
    pub mmap_mib: u32,
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
pub struct CourtSettings {
    pub name: String,
    /// The court's code in case numbers, e.g. 黑0722.
    pub code: String,
    /// Administrative division codes of the court's district (RULES.md, "Scope").
    pub divisions: Vec<String>,
    /// 10万元以下 includes 100,000.00 yuan (Civil Code 1259).
    pub loan_limit_fen: i64,
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

    /// Sets `field` of service section `[services.<key>]`, as a file or variable would (tests
    /// and tools that assemble settings by hand).
    pub fn set_service(&mut self, key: &str, field: &str, value: impl Into<config::ValueKind>) {
        let section = self.services.entry(key.to_string()).or_insert_with(|| {
            config::Value::new(None, config::Map::<String, config::Value>::new())
        });
        if !matches!(section.kind, config::ValueKind::Table(_)) {
            section.kind = config::ValueKind::Table(config::Map::new());
        }
        if let config::ValueKind::Table(table) = &mut section.kind {
            table.insert(field.to_string(), config::Value::new(None, value));
        }
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
            "[server]\nhost = \"0.0.0.0\"\n[services.intake]\nport = 6000\n",
        )
        .unwrap();
        let s = Settings::load_from(
            Some(&file),
            env(&[
                ("SIEVE__SERVICES__INTAKE__PORT", "7000"),
                ("SIEVE__COURT__DIVISIONS", "230722,230721"),
                ("DATABASE_URL", "postgres://postgres@127.0.0.1/test"),
            ]),
        )
        .unwrap();
        assert_eq!(s.server.host, "0.0.0.0");
        let intake = s.services["intake"].clone().into_table().unwrap();
        assert_eq!(
            intake["port"].clone().into_int().unwrap(),
            7000,
            "the variable wins over the file"
        );
        assert_eq!(s.court.divisions, vec!["230722", "230721"]);
        assert_eq!(s.database.url, "postgres://postgres@127.0.0.1/test");
    }

    #[test]
    fn a_bad_value_names_its_key() {
        let err = Settings::load_from(None, env(&[("SIEVE__SERVER__CONCURRENCY_LIMIT", "many")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("concurrency_limit"), "{err}");
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
