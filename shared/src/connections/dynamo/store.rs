//! The operations of the DynamoDB backend: conditional updates of one item, and reads of many
//! (index queries, eventually consistent, and the scan for tokens under old keys).

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::expr::Expr;
use super::item::{account_value, due_connection, n, record, s, Attributes};
use super::update::{failed, Written};
use super::{DynamoStore, BY_ORG_INDEX, DUE_INDEX};
use crate::connections::record::seal;
use crate::connections::{
    org_sort, provider_prefix, Account, Connection, ConnectionId, ConnectionStore, ConnectionStoreError,
    DueConnection, LeaseOutcome, Reauthorization, Status, DUE_SHARDS,
};
use crate::tokens::TokenSet;

impl ConnectionStore for DynamoStore {
    async fn save_connected(
        &self,
        id: &ConnectionId,
        tokens: &TokenSet,
        account: Option<&Account>,
        now: i64,
    ) -> Result<Connection, ConnectionStoreError> {
        let key = id.key();
        let mut update = Expr::default();
        update.set("provider", s(&id.provider));
        update.set("org_id", s(&id.org_id));
        update.set("user_id", s(&id.user_id));
        update.set("org_sort", s(&id.org_sort()));
        update.set("status", s(Status::Active.as_str()));
        update.set("tokens", s(&seal(&self.sealer, id, tokens)));
        update.set(
            "scopes",
            AttributeValue::L(tokens.scopes.iter().map(|scope| s(scope)).collect()),
        );
        match account {
            Some(account) => update.set("account", account_value(account)),
            None => update.remove("account"),
        }
        update.set_if_absent("created_at", n(now));
        update.set("updated_at", n(now));
        update.increment("consents");
        update.increment("version");
        update.expiry(&key, tokens.expires_at);
        update.clear_lease();
        update.clear_troubles();
        update.remove("revocation");
        match self.update(&key, update, ReturnValue::AllNew).await? {
            Written::Done(item) => self.connection(item),
            Written::Refused(_) => Err(ConnectionStoreError::Dynamo("unconditional write refused".into())),
        }
    }

    async fn get(&self, id: &ConnectionId) -> Result<Option<Connection>, ConnectionStoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(&id.key()))
            .consistent_read(true)
            .send()
            .await
            .map_err(failed)?;
        output.item.map(|item| self.connection(item)).transpose()
    }

    async fn acquire_lease(
        &self,
        id: &ConnectionId,
        expected_version: u64,
        owner: &str,
        lease_ms: i64,
        now_ms: i64,
    ) -> Result<LeaseOutcome, ConnectionStoreError> {
        let mut update = Expr::default();
        update.set("lease_owner", s(owner));
        update.set("lease_expires_at_ms", n(now_ms.saturating_add(lease_ms)));
        update.at_version(expected_version);
        update.while_active();
        let (owner_name, until, now) = (
            update.name("lease_owner"),
            update.name("lease_expires_at_ms"),
            update.value(n(now_ms)),
        );
        update.condition(format!(
            "(attribute_not_exists({owner_name}) OR {until} <= {now})"
        ));
        Ok(match self.update(&id.key(), update, ReturnValue::AllOld).await? {
            Written::Done(old) => record(old)?.acquired_from(),
            Written::Refused(None) => LeaseOutcome::Gone,
            Written::Refused(Some(old)) => {
                let old = record(old)?;
                if old.version != expected_version || old.status != Status::Active {
                    LeaseOutcome::Changed
                } else {
                    LeaseOutcome::Busy {
                        until_ms: old.lease_expires_at_ms.unwrap_or(now_ms),
                    }
                }
            }
        })
    }

    async fn commit_refresh(
        &self,
        id: &ConnectionId,
        read_version: u64,
        tokens: &TokenSet,
        now: i64,
    ) -> Result<bool, ConnectionStoreError> {
        let key = id.key();
        let mut update = Expr::default();
        update.set("tokens", s(&seal(&self.sealer, id, tokens)));
        // A commit after a mark of the same version revives the connection: its tokens are newer
        // than the refused ones.
        update.set("status", s(Status::Active.as_str()));
        update.expiry(&key, tokens.expires_at);
        update.set("last_refreshed_at", n(now));
        update.set("updated_at", n(now));
        update.increment("version");
        update.at_version(read_version);
        update.clear_lease();
        update.clear_troubles();
        self.written(&key, update).await
    }

    async fn mark_needs_reauthorization(
        &self,
        id: &ConnectionId,
        version: u64,
        reason: Reauthorization,
        now: i64,
    ) -> Result<bool, ConnectionStoreError> {
        let mut update = Expr::default();
        update.set("status", s(Status::NeedsReauthorization.as_str()));
        update.set("reauthorization", s(reason.as_str()));
        update.set("updated_at", n(now));
        update.remove("due_shard");
        update.at_version(version);
        update.while_active();
        update.clear_lease();
        self.written(&id.key(), update).await
    }

    async fn release_lease(
        &self,
        id: &ConnectionId,
        owner: &str,
        failed: bool,
    ) -> Result<bool, ConnectionStoreError> {
        let mut update = Expr::default();
        let (name, value) = (update.name("lease_owner"), update.value(s(owner)));
        update.condition(format!("{name} = {value}"));
        update.clear_lease();
        if failed {
            update.increment("refresh_failures");
        }
        self.written(&id.key(), update).await
    }

    async fn reseal(
        &self,
        id: &ConnectionId,
        version: u64,
        tokens: &TokenSet,
    ) -> Result<bool, ConnectionStoreError> {
        let key = id.key();
        let mut update = Expr::default();
        update.set("tokens", s(&seal(&self.sealer, id, tokens)));
        update.at_version(version);
        self.written(&key, update).await
    }

    async fn delete(
        &self,
        id: &ConnectionId,
        version: u64,
        revocation: &str,
    ) -> Result<bool, ConnectionStoreError> {
        self.delete_noting(id, version, revocation).await
    }

    fn has_old_keys(&self) -> bool {
        self.sealer.has_old_keys()
    }

    /// Up to `want` connections after `start` whose tokens are not sealed under the current key.
    async fn scan_page(
        &self,
        want: usize,
        start: Option<ConnectionId>,
        old_keys_only: bool,
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
                .set_filter_expression(old_keys_only.then(|| condition.clone()))
                .set_expression_attribute_names(old_keys_only.then(|| filter.names.clone()))
                .set_expression_attribute_values(old_keys_only.then(|| filter.values.clone()))
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
    async fn org_page(
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
    async fn due_page(
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
}
