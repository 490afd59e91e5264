//! The Lambda entry points: each HTTP function binary runs its own handler; the refresher runs
//! one pass per scheduled event.
//!
//! The binaries run it on a current-thread runtime: Lambda delivers one invocation at a time and
//! the work is I/O, so worker threads would only add memory and start-up time.

use std::convert::Infallible;
use std::time::Duration;

use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::service_fn;
use serde_json::Value;

use crate::clock::deadline_before;
use crate::config::Config;
use crate::handlers::{Endpoint, Handler, Service};
use crate::refresher::refresh_due;
use crate::resources::{Mode, Resources, StartupError};

pub use lambda_http::Error;

/// Time the refresher keeps back from its invocation's deadline to return the summary.
const SUMMARY_MARGIN: Duration = Duration::from_secs(1);

/// Builds what the handler needs once, then serves invocations until the runtime stops the
/// process. A function that cannot start says why through the Runtime API's `/init/error`.
pub async fn run<H: Handler>() -> Result<(), Error> {
    crate::logging::init_lambda();
    let resources = Resources::new(Config::from_env(), Mode::Lambda);
    let service = started(Service::<H>::build(&resources).await).await?;
    if !H::FUNCTION.is_browser_facing() && service.access().is_open() {
        tracing::warn!("API_KEYS is not set: this function is open to anyone");
    }
    let service = &service;
    lambda_http::run(service_fn(move |request| async move {
        Ok::<_, Infallible>(service.handle(request).await)
    }))
    .await
}

/// The scheduled refresher's entry point: state built once, one refresh pass per event.
pub async fn run_refresher() -> Result<(), Error> {
    crate::logging::init_lambda();
    let resources = Resources::new(Config::from_env(), Mode::Lambda);
    let keeper = started(resources.required_keeper().await).await?;
    let (keeper, providers, ahead) = (
        &keeper,
        &resources.config.providers,
        resources.config.refresh_ahead,
    );
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let summary = refresh_due(
            keeper,
            providers,
            ahead,
            deadline_before(event.context.deadline, SUMMARY_MARGIN),
        )
        .await;
        tracing::info!(
            refreshed = summary.refreshed,
            skipped = summary.skipped,
            needs_reauthorization = summary.needs_reauthorization,
            transient = summary.transient,
            misconfigured = summary.misconfigured,
            deferred = summary.deferred,
            unreadable = summary.unreadable,
            failed = summary.failed,
            resealed = summary.resealed,
            under_old_keys = summary.under_old_keys,
            "refresh pass"
        );
        Ok::<_, Error>(summary)
    }))
    .await
}

/// The `sync` function's entry point: steps from SQS, deletions from the connections table's
/// stream, and the scheduled finder.
pub async fn run_sync() -> Result<(), Error> {
    crate::logging::init_lambda();
    let resources = Resources::new(Config::from_env(), Mode::Lambda);
    let syncer = started(
        resources
            .syncer()
            .await
            .and_then(|syncer| syncer.ok_or(StartupError::MissingSync)),
    )
    .await?;
    let syncer = &syncer;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let deadline = deadline_before(event.context.deadline, SUMMARY_MARGIN);
        Ok::<_, Error>(crate::sync::events::handle(syncer, event.payload, deadline).await)
    }))
    .await
}

/// The `webhooks` function's entry point: deliveries from its SQS queue, and the connections
/// table's stream queued as events.
pub async fn run_webhooks() -> Result<(), Error> {
    crate::logging::init_lambda();
    let resources = Resources::new(Config::from_env(), Mode::Lambda);
    let function = started(resources.webhooks_function()).await?;
    let function = &function;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        Ok::<_, Error>(crate::webhooks::handle(function, event.payload).await)
    }))
    .await
}

/// What a function needs, or why it cannot start: logged, and reported through the Runtime
/// API's `/init/error` so that Lambda shows the reason instead of a timeout.
async fn started<T>(built: Result<T, StartupError>) -> Result<T, Error> {
    match built {
        Ok(built) => Ok(built),
        Err(error) => {
            tracing::error!(error = %error, "cannot start");
            report_init_error(&error.to_string()).await;
            Err(error.into())
        }
    }
}

async fn report_init_error(message: &str) {
    let Ok(runtime_api) = std::env::var("AWS_LAMBDA_RUNTIME_API") else {
        return;
    };
    let body = serde_json::json!({ "errorMessage": message, "errorType": "Runtime.InitError" });
    let sent = reqwest::Client::new()
        .post(format!("http://{runtime_api}/2018-06-01/runtime/init/error"))
        .header("Lambda-Runtime-Function-Error-Type", "Runtime.InitError")
        .json(&body)
        .send()
        .await;
    if let Err(error) = sent {
        tracing::error!(error = %error, "could not report the init error");
    }
}
