//! When a failed delivery is tried again: exponential backoff with jitter, capped at an hour,
//! over about a day, the receiver's `Retry-After` honoured; a refusal (a 4xx other than 408 and
//! 429) only a few times.

use std::time::Duration;

use rand::Rng;

/// Tries of a delivery that fails for now (429, 5xx, a timeout, no connection): the ramp, then
/// hourly, for about a day.
pub const ATTEMPTS: u32 = 29;
/// Tries of a delivery the receiver refuses (any other 4xx).
pub const REFUSED_ATTEMPTS: u32 = 3;
/// The first waits after a failed try, in units of the base (5 s by default): 5 s, 25 s, about
/// 2 min, 10 min, 52 min; then hourly ([`HOURLY`]), so that a receiver back from an outage gets
/// its events within the hour: 24 h in all, each ±20 %.
const RAMP: [u32; 5] = [1, 5, 25, 125, 625];
const HOURLY: u32 = 720;
/// SQS hides a message for at most 12 h; a `Retry-After` longer than that is cut to it.
const LONGEST: Duration = Duration::from_secs(12 * 3600 - 60);

/// How the receiver answered one try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Delivered(u16),
    /// Worth trying again: a 408, 429 or 5xx (`status`), a timeout or no connection (none).
    Failed {
        status: Option<u16>,
        retry_after: Option<Duration>,
        reason: String,
    },
    /// Any other answer: the receiver does not want it.
    Refused(u16),
}

#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    base: Duration,
}

impl Schedule {
    pub fn new(base: Duration) -> Self {
        Schedule { base }
    }

    /// After try number `tried` (from 1) went as `attempt`: the wait before the next one, or
    /// `None` when there is none (delivered, or that was the last).
    pub fn next(&self, tried: u32, attempt: &Attempt) -> Option<Duration> {
        let (limit, retry_after) = match attempt {
            Attempt::Delivered(_) => return None,
            Attempt::Refused(_) => (REFUSED_ATTEMPTS, None),
            Attempt::Failed { retry_after, .. } => (ATTEMPTS, *retry_after),
        };
        if tried >= limit {
            return None;
        }
        let units = RAMP.get(tried.max(1) as usize - 1).copied().unwrap_or(HOURLY);
        let jitter = rand::thread_rng().gen_range(0.8..1.2);
        let wait = self.base.mul_f64(f64::from(units) * jitter);
        Some(wait.max(retry_after.unwrap_or_default()).min(LONGEST))
    }
}
