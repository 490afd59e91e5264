//! The embedded backend: a redb file, for `local-api` and tests.
//!
//! Records are the same [`Record`]s the DynamoDB items hold, as JSON under the same primary key,
//! with two index tables kept in the same transactions. redb runs one write transaction at a time,
//! so a conditional write is a read and a write in one transaction.

use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::{
    due_shard, org_sort, provider_prefix, Account, Connection, ConnectionId, ConnectionStoreError,
    DueConnection, LeaseOutcome, Record, Status,
};
use crate::crypto::Sealer;

/// Primary key → the record as JSON.
const CONNECTIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("connections");
/// (org_id, org_sort) → primary key.
const BY_ORG: TableDefinition<(&str, &str), &str> = TableDefinition::new("connections_by_org");
/// (shard, expires_at, primary key) of active connections that expire, sharded as in DynamoDB.
const DUE: TableDefinition<(u8, i64, &str), ()> = TableDefinition::new("connections_due_sharded");

#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
    pub(super) sealer: Sealer,
}

/// What a write transaction does with the record it read.
enum Change {
    Keep,
    Put(Box<Record>),
    Delete,
}

impl EmbeddedStore {
    /// Opens the file, creating it if needed. One process at a time: redb locks the file.
    pub fn open(path: impl AsRef<Path>, sealer: Sealer) -> Result<Self, ConnectionStoreError> {
        let db = Database::create(path).map_err(failed)?;
        let txn = db.begin_write().map_err(failed)?;
        txn.open_table(CONNECTIONS).map_err(failed)?;
        txn.open_table(BY_ORG).map_err(failed)?;
        txn.open_table(DUE).map_err(failed)?;
        txn.commit().map_err(failed)?;
        Ok(EmbeddedStore {
            db: Arc::new(db),
            sealer,
        })
    }

