//! What a provider's non-success answer means, in one place: by endpoint, status and error code.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use super::MAX_MESSAGE_CHARS;
use crate::error::Error;

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

/// Rate limited, passing on the provider's wait in whole seconds (at least one).
pub(super) fn throttled(provider: &'static str, wait: Option<Duration>) -> Error {
    Error::ProviderThrottled {
        provider,
        retry_after: wait.map(|wait| wait.as_secs().max(1)),
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
}
