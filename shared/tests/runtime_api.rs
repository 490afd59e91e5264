//! The function binaries as Lambda runs them, under the emulated Runtime API of
//! support/runtime.rs.
//!
//! `cargo test` builds the fourteen function binaries first (`cargo build -p ...`, a no-op when fresh).
//! With `--nocapture` it prints each binary's cold start and peak RSS.

mod support;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use integrations::connections::{ConnectionId, ConnectionStore};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use support::runtime::{event, form_event, query_event, Function, Outcome};
use support::*;
use wiremock::MockServer;

const FUNCTIONS: [&str; 4] = ["authorize", "oauth2callback", "credentials", "load"];
/// Every function binary, built once for all the tests here.
const BINARIES: [&str; 15] = [
    "authorize",
    "oauth2callback",
    "credentials",
    "load",
    "connection",
    "disconnect",
    "token",
    "connections",
    "refresher",
    "startsync",
    "syncstatus",
    "items",
    "sync",
    "connectsessions",
    "webhooks",
];

/// Builds the function binaries with the profile these tests were built with, once per run.
fn binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let release = !cfg!(debug_assertions);
        let mut cargo = Command::new(env!("CARGO"));
        // Naming this test target makes cargo resolve features as it did for `cargo test`
        // (dev-dependencies included), so the dependencies built for it are reused, not rebuilt.
        cargo
            .args([
                "build",
                "--quiet",
                "-p",
                "integrations",
                "--test",
                "runtime_api",
                "--bins",
            ])
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
        for function in BINARIES {
            cargo.args(["-p", function]);
        }
        if release {
            cargo.arg("--release");
        }
        let status = cargo.status().expect("cargo runs");
        assert!(status.success(), "building the function binaries failed");
        let exe = std::env::current_exe().unwrap();
        exe.parent().unwrap().parent().unwrap().to_path_buf() // target/<profile>/deps/x → target/<profile>
    });
    dir.join(name)
}

/// A function binary, built as these tests were, under its own Runtime API.
async fn start(name: &'static str, env: &HashMap<String, String>) -> Function {
    Function::spawn(&binary(name), name, env).await
}

/// A browser's `FormData`, base64-encoded by API Gateway.
fn formdata_event(provider: &str, endpoint: &str, fields: &[(&str, &str)]) -> String {
    let boundary = "----WebKitFormBoundaryRuntimeApiTest";
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    let content_type = format!("multipart/form-data; boundary={boundary}");
    event(
        "POST",
        &format!("/integrations/{{provider}}/{endpoint}"),
        &format!("/integrations/{provider}/{endpoint}"),
        "",
        Some((&content_type, body.as_bytes(), true)),
    )
}

async fn start_all(env: &HashMap<String, String>) -> HashMap<&'static str, Function> {
    let mut functions = HashMap::new();
    for name in FUNCTIONS {
        functions.insert(name, start(name, env).await);
    }
    functions
}

