//! The `webhooks` function: delivers the webhooks queue's events, and queues the events of the
//! connections table's stream.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), integrations::lambda::Error> {
    integrations::lambda::run_webhooks().await
}
