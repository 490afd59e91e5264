//! Log set-up. On Lambda: JSON unless `AWS_LAMBDA_LOG_FORMAT` says `Text`, at the level of
//! `AWS_LAMBDA_LOG_LEVEL` (the function's logging configuration) or else `RUST_LOG`; locally,
//! text filtered by `RUST_LOG`. Every line of a request carries its span: request id, function
//! and provider.
//!
//! Nothing in this crate logs a token, code, verifier, secret or key: requests are logged by
//! method, path (never the query), provider, status and latency.

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Lambda's level names (`TRACE` … `FATAL`) as a `tracing` filter; otherwise `RUST_LOG`'s
/// `target=level` directives (`Targets`: no span or field filters, and no regex engine in every
/// binary). Anything unreadable means `info`.
fn filter(lambda_level: Option<String>, rust_log: Option<String>) -> Targets {
    let directive = match lambda_level.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some(level @ ("trace" | "debug" | "info" | "warn" | "error")) => level.to_owned(),
        Some("fatal") => "error".to_owned(),
        _ => rust_log.unwrap_or_else(|| "info".to_owned()),
    };
    directive
        .parse()
        .unwrap_or_else(|_| Targets::new().with_default(LevelFilter::INFO))
}

pub fn init_lambda() {
    let var = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    let filter = filter(var("AWS_LAMBDA_LOG_LEVEL"), var("RUST_LOG"));
    let text = var("AWS_LAMBDA_LOG_FORMAT").is_some_and(|format| format.eq_ignore_ascii_case("text"));
    let layer = tracing_subscriber::fmt::layer().with_target(false);
    let registry = tracing_subscriber::registry().with(filter);
    let _ = if text {
        registry.with(layer.without_time().with_ansi(false)).try_init()
    } else {
        registry
            .with(layer.json().with_current_span(true).with_span_list(false))
            .try_init()
    };
}

pub fn init_text() {
    let _ = tracing_subscriber::registry()
        .with(filter(None, std::env::var("RUST_LOG").ok()))
        .with(tracing_subscriber::fmt::layer().with_target(false))
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::filter;

    #[test]
    fn lambda_levels_win_over_rust_log_and_fatal_means_error() {
        assert_eq!(
            filter(Some("DEBUG".into()), Some("warn".into())).to_string(),
            "debug"
        );
        assert_eq!(filter(Some("FATAL".into()), None).to_string(), "error");
        assert_eq!(
            filter(None, Some("integrations=debug,info".into())).to_string(),
            "integrations=debug,info"
        );
        assert_eq!(filter(Some("nonsense".into()), None).to_string(), "info");
    }
}
