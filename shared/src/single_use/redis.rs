//! The Redis backend (Upstash-compatible, through `fred`): `SET … PX` and `GETDEL`, so a value
//! expires with its write and is taken once however many requests race for it.

use std::time::Duration;

use fred::prelude::{Builder, ClientLike, Config, Expiration, KeysInterface, ReconnectPolicy, TcpConfig};

use super::Backend;
use crate::error::StoreError;

/// Connecting, and each command, give up after this long: a request answers 503 rather than hang.
const REDIS_TIMEOUT: Duration = Duration::from_millis(1500);

pub struct RedisBackend {
    client: fred::clients::Client,
}

impl RedisBackend {
    /// One client per process; it reconnects on its own (a thawed Lambda may hold a dead socket).
    /// `ca_cert` (a PEM path or the PEM itself) is trusted besides the system roots, for
    /// `rediss://` servers with a private CA.
    pub async fn connect(url: &str, ca_cert: Option<&str>) -> Result<Self, StoreError> {
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
        Ok(RedisBackend { client })
    }

    /// The client itself, for tests that look at what was written.
    pub fn client(&self) -> &fred::clients::Client {
        &self.client
    }
}

impl Backend for RedisBackend {
    async fn put(&self, key: &str, value: String, ttl: Duration) -> Result<(), StoreError> {
        let expiry = Expiration::PX(ttl.as_millis().try_into().unwrap_or(i64::MAX));
        self.client
            .set::<(), _, _>(key, value, Some(expiry), None, false)
            .await
            .map_err(|e| StoreError(format!("Redis SET failed: {e}")))
    }

    async fn take(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.client
            .getdel::<Option<String>, _>(key)
            .await
            .map_err(|e| StoreError(format!("Redis GETDEL failed: {e}")))
    }

    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.client
            .get::<Option<String>, _>(key)
            .await
            .map_err(|e| StoreError(format!("Redis GET failed: {e}")))
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
