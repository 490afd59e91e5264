//! One try of one delivery: signed as Standard Webhooks says (`webhook-id`, a fresh
//! `webhook-timestamp`, and in `webhook-signature` one `v1,` signature per configured secret, so
//! a receiver holding either secret of a rotation verifies it), posted, and its answer classified.

use std::time::Duration;

use standardwebhooks::{Webhook, HEADER_WEBHOOK_ID, HEADER_WEBHOOK_SIGNATURE, HEADER_WEBHOOK_TIMESTAMP};

use super::events::Envelope;
use super::schedule::Attempt;
use crate::clock;
use crate::config::WebhookSettings;
use crate::upstream::retry_after_seconds;

/// The app's receiver: where events go, and the secrets they are signed with.
pub struct Endpoint {
    url: url::Url,
    signers: Vec<Webhook>,
    http: reqwest::Client,
    timeout: Duration,
}

/// What is wrong with the webhook settings; never quotes a secret.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SettingsError(String);

impl Endpoint {
    /// The receiver `settings` name, if they name one; `loopback` allows `http://` to this
    /// machine (`local-api`), never elsewhere.
    pub fn new(
        settings: &WebhookSettings,
        http: reqwest::Client,
        loopback: bool,
    ) -> Result<Option<Self>, SettingsError> {
        let Some(url) = &settings.url else {
            return Ok(None);
        };
        let url = url::Url::parse(url)
            .map_err(|error| SettingsError(format!("WEBHOOK_URL is not a URL: {error}")))?;
        let local = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
        match url.scheme() {
            "https" => {}
            "http" if loopback && local => {}
            _ => {
                return Err(SettingsError(
                    "WEBHOOK_URL must be https:// (http:// only to this machine, in local-api)".into(),
                ))
            }
        }
        if settings.secrets.is_empty() {
            return Err(SettingsError(
                "WEBHOOK_SECRETS is not set: give one or more whsec_… secrets to sign deliveries".into(),
            ));
        }
        let signers = settings
            .secrets
            .iter()
            .enumerate()
            .map(|(index, secret)| {
                let shaped = secret.strip_prefix("whsec_").is_some_and(|key| !key.is_empty());
                shaped
                    .then(|| Webhook::new(secret).ok())
                    .flatten()
                    .ok_or_else(|| {
                        SettingsError(format!(
                            "WEBHOOK_SECRETS: secret {} is not whsec_ followed by base64",
                            index + 1
                        ))
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(Some(Endpoint {
            url,
            signers,
            http,
            timeout: settings.timeout,
        }))
    }

    /// The `webhook-signature` header of `envelope` sent at `timestamp` (unix seconds).
    pub fn signature(&self, envelope: &Envelope, timestamp: i64) -> String {
        self.signers
            .iter()
            .filter_map(|signer| {
                signer
                    .sign(&envelope.id, timestamp, envelope.body.as_bytes())
                    .ok()
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Posts `envelope` once.
    pub async fn deliver(&self, envelope: &Envelope) -> Attempt {
        let timestamp = clock::now();
        let sent = self
            .http
            .post(self.url.clone())
            .timeout(self.timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(HEADER_WEBHOOK_ID, &envelope.id)
            .header(HEADER_WEBHOOK_TIMESTAMP, timestamp.to_string())
            .header(HEADER_WEBHOOK_SIGNATURE, self.signature(envelope, timestamp))
            .body(envelope.body.clone())
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(error) => {
                let reason = if error.is_timeout() {
                    format!("no answer within {} ms", self.timeout.as_millis())
                } else {
                    "the receiver could not be reached".to_owned()
                };
                return Attempt::Failed {
                    status: None,
                    retry_after: None,
                    reason,
                };
            }
        };
        let status = response.status();
        if status.is_success() {
            Attempt::Delivered(status.as_u16())
        } else if status.is_server_error() || matches!(status.as_u16(), 408 | 429) {
            Attempt::Failed {
                status: Some(status.as_u16()),
                retry_after: retry_after_seconds(&response),
                reason: format!("the receiver answered {status}"),
            }
        } else {
            Attempt::Refused(status.as_u16())
        }
    }
}

/// Logs a failed try that will be tried again after `wait`.
pub(super) fn retrying(envelope: &Envelope, tried: u32, attempt: &Attempt, wait: Duration) {
    tracing::info!(
        webhook_id = envelope.id,
        r#type = envelope.kind,
        tried,
        ?attempt,
        wait_ms = wait.as_millis() as u64,
        "webhook delivery failed: trying again"
    );
}

/// Logs the end of a delivery: an error when it was given up.
pub(super) fn ended(envelope: &Envelope, tried: u32, attempt: &Attempt) {
    match attempt {
        Attempt::Delivered(status) => {
            tracing::debug!(
                webhook_id = envelope.id,
                r#type = envelope.kind,
                tried,
                status,
                "webhook delivered"
            )
        }
        _ => tracing::error!(
            webhook_id = envelope.id,
            r#type = envelope.kind,
            tried,
            ?attempt,
            "webhook delivery given up"
        ),
    }
}
