//! The four endpoints on `127.0.0.1:$PORT` (default 8000) with an in-process store:
//! `cargo run --release -p local-api`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    integrations::local::main().await
}
