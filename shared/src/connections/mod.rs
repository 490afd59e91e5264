//! Durable OAuth connections: one record per (provider, org, user), tokens sealed at rest.
//!
//! Two backends with the same semantics: DynamoDB for the deployed functions, and an embedded
//! redb file (feature `embedded`) for `local-api` and tests. Every write that can race (a
//! reconnect, a refresh, a lease) is conditional, so [`refresh::fresh_tokens`] can let exactly
//! one process refresh a connection while the others wait for its result.

pub mod dynamo;
#[cfg(feature = "embedded")]
pub mod embedded;
pub mod refresh;
pub mod sdk_http;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::crypto::Sealer;
use crate::ids;

pub use dynamo::DynamoStore;
#[cfg(feature = "embedded")]
pub use embedded::EmbeddedStore;

/// Largest page [`ConnectionStore::list`] and [`ConnectionStore::due`] return.
pub const MAX_PAGE: usize = 100;
/// Partitions of the `due` index: enough that no one partition takes every write.
pub const DUE_SHARDS: u8 = 16;

/// The `due` partition of a connection: a hash of its key, so every process agrees.
fn due_shard(key: &str) -> u8 {
    use sha2::Digest;
    sha2::Sha256::digest(key.as_bytes())[0] % DUE_SHARDS
}

/// A connection the `due` index lists: which one, and when its access token expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueConnection {
    pub id: ConnectionId,
    pub expires_at: i64,
}

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

/// Which connection: the provider's name and the caller's org and user ids.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConnectionId {
    provider: String,
    org_id: String,
    user_id: String,
}

impl ConnectionId {
    /// Each part follows [`ids::check`].
    pub fn new(provider: &str, org_id: &str, user_id: &str) -> Result<Self, ConnectionStoreError> {
        ids::check("provider", provider)?;
        ids::check("org_id", org_id)?;
        ids::check("user_id", user_id)?;
        Ok(ConnectionId {
            provider: provider.to_owned(),
            org_id: org_id.to_owned(),
            user_id: user_id.to_owned(),
        })
    }

    pub fn provider(&self) -> &str {
        &self.provider
    }

    pub fn org_id(&self) -> &str {
        &self.org_id
    }

    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// The primary key, also the associated data of the sealed tokens. Each part is base64url,
    /// which has no `#`, so two different triples never share a key.
    pub fn key(&self) -> String {
        format!(
            "connection#{}#{}#{}",
            URL_SAFE_NO_PAD.encode(&self.provider),
            URL_SAFE_NO_PAD.encode(&self.org_id),
            URL_SAFE_NO_PAD.encode(&self.user_id)
        )
    }

    fn from_key(key: &str) -> Option<Self> {
        let mut parts = key.strip_prefix("connection#")?.split('#').map(|part| {
            let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
            String::from_utf8(bytes).ok()
        });
        let (provider, org_id, user_id) = (parts.next()??, parts.next()??, parts.next()??);
        if parts.next().is_some() {
            return None;
        }
        ConnectionId::new(&provider, &org_id, &user_id).ok()
    }

    /// Position within the org: by provider, then user id, byte-wise. Hex keeps the byte order
    /// and has no `.`, and `.` sorts below every hex digit, so a prefix sorts first.
    fn org_sort(&self) -> String {
        org_sort(&self.provider, &self.user_id)
    }
}

fn org_sort(provider: &str, user_id: &str) -> String {
    format!("{}.{}", hex(provider.as_bytes()), hex(user_id.as_bytes()))
}

