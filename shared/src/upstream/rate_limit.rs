//! A provider's documented rate limit, kept on our side rather than learnt from 429s.

use std::time::Duration;

/// At most `max` requests begun in any `window`, shared by the concurrent requests of one
/// listing (and by its clones: a sync step's pages): a provider's documented rate limit, kept on
/// our side rather than learnt from 429s.
#[derive(Clone)]
pub struct RateLimit {
    max: usize,
    window: Duration,
    started: std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<tokio::time::Instant>>>,
}

impl RateLimit {
    pub fn new(max: usize, window: Duration) -> Self {
        RateLimit {
            max: max.max(1),
            window,
            started: Default::default(),
        }
    }

    /// Waits until one more request may begin, and counts it.
    pub async fn acquire(&self) {
        loop {
            let wait_until = {
                let now = tokio::time::Instant::now();
                let mut started = self
                    .started
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                while started
                    .front()
                    .is_some_and(|&at| now.duration_since(at) >= self.window)
                {
                    started.pop_front();
                }
                if started.len() < self.max {
                    started.push_back(now);
                    return;
                }
                started[0] + self.window
            };
            tokio::time::sleep_until(wait_until).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_rate_limit_lets_a_burst_through_then_waits_for_the_window() {
        let limit = RateLimit::new(3, Duration::from_millis(200));
        let started = tokio::time::Instant::now();
        for _ in 0..3 {
            limit.acquire().await;
        }
        assert!(
            started.elapsed() < Duration::from_millis(100),
            "the burst is not held back"
        );
        limit.acquire().await;
        assert!(
            started.elapsed() >= Duration::from_millis(200),
            "the fourth waits for the window"
        );
    }
}
