//! The scheduled refresher: every active connection expiring soon is refreshed ahead of use, a
//! few at a time, through the same single-flight refresh as the API.

use futures_util::StreamExt;
use lambda_http::lambda_runtime::{self, service_fn, LambdaEvent};
use serde::Serialize;
use serde_json::Value;

use crate::config::Config;
use crate::connections::refresh::Due;
use crate::error::Error;
use crate::keeper::Keeper;
use crate::providers::{Needs, Providers};
use crate::resources::{Mode, Resources};
use crate::tokens;

/// Refreshes in flight at once: enough to finish a large backlog, few enough for rate limits.
const CONCURRENCY: usize = 8;
const PAGE: usize = 100;

/// What one run did; logged as one line and returned to the scheduler.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub refreshed: usize,
    pub failed: usize,
    pub needs_reauthorization: usize,
}

/// Refreshes every active connection expiring within `ahead` of now.
pub async fn refresh_due(keeper: &Keeper, providers: &Providers, ahead: std::time::Duration) -> Summary {
    let before = tokens::now() + ahead.as_secs() as i64;
    let mut summary = Summary::default();
    let mut cursor = None;
    loop {
        let (page, next) = match keeper.store().due(before, PAGE, cursor.as_deref()).await {
            Ok(found) => found,
            Err(error) => {
                tracing::error!(error = %error, "could not list the connections due");
                summary.failed += 1;
                return summary;
            }
        };
        let outcomes: Vec<Result<(), Error>> = futures_util::stream::iter(page)
            .map(|connection| async move {
                let provider = providers.get(connection.id.provider(), Needs::CLIENT)?;
                keeper
                    .tokens_when(provider, &connection.id, false, Due::Within(ahead), None)
                    .await
                    .map(|_| ())
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        for outcome in outcomes {
            match outcome {
                Ok(()) => summary.refreshed += 1,
                Err(Error::Conflict(_)) => summary.needs_reauthorization += 1,
                Err(error) => {
                    tracing::warn!(error = %error, "a connection could not be refreshed");
                    summary.failed += 1;
                }
            }
        }
        match next {
            Some(next) => cursor = Some(next),
            None => return summary,
        }
    }
}

/// The Lambda entry point: state built once, one refresh pass per scheduled event.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    crate::logging::init_lambda();
    let resources = Resources::new(Config::from_env(), Mode::Lambda);
    let keeper = match resources.required_keeper().await {
        Ok(keeper) => keeper,
        Err(error) => {
            tracing::error!(error = %error, "cannot start");
            crate::lambda::report_init_error(&error.to_string()).await;
            return Err(error.into());
        }
    };
    let (keeper, providers, ahead) = (
        &keeper,
        &resources.config.providers,
        resources.config.refresh_ahead,
    );
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| async move {
        let summary = refresh_due(keeper, providers, ahead).await;
        tracing::info!(
            refreshed = summary.refreshed,
            failed = summary.failed,
            needs_reauthorization = summary.needs_reauthorization,
            "refresh pass"
        );
        Ok::<_, lambda_runtime::Error>(summary)
    }))
    .await
}
