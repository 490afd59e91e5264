//! `POST /connect/sessions` as a Lambda function.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), integrations::lambda::Error> {
    integrations::lambda::run::<integrations::handlers::ConnectSessions>().await
}
