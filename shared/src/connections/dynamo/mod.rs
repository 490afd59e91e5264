//! The DynamoDB backend: one item per connection under `pk`, two global secondary indexes.
//!
//! `by_org` (`org_id`, `org_sort`) lists an org's connections in order; `due` (`due_shard`,
//! `expires_at`) is sparse: `due_shard` is set only on active connections that expire, so the
//! refresher reads a range of that index instead of scanning the table. `due_shard` is one of 16
//! values (a hash of the key), so no single index partition takes every write. Neither index
//! projects the sealed tokens (`due` projects only keys), so a lease, a commit or a release does
//! not copy them. Index reads are eventually consistent; `get` and every conditional write are not.

use aws_sdk_dynamodb::Client;

use crate::crypto::Sealer;

mod config;
mod delete;
mod expr;
mod image;
mod item;
mod reads;
mod store;
mod update;

pub(crate) use config::aws_config;
pub use config::config_builder;
pub use image::connection_from_image;

use update::failed;

pub const BY_ORG_INDEX: &str = "by_org";
pub const DUE_INDEX: &str = "due";

/// How long one AWS request may take before the SDK retries it.
pub(crate) fn attempt_timeout() -> std::time::Duration {
    config::ATTEMPT_TIMEOUT
}

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    sealer: Sealer,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>, sealer: Sealer) -> Self {
        DynamoStore {
            client,
            table: table.into(),
            sealer,
        }
    }

    /// A client from [`config_builder`] over `http`; one per process.
    pub fn from_env(table: impl Into<String>, sealer: Sealer, http: reqwest::Client) -> Self {
        DynamoStore::new(Client::from_conf(config_builder(http).build()), table, sealer)
    }
}
