//! The library's one error type. It knows nothing of HTTP: `response::error` maps it to a status
//! and a body, in one place.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Unknown provider '{name}'; expected one of {known}")]
    UnknownProvider { name: String, known: String },
    #[error("{provider} is not configured: set {missing}", missing = .missing.join(", "))]
    ProviderNotConfigured {
        provider: &'static str,
        missing: Vec<String>,
    },
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unprocessable(String),
    #[error("Unsupported content type '{0}': send application/x-www-form-urlencoded, multipart/form-data or application/json")]
    UnsupportedMediaType(String),
    #[error("The request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("Missing or invalid API key")]
    Unauthorized,
    #[error("Origin not allowed")]
    OriginNotAllowed,
    #[error("{0}")]
    NotFound(String),
    /// The request cannot be served in the resource's current state (a connection that needs a
    /// new consent).
    #[error("{0}")]
    Conflict(String),
    /// Something this deployment lacks or cannot do right now, named in the text.
    #[error("{0}")]
    Unavailable(String),
    /// A connection's stored tokens do not open with this deployment's keys (or its item
    /// disagrees with its key): the operator's problem, never the user's grant.
    #[error("{0}")]
    Unreadable(String),
    /// The provider refused the token or client we presented (HTTP 401 or 403).
    #[error("{provider} refused the credentials: {reason}")]
    ProviderUnauthorized { provider: &'static str, reason: String },
    /// The provider refused the grant itself (`invalid_grant`, HubSpot's `BAD_REFRESH_TOKEN`):
    /// only a new consent helps.
    #[error("{provider} refused the grant: {reason}")]
    GrantRefused { provider: &'static str, reason: String },
    /// The provider refused this deployment's client credentials (`invalid_client`,
    /// `unauthorized_client`, HubSpot's `BAD_CLIENT_ID`): our configuration, not the user's.
    #[error("{provider} refused this deployment's client credentials ({reason}): check the client ID and client secret configured for it")]
    ClientMisconfigured { provider: &'static str, reason: String },
    /// The provider is rate limiting us; `retry_after` is what it asked for, in seconds.
    #[error("{provider} is rate limiting requests: try again shortly")]
    ProviderThrottled {
        provider: &'static str,
        retry_after: Option<u64>,
    },
    /// The provider's API refused the token access to what was asked (a missing capability, a
    /// base it may not read): not a dead token, so no refresh and no new consent.
    #[error("{provider} refused access: {reason}")]
    ProviderForbidden { provider: &'static str, reason: String },
    /// The provider refused the request for another reason (e.g. an invalid or used code).
    #[error("{provider} refused the request: {reason}")]
    ProviderRejected { provider: &'static str, reason: String },
    /// The provider failed, answered something we cannot read, or kept failing after retries.
    #[error("{provider} failed: {reason}")]
    ProviderFailed { provider: &'static str, reason: String },
    #[error("{provider} did not answer in time")]
    ProviderTimeout { provider: &'static str },
    #[error("The request ran out of time")]
    DeadlineExceeded,
    #[error("The store is unavailable, try again shortly")]
    StoreUnavailable(#[source] StoreError),
}

/// A store failure; its text stays in the logs, clients only learn that the store is down.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

impl From<StoreError> for Error {
    fn from(error: StoreError) -> Self {
        Error::StoreUnavailable(error)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