/// authorize → (consent) → callback → credentials → load, for every provider, through the four
/// binaries on a real Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_provider_connects_and_loads_through_the_four_binaries() {
    let fake = MockServer::start().await;
    let env = vars(&fake.uri(), &[("REDIS_URL", &redis_url())]);
    let functions = start_all(&env).await;

    for provider in fakes::providers() {
        let (user, org) = (unique("user"), unique("org"));
        let (status, _, url) = functions["authorize"]
            .http(formdata_event(
                provider,
                "authorize",
                &[("user_id", &user), ("org_id", &org)],
            ))
            .await;
        assert_eq!(status, 200, "{url}");
        let url: String = serde_json::from_str(&url).unwrap();
        let query = query_of(&url);
        let code = format!("{provider}-code");
        let token = format!("{provider}-token");
        let challenge = query.get("code_challenge").map(String::as_str);
        fakes::mount_provider(&fake, provider, &code, challenge, &token).await;
        let callback_query =
            serde_urlencoded::to_string([("code", &code), ("state", &query["state"])]).unwrap();
        let (status, headers, page) = functions["oauth2callback"]
            .http(query_event("GET", provider, "oauth2callback", &callback_query))
            .await;
        assert_eq!(status, 200, "{page}");
        assert!(headers["content-type"].as_str().unwrap().starts_with("text/html"));
        assert!(page.contains("window.close()"));

        let (status, _, credentials) = functions["credentials"]
            .http(form_event(
                provider,
                "credentials",
                &[("user_id", &user), ("org_id", &org)],
            ))
            .await;
        assert_eq!(status, 200, "{credentials}");
        let (status, _, again) = functions["credentials"]
            .http(form_event(
                provider,
                "credentials",
                &[("user_id", &user), ("org_id", &org)],
            ))
            .await;
        assert_eq!(status, 404, "{again}");

        let (status, _, items) = functions["load"]
            .http(form_event(provider, "load", &[("credentials", &credentials)]))
            .await;
        assert_eq!(status, 200, "{items}");
        let items: Value = serde_json::from_str(&items).unwrap();
        assert_eq!(
            items.as_array().unwrap().len(),
            fakes::listed_items(provider),
            "{items}"
        );
    }

    // Generous limits for a noisy 2-core machine; debug builds get twice as much.
    let scale = if cfg!(debug_assertions) { 2 } else { 1 };
    let (max_cold, max_rss_kib) = (Duration::from_millis(50 * scale), 20 * 1024 * scale);
    println!("\n{:<16} {:>12} {:>14}", "function", "cold start", "peak RSS");
    for name in FUNCTIONS {
        let function = &functions[name];
        let cold = function.cold_start().await;
        let rss = function.peak_rss_kib();
        println!("{name:<16} {:>9.1} ms {rss:>10} KiB", cold.as_secs_f64() * 1000.0);
        assert!(
            cold < max_cold,
            "{name} took {cold:?} to start (limit {max_cold:?})"
        );
        assert!(
            rss < max_rss_kib,
            "{name} peaked at {rss} KiB (limit {max_rss_kib} KiB)"
        );
    }
}

/// Every `events/*.json` through the binary it names, all fourteen started on a real Redis and a
/// DynamoDB table, none skipped: each answers the status and body its file is meant to produce.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_replays_through_its_binary() {
    let fake = MockServer::start().await;
    mount_event_fakes(&fake).await;
    let (env, _) = support::moto::kept_env(&fake.uri()).await;
    let mut functions = HashMap::new();
    for name in BINARIES {
        functions.insert(name, start(name, &env).await);
    }
    for (name, expected, says) in EVENTS {
        let event = std::fs::read_to_string(event_path(name)).unwrap();
        let (status, _, body) = functions[event_function(name).name()].http(event).await;
        assert_eq!(status, expected, "events/{name}.json: {body}");
        assert!(
            body.contains(says),
            "events/{name}.json: {body:?} should contain {says:?}"
        );
    }
    for (name, expected) in INVOKED_EVENTS {
        let event = std::fs::read_to_string(event_path(name)).unwrap();
        let function = name.split('-').next().unwrap();
        let Outcome::Response(answer) = functions[function].invoke(event).await else {
            panic!("events/{name}.json: {function} reported an error");
        };
        let expected: Value = serde_json::from_str(expected).unwrap();
        assert_eq!(answer, expected, "events/{name}.json on an empty deployment");
    }
    // Every function's peak memory after its events (the four HTTP ones also after a whole
    // flow, above); with --nocapture, one line each.
    let max_rss_kib = if cfg!(debug_assertions) {
        40 * 1024
    } else {
        10 * 1024
    };
    for name in BINARIES {
        let rss = functions[name].peak_rss_kib();
        println!("{name:<16} peak RSS {rss:>6} KiB after its events");
        assert!(
            rss < max_rss_kib,
            "{name} peaked at {rss} KiB (limit {max_rss_kib} KiB)"
        );
    }
}

/// `load` needs no store, no key and no client credentials: it starts and serves a load by
/// credentials with only the provider API settings.
#[tokio::test]
async fn load_starts_and_serves_with_only_the_provider_api_settings() {
    let fake = MockServer::start().await;
    mount_event_fakes(&fake).await;
    let env = HashMap::from([("NOTION_API_URL".to_owned(), fake.uri())]);
    let load = start("load", &env).await;
    let event = std::fs::read_to_string(event_path("load")).unwrap();
    let (status, _, body) = load.http(event).await;
    assert_eq!(status, 200, "{body}");
    let items: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(items[0]["name"], "From an event", "{body}");
    assert!(load.init_error().is_none());
}

