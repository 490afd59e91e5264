//! Log set-up. On Lambda: JSON unless `AWS_LAMBDA_LOG_FORMAT` says `Text`, at the level of
//! `AWS_LAMBDA_LOG_LEVEL` (the function's logging configuration) or else `RUST_LOG`; locally,
//! text filtered by `RUST_LOG`. Every line of a request carries its span: request id, function
//! and provider.
//!
//! Nothing in this crate logs a token, code, verifier, secret or key: requests are logged by
//! method, path (never the query), provider, status and latency.

use tracing_subscriber::EnvFilter;

/// Lambda's level names (`TRACE` … `FATAL`) as a `tracing` filter; `RUST_LOG` syntax otherwise.
fn filter(lambda_level: Option<String>, rust_log: Option<String>) -> EnvFilter {
    let directive = match lambda_level.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some(level @ ("trace" | "debug" | "info" | "warn" | "error")) => level.to_owned(),
        Some("fatal") => "error".to_owned(),
        _ => rust_log.unwrap_or_else(|| "info".to_owned()),
    };
    EnvFilter::try_new(&directive).unwrap_or_else(|_| EnvFilter::new("info"))
}

pub fn init_lambda() {
    let var = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    let filter = filter(var("AWS_LAMBDA_LOG_LEVEL"), var("RUST_LOG"));
    let text = var("AWS_LAMBDA_LOG_FORMAT").is_some_and(|format| format.eq_ignore_ascii_case("text"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = if text {
        builder.without_time().with_ansi(false).try_init()
    } else {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    };
}

pub fn init_text() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter(None, std::env::var("RUST_LOG").ok()))
        .with_target(false)
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
