//! Reads of more than one connection: an org's listing and the due connections (index
//! queries, eventually consistent), and the scan for tokens under old keys.

use aws_sdk_dynamodb::types::AttributeValue;

use super::expr::Expr;
use super::item::{due_connection, n, record, s, Attributes};
use super::{failed, DynamoStore, BY_ORG_INDEX, DUE_INDEX};
use crate::connections::{
    org_sort, provider_prefix, Connection, ConnectionId, ConnectionStoreError, DueConnection, DUE_SHARDS,
};

impl DynamoStore {
    /// Up to `want` connections after `start` whose tokens are not sealed under the current key.
    pub(super) async fn scan_old_keys(
        &self,
        want: usize,
        start: Option<ConnectionId>,
    ) -> Result<Vec<Connection>, ConnectionStoreError> {
        let mut filter = Expr::default();
        let (tokens, prefix) = (
            filter.name("tokens"),
            filter.value(s(&self.sealer.current_prefix())),
        );
        let condition = format!("NOT begins_with({tokens}, {prefix})");
        let mut start = start.map(|id| Attributes::from([("pk".to_owned(), s(&id.key()))]));
        let mut found = Vec::new();
        loop {
            let output = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression(&condition)
                .set_expression_attribute_names(Some(filter.names.clone()))
                .set_expression_attribute_values(Some(filter.values.clone()))
                .set_exclusive_start_key(start)
                .consistent_read(true)
                .send()
                .await
                .map_err(failed)?;
            found.extend(self.readable(output.items.unwrap_or_default()));
            start = output.last_evaluated_key.filter(|key| !key.is_empty());
            if found.len() >= want || start.is_none() {
                found.truncate(want);
                return Ok(found);
            }
        }
    }

    /// Up to `want` connections after `start` (provider, user id).
    pub(super) async fn query_org(
        &self,
        org_id: &str,
        user_id: Option<&str>,
        provider: Option<&str>,
        want: usize,
        start: Option<(String, String)>,
    ) -> Result<Vec<Connection>, ConnectionStoreError> {
        let mut query = Expr::default();
        let org_name = query.name("org_id");
        let org_value = query.value(s(org_id));
        let mut key_condition = format!("{org_name} = {org_value}");
        if let Some(provider) = provider {
            let sort = query.name("org_sort");
            let prefix = query.value(s(&provider_prefix(provider)));
            key_condition.push_str(&format!(" AND begins_with({sort}, {prefix})"));
        }
        if let Some(user_id) = user_id {
            let name = query.name("user_id");
            let value = query.value(s(user_id));
            query.condition(format!("{name} = {value}"));
        }
        let start = start
            .map(|(provider, user_id)| {
                let id = ConnectionId::new(&provider, org_id, &user_id)
                    .map_err(|_| ConnectionStoreError::InvalidCursor)?;
                Ok::<_, ConnectionStoreError>(Attributes::from([
                    ("pk".to_owned(), s(&id.key())),
                    ("org_id".to_owned(), s(org_id)),
                    ("org_sort".to_owned(), s(&org_sort(&provider, &user_id))),
                ]))
            })
            .transpose()?;
        let items = self
            .query(BY_ORG_INDEX, key_condition, query, start, want)
            .await?;
        Ok(self.readable(items))
    }

    /// Up to `want` due connections after `start` (shard, expiry, id), shard by shard.
    pub(super) async fn query_due(
        &self,
        before: i64,
        want: usize,
        start: Option<(u8, i64, ConnectionId)>,
    ) -> Result<Vec<DueConnection>, ConnectionStoreError> {
        let first = start.as_ref().map_or(0, |(shard, ..)| *shard);
        let mut start = start.map(|(shard, expires_at, id)| {
            Attributes::from([
                ("pk".to_owned(), s(&id.key())),
                ("due_shard".to_owned(), s(&shard.to_string())),
                ("expires_at".to_owned(), n(expires_at)),
            ])
        });
        let mut found = Vec::new();
        for shard in first..DUE_SHARDS {
            let mut query = Expr::default();
            let (shard_name, expires_at) = (query.name("due_shard"), query.name("expires_at"));
            let (shard_value, before) = (query.value(s(&shard.to_string())), query.value(n(before)));
            let key_condition = format!("{shard_name} = {shard_value} AND {expires_at} < {before}");
            let items = self
                .query(DUE_INDEX, key_condition, query, start.take(), want - found.len())
                .await?;
            found.extend(items.into_iter().filter_map(due_connection));
            if found.len() >= want {
                break;
            }
        }
        Ok(found)
    }

    /// Queries page after page until `want` items passed the filter or the index ends.
    pub(super) async fn query(
        &self,
        index: &str,
        key_condition: String,
        expr: Expr,
        mut start: Option<Attributes>,
        want: usize,
    ) -> Result<Vec<Attributes>, ConnectionStoreError> {
        let mut found = Vec::new();
        loop {
            let missing = want - found.len();
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index)
                .key_condition_expression(&key_condition)
                .set_filter_expression((!expr.conditions.is_empty()).then(|| expr.conditions.join(" AND ")))
                .set_expression_attribute_names(Some(expr.names.clone()))
                .set_expression_attribute_values(Some(expr.values.clone()))
                .set_exclusive_start_key(start)
                .limit(i32::try_from(missing).unwrap_or(i32::MAX))
                .send()
                .await
                .map_err(failed)?;
            found.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key.filter(|key| !key.is_empty());
            if found.len() >= want || start.is_none() {
                found.truncate(want);
                return Ok(found);
            }
        }
    }

    /// The connections among index or scan results; an item that does not read as one is logged
    /// and left out rather than failing the whole page.
    pub(super) fn readable(&self, items: Vec<Attributes>) -> Vec<Connection> {
        items
            .into_iter()
            .filter_map(|item| {
                self.connection(item)
                    .inspect_err(|error| tracing::error!(%error, "skipped an unreadable connection item"))
                    .ok()
            })
            .collect()
    }

    pub(super) fn connection(&self, item: Attributes) -> Result<Connection, ConnectionStoreError> {
        let key = match item.get("pk") {
            Some(AttributeValue::S(key)) => key.clone(),
            _ => return Err(ConnectionStoreError::Corrupt("pk is missing".into())),
        };
        record(item)?.open(&key, &self.sealer)
    }
}
