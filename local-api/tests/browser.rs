//! The demo page in a real browser: Debian's chromium, headless, driven through chromedriver.
//! A newcomer connects the sandbox and sees the kept connection (status, expiry, scopes), loads
//! its items, syncs it and sees what the sync kept, edits and deletes documents at the sandbox and
//! sees the next sync find them; refreshes its token and disconnects it (revoked); denies a
//! consent and sees why; and connects Notion (a local fake) the same way. Each Connect spends a
//! connect session the page got from `/demo/session`, never an API key: with `API_KEYS` set, a
//! page that holds none still connects. Leaves a screenshot of the sync view in `docs/demo.png`.

#[path = "../../shared/tests/support/mod.rs"]
mod support;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use support::{fakes, free_port, vars};
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long any one thing may take to show up on a page.
const PATIENCE: Duration = Duration::from_secs(15);
/// The key of the deployment the second test runs (`API_KEYS`): one no page may hold.
const API_KEY: &str = "browser-test-api-key-7f3a";
/// One browser at a time: the two tests' Chromiums would share two cores.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomer_connects_accounts_in_a_real_browser() {
    let fake = MockServer::start().await;
    let base = serve(&fake, &[]).await;
    notion_fakes(&fake, &base).await;
    in_browser(|browser| flows(browser, base)).await;
}

/// With `API_KEYS` set and no key in the page, Connect completes: the callback page says so and
/// closes, and the connection is the demo user's. Then only the app's own calls need the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_connects_under_api_keys_holding_no_key() {
    let fake = MockServer::start().await;
    let base = serve(&fake, &[("API_KEYS", API_KEY)]).await;
    in_browser(|browser| keyless(browser, base)).await;
}

/// Runs `test` in a browser of its own, apart, so that the browser is closed whatever happens;
/// then reports.
async fn in_browser<F>(test: impl FnOnce(Client) -> F)
where
    F: Future<Output = ()> + Send + 'static,
{
    for program in [CHROMIUM, CHROMEDRIVER] {
        assert!(
            Path::new(program).exists(),
            "{program} is missing: the browser test needs `apt-get install chromium chromium-driver`"
        );
    }
    let _one = ONE_BROWSER.lock().await;
    let driver = Driver::start();
    let browser = driver.session().await;
    let outcome = tokio::spawn(test(browser.clone())).await;
    let _ = browser.close().await;
    if let Err(failure) = outcome {
        std::panic::resume_unwind(failure.into_panic());
    }
}

