//! Who may call: API keys (or, for the consent, a connect session) and CORS.

use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_MAX_AGE, AUTHORIZATION, VARY,
};
use http::{HeaderMap, HeaderValue, StatusCode};
use lambda_http::Body;
use subtle::ConstantTimeEq;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::response::{self, ErrorFormat, Response};

/// Who may call, read once per process.
#[derive(Debug, Clone)]
pub struct Access {
    /// Accepted `Authorization: Bearer` / `x-api-key` values; empty means open.
    api_keys: Vec<String>,
    /// Origins answered with CORS headers; empty means none.
    allowed_origins: Vec<String>,
}

impl Access {
    pub fn new(config: &Config) -> Self {
        Access {
            api_keys: config.api_keys.clone(),
            allowed_origins: config.allowed_origins.clone(),
        }
    }

    pub fn is_open(&self) -> bool {
        self.api_keys.is_empty()
    }

    /// With `API_KEYS` set, a request must carry one as `Authorization: Bearer` or `x-api-key`.
    pub fn check_api_key(&self, headers: &HeaderMap) -> Result<()> {
        if self.api_keys.is_empty() {
            return Ok(());
        }
        let presented = bearer(headers)
            .or_else(|| headers.get("x-api-key").and_then(|value| value.to_str().ok()))
            .ok_or(Error::Unauthorized)?
            .trim()
            .as_bytes();
        // Every key is compared, each in constant time, so timing reveals neither which nor how much matched.
        let matched = self.api_keys.iter().fold(subtle::Choice::from(0), |found, key| {
            found | key.as_bytes().ct_eq(presented)
        });
        if bool::from(matched) {
            Ok(())
        } else {
            Err(Error::Unauthorized)
        }
    }

    /// A connect session's token, for a function that takes one in place of an API key.
    pub fn session_token(&self, function: crate::routes::Function, headers: &HeaderMap) -> Option<String> {
        bearer(headers)
            .map(str::trim)
            .filter(|token| function.takes_sessions() && crate::sessions::is_token(token))
            .map(str::to_owned)
    }

    /// The request's `Origin`, when it is one of `ALLOWED_ORIGINS`.
    fn allowed_origin<'a>(&self, origin: Option<&'a HeaderValue>) -> Option<&'a HeaderValue> {
        let origin = origin?;
        self.allowed_origins
            .iter()
            .any(|allowed| allowed.as_bytes() == origin.as_bytes())
            .then_some(origin)
    }

    /// Answers a CORS preflight: 204 for a listed origin, 403 otherwise.
    pub fn preflight(&self, origin: Option<&HeaderValue>) -> Response {
        if self.allowed_origin(origin).is_none() {
            return response::error(&Error::OriginNotAllowed, ErrorFormat::Json);
        }
        let mut response = Response::new(Body::Empty);
        *response.status_mut() = StatusCode::NO_CONTENT;
        let out = response.headers_mut();
        out.insert(
            ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, DELETE, OPTIONS"),
        );
        out.insert(
            ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type, x-api-key"),
        );
        out.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        response
    }

    /// Adds `Access-Control-Allow-Origin` for listed origins only.
    pub fn add_cors_headers(&self, origin: Option<&HeaderValue>, response: &mut Response) {
        if self.allowed_origins.is_empty() {
            return;
        }
        response
            .headers_mut()
            .insert(VARY, HeaderValue::from_static("Origin"));
        if let Some(origin) = self.allowed_origin(origin) {
            response
                .headers_mut()
                .insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        }
    }
}

/// The `Authorization: Bearer` value, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
        })
}
