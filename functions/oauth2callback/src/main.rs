//! `GET /integrations/{provider}/oauth2callback` as a Lambda function.

#[tokio::main]
async fn main() -> Result<(), integrations::lambda::Error> {
    integrations::lambda::run(integrations::Endpoint::OAuth2Callback).await
}
