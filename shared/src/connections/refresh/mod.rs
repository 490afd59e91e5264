//! Single-flight token refresh across processes.
//!
//! Providers rotate refresh tokens, so two concurrent refreshes of one connection can leave it
//! with a dead token. The caller that wins the connection's lease refreshes; the others wait for
//! the version it commits. A lease has an expiry, so a holder that dies is taken over. The commit
//! is conditional on the version the holder read, not on still holding the lease: a holder that
//! outlived its lease still lands the newest pair unless a newer version exists, and a caller
//! that took over and was refused (the slow holder had rotated the token) re-reads before it
//! marks anything.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::clock::{now, now_ms};

use super::{Connection, ConnectionId, ConnectionStore, LeaseOutcome, Reauthorization, SharedStore, Status};
use crate::tokens::TokenSet;

mod commit;
mod due;
mod failure;

use commit::commit;
pub use due::Due;
pub use failure::{GrantFailure, RefreshError};

const FIRST_POLL: Duration = Duration::from_millis(25);
const MAX_POLL: Duration = Duration::from_millis(200);
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

pub struct RefreshOptions {
    /// When the tokens are due for a refresh.
    pub due: Due,
    /// Refresh even if not due (the provider rejected the access token); a refresh by another
    /// caller that happened after this one read the connection also satisfies it.
    pub force: bool,
    /// How long the refresh may take before another caller can take it over: the provider's
    /// timeout, plus `commit_budget`, plus a margin for clock skew between processes.
    pub lease: Duration,
    /// How long a commit is retried (throttling, timeouts), and how long after a lapsed lease
    /// its holder may still commit.
    pub commit_budget: Duration,
    /// When the caller must have an answer (e.g. the Lambda's remaining time).
    pub deadline: Option<Instant>,
    /// The least time before the deadline to start a refresh in: the provider's timeout plus
    /// `commit_budget`, so the request deadline never falls between the answer and the commit.
    pub min_time_to_refresh: Duration,
    /// Unique per call (e.g. request id plus a random suffix).
    pub owner: String,
}

/// Tokens fit for use now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fresh {
    /// Whether this call refreshed them.
    pub refreshed: bool,
    pub tokens: TokenSet,
    /// The stored version they are.
    pub version: u64,
}

/// The connection's tokens, refreshed first if due (or `force`d), by at most one caller at a
/// time across every process sharing the store. `refresh` gets the current token set, returns
/// the new one, and is called at most once.
pub async fn fresh_tokens<F, Fut>(
    store: &SharedStore,
    id: &ConnectionId,
    options: RefreshOptions,
    refresh: F,
) -> Result<Fresh, RefreshError>
where
    F: FnOnce(TokenSet) -> Fut,
    Fut: Future<Output = Result<TokenSet, GrantFailure>>,
{
    let read = store.get(id).await?.ok_or(RefreshError::NotFound)?;
    let current = usable(&read)?;
    if !options.due.is_due(&read) && !options.force {
        return Ok(current);
    }
    let lease_ms = i64::try_from(options.lease.as_millis()).unwrap_or(i64::MAX);
    let mut poll = FIRST_POLL;
    loop {
        if options.deadline.is_some_and(|deadline| {
            deadline.saturating_duration_since(Instant::now()) < options.min_time_to_refresh
        }) {
            return Err(RefreshError::NoTime);
        }
        match store
            .acquire_lease(id, read.version, &options.owner, lease_ms, now_ms())
            .await?
        {
            LeaseOutcome::Acquired => {
                return refresh_held(store, id, &options, read.version, None, refresh(current.tokens)).await;
            }
            LeaseOutcome::TakenOver { lapsed_at_ms } => {
                tracing::warn!(
                    provider = id.provider(),
                    "took over a refresh lease that lapsed before its holder committed"
                );
                let took_over = Some(lapsed_at_ms);
                return refresh_held(
                    store,
                    id,
                    &options,
                    read.version,
                    took_over,
                    refresh(current.tokens),
                )
                .await;
            }
            LeaseOutcome::Gone => return Err(RefreshError::NotFound),
            LeaseOutcome::Changed | LeaseOutcome::Busy { .. } => {}
        }
        // Someone else is refreshing (or just did): wait for their version or their lease's end.
        loop {
            let current = store.get(id).await?.ok_or(RefreshError::NotFound)?;
            let fresh = usable(&current)?;
            if current.version > read.version {
                return Ok(fresh);
            }
            if current.lease_expires_at_ms.is_none_or(|until| until <= now_ms()) {
                break;
            }
            if options
                .deadline
                .is_some_and(|deadline| Instant::now() >= deadline)
            {
                return Err(RefreshError::NoTime);
            }
            tokio::time::sleep(poll).await;
            poll = (poll * 2).min(MAX_POLL);
        }
    }
}

