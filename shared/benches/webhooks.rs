//! `make bench`'s webhook figures (scripts/bench runs this after sync.rs), in `local-api`'s
//! in-process delivery (the deployed one adds the stream's and SQS's own latency):
//!
//! - event → receiver: from a connection's save returning to its `connection.created` at a
//!   receiver that verifies it, median and p99 over 500 events, beside a bare POST to the same
//!   receiver;
//! - a receiver down for an hour: the schedule run 5,000 times faster (`WEBHOOK_RETRY_BASE_MS`
//!   1 instead of 5,000), 100 events raised over the outage; how long after the receiver is back
//!   they arrive (scaled back to real time), and whether any is lost.
//!
//! `cargo bench -p integrations --bench webhooks -- --rows FILE` appends rows to FILE.

#[path = "../tests/support/mod.rs"]
mod support;
mod table;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use integrations::config::WebhookSettings;
use integrations::connections::{self, ConnectionId, ConnectionStore, EmbeddedStore};
use integrations::tokens::TokenSet;
use integrations::webhooks::local::{self, LocalWebhooks};
use integrations::webhooks::{Endpoint, Schedule};
use serde_json::json;
use support::receiver::{Receiver, SECRET};
use table::{row, Row};

const EVENTS: usize = 500;
const OUTAGE_EVENTS: usize = 100;
/// The schedule's unit: 1 ms here stands for the deployed 5 s.
const SCALE: u32 = 5_000;

fn main() {
    let rows = table::runtime().block_on(async {
        let mut rows = latency().await;
        rows.push(outage().await);
        rows
    });
    table::write(&rows);
}

fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// An embedded store whose writes `local-api`'s delivery task turns into events for `receiver`.
fn deployment(receiver: &Receiver, base: Duration) -> connections::SharedStore {
    let settings = WebhookSettings {
        url: Some(receiver.url()),
        secrets: vec![SECRET.to_owned()],
        queue_url: None,
        dead_letter_url: None,
        retry_base: base,
        timeout: Duration::from_secs(5),
    };
    let endpoint = Endpoint::new(&settings, reqwest::Client::new(), true)
        .unwrap()
        .unwrap();
    let (watcher, changes) = tokio::sync::mpsc::unbounded_channel();
    let path = std::env::temp_dir().join(support::unique("webhooks-bench"));
    let store = EmbeddedStore::open(&path, support::sealer())
        .unwrap()
        .watched(watcher);
    let (_, events) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(local::run(LocalWebhooks {
        endpoint: Arc::new(endpoint),
        schedule: Schedule::new(base),
        changes,
        events,
    }));
    connections::shared(store)
}

/// Saves user `n`'s connection; when its save returned.
async fn connect(store: &connections::SharedStore, org: &str, n: usize) -> (String, Instant) {
    let user = format!("user-{n}");
    let id = ConnectionId::new("sandbox", org, &user).unwrap();
    let raw = json!({"access_token": "a", "refresh_token": "r", "token_type": "bearer", "expires_in": 3600});
    let now = integrations::clock::now();
    let tokens = TokenSet::from_response(raw.as_object().unwrap().clone(), now).unwrap();
    store.save_connected(&id, &tokens, None, now).await.unwrap();
    (user, Instant::now())
}

/// When each user's event reached the receiver once it was `back` (its delivered try).
async fn arrivals(receiver: &Receiver, count: usize, back: Instant) -> HashMap<String, Instant> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let delivered: HashMap<String, Instant> = receiver
            .deliveries()
            .into_iter()
            .filter(|delivery| delivery.verified_by == [0] && delivery.at >= back)
            .map(|delivery| {
                (
                    delivery.body["data"]["user_id"].as_str().unwrap().to_owned(),
                    delivery.at,
                )
            })
            .collect();
        if delivered.len() >= count || Instant::now() > deadline {
            return delivered;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn latency() -> Vec<Row> {
    let receiver = Receiver::start(&[SECRET], Vec::new()).await;
    let store = deployment(&receiver, Duration::from_secs(5));
    let org = support::unique("org");
    let mut latencies = Vec::new();
    for n in 0..EVENTS {
        let (user, saved) = connect(&store, &org, n).await;
        let arrived = loop {
            let deliveries = receiver.deliveries();
            if let Some(delivery) = deliveries
                .iter()
                .find(|d| d.body["data"]["user_id"] == user.as_str())
            {
                break delivery.at;
            }
            tokio::task::yield_now().await;
        };
        latencies.push(arrived - saved);
    }
    latencies.sort();
    let http = reqwest::Client::new();
    let mut posts = Vec::new();
    for _ in 0..EVENTS {
        let started = Instant::now();
        http.post(receiver.url()).body("{}").send().await.unwrap();
        posts.push(started.elapsed());
    }
    posts.sort();
    let (p50, p99, floor) = (
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&posts, 0.5),
    );
    vec![row(
        format!(
            "webhook event → receiver, median of {EVENTS} (local, in process; p99 {})",
            ms(p99)
        ),
        ms(p50),
        format!("{} (a bare POST to the receiver)", ms(floor)),
        p50.as_secs_f64() / floor.as_secs_f64(),
        "< 50 ms",
    )]
}

async fn outage() -> Row {
    let hour = Duration::from_secs(3600) / SCALE;
    let started = Instant::now();
    let back = started + hour;
    let receiver = Receiver::down_until(&[SECRET], back).await;
    let store = deployment(&receiver, Duration::from_millis(1));
    let org = support::unique("org");
    for n in 0..OUTAGE_EVENTS {
        connect(&store, &org, n).await;
        tokio::time::sleep_until((started + hour * n as u32 / OUTAGE_EVENTS as u32).into()).await;
    }
    let arrived = arrivals(&receiver, OUTAGE_EVENTS, back).await;
    let mut late: Vec<Duration> = arrived
        .values()
        .map(|at| at.saturating_duration_since(back) * SCALE)
        .collect();
    late.sort();
    let minutes = |duration: Duration| format!("{:.0} min", duration.as_secs_f64() / 60.0);
    row(
        format!(
            "receiver down 1 h: {} of {OUTAGE_EVENTS} events delivered after it is back (median {} late)",
            arrived.len(),
            minutes(percentile(&late, 0.5))
        ),
        format!("{} late at most", minutes(*late.last().unwrap())),
        "72 min (an hourly wait +20 %)".into(),
        late.last().unwrap().as_secs_f64() / 4320.0,
        "≤ 1.00, none lost",
    )
}
