//! The embedded backend's scan: the table in key order, optionally only what is sealed under an
//! old key.

use redb::ReadableDatabase;

use super::tables::{decode, failed, CONNECTIONS};
use super::EmbeddedStore;
use crate::connections::{Connection, ConnectionId, ConnectionStoreError};

impl EmbeddedStore {
    /// Up to `want` connections after `start` in key order, or only those whose tokens are not
    /// sealed under the current key.
    pub(super) async fn scan(
        &self,
        want: usize,
        start: Option<ConnectionId>,
        old_keys_only: bool,
    ) -> Result<Vec<Connection>, ConnectionStoreError> {
        let prefix = self.sealer.current_prefix();
        let start = start.map(|id| id.key());
        let records = self
            .blocking(move |db| {
                let txn = db.begin_read().map_err(failed)?;
                let connections = txn.open_table(CONNECTIONS).map_err(failed)?;
                let from = start.as_deref().unwrap_or("");
                let mut found = Vec::new();
                for entry in connections.range(from..).map_err(failed)? {
                    let (key, value) = entry.map_err(failed)?;
                    if start.as_deref() == Some(key.value()) {
                        continue;
                    }
                    let record = decode(value.value())?;
                    if !old_keys_only
                        || !record
                            .tokens
                            .as_deref()
                            .is_some_and(|tokens| tokens.starts_with(&prefix))
                    {
                        found.push((key.value().to_owned(), record));
                        if found.len() == want {
                            break;
                        }
                    }
                }
                Ok(found)
            })
            .await?;
        self.open_all(records)
    }
}
