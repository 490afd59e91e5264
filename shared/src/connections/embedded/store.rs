//! The operations of the embedded backend: each write a read and a write in one transaction,
//! each listing one read transaction.

use redb::ReadableDatabase;

use super::tables::{decode, failed, load, Change, BY_ORG, CONNECTIONS, DUE};
use super::{clear_lease, lease_free, EmbeddedStore};
use crate::connections::record::seal;
use crate::connections::{
    org_sort, provider_prefix, Account, Connection, ConnectionId, ConnectionStore, ConnectionStoreError,
    DueConnection, LeaseOutcome, Reauthorization, Record, Status,
};
use crate::tokens::TokenSet;

impl ConnectionStore for EmbeddedStore {
    async fn save_connected(
        &self,
        id: &ConnectionId,
        tokens: &TokenSet,
        account: Option<&Account>,
        now: i64,
    ) -> Result<Connection, ConnectionStoreError> {
        let sealed = seal(&self.sealer, id, tokens);
        let (scopes, account, expires_at) = (tokens.scopes.clone(), account.cloned(), tokens.expires_at);
        let provider = id.provider.clone();
        let (org_id, user_id) = (id.org_id.clone(), id.user_id.clone());
        let saved = self
            .modify(id, move |old| {
                let record = Record {
                    provider,
                    org_id,
                    user_id,
                    status: Status::Active,
                    tokens: Some(sealed),
                    scopes,
                    account,
                    created_at: old.as_ref().map_or(now, |old| old.created_at),
                    updated_at: now,
                    expires_at,
                    last_refreshed_at: old.as_ref().and_then(|old| old.last_refreshed_at),
                    version: old.as_ref().map_or(0, |old| old.version) + 1,
                    lease_owner: None,
                    lease_expires_at_ms: None,
                    consents: old.as_ref().map_or(0, |old| old.consents) + 1,
                    refresh_failures: 0,
                    reauthorization: None,
                    revocation: None,
                };
                (Change::Put(Box::new(record.clone())), record)
            })
            .await?;
        saved.open(&id.key(), &self.sealer)
    }

    async fn get(&self, id: &ConnectionId) -> Result<Option<Connection>, ConnectionStoreError> {
        let key = id.key();
        let read_key = key.clone();
        let record = self
            .blocking(move |db| {
                let txn = db.begin_read().map_err(failed)?;
                let table = txn.open_table(CONNECTIONS).map_err(failed)?;
                let value = table.get(read_key.as_str()).map_err(failed)?;
                value.map(|value| decode(value.value())).transpose()
            })
            .await?;
        record.map(|record| record.open(&key, &self.sealer)).transpose()
    }

    async fn acquire_lease(
        &self,
        id: &ConnectionId,
        expected_version: u64,
        owner: &str,
        lease_ms: i64,
        now_ms: i64,
    ) -> Result<LeaseOutcome, ConnectionStoreError> {
        let owner = owner.to_owned();
        self.modify(id, move |old| {
            let Some(mut record) = old else {
                return (Change::Keep, LeaseOutcome::Gone);
            };
            if record.version != expected_version || record.status != Status::Active {
                return (Change::Keep, LeaseOutcome::Changed);
            }
            if !lease_free(&record, now_ms) {
                let until_ms = record.lease_expires_at_ms.unwrap_or(now_ms);
                return (Change::Keep, LeaseOutcome::Busy { until_ms });
            }
            let outcome = record.acquired_from();
            record.lease_owner = Some(owner);
            record.lease_expires_at_ms = Some(now_ms.saturating_add(lease_ms));
            (Change::Put(Box::new(record)), outcome)
        })
        .await
    }

    async fn commit_refresh(
        &self,
        id: &ConnectionId,
        read_version: u64,
        tokens: &TokenSet,
        now: i64,
    ) -> Result<bool, ConnectionStoreError> {
        let (sealed, expires_at) = (seal(&self.sealer, id, tokens), tokens.expires_at);
        self.change_if(id, move |record| {
            if record.version != read_version {
                return false;
            }
            record.tokens = Some(sealed);
            record.status = Status::Active;
            record.expires_at = expires_at;
            record.last_refreshed_at = Some(now);
            record.updated_at = now;
            record.version += 1;
            record.refresh_failures = 0;
            record.reauthorization = None;
            clear_lease(record);
            true
        })
        .await
    }

    async fn mark_needs_reauthorization(
        &self,
        id: &ConnectionId,
        version: u64,
        reason: Reauthorization,
        now: i64,
    ) -> Result<bool, ConnectionStoreError> {
        self.change_if(id, move |record| {
            if record.version != version || record.status != Status::Active {
                return false;
            }
            record.status = Status::NeedsReauthorization;
            record.reauthorization = Some(reason.as_str().to_owned());
            record.updated_at = now;
            clear_lease(record);
            true
        })
        .await
    }

