//! The DynamoDB backend: one item per connection under `pk`, two global secondary indexes.
//!
//! `by_org` (`org_id`, `org_sort`) lists an org's connections in order; `due` (`due_shard`,
//! `expires_at`) is sparse: `due_shard` is set only on active connections that expire, so the
//! refresher reads a range of that index instead of scanning the table. `due_shard` is one of 16
//! values (a hash of the key), so no single index partition takes every write. Neither index
//! projects the sealed tokens (`due` projects only keys), so a lease, a commit or a release does
//! not copy them. Index reads are eventually consistent; `get` and every conditional write are not.

use std::time::Duration;

use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Builder, Credentials, Region};
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_dynamodb::Client;

use super::{
    org_sort, provider_prefix, Account, Connection, ConnectionId, ConnectionStoreError, DueConnection,
    LeaseOutcome, Status, DUE_SHARDS,
};
use crate::crypto::Sealer;

mod expr;
mod item;

use expr::Expr;
use item::{account_value, due_connection, n, record, s, Attributes};

pub const BY_ORG_INDEX: &str = "by_org";
pub const DUE_INDEX: &str = "due";

/// How long one DynamoDB request may take before the SDK retries it.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);

/// The DynamoDB client's configuration over the process's HTTP client, with short timeouts so
/// a request fails rather than hangs, and what Lambda puts in a function's environment: the
/// region (`AWS_REGION`), the role's credentials (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`) and, for an emulator, `AWS_ENDPOINT_URL_DYNAMODB`. Not aws-config's whole
/// provider chain (profiles, SSO, STS, instance metadata): a function has none of those, and
/// leaving them out keeps every binary that keeps connections well under 2.5 MB zipped.
pub fn config_builder(http: reqwest::Client) -> Builder {
    let var = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    let mut builder = Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .http_client(super::sdk_http::client(http, ATTEMPT_TIMEOUT))
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .operation_timeout(Duration::from_secs(8))
                .build(),
        );
    if let Some(region) = var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")) {
        builder = builder.region(Region::new(region));
    }
    if let (Some(key), Some(secret)) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
        let token = var("AWS_SESSION_TOKEN");
        builder = builder.credentials_provider(Credentials::new(key, secret, token, None, "environment"));
    }
    if let Some(url) = var("AWS_ENDPOINT_URL_DYNAMODB").or_else(|| var("AWS_ENDPOINT_URL")) {
        builder = builder.endpoint_url(url);
    }
    builder
}

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

    /// Up to `want` connections after `start` whose tokens are not sealed under the current key.
    pub(super) async fn under_old_keys(
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
    pub(super) async fn list(
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
    pub(super) async fn due(
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
    async fn query(
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

    /// The connections among index or scan results; an item that does not read as one is logged
    /// and left out rather than failing the whole page.
    fn readable(&self, items: Vec<Attributes>) -> Vec<Connection> {
        items
            .into_iter()
            .filter_map(|item| {
                self.connection(item)
                    .inspect_err(|error| tracing::error!(%error, "skipped an unreadable connection item"))
                    .ok()
            })
            .collect()
    }

    fn connection(&self, item: Attributes) -> Result<Connection, ConnectionStoreError> {
        let key = match item.get("pk") {
            Some(AttributeValue::S(key)) => key.clone(),
            _ => return Err(ConnectionStoreError::Corrupt("pk is missing".into())),
        };
        record(item)?.open(&key, &self.sealer)
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
