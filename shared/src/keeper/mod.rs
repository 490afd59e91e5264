//! Keeps connections alive: saves them after a consent, hands out tokens refreshed when due
//! (single-flight across processes, see [`crate::connections::refresh`]), revokes and forgets.

use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use crate::clock::{self, rfc3339};
use crate::connections::refresh::{self, Due, Fresh, GrantFailure, RefreshError, RefreshOptions};
use crate::connections::{
    limit_rule, Account, Connection, ConnectionId, ConnectionStore, ConnectionStoreError, Reauthorization,
    SharedStore, Status, CURSOR_RULE,
};
use crate::error::{Error, Result};
use crate::oauth::{self, Grant};
use crate::providers::Provider;
use crate::tokens::TokenSet;

mod disconnect;

pub use disconnect::Revocation;

/// How long a refresh's commit is retried (DynamoDB throttling, timeouts) once the provider has
/// answered; also how long after a lapsed lease its holder may still land its commit.
const COMMIT_BUDGET: Duration = Duration::from_secs(10);
/// Kept on top of the lease for clocks that disagree between processes.
const CLOCK_SKEW: Duration = Duration::from_secs(2);

pub struct Keeper {
    connections: SharedStore,
    http: reqwest::Client,
    margin: Duration,
    request_timeout: Duration,
}

/// What clients see of a connection: never a token.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Metadata {
    pub provider: String,
    pub org_id: String,
    pub user_id: String,
    pub status: Status,
    pub scopes: Vec<String>,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub expires_at: Option<String>,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub created_at: Option<String>,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub updated_at: Option<String>,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub last_refreshed_at: Option<String>,
    pub account: Option<Account>,
}

impl From<&Connection> for Metadata {
    fn from(connection: &Connection) -> Self {
        Metadata {
            provider: connection.id.provider().to_owned(),
            org_id: connection.id.org_id().to_owned(),
            user_id: connection.id.user_id().to_owned(),
            status: connection.status,
            scopes: connection.scopes.clone(),
            expires_at: connection.expires_at.and_then(rfc3339),
            created_at: rfc3339(connection.created_at),
            updated_at: rfc3339(connection.updated_at),
            last_refreshed_at: connection.last_refreshed_at.and_then(rfc3339),
            account: connection.account.clone(),
        }
    }
}

impl From<ConnectionStoreError> for Error {
    fn from(error: ConnectionStoreError) -> Self {
        match error {
            ConnectionStoreError::InvalidCursor => Error::InvalidField {
                name: "cursor".into(),
                why: CURSOR_RULE.into(),
            },
            ConnectionStoreError::InvalidLimit => Error::InvalidField {
                name: "limit".into(),
                why: limit_rule(),
            },
            ConnectionStoreError::InvalidId(invalid) => invalid.into(),
            other => Error::StoreUnavailable(crate::error::StoreError(other.to_string())),
        }
    }
}

/// The connection `user_id` of `org_id` has with `provider`, its ids checked.
pub fn connection_id(provider: &Provider, org_id: &str, user_id: &str) -> Result<ConnectionId> {
    Ok(ConnectionId::new(provider.name(), org_id, user_id)?)
}

/// Tokens kept but not opened here: the keys (or the item) are at fault, not the user's grant.
fn unreadable() -> Error {
    tracing::error!("a connection's stored tokens cannot be opened: check TOKEN_ENCRYPTION_KEY and TOKEN_ENCRYPTION_KEYS_OLD");
    Error::Unreadable
}

impl Keeper {
    pub fn new(
        connections: SharedStore,
        http: reqwest::Client,
        margin: Duration,
        request_timeout: Duration,
    ) -> Self {
        Keeper {
            connections,
            http,
            margin,
            request_timeout,
        }
    }

    /// Saves (or replaces) the connection a consent just made.
    pub async fn save(&self, provider: &Provider, id: &ConnectionId, tokens: &TokenSet) -> Result<()> {
        self.connections
            .save_connected(id, tokens, account(provider, &tokens.raw).as_ref(), clock::now())
            .await?;
        Ok(())
    }

    pub async fn get(&self, id: &ConnectionId) -> Result<Connection> {
        self.connections.get(id).await?.ok_or(Error::ConnectionNotFound)
    }

    /// The time a refresh may take once started: the provider's answer, then the commit.
    pub fn refresh_budget(&self) -> Duration {
        self.request_timeout + COMMIT_BUDGET
    }

    /// A refresh lease outlives the whole refresh, whatever the clocks say.
    fn lease(&self) -> Duration {
        self.refresh_budget() + CLOCK_SKEW
    }

