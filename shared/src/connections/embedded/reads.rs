//! Reads of more than one connection: an org's listing, the due connections, and the scan for
//! tokens under old keys, each in one read transaction.

use redb::ReadableDatabase;

use super::tables::{decode, failed, load, BY_ORG, CONNECTIONS, DUE};
use super::EmbeddedStore;
use crate::connections::{
    org_sort, provider_prefix, Connection, ConnectionId, ConnectionStoreError, DueConnection,
};

impl EmbeddedStore {
    /// Up to `want` connections after `start` whose tokens are not sealed under the current key.
    pub(super) async fn scan_old_keys(
        &self,
        want: usize,
        start: Option<ConnectionId>,
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
                    if !record
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

    /// Up to `want` connections after `start` (provider, user id).
    pub(super) async fn read_org(
        &self,
        org_id: &str,
        user_id: Option<&str>,
        provider: Option<&str>,
        want: usize,
        start: Option<(String, String)>,
    ) -> Result<Vec<Connection>, ConnectionStoreError> {
        let org_id = org_id.to_owned();
        let user_id = user_id.map(str::to_owned);
        let prefix = provider.map(provider_prefix);
        let start = start.map(|(provider, user_id)| org_sort(&provider, &user_id));
        let records = self
            .blocking(move |db| {
                let txn = db.begin_read().map_err(failed)?;
                let (by_org, connections) = (
                    txn.open_table(BY_ORG).map_err(failed)?,
                    txn.open_table(CONNECTIONS).map_err(failed)?,
                );
                let from = start.as_deref().or(prefix.as_deref()).unwrap_or("");
                let mut found = Vec::new();
                for entry in by_org.range((org_id.as_str(), from)..).map_err(failed)? {
                    let (index, key) = entry.map_err(failed)?;
                    let (org, sort) = index.value();
                    if org != org_id || prefix.as_deref().is_some_and(|prefix| !sort.starts_with(prefix)) {
                        break;
                    }
                    if start.as_deref() == Some(sort) {
                        continue;
                    }
                    let (key, mut record) = load(&connections, key.value())?;
                    // As from the DynamoDB index: a listing never opens tokens.
                    record.tokens = None;
                    if user_id.as_ref().is_none_or(|user_id| *user_id == record.user_id) {
                        found.push((key, record));
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

    /// Up to `want` due connections after `start` (shard, expiry, id), shard by shard.
    pub(super) async fn read_due(
        &self,
        before: i64,
        want: usize,
        start: Option<(u8, i64, ConnectionId)>,
    ) -> Result<Vec<DueConnection>, ConnectionStoreError> {
        let start = start.map(|(shard, expires_at, id)| (shard, expires_at, id.key()));
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(failed)?;
            let due = txn.open_table(DUE).map_err(failed)?;
            let from = start
                .as_ref()
                .map_or((0, i64::MIN, ""), |(shard, at, key)| (*shard, *at, key.as_str()));
            let mut found = Vec::new();
            for entry in due.range(from..).map_err(failed)? {
                if found.len() == want {
                    break;
                }
                let (index, _) = entry.map_err(failed)?;
                let (shard, expires_at, key) = index.value();
                if expires_at >= before
                    || start
                        .as_ref()
                        .is_some_and(|(s, at, start)| (*s, *at, start.as_str()) == (shard, expires_at, key))
                {
                    continue;
                }
                match ConnectionId::from_key(key) {
                    Some(id) => found.push(DueConnection { id, expires_at }),
                    None => tracing::error!("skipped a malformed due index entry"),
                }
            }
            Ok(found)
        })
        .await
    }
}
