//! `cargo run --release -p local-api`: the whole API on one port.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    local_api::main().await
}
