//! The scheduled finder: starts the syncs that are due (a connection never synced, or synced
//! `SYNC_INTERVAL_SECS` ago) and sends again the next step of a sync that stopped moving (its
//! message lost with a process that died between its commit and its send).

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde::Serialize;

use super::engine::Syncer;
use super::record::{SyncRecord, SyncState};
use super::store::ItemStore;
use crate::clock;
use crate::connections::{self, Connection, ConnectionStore};
use crate::error::Result;

/// Connections looked at concurrently.
const CONCURRENCY: usize = 8;

/// What one pass did; logged as one line and returned to the scheduler.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Found {
    pub started: usize,
    pub resumed: usize,
    /// Could not be started or resumed (the store or the queue failed): left for the next pass.
    pub failed: usize,
}

/// What to do with a connection.
enum Due {
    Start,
    Resume(Box<SyncRecord>),
    Nothing,
}

/// One pass over every connection; a sync running with no change for `stalled` is resumed.
pub async fn sync_due(syncer: &Syncer, stalled: Duration, deadline: Option<Instant>) -> Found {
    let mut found = Found::default();
    let mut cursor: Option<String> = None;
    loop {
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            break;
        }
        let page = syncer
            .keeper()
            .connections()
            .every(connections::MAX_PAGE, cursor.as_deref())
            .await;
        let (page, next) = match page {
            Ok(page) => page,
            Err(error) => {
                tracing::error!(%error, "the sync finder could not list connections");
                found.failed += 1;
                break;
            }
        };
        let outcomes: Vec<Result<Option<bool>>> = futures_util::stream::iter(page)
            .map(|connection| look_at(syncer, connection, stalled))
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        for outcome in outcomes {
            match outcome {
                Ok(Some(true)) => found.started += 1,
                Ok(Some(false)) => found.resumed += 1,
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(%error, "the sync finder could not start a sync");
                    found.failed += 1;
                }
            }
        }
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    found
}

/// `Some(true)`: started; `Some(false)`: resumed.
async fn look_at(syncer: &Syncer, connection: Connection, stalled: Duration) -> Result<Option<bool>> {
    if connection.status != connections::Status::Active {
        return Ok(None);
    }
    let id = &connection.id;
    let record = syncer.items().sync_record(&id.key()).await?;
    let now = clock::now_ms();
    let interval = syncer.settings().interval.as_millis() as i64;
    let due = match record {
        None => Due::Start,
        Some(record) if record.status == SyncState::Running => {
            if now - record.updated_at >= stalled.as_millis() as i64 {
                Due::Resume(Box::new(record))
            } else {
                Due::Nothing
            }
        }
        Some(record) if record.finished_at.is_none_or(|at| at + interval <= now) => Due::Start,
        Some(_) => Due::Nothing,
    };
    match due {
        Due::Start => syncer.start(id, false).await.map(|_| Some(true)),
        Due::Resume(record) => Ok(syncer.resume(id, *record).await?.then_some(false)),
        Due::Nothing => Ok(None),
    }
}
