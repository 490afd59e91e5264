//! How a refresh fails: what the provider said of the grant, and what the caller is told.

use crate::connections::ConnectionStoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantFailure {
    /// `invalid_grant` (HubSpot's `BAD_REFRESH_TOKEN`): the refresh token is dead for good, the
    /// one failure that marks a connection.
    Refused(String),
    /// `invalid_client` and the like: this deployment's client credentials, not the grant. The
    /// connection stays active, to work again once the configuration is fixed.
    Misconfigured(String),
    /// Network errors, timeouts, 5xx, rate limits, unreadable answers: the next call may succeed;
    /// `retry_after` is the provider's own wait in seconds, when it gave one.
    Transient {
        reason: String,
        retry_after: Option<u64>,
    },
}

impl GrantFailure {
    pub fn transient(reason: impl Into<String>) -> Self {
        GrantFailure::Transient {
            reason: reason.into(),
            retry_after: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("no such connection")]
    NotFound,
    #[error("the connection needs a new authorization")]
    NeedsReauthorization,
    /// The tokens are stored but no configured key opens them (or the item disagrees with its
    /// key): an operator's problem, never the user's, so the connection is not marked.
    #[error("the stored tokens cannot be opened with the configured keys")]
    Unreadable,
    #[error("the provider refused the client credentials: {0}")]
    Misconfigured(String),
    #[error("the token refresh failed for now: {reason}")]
    Transient {
        reason: String,
        retry_after: Option<u64>,
    },
    #[error("too little time left to refresh the tokens")]
    NoTime,
    #[error(transparent)]
    Store(#[from] ConnectionStoreError),
}
