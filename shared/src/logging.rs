//! Log set-up: JSON on Lambda (CloudWatch parses it), text locally; `RUST_LOG` filters both.
//!
//! Nothing in this crate logs a token, code, verifier, secret or key: requests are logged by
//! method, path (never the query), provider, status and latency.

use tracing_subscriber::EnvFilter;

fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

pub fn init_json() {
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter())
        .with_target(false)
        .with_current_span(false)
        .try_init();
}

pub fn init_text() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_target(false)
        .try_init();
}