async fn flows(browser: Client, base: String) {
    browser.goto(&format!("{base}/")).await.unwrap();
    let main = browser.window().await.unwrap();
    text_of(&browser, "#status-sandbox", |text| text == "not connected").await;
    spy_on_fetch(&browser).await;

    // The sandbox: Allow, the popup closes, the kept connection shows, Load lists the dataset.
    consent(&browser, "sandbox", "button[value=allow]").await;
    browser.switch_to_window(main.clone()).await.unwrap();
    text_of(&browser, "#status-sandbox", |text| text == "active").await;
    connected_through_a_session(&browser, "sandbox").await;
    let expires = text_of(&browser, "#expires-sandbox", |text| !text.is_empty()).await;
    let expires_at = expires
        .strip_prefix("expires ")
        .unwrap_or_else(|| panic!("{expires:?}"));
    assert_rfc3339(expires_at);
    assert_eq!(text(&browser, "#scopes-sandbox").await, "items:read");
    assert_eq!(text(&browser, "#connection-name").await, "Sandbox");
    assert_eq!(text(&browser, "#detail-status").await, "active");
    assert_eq!(text(&browser, "#detail-scopes").await, "items:read");
    assert_eq!(text(&browser, "#detail-expires").await, expires_at);
    assert_eq!(text(&browser, "#detail-refreshed").await, "not yet");
    assert_eq!(
        text(&browser, "#detail-account").await,
        "Sandbox workspace (sandbox-account)"
    );
    text_of(&browser, "#message", |text| text == "Connected Sandbox").await;
    let rows = load(&browser, 14).await;
    assert!(
        rows.contains(&"document Launch plan Launch 2024-05-28T16:45:00Z open".to_owned()),
        "{rows:?}"
    );
    // Loaded by user and org with the kept token, still fresh: no refresh.
    assert_eq!(text(&browser, "#detail-refreshed").await, "not yet");

    syncs(&browser).await;
    // Load reads the sandbox itself: the edits are there, the deleted documents are not.
    let rows = load(&browser, 12).await;
    assert!(
        rows.iter()
            .any(|row| row.starts_with("document Welcome to the sandbox (edited) ")),
        "{rows:?}"
    );
    assert!(
        !rows.iter().any(|row| row.contains("Old meeting notes")),
        "{rows:?}"
    );
    let screenshot = browser.screenshot().await.unwrap();
    let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(docs.join("demo.png"), screenshot).unwrap();

    // Refresh token: a new token, of which the page shows six characters at most, and its expiry.
    click(&browser, "refresh").await;
    let message = text_of(&browser, "#message", |text| text.starts_with("Token refreshed")).await;
    let (start, expiry) = message
        .strip_prefix("Token refreshed: ")
        .and_then(|rest| rest.split_once("… expires "))
        .unwrap_or_else(|| panic!("{message:?}"));
    assert!(
        (1..=6).contains(&start.chars().count()),
        "at most 6 characters of the token: {message:?}"
    );
    assert_rfc3339(expiry);
    let refreshed = text_of(&browser, "#detail-refreshed", |text| text != "not yet").await;
    assert_rfc3339(&refreshed);
    assert_eq!(text(&browser, "#detail-expires").await, expiry);
    assert_eq!(
        text(&browser, "#expires-sandbox").await,
        format!("expires {expiry}")
    );
    assert!(expiry >= expires_at, "{expiry} before {expires_at}");
    // The token the API hands out now is the one the page began to show, and only began to.
    let token = api_token(&base, "sandbox").await;
    assert!(token.starts_with(start), "{token} does not start with {start}");
    let page = text(&browser, "body").await;
    assert!(!page.contains(&token), "the whole token is on the page");

    // Disconnect revokes at the sandbox (RFC 7009) and deletes the connection.
    click(&browser, "disconnect").await;
    let message = text_of(&browser, "#message", |text| text.starts_with("Disconnected")).await;
    assert!(
        message.starts_with("Disconnected Sandbox (deleted: true, revoked: true)"),
        "{message:?}"
    );
    text_of(&browser, "#status-sandbox", |text| text == "not connected").await;
    assert_eq!(text(&browser, "#expires-sandbox").await, "");
    for id in ["connection", "syncs"] {
        let section = browser.find(Locator::Id(id)).await.unwrap();
        assert!(
            !section.is_displayed().await.unwrap(),
            "no connection to show: #{id}"
        );
    }
    let gone = reqwest::get(format!(
        "{base}/integrations/sandbox/connection?org_id=demo-org&user_id=demo-user"
    ))
    .await
    .unwrap();
    assert_eq!(gone.status(), 404);

    // Deny leaves the popup open and the page says why; no connection appears.
    let popup = consent(&browser, "sandbox", "button[value=deny]").await;
    browser.switch_to_window(main.clone()).await.unwrap();
    let error = text_of(&browser, "#error", |text| !text.is_empty()).await;
    assert_eq!(
        error,
        "Sandbox refused the request: access_denied: The user denied access"
    );
    assert_eq!(text(&browser, "#status-sandbox").await, "not connected");
    browser.switch_to_window(popup).await.unwrap();
    let page = text(&browser, "body").await;
    assert!(
        page.starts_with("Connection failed"),
        "the popup stays, saying why: {page}"
    );
    browser.close_window().await.unwrap();
    browser.switch_to_window(main.clone()).await.unwrap();

    // A real provider's flow, the same page and the same handlers: Notion, faked locally; its
    // tokens do not expire. The connection outlives the page: reloaded, it is still there.
    consent(&browser, "notion", "#allow").await;
    browser.switch_to_window(main).await.unwrap();
    text_of(&browser, "#status-notion", |text| text == "active").await;
    // Both sandbox consents (the allowed, the denied) and this one: a session each.
    let calls = connected_through_a_session(&browser, "notion").await;
    assert_eq!(calls.len(), 6, "{calls:?}");
    browser.refresh().await.unwrap();
    text_of(&browser, "#status-notion", |text| text == "active").await;
    assert_eq!(text(&browser, "#expires-notion").await, "no expiry");
    assert_eq!(text(&browser, "#connection-name").await, "Notion");
    assert_eq!(text(&browser, "#status-sandbox").await, "not connected");
    let rows = load(&browser, 3).await;
    assert!(
        rows.iter()
            .any(|row| row.starts_with("page Notes Write the launch post")),
        "{rows:?}"
    );
}

