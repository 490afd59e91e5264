//! The `sync` worker as a Lambda function: sync steps from SQS, deleted connections from the
//! connections table's stream, and the scheduled finder (EventBridge).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), integrations::lambda::Error> {
    integrations::lambda::run_sync().await
}
