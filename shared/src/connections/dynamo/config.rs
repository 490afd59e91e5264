//! The DynamoDB client's configuration, from what Lambda puts in a function's environment.

use std::time::Duration;

use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Builder, Credentials, Region};

/// How long one DynamoDB request may take before the SDK retries it.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);

/// The DynamoDB client's configuration over the process's HTTP client, with short timeouts so
/// a request fails rather than hangs, and what Lambda puts in a function's environment: the
/// region (`AWS_REGION`), the role's credentials (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`) and, for an emulator, `AWS_ENDPOINT_URL_DYNAMODB`. Not aws-config's whole
/// provider chain (profiles, SSO, STS, instance metadata): a function has none of those, and
/// leaving them out keeps every binary that keeps connections well under 2.5 MB zipped.
pub fn config_builder(http: reqwest::Client) -> Builder {
    let var = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    let mut builder = Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .http_client(crate::connections::sdk_http::client(http, ATTEMPT_TIMEOUT))
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .operation_timeout(Duration::from_secs(8))
                .build(),
        );
    if let Some(region) = var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")) {
        builder = builder.region(Region::new(region));
    }
    if let (Some(key), Some(secret)) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
        let token = var("AWS_SESSION_TOKEN");
        builder = builder.credentials_provider(Credentials::new(key, secret, token, None, "environment"));
    }
    if let Some(url) = var("AWS_ENDPOINT_URL_DYNAMODB").or_else(|| var("AWS_ENDPOINT_URL")) {
        builder = builder.endpoint_url(url);
    }
    builder
}
