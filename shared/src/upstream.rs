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

/// Rate limited, passing on the provider's wait in whole seconds (at least one).
fn throttled(provider: &'static str, wait: Option<Duration>) -> Error {
    Error::ProviderThrottled {
        provider,
        retry_after: wait.map(|wait| wait.as_secs().max(1)),
    }
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(250 << attempt.min(5))
}

/// `Retry-After` in seconds (what Notion, HubSpot and Airtable send), capped.
pub fn retry_after(response: &Response) -> Option<Duration> {
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
    /// Its API, called with a user's token.
    Api,
    /// Its token or revocation endpoint, called as the OAuth client.
    Token,
}

/// What a provider's non-success answer means, whichever endpoint gave it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// The grant itself is dead: only a new consent helps.
    GrantRefused,
    /// Our client credentials were refused: this deployment's configuration.
    Misconfigured,
    /// The token was refused (401): refresh it, and retry once.
    Unauthorized,
    /// The token works but may not see this (403): passed on, nothing refreshed or marked.
    Forbidden,
    /// Rate limited: try again after the provider's `Retry-After`.
    Throttled,
    /// Something else the client sent was refused (400 for a used code, say).
    Rejected,
    /// 408, 5xx, or anything we cannot read: may work on the next try.
    Failed,
}

/// The OAuth `error` codes (and HubSpot's `status` codes) that say the grant is dead.
const GRANT_REFUSED: &[&str] = &["invalid_grant", "BAD_REFRESH_TOKEN", "BAD_AUTH_CODE"];
/// The codes that say our client credentials are wrong, whatever the grant.
const MISCONFIGURED: &[&str] = &[
    "invalid_client",
    "unauthorized_client",
    "BAD_CLIENT_ID",
    "BAD_CLIENT_SECRET",
];

/// The one classification of provider answers, by endpoint, status and error code.
fn classify(endpoint: Endpoint, status: StatusCode, code: Option<&str>) -> Class {
    let is = |codes: &[&str]| code.is_some_and(|code| codes.contains(&code));
    match (endpoint, status) {
        (_, StatusCode::TOO_MANY_REQUESTS) => Class::Throttled,
        (_, StatusCode::REQUEST_TIMEOUT) => Class::Failed,
        (_, status) if !status.is_client_error() => Class::Failed,
        (Endpoint::Token, _) if is(MISCONFIGURED) => Class::Misconfigured,
        (Endpoint::Token, _) if is(GRANT_REFUSED) => Class::GrantRefused,
        (Endpoint::Token, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) => Class::Unauthorized,
        (Endpoint::Token, _) => Class::Rejected,
        (Endpoint::Api, StatusCode::UNAUTHORIZED) => Class::Unauthorized,
        (Endpoint::Api, StatusCode::FORBIDDEN) => Class::Forbidden,
        // Any other 4xx from the API is about our request, not the user's: the provider failed us.
        (Endpoint::Api, _) => Class::Failed,
    }
}

/// What a provider's non-success answer means for our client, as [`classify`] says.
pub fn failure(
    provider: &'static str,
    endpoint: Endpoint,
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &[u8],
) -> Error {
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    // OAuth's `error` (a string), or HubSpot's `status`/`category`.
    let code = json["error"]
        .as_str()
        .or_else(|| json["status"].as_str())
        .or_else(|| json["category"].as_str());
    let reason = provider_message(status, &json);
    match classify(endpoint, status, code) {
        Class::GrantRefused => Error::GrantRefused { provider, reason },
        Class::Misconfigured => {
            misconfigured_once(provider, &reason);
            Error::ClientMisconfigured { provider, reason }
        }
        Class::Unauthorized => Error::ProviderUnauthorized { provider, reason },
        Class::Forbidden => Error::ProviderForbidden { provider, reason },
        Class::Throttled => throttled(provider, retry_after),
        Class::Rejected => Error::ProviderRejected { provider, reason },
        Class::Failed => Error::ProviderFailed { provider, reason },
    }
}