/// Runs the refresh under the lease and stores its outcome. `took_over` is when the lease of the
/// holder this call took over from lapsed, if it did.
async fn refresh_held(
    store: &SharedStore,
    id: &ConnectionId,
    options: &RefreshOptions,
    read_version: u64,
    took_over: Option<i64>,
    refresh: impl Future<Output = Result<TokenSet, GrantFailure>>,
) -> Result<Fresh, RefreshError> {
    match refresh.await {
        Ok(refreshed) => {
            // From the provider's answer on, this pair exists nowhere else (the old refresh token
            // may be dead): the commit runs on a task of its own, so a caller that stops waiting
            // (the 504 timer) cannot drop it halfway.
            let commit = commit(
                store.clone(),
                id.clone(),
                read_version,
                refreshed,
                options.commit_budget,
            );
            tokio::spawn(commit).await.unwrap_or_else(|error| {
                Err(RefreshError::Transient {
                    reason: format!("the commit stopped: {error}"),
                    retry_after: None,
                })
            })
        }
        Err(GrantFailure::Refused(reason)) => {
            tracing::info!(provider = id.provider(), %reason, "the provider refused the refresh token");
            if let Some(lapsed_at_ms) = took_over {
                // The holder this call took over from may have rotated the token and still be
                // committing: believe the refusal only once its commit window has passed.
                let window = i64::try_from(options.commit_budget.as_millis()).unwrap_or(i64::MAX);
                let wait_ms = lapsed_at_ms
                    .saturating_add(window)
                    .saturating_sub(now_ms())
                    .max(0);
                let wait = Duration::from_millis(wait_ms as u64);
                if options
                    .deadline
                    .is_some_and(|deadline| deadline.saturating_duration_since(Instant::now()) < wait)
                {
                    store.release_lease(id, &options.owner, false).await?;
                    let unsure = RefreshError::Transient {
                        reason: "the refresh token was refused after a lapsed refresh; try again".into(),
                        retry_after: Some(wait.as_secs().max(1)),
                    };
                    return settled(store, id, read_version, unsure).await;
                }
                tokio::time::sleep(wait).await;
            }
            if store
                .mark_needs_reauthorization(id, read_version, Reauthorization::RefreshRefused, now())
                .await?
            {
                return Err(RefreshError::NeedsReauthorization);
            }
            settled(store, id, read_version, RefreshError::NeedsReauthorization).await
        }
        Err(GrantFailure::Misconfigured(reason)) => {
            store.release_lease(id, &options.owner, true).await?;
            Err(RefreshError::Misconfigured(reason))
        }
        Err(GrantFailure::Transient { reason, retry_after }) => {
            store.release_lease(id, &options.owner, true).await?;
            Err(RefreshError::Transient { reason, retry_after })
        }
    }
}

/// After a refusal that may be stale: newer tokens if someone stored them.
async fn settled(
    store: &SharedStore,
    id: &ConnectionId,
    read_version: u64,
    otherwise: RefreshError,
) -> Result<Fresh, RefreshError> {
    let current = store.get(id).await?.ok_or(RefreshError::NotFound)?;
    let fresh = usable(&current)?;
    if current.version > read_version {
        Ok(fresh)
    } else {
        Err(otherwise)
    }
}

/// The connection's tokens, if it is active and they open.
fn usable(connection: &Connection) -> Result<Fresh, RefreshError> {
    match (&connection.status, &connection.tokens) {
        (Status::Active, Some(tokens)) => Ok(Fresh {
            refreshed: false,
            tokens: tokens.clone(),
            version: connection.version,
        }),
        (Status::Active, None) => Err(RefreshError::Unreadable),
        (Status::NeedsReauthorization, _) => Err(RefreshError::NeedsReauthorization),
    }
}
