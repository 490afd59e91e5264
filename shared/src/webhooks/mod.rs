//! Signed webhooks: the app hears of every change of a connection and of every sync's end.
//!
//! Events follow the Standard Webhooks specification (see [`deliver`]) and are delivered at
//! least once, in no set order. Deployed, connection events come from the connections table's
//! stream ([`stream`]) and sync events from the `sync` function, through one SQS queue that the
//! `webhooks` function delivers from ([`sqs`]); locally, from the embedded store's watcher and
//! the local syncer, delivered in process ([`local`]). Either way, with the same [`Schedule`].

mod deliver;
mod events;
pub mod local;
mod outbox;
mod schedule;
pub mod sqs;
pub mod stream;

use serde_json::Value;

pub use deliver::{Endpoint, SettingsError};
pub use events::{connection_event, Envelope, EVENT_TYPES, REFRESH_FAILURES};
pub use outbox::{DynOutbox, LocalOutbox, Outbox, OutboxError, SharedOutbox};
pub use schedule::{Attempt, Schedule, ATTEMPTS, REFUSED_ATTEMPTS};

/// What the `webhooks` function runs: deliveries off its queue, and the stream's records queued.
pub struct Function {
    pub deliveries: sqs::Deliveries,
    pub outbox: SharedOutbox,
}

/// Handles one invocation; what failed is reported per record, so only it is retried. A
/// batch's deliveries are tried at once (one slow receiver answer does not hold the others);
/// stream records in order.
pub async fn handle(function: &Function, mut event: Value) -> Value {
    let records = match event.get_mut("Records").map(Value::take) {
        Some(Value::Array(records)) => records,
        _ => Vec::new(),
    };
    let (messages, records): (Vec<Value>, Vec<Value>) = records
        .into_iter()
        .partition(|record| record["eventSource"] == "aws:sqs");
    let deliveries = messages.into_iter().map(|message| async move {
        match serde_json::from_value(message) {
            Ok(message) => function.deliveries.deliver(message).await,
            Err(error) => {
                tracing::error!(%error, "an SQS record that does not parse was dropped");
                None
            }
        }
    });
    let mut failures: Vec<String> = futures_util::future::join_all(deliveries)
        .await
        .into_iter()
        .flatten()
        .collect();
    for record in records {
        let failed = match record["eventSource"].as_str() {
            // No receiver configured: nothing to queue.
            Some("aws:dynamodb") if function.deliveries.endpoint.is_none() => None,
            Some("aws:dynamodb") => stream::connection_changed(&function.outbox, record).await,
            other => {
                tracing::error!(source = other, "an event record of an unknown source was dropped");
                None
            }
        };
        failures.extend(failed);
    }
    crate::batch::failures(failures)
}
