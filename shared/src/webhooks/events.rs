//! The events: what a connection's write means to the app (a sync's end is `sync::told`'s), as
//! the bodies that are signed and sent. A body never holds a token: its `data` is what
//! `GET …/connection` shows.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::clock;
use crate::connections::{Connection, ConnectionChange, Status};
use crate::keeper::Metadata;

/// Failed refreshes in a row after which `connection.refresh_failed` is sent (once, until one
/// works again).
pub const REFRESH_FAILURES: u32 = 3;

/// Every event type, and when it is sent (the OpenAPI document's `webhooks`).
pub const EVENT_TYPES: [(&str, &str); 8] = [
    ("connection.created", "A first consent was saved."),
    ("connection.reconnected", "A new consent for an existing connection (also one that needed reauthorization)."),
    ("connection.needs_reauthorization", "The provider refused the refresh token (`reason`: `refresh_token_refused`) or a token it had just issued (`access_token_refused`)."),
    ("connection.refresh_failed", "The third refresh in a row failed for now (`failures`); sent once, until one works."),
    ("connection.refresh_recovered", "A refresh worked after those failures, or landed after a `needs_reauthorization`."),
    ("connection.deleted", "A disconnect deleted it: `revoked`, and `revocation` as `DELETE …/connection` answers."),
    ("sync.completed", "A sync ended: the sync as `GET …/sync` shows it, with the connection's ids."),
    ("sync.failed", "A sync gave up: the same, with its `error`."),
];

/// One event as queued and delivered: the `webhook-id` (the same on every try) and the body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// The JSON body, exactly as signed.
    pub body: String,
}

impl Envelope {
    /// An event of a cause that happened at `at_ms` (unix ms), its `timestamp`. `seed` names the
    /// cause (a stream record, a sync's run): the same cause, the same id, so that a receiver can
    /// drop a repeat. Without one, the id is random.
    pub fn at(kind: &str, data: Value, seed: Option<&str>, at_ms: i64) -> Self {
        let id = match seed {
            Some(seed) => {
                let digest = Sha256::digest(format!("{seed}/{kind}").as_bytes());
                let hex: String = digest[..16].iter().map(|byte| format!("{byte:02x}")).collect();
                format!("msg_{hex}")
            }
            None => format!("msg_{:032x}", rand::random::<u128>()),
        };
        let body = json!({
            "type": kind,
            "timestamp": clock::rfc3339_ms(at_ms).unwrap_or_default(),
            "data": data,
        });
        Envelope {
            id,
            kind: kind.to_owned(),
            body: body.to_string(),
        }
    }
}

/// The event a write of a connection amounts to, if any: most writes (a lease taken, a token
/// refreshed) mean nothing to the app.
pub fn connection_event(change: &ConnectionChange, seed: Option<&str>) -> Option<Envelope> {
    let n = REFRESH_FAILURES;
    let (kind, connection, extra) = match (&change.old, &change.new) {
        (None, Some(new)) => ("connection.created", new, json!({})),
        (Some(old), None) => (
            "connection.deleted",
            old,
            json!({
                "revoked": old.revocation.as_deref() == Some("revoked"),
                "revocation": old.revocation,
            }),
        ),
        (Some(old), Some(new)) if new.consents != old.consents => ("connection.reconnected", new, json!({})),
        (Some(old), Some(new))
            if old.status == Status::Active && new.status == Status::NeedsReauthorization =>
        {
            let reason = new.reauthorization.as_deref().unwrap_or("refresh_token_refused");
            (
                "connection.needs_reauthorization",
                new,
                json!({ "reason": reason }),
            )
        }
        (Some(old), Some(new)) if old.refresh_failures < n && new.refresh_failures >= n => (
            "connection.refresh_failed",
            new,
            json!({ "failures": new.refresh_failures }),
        ),
        // A refresh that worked after those failures, or whose late commit revived a connection
        // marked meanwhile (its tokens newer than the refused ones).
        (Some(old), Some(new))
            if (old.refresh_failures >= n || old.status == Status::NeedsReauthorization)
                && new.status == Status::Active
                && new.refresh_failures == 0
                && new.version > old.version =>
        {
            ("connection.refresh_recovered", new, json!({}))
        }
        _ => return None,
    };
    Some(Envelope::at(kind, data(connection, extra), seed, change.at_ms))
}

/// The connection's metadata, with what the event adds.
fn data(connection: &Connection, extra: Value) -> Value {
    let mut data = match serde_json::to_value(Metadata::from(connection)) {
        Ok(Value::Object(fields)) => fields,
        _ => Map::new(),
    };
    if let Value::Object(extra) = extra {
        data.extend(extra);
    }
    Value::Object(data)
}
