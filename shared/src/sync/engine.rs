//! Starting a sync and running its steps.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::queue::{Queue, SharedQueue, StepMessage};
use super::record::{Counts, Phase, SyncRecord, SyncState};
use super::store::{ItemStore, SharedItems};
use super::write::Writer;
use crate::clock;
use crate::config::SyncSettings;
use crate::connections::ConnectionId;
use crate::error::{Error, Result};
use crate::keeper::Keeper;
use crate::providers::listing::{changes, Position};
use crate::providers::{Needs, Providers};
use crate::webhooks::SharedOutbox;

/// Writes to the sync record that lose to another writer before one is given up.
const WRITE_ATTEMPTS: usize = 5;

/// What became of a step's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Ran and committed; the sync goes on (`false`) or ended (`true`).
    Stepped { finished: bool },
    /// Sent again, later: throttled (`Retry-After`) or a transient failure.
    Deferred(Duration),
    /// The sync failed for good; the record says why.
    Failed,
    /// Not this message's turn (a repeat, a step already run, a sync gone): dropped.
    Stale,
}

pub struct Syncer {
    pub(super) keeper: Arc<Keeper>,
    pub(super) items: SharedItems,
    pub(super) queue: SharedQueue,
    pub(super) providers: Providers,
    pub(super) http: reqwest::Client,
    pub(super) settings: SyncSettings,
    /// This process's name on the leases it takes.
    pub(super) owner: String,
    /// Where a sync's end is told, when webhooks are configured.
    pub(super) webhooks: Option<SharedOutbox>,
}

impl Syncer {
    pub fn new(
        keeper: Arc<Keeper>,
        items: SharedItems,
        queue: SharedQueue,
        providers: Providers,
        http: reqwest::Client,
        settings: SyncSettings,
    ) -> Self {
        Syncer {
            keeper,
            items,
            queue,
            providers,
            http,
            settings,
            owner: format!("{:016x}", rand::random::<u64>()),
            webhooks: None,
        }
    }

    /// This syncer, telling each sync's end to `webhooks`.
    pub fn telling(mut self, webhooks: Option<SharedOutbox>) -> Self {
        self.webhooks = webhooks;
        self
    }

    pub fn items(&self) -> &SharedItems {
        &self.items
    }

    pub fn keeper(&self) -> &Arc<Keeper> {
        &self.keeper
    }

    pub fn settings(&self) -> &SyncSettings {
        &self.settings
    }

    /// Starts a sync of `id` unless one is running, which it answers instead; `full` reads
    /// everything (and finds deletions) even when changes alone could be read.
    pub async fn start(&self, id: &ConnectionId, full: bool) -> Result<SyncRecord> {
        // Only the steps call the provider.
        let provider = self.providers.get(id.provider(), Needs::NOTHING)?;
        let account = self.keeper.get(id).await?.account.and_then(|account| account.id);
        let key = id.key();
        for _ in 0..WRITE_ATTEMPTS {
            let stored = self.items.sync_record(&key).await?;
            if let Some(running) = stored
                .as_ref()
                .filter(|record| record.status == SyncState::Running)
            {
                return Ok(running.clone());
            }
            let expected = stored.as_ref().map(|record| record.version);
            let mut record = stored.unwrap_or_default();
            // A reconnect to another account (another workspace or portal) starts over.
            let full = full
                || record.watermark.is_none()
                || record.account != account
                || record.runs_since_full + 1 >= self.settings.full_every
                || !changes::incremental(provider);
            let now = clock::now_ms();
            record = SyncRecord {
                status: SyncState::Running,
                // Past any run of a connection that was deleted and made again under this key,
                // whose items a step in flight may still have written.
                run: (record.run + 1).max(now as u64),
                account: account.clone(),
                full,
                started_at: Some(now),
                finished_at: None,
                counts: Counts {
                    items: record.counts.items,
                    ..Counts::default()
                },
                error: None,
                step: 0,
                phase: Some(match (full, record.watermark) {
                    (false, Some(since)) => match changes::first(provider, 0, since) {
                        Some(delta) => Phase::Changes(delta),
                        None => Phase::Walk(Position::default()),
                    },
                    _ => Phase::Walk(Position::default()),
                }),
                lease_owner: None,
                lease_until: None,
                writing_since: None,
                failures: 0,
                updated_at: now,
                ..record
            };
            if !self.write(&key, &mut record, expected).await? {
                continue;
            }
            if let Err(error) = self
                .queue
                .send(&StepMessage::new(id, record.run, 0), Duration::ZERO)
                .await
            {
                self.fail(&key, record, "the sync could not be queued: try again".into())
                    .await?;
                return Err(error.into());
            }
            tracing::info!(run = record.run, full, "sync started");
            return Ok(record);
        }
        Err(Error::ConnectionChanging)
    }

