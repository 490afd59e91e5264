//! Background syncs of kept connections: each sync is a chain of bounded steps on a queue (SQS
//! deployed), each step reading a few provider pages and writing what changed to the items store
//! (DynamoDB deployed, redb locally), so an account of any size syncs and `/items` reads it in
//! milliseconds.
//!
//! The sync record is the one source of truth: a step runs only if it is the record's next one,
//! holds the record's lease while it runs, and commits its position and counts in one write
//! conditional on the version it claimed. A message delivered twice, or a step run again after a
//! crash, changes nothing twice.

pub mod dynamo;
#[cfg(feature = "embedded")]
pub mod embedded;
mod engine;
pub mod events;
mod feed;
pub mod finder;
pub mod local;
pub mod queue;
pub mod record;
pub mod sqs;
pub mod store;
mod told;
mod work;
mod write;

pub use engine::{Outcome, Syncer};
pub use feed::{items_page, FeedItem, ItemsPage, ItemsQuery, DEFAULT_ITEMS_LIMIT, MAX_ITEMS_LIMIT};
pub use queue::{DynQueue, LocalQueue, Queue, QueueError, SharedQueue, StepMessage};
pub use record::{SyncRecord, SyncState, SyncView};
pub use store::{shared, DynItemStore, ItemStore, ItemStoreError, SharedItems, StoredItem};

use crate::connections::ConnectionId;
use crate::error::Result;
use crate::providers::Needs;

/// What the sync worker reads of each provider: the API, and the client for a refresh.
pub const NEEDS: Needs = Needs::API.and(Needs::CLIENT);

/// The sync of a connection as `GET …/sync` shows it; `None` before its first.
pub async fn status(items: &SharedItems, id: &ConnectionId) -> Result<Option<SyncView>> {
    Ok(items.sync_record(&id.key()).await?.as_ref().map(SyncView::from))
}

/// Items deleted per write when a connection's items are forgotten.
const FORGET_PAGE: usize = 500;

/// Deletes the sync record and the items of a deleted connection (by its key) until none is
/// left (`true`) or `deadline` comes (`false`: call again).
pub async fn forget(
    items: &SharedItems,
    connection: &str,
    deadline: Option<std::time::Instant>,
) -> Result<bool> {
    loop {
        if items.forget(connection, FORGET_PAGE).await? {
            return Ok(true);
        }
        if deadline.is_some_and(|deadline| std::time::Instant::now() >= deadline) {
            return Ok(false);
        }
    }
}
