//! The deployed queue of sync steps: an SQS queue whose messages drive the `sync` function.

use std::time::Duration;

use aws_sdk_sqs::Client;

use super::queue::{Queue, QueueError, StepMessage};
use crate::connections::dynamo::aws_config;

pub struct SqsQueue {
    client: Client,
    url: String,
}

impl SqsQueue {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        SqsQueue {
            client,
            url: url.into(),
        }
    }
}

/// The SQS client's configuration, as the DynamoDB one's (`AWS_ENDPOINT_URL_SQS` for an
/// emulator).
pub fn config_builder(http: reqwest::Client) -> aws_sdk_sqs::config::Builder {
    aws_config!(aws_sdk_sqs, http, "AWS_ENDPOINT_URL_SQS")
}

impl Queue for SqsQueue {
    async fn send(&self, message: &StepMessage, delay: Duration) -> Result<(), QueueError> {
        let body = serde_json::to_string(message).map_err(|e| QueueError(e.to_string()))?;
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .delay_seconds(delay.as_secs().min(900) as i32)
            .send()
            .await
            .map_err(|error| QueueError(aws_sdk_sqs::error::DisplayErrorContext(error).to_string()))?;
        Ok(())
    }
}
