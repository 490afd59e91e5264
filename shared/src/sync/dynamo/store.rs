//! The DynamoDB items backend's operations.

use std::time::Duration;

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, KeysAndAttributes, PutRequest, WriteRequest};

use super::{
    data, failed, feed_key, item_key, json, key, s, Attributes, DynamoItems, BATCH_GET, BATCH_TRIES,
    FEED_INDEX, SYNC_KEY,
};
use crate::sync::record::SyncRecord;
use crate::sync::store::{ItemStore, ItemStoreError, StoredItem};

impl ItemStore for DynamoItems {
    async fn sync_record(&self, connection: &str) -> Result<Option<SyncRecord>, ItemStoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(connection, SYNC_KEY.into())))
            .consistent_read(true)
            .send()
            .await
            .map_err(failed)?;
        output.item.as_ref().map(data).transpose()
    }

    async fn put_sync_record(
        &self,
        connection: &str,
        record: &SyncRecord,
        expected: Option<u64>,
    ) -> Result<bool, ItemStoreError> {
        let version = expected.map_or(1, |version| version + 1);
        let record = SyncRecord {
            version,
            ..record.clone()
        };
        let mut item = key(connection, SYNC_KEY.into());
        item.insert("data".into(), json(&record)?);
        item.insert("version".into(), AttributeValue::N(version.to_string()));
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        put = match expected {
            None => put
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", "pk"),
            Some(expected) => put
                .condition_expression("#version = :expected")
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(":expected", AttributeValue::N(expected.to_string())),
        };
        match put.send().await {
            Ok(_) => Ok(true),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|error| error.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(error) => Err(failed(error)),
        }
    }

    async fn items(&self, connection: &str, ids: &[String]) -> Result<Vec<StoredItem>, ItemStoreError> {
        let mut found = Vec::new();
        for chunk in ids.chunks(BATCH_GET) {
            let keys: Vec<Attributes> = chunk.iter().map(|id| key(connection, item_key(id))).collect();
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| ItemStoreError::Dynamo(e.to_string()))?,
            );
            let mut attempt = 0;
            while let Some(keys) = pending.take() {
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, keys)
                    .send()
                    .await
                    .map_err(failed)?;
                let mut responses = output.responses.unwrap_or_default();
                found.extend(Self::stored(responses.remove(&self.table))?);
                pending = output
                    .unprocessed_keys
                    .and_then(|mut unprocessed| unprocessed.remove(&self.table))
                    .filter(|keys| !keys.keys.is_empty());
                attempt += 1;
                if pending.is_some() {
                    if attempt >= BATCH_TRIES {
                        return Err(ItemStoreError::Dynamo(
                            "reads stayed unprocessed (throttled)".into(),
                        ));
                    }
                    tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
                }
            }
        }
        Ok(found)
    }

    async fn put_items(&self, connection: &str, items: &[StoredItem]) -> Result<(), ItemStoreError> {
        let requests = items
            .iter()
            .map(|item| {
                let put = PutRequest::builder()
                    .set_item(Some(self.attributes(connection, item)?))
                    .build()
                    .map_err(|e| ItemStoreError::Dynamo(e.to_string()))?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<Vec<_>, ItemStoreError>>()?;
        self.write_batches(requests).await
    }

    async fn feed(
        &self,
        connection: &str,
        after: Option<(i64, String)>,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<StoredItem>, ItemStoreError> {
        // Every feed key starts with a digit, so "0" sorts below them all.
        let after = after.map_or_else(|| "0".to_owned(), |(time, id)| feed_key(time, &id));
        let query = self
            .client
            .query()
            .index_name(FEED_INDEX)
            .key_condition_expression("#pk = :pk AND #feed > :after")
            .expression_attribute_names("#feed", "feed")
            .expression_attribute_values(":after", s(after));
        let mut found = self.query(query, connection, None, limit).await?;
        // The feed ends where the step in flight began.
        if let Some(at) = found
            .iter()
            .position(|item| before.is_some_and(|before| item.synced_at >= before))
        {
            found.truncate(at);
        }
        Ok(found)
    }

    async fn by_id(
        &self,
        connection: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredItem>, ItemStoreError> {
        let query = self
            .client
            .query()
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :items)")
            .expression_attribute_names("#sk", "sk")
            .expression_attribute_values(":items", s("item#"));
        let start = after.map(|id| key(connection, item_key(id)));
        self.query(query, connection, start, limit).await
    }

    async fn delete_items(&self, connection: &str, ids: &[String]) -> Result<(), ItemStoreError> {
        let requests = ids
            .iter()
            .map(|id| {
                let delete = DeleteRequest::builder()
                    .set_key(Some(key(connection, item_key(id))))
                    .build()
                    .map_err(|e| ItemStoreError::Dynamo(e.to_string()))?;
                Ok(WriteRequest::builder().delete_request(delete).build())
            })
            .collect::<Result<Vec<_>, ItemStoreError>>()?;
        self.write_batches(requests).await
    }

    async fn delete_sync_record(&self, connection: &str) -> Result<(), ItemStoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(connection, SYNC_KEY.into())))
            .send()
            .await
            .map_err(failed)?;
        Ok(())
    }
}

impl DynamoItems {
    /// Up to `limit` items of `connection` that `query` (a key condition on `#pk = :pk`) finds,
    /// from `start`, strongly consistent, page after page.
    async fn query(
        &self,
        query: QueryFluentBuilder,
        connection: &str,
        mut start: Option<Attributes>,
        limit: usize,
    ) -> Result<Vec<StoredItem>, ItemStoreError> {
        let query = query
            .table_name(&self.table)
            .expression_attribute_names("#pk", "pk")
            .expression_attribute_values(":pk", s(connection))
            .consistent_read(true);
        let mut found = Vec::new();
        loop {
            let output = query
                .clone()
                .limit((limit - found.len()) as i32)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(failed)?;
            found.extend(Self::stored(output.items)?);
            start = output.last_evaluated_key.filter(|key| !key.is_empty());
            if found.len() >= limit || start.is_none() {
                return Ok(found);
            }
        }
    }
}
