//! The scheduled refresher: every active connection expiring soon is refreshed ahead of use, a
//! few at a time, through the same single-flight refresh as the API. While old encryption keys
//! are configured, it also seals every connection still under one again under the current key.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde::Serialize;

use crate::clock;
use crate::connections::refresh::Due;
use crate::connections::{ConnectionStore, SharedStore};
use crate::error::Error;
use crate::keeper::Keeper;
use crate::providers::{Needs, Providers};

/// What the refresher reads of each provider: the client, to refresh.
pub const NEEDS: Needs = Needs::CLIENT;

/// Refreshes in flight at once: enough to finish a large backlog, few enough for rate limits.
const CONCURRENCY: usize = 8;
const PAGE: usize = 100;

/// What one run did, one count per class of outcome; logged as one line and returned to the
/// scheduler. Only `needs_reauthorization` is a connection lost; the others retry next run.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Refreshed by this run.
    pub refreshed: usize,
    /// Refreshed meanwhile by another caller, or no longer due.
    pub skipped: usize,
    /// The provider refused the grant: marked for a new consent.
    pub needs_reauthorization: usize,
    /// Throttled, failing or out of reach: left active for the next run.
    pub transient: usize,
    /// The provider refused our client credentials: left active until the configuration is fixed.
    pub misconfigured: usize,
    /// Not started, for lack of time before the function's deadline: left for the next run.
    pub deferred: usize,
    /// The tokens do not open with the configured keys (or the item disagrees with its key):
    /// skipped, left as they are for an operator.
    pub unreadable: usize,
    /// Anything else: the store failed.
    pub failed: usize,
    /// Sealed again under the current key (only while `TOKEN_ENCRYPTION_KEYS_OLD` is set).
    pub resealed: usize,
    /// Still under an old or unknown key after this run: the old keys must stay until it is 0.
    pub under_old_keys: usize,
}

/// Refreshes every active connection expiring within `ahead` of now, starting none it could not
/// finish before `deadline`.
pub async fn refresh_due(
    keeper: &Keeper,
    providers: &Providers,
    ahead: Duration,
    deadline: Option<Instant>,
) -> Summary {
    let before = clock::now() + ahead.as_secs() as i64;
    let mut summary = Summary::default();
    let mut cursor = None;
    loop {
        let (page, next) = match keeper.connections().due(before, PAGE, cursor.as_deref()).await {
            Ok(found) => found,
            Err(error) => {
                tracing::error!(error = %error, "could not list the connections due");
                summary.failed += 1;
                return summary;
            }
        };
        let outcomes: Vec<Option<Result<bool, Error>>> = futures_util::stream::iter(page)
            .map(|connection| async move {
                if deadline.is_some_and(|deadline| {
                    deadline.saturating_duration_since(Instant::now()) < keeper.refresh_budget()
                }) {
                    return None;
                }
                let refresh = async {
                    let provider = providers.get(connection.id.provider(), NEEDS)?;
                    keeper
                        .tokens_when(provider, &connection.id, false, Due::Within(ahead), deadline)
                        .await
                        .map(|fresh| fresh.refreshed)
                };
                Some(refresh.await)
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        for outcome in outcomes {
            match outcome {
                None => summary.deferred += 1,
                Some(Ok(true)) => summary.refreshed += 1,
                Some(Ok(false)) => summary.skipped += 1,
                Some(Err(Error::NeedsReauthorization { .. })) => summary.needs_reauthorization += 1,
                Some(Err(Error::ClientMisconfigured { .. })) => summary.misconfigured += 1,
                Some(Err(Error::Unreadable)) => summary.unreadable += 1,
                Some(Err(
                    error @ (Error::ProviderThrottled { .. }
                    | Error::ProviderFailed { .. }
                    | Error::ProviderTimeout { .. }),
                )) => {
                    tracing::warn!(error = %error, "a refresh failed for now; the connection stays active");
                    summary.transient += 1;
                }
                Some(Err(error)) => {
                    tracing::warn!(error = %error, "a connection could not be refreshed");
                    summary.failed += 1;
                }
            }
        }
        if summary.deferred > 0 {
            tracing::warn!(
                deferred = summary.deferred,
                "out of time: the rest waits for the next run"
            );
            return summary;
        }
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    if keeper.connections().has_old_keys() {
        reseal(keeper.connections(), deadline, &mut summary).await;
    }
    summary
}

/// Seals every connection still under an old key again under the current one, conditional on
/// its version (a refresh or reconnect meanwhile wrote it under the current key anyway).
async fn reseal(store: &SharedStore, deadline: Option<Instant>, summary: &mut Summary) {
    let mut cursor = None;
    loop {
        let (page, next) = match store.under_old_keys(PAGE, cursor.as_deref()).await {
            Ok(found) => found,
            Err(error) => {
                tracing::error!(error = %error, "could not list the connections under old keys");
                summary.failed += 1;
                return;
            }
        };
        let outcomes: Vec<bool> = futures_util::stream::iter(page)
            .map(|connection| async move {
                let out_of_time = deadline.is_some_and(|deadline| Instant::now() >= deadline);
                match connection.tokens {
                    Some(tokens) if !out_of_time => store
                        .reseal(&connection.id, connection.version, &tokens)
                        .await
                        .inspect_err(|error| tracing::warn!(error = %error, "a re-seal failed"))
                        .unwrap_or(false),
                    _ => false,
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let resealed = outcomes.iter().filter(|resealed| **resealed).count();
        summary.resealed += resealed;
        summary.under_old_keys += outcomes.len() - resealed;
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    tracing::info!(
        resealed = summary.resealed,
        remaining = summary.under_old_keys,
        "connections under old encryption keys"
    );
}
