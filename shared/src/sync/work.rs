//! A step's work (provider pages read from the sync's phase and written, until the step's pages
//! or time run out) and its end: progress committed, or the failure retried or reported.

use std::time::{Duration, Instant};

use super::engine::{Outcome, Syncer};
use super::queue::{Queue, StepMessage};
use super::record::{Counts, Phase, SyncRecord, SyncState};
use super::store::ItemStore;
use super::write::{record_listed, sweep, Writer};
use crate::clock;
use crate::connections::ConnectionId;
use crate::error::{Error, Result};
use crate::providers::listing::{self, changes, Walk};
use crate::providers::{Needs, Provider};
use crate::upstream::{Api, RateLimit};

/// Kept items read per sweep page.
const SWEEP_PAGE: usize = 500;
/// Objects asked of the provider per page.
const PROVIDER_PAGE: usize = 100;
/// How far before a sync's start its successor reads changes from: what clocks may disagree
/// by, and Notion's minute-rounded times.
const WATERMARK_SKEW_MS: i64 = 5 * 60 * 1000;
/// Transient failures in a row after which a sync is failed rather than retried.
const MAX_FAILURES: u32 = 5;
/// The longest delay SQS takes.
const MAX_DELAY: Duration = Duration::from_secs(900);

/// What a step did: where the sync goes on (`None`: it is done), what it counted, the exact
/// total when its sweep ended, and the failure that ended it early, if one did.
pub(super) struct Worked {
    phase: Option<Phase>,
    counts: Counts,
    live: Option<u64>,
    error: Option<Error>,
}

/// What one page did.
struct Paged {
    next: Option<Phase>,
    counts: Counts,
    live: Option<u64>,
}

impl Paged {
    fn on(next: Option<Phase>, counts: Counts) -> Self {
        Paged {
            next,
            counts,
            live: None,
        }
    }
}

impl Syncer {
    /// Ends a step: its progress committed, or its failure handled.
    pub(super) async fn commit(
        &self,
        id: &ConnectionId,
        mut record: SyncRecord,
        worked: Worked,
    ) -> Result<Outcome> {
        let key = id.key();
        let expected = record.version;
        record.lease_owner = None;
        record.lease_until = None;
        record.writing_since = None;
        record.updated_at = clock::now_ms();
        // What the step read and wrote before any failure is kept: a retry goes on from there.
        record.counts.add(worked.counts);
        if let Some(live) = worked.live {
            record.counts.items = live;
        }
        record.phase = worked.phase;
        record.step += 1;
        let outcome = match worked.error {
            None => {
                record.failures = 0;
                let finished = record.phase.is_none();
                if finished {
                    record.finish(WATERMARK_SKEW_MS);
                }
                Outcome::Stepped { finished }
            }
            Some(error) => match self.retry_after(&error, record.failures) {
                Some((delay, failure)) => {
                    record.failures += u32::from(failure);
                    tracing::warn!(run = record.run, step = record.step, delay_s = delay.as_secs(), error = %error, "sync step deferred");
                    Outcome::Deferred(delay)
                }
                None => {
                    tracing::warn!(run = record.run, step = record.step, error = %error, "sync failed");
                    record.status = SyncState::Failed;
                    record.finished_at = Some(record.updated_at);
                    record.error = Some(error.to_string());
                    Outcome::Failed
                }
            },
        };
        if !self.items.put_sync_record(&key, &record, Some(expected)).await? {
            // Our lease ran out and another step took over: what it commits stands.
            return Ok(Outcome::Stale);
        }
        let next = StepMessage::new(id, record.run, record.step);
        match outcome {
            Outcome::Stepped { finished: false } => self.queue.send(&next, Duration::ZERO).await?,
            Outcome::Deferred(delay) => self.queue.send(&next, delay).await?,
            Outcome::Failed => self.tell(id, &record).await,
            Outcome::Stepped { finished: true } => {
                self.tell(id, &record).await;
                tracing::info!(
                    run = record.run,
                    added = record.counts.added,
                    changed = record.counts.changed,
                    deleted = record.counts.deleted,
                    items = record.counts.items,
                    "sync finished"
                );
            }
            _ => {}
        }
        Ok(outcome)
    }

    /// How long to wait before a failed step runs again, and whether that counts towards giving
    /// up; `None`: it will not run again.
    pub(super) fn retry_after(&self, error: &Error, failures: u32) -> Option<(Duration, bool)> {
        let transient = matches!(
            error,
            Error::ProviderFailed { .. }
                | Error::ProviderTimeout { .. }
                | Error::StoreUnavailable(_)
                | Error::RefreshInProgress
                | Error::NoTimeToRefresh
                | Error::DeadlineExceeded
        );
        match error {
            // A provider asking us to slow down is no failure: it does not count towards giving up.
            Error::ProviderThrottled { retry_after, .. } => Some((
                Duration::from_secs(retry_after.unwrap_or(1).max(1)).min(MAX_DELAY),
                false,
            )),
            _ if transient && failures + 1 < MAX_FAILURES => Some((
                (self.settings.retry_base * 2u32.pow(failures)).min(MAX_DELAY),
                true,
            )),
            _ => None,
        }
    }

