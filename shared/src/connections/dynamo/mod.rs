//! The DynamoDB backend: one item per connection under `pk`, two global secondary indexes.
//!
//! `by_org` (`org_id`, `org_sort`) lists an org's connections in order; `due` (`due_shard`,
//! `expires_at`) is sparse: `due_shard` is set only on active connections that expire, so the
//! refresher reads a range of that index instead of scanning the table. `due_shard` is one of 16
//! values (a hash of the key), so no single index partition takes every write. Neither index
//! projects the sealed tokens (`due` projects only keys), so a lease, a commit or a release does
//! not copy them. Index reads are eventually consistent; `get` and every conditional write are not.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use aws_sdk_dynamodb::Client;

use super::record::seal;
use super::{
    Account, Connection, ConnectionId, ConnectionStore, ConnectionStoreError, DueConnection, LeaseOutcome,
    Status,
};
use crate::crypto::Sealer;
use crate::tokens::TokenSet;

mod config;
mod expr;
mod item;
mod reads;
mod update;

pub use config::config_builder;
use expr::Expr;
use item::{account_value, n, record, s};
use update::{failed, Written};

pub const BY_ORG_INDEX: &str = "by_org";
pub const DUE_INDEX: &str = "due";

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    sealer: Sealer,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>, sealer: Sealer) -> Self {
        DynamoStore {
            client,
            table: table.into(),
            sealer,
        }
    }

    /// A client from [`config_builder`] over `http`; one per process.
    pub fn from_env(table: impl Into<String>, sealer: Sealer, http: reqwest::Client) -> Self {
        DynamoStore::new(Client::from_conf(config_builder(http).build()), table, sealer)
    }
}

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
        update.increment("version");
        update.expiry(&key, tokens.expires_at);
        update.clear_lease();
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
        self.written(&key, update).await
    }

    async fn mark_needs_reauthorization(
        &self,
        id: &ConnectionId,
        version: u64,
        now: i64,
    ) -> Result<bool, ConnectionStoreError> {
        let mut update = Expr::default();
        update.set("status", s(Status::NeedsReauthorization.as_str()));
        update.set("updated_at", n(now));
        update.remove("due_shard");
        update.at_version(version);
        update.while_active();
        update.clear_lease();
        self.written(&id.key(), update).await
    }

    async fn release_lease(&self, id: &ConnectionId, owner: &str) -> Result<bool, ConnectionStoreError> {
        let mut update = Expr::default();
        let (name, value) = (update.name("lease_owner"), update.value(s(owner)));
        update.condition(format!("{name} = {value}"));
        update.clear_lease();
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

    async fn delete(&self, id: &ConnectionId, version: u64) -> Result<bool, ConnectionStoreError> {
        let mut condition = Expr::default();
        condition.at_version(version);
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(&id.key()))
            .condition_expression(condition.conditions.join(" AND "))
            .set_expression_attribute_names(Some(condition.names))
            .set_expression_attribute_values(Some(condition.values))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(error)) if error.err().is_conditional_check_failed_exception() => {
                Ok(false)
            }
            Err(error) => Err(failed(error)),
        }
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
        self.query_org(org_id, user_id, provider, want, start).await
    }

    async fn due_page(
        &self,
        before: i64,
        want: usize,
        start: Option<(u8, i64, ConnectionId)>,
    ) -> Result<Vec<DueConnection>, ConnectionStoreError> {
        self.query_due(before, want, start).await
    }

    async fn old_keys_page(
        &self,
        want: usize,
        start: Option<ConnectionId>,
    ) -> Result<Vec<Connection>, ConnectionStoreError> {
        self.scan_old_keys(want, start).await
    }
}
