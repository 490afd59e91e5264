//! `make bench`'s sync figures (scripts/bench runs this after perf.rs), each beside a reference
//! from the same run:
//!
//! - a full sync of a 50,000-contact HubSpot portal (plus 5,000 companies and 5,000 deals) into
//!   redb, beside the provider-bound time: its pages at HubSpot's documented 100 per 10 s;
//! - an incremental sync after 100 edits: provider requests and time, beside the full one's;
//! - `/items` pages of 1,000 through the handler, median and p99, on redb and on DynamoDB (moto).
//!
//! `cargo bench -p integrations --bench sync -- --rows FILE` appends tab-separated rows to FILE;
//! without `--rows` it prints them. Needs `moto_server` (the connections live in moto).

#[path = "../tests/support/mod.rs"]
mod support;
mod table;

use std::time::{Duration, Instant};

use support::changing::HubSpotPortal;
use support::syncs::{deployment, Deployment, Items};
use table::{row, Row};

const CONTACTS: usize = 50_000;
/// HubSpot's documented limit for an OAuth app, per account.
const HUBSPOT_RATE: (usize, Duration) = (100, Duration::from_secs(10));
const ITEMS_PAGE: usize = 1000;
const ITEMS_READS: usize = 200;

fn main() {
    let rows = table::runtime().block_on(async {
        let mut rows = syncs().await;
        rows.extend(items_on(Items::Dynamo, 8_334).await);
        rows
    });
    table::write(&rows);
}

fn seconds(duration: Duration) -> String {
    format!("{:.1} s", duration.as_secs_f64())
}

fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}

/// Starts a sync and delivers its steps until it ends; how long that took.
async fn synced(deployment: &Deployment, who: &(String, String)) -> Duration {
    let started = Instant::now();
    deployment.start("hubspot", who, false).await;
    deployment.drain().await;
    let status = deployment.status("hubspot", who).await;
    assert_eq!(status["status"], "idle", "{status}");
    started.elapsed()
}

async fn syncs() -> Vec<Row> {
    let deployment = deployment(Items::Redb, &[]).await;
    let portal = HubSpotPortal::mount(&deployment.fake, CONTACTS).await;
    // The fake holds the sync to HubSpot's documented limit: going faster only earns 429s.
    let (max, window) = HUBSPOT_RATE;
    portal.throttle(max, window, 1);
    let who = support::connect(&deployment.app, &deployment.fake, "hubspot", "hubspot-bench").await;
    let full = synced(&deployment, &who).await;
    let pages = portal.requests() - portal.throttled();
    let bound = window * pages as u32 / max as u32;
    let items = deployment.status("hubspot", &who).await["items"]
        .as_u64()
        .unwrap();
    let mut rows = vec![row(
        format!(
            "full sync, HubSpot {CONTACTS} contacts + companies + deals ({items} items, {pages} pages, {} answered 429, redb)",
            portal.throttled()
        ),
        seconds(full),
        format!("{} (pages at 100 per 10 s)", seconds(bound)),
        full.as_secs_f64() / bound.as_secs_f64(),
        "≤ 1.15",
    )];
    portal.edit("contacts", 100);
    let before = portal.requests();
    let incremental = synced(&deployment, &who).await;
    let requests = portal.requests() - before;
    let status = deployment.status("hubspot", &who).await;
    assert_eq!(status["changed"], 100, "{status}");
    rows.push(row(
        format!("incremental sync after 100 edits ({requests} requests, against {pages})"),
        seconds(incremental),
        format!("{} (the full sync)", seconds(full)),
        incremental.as_secs_f64() / full.as_secs_f64(),
        "far below 1",
    ));
    rows.extend(read_items(&deployment, &who, "redb", items as usize).await);
    rows
}

/// `/items` pages of 1,000 over an account synced into `kind`.
async fn items_on(kind: Items, contacts: usize) -> Vec<Row> {
    let deployment = deployment(kind, &[]).await;
    HubSpotPortal::mount(&deployment.fake, contacts).await;
    let who = support::connect(
        &deployment.app,
        &deployment.fake,
        "hubspot",
        "hubspot-bench-items",
    )
    .await;
    synced(&deployment, &who).await;
    let items = deployment.status("hubspot", &who).await["items"]
        .as_u64()
        .unwrap() as usize;
    read_items(&deployment, &who, "DynamoDB on moto", items).await
}

async fn read_items(deployment: &Deployment, who: &(String, String), store: &str, items: usize) -> Vec<Row> {
    let mut times = Vec::with_capacity(ITEMS_READS);
    let mut cursor: Option<String> = None;
    for _ in 0..ITEMS_READS {
        let paging = match &cursor {
            Some(cursor) => format!("&limit={ITEMS_PAGE}&cursor={cursor}"),
            None => format!("&limit={ITEMS_PAGE}"),
        };
        let started = Instant::now();
        let (status, page) = deployment.items("hubspot", who, &paging).await;
        times.push(started.elapsed());
        assert!(status.is_success(), "{page}");
        cursor = page["next_cursor"].as_str().map(str::to_owned);
    }
    times.sort();
    let at = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    let target = if store == "redb" { "< 50 ms" } else { "—" };
    vec![row(
        format!(
            "/items page of {ITEMS_PAGE}, median (p99 {}), {store}, {items} items kept",
            ms(at(0.99))
        ),
        ms(at(0.5)),
        "50 ms (target)".into(),
        at(0.5).as_secs_f64() / 0.05,
        target,
    )]
}
