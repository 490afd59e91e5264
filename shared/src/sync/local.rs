//! `local-api`'s sync worker: the steps its [`LocalQueue`](super::LocalQueue) was sent, each run
//! after its delay as SQS would run it on Lambda, and the finder every few seconds. A restart loses
//! the queue, not the syncs: the first pass resumes every sync left running.

use std::sync::Arc;
use std::time::Duration;

use super::engine::Syncer;
use super::finder::sync_due;
use super::queue::LocalReceiver;

/// Runs of a step that fails outright (as SQS's receive count before its dead-letter queue).
const ATTEMPTS: u32 = 5;

/// How often the finder runs, and how long a step that failed outright waits to run again.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub finder_every: Duration,
    pub redelivery: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            // Also how soon a new connection's first sync starts.
            finder_every: Duration::from_secs(5),
            redelivery: Duration::from_secs(5),
        }
    }
}

/// Runs until the queue's sender is dropped.
pub async fn run(syncer: Arc<Syncer>, mut receiver: LocalReceiver, timing: Timing) {
    let finder = Arc::clone(&syncer);
    let finding = tokio::spawn(async move {
        // Nothing of this process is running yet: every running sync is one a restart cut short.
        let mut stalled = Duration::ZERO;
        loop {
            let found = sync_due(&finder, stalled, None).await;
            if found != Default::default() {
                tracing::info!(
                    started = found.started,
                    resumed = found.resumed,
                    failed = found.failed,
                    "sync finder"
                );
            }
            stalled = finder.settings().step_time * 3;
            tokio::time::sleep(timing.finder_every).await;
        }
    });
    while let Some((message, delay)) = receiver.recv().await {
        let syncer = Arc::clone(&syncer);
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            for attempt in 0..ATTEMPTS {
                match syncer.step(&message, attempt > 0, None).await {
                    Ok(_) => return,
                    Err(error) => {
                        tracing::warn!(%error, run = message.run, step = message.step, attempt, "sync step failed");
                        tokio::time::sleep(timing.redelivery).await;
                    }
                }
            }
            tracing::error!(
                run = message.run,
                step = message.step,
                "sync step dropped after {ATTEMPTS} attempts"
            );
        });
    }
    finding.abort();
}
