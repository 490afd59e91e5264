//! Short-lived, single-use values: OAuth states and the credentials hand-off.
//!
//! Two backends with the same semantics: Redis (Upstash-compatible, through `fred`) and an
//! in-process map for `local-api`. Every write sets its TTL in the same command, and every read
//! deletes atomically, so a value can be taken once however many requests race for it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fred::prelude::{Builder, ClientLike, Config, Expiration, KeysInterface, ReconnectPolicy, TcpConfig};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::crypto::{hashed_key_part, key_part, Sealer};
use crate::error::StoreError;

/// Connecting, and each command, give up after this long: a request answers 503 rather than hang.
const REDIS_TIMEOUT: Duration = Duration::from_millis(1500);

pub enum Backend {
    Redis(fred::clients::Client),
    Memory(MemoryBackend),
}

impl Backend {
    /// One client per process; it reconnects on its own (a thawed Lambda may hold a dead socket).
    /// `ca_cert` (a PEM path or the PEM itself) is trusted besides the system roots, for
    /// `rediss://` servers with a private CA.
    pub async fn redis(url: &str, ca_cert: Option<&str>) -> Result<Self, StoreError> {
        let mut config = Config::from_url(url).map_err(|e| StoreError(format!("REDIS_URL: {e}")))?;
        if let (Some(_), Some(ca_cert)) = (&config.tls, ca_cert) {
            config.tls = Some(tls_with_ca(ca_cert)?.into());
        }
        let client = Builder::from_config(config)
            .with_connection_config(|connection| {
                connection.connection_timeout = REDIS_TIMEOUT;
                connection.internal_command_timeout = REDIS_TIMEOUT;
                connection.max_command_attempts = 2;
                connection.tcp = TcpConfig {
                    nodelay: Some(true),
                    ..TcpConfig::default()
                };
            })
            .with_performance_config(|performance| {
                performance.default_command_timeout = REDIS_TIMEOUT;
            })
            // Unlimited attempts with a short, capped delay: never give up for good on a warm function.
            .set_policy(ReconnectPolicy::new_exponential(0, 50, 1000, 2))
            .build()
            .map_err(|e| StoreError(format!("Redis client: {e}")))?;
        tokio::time::timeout(REDIS_TIMEOUT * 2, client.init())
            .await
            .map_err(|_| StoreError("Redis did not answer while connecting".into()))?
            .map_err(|e| StoreError(format!("Redis connection failed: {e}")))?;
        Ok(Backend::Redis(client))
    }

    pub fn memory() -> Self {
        Backend::Memory(MemoryBackend::default())
    }

    async fn put(&self, key: &str, value: String, ttl: Duration) -> Result<(), StoreError> {
        match self {
            Backend::Redis(client) => {
                let expiry = Expiration::PX(ttl.as_millis().try_into().unwrap_or(i64::MAX));
                client
                    .set::<(), _, _>(key, value, Some(expiry), None, false)
                    .await
                    .map_err(|e| StoreError(format!("Redis SET failed: {e}")))
            }
            Backend::Memory(memory) => {
                memory.put(key, value, ttl);
                Ok(())
            }
        }
    }

    async fn take(&self, key: &str) -> Result<Option<String>, StoreError> {
        match self {
            Backend::Redis(client) => client
                .getdel::<Option<String>, _>(key)
                .await
                .map_err(|e| StoreError(format!("Redis GETDEL failed: {e}"))),
            Backend::Memory(memory) => Ok(memory.take(key)),
        }
    }
}

/// A rustls client trusting the system roots and the given CA.
fn tls_with_ca(ca_cert: &str) -> Result<rustls::ClientConfig, StoreError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;

    let pem = if ca_cert.contains("-----BEGIN") {
        ca_cert.as_bytes().to_vec()
    } else {
        std::fs::read(ca_cert).map_err(|e| StoreError(format!("REDIS_CA_CERT {ca_cert}: {e}")))?
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        // A system certificate rustls cannot use is no reason to refuse the others.
        let _ = roots.add(cert);
    }
    let mut added = 0;
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| StoreError(format!("REDIS_CA_CERT is not valid PEM: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| StoreError(format!("REDIS_CA_CERT: {e}")))?;
        added += 1;
    }
    if added == 0 {
        return Err(StoreError("REDIS_CA_CERT holds no certificate".into()));
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// The in-process backend: a map of values with deadlines, swept as it grows.
#[derive(Default)]
pub struct MemoryBackend {
    entries: Mutex<HashMap<String, (Instant, String)>>,
}

impl MemoryBackend {
    fn put(&self, key: &str, value: String, ttl: Duration) {
        let now = Instant::now();
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.len() >= 1024 {
            entries.retain(|_, (expires, _)| *expires > now);
        }
        entries.insert(key.to_owned(), (now + ttl, value));
    }

    fn take(&self, key: &str) -> Option<String> {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (expires, value) = entries.remove(key)?;
        (expires > Instant::now()).then_some(value)
    }
}

/// The store the handlers use: values are JSON, sealed under the key they are stored at.
pub struct Store {
    backend: Backend,
    sealer: Sealer,
}

impl Store {
    pub fn new(backend: Backend, sealer: Sealer) -> Self {
        Store { backend, sealer }
    }

    pub async fn put<T: Serialize>(&self, key: &str, value: &T, ttl: Duration) -> Result<(), StoreError> {
        let json = serde_json::to_vec(value).map_err(|e| StoreError(format!("encoding failed: {e}")))?;
        self.backend.put(key, self.sealer.seal(key, &json), ttl).await
    }

    /// Takes the value once. A value that does not open or parse (tampered, foreign key) is absent.
    pub async fn take<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError> {
        let Some(sealed) = self.backend.take(key).await? else {
            return Ok(None);
        };
        let value = self
            .sealer
            .open(key, &sealed)
            .and_then(|json| serde_json::from_slice(&json).ok());
        if value.is_none() {
            tracing::warn!("a stored value could not be opened and was discarded");
        }
        Ok(value)
    }
}

/// Where an OAuth state's record lives: under the state's hash, never the state itself.
pub fn state_key(state: &str) -> String {
    format!("integrations:state:{}", hashed_key_part(state))
}

/// Where a connection's tokens wait; each part is encoded so `a:b`/`c` and `a`/`b:c` differ.
pub fn credentials_key(provider: &str, org_id: &str, user_id: &str) -> String {
    format!(
        "integrations:credentials:{provider}:{}:{}",
        key_part(org_id),
        key_part(user_id)
    )
}
