//! What a connections backend does. Each write that can race (a reconnect, a refresh, a lease) is
//! conditional, and tokens are sealed inside the backend under the connection's key, so nothing
//! above it handles sealed bytes.

use std::future::Future;
use std::sync::Arc;

use super::cursor::{
    check_limit, due_cursor, due_start, list_cursor, list_start, old_keys_cursor, old_keys_start, page,
};
use super::{
    Account, Connection, ConnectionId, ConnectionStoreError, DueConnection, LeaseOutcome, Reauthorization,
};
use crate::ids;
use crate::tokens::TokenSet;

/// A page of a listing and the cursor of the next one, if more exist.
pub type Page<T> = (Vec<T>, Option<String>);

/// The store a process opened (DynamoDB, or a redb file locally), shared by its handlers and the
/// refresh tasks they spawn.
pub type SharedStore = Arc<DynConnectionStore<'static>>;

/// Shares `store` as the process's [`SharedStore`].
pub fn shared(store: impl ConnectionStore + 'static) -> SharedStore {
    DynConnectionStore::new_arc(store)
}

#[dynosaur::dynosaur(pub DynConnectionStore = dyn(box) ConnectionStore)]
pub trait ConnectionStore: Send + Sync {
    /// Upserts the tokens of a completed OAuth flow. Keeps `created_at`, makes the connection
    /// active and clears any lease: a reconnect wins over a refresh in flight.
    fn save_connected(
        &self,
        id: &ConnectionId,
        tokens: &TokenSet,
        account: Option<&Account>,
        now: i64,
    ) -> impl Future<Output = Result<Connection, ConnectionStoreError>> + Send;

    /// A strongly consistent read.
    fn get(
        &self,
        id: &ConnectionId,
    ) -> impl Future<Output = Result<Option<Connection>, ConnectionStoreError>> + Send;

    /// Takes the refresh lease if the connection is active, still at `expected_version`, and
    /// nobody holds an unexpired lease.
    fn acquire_lease(
        &self,
        id: &ConnectionId,
        expected_version: u64,
        owner: &str,
        lease_ms: i64,
        now_ms: i64,
    ) -> impl Future<Output = Result<LeaseOutcome, ConnectionStoreError>> + Send;

    /// Stores refreshed tokens if the connection is still at `read_version`, whoever holds the
    /// lease now (a holder that outlived its lease still has the newest pair), and clears the
    /// lease. `false` when a newer version exists.
    fn commit_refresh(
        &self,
        id: &ConnectionId,
        read_version: u64,
        tokens: &TokenSet,
        now: i64,
    ) -> impl Future<Output = Result<bool, ConnectionStoreError>> + Send;

    /// The provider refused the grant read at `version`: marks the connection for a new consent
    /// unless a newer version exists. The version stays, so that a late commit of that version
    /// (newer tokens than the refused ones) still lands.
    fn mark_needs_reauthorization(
        &self,
        id: &ConnectionId,
        version: u64,
        reason: Reauthorization,
        now: i64,
    ) -> impl Future<Output = Result<bool, ConnectionStoreError>> + Send;

    /// Gives the lease back; the connection is otherwise unchanged, but for its count of
    /// consecutive failed refreshes when the refresh `failed` (the source of the webhooks'
    /// `connection.refresh_failed`).
    fn release_lease(
        &self,
        id: &ConnectionId,
        owner: &str,
        failed: bool,
    ) -> impl Future<Output = Result<bool, ConnectionStoreError>> + Send;

    /// Seals the tokens again under the current key if the connection is still at `version`.
    /// The version stays: the tokens are the same, and a refresh in flight must still commit.
    fn reseal(
        &self,
        id: &ConnectionId,
        version: u64,
        tokens: &TokenSet,
    ) -> impl Future<Output = Result<bool, ConnectionStoreError>> + Send;

    /// Deletes the connection if it is still at `version`: `false` when it is gone or a newer
    /// version (a reconnect) exists. Its last image (the stream's, the watcher's) records what
    /// became of the grant: `revocation`.
    fn delete(
        &self,
        id: &ConnectionId,
        version: u64,
        revocation: &str,
    ) -> impl Future<Output = Result<bool, ConnectionStoreError>> + Send;

    /// Whether old keys are configured, so that [`ConnectionStore::under_old_keys`] has work.
    fn has_old_keys(&self) -> bool;

    /// Up to `want` of an org's connections after `start` (provider, user id), in that order,
    /// without their tokens.
    fn org_page(
        &self,
        org_id: &str,
        user_id: Option<&str>,
        provider: Option<&str>,
        want: usize,
        start: Option<(String, String)>,
    ) -> impl Future<Output = Result<Vec<Connection>, ConnectionStoreError>> + Send;

    /// Up to `want` active connections expiring before `before`, after `start` (shard, expiry,
    /// id), shard by shard.
    fn due_page(
        &self,
        before: i64,
        want: usize,
        start: Option<(u8, i64, ConnectionId)>,
    ) -> impl Future<Output = Result<Vec<DueConnection>, ConnectionStoreError>> + Send;

    /// Up to `want` connections after `start` in key order (a scan), or only those whose tokens
    /// are not sealed under the current key.
    fn scan_page(
        &self,
        want: usize,
        start: Option<ConnectionId>,
        old_keys_only: bool,
    ) -> impl Future<Output = Result<Vec<Connection>, ConnectionStoreError>> + Send;

    /// An org's connections by provider then user id, optionally of one user and/or provider.
    /// Pages hold `limit` (1 to [`super::MAX_PAGE`]) connections while more exist; the cursor is
    /// opaque.
    fn list(
        &self,
        org_id: &str,
        user_id: Option<&str>,
        provider: Option<&str>,
        limit: usize,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<Page<Connection>, ConnectionStoreError>> + Send {
        async move {
            ids::check("org_id", org_id)?;
            check_limit(limit)?;
            let start = list_start(cursor, provider)?;
            let found = self.org_page(org_id, user_id, provider, limit + 1, start).await?;
            Ok(page(found, limit, list_cursor))
        }
    }

    /// Active connections expiring before `before` (unix seconds), soonest first within each of
    /// the [`super::DUE_SHARDS`] partitions, one partition after the other: the work of a
    /// scheduled refresher, which reads each connection again before it refreshes it.
    fn due(
        &self,
        before: i64,
        limit: usize,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<Page<DueConnection>, ConnectionStoreError>> + Send {
        async move {
            check_limit(limit)?;
            let start = due_start(cursor)?;
            let found = self.due_page(before, limit + 1, start).await?;
            Ok(page(found, limit, due_cursor))
        }
    }

    /// Connections whose tokens are not sealed under the current key, a page at a time (a scan:
    /// for a key rotation, not for every request).
    fn under_old_keys(
        &self,
        limit: usize,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<Page<Connection>, ConnectionStoreError>> + Send {
        scan(self, limit, cursor, true)
    }

    /// Every connection, a page at a time (a scan: for the scheduled sync finder).
    fn every(
        &self,
        limit: usize,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<Page<Connection>, ConnectionStoreError>> + Send {
        scan(self, limit, cursor, false)
    }
}

/// A page of [`ConnectionStore::scan_page`], with its cursor.
async fn scan(
    store: &(impl ConnectionStore + ?Sized),
    limit: usize,
    cursor: Option<&str>,
    old_keys_only: bool,
) -> Result<Page<Connection>, ConnectionStoreError> {
    check_limit(limit)?;
    let start = old_keys_start(cursor)?;
    let found = store.scan_page(limit + 1, start, old_keys_only).await?;
    Ok(page(found, limit, old_keys_cursor))
}
