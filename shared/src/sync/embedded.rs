//! The embedded items backend: a redb file beside the connections', for `local-api` and tests.
//! Items are JSON under (connection, id), with a feed index of (connection, synced_at, id).

use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::record::SyncRecord;
use super::store::{ItemStore, ItemStoreError, StoredItem};

const SYNCS: TableDefinition<&str, &[u8]> = TableDefinition::new("syncs");
const ITEMS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("items");
const FEED: TableDefinition<(&str, i64, &str), ()> = TableDefinition::new("items_feed");

#[derive(Clone)]
pub struct EmbeddedItems {
    db: Arc<Database>,
}

fn failed(error: impl Into<redb::Error>) -> ItemStoreError {
    ItemStoreError::Embedded(error.into().to_string())
}

fn decode<T: serde::de::DeserializeOwned>(json: &[u8]) -> Result<T, ItemStoreError> {
    serde_json::from_slice(json).map_err(|e| ItemStoreError::Corrupt(e.to_string()))
}

fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, ItemStoreError> {
    serde_json::to_vec(value).map_err(|e| ItemStoreError::Corrupt(e.to_string()))
}

impl EmbeddedItems {
    /// Opens the file, creating it if needed. One process at a time: redb locks the file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ItemStoreError> {
        let db = Database::create(path).map_err(failed)?;
        let txn = db.begin_write().map_err(failed)?;
        txn.open_table(SYNCS).map_err(failed)?;
        txn.open_table(ITEMS).map_err(failed)?;
        txn.open_table(FEED).map_err(failed)?;
        txn.commit().map_err(failed)?;
        Ok(EmbeddedItems { db: Arc::new(db) })
    }

    /// redb blocks on file I/O: keep it off the async workers.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Database) -> Result<T, ItemStoreError> + Send + 'static,
    ) -> Result<T, ItemStoreError> {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || work(&db))
            .await
            .map_err(|e| ItemStoreError::Embedded(e.to_string()))?
    }

    /// Reads a range of `ITEMS` of one connection, by id.
    fn read_items(
        db: &Database,
        connection: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredItem>, ItemStoreError> {
        let txn = db.begin_read().map_err(failed)?;
        let table = txn.open_table(ITEMS).map_err(failed)?;
        let mut found = Vec::new();
        for entry in table.range((connection, after.unwrap_or(""))..).map_err(failed)? {
            let (key, value) = entry.map_err(failed)?;
            let (of, id) = key.value();
            if of != connection || found.len() == limit {
                break;
            }
            if Some(id) != after {
                found.push(decode(value.value())?);
            }
        }
        Ok(found)
    }
}

