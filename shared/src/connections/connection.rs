//! A stored connection as the API and the refresher see it: its status, account and tokens
//! (opened, or `None`), its version and lease.

use serde::{Deserialize, Serialize};

use super::ConnectionId;
use crate::tokens::TokenSet;

/// A connection the `due` index lists: which one, and when its access token expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueConnection {
    pub id: ConnectionId,
    pub expires_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Status {
    Active,
    /// The provider refused the refresh token: only a new OAuth consent revives the connection.
    NeedsReauthorization,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::NeedsReauthorization => "needs_reauthorization",
        }
    }

    pub(super) fn parse(value: &str) -> Option<Self> {
        match value {
            "active" => Some(Status::Active),
            "needs_reauthorization" => Some(Status::NeedsReauthorization),
            _ => None,
        }
    }
}

/// The provider account the tokens act for, as far as the provider said.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Account {
    pub id: Option<String>,
    pub name: Option<String>,
}

/// A stored connection. `tokens` is `None` when the sealed token set does not open here, or was
/// not read (listings).
#[derive(Clone, PartialEq, Eq)]
pub struct Connection {
    pub id: ConnectionId,
    pub status: Status,
    pub tokens: Option<TokenSet>,
    pub scopes: Vec<String>,
    pub account: Option<Account>,
    /// Unix seconds.
    pub created_at: i64,
    pub updated_at: i64,
    pub expires_at: Option<i64>,
    pub last_refreshed_at: Option<i64>,
    /// Incremented by every write of new tokens: what a refresh is conditional on.
    pub version: u64,
    /// Whether the tokens are sealed under the current key (false while they open only through
    /// `TOKEN_ENCRYPTION_KEYS_OLD`, or not at all).
    pub current_key: bool,
    pub lease_owner: Option<String>,
    pub lease_expires_at_ms: Option<i64>,
    /// Consents saved for it: a reconnect counts one, a refresh none.
    pub consents: u64,
    /// Refreshes failed for now (the provider out of reach, the client refused) since the last
    /// one that worked or the last consent.
    pub refresh_failures: u32,
    /// Why a new consent is needed, while it is ([`Reauthorization`]'s names).
    pub reauthorization: Option<String>,
    /// What became of the grant, on a deleted connection's last image (`Revocation`'s names).
    pub revocation: Option<String>,
}

/// Why a connection needs a new consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reauthorization {
    /// The provider refused the refresh token.
    RefreshRefused,
    /// The provider refused an access token it had just issued.
    TokenRefused,
}

impl Reauthorization {
    pub fn as_str(self) -> &'static str {
        match self {
            Reauthorization::RefreshRefused => "refresh_token_refused",
            Reauthorization::TokenRefused => "access_token_refused",
        }
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("id", &self.id)
            .field("status", &self.status)
            .field("tokens", &self.tokens)
            .field("scopes", &self.scopes)
            .field("account", &self.account)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .field("expires_at", &self.expires_at)
            .field("last_refreshed_at", &self.last_refreshed_at)
            .field("version", &self.version)
            .field("current_key", &self.current_key)
            .field("lease_owner", &self.lease_owner)
            .field("lease_expires_at_ms", &self.lease_expires_at_ms)
            .field("consents", &self.consents)
            .field("refresh_failures", &self.refresh_failures)
            .field("reauthorization", &self.reauthorization)
            .field("revocation", &self.revocation)
            .finish()
    }
}

/// What [`ConnectionStore::acquire_lease`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseOutcome {
    Acquired,
    /// Acquired from a holder whose lease lapsed then (unix milliseconds): it may have died, or
    /// still be about to commit.
    TakenOver {
        lapsed_at_ms: i64,
    },
    /// Another holder's lease runs until then (unix milliseconds).
    Busy {
        until_ms: i64,
    },
    /// The version moved on, or the connection is no longer active.
    Changed,
    Gone,
}
