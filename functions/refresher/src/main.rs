//! The scheduled refresher (EventBridge, every 5 minutes) as a Lambda function.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), integrations::lambda::Error> {
    integrations::lambda::run_refresher().await
}
