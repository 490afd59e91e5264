//! The deployed webhooks queue: events are sent to it where they happen, and the `webhooks`
//! function delivers them. A try that fails for now leaves its message on the queue, hidden for
//! the schedule's wait (its visibility timeout, not a sleep); its receive count is the try's number.

use aws_lambda_events::sqs::SqsMessage;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::Client;

use super::deliver::{ended, retrying};
use super::events::Envelope;
use super::outbox::{Outbox, OutboxError};
use super::schedule::{Attempt, Schedule};
use super::Endpoint;
use crate::batch;

pub struct SqsOutbox {
    client: Client,
    url: String,
}

impl SqsOutbox {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        SqsOutbox {
            client,
            url: url.into(),
        }
    }
}

fn failed(error: impl std::error::Error + 'static) -> OutboxError {
    OutboxError(DisplayErrorContext(error).to_string())
}

impl Outbox for SqsOutbox {
    async fn send(&self, envelope: &Envelope) -> Result<(), OutboxError> {
        let body = serde_json::to_string(envelope).map_err(|e| OutboxError(e.to_string()))?;
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .send()
            .await
            .map_err(failed)?;
        Ok(())
    }
}

/// What the `webhooks` function delivers with.
pub struct Deliveries {
    pub endpoint: Option<std::sync::Arc<Endpoint>>,
    pub schedule: Schedule,
    pub client: Client,
    /// The queue the messages come from (`WEBHOOK_QUEUE_URL`).
    pub queue_url: String,
    pub dead_letters: Option<SqsOutbox>,
}

impl Deliveries {
    /// Tries one queued delivery; its message id when the message must stay on the queue.
    pub async fn deliver(&self, message: SqsMessage) -> Option<String> {
        let id = message.message_id.clone().unwrap_or_default();
        let Some(envelope) = batch::body::<Envelope>(&message) else {
            tracing::error!(message_id = id, "a message that is no webhook event was dropped");
            return None;
        };
        let Some(endpoint) = &self.endpoint else {
            tracing::warn!(
                webhook_id = envelope.id,
                "WEBHOOK_URL is not set: the event was dropped"
            );
            return None;
        };
        let tried = batch::receive_count(&message);
        let attempt = endpoint.deliver(&envelope).await;
        let Some(wait) = self.schedule.next(tried, &attempt) else {
            ended(&envelope, tried, &attempt);
            if matches!(attempt, Attempt::Delivered(_)) {
                return None;
            }
            return self.dead_letter(&envelope, id).await;
        };
        retrying(&envelope, tried, &attempt, wait);
        if let Some(receipt) = &message.receipt_handle {
            let hidden = self
                .client
                .change_message_visibility()
                .queue_url(&self.queue_url)
                .receipt_handle(receipt)
                .visibility_timeout(wait.as_secs().max(1) as i32)
                .send()
                .await;
            if let Err(error) = hidden {
                // It comes back after the queue's own visibility timeout instead.
                tracing::warn!(error = %DisplayErrorContext(error), "could not set the webhook's retry wait");
            }
        }
        Some(id)
    }

    /// Keeps a delivery that ran out of tries on the dead-letter queue (or leaves it to the
    /// queue's redrive policy when that cannot be reached).
    async fn dead_letter(&self, envelope: &Envelope, id: String) -> Option<String> {
        let dead_letters = self.dead_letters.as_ref()?;
        match dead_letters.send(envelope).await {
            Ok(()) => None,
            Err(error) => {
                tracing::warn!(%error, webhook_id = envelope.id, "could not dead-letter the webhook");
                Some(id)
            }
        }
    }
}
