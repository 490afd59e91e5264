//! The scheduled refresher (EventBridge, every 5 minutes) as a Lambda function.

#[tokio::main]
async fn main() -> Result<(), integrations::lambda::Error> {
    integrations::refresher::run().await
}