/// Logged at error level once per process and provider: an operator must fix it, and a burst of
/// refreshes should not repeat it a thousand times. Never the secret, only the provider's words.
fn misconfigured_once(provider: &'static str, reason: &str) {
    static SEEN: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let mut seen = SEEN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if !seen.contains(&provider) {
        seen.push(provider);
        tracing::error!(
            provider,
            reason,
            "the provider refused this deployment's client credentials"
        );
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
fn provider_message(status: StatusCode, json: &Value) -> String {
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

/// Follows cursors until the provider has no next page; a cursor seen before (right away or
/// pages later) is a provider bug, reported instead of looping until the deadline.
pub async fn all_pages<F, Fut>(provider: &'static str, mut fetch: F) -> Result<Vec<Value>>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<Page>>,
{
    let mut objects = Vec::new();
    let mut cursor = None;
    let mut seen = std::collections::HashSet::new();
    loop {
        let page = fetch(cursor.clone()).await?;
        objects.extend(page.objects);
        match page.next {
            Some(next) if !seen.insert(next.clone()) => {
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
    fn failures_map_by_endpoint_status_and_code() {
        let fail = |endpoint, status: u16, body: &str| {
            failure(
                "P",
                endpoint,
                StatusCode::from_u16(status).unwrap(),
                None,
                body.as_bytes(),
            )
        };
        let grant = fail(
            Endpoint::Token,
            400,
            r#"{"error": "invalid_grant", "error_description": "The code was already used"}"#,
        );
        assert_eq!(
            grant.to_string(),
            "P refused the grant: The code was already used"
        );
        assert!(matches!(grant, Error::GrantRefused { .. }));
        assert!(matches!(
            fail(
                Endpoint::Token,
                400,
                r#"{"status": "BAD_REFRESH_TOKEN", "message": "m"}"#
            ),
            Error::GrantRefused { .. }
        ));
        for body in [
            r#"{"error": "invalid_client"}"#,
            r#"{"error": "unauthorized_client"}"#,
            r#"{"status": "BAD_CLIENT_ID", "message": "m"}"#,
        ] {
            for status in [400, 401] {
                let error = fail(Endpoint::Token, status, body);
                assert!(
                    matches!(error, Error::ClientMisconfigured { .. }),
                    "{body}: {error}"
                );
                assert!(error.to_string().contains("client secret"), "{error}");
            }
        }
        // Throttled, timed out or failing is never a refusal, at either endpoint.
        for endpoint in [Endpoint::Api, Endpoint::Token] {
            let throttled = failure(
                "P",
                endpoint,
                StatusCode::TOO_MANY_REQUESTS,
                Some(Duration::from_secs(7)),
                br#"{"status":"error","errorType":"RATE_LIMIT","message":"You have reached your secondly limit."}"#,
            );
            assert!(matches!(
                throttled,
                Error::ProviderThrottled {
                    retry_after: Some(7),
                    ..
                }
            ));
            for status in [408, 500, 502, 503] {
                assert!(matches!(
                    fail(endpoint, status, "<html>"),
                    Error::ProviderFailed { .. }
                ));
            }
        }
        assert!(matches!(
            fail(Endpoint::Token, 401, ""),
            Error::ProviderUnauthorized { .. }
        ));
        assert!(matches!(
            fail(Endpoint::Token, 400, "{}"),
            Error::ProviderRejected { .. }
        ));
        // The API: 401 is a dead token, 403 a missing capability, other 4xx our request's fault.
        assert!(matches!(
            fail(Endpoint::Api, 401, ""),
            Error::ProviderUnauthorized { .. }
        ));
        let forbidden = fail(
            Endpoint::Api,
            403,
            r#"{"object":"error","status":403,"code":"restricted_resource","message":"Insufficient permissions for this endpoint."}"#,
        );
        assert_eq!(
            forbidden.to_string(),
            "P refused access: Insufficient permissions for this endpoint."
        );
        let api = fail(Endpoint::Api, 404, r#"{"message": "no such object"}"#);
        assert_eq!(api.to_string(), "P failed: no such object");
        assert_eq!(
            fail(Endpoint::Token, 502, "<html>").to_string(),
            "P failed: HTTP 502"
        );
    }

    #[test]
    fn provider_messages_are_read_from_every_usual_shape_and_cut_short() {
        let read = |body: &str| {
            provider_message(
                StatusCode::BAD_REQUEST,
                &serde_json::from_str(body).unwrap_or(Value::Null),
            )
        };
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
        let cycling = all_pages("P", pages(vec![Some("a"), Some("b"), Some("a")]))
            .await
            .unwrap_err();
        assert_eq!(cycling.to_string(), "P failed: pagination did not advance");
    }
}
