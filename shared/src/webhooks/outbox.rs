//! Where events are handed over to be delivered: the webhooks queue deployed ([`super::sqs`]),
//! `local-api`'s own delivery task locally ([`super::local`]).

use std::future::Future;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::events::Envelope;

#[derive(Debug, thiserror::Error)]
#[error("the webhooks queue refused an event: {0}")]
pub struct OutboxError(pub String);

#[dynosaur::dynosaur(pub DynOutbox = dyn(box) Outbox)]
pub trait Outbox: Send + Sync {
    fn send(&self, envelope: &Envelope) -> impl Future<Output = Result<(), OutboxError>> + Send;
}

pub type SharedOutbox = Arc<DynOutbox<'static>>;

/// `local-api`'s outbox: a channel to its delivery task.
pub struct LocalOutbox(mpsc::UnboundedSender<Envelope>);

impl LocalOutbox {
    pub fn channel() -> (SharedOutbox, mpsc::UnboundedReceiver<Envelope>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        (DynOutbox::new_arc(LocalOutbox(sender)), receiver)
    }
}

impl Outbox for LocalOutbox {
    async fn send(&self, envelope: &Envelope) -> Result<(), OutboxError> {
        self.0
            .send(envelope.clone())
            .map_err(|_| OutboxError("the local delivery task has stopped".into()))
    }
}
