//! The embedded backend: a redb file, for `local-api` and tests.
//!
//! Records are the same [`Record`]s the DynamoDB items hold, as JSON under the same primary key,
//! with two index tables kept in the same transactions. redb runs one write transaction at a time,
//! so a conditional write is a read and a write in one transaction.

use std::path::Path;
use std::sync::Arc;

use redb::Database;

use super::{Connection, ConnectionChange, ConnectionId, ConnectionStoreError, Record};
use crate::crypto::Sealer;

mod scan;
mod store;
mod tables;

use tables::{failed, Change, BY_ORG, CONNECTIONS, DUE};

#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
    sealer: Sealer,
    /// Told of every write, as DynamoDB Streams tells the deployed functions.
    watcher: Option<Watcher>,
}

/// Where an embedded store reports its writes ([`EmbeddedStore::watched`]).
pub type Watcher = tokio::sync::mpsc::UnboundedSender<ConnectionChange>;

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
            watcher: None,
        })
    }

    /// This store, reporting each write once it is committed.
    pub fn watched(mut self, watcher: Watcher) -> Self {
        self.watcher = Some(watcher);
        self
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

    fn open_all(&self, records: Vec<(String, Record)>) -> Result<Vec<Connection>, ConnectionStoreError> {
        records
            .into_iter()
            .map(|(key, record)| record.open(&key, &self.sealer))
            .collect()
    }
}

pub(super) fn clear_lease(record: &mut Record) {
    record.lease_owner = None;
    record.lease_expires_at_ms = None;
}

pub(super) fn lease_free(record: &Record, now_ms: i64) -> bool {
    record.lease_owner.is_none() || record.lease_expires_at_ms.is_none_or(|until| until <= now_ms)
}
