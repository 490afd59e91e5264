//! The library's one error type: what went wrong, in the domain's words. `response::error` alone
//! maps it to a status and a `{"detail"}` body.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A path no route serves (as API Gateway answers it).
    #[error("Not Found")]
    RouteNotFound,
    /// A path served, but not for this method.
    #[error("Method Not Allowed")]
    MethodNotAllowed,
    #[error("Unknown provider '{name}'; expected one of {known}")]
    UnknownProvider { name: String, known: String },
    #[error("{provider} is not configured: set {missing}", missing = .missing.join(", "))]
    ProviderNotConfigured {
        provider: &'static str,
        missing: Vec<String>,
    },
    /// A body that does not parse as its content type says.
    #[error("{0}")]
    MalformedBody(String),
    #[error("Field required: {0}")]
    MissingField(&'static str),
    /// A field that is present but unusable; `why` completes the sentence after its name.
    #[error("{name} {why}")]
    InvalidField { name: String, why: String },
    /// Text that must be UTF-8 (a form, a multipart field) and is not.
    #[error("{0} is not valid UTF-8")]
    NotUtf8(String),
    #[error("Malformed credentials: send the JSON object returned by /credentials, with its access_token")]
    MalformedCredentials,
    /// A provider's redirect that cannot complete a connect (and never will: no retry helps).
    #[error("{0}")]
    InvalidCallback(&'static str),
    #[error("Unsupported content type '{0}': send application/x-www-form-urlencoded, multipart/form-data or application/json")]
    UnsupportedMediaType(String),
    #[error("The request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// An unpaged load that would pass a response's size or time: never answered in part.
    #[error("This account's items {0}: load them a page at a time with `limit` and `cursor`")]
    ListingTooLarge(&'static str),
    #[error("Missing or invalid API key")]
    Unauthorized,
    /// A connect session's token that names no live session (never minted, expired or used).
    #[error("Unknown, expired or already used connect session: mint a new one with POST /connect/sessions")]
    SessionInvalid,
    /// What a connect session does not allow; the reason completes the sentence.
    #[error("This connect session {0}")]
    SessionForbidden(String),
    #[error("Origin not allowed")]
    OriginNotAllowed,
    #[error("No credentials found: connect first (they are kept 10 minutes and handed out once)")]
    CredentialsNotFound,
    #[error("No connection found: connect first through /authorize")]
    ConnectionNotFound,
    /// The grant is dead (refused refresh token, or a fresh token refused): only a new consent helps.
    #[error("The {provider} connection needs reauthorization: {}connect again through /authorize",
        .reason.as_ref().map(|reason| format!("{reason}; ")).unwrap_or_default())]
    NeedsReauthorization {
        provider: &'static str,
        reason: Option<String>,
    },
    /// A disconnect that kept losing to reconnects.
    #[error("The connection kept changing (reconnected) while it was being disconnected; try again")]
    ConnectionChanging,
    /// Another call holds the connection's refresh lease past this call's deadline.
    #[error("A token refresh of this connection is in progress; try again")]
    RefreshInProgress,
    #[error("Too little time left to refresh the tokens; try again")]
    NoTimeToRefresh,
    /// A route that needs what this deployment lacks (the connections table, the key a paged
    /// load seals its cursors with); `hint` says what to set.
    #[error("{hint}")]
    NotConfigured { hint: &'static str },
    /// A connection's stored tokens do not open with this deployment's keys (or its item
    /// disagrees with its key): the operator's problem, never the user's grant.
    #[error("The stored tokens cannot be opened with this deployment's encryption keys (TOKEN_ENCRYPTION_KEY, TOKEN_ENCRYPTION_KEYS_OLD); the connection is unchanged")]
    Unreadable,
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