#[tokio::test]
async fn a_function_that_cannot_start_says_why_through_init_error() {
    let fake = MockServer::start().await;
    let cases = [
        (vars(&fake.uri(), &[]), "REDIS_URL is not set"),
        (
            vars(
                &fake.uri(),
                &[("REDIS_URL", &format!("redis://127.0.0.1:{}", free_port()))],
            ),
            "Redis connection failed",
        ),
        (
            {
                let mut env = vars(&fake.uri(), &[("REDIS_URL", &redis_url())]);
                env.remove("TOKEN_ENCRYPTION_KEY");
                env
            },
            "openssl rand -base64 32",
        ),
    ];
    for (env, message) in cases {
        let mut function = start("authorize", &env).await;
        let status = function.exited().await;
        assert!(!status.success(), "it exits");
        let (error_type, body) = function.init_error().expect("an /init/error report");
        assert_eq!(error_type, "Runtime.InitError");
        assert!(body["errorMessage"].as_str().unwrap().contains(message), "{body}");
        assert!(!function.polled(), "it never polled for work");
    }
}

/// A warm function whose Redis restarts between invocations: a quick 503 while it is gone,
/// success once it is back; never a hang until the Lambda timeout.
#[tokio::test]
async fn a_warm_function_survives_a_redis_restart() {
    let fake = MockServer::start().await;
    let mut server = RedisServer::start(&[]);
    let env = vars(&fake.uri(), &[("REDIS_URL", &server.url())]);
    let function = start("authorize", &env).await;
    let authorize = || form_event("notion", "authorize", &[("user_id", "u"), ("org_id", "o")]);
    assert_eq!(function.http(authorize()).await.0, 200);

    server.restart();
    let started = Instant::now();
    let (status, _, body) = function.http(authorize()).await;
    assert_eq!(status, 200, "after a restart: {body}");
    assert!(started.elapsed() < Duration::from_secs(2));

    server.stop();
    let started = Instant::now();
    let (status, _, body) = function.http(authorize()).await;
    assert_eq!(
        (status, body.as_str()),
        (
            503,
            "{\"detail\":\"The store is unavailable, try again shortly\"}"
        )
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "answered in {:?}",
        started.elapsed()
    );

    server.restart();
    assert_eq!(function.http(authorize()).await.0, 200);
}

fn token_event(id: &ConnectionId, force: bool) -> String {
    let force = if force { "true" } else { "false" };
    let fields = [
        ("user_id", id.user_id()),
        ("org_id", id.org_id()),
        ("force_refresh", force),
    ];
    form_event(id.provider(), "token", &fields)
}

/// 30 `token` requests for one expired connection over 3 function processes: one refresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_token_requests_over_three_processes_refresh_once() {
    let fake = MockServer::start().await;
    let (env, store) = support::moto::kept_env(&fake.uri()).await;
    let id = support::moto::seed(&store, "hubspot", "hubspot-refresh-0", 1).await;
    let rotating = fakes::rotating(&fake, "hubspot", "hubspot-refresh-0").await;
    let processes = [
        start("token", &env).await,
        start("token", &env).await,
        start("token", &env).await,
    ];
    let calls = (0..30).map(|n| processes[n % 3].http(token_event(&id, false)));
    let answers = futures_util::future::join_all(calls).await;
    for (status, _, body) in &answers {
        assert_eq!(*status, 200, "{body}");
        let body: Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["access_token"], "hubspot-access-1", "{body}");
    }
    assert_eq!(
        rotating.calls.load(Ordering::SeqCst),
        1,
        "exactly one call to the token endpoint"
    );
    // The newest refresh token was kept: the next refresh, in another process, succeeds.
    let (status, _, body) = processes[2].http(token_event(&id, true)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("hubspot-access-2"), "{body}");
}

/// A token endpoint that never answers its first refresh (the process asking is then killed)
/// and rotates as documented afterwards.
struct StuckOnce(fakes::Rotating, Arc<std::sync::atomic::AtomicBool>);

impl wiremock::Respond for StuckOnce {
    fn respond(&self, request: &wiremock::Request) -> wiremock::ResponseTemplate {
        if !self.1.swap(true, Ordering::SeqCst) {
            return wiremock::ResponseTemplate::new(504).set_delay(Duration::from_secs(30));
        }
        self.0.respond(request)
    }
}

