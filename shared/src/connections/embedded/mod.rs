//! The embedded backend: a redb file, for `local-api` and tests.
//!
//! Records are the same [`Record`]s the DynamoDB items hold, as JSON under the same primary key,
//! with two index tables kept in the same transactions. redb runs one write transaction at a time,
//! so a conditional write is a read and a write in one transaction.

use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadableDatabase};

use super::record::seal;
use super::{
    Account, Connection, ConnectionId, ConnectionStore, ConnectionStoreError, DueConnection, LeaseOutcome,
    Record, Status,
};
use crate::crypto::Sealer;
use crate::tokens::TokenSet;

mod reads;
mod tables;

use tables::{decode, failed, Change, BY_ORG, CONNECTIONS, DUE};

#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
    sealer: Sealer,
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
            clear_lease(record);
            true
        })
        .await
    }

    async fn mark_needs_reauthorization(
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

    async fn release_lease(&self, id: &ConnectionId, owner: &str) -> Result<bool, ConnectionStoreError> {
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

    async fn delete(&self, id: &ConnectionId, version: u64) -> Result<bool, ConnectionStoreError> {
        self.modify(id, move |old| match old {
            Some(record) if record.version == version => (Change::Delete, true),
            _ => (Change::Keep, false),
        })
        .await
    }

    fn has_old_keys(&self) -> bool {
        self.sealer.has_old_keys()
    }

    async fn org_page(
        &self,
        org_id: &str,
        user_id: Option<&str>,
        provider: Option<&str>,
        want: usize,
        start: Option<(String, String)>,
    ) -> Result<Vec<Connection>, ConnectionStoreError> {
        self.read_org(org_id, user_id, provider, want, start).await
    }

    async fn due_page(
        &self,
        before: i64,
        want: usize,
        start: Option<(u8, i64, ConnectionId)>,
    ) -> Result<Vec<DueConnection>, ConnectionStoreError> {
        self.read_due(before, want, start).await
    }

    async fn old_keys_page(
        &self,
        want: usize,
        start: Option<ConnectionId>,
    ) -> Result<Vec<Connection>, ConnectionStoreError> {
        self.scan_old_keys(want, start).await
    }
}

fn clear_lease(record: &mut Record) {
    record.lease_owner = None;
    record.lease_expires_at_ms = None;
}

fn lease_free(record: &Record, now_ms: i64) -> bool {
    record.lease_owner.is_none() || record.lease_expires_at_ms.is_none_or(|until| until <= now_ms)
}
