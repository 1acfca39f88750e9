//! Bearer tokens signed by the court: `sieve1.<kid>.<payload>.<signature>`, where the payload
//! is the base64url (no padding) JSON [`Claims`] and the signature the base64url HMAC-SHA256 of
//! `sieve1.<kid>.<payload>` under the key `kid`. The key id lets several keys verify at once,
//! so keys can be rotated without a flag day.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

const PREFIX: &str = "sieve1";
/// Shorter secrets make HMAC-SHA256 guessable; 32 bytes is the hash's own strength.
pub const MIN_SECRET_BYTES: usize = 32;
/// The development key's file under `database.data_dir`.
pub const DEV_KEY_FILE: &str = "gateway-dev.key";
/// The key id of the development key.
pub const DEV_KEY_ID: &str = "dev";

type HmacSha256 = Hmac<Sha256>;

/// What kind of organisation a token speaks for; each kind has its own door.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Bank,
    Court,
    Notary,
    Mediator,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Bank => "bank",
            Role::Court => "court",
            Role::Notary => "notary",
            Role::Mediator => "mediator",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Claims {
    /// The organisation: a bank's intake `bank_id`, a notary office's or mediation
    /// organisation's id, or the court's own name.
    pub org_id: String,
    pub role: Role,
    /// Unix seconds from which the token is refused; `None`: it does not expire.
    #[serde(default)]
    pub exp: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not a sieve1 token")]
    Malformed,
    #[error("the token was signed with an unknown key `{0}`")]
    UnknownKey(String),
    #[error("the token's signature does not match")]
    BadSignature,
    #[error("the token expired")]
    Expired,
    #[error("signing key `{kid}`: {problem}")]
    InvalidKey { kid: String, problem: &'static str },
}

/// An HMAC secret and its id. The secret never appears in `Debug` output.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    secret: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

fn check_kid(kid: &str) -> Result<(), TokenError> {
    let ok = !kid.is_empty()
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(TokenError::InvalidKey {
            kid: kid.to_string(),
            problem: "a key id is letters, digits, `-` or `_`",
        })
    }
}

impl SigningKey {
    /// A fresh random 32-byte key. `kid` should be letters, digits, `-` or `_`.
    pub fn generate(kid: &str) -> Self {
        Self {
            kid: kid.to_string(),
            secret: rand::random::<[u8; MIN_SECRET_BYTES]>().to_vec(),
        }
    }

    /// A key from its standard base64 secret, as configured in `services.gateway.signing_keys`.
    pub fn from_base64(kid: &str, secret_b64: &str) -> Result<Self, TokenError> {
        check_kid(kid)?;
        let secret = STANDARD
            .decode(secret_b64.trim())
            .map_err(|_| TokenError::InvalidKey {
                kid: kid.to_string(),
                problem: "the secret is not standard base64",
            })?;
        if secret.len() < MIN_SECRET_BYTES {
            return Err(TokenError::InvalidKey {
                kid: kid.to_string(),
                problem: "the secret is shorter than 32 bytes",
            });
        }
        Ok(Self {
            kid: kid.to_string(),
            secret,
        })
    }

    pub fn secret_base64(&self) -> String {
        STANDARD.encode(&self.secret)
    }

    fn mac(&self, signed: &str) -> HmacSha256 {
        // HMAC takes keys of any length, so this cannot fail; the fallback only satisfies types.
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&self.secret)
            .unwrap_or_else(|_| <HmacSha256 as KeyInit>::new(&Default::default()));
        mac.update(signed.as_bytes());
        mac
    }
}

/// Signs `claims` with `key`.
pub fn mint(key: &SigningKey, claims: &Claims) -> String {
    // Serialising a struct of strings and integers cannot fail.
    let json = serde_json::to_vec(claims).unwrap_or_default();
    let signed = format!("{PREFIX}.{}.{}", key.kid, URL_SAFE_NO_PAD.encode(json));
    let signature = URL_SAFE_NO_PAD.encode(key.mac(&signed).finalize().into_bytes());
    format!("{signed}.{signature}")
}

/// Checks `token` against `keys` (constant-time signature comparison) and its expiry at
/// `now_unix`: a token is refused from its `exp` second on.
pub fn verify(keys: &[SigningKey], token: &str, now_unix: i64) -> Result<Claims, TokenError> {
    let (signed, signature) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
    let (head, payload) = signed.rsplit_once('.').ok_or(TokenError::Malformed)?;
    let kid = head
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.strip_prefix('.'))
        .ok_or(TokenError::Malformed)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| TokenError::Malformed)?;
    let key = keys
        .iter()
        .find(|k| k.kid == kid)
        .ok_or_else(|| TokenError::UnknownKey(kid.to_string()))?;
    key.mac(signed)
        .verify_slice(&signature)
        .map_err(|_| TokenError::BadSignature)?;
    // Only signed bytes are parsed.
    let json = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| TokenError::Malformed)?;
    let claims: Claims = serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
    if claims.exp.is_some_and(|exp| now_unix >= exp) {
        return Err(TokenError::Expired);
    }
    Ok(claims)
}

