//! When tokens are due for a refresh.

use std::time::Duration;

use crate::clock::now;
use crate::connections::Connection;

/// A token handed out has at least this long left (unless the margin is shorter).
const MIN_LEFT_SECS: i64 = 30;

/// When tokens are due for a refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Within this margin of expiring, but not before half their life has passed (nor with less
    /// than 30 s left): tokens that live less than the margin (the sandbox's 120 s against the
    /// default 300 s) would otherwise be refreshed on every call. For callers about to use them.
    Soon(Duration),
    /// Within this window of expiring, however long they live: the scheduled refresher's look-ahead.
    Within(Duration),
}

impl Due {
    /// Whether `connection`'s tokens are due now.
    pub(super) fn is_due(self, connection: &Connection) -> bool {
        let Some(expires_at) = connection.expires_at else {
            return false;
        };
        let seconds = |window: Duration| i64::try_from(window.as_secs()).unwrap_or(i64::MAX);
        let window = match self {
            // `updated_at` is when an active connection's tokens were last written.
            Due::Soon(margin) => {
                let half_life = (expires_at - connection.updated_at).max(0) / 2;
                seconds(margin).min(half_life.max(MIN_LEFT_SECS))
            }
            Due::Within(window) => seconds(window),
        };
        expires_at <= now().saturating_add(window)
    }
}