/// The range of [`org_sort`] values of one provider.
fn provider_prefix(provider: &str) -> String {
    format!("{}.", hex(provider.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Status {
    Active,
    /// The provider refused the refresh token: only a new OAuth consent revives the connection.
    NeedsReauthorization,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::NeedsReauthorization => "needs_reauthorization",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        match value {
            "active" => Some(Status::Active),
            "needs_reauthorization" => Some(Status::NeedsReauthorization),
            _ => None,
        }
    }
}

/// The provider account the tokens act for, as far as the provider said.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Account {
    pub id: Option<String>,
    pub name: Option<String>,
}

/// A stored connection. `tokens` is `None` when the sealed token set does not open here.
#[derive(Clone, PartialEq, Eq)]
pub struct Connection {
    pub id: ConnectionId,
    pub status: Status,
    pub tokens: Option<Vec<u8>>,
    pub scopes: Vec<String>,
    pub account: Option<Account>,
    /// Unix seconds.
    pub created_at: i64,
    pub updated_at: i64,
    pub expires_at: Option<i64>,
    pub last_refreshed_at: Option<i64>,
    /// Incremented by every write of new tokens: what a refresh is conditional on.
    pub version: u64,
    /// Whether the tokens are sealed under the current key (false while they open only through
    /// `TOKEN_ENCRYPTION_KEYS_OLD`, or not at all).
    pub current_key: bool,
    pub lease_owner: Option<String>,
    pub lease_expires_at_ms: Option<i64>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("id", &self.id)
            .field("status", &self.status)
            .field("tokens", &self.tokens.as_ref().map(|_| "<sealed>"))
            .field("scopes", &self.scopes)
            .field("account", &self.account)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .field("expires_at", &self.expires_at)
            .field("last_refreshed_at", &self.last_refreshed_at)
            .field("version", &self.version)
            .field("current_key", &self.current_key)
            .field("lease_owner", &self.lease_owner)
            .field("lease_expires_at_ms", &self.lease_expires_at_ms)
            .finish()
    }
}

/// What [`ConnectionStore::acquire_lease`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseOutcome {
    Acquired,
    /// Acquired from a holder whose lease lapsed then (unix milliseconds): it may have died, or
    /// still be about to commit.
    TakenOver {
        lapsed_at_ms: i64,
    },
    /// Another holder's lease runs until then (unix milliseconds).
    Busy {
        until_ms: i64,
    },
    /// The version moved on, or the connection is no longer active.
    Changed,
    Gone,
}

/// A connection as stored, tokens still sealed; the backends keep exactly these fields.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    provider: String,
    org_id: String,
    user_id: String,
    status: Status,
    /// `None` where a reader did not fetch them (index pages).
    tokens: Option<String>,
    scopes: Vec<String>,
    account: Option<Account>,
    created_at: i64,
    updated_at: i64,
    expires_at: Option<i64>,
    last_refreshed_at: Option<i64>,
    version: u64,
    lease_owner: Option<String>,
    lease_expires_at_ms: Option<i64>,
}

impl Record {
    /// What taking the lease over this record (as it was) amounts to: a takeover if it still
    /// names a holder, whose lease can only have lapsed.
    fn acquired_from(&self) -> LeaseOutcome {
        match (&self.lease_owner, self.lease_expires_at_ms) {
            (Some(_), Some(lapsed_at_ms)) => LeaseOutcome::TakenOver { lapsed_at_ms },
            _ => LeaseOutcome::Acquired,
        }
    }

    /// Opens the tokens under `key`, the primary key the record was read by, never under the ids
    /// the record carries: attributes copied from another connection's item (everything but its
    /// key) name that connection, and must not hand out its tokens. Such a record is unreadable.
    fn open(self, key: &str, sealer: &Sealer) -> Result<Connection, ConnectionStoreError> {
        let id = ConnectionId::from_key(key)
            .ok_or_else(|| ConnectionStoreError::Corrupt("a connection's key is malformed".into()))?;
        let agrees = (id.provider(), id.org_id(), id.user_id())
            == (
                self.provider.as_str(),
                self.org_id.as_str(),
                self.user_id.as_str(),
            );
        let Some(sealed) = self.tokens.as_deref() else {
            return Ok(self.into_connection(id, None, false));
        };
        let tokens = agrees.then(|| sealer.open(key, sealed)).flatten();
        let current_key = tokens.is_some() && sealer.is_current(sealed);
        if !agrees {
            tracing::error!(
                provider = %id.provider,
                "a connection's item disagrees with its key: its tokens are not opened"
            );
        } else if tokens.is_none() {
            tracing::warn!(
                provider = %id.provider,
                "a connection's tokens could not be opened (tampered, moved or unknown key)"
            );
        }
        Ok(self.into_connection(id, tokens, current_key))
    }

