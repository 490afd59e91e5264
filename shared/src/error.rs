//! The one error type of the library, and the one place it becomes an HTTP answer.

use ::http::StatusCode;

use crate::http::{self, Response};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Unknown provider '{0}'; expected one of {list}", list = crate::providers::names().join(", "))]
    UnknownProvider(String),
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
    #[error("The request body is larger than {limit} bytes", limit = crate::http::MAX_BODY_BYTES)]
    PayloadTooLarge,
    #[error("Missing or invalid API key")]
    Unauthorized,
    #[error("Origin not allowed")]
    OriginNotAllowed,
    #[error("{0}")]
    NotFound(String),
    /// The provider refused the token we presented (HTTP 401 from its API or token endpoint).
    #[error("{provider} refused the credentials: {reason}")]
    ProviderUnauthorized { provider: &'static str, reason: String },
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

impl Error {
    pub fn status(&self) -> StatusCode {
        match self {
            Error::UnknownProvider(_) | Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::ProviderNotConfigured { .. } | Error::StoreUnavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Error::BadRequest(_) | Error::ProviderRejected { .. } => StatusCode::BAD_REQUEST,
            Error::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Error::Unauthorized | Error::ProviderUnauthorized { .. } => StatusCode::UNAUTHORIZED,
            Error::OriginNotAllowed => StatusCode::FORBIDDEN,
            Error::ProviderFailed { .. } => StatusCode::BAD_GATEWAY,
            Error::ProviderTimeout { .. } | Error::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// `{"detail": "..."}` with the error's status: what the original service's clients read.
    pub fn into_json_response(self) -> Response {
        http::json_response(self.status(), &serde_json::json!({ "detail": self.to_string() }))
    }

    /// The callback's error page: the popup shows the reason instead of closing.
    pub fn into_html_response(self) -> Response {
        http::html_response(self.status(), &http::callback_page(Some(&self.to_string())))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
