//! `POST /integrations/{provider}/sync` as a Lambda function.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), integrations::lambda::Error> {
    integrations::lambda::run::<integrations::handlers::StartSync>().await
}
