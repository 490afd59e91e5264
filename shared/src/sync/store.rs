//! What an items backend does: a connection's sync record, written only if unchanged since it
//! was read, and its items, by id and in feed order (the time each version was recorded, then id).

use std::future::Future;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::record::SyncRecord;
use crate::item::Item;

/// One kept item: the provider's, as last seen, and what the sync recorded of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredItem {
    pub id: String,
    pub item: Item,
    /// A tombstone: the provider no longer lists it.
    pub deleted: bool,
    /// Unix ms at which this version was recorded: the feed's order.
    pub synced_at: i64,
    /// A hash of `item`, to tell a change from a repeat.
    pub hash: u64,
    /// The last sync that saw it (a full sync tombstones what it did not see).
    pub seen_run: u64,
    /// The sync step that recorded this version, and how: so that a step run again counts what
    /// it had written before it stopped.
    pub change: Change,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub run: u64,
    pub step: u64,
    pub kind: ChangeKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Added,
    Changed,
    Deleted,
}

#[derive(Debug, thiserror::Error)]
pub enum ItemStoreError {
    #[error("DynamoDB: {0}")]
    Dynamo(String),
    #[error("embedded store: {0}")]
    Embedded(String),
    #[error("a stored item or sync record is malformed: {0}")]
    Corrupt(String),
}

impl From<ItemStoreError> for crate::Error {
    fn from(error: ItemStoreError) -> Self {
        crate::Error::StoreUnavailable(crate::error::StoreError(error.to_string()))
    }
}

/// The items store a process opened, shared by its handlers and sync steps.
pub type SharedItems = Arc<DynItemStore<'static>>;

pub fn shared(store: impl ItemStore + 'static) -> SharedItems {
    DynItemStore::new_arc(store)
}

/// `connection` is always a connection's key ([`crate::connections::ConnectionId::key`]).
#[dynosaur::dynosaur(pub DynItemStore = dyn(box) ItemStore)]
pub trait ItemStore: Send + Sync {
    /// A strongly consistent read.
    fn sync_record(
        &self,
        connection: &str,
    ) -> impl Future<Output = Result<Option<SyncRecord>, ItemStoreError>> + Send;

    /// Writes `record` if the stored one is still at `expected` (`None`: there is none yet), with
    /// its version one higher; `false` when another write came first.
    fn put_sync_record(
        &self,
        connection: &str,
        record: &SyncRecord,
        expected: Option<u64>,
    ) -> impl Future<Output = Result<bool, ItemStoreError>> + Send;

    /// The kept items among `ids` (any order).
    fn items(
        &self,
        connection: &str,
        ids: &[String],
    ) -> impl Future<Output = Result<Vec<StoredItem>, ItemStoreError>> + Send;

    /// Writes each item over the one of its id.
    fn put_items(
        &self,
        connection: &str,
        items: &[StoredItem],
    ) -> impl Future<Output = Result<(), ItemStoreError>> + Send;

    /// Up to `limit` items after `after` (synced_at, id) in feed order, recorded before `before`.
    fn feed(
        &self,
        connection: &str,
        after: Option<(i64, String)>,
        before: Option<i64>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<StoredItem>, ItemStoreError>> + Send;

    /// Up to `limit` items by id after `after`.
    fn by_id(
        &self,
        connection: &str,
        after: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<StoredItem>, ItemStoreError>> + Send;

    fn delete_items(
        &self,
        connection: &str,
        ids: &[String],
    ) -> impl Future<Output = Result<(), ItemStoreError>> + Send;

    fn delete_sync_record(&self, connection: &str)
        -> impl Future<Output = Result<(), ItemStoreError>> + Send;

    /// Deletes the connection's sync record and up to `limit` of its items: `true` once none is
    /// left.
    fn forget(
        &self,
        connection: &str,
        limit: usize,
    ) -> impl Future<Output = Result<bool, ItemStoreError>> + Send {
        async move {
            // The record first: a step still running then commits nothing, and sends no next.
            self.delete_sync_record(connection).await?;
            let page = self.by_id(connection, None, limit).await?;
            let ids: Vec<String> = page.into_iter().map(|item| item.id).collect();
            self.delete_items(connection, &ids).await?;
            Ok(ids.len() < limit)
        }
    }
}