/// The lease holder dies mid-refresh: another process takes over once the lease expires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_whose_process_died_is_taken_over_after_its_lease() {
    let fake = MockServer::start().await;
    let (env, store) = support::moto::kept_env(&fake.uri()).await;
    let id = support::moto::seed(&store, "hubspot", "hubspot-refresh-0", 1).await;
    let rotating = fakes::Rotating::new("hubspot", "hubspot-refresh-0");
    wiremock::Mock::given(wiremock::matchers::path("/hubspot/token"))
        .respond_with(StuckOnce(rotating.clone(), Arc::default()))
        .mount(&fake)
        .await;
    let holder = start("token", &env).await;
    holder.send(token_event(&id, false)).await;
    // Killed once its refresh reached the provider, holding the lease.
    let started = Instant::now();
    while fake.received_requests().await.unwrap_or_default().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the refresh never reached the provider"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(holder);
    let lease = store.get(&id).await.unwrap().unwrap();
    assert!(lease.lease_owner.is_some(), "the dead process holds the lease");

    let taker = start("token", &env).await;
    let started = Instant::now();
    let (status, _, body) = taker.http(token_event(&id, false)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("hubspot-access-1"), "{body}");
    println!("taken over after {:?}", started.elapsed());
    assert_eq!(rotating.calls.load(Ordering::SeqCst), 1);
    let kept = store.get(&id).await.unwrap().unwrap();
    assert_eq!((kept.lease_owner, kept.last_refreshed_at.is_some()), (None, true));
}

/// The scheduled refresher: due connections refreshed, a refused one marked, the rest left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_refresher_refreshes_what_is_due_on_a_scheduled_event() {
    let fake = MockServer::start().await;
    let (env, store) = support::moto::kept_env(&fake.uri()).await;
    let due = support::moto::seed(&store, "hubspot", "hubspot-refresh-0", 60).await;
    let later = support::moto::seed(&store, "hubspot", "hubspot-refresh-later", 3600).await;
    let refused = support::moto::seed(&store, "airtable", "a-refresh-token-airtable-forgot", 120).await;
    let rotating = fakes::rotating(&fake, "hubspot", "hubspot-refresh-0").await;
    // Airtable only knows another refresh token: invalid_grant.
    fakes::rotating(&fake, "airtable", "airtable-knows-this-one").await;
    let refresher = start("refresher", &env).await;
    let event = std::fs::read_to_string(event_path("refresher-scheduled")).unwrap();
    let Outcome::Response(summary) = refresher.invoke(event).await else {
        panic!("the refresher reported an error");
    };
    assert_eq!(
        summary,
        json!({"refreshed": 1, "skipped": 0, "needs_reauthorization": 1, "transient": 0,
               "misconfigured": 0, "deferred": 0, "unreadable": 0, "failed": 0, "resealed": 0,
               "under_old_keys": 0})
    );
    assert_eq!(rotating.calls.load(Ordering::SeqCst), 1);
    let get = |id| {
        let store = &store;
        async move { store.get(id).await.unwrap().unwrap() }
    };
    assert!(get(&due).await.last_refreshed_at.is_some());
    assert!(
        get(&later).await.last_refreshed_at.is_none(),
        "not due within REFRESH_AHEAD_SECS"
    );
    assert_eq!(get(&refused).await.status.as_str(), "needs_reauthorization");
}

/// The refresh's commit, answered throttled after 2.5 s three times, lands about 8 s after the
/// provider rotated the token: past where the lease used to end (HTTP timeout + 5 s). 30 token
/// calls over 3 processes meanwhile: every one gets the new token, none is marked, and no
/// refresh token reaches the provider twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_delayed_past_the_old_lease_loses_nothing() {
    let fake = MockServer::start().await;
    let (mut env, store) = support::moto::kept_env(&fake.uri()).await;
    let id = support::moto::seed(&store, "airtable", "airtable-refresh-0", 1).await;
    let rotating = fakes::rotating(&fake, "airtable", "airtable-refresh-0").await;
    let commit = proxy::Fault {
        operation: "UpdateItem",
        marker: "last_refreshed_at",
        delay: Duration::from_millis(2500),
        throttle: true,
        times: 3,
    };
    let proxy = proxy::start(support::moto::endpoint(), vec![commit]).await;
    env.insert("AWS_ENDPOINT_URL_DYNAMODB".into(), proxy.url.clone());
    let processes = [
        start("token", &env).await,
        start("token", &env).await,
        start("token", &env).await,
    ];
    let started = Instant::now();
    let calls = (0..30).map(|n| processes[n % 3].http(token_event(&id, false)));
    let answers = futures_util::future::join_all(calls).await;
    let took = started.elapsed();
    for (status, _, body) in &answers {
        assert_eq!(*status, 200, "{body}");
        assert!(body.contains("airtable-access-1"), "{body}");
    }
    assert!(took > Duration::from_secs(6), "the commit was not held: {took:?}");
    assert_eq!(proxy.faulted.load(Ordering::SeqCst), 3);
    let presented = rotating.presented.lock().unwrap().clone();
    assert_eq!(presented, ["airtable-refresh-0"], "refresh tokens sent");
    let kept = store.get(&id).await.unwrap().unwrap();
    assert_eq!(
        (kept.status.as_str(), kept.version, kept.lease_owner),
        ("active", 2, None)
    );
    println!(
        "delayed commit: 30 answers in {took:?}, refresh tokens sent {}",
        presented.len()
    );
}