    pub(super) async fn save_connected(
        &self,
        id: &ConnectionId,
        tokens: &[u8],
        expires_at: Option<i64>,
        scopes: &[String],
        account: Option<&Account>,
        now: i64,
    ) -> Result<Connection, ConnectionStoreError> {
        let sealed = self.sealer.seal(&id.key(), tokens);
        let (scopes, account) = (scopes.to_vec(), account.cloned());
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
                };
                (Change::Put(Box::new(record.clone())), record)
            })
            .await?;
        saved.open(&id.key(), &self.sealer)
    }

    pub(super) async fn get(&self, id: &ConnectionId) -> Result<Option<Connection>, ConnectionStoreError> {
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

    pub(super) async fn acquire_lease(
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

    pub(super) async fn commit_refresh(
        &self,
        id: &ConnectionId,
        read_version: u64,
        tokens: &[u8],
        expires_at: Option<i64>,
        now: i64,
    ) -> Result<bool, ConnectionStoreError> {
        let sealed = self.sealer.seal(&id.key(), tokens);
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
            clear_lease(record);
            true
        })
        .await
    }

    pub(super) async fn mark_needs_reauthorization(
        &self,
        id: &ConnectionId,
        version: u64,
        now: i64,
    ) -> Result<bool, ConnectionStoreError> {
        self.change_if(id, move |record| {
            if record.version != version || record.status != Status::Active {
                return false;
            }
            record.status = Status::NeedsReauthorization;
            record.updated_at = now;
            clear_lease(record);
            true
        })
        .await
    }

    pub(super) async fn release_lease(
        &self,
        id: &ConnectionId,
        owner: &str,
    ) -> Result<bool, ConnectionStoreError> {
        let owner = owner.to_owned();
        self.change_if(id, move |record| {
            let held = record.lease_owner.as_deref() == Some(owner.as_str());
            if held {
                clear_lease(record);
            }
            held
        })
        .await
    }

    pub(super) async fn reseal(
        &self,
        id: &ConnectionId,
        version: u64,
        tokens: &[u8],
    ) -> Result<bool, ConnectionStoreError> {
        let sealed = self.sealer.seal(&id.key(), tokens);
        self.change_if(id, move |record| {
            let current = record.version == version;
            if current {
                record.tokens = Some(sealed);
            }
            current
        })
        .await
    }

    pub(super) async fn delete(&self, id: &ConnectionId, version: u64) -> Result<bool, ConnectionStoreError> {
        self.modify(id, move |old| match old {
            Some(record) if record.version == version => (Change::Delete, true),
            _ => (Change::Keep, false),
        })
        .await
    }

    /// Up to `want` connections after `start` whose tokens are not sealed under the current key.
    pub(super) async fn under_old_keys(
        &self,
        want: usize,
        start: Option<ConnectionId>,
    ) -> Result<Vec<Connection>, ConnectionStoreError> {
        let prefix = self.sealer.current_prefix();
        let start = start.map(|id| id.key());
        let records = self
            .blocking(move |db| {
                let txn = db.begin_read().map_err(failed)?;
                let connections = txn.open_table(CONNECTIONS).map_err(failed)?;
                let from = start.as_deref().unwrap_or("");
                let mut found = Vec::new();
                for entry in connections.range(from..).map_err(failed)? {
                    let (key, value) = entry.map_err(failed)?;
                    if start.as_deref() == Some(key.value()) {
                        continue;
                    }
                    let record = decode(value.value())?;
                    if !record
                        .tokens
                        .as_deref()
                        .is_some_and(|tokens| tokens.starts_with(&prefix))
                    {
                        found.push((key.value().to_owned(), record));
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

    /// Up to `want` connections after `start` (provider, user id).
    pub(super) async fn list(
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
    pub(super) async fn due(
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

    /// Changes the record if `change` says it applies.
    async fn change_if(
        &self,
        id: &ConnectionId,
        change: impl FnOnce(&mut Record) -> bool + Send + 'static,
    ) -> Result<bool, ConnectionStoreError> {
        self.modify(id, move |old| {
            let Some(mut record) = old else {
                return (Change::Keep, false);
            };
            if change(&mut record) {
                (Change::Put(Box::new(record)), true)
            } else {
                (Change::Keep, false)
            }
        })
        .await
    }

    /// Reads the record under `id` and applies `decide`'s change to it and to the indexes, in
    /// one write transaction.
    async fn modify<T: Send + 'static>(
        &self,
        id: &ConnectionId,
        decide: impl FnOnce(Option<Record>) -> (Change, T) + Send + 'static,
    ) -> Result<T, ConnectionStoreError> {
        let key = id.key();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(failed)?;
            let outcome = {
                let mut connections = txn.open_table(CONNECTIONS).map_err(failed)?;
                let mut by_org = txn.open_table(BY_ORG).map_err(failed)?;
                let mut due = txn.open_table(DUE).map_err(failed)?;
                let old = connections
                    .get(key.as_str())
                    .map_err(failed)?
                    .map(|value| decode(value.value()))
                    .transpose()?;
                let (change, outcome) = decide(old.clone());
                if matches!(change, Change::Keep) {
                    return Ok(outcome);
                }
                if let Some(old) = &old {
                    by_org
                        .remove((
                            old.org_id.as_str(),
                            org_sort(&old.provider, &old.user_id).as_str(),
                        ))
                        .map_err(failed)?;
                    if let Some(expires_at) = due_at(old) {
                        due.remove((due_shard(&key), expires_at, key.as_str()))
                            .map_err(failed)?;
                    }
                }
                match change {
                    Change::Put(record) => {
                        let json = serde_json::to_vec(&record)
                            .map_err(|e| ConnectionStoreError::Embedded(e.to_string()))?;
                        connections
                            .insert(key.as_str(), json.as_slice())
                            .map_err(failed)?;
                        let sort = org_sort(&record.provider, &record.user_id);
                        by_org
                            .insert((record.org_id.as_str(), sort.as_str()), key.as_str())
                            .map_err(failed)?;
                        if let Some(expires_at) = due_at(&record) {
                            due.insert((due_shard(&key), expires_at, key.as_str()), ())
                                .map_err(failed)?;
                        }
                    }
                    Change::Delete => {
                        connections.remove(key.as_str()).map_err(failed)?;
                    }
                    Change::Keep => {}
                }
                outcome
            };
            txn.commit().map_err(failed)?;
            Ok(outcome)
        })
        .await
    }

    /// redb blocks on file I/O (and fsyncs each commit): keep it off the async workers.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Database) -> Result<T, ConnectionStoreError> + Send + 'static,
    ) -> Result<T, ConnectionStoreError> {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || work(&db))
            .await
            .map_err(|e| ConnectionStoreError::Embedded(e.to_string()))?
    }

    fn open_all(&self, records: Vec<(String, Record)>) -> Result<Vec<Connection>, ConnectionStoreError> {
        records
            .into_iter()
            .map(|(key, record)| record.open(&key, &self.sealer))
            .collect()
    }
}

/// Indexed in [`DUE`]: only active connections that expire.
fn due_at(record: &Record) -> Option<i64> {
    record.expires_at.filter(|_| record.status == Status::Active)
}

fn clear_lease(record: &mut Record) {
    record.lease_owner = None;
    record.lease_expires_at_ms = None;
}

fn lease_free(record: &Record, now_ms: i64) -> bool {
    record.lease_owner.is_none() || record.lease_expires_at_ms.is_none_or(|until| until <= now_ms)
}

fn load(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
) -> Result<(String, Record), ConnectionStoreError> {
    let value = table
        .get(key)
        .map_err(failed)?
        .ok_or_else(|| ConnectionStoreError::Corrupt("an index names a missing connection".into()))?;
    Ok((key.to_owned(), decode(value.value())?))
}

fn decode(json: &[u8]) -> Result<Record, ConnectionStoreError> {
    serde_json::from_slice(json).map_err(|e| ConnectionStoreError::Corrupt(e.to_string()))
}

fn failed(error: impl Into<redb::Error>) -> ConnectionStoreError {
    ConnectionStoreError::Embedded(error.into().to_string())
}
