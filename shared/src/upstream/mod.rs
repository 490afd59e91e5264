//! Calls to a provider's API with the user's token, retries and throttling, and the one mapping of a
//! provider's failures to our errors (its API and its token endpoint alike).

use std::time::Duration;

use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::Value;

use crate::error::{Error, Result};

mod classify;
mod rate_limit;

use classify::throttled;
pub use classify::{failure, unreachable, Endpoint};
pub use rate_limit::RateLimit;

/// Attempts per request, counting throttled (429) and failed (5xx, connection) answers.
const MAX_ATTEMPTS: u32 = 4;
/// The longest `Retry-After` we honour; longer waits would outlive an API Gateway request.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(10);
/// Provider messages are echoed to clients; keep them short.
const MAX_MESSAGE_CHARS: usize = 200;

/// A provider's API as seen with one access token.
pub struct Api<'a> {
    http: &'a reqwest::Client,
    base_url: &'a str,
    /// The provider's display name, for errors.
    name: &'static str,
    token: &'a str,
    /// Sent with every request (`Notion-Version`).
    headers: Vec<(&'static str, &'a str)>,
    /// Shared by every request made through this `Api`.
    limit: Option<RateLimit>,
}

impl<'a> Api<'a> {
    pub fn new(http: &'a reqwest::Client, base_url: &'a str, name: &'static str, token: &'a str) -> Self {
        Api {
            http,
            base_url,
            name,
            token,
            headers: Vec::new(),
            limit: None,
        }
    }

    pub fn with_headers(mut self, headers: Vec<(&'static str, &'a str)>) -> Self {
        self.headers = headers;
        self
    }

    pub fn with_rate_limit(mut self, limit: Option<RateLimit>) -> Self {
        self.limit = limit;
        self
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.request(reqwest::Method::GET, path)
    }

    pub fn post(&self, path: &str) -> RequestBuilder {
        self.request(reqwest::Method::POST, path)
    }

    fn request(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base_url))
            .bearer_auth(self.token);
        for (header, value) in &self.headers {
            request = request.header(*header, *value);
        }
        request
    }

    /// Sends the request, waiting out 429s and retrying 5xx a bounded number of times.
    pub async fn send_json(&self, request: RequestBuilder) -> Result<Value> {
        let provider = self.name;
        let mut last = Error::ProviderFailed {
            provider,
            reason: "no attempt made".into(),
        };
        for attempt in 1..=MAX_ATTEMPTS {
            let Some(request) = request.try_clone() else {
                return Err(Error::ProviderFailed {
                    provider,
                    reason: "streaming request bodies cannot be retried".into(),
                });
            };
            if let Some(limit) = &self.limit {
                limit.acquire().await;
            }
            let wait = match request.send().await {
                Err(error) if error.is_timeout() => return Err(Error::ProviderTimeout { provider }),
                Err(error) => {
                    last = unreachable(provider, error);
                    backoff(attempt)
                }
                Ok(response) if response.status().is_success() => {
                    return response.json().await.map_err(|error| Error::ProviderFailed {
                        provider,
                        reason: format!("unreadable answer: {}", error.without_url()),
                    });
                }
                Ok(response) if response.status() == StatusCode::TOO_MANY_REQUESTS => {
                    let wait = retry_after(&response);
                    last = throttled(provider, wait);
                    wait.unwrap_or_else(|| backoff(attempt))
                }
                Ok(response) if response.status().is_server_error() => {
                    last = Error::ProviderFailed {
                        provider,
                        reason: format!("HTTP {}", response.status().as_u16()),
                    };
                    backoff(attempt)
                }
                Ok(response) => {
                    let status = response.status();
                    let body = response.bytes().await.unwrap_or_default();
                    return Err(failure(provider, Endpoint::Api, status, None, &body));
                }
            };
            tracing::debug!(provider, attempt, wait_ms = wait.as_millis() as u64, "retrying");
            if attempt < MAX_ATTEMPTS {
                tokio::time::sleep(wait).await;
            }
        }
        Err(last)
    }
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(250 << attempt.min(5))
}

/// `Retry-After` in seconds (what Notion, HubSpot and Airtable send), capped.
pub fn retry_after(response: &Response) -> Option<Duration> {
    retry_after_seconds(response).map(|wait| wait.min(MAX_RETRY_WAIT))
}

/// `Retry-After` in seconds, as sent.
pub fn retry_after_seconds(response: &Response) -> Option<Duration> {
    let seconds: f64 = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    (0.0..1e9)
        .contains(&seconds)
        .then(|| Duration::from_secs_f64(seconds))
}
