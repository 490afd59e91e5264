//! What syncs need, built once per process: the items store, the queue of steps, the syncer.

use std::sync::Arc;

use super::{Mode, Resources, StartupError};
use crate::sync::dynamo::DynamoItems;
use crate::sync::queue::LocalReceiver;
use crate::sync::sqs::SqsQueue;
use crate::sync::{self, LocalQueue, SharedItems, SharedQueue, Syncer};

impl Resources {
    /// Where synced items are kept: DynamoDB with `ITEMS_TABLE`; locally, a redb file under
    /// `DATA_DIR`; on Lambda without a table, nowhere.
    pub async fn items(&self) -> Result<Option<SharedItems>, StartupError> {
        self.items
            .get_or_try_init(|| async {
                match (&self.config.items_table, self.mode) {
                    (Some(table), _) => {
                        let items =
                            DynamoItems::from_env(table, self.config.sync.tombstone_days, self.http()?);
                        Ok(Some(sync::shared(items)))
                    }
                    (None, Mode::Lambda) => Ok(None),
                    (None, Mode::Local) => self.embedded_items().map(Some),
                }
            })
            .await
            .cloned()
    }

    #[cfg(feature = "embedded")]
    fn embedded_items(&self) -> Result<SharedItems, StartupError> {
        crate::sync::embedded::EmbeddedItems::open(self.data_file("items.redb")?)
            .map(sync::shared)
            .map_err(|e| StartupError::Items(e.to_string()))
    }

    #[cfg(not(feature = "embedded"))]
    fn embedded_items(&self) -> Result<SharedItems, StartupError> {
        Err(StartupError::MissingSync)
    }

    /// The queue of sync steps: SQS with `SYNC_QUEUE_URL`; locally, the process's own.
    fn queue(&self) -> Result<Option<SharedQueue>, StartupError> {
        if let Some(queue) = self.queue.get() {
            return Ok(queue.clone());
        }
        let queue = match (&self.config.sync_queue_url, self.mode) {
            (Some(url), _) => Some(sync::DynQueue::new_arc(SqsQueue::new(self.sqs()?, url))),
            (None, Mode::Lambda) => None,
            (None, Mode::Local) => {
                let (queue, receiver) = LocalQueue::channel();
                *self.local_sync() = Some(receiver);
                Some(queue)
            }
        };
        Ok(self.queue.get_or_init(|| queue).clone())
    }

    /// What starts and runs syncs, when this process has an items store and a queue.
    pub async fn syncer(&self) -> Result<Option<Arc<Syncer>>, StartupError> {
        self.syncer
            .get_or_try_init(|| async {
                let (Some(keeper), Some(items), Some(queue)) =
                    (self.keeper().await?, self.items().await?, self.queue()?)
                else {
                    return Ok(None);
                };
                let config = &self.config;
                let syncer = Syncer::new(
                    keeper,
                    items,
                    queue,
                    config.providers.clone(),
                    self.http()?,
                    config.sync.clone(),
                )
                .telling(self.outbox()?);
                Ok(Some(Arc::new(syncer)))
            })
            .await
            .cloned()
    }

    /// Locally, the steps queued so far and from now on, for the process to run
    /// ([`crate::sync::local::run`]); taken once.
    pub fn take_local_sync(&self) -> Option<LocalReceiver> {
        self.local_sync().take()
    }

    fn local_sync(&self) -> std::sync::MutexGuard<'_, Option<LocalReceiver>> {
        self.local_sync
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
