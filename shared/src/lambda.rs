//! The Lambda entry point: each function binary runs its own handler.
//!
//! The binaries run it on a current-thread runtime: Lambda delivers one invocation at a time and
//! the work is I/O, so worker threads would only add memory and start-up time.

use std::convert::Infallible;

use lambda_http::service_fn;

use crate::config::Config;
use crate::handlers::{Handler, Service};
use crate::resources::{Mode, Resources};

pub use lambda_http::Error;

/// Builds what the handler needs once, then serves invocations until the runtime stops the
/// process. A function that cannot start says why through the Runtime API's `/init/error`.
pub async fn run<H: Handler>() -> Result<(), Error> {
    crate::logging::init_lambda();
    let resources = Resources::new(Config::from_env(), Mode::Lambda);
    let service = match Service::<H>::build(&resources).await {
        Ok(service) => service,
        Err(error) => {
            tracing::error!(error = %error, "cannot start");
            report_init_error(&error.to_string()).await;
            return Err(error.into());
        }
    };
    if !H::FUNCTION.is_browser_facing() && service.access().is_open() {
        tracing::warn!("API_KEYS is not set: this function is open to anyone");
    }
    let service = &service;
    lambda_http::run(service_fn(move |request| async move {
        Ok::<_, Infallible>(service.handle(request).await)
    }))
    .await
}

pub(crate) async fn report_init_error(message: &str) {
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