    async fn release_lease(
        &self,
        id: &ConnectionId,
        owner: &str,
        failed: bool,
    ) -> Result<bool, ConnectionStoreError> {
        let owner = owner.to_owned();
        self.change_if(id, move |record| {
            let held = record.lease_owner.as_deref() == Some(owner.as_str());
            if held {
                clear_lease(record);
                record.refresh_failures += u32::from(failed);
            }
            held
        })
        .await
    }

    async fn reseal(
        &self,
        id: &ConnectionId,
        version: u64,
        tokens: &TokenSet,
    ) -> Result<bool, ConnectionStoreError> {
        let sealed = seal(&self.sealer, id, tokens);
        self.change_if(id, move |record| {
            let current = record.version == version;
            if current {
                record.tokens = Some(sealed);
            }
            current
        })
        .await
    }

    async fn delete(
        &self,
        id: &ConnectionId,
        version: u64,
        revocation: &str,
    ) -> Result<bool, ConnectionStoreError> {
        let revocation = revocation.to_owned();
        self.modify(id, move |old| match old {
            Some(mut record) if record.version == version => {
                record.revocation = Some(revocation);
                (Change::Delete(Box::new(record)), true)
            }
            _ => (Change::Keep, false),
        })
        .await
    }

    fn has_old_keys(&self) -> bool {
        self.sealer.has_old_keys()
    }

    async fn scan_page(
        &self,
        want: usize,
        start: Option<ConnectionId>,
        old_keys_only: bool,
    ) -> Result<Vec<Connection>, ConnectionStoreError> {
        self.scan(want, start, old_keys_only).await
    }

    /// Up to `want` connections after `start` (provider, user id).
    async fn org_page(
        &self,
        org_id: &str,
        user_id: Option<&str>,
        provider: Option<&str>,
        want: usize,
        start: Option<(String, String)>,
    ) -> Result<Vec<Connection>, ConnectionStoreError> {
        let org_id = org_id.to_owned();
        let user_id = user_id.map(str::to_owned);
        let prefix = provider.map(provider_prefix);
        let start = start.map(|(provider, user_id)| org_sort(&provider, &user_id));
        let records = self
            .blocking(move |db| {
                let txn = db.begin_read().map_err(failed)?;
                let (by_org, connections) = (
                    txn.open_table(BY_ORG).map_err(failed)?,
                    txn.open_table(CONNECTIONS).map_err(failed)?,
                );
                let from = start.as_deref().or(prefix.as_deref()).unwrap_or("");
                let mut found = Vec::new();
                for entry in by_org.range((org_id.as_str(), from)..).map_err(failed)? {
                    let (index, key) = entry.map_err(failed)?;
                    let (org, sort) = index.value();
                    if org != org_id || prefix.as_deref().is_some_and(|prefix| !sort.starts_with(prefix)) {
                        break;
                    }
                    if start.as_deref() == Some(sort) {
                        continue;
                    }
                    let (key, mut record) = load(&connections, key.value())?;
                    // As from the DynamoDB index: a listing never opens tokens.
                    record.tokens = None;
                    if user_id.as_ref().is_none_or(|user_id| *user_id == record.user_id) {
                        found.push((key, record));
                        if found.len() == want {
                            break;
                        }
                    }
                }
                Ok(found)
            })
            .await?;
        self.open_all(records)
    }

    /// Up to `want` due connections after `start` (shard, expiry, id), shard by shard.
    async fn due_page(
        &self,
        before: i64,
        want: usize,
        start: Option<(u8, i64, ConnectionId)>,
    ) -> Result<Vec<DueConnection>, ConnectionStoreError> {
        let start = start.map(|(shard, expires_at, id)| (shard, expires_at, id.key()));
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(failed)?;
            let due = txn.open_table(DUE).map_err(failed)?;
            let from = start
                .as_ref()
                .map_or((0, i64::MIN, ""), |(shard, at, key)| (*shard, *at, key.as_str()));
            let mut found = Vec::new();
            for entry in due.range(from..).map_err(failed)? {
                if found.len() == want {
                    break;
                }
                let (index, _) = entry.map_err(failed)?;
                let (shard, expires_at, key) = index.value();
                if expires_at >= before
                    || start
                        .as_ref()
                        .is_some_and(|(s, at, start)| (*s, *at, start.as_str()) == (shard, expires_at, key))
                {
                    continue;
                }
                match ConnectionId::from_key(key) {
                    Some(id) => found.push(DueConnection { id, expires_at }),
                    None => tracing::error!("skipped a malformed due index entry"),
                }
            }
            Ok(found)
        })
        .await
    }
}
