//! The one clock: wall time as the store and the providers count it, as RFC 3339 text, and the
//! Lambda deadline as an [`Instant`] to race against.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Unix seconds now: what expiries and timestamps are kept in.
pub fn now() -> i64 {
    now_ms() / 1000
}

/// Unix milliseconds now: what leases are measured in.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as i64)
        .unwrap_or_default()
}

/// Unix seconds as `2026-11-28T19:30:00Z`.
pub fn rfc3339(seconds: i64) -> Option<String> {
    aws_smithy_types::DateTime::from_secs(seconds)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .ok()
}

/// Unix milliseconds as RFC 3339 with milliseconds: `2026-11-28T19:30:00.120Z`.
pub fn rfc3339_ms(ms: i64) -> Option<String> {
    let seconds = rfc3339(ms.div_euclid(1000))?;
    let (date, zone) = seconds.split_at(seconds.len().checked_sub(1)?);
    Some(format!("{date}.{:03}{zone}", ms.rem_euclid(1000)))
}

/// An RFC 3339 time (a provider's, a client's) in unix milliseconds.
pub fn parse_rfc3339_ms(text: &str) -> Option<i64> {
    use aws_smithy_types::date_time::{DateTime, Format};
    DateTime::from_str(text, Format::DateTime).ok()?.to_millis().ok()
}

/// A Lambda deadline (unix milliseconds, 0 for none) as an instant, `margin` early so that an
/// answer still goes out.
pub fn deadline_before(deadline_ms: u64, margin: Duration) -> Option<Instant> {
    if deadline_ms == 0 {
        return None;
    }
    let left = deadline_ms.saturating_sub(u64::try_from(now_ms()).unwrap_or_default());
    Some(Instant::now() + Duration::from_millis(left).saturating_sub(margin))
}