/// The demo under `API_KEYS`, holding no key: Connect completes with a connect session; the
/// connection list, the app's own call, needs the key, and shows the connection once it is typed.
async fn keyless(browser: Client, base: String) {
    browser.goto(&format!("{base}/")).await.unwrap();
    let main = browser.window().await.unwrap();
    text_of(&browser, "#status-sandbox", |text| text == "not connected").await;
    text_of(&browser, "#error", |text| text == "Missing or invalid API key").await;
    // Not in the page, its script or its storage.
    let script = reqwest::get(format!("{base}/demo.js"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let page = browser.source().await.unwrap();
    let storage = storage(&browser).await;
    for (what, text) in [
        ("demo.js", &script),
        ("the page", &page),
        ("its storage", &storage),
    ] {
        assert!(!text.contains(API_KEY), "the key is in {what}");
    }
    spy_on_fetch(&browser).await;

    consent(&browser, "sandbox", "button[value=allow]").await;
    browser.switch_to_window(main.clone()).await.unwrap();
    // The callback page said Connected and closed itself (a failed one stays, saying why).
    eventually("the sandbox popup to close", || async {
        (browser.windows().await.ok()?.len() == 1).then_some(())
    })
    .await;
    // Then the page reads the connection list, the app's own call, and is refused (Connect hid
    // the error the first reading showed).
    text_of(&browser, "#error", |text| text == "Missing or invalid API key").await;
    connected_through_a_session(&browser, "sandbox").await;
    let connection: Value = reqwest::Client::new()
        .get(format!("{base}/integrations/sandbox/connection"))
        .query(&[("org_id", "demo-org"), ("user_id", "demo-user")])
        .bearer_auth(API_KEY)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(connection["status"], "active", "{connection}");

    // The key typed in, the page lists the connection it made.
    let field = browser.find(Locator::Id("api-key")).await.unwrap();
    field.send_keys(&format!("{API_KEY}\u{E004}")).await.unwrap();
    text_of(&browser, "#status-sandbox", |text| text == "active").await;
    assert_eq!(text(&browser, "#connection-name").await, "Sandbox");
    assert_eq!(text(&browser, "#detail-status").await, "active");
    assert_eq!(text(&browser, "#error").await, "", "no error shown");
}

/// Records what the page asks of `fetch` from now on (`window.demoCalls`): the method, the URL,
/// whether a body went, and what `Authorization` carried: `"session"` for a connect session's
/// token, `"other"` for anything else, null for none (never the value itself).
async fn spy_on_fetch(browser: &Client) {
    let script = "
        const calls = (window.demoCalls = []);
        const fetch = window.fetch;
        window.fetch = (url, init = {}) => {
            const authorization = init.headers?.authorization;
            calls.push({
                method: init.method ?? 'GET',
                url: String(url),
                body: init.body !== undefined,
                bearer: authorization === undefined ? null
                    : authorization.startsWith('Bearer cs_') ? 'session' : 'other',
            });
            return fetch(url, init);
        };";
    browser.execute(script, Vec::new()).await.unwrap();
}

/// Asserts that the page's last Connect, of `provider`, got a session from `/demo/session` with
/// no credential and spent it on authorize with nothing else (no ids, no key), and that no
/// session's token is left in the page or its storage; every session and authorize call so far.
async fn connected_through_a_session(browser: &Client, provider: &str) -> Vec<Value> {
    let calls = browser
        .execute(
            "return window.demoCalls.filter((call) => \
             call.url.startsWith('/demo/session') || call.url.endsWith('/authorize'))",
            Vec::new(),
        )
        .await
        .unwrap();
    let calls = calls.as_array().unwrap().clone();
    let last = calls.get(calls.len().saturating_sub(2)..).unwrap_or_default();
    assert_eq!(
        last,
        [
            json!({ "method": "POST", "url": format!("/demo/session?provider={provider}"),
                    "body": false, "bearer": null }),
            json!({ "method": "POST", "url": format!("/integrations/{provider}/authorize"),
                    "body": false, "bearer": "session" }),
        ],
        "{calls:?}"
    );
    let page = browser.source().await.unwrap();
    let storage = storage(browser).await;
    assert!(
        !page.contains("cs_") && !storage.contains("cs_"),
        "a session's token stayed: {storage}"
    );
    calls
}

/// The page's session and local storage, as JSON text.
async fn storage(browser: &Client) -> String {
    let storage = browser
        .execute(
            "return JSON.stringify([Object.entries(sessionStorage), Object.entries(localStorage)])",
            Vec::new(),
        )
        .await
        .unwrap();
    storage.as_str().unwrap().to_owned()
}

/// The sandbox's sync view: Sync lists what the sync kept, ten a page; after edits and deletions
/// at the sandbox, the next sync counts them, and the list ends with the edited items and the
/// deleted ones, marked.
async fn syncs(browser: &Client) {
    // The first sync: this one, or the one the finder starts for a new connection within seconds.
    let shown = sync(browser).await;
    assert_eq!(
        (
            &shown.status[..],
            &shown.items[..],
            &shown.changed[..],
            &shown.deleted[..]
        ),
        ("idle", "14", "0", "0"),
        "{shown:?}"
    );
    assert!(matches!(&shown.added[..], "14" | "0"), "{shown:?}");
    // The sandbox reads no changes alone: every sync of it reads everything.
    let started = shown
        .started
        .strip_suffix(" (full)")
        .unwrap_or_else(|| panic!("{shown:?}"));
    assert_rfc3339_ms(started);
    assert_rfc3339_ms(&shown.finished);
    let rows = synced(browser, "(10+)").await;
    assert_eq!(rows.len(), 10, "{rows:?}");
    click(browser, "synced-more").await;
    let rows = synced(browser, "(14)").await;
    let more = browser.find(Locator::Id("synced-more")).await.unwrap();
    assert!(!more.is_displayed().await.unwrap(), "nothing more to list");
    let plan = rows
        .iter()
        .find(|row| row.name == "Launch plan")
        .unwrap_or_else(|| panic!("{rows:?}"));
    // Not its parent's name: a sync names only parents listed on the same provider page.
    assert_eq!(
        (&plan.kind[..], &plan.modified[..], &plan.mark[..]),
        ("document", "2024-05-28T16:45:00Z", "")
    );
    assert!(rows.iter().all(|row| row.mark.is_empty()), "{rows:?}");

    // Edits and deletions at the sandbox, through its API, with the kept connection's token.
    let before = integrations::clock::rfc3339(integrations::clock::now()).unwrap();
    click(browser, "sandbox-changes").await;
    text_of(browser, "#message", |text| {
        text == "At the sandbox: edited doc-welcome, doc-handbook, doc-ideas; deleted doc-old-notes, \
                 doc-2023-budget. Sync to see it here."
    })
    .await;
    let shown = sync(browser).await;
    assert_eq!(
        (
            &shown.status[..],
            &shown.items[..],
            &shown.added[..],
            &shown.changed[..],
            &shown.deleted[..]
        ),
        ("idle", "12", "0", "3", "2"),
        "{shown:?}"
    );
    assert!(shown.started.ends_with(" (full)"), "{shown:?}");
    assert_rfc3339_ms(&shown.finished);
    synced(browser, "(10+)").await;
    click(browser, "synced-more").await;
    let rows = synced(browser, "(14)").await;
    // In the order recorded: the unchanged items as the first sync kept them, then what the
    // second sync recorded, the edits and the tombstones of the deleted.
    let names = |rows: &[&Row]| {
        let mut names: Vec<String> = rows.iter().map(|row| row.name.clone()).collect();
        names.sort();
        names
    };
    let (unchanged, recorded) = rows.split_at(9);
    assert_eq!(
        names(&unchanged.iter().collect::<Vec<_>>()),
        [
            "2023 retrospective",
            "Archive",
            "Budget 2024",
            "Launch",
            "Launch checklist",
            "Launch plan",
            "Press release",
            "Projects",
            "Roadmap"
        ],
        "{rows:?}"
    );
    let (deleted, edited): (Vec<&Row>, Vec<&Row>) = recorded.iter().partition(|row| row.deleted);
    assert_eq!(
        names(&edited),
        [
            "Ideas (edited)",
            "Team handbook (edited)",
            "Welcome to the sandbox (edited)"
        ],
        "{rows:?}"
    );
    for row in &edited {
        assert_rfc3339(&row.modified);
        assert!(row.modified >= before, "{row:?} edited before {before}");
    }
    assert_eq!(names(&deleted), ["Budget 2023", "Old meeting notes"], "{rows:?}");
    for row in &deleted {
        assert_eq!((&row.kind[..], &row.mark[..]), ("document", "deleted"), "{row:?}");
    }
    assert!(
        unchanged
            .iter()
            .chain(edited.iter().copied())
            .all(|row| row.mark.is_empty()),
        "{rows:?}"
    );
    let synced_at: Vec<&str> = rows.iter().map(|row| row.synced.as_str()).collect();
    assert!(synced_at.is_sorted(), "{synced_at:?}");
    assert!(
        synced_at[9] > synced_at[8],
        "the changes were recorded later: {synced_at:?}"
    );
}

/// What the sync view shows of the sync.
#[derive(Debug)]
struct Shown {
    status: String,
    items: String,
    added: String,
    changed: String,
    deleted: String,
    started: String,
    finished: String,
}

/// Clicks Sync and waits for the sync to end: Sync is enabled again once the page has listed the
/// items anew. On time out, what the page says went wrong.
async fn sync(browser: &Client) -> Shown {
    click(browser, "sync").await;
    let started = Instant::now();
    loop {
        let button = browser.find(Locator::Id("sync")).await.unwrap();
        let status = text(browser, "#sync-status").await;
        if button.is_enabled().await.unwrap() && !matches!(&status[..], "running" | "…") {
            break;
        }
        if started.elapsed() > PATIENCE {
            panic!(
                "the sync did not end: {status:?}; the view says {:?}, #error {:?}",
                text(browser, "#sync-error").await,
                text(browser, "#error").await
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let shown = |id: &'static str| async move { text(browser, &format!("#sync-{id}")).await };
    Shown {
        status: shown("status").await,
        items: shown("items").await,
        added: shown("added").await,
        changed: shown("changed").await,
        deleted: shown("deleted").await,
        started: shown("started").await,
        finished: shown("finished").await,
    }
}

/// A row of the synced list.
#[derive(Debug)]
struct Row {
    kind: String,
    name: String,
    modified: String,
    synced: String,
    mark: String,
    /// Shown as deleted (struck through).
    deleted: bool,
}

/// The synced list's rows once its count reads `count`.
async fn synced(browser: &Client, count: &str) -> Vec<Row> {
    text_of(browser, "#synced-count", |text| text == count).await;
    let mut rows = Vec::new();
    for row in browser.find_all(Locator::Css("#synced tbody tr")).await.unwrap() {
        let mut cells = Vec::new();
        for cell in row.find_all(Locator::Css("td")).await.unwrap() {
            cells.push(cell.text().await.unwrap());
        }
        let [kind, name, _parent, modified, synced, mark] = <[String; 6]>::try_from(cells).unwrap();
        assert_rfc3339_ms(&synced);
        let class = row.attr("class").await.unwrap().unwrap_or_default();
        rows.push(Row {
            kind,
            name,
            modified,
            synced,
            mark,
            deleted: class == "deleted",
        });
    }
    let shown = count.trim_matches(['(', ')', '+']).parse::<usize>().unwrap();
    assert_eq!(rows.len(), shown, "{rows:?}");
    rows
}

/// Asserts `text` is a UTC RFC 3339 time as the API writes it: `2026-11-28T19:30:00Z`.
fn assert_rfc3339(text: &str) {
    let shape = text
        .chars()
        .map(|c| if c.is_ascii_digit() { '0' } else { c })
        .collect::<String>();
    assert_eq!(shape, "0000-00-00T00:00:00Z", "not an RFC 3339 time: {text:?}");
}

/// Asserts `text` is a UTC RFC 3339 time with milliseconds, as syncs tell time: `2026-11-28T19:30:00.250Z`.
fn assert_rfc3339_ms(text: &str) {
    let (seconds, ms) = text
        .strip_suffix('Z')
        .and_then(|text| text.split_once('.'))
        .unwrap_or_else(|| panic!("not an RFC 3339 time with milliseconds: {text:?}"));
    assert!(
        ms.len() == 3 && ms.bytes().all(|byte| byte.is_ascii_digit()),
        "{text:?}"
    );
    assert_rfc3339(&format!("{seconds}Z"));
}

/// The access token `POST /token` hands out now for the demo's user and org.
async fn api_token(base: &str, provider: &str) -> String {
    let answer: Value = reqwest::Client::new()
        .post(format!("{base}/integrations/{provider}/token"))
        .form(&[("user_id", "demo-user"), ("org_id", "demo-org")])
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"].as_str().unwrap().to_owned()
}

async fn click(browser: &Client, id: &str) {
    browser
        .find(Locator::Id(id))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// The text of the element at `css` now (empty when hidden).
async fn text(browser: &Client, css: &str) -> String {
    browser
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|error| panic!("no {css}: {error}"))
        .text()
        .await
        .unwrap()
}

/// Clicks Connect, then `decision` in the popup that opens; returns the popup's handle.
async fn consent(browser: &Client, provider: &str, decision: &str) -> fantoccini::wd::WindowHandle {
    let main = browser.window().await.unwrap();
    let connect = browser
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Id(&format!("connect-{provider}")))
        .await
        .unwrap();
    connect.click().await.unwrap();
    let popup = eventually(&format!("the {provider} popup"), || async {
        let windows = browser.windows().await.ok()?;
        windows.into_iter().find(|window| *window != main)
    })
    .await;
    browser.switch_to_window(popup.clone()).await.unwrap();
    let button = browser
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css(decision))
        .await
        .unwrap_or_else(|error| panic!("no {decision} on the {provider} consent page: {error}"));
    button.click().await.unwrap();
    popup
}

/// Clicks Load and waits for `count` rows (a count shown before, by an earlier Load, may differ);
/// the rows' text.
async fn load(browser: &Client, count: usize) -> Vec<String> {
    click(browser, "load").await;
    text_of(browser, "#count", |text| text == format!("({count})")).await;
    let mut rows = Vec::new();
    for row in browser.find_all(Locator::Css("#items tbody tr")).await.unwrap() {
        rows.push(row.text().await.unwrap());
    }
    assert_eq!(rows.len(), count, "{rows:?}");
    rows
}

/// The text of the element at `css` once `ready` accepts it; on time out, what `#error` says.
async fn text_of(browser: &Client, css: &str, ready: impl Fn(&str) -> bool) -> String {
    let started = Instant::now();
    loop {
        if let Ok(element) = browser.find(Locator::Css(css)).await {
            let text = element.text().await.unwrap_or_default();
            if ready(&text) {
                return text;
            }
        }
        if started.elapsed() > PATIENCE {
            let error = match browser.find(Locator::Id("error")).await {
                Ok(error) => error.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            panic!("{css} did not show what was expected; #error says {error:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn eventually<T, F: Future<Output = Option<T>>>(what: &str, check: impl Fn() -> F) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(started.elapsed() < PATIENCE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// local-api on a free port, its providers at `fake`, Notion's callback at local-api, and `extra`.
async fn serve(fake: &MockServer, extra: &[(&str, &str)]) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let base = format!("http://{address}");
    let callback = format!("{base}/integrations/notion/oauth2callback");
    let mut extra = extra.to_vec();
    extra.push(("NOTION_REDIRECT_URI", &callback));
    let vars = vars(&fake.uri(), &extra);
    let server = local_api::Server::build(address, |name| vars.get(name).cloned())
        .await
        .unwrap();
    tokio::spawn(local_api::serve(server, listener));
    base
}

const NOTION_CODE: &str = "notion-browser-code";
const NOTION_TOKEN: &str = "notion-browser-access";

/// Notion's consent page (an Allow link back to the callback with a code and the state), its
/// token endpoint and its search.
async fn notion_fakes(fake: &MockServer, base: &str) {
    Mock::given(method("GET"))
        .and(path("/notion/authorize"))
        .respond_with(|request: &Request| {
            let query: std::collections::HashMap<String, String> =
                request.url.query_pairs().into_owned().collect();
            let mut back = url::Url::parse(&query["redirect_uri"]).unwrap();
            back.query_pairs_mut()
                .append_pair("code", NOTION_CODE)
                .append_pair("state", &query["state"]);
            let html = format!(
                "<!doctype html><title>Notion</title><a id=\"allow\" href=\"{}\">Allow</a>",
                back.as_str().replace('&', "&amp;")
            );
            ResponseTemplate::new(200).set_body_raw(html, "text/html")
        })
        .mount(fake)
        .await;
    Mock::given(method("POST"))
        .and(path("/notion/token"))
        .and(body_partial_json(json!({
            "code": NOTION_CODE,
            "redirect_uri": format!("{base}/integrations/notion/oauth2callback"),
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": NOTION_TOKEN,
            "token_type": "bearer",
            "workspace_name": "Acme",
        })))
        .expect(1)
        .mount(fake)
        .await;
    // The finder syncs a new connection within seconds: the sync may read it as well as Load.
    fakes::notion_search_repeatable(fake, NOTION_TOKEN).await;
}

/// chromedriver on a free port, with a fresh profile directory; both go when it is dropped.
struct Driver {
    process: Child,
    port: u16,
    profile: PathBuf,
}

impl Driver {
    fn start() -> Self {
        let port = free_port();
        let profile = std::env::temp_dir().join(format!("demo-chromium-{port}-{}", std::process::id()));
        std::fs::create_dir_all(&profile).unwrap();
        let process = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {CHROMEDRIVER}: {error}"));
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < PATIENCE, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver {
            process,
            port,
            profile,
        }
    }

    /// Headless chromium that stays off the network: without the background flags, its
    /// attempts to reach Google fail by the dozen on an offline machine.
    async fn session(&self) -> Client {
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1100,1900",
            &format!("--user-data-dir={}", self.profile.display()),
        ];
        let capabilities = json!({ "goog:chromeOptions": { "binary": CHROMIUM, "args": args } });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .unwrap_or_else(|error| panic!("chromedriver could not start {CHROMIUM}: {error}"))
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
