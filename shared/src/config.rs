//! Configuration from the environment, read once per process.

use std::time::Duration;

use crate::crypto::{KeyError, Sealer};
use crate::providers::Providers;

/// How long an OAuth state (and its PKCE verifier) waits for the provider's redirect.
pub const STATE_TTL: Duration = Duration::from_secs(600);
/// How long a connected account's tokens wait for the one-time `/credentials` hand-off.
pub const CREDENTIALS_TTL: Duration = Duration::from_secs(600);

#[derive(Debug, Clone)]
pub struct Config {
    /// `redis://` or `rediss://`; `None` selects the in-process store (local only).
    pub redis_url: Option<String>,
    /// A PEM bundle (path or inline) trusted for `rediss://` in addition to the system roots.
    pub redis_ca_cert: Option<String>,
    pub providers: Providers,
    /// Accepted `Authorization: Bearer` / `x-api-key` values; empty means open.
    pub api_keys: Vec<String>,
    /// Origins answered with CORS headers; empty means none.
    pub allowed_origins: Vec<String>,
    /// `TOKEN_ENCRYPTION_KEY` and `TOKEN_ENCRYPTION_KEYS_OLD`, unparsed.
    encryption_key: Option<String>,
    old_encryption_keys: Vec<String>,
    /// `CONNECTIONS_TABLE`: the DynamoDB table of durable connections.
    pub connections_table: Option<String>,
    /// `DATA_DIR`: where `local-api` keeps connections without a table.
    pub data_dir: std::path::PathBuf,
    /// `REFRESH_MARGIN_SECS`: tokens expiring this soon are refreshed before they are handed out.
    pub refresh_margin: Duration,
    /// `REFRESH_AHEAD_SECS`: how far ahead the scheduled refresher looks.
    pub refresh_ahead: Duration,
    /// Connect and total timeouts of every outbound HTTP call.
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// `ITEMS_TABLE` and `SYNC_QUEUE_URL`: where synced items are kept, and the queue of sync
    /// steps; locally, a redb file under `DATA_DIR` and a task of the process.
    pub items_table: Option<String>,
    pub sync_queue_url: Option<String>,
    pub sync: SyncSettings,
    pub webhooks: WebhookSettings,
}

/// Where events go and how deliveries are retried (the `webhooks` module).
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// `WEBHOOK_URL`: without it (or without secrets), no event is sent.
    pub url: Option<String>,
    /// `WEBHOOK_SECRETS`: `whsec_…` secrets; the first is the newest, all of them sign.
    pub secrets: Vec<String>,
    /// `WEBHOOK_QUEUE_URL`: deployed, where events are queued for the `webhooks` function.
    pub queue_url: Option<String>,
    /// `WEBHOOK_DLQ_URL`: where a delivery that ran out of tries is kept.
    pub dead_letter_url: Option<String>,
    /// `WEBHOOK_RETRY_BASE_MS`: the first wait after a failed try; the schedule's unit.
    pub retry_base: Duration,
    /// `WEBHOOK_TIMEOUT_MS`: how long one try waits for the receiver's answer.
    pub timeout: Duration,
}

/// How syncs run.
#[derive(Debug, Clone)]
pub struct SyncSettings {
    /// `SYNC_INTERVAL_SECS`: a connection is synced again this long after its last sync ended.
    pub interval: Duration,
    /// `SYNC_FULL_EVERY`: every this many syncs is a full one, which finds deletions.
    pub full_every: u32,
    /// `ITEM_TOMBSTONE_DAYS`: how long a deleted item stays in the feed as a tombstone.
    pub tombstone_days: u32,
    /// `SYNC_STEP_PAGES`: provider pages one step reads at most.
    pub step_pages: usize,
    /// `SYNC_STEP_SECS`: how long one step reads at most.
    pub step_time: Duration,
    /// `SYNC_RETRY_SECS`: the first wait after a transient failure, doubled each time.
    pub retry_base: Duration,
}

impl Config {
    pub fn from_env() -> Self {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `var`; empty values count as unset.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let var = |name: &str| var(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let list = |name: &str| {
            var(name)
                .map(|value| {
                    value
                        .split(',')
                        .map(str::trim)
                        .filter(|item| !item.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        let number = |name: &str, default: u64| var(name).and_then(|v| v.parse().ok()).unwrap_or(default);
        let seconds = |name: &str, default: u64| Duration::from_secs(number(name, default));
        Config {
            redis_url: var("REDIS_URL"),
            redis_ca_cert: var("REDIS_CA_CERT"),
            providers: Providers::from_vars(&var, false),
            api_keys: list("API_KEYS"),
            allowed_origins: list("ALLOWED_ORIGINS"),
            encryption_key: var("TOKEN_ENCRYPTION_KEY"),
            old_encryption_keys: list("TOKEN_ENCRYPTION_KEYS_OLD"),
            connections_table: var("CONNECTIONS_TABLE"),
            data_dir: var("DATA_DIR").unwrap_or_else(|| ".data".to_owned()).into(),
            refresh_margin: seconds("REFRESH_MARGIN_SECS", 300),
            refresh_ahead: seconds("REFRESH_AHEAD_SECS", 900),
            connect_timeout: seconds("HTTP_CONNECT_TIMEOUT_SECS", 3),
            request_timeout: seconds("HTTP_TIMEOUT_SECS", 10),
            items_table: var("ITEMS_TABLE"),
            sync_queue_url: var("SYNC_QUEUE_URL"),
            sync: SyncSettings {
                interval: seconds("SYNC_INTERVAL_SECS", 3600),
                full_every: number("SYNC_FULL_EVERY", 24).max(1) as u32,
                tombstone_days: number("ITEM_TOMBSTONE_DAYS", 30) as u32,
                step_pages: number("SYNC_STEP_PAGES", 20).max(1) as usize,
                step_time: seconds("SYNC_STEP_SECS", 60),
                retry_base: seconds("SYNC_RETRY_SECS", 30),
            },
            webhooks: WebhookSettings {
                url: var("WEBHOOK_URL"),
                secrets: list("WEBHOOK_SECRETS"),
                queue_url: var("WEBHOOK_QUEUE_URL"),
                dead_letter_url: var("WEBHOOK_DLQ_URL"),
                retry_base: Duration::from_millis(number("WEBHOOK_RETRY_BASE_MS", 5000).max(1)),
                timeout: Duration::from_millis(number("WEBHOOK_TIMEOUT_MS", 10_000).max(1)),
            },
        }
    }

    /// The sealer for values at rest; `Ok(None)` when no key is configured.
    pub fn sealer(&self) -> Result<Option<Sealer>, KeyError> {
        self.encryption_key
            .as_deref()
            .map(|current| Sealer::new(current, &self.old_encryption_keys))
            .transpose()
    }
}
