//! The DynamoDB items backend. One partition per connection (`pk`, its key): the sync record
//! under `sk = "sync"`, each item under `sk = "item#<id>"`, and the local secondary index `feed`
//! on `feed = "<synced_at, 16 digits>#<id>"` (items only), which orders the change feed and,
//! being local, reads strongly consistent. Tombstones carry `expires_at`, the table's TTL.

mod store;

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, WriteRequest};
use aws_sdk_dynamodb::Client;

use super::store::{ItemStoreError, StoredItem};

pub const FEED_INDEX: &str = "feed";
pub(super) const SYNC_KEY: &str = "sync";
/// What BatchGetItem and BatchWriteItem take at most.
pub(super) const BATCH_GET: usize = 100;
const BATCH_WRITE: usize = 25;
/// Tries of a batch whose requests DynamoDB left unprocessed (throttled).
pub(super) const BATCH_TRIES: u32 = 8;

pub(super) type Attributes = HashMap<String, AttributeValue>;

#[derive(Clone)]
pub struct DynamoItems {
    client: Client,
    table: String,
    tombstone_days: u32,
}

pub(super) fn failed<E: std::error::Error + 'static, R: std::fmt::Debug>(
    error: SdkError<E, R>,
) -> ItemStoreError {
    ItemStoreError::Dynamo(DisplayErrorContext(error).to_string())
}

pub(super) fn s(text: impl Into<String>) -> AttributeValue {
    AttributeValue::S(text.into())
}

pub(super) fn item_key(id: &str) -> String {
    format!("item#{id}")
}

pub(super) fn feed_key(synced_at: i64, id: &str) -> String {
    format!("{synced_at:016}#{id}")
}

pub(super) fn key(connection: &str, sort: String) -> Attributes {
    HashMap::from([("pk".to_owned(), s(connection)), ("sk".to_owned(), s(sort))])
}

pub(super) fn data<T: serde::de::DeserializeOwned>(attributes: &Attributes) -> Result<T, ItemStoreError> {
    match attributes.get("data") {
        Some(AttributeValue::S(json)) => {
            serde_json::from_str(json).map_err(|e| ItemStoreError::Corrupt(e.to_string()))
        }
        _ => Err(ItemStoreError::Corrupt("an item has no data".into())),
    }
}

pub(super) fn json<T: serde::Serialize>(value: &T) -> Result<AttributeValue, ItemStoreError> {
    serde_json::to_string(value)
        .map(s)
        .map_err(|e| ItemStoreError::Corrupt(e.to_string()))
}

impl DynamoItems {
    pub fn new(client: Client, table: impl Into<String>, tombstone_days: u32) -> Self {
        DynamoItems {
            client,
            table: table.into(),
            tombstone_days,
        }
    }

    pub fn from_env(table: impl Into<String>, tombstone_days: u32, http: reqwest::Client) -> Self {
        let config = crate::connections::dynamo::config_builder(http).build();
        DynamoItems::new(Client::from_conf(config), table, tombstone_days)
    }

    pub(super) fn attributes(
        &self,
        connection: &str,
        item: &StoredItem,
    ) -> Result<Attributes, ItemStoreError> {
        let mut attributes = key(connection, item_key(&item.id));
        attributes.insert("feed".into(), s(feed_key(item.synced_at, &item.id)));
        attributes.insert("data".into(), json(item)?);
        if item.deleted {
            let expires = item.synced_at / 1000 + i64::from(self.tombstone_days) * 86_400;
            attributes.insert("expires_at".into(), AttributeValue::N(expires.to_string()));
        }
        Ok(attributes)
    }

    /// Writes `requests` 25 at a time, again and again for what DynamoDB leaves unprocessed.
    pub(super) async fn write_batches(&self, requests: Vec<WriteRequest>) -> Result<(), ItemStoreError> {
        for chunk in requests.chunks(BATCH_WRITE) {
            let mut pending = HashMap::from([(self.table.clone(), chunk.to_vec())]);
            for attempt in 0.. {
                let output = self
                    .client
                    .batch_write_item()
                    .set_request_items(Some(pending))
                    .send()
                    .await
                    .map_err(failed)?;
                pending = output.unprocessed_items.unwrap_or_default();
                pending.retain(|_, requests| !requests.is_empty());
                if pending.is_empty() {
                    break;
                }
                if attempt + 1 >= BATCH_TRIES {
                    return Err(ItemStoreError::Dynamo(
                        "writes stayed unprocessed (throttled)".into(),
                    ));
                }
                tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
            }
        }
        Ok(())
    }

    /// Items of a query's answer.
    pub(super) fn stored(items: Option<Vec<Attributes>>) -> Result<Vec<StoredItem>, ItemStoreError> {
        items.unwrap_or_default().iter().map(data).collect()
    }
}