/// Loads `<data_dir>/gateway-dev.key` or creates it (random 32 bytes, base64, mode 0600): the
/// development key `sieve up` uses when no keys are configured.
pub fn dev_key(data_dir: &Path) -> std::io::Result<SigningKey> {
    let path = data_dir.join(DEV_KEY_FILE);
    let secret = sieve_kernel::secret_file::load_or_create(&path, || {
        SigningKey::generate(DEV_KEY_ID).secret_base64()
    })?;
    SigningKey::from_base64(DEV_KEY_ID, &secret.text).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{}: {e}", path.display()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bank(exp: Option<i64>) -> Claims {
        Claims {
            org_id: "bank-1".into(),
            role: Role::Bank,
            exp,
        }
    }

    #[test]
    fn round_trip() {
        let key = SigningKey::generate("k1");
        let other = SigningKey::generate("k0");
        let token = mint(&key, &bank(None));
        assert!(token.starts_with("sieve1.k1."));
        let claims = verify(&[other, key.clone()], &token, 1_700_000_000).unwrap();
        assert_eq!(claims, bank(None));
        let again = SigningKey::from_base64("k1", &key.secret_base64()).unwrap();
        assert_eq!(verify(&[again], &token, 0).unwrap(), bank(None));
    }

    #[test]
    fn tampered_payload_is_refused() {
        let key = SigningKey::generate("k1");
        let token = mint(&key, &bank(None));
        let parts: Vec<&str> = token.split('.').collect();
        let court = Claims {
            role: Role::Court,
            ..bank(None)
        };
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&court).unwrap());
        let forged = format!("{}.{}.{}.{}", parts[0], parts[1], forged_payload, parts[3]);
        assert!(matches!(
            verify(std::slice::from_ref(&key), &forged, 0),
            Err(TokenError::BadSignature)
        ));
        // Signed by another key under the right id.
        let impostor = SigningKey {
            kid: "k1".into(),
            secret: vec![7; 32],
        };
        assert!(matches!(
            verify(std::slice::from_ref(&key), &mint(&impostor, &court), 0),
            Err(TokenError::BadSignature)
        ));
        for junk in [
            "",
            "sieve1",
            "sieve1.k1.x",
            "bearer.k1.e30.AAAA",
            "sieve1.k1.e30.!!",
        ] {
            assert!(
                matches!(
                    verify(std::slice::from_ref(&key), junk, 0),
                    Err(TokenError::Malformed)
                ),
                "{junk}"
            );
        }
    }

    #[test]
    fn unknown_key_id_is_refused() {
        let key = SigningKey::generate("k1");
        let token = mint(&key, &bank(None));
        match verify(&[SigningKey::generate("k2")], &token, 0) {
            Err(TokenError::UnknownKey(kid)) => assert_eq!(kid, "k1"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn expiry_boundary() {
        let key = SigningKey::generate("k1");
        let token = mint(&key, &bank(Some(1_000)));
        assert!(verify(std::slice::from_ref(&key), &token, 999).is_ok());
        assert!(matches!(
            verify(std::slice::from_ref(&key), &token, 1_000),
            Err(TokenError::Expired)
        ));
        assert!(matches!(
            verify(std::slice::from_ref(&key), &token, 1_001),
            Err(TokenError::Expired)
        ));
    }

    #[test]
    fn weak_or_bad_secrets_are_refused() {
        assert!(SigningKey::from_base64("k1", "c2hvcnQ=").is_err());
        assert!(SigningKey::from_base64("k1", "not base64!").is_err());
        assert!(SigningKey::from_base64("k.1", &STANDARD.encode([1u8; 32])).is_err());
        let key = SigningKey::from_base64("k1", &STANDARD.encode([1u8; 32])).unwrap();
        assert!(!format!("{key:?}").contains(&key.secret_base64()));
    }

    #[test]
    fn dev_key_is_created_once_and_private() {
        let dir = std::env::temp_dir().join(format!(
            "sieve-gw-devkey-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        let first = dev_key(&dir).unwrap();
        let second = dev_key(&dir).unwrap();
        assert_eq!(first.secret_base64(), second.secret_base64());
        assert_eq!(first.kid, DEV_KEY_ID);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(DEV_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