    pub fn connections(&self) -> &SharedStore {
        &self.connections
    }

    /// Tokens fit for use: refreshed first when they expire within `margin` (or are past half
    /// their life, if that comes later) or when `force`d, by one caller across every process.
    /// The flag says whether this call refreshed them.
    pub async fn tokens(
        &self,
        provider: &Provider,
        id: &ConnectionId,
        force: bool,
        deadline: Option<Instant>,
    ) -> Result<Fresh> {
        self.tokens_when(provider, id, force, Due::Soon(self.margin), deadline)
            .await
    }

    pub async fn tokens_when(
        &self,
        provider: &Provider,
        id: &ConnectionId,
        force: bool,
        due: Due,
        deadline: Option<Instant>,
    ) -> Result<Fresh> {
        let options = RefreshOptions {
            due,
            force,
            lease: self.lease(),
            commit_budget: COMMIT_BUDGET,
            deadline,
            min_time_to_refresh: self.refresh_budget(),
            owner: lease_owner(),
        };
        refresh::fresh_tokens(&self.connections, id, options, |current| {
            self.refresh(provider, current)
        })
        .await
        .map_err(|error| match error {
            RefreshError::NotFound => Error::ConnectionNotFound,
            // Only a refused refresh token.
            RefreshError::NeedsReauthorization => Error::NeedsReauthorization {
                provider: provider.spec.display_name,
                reason: None,
            },
            RefreshError::Unreadable => unreadable(),
            RefreshError::Misconfigured(reason) => Error::ClientMisconfigured {
                provider: provider.spec.display_name,
                reason: format!("{reason}; the connection is unchanged"),
            },
            RefreshError::Transient {
                retry_after: Some(seconds),
                ..
            } => Error::ProviderThrottled {
                provider: provider.spec.display_name,
                retry_after: Some(seconds),
            },
            RefreshError::Transient { reason, .. } => Error::ProviderFailed {
                provider: provider.spec.display_name,
                reason: format!("the token refresh failed, the connection is unchanged: {reason}"),
            },
            RefreshError::NoTime => Error::NoTimeToRefresh,
            RefreshError::Store(error) => error.into(),
        })
    }

    /// The provider refused a token this process has just been given (for `reason`): the grant
    /// is dead, whatever the refresh said. Marked at the version read, so that a newer connection
    /// (a reconnect, another refresh) is never marked by mistake; the error to answer with.
    pub async fn refused_fresh_tokens(
        &self,
        provider: &Provider,
        id: &ConnectionId,
        version: u64,
        reason: &str,
    ) -> Error {
        if let Err(error) = self
            .connections
            .mark_needs_reauthorization(id, version, Reauthorization::TokenRefused, clock::now())
            .await
        {
            return error.into();
        }
        Error::NeedsReauthorization {
            provider: provider.spec.display_name,
            reason: Some(format!("the provider refused a fresh token ({reason})")),
        }
    }

    /// One refresh grant; the new set keeps the old refresh token when the provider sends none.
    async fn refresh(&self, provider: &Provider, current: TokenSet) -> Result<TokenSet, GrantFailure> {
        let refresh_token = current
            .refresh_token
            .as_deref()
            .ok_or_else(|| GrantFailure::Refused("the provider gave no refresh token".into()))?;
        let mut fresh = oauth::request_tokens(&self.http, provider, Grant::RefreshToken(refresh_token))
            .await
            .map_err(|error| match error {
                // Only the grant itself ends a connection: see `upstream::classify`.
                Error::GrantRefused { .. } => GrantFailure::Refused(error.to_string()),
                Error::ClientMisconfigured { reason, .. } => GrantFailure::Misconfigured(reason),
                Error::ProviderThrottled { retry_after, .. } => GrantFailure::Transient {
                    reason: error.to_string(),
                    retry_after: retry_after.or(Some(1)),
                },
                other => GrantFailure::transient(other.to_string()),
            })?;
        if fresh.refresh_token.is_none() {
            fresh.refresh_token = current.refresh_token;
        }
        Ok(fresh)
    }
}

/// A name for one call's lease, unique across processes.
fn lease_owner() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// The provider account a token response names, in the fields its spec says (Notion's
/// workspace, HubSpot's portal, the sandbox's account).
fn account(provider: &Provider, raw: &serde_json::Map<String, Value>) -> Option<Account> {
    let text = |name: &str| match raw.get(name)? {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    };
    let (id, name) = provider.spec.account_fields;
    let account = Account {
        id: text(id),
        name: text(name),
    };
    (account.id.is_some() || account.name.is_some()).then_some(account)
}
