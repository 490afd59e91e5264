//! The queue of sync steps: SQS deployed ([`super::sqs`]), a task of `local-api`'s own locally.
//! A message names a step, never a token or a provider's cursor: those stay in the store.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::connections::ConnectionId;

/// One step of one sync of one connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepMessage {
    pub provider: String,
    pub org_id: String,
    pub user_id: String,
    pub run: u64,
    pub step: u64,
}

impl StepMessage {
    pub fn new(id: &ConnectionId, run: u64, step: u64) -> Self {
        StepMessage {
            provider: id.provider().to_owned(),
            org_id: id.org_id().to_owned(),
            user_id: id.user_id().to_owned(),
            run,
            step,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the sync queue refused a message: {0}")]
pub struct QueueError(pub String);

impl From<QueueError> for crate::Error {
    fn from(error: QueueError) -> Self {
        crate::Error::StoreUnavailable(crate::error::StoreError(error.to_string()))
    }
}

/// Where steps are sent to be run, each after its `delay` (a `Retry-After`, a backoff).
#[dynosaur::dynosaur(pub DynQueue = dyn(box) Queue)]
pub trait Queue: Send + Sync {
    fn send(
        &self,
        message: &StepMessage,
        delay: Duration,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;
}

pub type SharedQueue = Arc<DynQueue<'static>>;

/// `local-api`'s queue: a channel to the task that runs the steps ([`super::local::run`]).
pub struct LocalQueue(mpsc::UnboundedSender<(StepMessage, Duration)>);

/// What [`super::local::run`] reads.
pub type LocalReceiver = mpsc::UnboundedReceiver<(StepMessage, Duration)>;

impl LocalQueue {
    pub fn channel() -> (SharedQueue, LocalReceiver) {
        let (sender, receiver) = mpsc::unbounded_channel();
        (DynQueue::new_arc(LocalQueue(sender)), receiver)
    }
}

impl Queue for LocalQueue {
    async fn send(&self, message: &StepMessage, delay: Duration) -> Result<(), QueueError> {
        self.0
            .send((message.clone(), delay))
            .map_err(|_| QueueError("the local sync worker has stopped".into()))
    }
}
