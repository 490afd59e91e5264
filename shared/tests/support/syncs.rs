//! Background syncs through the API, as the tests and the sync bench drive them: a deployment
//! whose steps go to a queue the caller drains (as SQS would deliver them), with the items in
//! redb or in DynamoDB (moto).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::StatusCode;
use integrations::connections::{self, DynamoStore, EmbeddedStore, SharedStore};
use integrations::resources::Resources;
use integrations::single_use::{MemoryBackend, SingleUse};
use integrations::sync::dynamo::DynamoItems;
use integrations::sync::embedded::EmbeddedItems;
use integrations::sync::{self, DynQueue, Outcome, Queue, QueueError, SharedItems, StepMessage, Syncer};
use integrations::{App, Function};
use serde_json::Value;
use wiremock::MockServer;

use super::{call, config, form, request, sealer, unique};

/// The steps a sync sent, with their delays: the test delivers them.
#[derive(Clone, Default)]
pub struct Recorded(Arc<Mutex<VecDeque<(StepMessage, Duration)>>>);

impl Queue for Recorded {
    async fn send(&self, message: &StepMessage, delay: Duration) -> Result<(), QueueError> {
        self.0.lock().unwrap().push_back((message.clone(), delay));
        Ok(())
    }
}

impl Recorded {
    pub fn pop(&self) -> Option<(StepMessage, Duration)> {
        self.0.lock().unwrap().pop_front()
    }

    pub fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

#[derive(Clone, Copy, Debug)]
pub enum Items {
    Redb,
    Dynamo,
}

pub struct Deployment {
    pub app: App,
    pub syncer: Arc<Syncer>,
    pub queue: Recorded,
    pub fake: MockServer,
    /// With `WEBHOOK_URL` among the settings: what the syncer tells, for the test to deliver.
    pub webhooks: Option<integrations::webhooks::local::LocalWebhooks>,
}

/// Connections and items in redb files (as `local-api` keeps them), or in moto's DynamoDB (as
/// the functions do).
pub async fn stores(kind: Items) -> (SharedStore, SharedItems) {
    match kind {
        Items::Redb => {
            let dir = std::env::temp_dir().join(unique("sync"));
            std::fs::create_dir_all(&dir).unwrap();
            let kept = EmbeddedStore::open(dir.join("connections.redb"), sealer()).unwrap();
            let items = EmbeddedItems::open(dir.join("items.redb")).unwrap();
            (connections::shared(kept), sync::shared(items))
        }
        Items::Dynamo => {
            let client = super::moto::client().await;
            let table = super::moto::create_table(&client).await;
            let items = super::moto::create_items_table(&client).await;
            (
                connections::shared(DynamoStore::new(client.clone(), table, sealer())),
                sync::shared(DynamoItems::new(client, items, 30)),
            )
        }
    }
}

pub async fn deployment(kind: Items, extra: &[(&str, &str)]) -> Deployment {
    let fake = MockServer::start().await;
    let (connections, items) = stores(kind).await;
    let queue = Recorded::default();
    let resources = Resources::with_stores(
        config(&fake.uri(), extra),
        SingleUse::new(MemoryBackend::default(), sealer()),
        Some(connections),
    )
    .with_sync(items, DynQueue::new_arc(queue.clone()));
    let app = App::build(&resources).await.unwrap();
    let syncer = resources
        .syncer()
        .await
        .unwrap()
        .expect("a syncer over the test's stores");
    Deployment {
        app,
        syncer,
        queue,
        fake,
        webhooks: resources.take_local_webhooks().await.unwrap(),
    }
}

impl Deployment {
    /// Delivers every step sent, as SQS would (after its delay), until none is left; the
    /// outcomes in order.
    pub async fn drain(&self) -> Vec<Outcome> {
        let mut outcomes = Vec::new();
        while let Some((message, delay)) = self.queue.pop() {
            tokio::time::sleep(delay).await;
            outcomes.push(self.syncer.step(&message, false, None).await.unwrap());
        }
        outcomes
    }

    pub async fn start(&self, provider: &str, who: &(String, String), full: bool) -> Value {
        let full = if full { "true" } else { "false" };
        let request = form(
            provider,
            Function::StartSync,
            &[("user_id", &who.0), ("org_id", &who.1), ("full", full)],
        );
        let (status, body) = call(&self.app, Function::StartSync, request).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        body
    }

    pub async fn status(&self, provider: &str, who: &(String, String)) -> Value {
        let query = format!("org_id={}&user_id={}", who.1, who.0);
        let (status, body) = call(
            &self.app,
            Function::SyncStatus,
            get(provider, Function::SyncStatus, &query),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    pub async fn items(&self, provider: &str, who: &(String, String), extra: &str) -> (StatusCode, Value) {
        let query = format!("org_id={}&user_id={}{extra}", who.1, who.0);
        call(&self.app, Function::Items, get(provider, Function::Items, &query)).await
    }

    /// Every item `/items` hands out from `extra`'s start, page after page of `limit`.
    pub async fn every_item(
        &self,
        provider: &str,
        who: &(String, String),
        extra: &str,
        limit: usize,
    ) -> Vec<Value> {
        let (mut all, mut cursor) = (Vec::new(), None::<String>);
        loop {
            let paging = match &cursor {
                Some(cursor) => format!("{extra}&limit={limit}&cursor={cursor}"),
                None => format!("{extra}&limit={limit}"),
            };
            let (status, page) = self.items(provider, who, &paging).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            let items = page["items"].as_array().unwrap();
            assert!(items.len() <= limit);
            all.extend(items.iter().cloned());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return all,
            }
        }
    }
}

/// A `GET` with a query string, as API Gateway hands it over.
pub fn get(provider: &str, function: Function, query: &str) -> lambda_http::Request {
    request(
        http::Method::GET,
        provider,
        function,
        &format!("?{query}"),
        None,
        lambda_http::Body::Empty,
    )
}

pub fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}