impl ItemStore for EmbeddedItems {
    async fn sync_record(&self, connection: &str) -> Result<Option<SyncRecord>, ItemStoreError> {
        let connection = connection.to_owned();
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(failed)?;
            let table = txn.open_table(SYNCS).map_err(failed)?;
            let value = table.get(connection.as_str()).map_err(failed)?;
            value.map(|value| decode(value.value())).transpose()
        })
        .await
    }

    async fn put_sync_record(
        &self,
        connection: &str,
        record: &SyncRecord,
        expected: Option<u64>,
    ) -> Result<bool, ItemStoreError> {
        let (connection, mut record) = (connection.to_owned(), record.clone());
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(failed)?;
            {
                let mut table = txn.open_table(SYNCS).map_err(failed)?;
                let stored: Option<SyncRecord> = table
                    .get(connection.as_str())
                    .map_err(failed)?
                    .map(|value| decode(value.value()))
                    .transpose()?;
                if stored.map(|stored| stored.version) != expected {
                    return Ok(false);
                }
                record.version = expected.map_or(1, |version| version + 1);
                table
                    .insert(connection.as_str(), encode(&record)?.as_slice())
                    .map_err(failed)?;
            }
            txn.commit().map_err(failed)?;
            Ok(true)
        })
        .await
    }

    async fn items(&self, connection: &str, ids: &[String]) -> Result<Vec<StoredItem>, ItemStoreError> {
        let (connection, ids) = (connection.to_owned(), ids.to_vec());
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(failed)?;
            let table = txn.open_table(ITEMS).map_err(failed)?;
            let mut found = Vec::new();
            for id in &ids {
                if let Some(value) = table.get((connection.as_str(), id.as_str())).map_err(failed)? {
                    found.push(decode(value.value())?);
                }
            }
            Ok(found)
        })
        .await
    }

    async fn put_items(&self, connection: &str, items: &[StoredItem]) -> Result<(), ItemStoreError> {
        let (connection, items) = (connection.to_owned(), items.to_vec());
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(failed)?;
            {
                let mut table = txn.open_table(ITEMS).map_err(failed)?;
                let mut feed = txn.open_table(FEED).map_err(failed)?;
                for item in &items {
                    let key = (connection.as_str(), item.id.as_str());
                    let old: Option<StoredItem> = table
                        .get(key)
                        .map_err(failed)?
                        .map(|value| decode(value.value()))
                        .transpose()?;
                    if let Some(old) = old {
                        feed.remove((connection.as_str(), old.synced_at, old.id.as_str()))
                            .map_err(failed)?;
                    }
                    table.insert(key, encode(item)?.as_slice()).map_err(failed)?;
                    feed.insert((connection.as_str(), item.synced_at, item.id.as_str()), ())
                        .map_err(failed)?;
                }
            }
            txn.commit().map_err(failed)
        })
        .await
    }

    async fn feed(
        &self,
        connection: &str,
        after: Option<(i64, String)>,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<StoredItem>, ItemStoreError> {
        let connection = connection.to_owned();
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(failed)?;
            let feed = txn.open_table(FEED).map_err(failed)?;
            let items = txn.open_table(ITEMS).map_err(failed)?;
            let (from_time, from_id) = after.clone().unwrap_or((i64::MIN, String::new()));
            let mut found = Vec::new();
            for entry in feed
                .range((connection.as_str(), from_time, from_id.as_str())..)
                .map_err(failed)?
            {
                let (key, _) = entry.map_err(failed)?;
                let (of, synced_at, id) = key.value();
                if of != connection
                    || before.is_some_and(|before| synced_at >= before)
                    || found.len() == limit
                {
                    break;
                }
                if after
                    .as_ref()
                    .is_some_and(|(time, after)| *time == synced_at && after == id)
                {
                    continue;
                }
                let value = items
                    .get((connection.as_str(), id))
                    .map_err(failed)?
                    .ok_or_else(|| ItemStoreError::Corrupt("the feed names a missing item".into()))?;
                found.push(decode(value.value())?);
            }
            Ok(found)
        })
        .await
    }

    async fn by_id(
        &self,
        connection: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredItem>, ItemStoreError> {
        let (connection, after) = (connection.to_owned(), after.map(str::to_owned));
        self.blocking(move |db| EmbeddedItems::read_items(db, &connection, after.as_deref(), limit))
            .await
    }

    async fn delete_items(&self, connection: &str, ids: &[String]) -> Result<(), ItemStoreError> {
        let (connection, ids) = (connection.to_owned(), ids.to_vec());
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(failed)?;
            {
                let mut table = txn.open_table(ITEMS).map_err(failed)?;
                let mut feed = txn.open_table(FEED).map_err(failed)?;
                for id in &ids {
                    let old: Option<StoredItem> = table
                        .remove((connection.as_str(), id.as_str()))
                        .map_err(failed)?
                        .map(|value| decode(value.value()))
                        .transpose()?;
                    if let Some(old) = old {
                        feed.remove((connection.as_str(), old.synced_at, id.as_str()))
                            .map_err(failed)?;
                    }
                }
            }
            txn.commit().map_err(failed)
        })
        .await
    }

    async fn delete_sync_record(&self, connection: &str) -> Result<(), ItemStoreError> {
        let connection = connection.to_owned();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(failed)?;
            txn.open_table(SYNCS)
                .map_err(failed)?
                .remove(connection.as_str())
                .map_err(failed)?;
            txn.commit().map_err(failed)
        })
        .await
    }
}
