//! The DynamoDB backend: one item per connection under `pk`, two global secondary indexes.
//!
//! `by_org` (`org_id`, `org_sort`) lists an org's connections in order; `due` (`due_shard`,
//! `expires_at`) is sparse: `due_shard` is set only on active connections that expire, so the
//! refresher reads a range of that index instead of scanning the table. `due_shard` is one of 16
//! values (a hash of the key), so no single index partition takes every write. Neither index
//! projects the sealed tokens (`due` projects only keys), so a lease, a commit or a release does
//! not copy them. Index reads are eventually consistent; `get` and every conditional write are not.

use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_dynamodb::Client;

use super::{Account, Connection, ConnectionId, ConnectionStoreError, LeaseOutcome, Status};
use crate::crypto::Sealer;

mod config;
mod expr;
mod item;
mod reads;

pub use config::config_builder;
use expr::Expr;
use item::{account_value, n, record, s, Attributes};

pub const BY_ORG_INDEX: &str = "by_org";
pub const DUE_INDEX: &str = "due";

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    pub(super) sealer: Sealer,
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

    pub(super) async fn save_connected(
        &self,
        id: &ConnectionId,
        tokens: &[u8],
        expires_at: Option<i64>,
        scopes: &[String],
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
        update.set("tokens", s(&self.sealer.seal(&key, tokens)));
        update.set(
            "scopes",
            AttributeValue::L(scopes.iter().map(|scope| s(scope)).collect()),
        );
        match account {
            Some(account) => update.set("account", account_value(account)),
            None => update.remove("account"),
        }
        update.set_if_absent("created_at", n(now));
        update.set("updated_at", n(now));
        update.increment("version");
        update.expiry(&key, expires_at);
        update.clear_lease();
        match self.update(&key, update, ReturnValue::AllNew).await? {
            Written::Done(item) => self.connection(item),
            Written::Refused(_) => Err(ConnectionStoreError::Dynamo("unconditional write refused".into())),
        }
    }

    pub(super) async fn get(&self, id: &ConnectionId) -> Result<Option<Connection>, ConnectionStoreError> {
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

    pub(super) async fn acquire_lease(
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

    pub(super) async fn commit_refresh(
        &self,
        id: &ConnectionId,
        read_version: u64,
        tokens: &[u8],
        expires_at: Option<i64>,
        now: i64,
    ) -> Result<bool, ConnectionStoreError> {
        let key = id.key();
        let mut update = Expr::default();
        update.set("tokens", s(&self.sealer.seal(&key, tokens)));
        // A commit after a mark of the same version revives the connection: its tokens are newer
        // than the refused ones.
        update.set("status", s(Status::Active.as_str()));
        update.expiry(&key, expires_at);
        update.set("last_refreshed_at", n(now));
        update.set("updated_at", n(now));
        update.increment("version");
        update.at_version(read_version);
        update.clear_lease();
        self.written(&key, update).await
    }

    pub(super) async fn mark_needs_reauthorization(
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

    pub(super) async fn release_lease(
        &self,
        id: &ConnectionId,
        owner: &str,
    ) -> Result<bool, ConnectionStoreError> {
        let mut update = Expr::default();
        let (name, value) = (update.name("lease_owner"), update.value(s(owner)));
        update.condition(format!("{name} = {value}"));
        update.clear_lease();
        self.written(&id.key(), update).await
    }

    pub(super) async fn reseal(
        &self,
        id: &ConnectionId,
        version: u64,
        tokens: &[u8],
    ) -> Result<bool, ConnectionStoreError> {
        let key = id.key();
        let mut update = Expr::default();
        update.set("tokens", s(&self.sealer.seal(&key, tokens)));
        update.at_version(version);
        self.written(&key, update).await
    }

    pub(super) async fn delete(&self, id: &ConnectionId, version: u64) -> Result<bool, ConnectionStoreError> {
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

    /// Whether a conditional update was applied.
    async fn written(&self, key: &str, expr: Expr) -> Result<bool, ConnectionStoreError> {
        Ok(matches!(
            self.update(key, expr, ReturnValue::None).await?,
            Written::Done(_)
        ))
    }

    async fn update(
        &self,
        key: &str,
        expr: Expr,
        returning: ReturnValue,
    ) -> Result<Written, ConnectionStoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(key))
            .update_expression(expr.update_expression())
            .set_condition_expression((!expr.conditions.is_empty()).then(|| expr.conditions.join(" AND ")))
            .set_expression_attribute_names(Some(expr.names))
            .set_expression_attribute_values((!expr.values.is_empty()).then_some(expr.values))
            .return_values(returning)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => Ok(Written::Done(output.attributes.unwrap_or_default())),
            Err(SdkError::ServiceError(error)) => match error.into_err() {
                UpdateItemError::ConditionalCheckFailedException(failed) => {
                    Ok(Written::Refused(failed.item.filter(|item| !item.is_empty())))
                }
                other => Err(ConnectionStoreError::Dynamo(
                    DisplayErrorContext(other).to_string(),
                )),
            },
            Err(error) => Err(failed(error)),
        }
    }
}

enum Written {
    Done(Attributes),
    /// The condition failed; the item as it was, if it existed.
    Refused(Option<Attributes>),
}

fn failed<E, R>(error: SdkError<E, R>) -> ConnectionStoreError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    ConnectionStoreError::Dynamo(DisplayErrorContext(error).to_string())
}
