//! `local-api`'s deliveries, in process: the embedded store's writes become events, each
//! delivered on its own task with the deployed schedule (`WEBHOOK_RETRY_BASE_MS` shortens it).
//! Nothing is kept across a restart: an event still being retried then is lost.

use std::sync::Arc;

use tokio::sync::mpsc::UnboundedReceiver;

use super::deliver::{ended, retrying, Endpoint};
use super::events::{connection_event, Envelope};
use super::schedule::Schedule;
use crate::connections::ConnectionChange;

/// What `local-api` runs: the receiver, the schedule, and the two sources of events.
pub struct LocalWebhooks {
    pub endpoint: Arc<Endpoint>,
    pub schedule: Schedule,
    pub changes: UnboundedReceiver<ConnectionChange>,
    pub events: UnboundedReceiver<Envelope>,
}

/// Runs until both sources close.
pub async fn run(mut webhooks: LocalWebhooks) {
    loop {
        let envelope = tokio::select! {
            Some(change) = webhooks.changes.recv() => match connection_event(&change, None) {
                Some(envelope) => envelope,
                None => continue,
            },
            Some(envelope) = webhooks.events.recv() => envelope,
            else => return,
        };
        tokio::spawn(deliver(webhooks.endpoint.clone(), webhooks.schedule, envelope));
    }
}

/// Tries until delivered or out of tries.
pub async fn deliver(endpoint: Arc<Endpoint>, schedule: Schedule, envelope: Envelope) {
    let mut tried = 0;
    loop {
        let attempt = endpoint.deliver(&envelope).await;
        tried += 1;
        match schedule.next(tried, &attempt) {
            Some(wait) => {
                retrying(&envelope, tried, &attempt, wait);
                tokio::time::sleep(wait).await;
            }
            None => return ended(&envelope, tried, &attempt),
        }
    }
}
