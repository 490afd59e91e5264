//! What webhooks need, built once per process: the receiver and where events are handed over
//! (the webhooks queue deployed; locally, `local-api`'s delivery task, which also hears of every
//! write of the embedded store).

use std::sync::Arc;

use tokio::sync::mpsc;

use super::{Mode, Resources, StartupError};
use crate::connections::ConnectionChange;
use crate::sync::sqs::config_builder;
use crate::webhooks::local::LocalWebhooks;
use crate::webhooks::sqs::{Deliveries, SqsOutbox};
use crate::webhooks::{self, DynOutbox, Endpoint, Envelope, LocalOutbox, Schedule, SharedOutbox};

impl Resources {
    /// The app's receiver, when `WEBHOOK_URL` names one; settings that do not work stop the start.
    pub fn webhook_endpoint(&self) -> Result<Option<Arc<Endpoint>>, StartupError> {
        if let Some(endpoint) = self.webhook_endpoint.get() {
            return Ok(endpoint.clone());
        }
        let endpoint = Endpoint::new(&self.config.webhooks, self.http()?, self.mode == Mode::Local)?;
        Ok(self
            .webhook_endpoint
            .get_or_init(|| endpoint.map(Arc::new))
            .clone())
    }

    /// Where events are handed over: the queue `WEBHOOK_QUEUE_URL` names; locally, when a receiver
    /// is configured, the delivery task [`Resources::take_local_webhooks`] hands out.
    pub fn outbox(&self) -> Result<Option<SharedOutbox>, StartupError> {
        if let Some(outbox) = self.outbox.get() {
            return Ok(outbox.clone());
        }
        let outbox = match (&self.config.webhooks.queue_url, self.mode) {
            (Some(url), _) => Some(DynOutbox::new_arc(SqsOutbox::new(self.sqs()?, url))),
            (None, Mode::Lambda) => None,
            (None, Mode::Local) if self.webhook_endpoint()?.is_some() => {
                let (outbox, events) = LocalOutbox::channel();
                self.local_webhooks().1 = Some(events);
                Some(outbox)
            }
            (None, Mode::Local) => None,
        };
        Ok(self.outbox.get_or_init(|| outbox).clone())
    }

    /// Locally, with a receiver configured, where the embedded store tells its writes.
    #[cfg(feature = "embedded")]
    pub(super) fn store_watcher(
        &self,
    ) -> Result<Option<crate::connections::embedded::Watcher>, StartupError> {
        if self.webhook_endpoint()?.is_none() {
            return Ok(None);
        }
        let (watcher, changes) = mpsc::unbounded_channel();
        self.local_webhooks().0 = Some(changes);
        Ok(Some(watcher))
    }

    /// Locally, what [`crate::webhooks::local::run`] delivers; taken once.
    pub async fn take_local_webhooks(&self) -> Result<Option<LocalWebhooks>, StartupError> {
        let (Some(endpoint), _, _) = (self.webhook_endpoint()?, self.keeper().await?, self.outbox()?) else {
            return Ok(None);
        };
        let mut sources = self.local_webhooks();
        let Some(events) = sources.1.take() else {
            return Ok(None);
        };
        // Connections in DynamoDB (`CONNECTIONS_TABLE`) are not watched here: sync events only.
        let changes = sources.0.take().unwrap_or_else(|| mpsc::unbounded_channel().1);
        Ok(Some(LocalWebhooks {
            endpoint,
            schedule: self.schedule(),
            changes,
            events,
        }))
    }

    /// What the `webhooks` function runs with.
    pub fn webhooks_function(&self) -> Result<webhooks::Function, StartupError> {
        let settings = &self.config.webhooks;
        let (Some(queue_url), Some(outbox)) = (settings.queue_url.clone(), self.outbox()?) else {
            return Err(StartupError::MissingWebhookQueue);
        };
        let client = self.sqs()?;
        let dead_letters = settings
            .dead_letter_url
            .as_ref()
            .map(|url| SqsOutbox::new(client.clone(), url));
        Ok(webhooks::Function {
            deliveries: Deliveries {
                endpoint: self.webhook_endpoint()?,
                schedule: self.schedule(),
                client,
                queue_url,
                dead_letters,
            },
            outbox,
        })
    }

    fn schedule(&self) -> Schedule {
        Schedule::new(self.config.webhooks.retry_base)
    }

    /// The one SQS client (the step queue's and the webhooks queue's), over the HTTP client.
    pub(super) fn sqs(&self) -> Result<aws_sdk_sqs::Client, StartupError> {
        if let Some(client) = self.sqs.get() {
            return Ok(client.clone());
        }
        let client = aws_sdk_sqs::Client::from_conf(config_builder(self.http()?).build());
        Ok(self.sqs.get_or_init(|| client).clone())
    }

    fn local_webhooks(&self) -> std::sync::MutexGuard<'_, LocalSources> {
        self.local_webhooks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The receivers of the embedded store's writes and of the outbox, until taken.
pub(super) type LocalSources = (
    Option<mpsc::UnboundedReceiver<ConnectionChange>>,
    Option<mpsc::UnboundedReceiver<Envelope>>,
);
