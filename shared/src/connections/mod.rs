//! Durable OAuth connections: one record per (provider, org, user), tokens sealed at rest.
//!
//! Two backends of one [`ConnectionStore`] trait, with the same semantics: DynamoDB for the
//! deployed functions, and an embedded redb file (feature `embedded`) for `local-api` and tests.
//! Every write that can race (a reconnect, a refresh, a lease) is conditional, so
//! [`refresh::fresh_tokens`] can let exactly one process refresh a connection while the others
//! wait for its result.

mod connection;
mod cursor;
pub mod dynamo;
#[cfg(feature = "embedded")]
pub mod embedded;
mod id;
mod record;
pub mod refresh;
pub mod sdk_http;
mod store;

pub use connection::{Account, Connection, DueConnection, LeaseOutcome, Reauthorization, Status};
pub use id::ConnectionId;
use id::{due_shard, org_sort, provider_prefix};
use record::Record;
pub use store::{shared, ConnectionStore, DynConnectionStore, Page, SharedStore};

pub use dynamo::DynamoStore;
#[cfg(feature = "embedded")]
pub use embedded::EmbeddedStore;

/// One write of a connection, as DynamoDB Streams reports it with `NEW_AND_OLD_IMAGES`: what it
/// was and what it became (`None`: absent), tokens never opened. What webhooks derive events from.
#[derive(Debug, Clone)]
pub struct ConnectionChange {
    pub old: Option<Connection>,
    pub new: Option<Connection>,
    /// When it was written (unix ms): its events' `timestamp`.
    pub at_ms: i64,
}

/// Largest page [`ConnectionStore::list`] and [`ConnectionStore::due`] return.
pub const MAX_PAGE: usize = 100;

pub const DUE_SHARDS: u8 = 16;

/// What is wrong with a cursor that is not one of ours.
pub const CURSOR_RULE: &str = "is malformed";

/// What a page's `limit` must be.
pub fn limit_rule() -> String {
    format!("must be a number from 1 to {MAX_PAGE}")
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectionStoreError {
    #[error(transparent)]
    InvalidId(#[from] crate::ids::InvalidId),
    #[error("cursor {CURSOR_RULE}")]
    InvalidCursor,
    #[error("limit {}", limit_rule())]
    InvalidLimit,
    #[error("DynamoDB: {0}")]
    Dynamo(String),
    #[error("embedded store: {0}")]
    Embedded(String),
    #[error("a stored connection is malformed: {0}")]
    Corrupt(String),
}

impl ConnectionStoreError {
    /// A failure of the store itself (throttled, timed out, unreachable) that a retry may cure.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ConnectionStoreError::Dynamo(_) | ConnectionStoreError::Embedded(_)
        )
    }
}
