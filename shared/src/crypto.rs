//! Values at rest are sealed with AES-256-GCM, bound to the key they are stored under.
//!
//! Format: `<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`. The key id (the first bytes of the
//! key's SHA-256) lets old keys keep opening old values while new writes use the current key.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use sha2::{Digest, Sha256};

const NONCE_BYTES: usize = 12;

#[derive(Debug, thiserror::Error)]
#[error("{0}: generate a key with `openssl rand -base64 32`")]
pub struct KeyError(String);

/// Seals and opens values with the current key; opens with old keys too.
#[derive(Clone)]
pub struct Sealer {
    current: (String, Aes256Gcm),
    old: Vec<(String, Aes256Gcm)>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("key_id", &self.current.0)
            .finish_non_exhaustive()
    }
}

impl Sealer {
    /// `current` and `old` are base64 encodings of 32 random bytes.
    pub fn new(current: &str, old: &[String]) -> Result<Self, KeyError> {
        Ok(Sealer {
            current: parse_key("TOKEN_ENCRYPTION_KEY", current)?,
            old: old
                .iter()
                .map(|key| parse_key("TOKEN_ENCRYPTION_KEYS_OLD", key))
                .collect::<Result<_, _>>()?,
        })
    }

    /// A sealer with a random key that lives as long as the process (local use only).
    pub fn ephemeral() -> Self {
        Sealer {
            current: keyed(&Aes256Gcm::generate_key(OsRng)),
            old: Vec::new(),
        }
    }

    pub fn key_id(&self) -> &str {
        &self.current.0
    }

    /// Whether old keys are configured: a rotation is under way.
    pub fn has_old_keys(&self) -> bool {
        !self.old.is_empty()
    }

    /// What every value sealed under the current key starts with.
    pub fn current_prefix(&self) -> String {
        format!("{}.", self.current.0)
    }

    /// Whether `sealed` is under the current key (says nothing of whether it opens).
    pub fn is_current(&self, sealed: &str) -> bool {
        sealed.split_once('.').is_some_and(|(id, _)| id == self.current.0)
    }

    pub fn seal(&self, storage_key: &str, plaintext: &[u8]) -> String {
        let (id, cipher) = &self.current;
        // The thread's CSPRNG (ChaCha, seeded and periodically reseeded from the OS), not `OsRng`:
        // the same quality of random nonce without a getrandom system call for every value sealed.
        let nonce = Aes256Gcm::generate_nonce(&mut rand::thread_rng());
        let payload = Payload {
            msg: plaintext,
            aad: storage_key.as_bytes(),
        };
        // Encryption with a valid key and nonce only fails for messages over 64 GiB.
        let ciphertext = cipher.encrypt(&nonce, payload).unwrap_or_default();
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        format!("{id}.{}", URL_SAFE_NO_PAD.encode(sealed))
    }

    /// `None` for anything this process cannot open: tampered, moved to another key, unknown key id.
    pub fn open(&self, storage_key: &str, sealed: &str) -> Option<Vec<u8>> {
        let (id, body) = sealed.split_once('.')?;
        let (_, cipher) = std::iter::once(&self.current)
            .chain(&self.old)
            .find(|(key_id, _)| key_id == id)?;
        let bytes = URL_SAFE_NO_PAD.decode(body).ok()?;
        if bytes.len() < NONCE_BYTES {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        let payload = Payload {
            msg: ciphertext,
            aad: storage_key.as_bytes(),
        };
        cipher.decrypt(Nonce::from_slice(nonce), payload).ok()
    }
}

fn parse_key(variable: &str, encoded: &str) -> Result<(String, Aes256Gcm), KeyError> {
    let bytes = STANDARD
        .decode(encoded.trim())
        .map_err(|_| KeyError(format!("{variable} is not valid base64")))?;
    if bytes.len() != 32 {
        let found = bytes.len();
        return Err(KeyError(format!(
            "{variable} must decode to 32 bytes, not {found}"
        )));
    }
    Ok(keyed(&bytes))
}

fn keyed(key: &[u8]) -> (String, Aes256Gcm) {
    let id = URL_SAFE_NO_PAD.encode(&Sha256::digest(key)[..6]);
    (id, Aes256Gcm::new(key.into()))
}

/// A storage key component that cannot contain the separator and cannot collide.
pub fn key_part(value: &str) -> String {
    URL_SAFE_NO_PAD.encode(value)
}

/// Secrets (OAuth states) are stored under their hash, so the key names in Redis reveal nothing.
pub fn hashed_key_part(secret: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

    #[test]
    fn sealed_values_open_only_under_their_own_key_name() {
        let sealer = Sealer::new(KEY, &[]).unwrap();
        let sealed = sealer.seal("integrations:a", b"secret");
        assert!(!sealed.contains("secret"));
        assert_eq!(sealer.open("integrations:a", &sealed).unwrap(), b"secret");
        assert!(
            sealer.open("integrations:b", &sealed).is_none(),
            "moved to another key"
        );
        assert_ne!(
            sealer.seal("integrations:a", b"secret"),
            sealed,
            "a fresh nonce each time"
        );
        let mut tampered = sealed.clone();
        tampered.push('A');
        assert!(sealer.open("integrations:a", &tampered).is_none());
        assert!(
            Sealer::ephemeral().open("integrations:a", &sealed).is_none(),
            "another key"
        );
    }

    #[test]
    fn key_parts_never_collide_across_separators() {
        assert_ne!(
            format!("{}:{}", key_part("a:b"), key_part("c")),
            format!("{}:{}", key_part("a"), key_part("b:c"))
        );
        assert_ne!(hashed_key_part("state"), "state");
    }
}
