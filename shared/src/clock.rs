//! The one clock: wall time as the store and the providers count it, and the Lambda deadline
//! as an [`Instant`] to race against.

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

/// A Lambda deadline (unix milliseconds, 0 for none) as an instant, `margin` early so that an
/// answer still goes out.
pub fn deadline_before(deadline_ms: u64, margin: Duration) -> Option<Instant> {
    if deadline_ms == 0 {
        return None;
    }
    let left = deadline_ms.saturating_sub(u64::try_from(now_ms()).unwrap_or_default());
    Some(Instant::now() + Duration::from_millis(left).saturating_sub(margin))
}
