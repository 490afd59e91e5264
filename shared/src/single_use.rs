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
            Backend::Memory(memory) => memory.put(key, value, ttl),
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

/// The in-process backend: a map of values with deadlines, bounded.
pub struct MemoryBackend {
    entries: Mutex<Entries>,
    capacity: usize,
}

/// Values waiting, and the size at which expired ones are next swept out: twice what survived
/// the last sweep, so a put costs amortised O(1) however many values wait. A full map is swept
/// at most once a second.
struct Entries {
    values: HashMap<String, (Instant, String)>,
    sweep_at: usize,
    swept: Instant,
}

/// More values than a local server ever has waiting (states live 10 minutes): a flood is refused
/// with 503 instead of growing without bound.
const MEMORY_CAPACITY: usize = 100_000;
const FIRST_SWEEP: usize = 1024;

impl Default for MemoryBackend {
    fn default() -> Self {
        Self::with_capacity(MEMORY_CAPACITY)
    }
}

impl MemoryBackend {
    fn with_capacity(capacity: usize) -> Self {
        MemoryBackend {
            entries: Mutex::new(Entries {
                values: HashMap::new(),
                sweep_at: FIRST_SWEEP,
                swept: Instant::now(),
            }),
            capacity,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn put(&self, key: &str, value: String, ttl: Duration) -> Result<(), StoreError> {
        let now = Instant::now();
        let mut entries = self.lock();
        let full = entries.values.len() >= self.capacity;
        if entries.values.len() >= entries.sweep_at || (full && now >= entries.swept + Duration::from_secs(1))
        {
            entries.values.retain(|_, (expires, _)| *expires > now);
            entries.sweep_at = (entries.values.len() * 2).max(FIRST_SWEEP);
            entries.swept = now;
        }
        if entries.values.len() >= self.capacity && !entries.values.contains_key(key) {
            return Err(StoreError(format!(
                "the in-process store holds {} values, its limit: set REDIS_URL for more",
                self.capacity
            )));
        }
        entries.values.insert(key.to_owned(), (now + ttl, value));
        Ok(())
    }

    fn take(&self, key: &str) -> Option<String> {
        let (expires, value) = self.lock().values.remove(key)?;
        (expires > Instant::now()).then_some(value)
    }
}

/// The store the handlers use: values are JSON, sealed under the key they are stored at.
pub struct SingleUse {
    backend: Backend,
    sealer: Sealer,
}

impl SingleUse {
    pub fn new(backend: Backend, sealer: Sealer) -> Self {
        SingleUse { backend, sealer }
    }

    pub async fn put<T: Serialize>(&self, key: &str, value: &T, ttl: Duration) -> Result<(), StoreError> {
        let json = serde_json::to_vec(value).map_err(|e| StoreError(format!("encoding failed: {e}")))?;
        self.backend.put(key, self.sealer.seal(key, &json), ttl).await
    }

    /// Deletes the value, if any, unread.
    pub async fn discard(&self, key: &str) -> Result<(), StoreError> {
        self.backend.take(key).await.map(drop)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memory_backend_sweeps_expired_values_and_refuses_a_flood() {
        let memory = MemoryBackend::with_capacity(2000);
        for n in 0..FIRST_SWEEP {
            memory
                .put(&format!("old{n}"), "v".into(), Duration::ZERO)
                .unwrap();
        }
        memory
            .put("fresh", "kept".into(), Duration::from_secs(60))
            .unwrap();
        assert_eq!(memory.lock().values.len(), 1, "the expired values were swept out");
        assert_eq!(memory.lock().sweep_at, FIRST_SWEEP);

        for n in 1..2000 {
            memory
                .put(&format!("live{n}"), "v".into(), Duration::from_secs(60))
                .unwrap();
        }
        let full = memory.put("one-more", "v".into(), Duration::from_secs(60));
        assert!(full.unwrap_err().0.contains("set REDIS_URL"));
        memory
            .put("fresh", "replaced".into(), Duration::from_secs(60))
            .unwrap();
        assert_eq!(memory.take("fresh").as_deref(), Some("replaced"));
        assert_eq!(memory.take("fresh"), None, "taken once");
        memory
            .put("one-more", "v".into(), Duration::from_secs(60))
            .unwrap();

        // Full of values that have since expired: swept again, a second after the last sweep.
        memory
            .lock()
            .values
            .values_mut()
            .for_each(|(expires, _)| *expires = Instant::now());
        memory.lock().swept -= Duration::from_secs(2);
        memory.put("after", "v".into(), Duration::from_secs(60)).unwrap();
        assert_eq!(memory.lock().values.len(), 1);
    }
}
