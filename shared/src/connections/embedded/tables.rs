//! The redb tables and the one write transaction that keeps a record and its two index tables
//! consistent; redb's blocking I/O runs off the async workers.

use std::sync::Arc;

use redb::{Database, ReadableTable, TableDefinition};

use super::EmbeddedStore;
use crate::connections::{
    due_shard, org_sort, ConnectionChange, ConnectionId, ConnectionStoreError, Record, Status,
};

/// Primary key → the record as JSON.
pub(super) const CONNECTIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("connections");
/// (org_id, org_sort) → primary key.
pub(super) const BY_ORG: TableDefinition<(&str, &str), &str> = TableDefinition::new("connections_by_org");
/// (shard, expires_at, primary key) of active connections that expire, sharded as in DynamoDB.
pub(super) const DUE: TableDefinition<(u8, i64, &str), ()> = TableDefinition::new("connections_due_sharded");

/// What a write transaction does with the record it read.
pub(super) enum Change {
    Keep,
    Put(Box<Record>),
    /// Deletes it; the record as last seen (the watcher's old image).
    Delete(Box<Record>),
}

impl EmbeddedStore {
    /// Reads the record under `id` and applies `decide`'s change to it and to the indexes, in
    /// one write transaction.
    pub(super) async fn modify<T: Send + 'static>(
        &self,
        id: &ConnectionId,
        decide: impl FnOnce(Option<Record>) -> (Change, T) + Send + 'static,
    ) -> Result<T, ConnectionStoreError> {
        let key = id.key();
        let watcher = self.watcher.clone();
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
                let images = match &change {
                    Change::Keep => return Ok(outcome),
                    Change::Put(record) => (old.clone(), Some(record.as_ref().clone())),
                    Change::Delete(record) => (Some(record.as_ref().clone()), None),
                };
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
                    Change::Delete(_) => {
                        connections.remove(key.as_str()).map_err(failed)?;
                    }
                    Change::Keep => {}
                }
                (outcome, images)
            };
            txn.commit().map_err(failed)?;
            let (outcome, (old, new)) = outcome;
            if let Some(watcher) = watcher {
                let image = |record: Option<Record>| record.and_then(|record| record.unopened(&key).ok());
                // A closed receiver (its process stopping) has nothing left to tell.
                let _ = watcher.send(ConnectionChange {
                    old: image(old),
                    new: image(new),
                    at_ms: crate::clock::now_ms(),
                });
            }
            Ok(outcome)
        })
        .await
    }

    /// redb blocks on file I/O (and fsyncs each commit): keep it off the async workers.
    pub(super) async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Database) -> Result<T, ConnectionStoreError> + Send + 'static,
    ) -> Result<T, ConnectionStoreError> {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || work(&db))
            .await
            .map_err(|e| ConnectionStoreError::Embedded(e.to_string()))?
    }
}

/// Indexed in [`DUE`]: only active connections that expire.
pub(super) fn due_at(record: &Record) -> Option<i64> {
    record.expires_at.filter(|_| record.status == Status::Active)
}

pub(super) fn load(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
) -> Result<(String, Record), ConnectionStoreError> {
    let value = table
        .get(key)
        .map_err(failed)?
        .ok_or_else(|| ConnectionStoreError::Corrupt("an index names a missing connection".into()))?;
    Ok((key.to_owned(), decode(value.value())?))
}

pub(super) fn decode(json: &[u8]) -> Result<Record, ConnectionStoreError> {
    serde_json::from_slice(json).map_err(|e| ConnectionStoreError::Corrupt(e.to_string()))
}

pub(super) fn failed(error: impl Into<redb::Error>) -> ConnectionStoreError {
    ConnectionStoreError::Embedded(error.into().to_string())
}