/// A commit throttled twice and then accepted: the pair is stored, and the next refresh (in
/// another process) presents the newest refresh token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_throttled_twice_then_accepted_loses_nothing() {
    let fake = MockServer::start().await;
    let (mut env, store) = support::moto::kept_env(&fake.uri()).await;
    let id = support::moto::seed(&store, "airtable", "airtable-refresh-0", 3600).await;
    let rotating = fakes::rotating(&fake, "airtable", "airtable-refresh-0").await;
    let commit = proxy::Fault {
        operation: "UpdateItem",
        marker: "last_refreshed_at",
        delay: Duration::ZERO,
        throttle: true,
        times: 2,
    };
    let proxy = proxy::start(support::moto::endpoint(), vec![commit]).await;
    env.insert("AWS_ENDPOINT_URL_DYNAMODB".into(), proxy.url.clone());
    let (first, second) = (start("token", &env).await, start("token", &env).await);
    let (status, _, body) = first.http(token_event(&id, true)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("airtable-access-1"), "{body}");
    assert_eq!(proxy.faulted.load(Ordering::SeqCst), 2);
    let (status, _, body) = second.http(token_event(&id, true)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("airtable-access-2"), "{body}");
    let presented = rotating.presented.lock().unwrap().clone();
    assert_eq!(presented, ["airtable-refresh-0", "airtable-refresh-1"]);
    let kept = store.get(&id).await.unwrap().unwrap();
    assert_eq!((kept.status.as_str(), kept.version), ("active", 3));
}

/// A whole sync through the `sync` binary: the scheduled finder starts it, its steps go through
/// moto's SQS as Lambda's event source mapping delivers them (one message a batch, with its
/// receive count), and its items land in moto's DynamoDB. Each message is deleted only when the
/// function reports no failure for it, as `ReportBatchItemFailures` does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sync_function_runs_a_sync_off_sqs() {
    use integrations::sync::dynamo::DynamoItems;
    use integrations::sync::{ItemStore, SyncState};
    let fake = MockServer::start().await;
    support::changing::HubSpotPortal::mount(&fake, 1_000).await;
    let (mut env, store) = support::moto::kept_env(&fake.uri()).await;
    env.insert("SYNC_STEP_PAGES".into(), "4".into());
    let id = support::moto::seed(&store, "hubspot", "hubspot-refresh-sync", 3600).await;
    let sync = start("sync", &env).await;
    let scheduled = std::fs::read_to_string(event_path("sync-scheduled")).unwrap();
    let Outcome::Response(found) = sync.invoke(scheduled).await else {
        panic!("the finder reported an error");
    };
    assert_eq!(found, json!({"started": 1, "resumed": 0, "failed": 0}));

    let sqs = support::moto::sqs_client().await;
    let queue = &env["SYNC_QUEUE_URL"];
    let mut steps = 0;
    loop {
        let Some(message) = support::moto::receive(&sqs, queue, 1).await else {
            break;
        };
        let event = json!({"Records": [support::moto::sqs_record(&message, "sync")]});
        let Outcome::Response(answer) = sync.invoke(event.to_string()).await else {
            panic!("the sync function reported an error");
        };
        assert_eq!(answer, json!({"batchItemFailures": []}), "step {steps}");
        sqs.delete_message()
            .queue_url(queue)
            .receipt_handle(message.receipt_handle().unwrap())
            .send()
            .await
            .unwrap();
        steps += 1;
        assert!(steps < 20, "the sync does not end");
    }
    // 1,200 objects in 12 pages of 100, 4 pages a step, then the sweep.
    assert_eq!(steps, 4);
    let items = DynamoItems::new(support::moto::client().await, env["ITEMS_TABLE"].clone(), 30);
    let record = items.sync_record(&id.key()).await.unwrap().unwrap();
    assert_eq!(
        (record.status, record.counts.items, record.counts.added),
        (SyncState::Idle, 1_200, 1_200)
    );
    let kept = items.by_id(&id.key(), None, 2_000).await.unwrap();
    assert_eq!(kept.len(), 1_200);
    let rss = sync.peak_rss_kib();
    println!("sync             peak RSS {rss:>6} KiB after a 1,200-item sync");
    assert!(rss < 64 * 1024, "the sync function peaked at {rss} KiB");
}

