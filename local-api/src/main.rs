//! `cargo run --release -p local-api`: the whole API on one port.

// One thread: it serves one developer, and without worker threads no request pays for a wake-up
// across threads (authorize: about 60k req/s against 35-55k with two workers, `make bench`).
#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    local_api::main().await
}
