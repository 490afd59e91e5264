//! The Lambda entry point every function binary calls with its endpoint.

use std::convert::Infallible;

use lambda_http::service_fn;

use crate::app::App;
use crate::config::Config;
use crate::handlers::{handle, Endpoint};

pub use lambda_http::Error;

/// Builds the state once, then serves invocations until the runtime stops the process.
/// A function that cannot start says why through the Runtime API's `/init/error`.
pub async fn run(endpoint: Endpoint) -> Result<(), Error> {
    crate::logging::init_json();
    let app = match App::for_lambda(Config::from_env()).await {
        Ok(app) => app,
        Err(error) => {
            tracing::error!(error = %error, "cannot start");
            report_init_error(&error.to_string()).await;
            return Err(error.into());
        }
    };
    let app = &app;
    lambda_http::run(service_fn(move |request| async move {
        Ok::<_, Infallible>(handle(app, endpoint, request).await)
    }))
    .await
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
