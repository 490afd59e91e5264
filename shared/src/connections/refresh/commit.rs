//! Landing a refreshed pair: from the provider's answer on it exists nowhere else, so the write
//! is retried (throttling, timeouts) for as long as the lease allows.

use std::time::{Duration, Instant};

use super::{usable, Fresh, RefreshError, FIRST_BACKOFF, MAX_BACKOFF};
use crate::clock::now;
use crate::connections::{ConnectionId, ConnectionStore, SharedStore};
use crate::tokens::TokenSet;

/// Stores a refreshed pair at the version after `read_version`, retrying throttled and failed
/// writes with backoff for up to `budget`. Each attempt is bounded by what is left of it, so the
/// lease (which covers the budget) outlives the commit.
pub(super) async fn commit(
    store: SharedStore,
    id: ConnectionId,
    read_version: u64,
    refreshed: TokenSet,
    budget: Duration,
) -> Result<Fresh, RefreshError> {
    let started = Instant::now();
    let mut backoff = FIRST_BACKOFF;
    loop {
        let left = budget.saturating_sub(started.elapsed());
        let attempt = store.commit_refresh(&id, read_version, &refreshed, now());
        let error = match tokio::time::timeout(left, attempt).await {
            Ok(Ok(true)) => {
                return Ok(Fresh {
                    refreshed: true,
                    tokens: refreshed,
                    version: read_version + 1,
                })
            }
            // A newer version exists: a reconnect, or an earlier attempt of this very commit
            // whose answer was lost.
            Ok(Ok(false)) => {
                let current = store.get(&id).await?.ok_or(RefreshError::NotFound)?;
                let mut fresh = usable(&current)?;
                fresh.refreshed = fresh.tokens == refreshed;
                return Ok(fresh);
            }
            Ok(Err(error)) if error.is_transient() => error.to_string(),
            Ok(Err(error)) => return Err(error.into()),
            Err(_) => "the store did not answer in time".to_owned(),
        };
        if started.elapsed() + backoff >= budget {
            tracing::error!(
                provider = id.provider(),
                %error,
                "the refreshed tokens could not be stored: this pair is lost"
            );
            return Err(RefreshError::Transient {
                reason: format!("the refreshed tokens could not be stored: {error}"),
                retry_after: Some(1),
            });
        }
        tracing::warn!(provider = id.provider(), %error, "a commit failed; retrying");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
