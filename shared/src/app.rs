//! The state a process builds once and every invocation reuses.

use crate::config::Config;
use crate::crypto::{KeyError, Sealer};
use crate::error::StoreError;
use crate::store::{Backend, Store};

pub struct App {
    pub config: Config,
    pub http: reqwest::Client,
    pub store: Store,
}

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
    Http(#[from] reqwest::Error),
}

impl App {
    pub fn new(config: Config, store: Store) -> Result<Self, StartupError> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            // Token and API endpoints answer directly; following a redirect could leak credentials.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("integrations/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(App { config, http, store })
    }

    /// What a Lambda function needs: Redis and an encryption key, or no start at all.
    pub async fn for_lambda(mut config: Config) -> Result<Self, StartupError> {
        config.redirect_uri_required = true;
        let url = config.redis_url.clone().ok_or(StartupError::MissingRedisUrl)?;
        let sealer = config.sealer()?.ok_or(StartupError::MissingEncryptionKey)?;
        let backend = Backend::redis(&url, config.redis_ca_cert.as_deref()).await?;
        warn_if_open(&config);
        App::new(config, Store::new(backend, sealer))
    }

    /// `local-api`: Redis when `REDIS_URL` is set, otherwise the in-process store; a throwaway key
    /// when none is set (values then do not outlive the process, which the memory store cannot anyway).
    pub async fn for_local(config: Config) -> Result<Self, StartupError> {
        let sealer = match config.sealer()? {
            Some(sealer) => sealer,
            None => {
                tracing::warn!("TOKEN_ENCRYPTION_KEY is not set: using a throwaway key for this process");
                Sealer::ephemeral()
            }
        };
        let backend = match &config.redis_url {
            Some(url) => Backend::redis(url, config.redis_ca_cert.as_deref()).await?,
            None => {
                tracing::info!("REDIS_URL is not set: using the in-process store (state is lost on restart)");
                Backend::memory()
            }
        };
        warn_if_open(&config);
        App::new(config, Store::new(backend, sealer))
    }
}

fn warn_if_open(config: &Config) {
    if config.api_keys.is_empty() {
        tracing::warn!("API_KEYS is not set: authorize, credentials and load are open to anyone");
    }
}
