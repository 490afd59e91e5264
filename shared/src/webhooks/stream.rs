//! The connections table's stream (`NEW_AND_OLD_IMAGES`) as the source of connection events:
//! every committed write reaches the `webhooks` function, which queues the event it means. A
//! record is read again until its event is queued, so nothing written is missed; its id comes
//! from the record, so a record read twice queues the same `webhook-id` twice.

use serde_json::Value;

use super::events::connection_event;
use super::outbox::{Outbox, SharedOutbox};
use crate::batch::StreamRecord;
use crate::connections::dynamo::connection_from_image;
use crate::connections::ConnectionChange;

/// Queues the event of one stream record; its sequence number if it must be read again.
pub async fn connection_changed(outbox: &SharedOutbox, record: Value) -> Option<String> {
    let Ok(record) = serde_json::from_value::<StreamRecord>(record) else {
        tracing::error!("a stream record that does not parse was dropped");
        return None;
    };
    let image = |image: &Option<Value>| image.as_ref().map(connection_from_image).transpose();
    let change = match (
        image(&record.dynamodb.old_image),
        image(&record.dynamodb.new_image),
    ) {
        (Ok(old), Ok(new)) => ConnectionChange {
            old,
            new,
            at_ms: record
                .dynamodb
                .written_at
                .map_or_else(crate::clock::now_ms, |seconds| (seconds * 1000.0) as i64),
        },
        _ => {
            tracing::error!("a stream record whose images are no connections was dropped");
            return None;
        }
    };
    let seed = record
        .event_id
        .or_else(|| record.dynamodb.sequence_number.clone());
    let envelope = connection_event(&change, seed.as_deref())?;
    match outbox.send(&envelope).await {
        Ok(()) => None,
        Err(error) => {
            tracing::warn!(%error, webhook_id = envelope.id, "could not queue a connection event: the stream hands it over again");
            record.dynamodb.sequence_number
        }
    }
}
