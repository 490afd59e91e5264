//! A sync's end told to the app: `sync.completed` (with its counts) or `sync.failed` (with its
//! error), sent once the record says so. Sent after that commit: a process that dies between the
//! two loses the event (the sync's state stays readable at `GET …/sync`).

use serde_json::{json, Value};

use super::engine::Syncer;
use super::record::{SyncRecord, SyncState, SyncView};
use crate::connections::ConnectionId;
use crate::webhooks::{Envelope, Outbox};

impl Syncer {
    pub(super) async fn tell(&self, id: &ConnectionId, record: &SyncRecord) {
        let Some(outbox) = &self.webhooks else {
            return;
        };
        let envelope = sync_event(id, record);
        if let Err(error) = outbox.send(&envelope).await {
            tracing::error!(%error, webhook_id = envelope.id, r#type = envelope.kind, "a sync's event was lost");
        }
    }
}

/// The connection's ids and the sync as `GET …/sync` shows it; the id is the run's.
fn sync_event(id: &ConnectionId, record: &SyncRecord) -> Envelope {
    let kind = match record.status {
        SyncState::Failed => "sync.failed",
        _ => "sync.completed",
    };
    let mut data = json!({
        "provider": id.provider(),
        "org_id": id.org_id(),
        "user_id": id.user_id(),
    });
    if let (Value::Object(data), Ok(Value::Object(view))) =
        (&mut data, serde_json::to_value(SyncView::from(record)))
    {
        data.extend(view);
    }
    let seed = format!("{}/sync/{}", id.key(), record.run);
    Envelope::at(
        kind,
        data,
        Some(&seed),
        record.finished_at.unwrap_or(record.updated_at),
    )
}
