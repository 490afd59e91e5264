//! The AWS clients' configuration, from what Lambda puts in a function's environment.

use std::time::Duration;

/// How long one AWS request may take before the SDK retries it.
pub(super) const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);

/// An AWS SDK client's configuration builder over the process's HTTP client, with short
/// timeouts so a request fails rather than hangs, and what Lambda puts in a function's
/// environment: the region (`AWS_REGION`), the role's credentials (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`) and, for an emulator, the service's
/// `AWS_ENDPOINT_URL_…`. Not aws-config's whole provider chain (profiles, SSO, STS, instance
/// metadata): a function has none of those, and leaving them out keeps every binary that keeps
/// connections well under 2.5 MB zipped. A macro: each SDK has its own builder type.
macro_rules! aws_config {
    ($sdk:ident, $http:expr, $endpoint_var:literal) => {{
        use $sdk::config::timeout::TimeoutConfig;
        use $sdk::config::{BehaviorVersion, Builder, Credentials, Region};
        let var = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
        let attempt = crate::connections::dynamo::attempt_timeout();
        let mut builder = Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .http_client(crate::connections::sdk_http::client($http, attempt))
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_attempt_timeout(attempt)
                    .operation_timeout(attempt * 8 / 3)
                    .build(),
            );
        if let Some(region) = var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")) {
            builder = builder.region(Region::new(region));
        }
        if let (Some(key), Some(secret)) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
            let token = var("AWS_SESSION_TOKEN");
            builder = builder.credentials_provider(Credentials::new(key, secret, token, None, "environment"));
        }
        if let Some(url) = var($endpoint_var).or_else(|| var("AWS_ENDPOINT_URL")) {
            builder = builder.endpoint_url(url);
        }
        builder
    }};
}

pub(crate) use aws_config;

/// The DynamoDB client's configuration (see [`aws_config`]).
pub fn config_builder(http: reqwest::Client) -> aws_sdk_dynamodb::config::Builder {
    aws_config!(aws_sdk_dynamodb, http, "AWS_ENDPOINT_URL_DYNAMODB")
}
