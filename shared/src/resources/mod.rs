//! What a process builds once and every invocation reuses, built only when a handler asks for it:
//! the `load` function never connects to Redis nor needs an encryption key.

use std::sync::{Arc, OnceLock};

use tokio::sync::OnceCell;

use crate::config::Config;
use crate::connections::{self, DynamoStore, SharedStore};
use crate::crypto::{KeyError, Sealer};
use crate::error::StoreError;
use crate::keeper::Keeper;
use crate::single_use::{MemoryBackend, RedisBackend, SingleUse};
use crate::sync::queue::LocalReceiver;
use crate::sync::{SharedItems, SharedQueue, Syncer};

mod syncs;
mod webhooks;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("REDIS_URL is not set: the functions keep OAuth state in Redis (redis:// or rediss://)")]
    MissingRedisUrl,
    #[error("TOKEN_ENCRYPTION_KEY is not set: generate a key with `openssl rand -base64 32`")]
    MissingEncryptionKey,
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("could not build the HTTP client: {0}")]
    Http(String),
    #[error("CONNECTIONS_TABLE is not set: this function keeps connections in DynamoDB")]
    MissingConnectionsTable,
    #[error("the connections store cannot open: {0}")]
    Connections(String),
    #[error("the items store cannot open: {0}")]
    Items(String),
    #[error(
        "ITEMS_TABLE and SYNC_QUEUE_URL are not set: this function syncs items through DynamoDB and SQS"
    )]
    MissingSync,
    #[error(transparent)]
    Webhooks(#[from] crate::webhooks::SettingsError),
    #[error("WEBHOOK_QUEUE_URL is not set: this function delivers the webhooks queue's events")]
    MissingWebhookQueue,
}

/// Where the process runs decides what a missing setting means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A Lambda function: Redis and an encryption key are required, redirect URIs explicit.
    Lambda,
    /// `local-api`: the in-process store without `REDIS_URL`, a throwaway key without one.
    Local,
}

pub struct Resources {
    pub config: Config,
    mode: Mode,
    http: OnceLock<reqwest::Client>,
    sealer: OnceLock<Sealer>,
    single_use: OnceCell<Arc<SingleUse>>,
    keeper: OnceCell<Option<Arc<Keeper>>>,
    items: OnceCell<Option<SharedItems>>,
    queue: OnceLock<Option<SharedQueue>>,
    syncer: OnceCell<Option<Arc<Syncer>>>,
    /// Locally, the steps the syncer queues, for `local-api` to run ([`Resources::take_local_sync`]).
    local_sync: std::sync::Mutex<Option<LocalReceiver>>,
    webhook_endpoint: OnceLock<Option<Arc<crate::webhooks::Endpoint>>>,
    outbox: OnceLock<Option<crate::webhooks::SharedOutbox>>,
    sqs: OnceLock<aws_sdk_sqs::Client>,
    local_webhooks: std::sync::Mutex<webhooks::LocalSources>,
}

impl Resources {
    pub fn new(mut config: Config, mode: Mode) -> Self {
        if mode == Mode::Lambda {
            config.providers.set_deployed();
        }
        Resources {
            config,
            mode,
            http: OnceLock::new(),
            sealer: OnceLock::new(),
            single_use: OnceCell::new(),
            keeper: OnceCell::new(),
            items: OnceCell::new(),
            queue: OnceLock::new(),
            syncer: OnceCell::new(),
            local_sync: std::sync::Mutex::new(None),
            webhook_endpoint: OnceLock::new(),
            outbox: OnceLock::new(),
            sqs: OnceLock::new(),
            local_webhooks: std::sync::Mutex::new((None, None)),
        }
    }

    /// These resources with an items store and a queue of sync steps built elsewhere (tests).
    pub fn with_sync(self, items: SharedItems, queue: SharedQueue) -> Self {
        let _ = self.items.set(Some(items));
        let _ = self.queue.set(Some(queue));
        self
    }

    /// Resources over stores built elsewhere (tests pick Redis or the in-process store, and
    /// DynamoDB, a redb file or no connections at all).
    pub fn with_stores(config: Config, store: SingleUse, connections: Option<SharedStore>) -> Self {
        let resources = Resources::new(config, Mode::Local);
        let _ = resources.single_use.set(Arc::new(store));
        let keeper = connections.map(|connections| {
            let http = resources.http().expect("the HTTP client builds");
            let config = &resources.config;
            Arc::new(Keeper::new(
                connections,
                http,
                config.refresh_margin,
                config.request_timeout,
            ))
        });
        let _ = resources.keeper.set(keeper);
        resources
    }

