//! `make bench` (scripts/bench) runs this harness after its wrk run: every figure beside a
//! reference measured in the same run.
//!
//! - warm invocations of `authorize` and `credentials` under an emulated Lambda Runtime API (the
//!   pattern of tests/runtime_api.rs), timed from event delivery to the posted response;
//! - each function binary's cold start (spawn to first `/next` poll) and peak RSS after a flow;
//! - what a due refresh adds to a load by user and org (connections in moto);
//! - a large account's load through the `load` binary against a provider fake answering each
//!   page after 50 ms, beside the provider-bound limit, with requests counted per rate window;
//! - the normalisers alone, 10,000 objects per provider.
//!
//! `cargo bench -p integrations --bench perf -- --rows FILE` appends tab-separated rows to FILE
//! (scripts/bench prints them as one table); without `--rows` it prints them. It expects the
//! function binaries in target/release, built as Lambda gets them (scripts/bench builds them),
//! `REDIS_URL` or a `redis-server` to start, and `moto_server` for the connections functions.

#[path = "../tests/support/mod.rs"]
mod support;
mod table;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use integrations::providers::{airtable, hubspot, notion};
use integrations::single_use::{credentials_key, RedisBackend, SingleUse};
use integrations::tokens::TokenSet;
use serde_json::{json, Value};
use support::runtime::{event, form_event, Function, Outcome};
use support::{redis_url, sealer, vars};
use table::{row, Row};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Invocations per warm measurement.
const WARM_INVOCATIONS: usize = 1000;
/// What every fake provider page waits before answering.
const PAGE_DELAY: Duration = Duration::from_millis(50);
const NORMALISED_OBJECTS: usize = 10_000;

fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

fn main() {
    let mut rows = table::runtime().block_on(async {
        let mut rows = warm().await;
        rows.extend(cold_starts().await);
        rows.extend(refresh_cost().await);
        rows.extend(large_loads().await);
        rows
    });
    rows.extend(normalisation());
    table::write(&rows);
}

// ---------------------------------------------------------------------------------------------
// The function binaries under the emulated Runtime API of tests/support/runtime.rs.

/// A release binary, as Lambda gets it (scripts/bench builds them).
async fn start(name: &'static str, env: &HashMap<String, String>) -> Function {
    let binary = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/release")
        .join(name);
    Function::spawn(&binary, name, env).await
}

/// The function's response, and the time from delivering the event to receiving it.
async fn invoke(function: &Function, event: String) -> (Value, Duration) {
    match function.invoke_timed(event).await {
        (Outcome::Response(response), took) => (response, took),
        (Outcome::Error(error), _) => panic!("{} reported an invocation error: {error}", function.name),
    }
}

