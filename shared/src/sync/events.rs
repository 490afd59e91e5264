//! What the `sync` function is invoked with: SQS batches of steps, the connections table's
//! stream (a new connection synced, a deleted one's items forgotten), and the schedule (the
//! finder's pass).

use std::time::{Duration, Instant};

use aws_lambda_events::sqs::SqsMessage;
use serde_json::Value;

use super::engine::Syncer;
use super::finder::sync_due;
use super::queue::StepMessage;
use crate::batch::{self, StreamRecord};
use crate::connections::ConnectionId;
use crate::error::Error;

/// A running sync whose record has not changed for this long lost its next message: no step
/// holds a lease that long (the function's timeout is well below it).
pub const STALLED: Duration = Duration::from_secs(15 * 60);

/// Handles one invocation; what failed is reported per record, so only it is retried.
pub async fn handle(syncer: &Syncer, mut event: Value, deadline: Option<Instant>) -> Value {
    // A batch has `Records`; anything else is the schedule (EventBridge's event, or none).
    let records = match event.get_mut("Records").map(Value::take) {
        Some(Value::Array(records)) => records,
        _ => {
            let found = sync_due(syncer, STALLED, deadline).await;
            tracing::info!(
                started = found.started,
                resumed = found.resumed,
                failed = found.failed,
                "sync finder"
            );
            return serde_json::to_value(found).unwrap_or_default();
        }
    };
    let mut failures = Vec::new();
    for record in records {
        let failed = match record["eventSource"].as_str() {
            Some("aws:sqs") => step(syncer, record, deadline).await,
            Some("aws:dynamodb") => connection_changed(syncer, record, deadline).await,
            other => {
                tracing::error!(source = other, "an event record of an unknown source was dropped");
                None
            }
        };
        failures.extend(failed);
    }
    batch::failures(failures)
}

/// Runs one step; its message id if it must be delivered again.
async fn step(syncer: &Syncer, record: Value, deadline: Option<Instant>) -> Option<String> {
    let message: SqsMessage = match serde_json::from_value(record) {
        Ok(message) => message,
        Err(error) => {
            tracing::error!(%error, "an SQS record that does not parse was dropped");
            return None;
        }
    };
    let id = message.message_id.clone().unwrap_or_default();
    let Some(step) = batch::body::<StepMessage>(&message) else {
        // Never a step of ours: retrying it cannot help.
        tracing::error!(message_id = id, "a message that is no sync step was dropped");
        return None;
    };
    let redelivered = batch::receive_count(&message) > 1;
    match syncer.step(&step, redelivered, deadline).await {
        Ok(outcome) => {
            tracing::debug!(?outcome, run = step.run, step = step.step, "sync step");
            None
        }
        Err(error) => {
            tracing::warn!(%error, run = step.run, step = step.step, "sync step failed: SQS delivers it again");
            Some(id)
        }
    }
}

/// What the connections table's stream says: a new connection is synced at once, a deleted
/// one's items are forgotten. Its sequence number if that must be tried again.
async fn connection_changed(syncer: &Syncer, record: Value, deadline: Option<Instant>) -> Option<String> {
    let record: StreamRecord = serde_json::from_value(record).ok()?;
    let key = record.dynamodb.keys.get("pk")?.get("S")?.as_str()?.to_owned();
    let id = ConnectionId::from_key(&key)?;
    let done = match record.event_name.as_str() {
        "INSERT" => syncer.start(&id, false).await.map(|_| ()),
        // A large account takes several invocations: the stream delivers the record again.
        "REMOVE" => match super::forget(syncer.items(), &key, deadline).await {
            Ok(true) => Ok(()),
            Ok(false) => return record.dynamodb.sequence_number,
            Err(error) => Err(error),
        },
        _ => return None,
    };
    match done {
        Ok(()) => None,
        // Gone again, or a provider this deployment no longer serves: nothing to retry.
        Err(Error::ConnectionNotFound | Error::UnknownProvider { .. }) => None,
        Err(error) => {
            tracing::warn!(%error, event = record.event_name, "could not act on a connection's change");
            record.dynamodb.sequence_number
        }
    }
}