/// The `webhooks` binary on moto's SQS: a stream record of a new connection becomes one queued
/// `connection.created` (its id from the record, no token in it); a try that fails (no receiver
/// listens) leaves the message on the queue, hidden for the schedule's wait; the last try
/// dead-letters it. (A delivery that works is tested in process: the same code signs and sends.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhooks_function_queues_the_stream_and_retries_off_sqs() {
    let fake = MockServer::start().await;
    let (mut env, _) = support::moto::kept_env(&fake.uri()).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    env.insert("WEBHOOK_URL".into(), format!("https://localhost:{closed}/hooks"));
    env.insert("WEBHOOK_SECRETS".into(), support::receiver::SECRET.into());
    env.insert("WEBHOOK_TIMEOUT_MS".into(), "500".into());
    let webhooks = start("webhooks", &env).await;
    let stream = std::fs::read_to_string(event_path("webhooks-connection-created")).unwrap();
    let Outcome::Response(answer) = webhooks.invoke(stream).await else {
        panic!("the webhooks function reported an error");
    };
    assert_eq!(answer, json!({"batchItemFailures": []}));

    let sqs = support::moto::sqs_client().await;
    let queue = &env["WEBHOOK_QUEUE_URL"];
    let message = support::moto::receive(&sqs, queue, 2)
        .await
        .expect("the event is queued");
    let envelope: Value = serde_json::from_str(message.body().unwrap()).unwrap();
    assert_eq!(envelope["type"], "connection.created");
    assert!(envelope["id"].as_str().unwrap().starts_with("msg_"), "{envelope}");
    let body: Value = serde_json::from_str(envelope["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["type"], "connection.created");
    assert_eq!(
        (
            &body["data"]["provider"],
            &body["data"]["account"]["id"],
            &body["data"]["status"]
        ),
        (&json!("hubspot"), &json!("12345678"), &json!("active")),
        "{body}"
    );
    assert!(!message.body().unwrap().contains("sealed-tokens"), "{envelope}");

    // First try: nobody listens. The message stays, hidden for about 5 s (the first wait).
    let event = json!({"Records": [support::moto::sqs_record(&message, "webhooks")]});
    let Outcome::Response(answer) = webhooks.invoke(event.to_string()).await else {
        panic!("the webhooks function reported an error");
    };
    assert_eq!(
        answer,
        json!({"batchItemFailures": [{"itemIdentifier": message.message_id()}]})
    );
    assert!(
        support::moto::receive(&sqs, queue, 1).await.is_none(),
        "hidden for the retry's wait"
    );
    let hidden = Instant::now();
    let again = loop {
        if let Some(message) = support::moto::receive(&sqs, queue, 1).await {
            break message;
        }
        assert!(
            hidden.elapsed() < Duration::from_secs(15),
            "the event never came back"
        );
    };
    // The first wait: 5 s ±20 %.
    assert!(
        hidden.elapsed() >= Duration::from_secs(2),
        "{:?}",
        hidden.elapsed()
    );
    assert_eq!(again.body(), message.body(), "the same event, the same id");

    // The last try: dead-lettered, and deleted from the queue.
    let mut last = support::moto::sqs_record(&again, "webhooks");
    last["attributes"]["ApproximateReceiveCount"] = json!(integrations::webhooks::ATTEMPTS.to_string());
    let Outcome::Response(answer) = webhooks.invoke(json!({"Records": [last]}).to_string()).await else {
        panic!("the webhooks function reported an error");
    };
    assert_eq!(answer, json!({"batchItemFailures": []}));
    let dead = support::moto::receive(&sqs, &env["WEBHOOK_DLQ_URL"], 2)
        .await
        .expect("dead-lettered");
    assert_eq!(dead.body(), message.body());
}