    /// The one HTTP client for calls to providers (cloning shares its connection pool).
    pub fn http(&self) -> Result<reqwest::Client, StartupError> {
        if let Some(client) = self.http.get() {
            return Ok(client.clone());
        }
        let client = reqwest::Client::builder()
            .connect_timeout(self.config.connect_timeout)
            .timeout(self.config.request_timeout)
            // Token and API endpoints answer directly; following a redirect could leak credentials.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("integrations/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| StartupError::Http(error.to_string()))?;
        Ok(self.http.get_or_init(|| client).clone())
    }

    /// The store of single-use values, sealed with the configured key.
    pub async fn single_use(&self) -> Result<Arc<SingleUse>, StartupError> {
        self.single_use
            .get_or_try_init(|| async {
                let sealer = self.sealer()?;
                let single_use = match (&self.config.redis_url, self.mode) {
                    (Some(url), _) => {
                        let redis = RedisBackend::connect(url, self.config.redis_ca_cert.as_deref()).await?;
                        SingleUse::new(redis, sealer)
                    }
                    (None, Mode::Lambda) => return Err(StartupError::MissingRedisUrl),
                    (None, Mode::Local) => {
                        tracing::info!("REDIS_URL is not set: using the in-process store (lost on restart)");
                        SingleUse::new(MemoryBackend::default(), sealer)
                    }
                };
                Ok(Arc::new(single_use))
            })
            .await
            .cloned()
    }

    /// The durable connections, when this process has a store for them: DynamoDB with
    /// `CONNECTIONS_TABLE`; locally, a redb file under `DATA_DIR`; on Lambda without a table, none.
    pub async fn keeper(&self) -> Result<Option<Arc<Keeper>>, StartupError> {
        self.keeper
            .get_or_try_init(|| async {
                let store = match (&self.config.connections_table, self.mode) {
                    (Some(table), _) => {
                        connections::shared(DynamoStore::from_env(table, self.sealer()?, self.http()?))
                    }
                    (None, Mode::Lambda) => return Ok(None),
                    (None, Mode::Local) => self.embedded_store()?,
                };
                let keeper = Keeper::new(
                    store,
                    self.http()?,
                    self.config.refresh_margin,
                    self.config.request_timeout,
                );
                Ok(Some(Arc::new(keeper)))
            })
            .await
            .cloned()
    }

    /// Like [`Resources::keeper`], for functions that cannot work without connections.
    pub async fn required_keeper(&self) -> Result<Arc<Keeper>, StartupError> {
        self.keeper().await?.ok_or(StartupError::MissingConnectionsTable)
    }

    #[cfg(feature = "embedded")]
    fn embedded_store(&self) -> Result<SharedStore, StartupError> {
        let path = self.data_file("connections.redb")?;
        tracing::info!(
            "CONNECTIONS_TABLE is not set: keeping connections in {}",
            path.display()
        );
        let store = crate::connections::EmbeddedStore::open(&path, self.sealer()?)
            .map_err(|e| StartupError::Connections(e.to_string()))?;
        Ok(connections::shared(match self.store_watcher()? {
            Some(watcher) => store.watched(watcher),
            None => store,
        }))
    }

    /// A file of `local-api`'s under `DATA_DIR`, which is made if missing.
    #[cfg(feature = "embedded")]
    fn data_file(&self, name: &str) -> Result<std::path::PathBuf, StartupError> {
        let dir = &self.config.data_dir;
        std::fs::create_dir_all(dir)
            .map_err(|e| StartupError::Connections(format!("{}: {e}", dir.display())))?;
        Ok(dir.join(name))
    }

    #[cfg(not(feature = "embedded"))]
    fn embedded_store(&self) -> Result<SharedStore, StartupError> {
        Err(StartupError::MissingConnectionsTable)
    }

    /// The sealer for values at rest; one per process, so a throwaway key is the same for all.
    pub fn sealer(&self) -> Result<Sealer, StartupError> {
        if let Some(sealer) = self.sealer.get() {
            return Ok(sealer.clone());
        }
        let sealer = match (self.config.sealer()?, self.mode) {
            (Some(sealer), _) => sealer,
            (None, Mode::Lambda) => return Err(StartupError::MissingEncryptionKey),
            (None, Mode::Local) => {
                tracing::warn!("TOKEN_ENCRYPTION_KEY is not set: using a throwaway key for this process");
                Sealer::ephemeral()
            }
        };
        Ok(self.sealer.get_or_init(|| sealer).clone())
    }
}