    /// Reads and writes from the record's phase until the step's pages or time run out; where
    /// the sync goes on (`None`: it is done) and what the step counted.
    pub(super) async fn work(
        &self,
        id: &ConnectionId,
        record: &SyncRecord,
        writer: Writer,
        deadline: Instant,
    ) -> Worked {
        let mut worked = Worked {
            phase: record.phase.clone(),
            counts: Counts::default(),
            live: None,
            error: None,
        };
        if let Err(error) = self.read_pages(id, record, writer, deadline, &mut worked).await {
            worked.error = Some(error);
        }
        worked
    }

    async fn read_pages(
        &self,
        id: &ConnectionId,
        record: &SyncRecord,
        writer: Writer,
        deadline: Instant,
        worked: &mut Worked,
    ) -> Result<()> {
        let provider = self.providers.get(id.provider(), Needs::CLIENT)?;
        let mut fresh = self.keeper.tokens(provider, id, false, Some(deadline)).await?;
        let key = id.key();
        // One pace for all of the step's pages.
        let pace = paced(provider);
        let mut pages = 0;
        let (mut slowest, mut retried) = (Duration::ZERO, fresh.refreshed);
        while let Some(at) = worked.phase.clone() {
            if pages >= self.settings.step_pages || Instant::now() + slowest * 2 > deadline {
                break;
            }
            let started = Instant::now();
            let api = provider
                .api(&self.http, &fresh.tokens.access_token)
                .with_rate_limit(pace.clone());
            match self.page(provider, &api, &key, record, at, writer).await {
                Ok(paged) => {
                    worked.counts.add(paged.counts);
                    worked.phase = paged.next;
                    worked.live = paged.live.or(worked.live);
                    pages += 1;
                }
                // A token that stopped working mid-sync: refreshed once, then the grant is dead.
                Err(Error::ProviderUnauthorized { .. }) if !retried => {
                    fresh = self.keeper.tokens(provider, id, true, Some(deadline)).await?;
                    retried = true;
                }
                Err(Error::ProviderUnauthorized { reason, .. }) => {
                    let keeper = &self.keeper;
                    return Err(keeper
                        .refused_fresh_tokens(provider, id, fresh.version, &reason)
                        .await);
                }
                Err(error) => return Err(error),
            }
            slowest = slowest.max(started.elapsed());
        }
        Ok(())
    }

    /// One provider page (or sweep page) from `at`, written.
    async fn page(
        &self,
        provider: &Provider,
        api: &Api<'_>,
        key: &str,
        record: &SyncRecord,
        at: Phase,
        writer: Writer,
    ) -> Result<Paged> {
        let store = &*self.items;
        match at {
            Phase::Walk(position) => {
                // Only a full sync walks: a provider without change reads always syncs in full.
                let walk = Walk {
                    limit: usize::MAX / 2,
                    size: PROVIDER_PAGE,
                    max_steps: 1,
                    deadline: None,
                };
                let (items, next) = listing::page(api, provider, position, 0, walk).await?;
                let counts = record_listed(store, key, items, writer).await?;
                let next = match next {
                    Some((position, _)) => Some(Phase::Walk(position)),
                    None => Some(Phase::Sweep { after: None, live: 0 }),
                };
                Ok(Paged::on(next, counts))
            }
            Phase::Changes(delta) => {
                let since = record.watermark.unwrap_or_default();
                let (items, next) = changes::step(api, provider, delta, since, PROVIDER_PAGE).await?;
                let counts = record_listed(store, key, items, writer).await?;
                Ok(Paged::on(next.map(Phase::Changes), counts))
            }
            Phase::Sweep { after, live } => {
                let page = store.by_id(key, after.as_deref(), SWEEP_PAGE).await?;
                let purge_before = writer.at - i64::from(self.settings.tombstone_days) * 86_400_000;
                let (counts, on_page) = sweep(store, key, &page, writer, purge_before).await?;
                let live = live + on_page;
                match page.last().filter(|_| page.len() == SWEEP_PAGE) {
                    Some(last) => Ok(Paged::on(
                        Some(Phase::Sweep {
                            after: Some(last.id.clone()),
                            live,
                        }),
                        counts,
                    )),
                    // Every kept item was looked at: the total is known exactly.
                    None => Ok(Paged {
                        next: None,
                        counts,
                        live: Some(live),
                    }),
                }
            }
        }
    }
}

/// A provider's API for a sync: its requests spread evenly over the provider's documented rate,
/// so that steps one after the other, wherever they run, stay within it.
fn paced(provider: &Provider) -> Option<RateLimit> {
    provider
        .spec
        .rate_limit
        .map(|(max, window)| RateLimit::new(1, window / max.max(1) as u32))
}
