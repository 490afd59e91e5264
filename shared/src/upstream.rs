//! Calls to a provider's API with the user's token, retries and throttling, and the one mapping of a
//! provider's failures to our errors (its API and its token endpoint alike).

use std::time::Duration;

use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::Value;

use crate::error::{Error, Result};

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
}

impl<'a> Api<'a> {
    pub fn new(http: &'a reqwest::Client, base_url: &'a str, name: &'static str, token: &'a str) -> Self {
        Api {
            http,
            base_url,
            name,
            token,
        }
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.http
            .get(format!("{}{path}", self.base_url))
            .bearer_auth(self.token)
    }

    pub fn post(&self, path: &str) -> RequestBuilder {
        self.http
            .post(format!("{}{path}", self.base_url))
            .bearer_auth(self.token)
    }

    /// Sends the request, waiting out 429s and retrying 5xx a bounded number of times.
    pub async fn send_json(&self, request: RequestBuilder) -> Result<Value> {
        let provider = self.name;
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
                    last_failure = unreachable(provider, error).to_string();
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
                Ok(response) => {
                    let status = response.status();
                    let body = response.bytes().await.unwrap_or_default();
                    return Err(failure(provider, Endpoint::Api, status, &body));
                }
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

/// Which of a provider's endpoints answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// Its API, called with a user's token: a 4xx other than 401/403 is our request's fault.
    Api,
    /// Its token or revocation endpoint: a 4xx is about what the client sent (a code, a grant).
    Token,
}

/// What a provider's non-success answer means for our client: it refused the token or client
/// (401, 403), refused what the client sent (other 4xx at the token endpoint), or failed.
pub fn failure(provider: &'static str, endpoint: Endpoint, status: StatusCode, body: &[u8]) -> Error {
    let reason = provider_message(status, body);
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Error::ProviderUnauthorized { provider, reason },
        status if status.is_client_error() && endpoint == Endpoint::Token => {
            Error::ProviderRejected { provider, reason }
        }
        _ => Error::ProviderFailed { provider, reason },
    }
}

/// A request that got no answer: out of time (504) or the provider unreachable (502).
pub fn unreachable(provider: &'static str, error: reqwest::Error) -> Error {
    if error.is_timeout() {
        Error::ProviderTimeout { provider }
    } else {
        Error::ProviderFailed {
            provider,
            reason: format!("could not reach it: {}", error.without_url()),
        }
    }
}

/// The human part of a provider's error body, whichever of the usual shapes it takes:
/// OAuth's `error_description`/`error`, Notion's and HubSpot's `message`, Airtable's `error.message`.
fn provider_message(status: StatusCode, body: &[u8]) -> String {
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

/// At most `max` requests begun in any `window`, shared by the concurrent requests of one
/// listing: a provider's documented rate limit, kept on our side rather than learnt from 429s.
pub struct RateLimit {
    max: usize,
    window: Duration,
    started: std::sync::Mutex<std::collections::VecDeque<tokio::time::Instant>>,
}

impl RateLimit {
    pub fn new(max: usize, window: Duration) -> Self {
        RateLimit {
            max: max.max(1),
            window,
            started: std::sync::Mutex::default(),
        }
    }

    /// Waits until one more request may begin, and counts it.
    pub async fn acquire(&self) {
        loop {
            let wait_until = {
                let now = tokio::time::Instant::now();
                let mut started = self
                    .started
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                while started
                    .front()
                    .is_some_and(|&at| now.duration_since(at) >= self.window)
                {
                    started.pop_front();
                }
                if started.len() < self.max {
                    started.push_back(now);
                    return;
                }
                started[0] + self.window
            };
            tokio::time::sleep_until(wait_until).await;
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_map_by_status_and_endpoint() {
        let body = br#"{"error": "invalid_grant", "error_description": "The code was already used"}"#;
        let refused = failure("P", Endpoint::Token, StatusCode::BAD_REQUEST, body);
        assert_eq!(
            refused.to_string(),
            "P refused the request: The code was already used"
        );
        assert!(matches!(refused, Error::ProviderRejected { .. }));
        for status in [StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN] {
            for endpoint in [Endpoint::Api, Endpoint::Token] {
                assert!(matches!(
                    failure("P", endpoint, status, b""),
                    Error::ProviderUnauthorized { .. }
                ));
            }
        }
        // A 4xx from the API is about our request, not the client's: the provider "failed" us.
        let api = failure(
            "P",
            Endpoint::Api,
            StatusCode::NOT_FOUND,
            br#"{"message": "no such object"}"#,
        );
        assert_eq!(api.to_string(), "P failed: no such object");
        let outage = failure("P", Endpoint::Token, StatusCode::BAD_GATEWAY, b"<html>");
        assert_eq!(outage.to_string(), "P failed: HTTP 502");
    }

    #[test]
    fn provider_messages_are_read_from_every_usual_shape_and_cut_short() {
        let read = |body: &str| provider_message(StatusCode::BAD_REQUEST, body.as_bytes());
        assert_eq!(
            read(r#"{"error": {"type": "INVALID", "message": "Airtable says"}}"#),
            "Airtable says"
        );
        assert_eq!(read(r#"{"error": {"type": "NOT_FOUND"}}"#), "NOT_FOUND");
        assert_eq!(read(r#"{"error": "invalid_client"}"#), "invalid_client");
        assert_eq!(
            read(&format!(r#"{{"message": "{}"}}"#, "x".repeat(500))).len(),
            MAX_MESSAGE_CHARS
        );
    }

    #[tokio::test]
    async fn a_rate_limit_lets_a_burst_through_then_waits_for_the_window() {
        let limit = RateLimit::new(3, Duration::from_millis(200));
        let started = tokio::time::Instant::now();
        for _ in 0..3 {
            limit.acquire().await;
        }
        assert!(
            started.elapsed() < Duration::from_millis(100),
            "the burst is not held back"
        );
        limit.acquire().await;
        assert!(
            started.elapsed() >= Duration::from_millis(200),
            "the fourth waits for the window"
        );
    }

    #[tokio::test]
    async fn paging_follows_cursors_and_refuses_one_that_repeats() {
        let pages = |cursors: Vec<Option<&'static str>>| {
            let cursors = std::sync::Mutex::new(cursors.into_iter());
            move |_: Option<String>| {
                let next = cursors.lock().unwrap().next().flatten().map(str::to_owned);
                async move {
                    Ok(Page {
                        objects: vec![Value::Null],
                        next,
                    })
                }
            }
        };
        let all = all_pages("P", pages(vec![Some("a"), Some("b"), None]))
            .await
            .unwrap();
        assert_eq!(all.len(), 3);
        let stuck = all_pages("P", pages(vec![Some("a"), Some("a")]))
            .await
            .unwrap_err();
        assert_eq!(stuck.to_string(), "P failed: pagination did not advance");
    }
}
