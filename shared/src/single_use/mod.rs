//! Short-lived, single-use values: OAuth states, connect sessions and the credentials hand-off.
//!
//! Two backends with the same semantics: Redis ([`RedisBackend`]) and an in-process map for
//! `local-api` ([`MemoryBackend`]). Every write sets its TTL in the same command, and every read
//! deletes atomically, so a value can be taken once however many requests race for it. Values
//! are sealed here, above the backend, under the key they are stored at.

use std::future::Future;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::crypto::{hashed_key_part, key_part, Sealer};
use crate::error::StoreError;

mod memory;
mod redis;

pub use memory::MemoryBackend;
pub use redis::RedisBackend;

/// Where single-use values live. A process picks one at start-up, hence the boxed [`DynBackend`].
#[dynosaur::dynosaur(pub DynBackend = dyn(box) Backend)]
pub trait Backend: Send + Sync {
    /// Stores `value` under `key` for `ttl`, replacing any value there.
    fn put(
        &self,
        key: &str,
        value: String,
        ttl: Duration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Removes and returns the value, if one is there and has not expired.
    fn take(&self, key: &str) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    /// Returns the value, if one is there and has not expired, and leaves it.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;
}

/// The store the handlers use: values are JSON, sealed under the key they are stored at.
pub struct SingleUse {
    backend: Box<DynBackend<'static>>,
    sealer: Sealer,
}

impl SingleUse {
    pub fn new(backend: impl Backend + 'static, sealer: Sealer) -> Self {
        SingleUse {
            backend: DynBackend::new_box(backend),
            sealer,
        }
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
        let sealed = self.backend.take(key).await?;
        Ok(self.open(key, sealed))
    }

    /// Reads the value and leaves it (a connect session, used until its connect completes).
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError> {
        let sealed = self.backend.get(key).await?;
        Ok(self.open(key, sealed))
    }

    fn open<T: DeserializeOwned>(&self, key: &str, sealed: Option<String>) -> Option<T> {
        let sealed = sealed?;
        let value = self
            .sealer
            .open(key, &sealed)
            .and_then(|json| serde_json::from_slice(&json).ok());
        if value.is_none() {
            tracing::warn!("a stored value could not be opened and was discarded");
        }
        value
    }
}

/// Where an OAuth state's record lives: under the state's hash, never the state itself.
pub fn state_key(state: &str) -> String {
    format!("integrations:state:{}", hashed_key_part(state))
}

/// Where a connect session lives: under the token's hash, never the token itself.
pub fn session_key(token: &str) -> String {
    format!("integrations:connect-session:{}", hashed_key_part(token))
}

/// Where a connection's tokens wait; each part is encoded so `a:b`/`c` and `a`/`b:c` differ.
pub fn credentials_key(provider: &str, org_id: &str, user_id: &str) -> String {
    format!(
        "integrations:credentials:{provider}:{}:{}",
        key_part(org_id),
        key_part(user_id)
    )
}
