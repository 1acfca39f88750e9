//! The court's signature (签名): its Ed25519 key and the verification of what it signed.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use rand::RngCore as _;

/// The signature algorithm, as the contract names it.
pub const ALGORITHM: &str = "Ed25519";

/// A court's Ed25519 signing key and the id certificates name it by. `Debug` shows the id and
/// public key only.
#[derive(Clone)]
pub struct CourtKey {
    key_id: String,
    signing: SigningKey,
}

impl std::fmt::Debug for CourtKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CourtKey")
            .field("key_id", &self.key_id)
            .field("public_key", &self.public_key_base64())
            .finish_non_exhaustive()
    }
}

impl CourtKey {
    /// A new key from the operating system's randomness (through `rand`'s thread generator,
    /// a CSPRNG seeded by the OS). The seed goes straight to `SigningKey::from_bytes`, since
    /// `rand` 0.9 and ed25519-dalek 2's `rand_core` 0.6 do not interoperate.
    pub fn generate(key_id: impl Into<String>) -> CourtKey {
        let mut seed = [0u8; 32];
        rand::rng().fill_bytes(&mut seed);
        CourtKey {
            key_id: key_id.into(),
            signing: SigningKey::from_bytes(&seed),
        }
    }

    /// A key from its 32-byte seed in standard base64 (as [`CourtKey::secret_base64`] writes
    /// it). Errors never echo the secret.
    pub fn from_secret_base64(key_id: impl Into<String>, b64: &str) -> Result<CourtKey, String> {
        let bytes = STANDARD.decode(b64.trim()).map_err(|_| {
            "签名密钥不是有效的base64。 The signing key is not valid base64.".to_owned()
        })?;
        let seed: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
            format!(
                "签名密钥应为32字节，实为{}字节。 The signing key must be 32 bytes, not {}.",
                bytes.len(),
                bytes.len()
            )
        })?;
        Ok(CourtKey {
            key_id: key_id.into(),
            signing: SigningKey::from_bytes(&seed),
        })
    }

    /// The 32-byte seed in standard base64: a secret, for the key store only.
    pub fn secret_base64(&self) -> String {
        STANDARD.encode(self.signing.to_bytes())
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    pub fn public_key_bytes(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    pub fn public_key_base64(&self) -> String {
        STANDARD.encode(self.public_key_bytes())
    }

    /// The Ed25519 signature over `content` (the canonical content).
    pub fn sign(&self, content: &[u8]) -> [u8; 64] {
        self.signing.sign(content).to_bytes()
    }
}

/// Whether `signature` is a valid Ed25519 signature of `content` under `public_key`, by strict
/// verification (no small-order keys, canonical `s`), so one content has one valid signature
/// per key. Anything malformed is simply `false`.
pub fn verify(public_key: &[u8; 32], content: &[u8], signature: &[u8]) -> bool {
    let Ok(key) = VerifyingKey::from_bytes(public_key) else {
        return false;
    };
    let Ok(signature) = Signature::from_slice(signature) else {
        return false;
    };
    key.verify_strict(content, &signature).is_ok()
}

/// [`verify`] with a public key of any length (as stored or received): wrong lengths are
/// `false`.
pub fn verify_bytes(public_key: &[u8], content: &[u8], signature: &[u8]) -> bool {
    match <&[u8; 32]>::try_from(public_key) {
        Ok(key) => verify(key, content, signature),
        Err(_) => false,
    }
}