async fn status(function: &Function, event: String) -> (u16, Duration) {
    let (response, took) = invoke(function, event).await;
    (response["statusCode"].as_u64().unwrap_or_default() as u16, took)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

// ---------------------------------------------------------------------------------------------
// Warm invocations.

async fn warm() -> Vec<Row> {
    let env = vars("http://127.0.0.1:9", &[("REDIS_URL", &redis_url())]);
    let mut rows = Vec::new();

    let authorize = start("authorize", &env).await;
    let invoke = || form_event("notion", "authorize", &[("user_id", "u"), ("org_id", "o")]);
    rows.push(warm_row(&authorize, (0..WARM_INVOCATIONS + 5).map(|_| invoke()).collect()).await);

    // Credentials waiting to be picked up, one per invocation, as the callback leaves them.
    let store = SingleUse::new(RedisBackend::connect(&redis_url(), None).await.unwrap(), sealer());
    let raw = json!({ "access_token": "secret-token", "token_type": "bearer", "workspace_id": "w",
        "owner": { "type": "user" }, "bot_id": "b" });
    let tokens = TokenSet::from_response(raw.as_object().unwrap().clone(), 0).unwrap();
    let users: Vec<String> = (0..WARM_INVOCATIONS + 5).map(|n| format!("user-{n}")).collect();
    for user in &users {
        let key = credentials_key("notion", "org", user);
        store.put(&key, &tokens, Duration::from_secs(600)).await.unwrap();
    }
    let credentials = start("credentials", &env).await;
    let events = users
        .iter()
        .map(|user| form_event("notion", "credentials", &[("user_id", user), ("org_id", "org")]))
        .collect();
    rows.push(warm_row(&credentials, events).await);
    rows
}

async fn warm_row(function: &Function, events: Vec<String>) -> Row {
    // A few invocations first: the first one after a cold start is not a warm one. Each event is
    // sent once (a credentials hand-off answers only once).
    let (warm_up, measured) = events.split_at(5.min(events.len()));
    for event in warm_up {
        invoke(function, event.clone()).await;
    }
    let mut took = Vec::with_capacity(measured.len());
    for event in measured.iter().cloned() {
        let (status, duration) = status(function, event).await;
        assert_eq!(status, 200, "{} answered {status}", function.name);
        took.push(duration);
    }
    took.sort();
    let (median, p99) = (percentile(&took, 0.5), percentile(&took, 0.99));
    row(
        format!(
            "{}: warm invocation, event delivered → response posted (×{}, local Redis; p99 {})",
            function.name,
            took.len(),
            ms(p99)
        ),
        format!("median {}", ms(median)),
        "1 ms (target)".into(),
        median.as_secs_f64() * 1000.0,
        "< 1.00",
    )
}

// ---------------------------------------------------------------------------------------------
// Cold starts and peak RSS.

async fn cold_starts() -> Vec<Row> {
    let fake = MockServer::start().await;
    mount_flow_fakes(&fake).await;
    let (env, _) = support::moto::kept_env(&fake.uri()).await;
    let (user, org) = ("bench-user", "bench-org");
    let who = [("user_id", user), ("org_id", org)];
    let query = format!("org_id={org}&user_id={user}");
    let mut rows = Vec::new();
    let started: Vec<(&'static str, Vec<Duration>, u64)> = {
        let mut started = Vec::new();
        for name in [
            "authorize",
            "oauth2callback",
            "credentials",
            "load",
            "connection",
            "token",
            "connections",
            "disconnect",
            "refresher",
        ] {
            // Five starts each (the median is reported); the last one then serves a flow.
            let mut colds = Vec::new();
            let mut function = None;
            for _ in 0..5 {
                let started = start(name, &env).await;
                colds.push(started.cold_start().await);
                function = Some(started);
            }
            let function = function.unwrap();
            let connection_route = "/integrations/{provider}/connection";
            let connection_path = "/integrations/hubspot/connection";
            let flow: Vec<(String, u16)> = match name {
                "authorize" => vec![(form_event("hubspot", "authorize", &who), 200)],
                "oauth2callback" => {
                    // A state put there by authorize's code path: the real one through Redis.
                    let state = authorize_state(&env).await;
                    let callback_query = format!("code=hubspot-code&state={state}");
                    let route = "/integrations/{provider}/oauth2callback";
                    let path = "/integrations/hubspot/oauth2callback";
                    vec![(event("GET", route, path, &callback_query, None), 200)]
                }
                "credentials" => vec![(form_event("hubspot", "credentials", &who), 200)],
                "load" => vec![(
                    form_event("hubspot", "load", &[("credentials", r#"{"access_token":"hubspot-token"}"#)]),
                    200,
                )],
                "connection" => vec![(event("GET", connection_route, connection_path, &query, None), 200)],
                "token" => vec![(form_event("hubspot", "token", &who), 200)],
                "connections" => vec![(event("GET", "/connections", "/connections", &query, None), 200)],
                "disconnect" => vec![(
                    event("DELETE", connection_route, connection_path, &query, None),
                    200,
                )],
                _ => vec![(json!({"version": "0", "id": "bench", "detail-type": "Scheduled Event", "source": "aws.events", "account": "123456789012", "time": "2026-11-26T20:00:00Z", "region": "eu-west-1", "resources": [], "detail": {}}).to_string(), 0)],
            };
            for (event, expected) in flow {
                let (response, _) = invoke(&function, event).await;
                let status = response["statusCode"].as_u64().unwrap_or_default() as u16;
                assert_eq!(status, expected, "{name}: {response}");
            }
            started.push((name, colds, function.peak_rss_kib()));
        }
        started
    };
    for (name, mut colds, rss) in started {
        colds.sort();
        let cold = percentile(&colds, 0.5);
        rows.push(row(
            format!("{name}: cold start, spawn → first /next poll (median of 5)"),
            ms(cold),
            "15 ms (target)".into(),
            cold.as_secs_f64() * 1000.0 / 15.0,
            "< 1.00",
        ));
        rows.push(row(
            format!("{name}: peak RSS (VmHWM) after a flow"),
            format!("{:.1} MiB", rss as f64 / 1024.0),
            "10 MiB (target)".into(),
            rss as f64 / 1024.0 / 10.0,
            "< 1.00",
        ));
    }
    rows
}

/// Starts a HubSpot consent through the real `authorize` code path and returns its state.
async fn authorize_state(env: &HashMap<String, String>) -> String {
    let authorize = start("authorize", env).await;
    let (response, _) = invoke(
        &authorize,
        form_event(
            "hubspot",
            "authorize",
            &[("user_id", "bench-user"), ("org_id", "bench-org")],
        ),
    )
    .await;
    let url: String = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    url::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .find(|(name, _)| name == "state")
        .map(|(_, value)| value.into_owned())
        .unwrap()
}

/// HubSpot's token, refresh, revocation and listing endpoints, for the flows above.
async fn mount_flow_fakes(fake: &MockServer) {
    use wiremock::matchers::{method, path, path_regex};
    let tokens = json!({ "access_token": "hubspot-token", "refresh_token": "hubspot-refresh",
        "expires_in": 1800, "token_type": "bearer", "scopes": ["oauth"], "hub_id": 1 });
    Mock::given(method("POST"))
        .and(path("/hubspot/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(tokens))
        .mount(fake)
        .await;
    Mock::given(method("POST"))
        .and(path("/hubspot/revoke"))
        .respond_with(ResponseTemplate::new(200))
        .mount(fake)
        .await;
    Mock::given(method("GET"))
        .and(path_regex("^/crm/v3/objects/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "results": [
            { "id": "1", "properties": { "firstname": "Ada" }, "archived": false } ] })))
        .mount(fake)
        .await;
}

/// Loads by user and org per measurement of [`refresh_cost`].
const REFRESH_ROUNDS: usize = 30;

/// What a due refresh adds to a load by user and org: loads of connections whose stored token is
/// fresh beside loads of connections whose token is due, through the `load` binary on moto, with
/// the provider's token and listing endpoints answering at once. The difference is the service's
/// own work: the lease, the token request and the conditional commit.
async fn refresh_cost() -> Vec<Row> {
    let fake = MockServer::start().await;
    mount_flow_fakes(&fake).await;
    let (env, store) = support::moto::kept_env(&fake.uri()).await;
    let load = start("load", &env).await;
    let (mut fresh, mut due) = (Vec::new(), Vec::new());
    for round in 0..=REFRESH_ROUNDS {
        for (expires_in, times) in [(3600, &mut fresh), (1, &mut due)] {
            let id = support::moto::seed(&store, "hubspot", "hubspot-refresh", expires_in).await;
            let who = [("user_id", id.user_id()), ("org_id", id.org_id())];
            let (response, took) = invoke(&load, form_event("hubspot", "load", &who)).await;
            assert_eq!(response["statusCode"], 200, "{response}");
            if round > 0 {
                times.push(took); // round 0 warms the function up
            }
        }
    }
    fresh.sort();
    due.sort();
    let (fresh, due) = (percentile(&fresh, 0.5), percentile(&due, 0.5));
    vec![row(
        format!("load by user and org, token due: a refresh first (median of {REFRESH_ROUNDS}; moto, provider answering at once)"),
        format!("{} (+{})", ms(due), ms(due.saturating_sub(fresh))),
        format!("{} (token fresh)", ms(fresh)),
        due.as_secs_f64() / fresh.as_secs_f64(),
        "measured",
    )]
}

// ---------------------------------------------------------------------------------------------
// A large account's load against a slow provider.

/// Every request the fake received: when, and which path.
type Log = Arc<Mutex<Vec<(Instant, String)>>>;

/// Pages of generated objects, answering after [`PAGE_DELAY`].
struct Pages {
    log: Log,
}

const HUBSPOT_OBJECTS: usize = 1000;
const NOTION_OBJECTS: usize = 2000;
const AIRTABLE_BASES: usize = 20;
const AIRTABLE_TABLES: usize = 4;
const PAGE_SIZE: usize = 100;

impl Respond for Pages {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let path = request.url.path().to_owned();
        self.log.lock().unwrap().push((Instant::now(), path.clone()));
        let query: HashMap<String, String> = request.url.query_pairs().into_owned().collect();
        let page = |cursor: Option<&str>, total: usize| {
            let from: usize = cursor.and_then(|c| c.parse().ok()).unwrap_or(0);
            let to = (from + PAGE_SIZE).min(total);
            (from..to, (to < total).then(|| to.to_string()))
        };
        let body = if let Some(object) = path.strip_prefix("/crm/v3/objects/") {
            let (range, next) = page(query.get("after").map(String::as_str), HUBSPOT_OBJECTS);
            let results: Vec<Value> = range.map(|n| hubspot_object(object, n)).collect();
            let mut body = json!({ "results": results });
            if let Some(next) = next {
                body["paging"] = json!({ "next": { "after": next, "link": "…" } });
            }
            body
        } else if path == "/v1/search" {
            let cursor = serde_json::from_slice::<Value>(&request.body)
                .ok()
                .and_then(|body| body["start_cursor"].as_str().map(str::to_owned));
            let (range, next) = page(cursor.as_deref(), NOTION_OBJECTS);
            let results: Vec<Value> = range.map(notion_object).collect();
            json!({ "object": "list", "results": results, "has_more": next.is_some(), "next_cursor": next })
        } else if path == "/v0/meta/bases" {
            let bases: Vec<Value> = (0..AIRTABLE_BASES)
                .map(|n| json!({ "id": format!("app{n:014}"), "name": format!("Base {n}"), "permissionLevel": "create" }))
                .collect();
            json!({ "bases": bases })
        } else if let Some(base) = path.strip_prefix("/v0/meta/bases/") {
            let base = base.trim_end_matches("/tables");
            let tables: Vec<Value> = (0..AIRTABLE_TABLES)
                .map(|n| json!({ "id": format!("tbl{n:014}"), "name": format!("{base} table {n}"),
                    "primaryFieldId": "fldA", "fields": [{ "id": "fldA", "name": "Name", "type": "singleLineText" }], "views": [] }))
                .collect();
            json!({ "tables": tables })
        } else {
            return ResponseTemplate::new(404);
        };
        ResponseTemplate::new(200)
            .set_body_json(body)
            .set_delay(PAGE_DELAY)
    }
}

fn hubspot_object(object: &str, n: usize) -> Value {
    let properties = match object {
        "contacts" => {
            json!({ "firstname": format!("First{n}"), "lastname": format!("Last{n}"), "email": format!("p{n}@example.com"),
            "createdate": "2024-04-01T12:00:00.000Z", "hs_object_id": n.to_string(), "lastmodifieddate": "2024-04-02T12:00:00.000Z" })
        }
        "companies" => {
            json!({ "name": format!("Company {n}"), "domain": format!("c{n}.example"), "hs_object_id": n.to_string() })
        }
        _ => json!({ "dealname": format!("Deal {n}"), "amount": "1000", "hs_object_id": n.to_string() }),
    };
    json!({ "id": format!("{object}-{n}"), "properties": properties, "createdAt": "2024-04-01T12:00:00.000Z",
        "updatedAt": "2024-04-02T12:00:00.000Z", "archived": false })
}

fn notion_object(n: usize) -> Value {
    let id = format!("00000000-0000-4000-8000-{n:012}");
    if n % 10 == 0 {
        let mut database = support::fakes::notion_database(&id, &format!("Database {n}"));
        database["parent"] = json!({ "type": "workspace", "workspace": true });
        database
    } else {
        let parent = format!("00000000-0000-4000-8000-{:012}", n - n % 10);
        support::fakes::notion_page(
            &id,
            &format!("Page {n}"),
            json!({ "type": "database_id", "database_id": parent }),
        )
    }
}

/// The most requests in any window of `window` among `times` (sorted).
fn busiest(times: &[Instant], window: Duration) -> usize {
    let mut most = 0;
    let mut start = 0;
    for end in 0..times.len() {
        while times[end] - times[start] >= window {
            start += 1;
        }
        most = most.max(end - start + 1);
    }
    most
}

async fn large_loads() -> Vec<Row> {
    let log: Log = Arc::default();
    let fake = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(Pages { log: log.clone() })
        .mount(&fake)
        .await;
    let mut env = HashMap::new();
    for prefix in ["NOTION", "HUBSPOT", "AIRTABLE"] {
        env.insert(format!("{prefix}_API_URL"), fake.uri());
    }
    let load = start("load", &env).await;
    let credentials = r#"{"access_token":"bench-token","token_type":"bearer"}"#;
    let mut rows = Vec::new();
    // Provider-bound limit: the longest chain of pages that must follow one another.
    let cases = [
        (
            "hubspot",
            "3 × 1,000 CRM objects, 100 a page",
            3 * HUBSPOT_OBJECTS,
            HUBSPOT_OBJECTS.div_ceil(PAGE_SIZE),
        ),
        (
            "airtable",
            "20 bases × 4 tables",
            AIRTABLE_BASES * (1 + AIRTABLE_TABLES),
            2,
        ),
        (
            "notion",
            "2,000 objects, 100 a page",
            NOTION_OBJECTS,
            NOTION_OBJECTS.div_ceil(PAGE_SIZE),
        ),
    ];
    for (provider, what, items, chain) in cases {
        log.lock().unwrap().clear();
        let (response, took) = invoke(
            &load,
            form_event(provider, "load", &[("credentials", credentials)]),
        )
        .await;
        assert_eq!(response["statusCode"], 200, "{provider}: {response}");
        let listed: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
        assert_eq!(listed.as_array().unwrap().len(), items, "{provider}: every item");
        let requests = std::mem::take(&mut *log.lock().unwrap());
        let times: Vec<Instant> = requests.iter().map(|(at, _)| *at).collect();
        let rate = match provider {
            "hubspot" => {
                let most = busiest(&times, Duration::from_secs(10));
                assert!(most <= 100, "HubSpot: {most} requests in 10 s");
                format!(
                    "{} requests, at most {most} in any 10 s (limit 100)",
                    requests.len()
                )
            }
            "airtable" => {
                let mut per_base: HashMap<&str, Vec<Instant>> = HashMap::new();
                for (at, path) in &requests {
                    per_base.entry(path.as_str()).or_default().push(*at);
                }
                let most = per_base
                    .values()
                    .map(|times| busiest(times, Duration::from_secs(1)))
                    .max()
                    .unwrap_or_default();
                assert!(most <= 5, "Airtable: {most} requests to one base in 1 s");
                format!(
                    "{} requests, at most {most} to one base in any 1 s (limit 5), {} in all in any 1 s",
                    requests.len(),
                    busiest(&times, Duration::from_secs(1))
                )
            }
            _ => format!(
                "{} requests, at most {} in any 1 s",
                requests.len(),
                busiest(&times, Duration::from_secs(1))
            ),
        };
        let limit = PAGE_DELAY * chain as u32;
        rows.push(row(
            format!("{provider} load: {what}, pages answered after 50 ms; {rate}"),
            ms(took),
            format!("{} ({chain} sequential pages × 50 ms)", ms(limit)),
            took.as_secs_f64() / limit.as_secs_f64(),
            "≤ 1.20",
        ));
    }
    let rss = load.peak_rss_kib();
    rows.push(row(
        "load: peak RSS (VmHWM) after the three large loads",
        format!("{:.1} MiB", rss as f64 / 1024.0),
        "64 MiB (target)".into(),
        rss as f64 / 1024.0 / 64.0,
        "< 1.00",
    ));
    rows
}

// ---------------------------------------------------------------------------------------------
// Normalisation alone.

/// One provider's normalisation of the whole sample; returns how many items it made.
type Normalise<'a> = Box<dyn Fn() -> usize + 'a>;

fn normalisation() -> Vec<Row> {
    let notion_objects: Vec<Value> = (0..NORMALISED_OBJECTS).map(notion_object).collect();
    let contacts: Vec<Value> = (0..NORMALISED_OBJECTS)
        .map(|n| hubspot_object("contacts", n))
        .collect();
    // 2,000 bases of 4 tables each: 10,000 objects.
    let bases: Vec<Value> = (0..NORMALISED_OBJECTS / 5)
        .map(|n| json!({ "id": format!("app{n:014}"), "name": format!("Base {n}"), "permissionLevel": "create" }))
        .collect();
    let tables: Vec<Value> = (0..AIRTABLE_TABLES)
        .map(|n| json!({ "id": format!("tbl{n:014}"), "name": format!("Table {n}"), "primaryFieldId": "fldA", "fields": [], "views": [] }))
        .collect();
    let cases: [(&str, &str, Normalise); 3] = [
        (
            "notion",
            "pages and databases, parents named",
            Box::new(|| notion::items(&notion_objects).len()),
        ),
        (
            "hubspot",
            "contacts",
            Box::new(|| hubspot::items("contact", &contacts).len()),
        ),
        (
            "airtable",
            "2,000 bases × 4 tables",
            Box::new(|| {
                airtable::base_items(&bases)
                    .iter()
                    .map(|base| 1 + airtable::table_items(base, &tables).len())
                    .sum()
            }),
        ),
    ];
    let mut rows = Vec::new();
    for (provider, what, normalise) in cases {
        assert_eq!(normalise(), NORMALISED_OBJECTS, "{provider}: every object");
        let mut took: Vec<Duration> = (0..30)
            .map(|_| {
                let started = Instant::now();
                std::hint::black_box(normalise());
                started.elapsed()
            })
            .collect();
        took.sort();
        let median = percentile(&took, 0.5);
        rows.push(row(
            format!("{provider}: normalise 10,000 objects ({what}; median of 30)"),
            ms(median),
            "20 ms (target)".into(),
            median.as_secs_f64() * 1000.0 / 20.0,
            "< 1.00",
        ));
    }
    rows
}
