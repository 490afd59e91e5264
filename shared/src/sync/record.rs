//! A connection's sync record: the state of its current or last sync, and what the API shows of it.

use serde::{Deserialize, Serialize};

use crate::clock::rfc3339_ms;
use crate::providers::listing::changes::Delta;
use crate::providers::listing::Position;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum SyncState {
    #[default]
    Idle,
    Running,
    Failed,
}

/// What a sync found, counted once per change even when a step is retried.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Items kept for the connection, tombstones left out.
    pub items: u64,
    pub added: u64,
    pub changed: u64,
    pub deleted: u64,
}

impl Counts {
    pub fn add(&mut self, other: Counts) {
        self.items = (self.items + other.added).saturating_sub(other.deleted);
        self.added += other.added;
        self.changed += other.changed;
        self.deleted += other.deleted;
    }
}

/// Where a sync's next step starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Phase {
    /// Reading every item (a full sync, or a provider without change reads).
    Walk(Position),
    /// Reading what changed since the watermark.
    Changes(Delta),
    /// After a full walk: marking what it did not see as deleted, by item key from `after`,
    /// counting the live items so far.
    Sweep {
        after: Option<String>,
        #[serde(default)]
        live: u64,
    },
}

/// The stored state of a connection's syncs. Every change is a write conditional on `version`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncRecord {
    pub version: u64,
    pub status: SyncState,
    /// Syncs started so far; the current one's number.
    pub run: u64,
    pub full: bool,
    /// Unix ms.
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// When the last successful sync finished (unix ms): how fresh `/items` is.
    pub synced_at: Option<i64>,
    pub counts: Counts,
    pub error: Option<String>,
    /// The next step's number and where it starts.
    pub step: u64,
    pub phase: Option<Phase>,
    /// Provider modification time (unix ms) from which an incremental sync reads.
    pub watermark: Option<i64>,
    /// The feed time of the last step (unix ms): each step's is later, whatever the clocks.
    pub clock: i64,
    /// The feed time of the step in flight: `/items` shows only what is older.
    pub writing_since: Option<i64>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
    /// Transient failures in a row of the current step.
    pub failures: u32,
    pub runs_since_full: u32,
    /// The connected account the last sync read (a reconnect to another starts over in full).
    #[serde(default)]
    pub account: Option<String>,
    /// Unix ms of the last change: a running sync that stops changing is stalled.
    pub updated_at: i64,
}

impl SyncRecord {
    /// Ends the sync that just read its last page; the next incremental one reads from its start,
    /// less `skew_ms` (clocks at the provider disagree).
    pub(super) fn finish(&mut self, skew_ms: i64) {
        let now = self.updated_at;
        self.status = SyncState::Idle;
        self.finished_at = Some(now);
        // Never before the last version written: `modified_after` it then misses nothing.
        self.synced_at = Some(now.max(self.clock));
        self.watermark = self.started_at.map(|started| started - skew_ms);
        self.runs_since_full = if self.full { 0 } else { self.runs_since_full + 1 };
    }
}

/// A sync as `GET …/sync` shows it: never a token, nor a provider's cursor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SyncView {
    pub status: SyncState,
    pub full: bool,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// Items kept for the connection (tombstones left out).
    pub items: u64,
    pub added: u64,
    pub changed: u64,
    pub deleted: u64,
    pub error: Option<String>,
}

impl From<&SyncRecord> for SyncView {
    fn from(record: &SyncRecord) -> Self {
        SyncView {
            status: record.status,
            full: record.full,
            started_at: record.started_at.and_then(rfc3339_ms),
            finished_at: record.finished_at.and_then(rfc3339_ms),
            items: record.counts.items,
            added: record.counts.added,
            changed: record.counts.changed,
            deleted: record.counts.deleted,
            error: record.error.clone(),
        }
    }
}