    /// Marks a sync that never ran a step as failed, if nothing changed it since.
    async fn fail(&self, key: &str, record: SyncRecord, error: String) -> Result<()> {
        let failed = SyncRecord {
            status: SyncState::Failed,
            finished_at: Some(clock::now_ms()),
            error: Some(error),
            ..record.clone()
        };
        self.items
            .put_sync_record(key, &failed, Some(record.version))
            .await?;
        Ok(())
    }

    /// Sends the next step of a running sync again: one whose message was lost (a process died
    /// between its commit and its send). Touches the record first, so that one caller resends.
    pub async fn resume(&self, id: &ConnectionId, record: SyncRecord) -> Result<bool> {
        let key = id.key();
        let expected = record.version;
        let (run, step) = (record.run, record.step);
        let touched = SyncRecord {
            lease_owner: None,
            lease_until: None,
            updated_at: clock::now_ms(),
            ..record
        };
        if !self.items.put_sync_record(&key, &touched, Some(expected)).await? {
            return Ok(false);
        }
        self.queue
            .send(&StepMessage::new(id, run, step), Duration::ZERO)
            .await?;
        Ok(true)
    }

    /// Runs the step `message` names, if it is the sync's next one and nobody is running it.
    /// `redelivered`: the queue delivered it before (a step that crashed, or a send that failed).
    pub async fn step(
        &self,
        message: &StepMessage,
        redelivered: bool,
        deadline: Option<Instant>,
    ) -> Result<Outcome> {
        let id = ConnectionId::new(&message.provider, &message.org_id, &message.user_id)?;
        let key = id.key();
        let Some(mut record) = self.items.sync_record(&key).await? else {
            return Ok(Outcome::Stale);
        };
        if record.run != message.run || record.status != SyncState::Running {
            return Ok(Outcome::Stale);
        }
        let now = clock::now_ms();
        let leased = record.lease_owner.is_some() && record.lease_until.is_some_and(|until| until > now);
        if message.step != record.step || leased {
            // The step ran and committed, but its continuation may not have been sent.
            if redelivered && message.step + 1 == record.step && !leased {
                self.resume(&id, record).await?;
            }
            return Ok(Outcome::Stale);
        }
        let at = now.max(record.clock + 1);
        let claimed = record.version;
        record.lease_owner = Some(self.owner.clone());
        record.lease_until = Some(now + self.lease().as_millis() as i64);
        record.writing_since = Some(at);
        record.clock = at;
        record.updated_at = now;
        if !self.write(&key, &mut record, Some(claimed)).await? {
            return Ok(Outcome::Stale);
        }
        let writer = Writer {
            run: record.run,
            step: record.step,
            at,
        };
        let budget = Instant::now() + self.settings.step_time;
        let deadline = deadline.map_or(budget, |deadline| deadline.min(budget));
        let worked = self.work(&id, &record, writer, deadline).await;
        self.commit(&id, record, worked).await
    }

    /// Writes `record` if the stored one is still at `expected`, and gives it the version the
    /// store wrote it at.
    async fn write(&self, key: &str, record: &mut SyncRecord, expected: Option<u64>) -> Result<bool> {
        let written = self.items.put_sync_record(key, record, expected).await?;
        if written {
            record.version = expected.map_or(1, |version| version + 1);
        }
        Ok(written)
    }

    /// A lease outlives any step: its reads, its last page's writes, and the clocks'
    /// disagreement. (Deployed, the function's timeout is below it and SQS's visibility timeout
    /// above it, so a step whose process died is redelivered after its lease ran out.)
    fn lease(&self) -> Duration {
        self.settings.step_time * 3
    }
}
