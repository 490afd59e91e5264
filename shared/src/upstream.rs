//! Calls to a provider's API with the user's token: retries, throttling and error mapping in one place.

use std::time::Duration;

use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::providers::Provider;

/// Attempts per request, counting throttled (429) and failed (5xx, connection) answers.
const MAX_ATTEMPTS: u32 = 4;
/// The longest `Retry-After` we honour; longer waits would outlive an API Gateway request.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(10);
/// Provider messages are echoed to clients; keep them short.
const MAX_MESSAGE_CHARS: usize = 200;

/// A provider's API as seen with one access token.
pub struct Api<'a> {
    pub provider: &'a Provider,
    http: &'a reqwest::Client,
    token: &'a str,
}

impl<'a> Api<'a> {
    pub fn new(http: &'a reqwest::Client, provider: &'a Provider, token: &'a str) -> Self {
        Api {
            provider,
            http,
            token,
        }
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.http
            .get(format!("{}{path}", self.provider.api_url))
            .bearer_auth(self.token)
    }

    pub fn post(&self, path: &str) -> RequestBuilder {
        self.http
            .post(format!("{}{path}", self.provider.api_url))
            .bearer_auth(self.token)
    }

    /// Sends the request, waiting out 429s and retrying 5xx a bounded number of times.
    pub async fn send_json(&self, request: RequestBuilder) -> Result<Value> {
        let provider = self.provider.spec.display_name;
        let mut last_failure = String::new();
        for attempt in 1..=MAX_ATTEMPTS {
            let Some(request) = request.try_clone() else {
                return Err(Error::ProviderFailed {
                    provider,
                    reason: "streaming request bodies cannot be retried".into(),
                });
            };
            let wait = match request.send().await {
                Err(error) if error.is_timeout() => return Err(Error::ProviderTimeout { provider }),
                Err(error) => {
                    last_failure = format!("could not reach the API: {}", error.without_url());
                    backoff(attempt)
                }
                Ok(response) if response.status().is_success() => {
                    return response.json().await.map_err(|error| Error::ProviderFailed {
                        provider,
                        reason: format!("unreadable answer: {}", error.without_url()),
                    });
                }
                Ok(response) if response.status() == StatusCode::TOO_MANY_REQUESTS => {
                    last_failure = "still throttled after retries".into();
                    retry_after(&response).unwrap_or_else(|| backoff(attempt))
                }
                Ok(response) if response.status().is_server_error() => {
                    last_failure = format!("HTTP {}", response.status().as_u16());
                    backoff(attempt)
                }
                Ok(response) => return Err(refusal(provider, response).await),
            };
            tracing::debug!(provider, attempt, wait_ms = wait.as_millis() as u64, "retrying");
            if attempt < MAX_ATTEMPTS {
                tokio::time::sleep(wait).await;
            }
        }
        Err(Error::ProviderFailed {
            provider,
            reason: last_failure,
        })
    }
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(250 << attempt.min(5))
}

/// `Retry-After` in seconds (what Notion, HubSpot and Airtable send), capped.
fn retry_after(response: &Response) -> Option<Duration> {
    let seconds: f64 = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds).min(MAX_RETRY_WAIT))
}

/// Maps a non-retryable answer: the provider refused the token (401/403) or something else broke.
async fn refusal(provider: &'static str, response: Response) -> Error {
    let status = response.status();
    let reason = provider_message(status, &response.bytes().await.unwrap_or_default());
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Error::ProviderUnauthorized { provider, reason },
        _ => Error::ProviderFailed { provider, reason },
    }
}

/// The human part of a provider's error body, whichever of the usual shapes it takes:
/// OAuth's `error_description`/`error`, Notion's and HubSpot's `message`, Airtable's `error.message`.
pub(crate) fn provider_message(status: StatusCode, body: &[u8]) -> String {
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let text = |value: &Value| value.as_str().filter(|s| !s.trim().is_empty()).map(str::to_owned);
    let message = text(&json["error_description"])
        .or_else(|| text(&json["message"]))
        .or_else(|| text(&json["error"]["message"]))
        .or_else(|| text(&json["error"]))
        .or_else(|| text(&json["error"]["type"]))
        .unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
    message.chars().take(MAX_MESSAGE_CHARS).collect()
}

/// One page of a listing: its objects and the cursor of the next page, if any.
pub struct Page {
    pub objects: Vec<Value>,
    pub next: Option<String>,
}

impl Page {
    /// Takes the array at `key` out of a provider's answer (empty when absent).
    pub fn new(answer: &mut Value, key: &str, next: Option<&Value>) -> Self {
        let objects = match answer[key].take() {
            Value::Array(objects) => objects,
            _ => Vec::new(),
        };
        let next = next
            .and_then(Value::as_str)
            .filter(|cursor| !cursor.is_empty())
            .map(str::to_owned);
        Page { objects, next }
    }
}

/// Follows cursors until the provider has no next page; a cursor that repeats is a provider bug,
/// reported instead of looping until the deadline.
pub async fn all_pages<F, Fut>(provider: &'static str, mut fetch: F) -> Result<Vec<Value>>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<Page>>,
{
    let mut objects = Vec::new();
    let mut cursor = None;
    loop {
        let page = fetch(cursor.clone()).await?;
        objects.extend(page.objects);
        match page.next {
            Some(next) if cursor.as_ref() == Some(&next) => {
                return Err(Error::ProviderFailed {
                    provider,
                    reason: "pagination did not advance".into(),
                })
            }
            Some(next) => cursor = Some(next),
            None => return Ok(objects),
        }
    }
}
