//! Durable OAuth connections: one record per (provider, org, user), tokens sealed at rest.
//!
//! Two backends with the same semantics: DynamoDB for the deployed functions, and an embedded
//! redb file (feature `embedded`) for `local-api` and tests. Every write that can race (a
//! reconnect, a refresh, a lease) is conditional, so [`refresh::fresh_tokens`] can let exactly
//! one process refresh a connection while the others wait for its result.

mod connection;
mod cursor;
pub mod dynamo;
#[cfg(feature = "embedded")]
pub mod embedded;
mod id;
mod record;
pub mod refresh;
pub mod sdk_http;

pub use connection::{Account, Connection, DueConnection, LeaseOutcome, Status};
use cursor::{
    check_limit, due_cursor, due_start, list_cursor, list_start, old_keys_cursor, old_keys_start, page,
};
pub use id::ConnectionId;
use id::{due_shard, org_sort, provider_prefix};
use record::Record;

use crate::ids;

pub use dynamo::DynamoStore;
#[cfg(feature = "embedded")]
pub use embedded::EmbeddedStore;

/// Largest page [`ConnectionStore::list`] and [`ConnectionStore::due`] return.
pub const MAX_PAGE: usize = 100;

pub const DUE_SHARDS: u8 = 16;

#[derive(Debug, thiserror::Error)]
pub enum ConnectionStoreError {
    #[error(transparent)]
    InvalidId(#[from] crate::ids::InvalidId),
    #[error("malformed cursor")]
    InvalidCursor,
    #[error("limit must be between 1 and {MAX_PAGE}, not {0}")]
    InvalidLimit(usize),
    #[error("DynamoDB: {0}")]
    Dynamo(String),
    #[error("embedded store: {0}")]
    Embedded(String),
    #[error("a stored connection is malformed: {0}")]
    Corrupt(String),
}

impl ConnectionStoreError {
    /// A failure of the store itself (throttled, timed out, unreachable) that a retry may cure.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ConnectionStoreError::Dynamo(_) | ConnectionStoreError::Embedded(_)
        )
    }
}

/// The store the API and the refresher use; see the module documentation.
#[derive(Clone)]
pub enum ConnectionStore {
    Dynamo(DynamoStore),
    #[cfg(feature = "embedded")]
    Embedded(EmbeddedStore),
}

macro_rules! dispatch {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            ConnectionStore::Dynamo($store) => $call,
            #[cfg(feature = "embedded")]
            ConnectionStore::Embedded($store) => $call,
        }
    };
}

impl ConnectionStore {
    /// Upserts the tokens of a completed OAuth flow. Keeps `created_at`, makes the connection
    /// active and clears any lease: a reconnect wins over a refresh in flight.
    pub async fn save_connected(
        &self,
        id: &ConnectionId,
        tokens: &[u8],
        expires_at: Option<i64>,
        scopes: &[String],
        account: Option<&Account>,
        now: i64,
    ) -> Result<Connection, ConnectionStoreError> {
        dispatch!(self, store => store.save_connected(id, tokens, expires_at, scopes, account, now).await)
    }

    /// A strongly consistent read.
    pub async fn get(&self, id: &ConnectionId) -> Result<Option<Connection>, ConnectionStoreError> {
        dispatch!(self, store => store.get(id).await)
    }

    /// Takes the refresh lease if the connection is active, still at `expected_version`, and
    /// nobody holds an unexpired lease.
    pub async fn acquire_lease(
        &self,
        id: &ConnectionId,
        expected_version: u64,
        owner: &str,
        lease_ms: i64,
        now_ms: i64,
    ) -> Result<LeaseOutcome, ConnectionStoreError> {
        dispatch!(self, store => store.acquire_lease(id, expected_version, owner, lease_ms, now_ms).await)
    }

    /// Stores refreshed tokens if the connection is still at `read_version`, whoever holds the
    /// lease now (a holder that outlived its lease still has the newest pair), and clears the
    /// lease. `false` when a newer version exists.
    pub async fn commit_refresh(
        &self,
        id: &ConnectionId,
        read_version: u64,
        tokens: &[u8],
        expires_at: Option<i64>,
        now: i64,
    ) -> Result<bool, ConnectionStoreError> {
        dispatch!(self, store => store.commit_refresh(id, read_version, tokens, expires_at, now).await)
    }

    /// The provider refused the grant read at `version`: marks the connection for a new consent
    /// unless a newer version exists. The version stays, so that a late commit of that version
    /// (newer tokens than the refused ones) still lands.
    pub async fn mark_needs_reauthorization(
        &self,
        id: &ConnectionId,
        version: u64,
        now: i64,
    ) -> Result<bool, ConnectionStoreError> {
        dispatch!(self, store => store.mark_needs_reauthorization(id, version, now).await)
    }

    /// Gives the lease back after a transient failure; the connection is otherwise unchanged.
    pub async fn release_lease(&self, id: &ConnectionId, owner: &str) -> Result<bool, ConnectionStoreError> {
        dispatch!(self, store => store.release_lease(id, owner).await)
    }

    /// Seals the tokens again under the current key if the connection is still at `version`.
    /// The version stays: the tokens are the same, and a refresh in flight must still commit.
    pub async fn reseal(
        &self,
        id: &ConnectionId,
        version: u64,
        tokens: &[u8],
    ) -> Result<bool, ConnectionStoreError> {
        dispatch!(self, store => store.reseal(id, version, tokens).await)
    }

    /// Deletes the connection if it is still at `version`: `false` when it is gone or a newer
    /// version (a reconnect) exists.
    pub async fn delete(&self, id: &ConnectionId, version: u64) -> Result<bool, ConnectionStoreError> {
        dispatch!(self, store => store.delete(id, version).await)
    }

    /// Whether old keys are configured, so that [`Self::under_old_keys`] has work.
    pub fn has_old_keys(&self) -> bool {
        dispatch!(self, store => store.sealer.has_old_keys())
    }

    /// Connections whose tokens are not sealed under the current key, a page at a time (a scan:
    /// for a key rotation, not for every request).
    pub async fn under_old_keys(
        &self,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<(Vec<Connection>, Option<String>), ConnectionStoreError> {
        check_limit(limit)?;
        let start = old_keys_start(cursor)?;
        let found = dispatch!(self, store => store.under_old_keys(limit + 1, start).await)?;
        Ok(page(found, limit, old_keys_cursor))
    }

    /// An org's connections by provider then user id, optionally of one user and/or provider.
    /// Pages hold `limit` (1 to 100) connections while more exist; the cursor is opaque.
    pub async fn list(
        &self,
        org_id: &str,
        user_id: Option<&str>,
        provider: Option<&str>,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<(Vec<Connection>, Option<String>), ConnectionStoreError> {
        ids::check("org_id", org_id)?;
        check_limit(limit)?;
        let start = list_start(cursor, provider)?;
        let found = dispatch!(self, store => store.list(org_id, user_id, provider, limit + 1, start).await)?;
        Ok(page(found, limit, list_cursor))
    }

    /// Active connections expiring before `before` (unix seconds), soonest first within each of
    /// the [`DUE_SHARDS`] partitions, one partition after the other: the work of a scheduled
    /// refresher, which reads each connection again before it refreshes it.
    pub async fn due(
        &self,
        before: i64,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<(Vec<DueConnection>, Option<String>), ConnectionStoreError> {
        check_limit(limit)?;
        let start = due_start(cursor)?;
        let found = dispatch!(self, store => store.due(before, limit + 1, start).await)?;
        Ok(page(found, limit, due_cursor))
    }
}