    fn into_connection(self, id: ConnectionId, tokens: Option<Vec<u8>>, current_key: bool) -> Connection {
        Connection {
            id,
            status: self.status,
            tokens,
            scopes: self.scopes,
            account: self.account,
            created_at: self.created_at,
            updated_at: self.updated_at,
            expires_at: self.expires_at,
            last_refreshed_at: self.last_refreshed_at,
            version: self.version,
            current_key,
            lease_owner: self.lease_owner,
            lease_expires_at_ms: self.lease_expires_at_ms,
        }
    }
}

/// The validated start of a [`ConnectionStore::list`] page: after this provider and user id.
fn list_start(
    cursor: Option<&str>,
    provider: Option<&str>,
) -> Result<Option<(String, String)>, ConnectionStoreError> {
    let Some(cursor) = cursor else {
        return Ok(None);
    };
    let sort = decode_cursor(cursor)?;
    // A cursor from another provider's listing would start outside the queried range.
    if provider.is_some_and(|provider| !sort.starts_with(&provider_prefix(provider))) {
        return Err(ConnectionStoreError::InvalidCursor);
    }
    let (provider, user_id) = sort.split_once('.').ok_or(ConnectionStoreError::InvalidCursor)?;
    let text = |part: &str| {
        unhex(part)
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .filter(|text| ids::check("cursor", text).is_ok())
            .ok_or(ConnectionStoreError::InvalidCursor)
    };
    Ok(Some((text(provider)?, text(user_id)?)))
}

/// The validated start of a [`ConnectionStore::due`] page: after this shard, expiry and key.
fn due_start(cursor: Option<&str>) -> Result<Option<(u8, i64, ConnectionId)>, ConnectionStoreError> {
    let Some(cursor) = cursor else {
        return Ok(None);
    };
    let decoded = decode_cursor(cursor)?;
    let mut parts = decoded.splitn(3, '.');
    let (Some(shard), Some(expires_at), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(ConnectionStoreError::InvalidCursor);
    };
    let shard = shard
        .parse()
        .ok()
        .filter(|shard| *shard < DUE_SHARDS)
        .ok_or(ConnectionStoreError::InvalidCursor)?;
    let expires_at = expires_at
        .parse()
        .map_err(|_| ConnectionStoreError::InvalidCursor)?;
    let id = ConnectionId::from_key(key).ok_or(ConnectionStoreError::InvalidCursor)?;
    if due_shard(&id.key()) != shard {
        return Err(ConnectionStoreError::InvalidCursor);
    }
    Ok(Some((shard, expires_at, id)))
}

fn list_cursor(connection: &Connection) -> String {
    URL_SAFE_NO_PAD.encode(connection.id.org_sort())
}

fn due_cursor(due: &DueConnection) -> String {
    let key = due.id.key();
    URL_SAFE_NO_PAD.encode(format!("{}.{}.{key}", due_shard(&key), due.expires_at))
}

fn decode_cursor(cursor: &str) -> Result<String, ConnectionStoreError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or(ConnectionStoreError::InvalidCursor)
}

fn unhex(value: &str) -> Option<Vec<u8>> {
    if value.len() % 2 != 0 {
        return None;
    }
    (0..value.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(value.get(at..at + 2)?, 16).ok())
        .collect()
}

fn check_limit(limit: usize) -> Result<(), ConnectionStoreError> {
    if (1..=MAX_PAGE).contains(&limit) {
        Ok(())
    } else {
        Err(ConnectionStoreError::InvalidLimit(limit))
    }
}

/// Cuts `limit + 1` found items to a page: the extra one only says that more exist.
fn page<T>(mut found: Vec<T>, limit: usize, cursor: fn(&T) -> String) -> (Vec<T>, Option<String>) {
    if found.len() <= limit {
        return (found, None);
    }
    found.truncate(limit);
    let next = found.last().map(cursor);
    (found, next)
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
        let start = cursor.map(|cursor| {
            decode_cursor(cursor)
                .ok()
                .and_then(|key| ConnectionId::from_key(&key))
                .ok_or(ConnectionStoreError::InvalidCursor)
        });
        let start = start.transpose()?;
        let found = dispatch!(self, store => store.under_old_keys(limit + 1, start).await)?;
        Ok(page(found, limit, |connection| {
            URL_SAFE_NO_PAD.encode(connection.id.key())
        }))
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
