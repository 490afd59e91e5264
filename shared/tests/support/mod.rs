//! Test support: a real Redis, configured apps, and requests as API Gateway delivers them.
#![allow(dead_code)] // Each test binary uses its own part of this module.

pub mod accounts;
pub mod changing;
pub mod fakes;
pub mod moto;
pub mod proxy;
pub mod receiver;
pub mod runtime;
pub mod syncs;

use std::collections::HashMap;
use std::io::Write;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::Engine;
use http::{Method, StatusCode};
use integrations::crypto::Sealer;
use integrations::resources::Resources;
use integrations::single_use::{MemoryBackend, RedisBackend, SingleUse};
use integrations::Function;
use integrations::{App, Config};
use lambda_http::{Body, Request, RequestExt};
use serde_json::Value;

/// A base64 key for tests: fixed so that tests can also open what they find in Redis.
pub const TEST_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// `REDIS_URL` when set; otherwise a private `redis-server` on a free loopback port, shared
/// by the tests of this binary and stopped when the binary exits.
pub fn redis_url() -> String {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var("REDIS_URL") {
            return url;
        }
        let server = RedisServer::start(&[]);
        let url = server.url();
        std::mem::forget(server); // lives as long as the test binary (its watcher ends it after)
        url
    })
    .clone()
}

/// The same server's database `db` (0 is the default one).
pub fn redis_database(db: u8) -> String {
    let mut url = url::Url::parse(&redis_url()).expect("REDIS_URL is a URL");
    url.set_path(&format!("/{db}"));
    url.to_string()
}

/// A `redis-server` child that dies with the test process, however that process ends.
pub struct RedisServer {
    pub port: u16,
    /// The watching shell, and the redis-server it started.
    child: (Child, u32),
    args: Vec<String>,
    scheme: &'static str,
    password: Option<String>,
}

impl RedisServer {
    pub fn start(extra: &[&str]) -> Self {
        let port = free_port();
        let args: Vec<String> = extra.iter().map(|arg| arg.to_string()).collect();
        let mut server = RedisServer {
            port,
            child: spawn_redis(port, &args),
            args,
            scheme: "redis",
            password: None,
        };
        server.wait_ready();
        server
    }

    /// Serves TLS only on `port` (`--tls-port`, `--port 0`), as Upstash does, with a password.
    pub fn start_tls(cert: &str, key: &str, password: &str) -> Self {
        let port = free_port();
        let args: Vec<String> = [
            "--tls-port",
            &port.to_string(),
            "--port",
            "0",
            "--tls-cert-file",
            cert,
            "--tls-key-file",
            key,
            "--tls-auth-clients",
            "no",
            "--requirepass",
            password,
        ]
        .iter()
        .map(|arg| arg.to_string())
        .collect();
        let mut server = RedisServer {
            port,
            child: spawn_redis_raw(&args),
            args,
            scheme: "rediss",
            password: Some(password.to_owned()),
        };
        server.wait_ready();
        server
    }

    pub fn url(&self) -> String {
        match &self.password {
            Some(password) => format!("{}://:{password}@localhost:{}", self.scheme, self.port),
            None => format!("{}://127.0.0.1:{}", self.scheme, self.port),
        }
    }

    /// Kills redis-server itself (its socket closes at once), then its watcher.
    pub fn stop(&mut self) {
        let (watcher, redis) = &mut self.child;
        let _ = Command::new("kill")
            .args(["-9", &redis.to_string()])
            .stderr(Stdio::null())
            .status();
        let _ = watcher.kill();
        let _ = watcher.wait();
    }

    /// Starts it again on the same port, as a restarted managed Redis comes back.
    pub fn restart(&mut self) {
        self.stop();
        self.child = if self.scheme == "rediss" {
            spawn_redis_raw(&self.args)
        } else {
            spawn_redis(self.port, &self.args)
        };
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Ok(Some(status)) = self.child.0.try_wait() {
                panic!("redis-server exited at start ({status}); is it installed with TLS support?");
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn spawn_redis(port: u16, extra: &[String]) -> (Child, u32) {
    let mut args = vec![
        "--port".to_owned(),
        port.to_string(),
        "--bind".to_owned(),
        "127.0.0.1".to_owned(),
    ];
    args.extend_from_slice(extra);
    spawn_redis_raw(&args)
}

/// Runs redis-server under a shell that kills it when our stdin pipe closes (the test exited);
/// returns the shell and redis-server's pid.
fn spawn_redis_raw(args: &[String]) -> (Child, u32) {
    let server = which("redis-server").unwrap_or_else(|| {
        panic!(
            "The Redis tests need a Redis server: set REDIS_URL=redis://host:port, or install \
             redis-server (Debian/Ubuntu: `apt-get install redis-server`) so the tests can start one."
        )
    });
    let quoted: Vec<String> = args.iter().map(|arg| format!("'{arg}'")).collect();
    let script = format!(
        "'{}' --save '' --appendonly no --loglevel warning {} >/dev/null 2>&1 & pid=$!; echo $pid; cat >/dev/null; kill $pid",
        server.display(),
        quoted.join(" ")
    );
    let mut watcher = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("sh is available");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(watcher.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let pid = line
        .trim()
        .parse()
        .expect("the watcher reports redis-server's pid");
    (watcher, pid)
}

fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| std::path::Path::new(dir).join(program))
        .find(|path| path.is_file())
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Which store a test runs against; every flow test runs against both.
#[derive(Debug, Clone, Copy)]
pub enum StoreKind {
    Memory,
    Redis,
}

/// The single-use store of `kind`, sealed with `sealer`.
pub async fn single_use(kind: StoreKind, sealer: Sealer) -> SingleUse {
    match kind {
        StoreKind::Memory => SingleUse::new(MemoryBackend::default(), sealer),
        StoreKind::Redis => SingleUse::new(
            RedisBackend::connect(&redis_url(), None)
                .await
                .expect("Redis is reachable"),
            sealer,
        ),
    }
}

/// The environment of a test deployment, with every provider's URLs pointing at `fake`.
pub fn vars(fake: &str, extra: &[(&str, &str)]) -> HashMap<String, String> {
    let mut vars: HashMap<String, String> = HashMap::new();
    for spec in integrations::providers::deployable() {
        let (prefix, name) = (spec.env_prefix, spec.name);
        vars.insert(format!("{prefix}_CLIENT_ID"), format!("{name}-client-id"));
        vars.insert(format!("{prefix}_CLIENT_SECRET"), format!("{name}-client-secret"));
        vars.insert(format!("{prefix}_AUTH_URL"), format!("{fake}/{name}/authorize"));
        vars.insert(format!("{prefix}_TOKEN_URL"), format!("{fake}/{name}/token"));
        vars.insert(format!("{prefix}_REVOKE_URL"), format!("{fake}/{name}/revoke"));
        vars.insert(format!("{prefix}_API_URL"), fake.to_owned());
        vars.insert(format!("{prefix}_REDIRECT_URI"), fakes::redirect_uri(name));
    }
    vars.insert("TOKEN_ENCRYPTION_KEY".into(), TEST_KEY.into());
    // A redb file opens in one process once: every local deployment gets its own directory.
    let data_dir = std::env::temp_dir().join(unique("integrations-data"));
    vars.insert("DATA_DIR".into(), data_dir.display().to_string());
    vars.insert("HTTP_TIMEOUT_SECS".into(), "2".into());
    for (name, value) in extra {
        vars.insert(name.to_string(), value.to_string());
    }
    vars
}

/// [`vars`] as a [`Config`].
pub fn config(fake: &str, extra: &[(&str, &str)]) -> Config {
    let vars = vars(fake, extra);
    Config::from_vars(|name| vars.get(name).cloned())
}

pub async fn app(kind: StoreKind, config: Config) -> App {
    let sealer = config.sealer().unwrap().unwrap();
    app_with(config, single_use(kind, sealer).await).await
}

/// Every endpoint over `store`, as `local-api` builds them.
pub async fn app_with(config: Config, store: SingleUse) -> App {
    App::build(&Resources::with_stores(config, store, None))
        .await
        .unwrap()
}

/// An app over `backend`, with providers that are never reached.
pub async fn app_over(redis: RedisBackend) -> App {
    app_with(config("http://127.0.0.1:9", &[]), SingleUse::new(redis, sealer())).await
}

/// `POST /integrations/{provider}/authorize` for user `u` of org `o`.
pub fn authorize_request(provider: &str) -> Request {
    form(
        provider,
        Function::Authorize,
        &[("user_id", "u"), ("org_id", "o")],
    )
}

pub fn sealer() -> Sealer {
    Sealer::new(TEST_KEY, &[]).unwrap()
}

/// A request as `lambda_http` hands it to a function: path parameter set, body as given.
pub fn request(
    method: Method,
    provider: &str,
    function: Function,
    uri_query: &str,
    content_type: Option<&str>,
    body: Body,
) -> Request {
    let path = function.route().path.replace("{provider}", provider);
    let uri = format!("https://api.example{path}{uri_query}");
    let mut builder = http::Request::builder().method(method).uri(uri);
    if let Some(content_type) = content_type {
        builder = builder.header("content-type", content_type);
    }
    builder
        .body(body)
        .unwrap()
        .with_path_parameters(HashMap::from([("provider".to_owned(), provider.to_owned())]))
}

pub fn form(provider: &str, function: Function, fields: &[(&str, &str)]) -> Request {
    let body = serde_urlencoded::to_string(fields).unwrap();
    request(
        Method::POST,
        provider,
        function,
        "",
        Some("application/x-www-form-urlencoded"),
        Body::Text(body),
    )
}

pub fn json(provider: &str, function: Function, value: &Value) -> Request {
    request(
        Method::POST,
        provider,
        function,
        "",
        Some("application/json"),
        Body::Text(value.to_string()),
    )
}

/// A browser `FormData` body.
pub fn multipart(provider: &str, function: Function, fields: &[(&str, &str)]) -> Request {
    let boundary = "----formdata-test-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, value) in fields {
        write!(
            body,
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        )
        .unwrap();
    }
    write!(body, "--{boundary}--\r\n").unwrap();
    let content_type = format!("multipart/form-data; boundary={boundary}");
    request(
        Method::POST,
        provider,
        function,
        "",
        Some(&content_type),
        Body::Binary(body),
    )
}

pub fn callback(provider: &str, query: &[(&str, &str)]) -> Request {
    let query = format!("?{}", serde_urlencoded::to_string(query).unwrap());
    request(
        Method::GET,
        provider,
        Function::OAuth2Callback,
        &query,
        None,
        Body::Empty,
    )
}

pub async fn call(app: &App, function: Function, request: Request) -> (StatusCode, Value) {
    let response = app.handle(function, request).await;
    let status = response.status();
    (status, body_json(response.body()))
}

pub fn body_text(body: &Body) -> String {
    match body {
        Body::Text(text) => text.clone(),
        Body::Binary(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        _ => String::new(),
    }
}

pub fn body_json(body: &Body) -> Value {
    serde_json::from_str(&body_text(body)).unwrap_or(Value::Null)
}

/// The query parameters of a consent URL.
pub fn query_of(url: &str) -> HashMap<String, String> {
    url::Url::parse(url).unwrap().query_pairs().into_owned().collect()
}

pub fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// What each `events/*.json` is meant to produce: its status and a part of its body that says why
/// (the reason the event encodes, or the items by id and name). Every file there must be listed.
pub const EVENTS: [(&str, u16, &str); 16] = [
    (
        "authorize",
        200,
        "/notion/authorize?owner=user&client_id=notion-client-id",
    ),
    ("authorize-formdata-base64", 200, "client_id=hubspot-client-id"),
    (
        "authorize-unknown-provider",
        404,
        "Unknown provider 'dropbox'; expected one of notion, hubspot, airtable",
    ),
    (
        "oauth2callback-unknown-state",
        400,
        "Unknown, expired or already used state",
    ),
    (
        "oauth2callback-access-denied",
        400,
        "Airtable refused the request: access_denied: The user denied access",
    ),
    (
        "credentials-none-stored",
        404,
        "No credentials found: connect first",
    ),
    (
        "load",
        200,
        r#""id":"0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5","type":"page","name":"From an event""#,
    ),
    (
        "load-malformed-credentials",
        400,
        "Malformed credentials: send the JSON object returned by /credentials",
    ),
    (
        "connection-none-stored",
        404,
        "No connection found: connect first through /authorize",
    ),
    (
        "disconnect-none-stored",
        404,
        "No connection found: connect first through /authorize",
    ),
    (
        "token-none-stored",
        404,
        "No connection found: connect first through /authorize",
    ),
    ("connections", 200, r#"{"connections":[],"next_cursor":null}"#),
    (
        "startsync-none-stored",
        404,
        "No connection found: connect first through /authorize",
    ),
    (
        "syncstatus-none-stored",
        404,
        "No connection found: connect first through /authorize",
    ),
    (
        "items-none-stored",
        404,
        "No connection found: connect first through /authorize",
    ),
    ("connectsessions", 201, r#""token":"cs_"#),
];

/// Events that are no HTTP request, and what their function answers on an empty deployment:
/// replayed through it under the Runtime API.
pub const INVOKED_EVENTS: [(&str, &str); 6] = [
    (
        "refresher-scheduled",
        r#"{"refreshed": 0, "skipped": 0, "needs_reauthorization": 0, "transient": 0,
            "misconfigured": 0, "deferred": 0, "unreadable": 0, "failed": 0, "resealed": 0,
            "under_old_keys": 0}"#,
    ),
    ("sync-scheduled", r#"{"started": 0, "resumed": 0, "failed": 0}"#),
    // A step of a sync that is not there: dropped, not retried.
    ("sync-step", r#"{"batchItemFailures": []}"#),
    ("sync-connection-removed", r#"{"batchItemFailures": []}"#),
    // Without WEBHOOK_URL: nothing queued, nothing delivered, nothing retried.
    ("webhooks-connection-created", r#"{"batchItemFailures": []}"#),
    ("webhooks-delivery", r#"{"batchItemFailures": []}"#),
];

pub fn event_path(name: &str) -> String {
    format!("{}/../events/{name}.json", env!("CARGO_MANIFEST_DIR"))
}

/// The function an event file is for: its name up to the first `-`.
pub fn event_function(name: &str) -> Function {
    Function::from_name(name.split('-').next().unwrap_or_default())
        .unwrap_or_else(|| panic!("events/{name}.json names no function"))
}

/// Answers Notion searches made with the token in `events/load.json`.
pub async fn mount_event_fakes(fake: &wiremock::MockServer) {
    use wiremock::matchers::{header, method, path};
    wiremock::Mock::given(method("POST"))
        .and(path("/v1/search"))
        .and(header("authorization", "Bearer secret_event_token"))
        .respond_with(
            wiremock::ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "object": "list",
                "results": [fakes::notion_page(
                    "0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5",
                    "From an event",
                    serde_json::json!({ "type": "workspace", "workspace": true })
                )],
                "next_cursor": null,
                "has_more": false
            })),
        )
        .mount(fake)
        .await;
}

/// A unique id per test run, so tests sharing one Redis never see each other's keys.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{:016x}", rand::random::<u64>())
}

/// Removing variables from a test configuration.
pub trait Without {
    fn without(self, names: &[&str]) -> Config;
}

impl Without for Config {
    fn without(mut self, names: &[&str]) -> Config {
        for provider in self.providers.iter_mut() {
            let prefix = provider.spec.env_prefix;
            if names.contains(&format!("{prefix}_CLIENT_ID").as_str()) {
                provider.client_id = None;
            }
            if names.contains(&format!("{prefix}_CLIENT_SECRET").as_str()) {
                provider.client_secret = None;
            }
        }
        self
    }
}

/// `request` as a Lambda invocation with `ms` milliseconds left.
pub fn within(request: lambda_http::Request, ms: u64) -> lambda_http::Request {
    let mut context = lambda_http::Context::default();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    context.deadline = now_ms + ms;
    context.request_id = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef".into();
    lambda_http::RequestExt::with_lambda_context(request, context)
}

/// authorize → callback for `provider`, for a new user and org which it returns.
pub async fn connect(
    app: &App,
    fake: &wiremock::MockServer,
    provider: &str,
    token: &str,
) -> (String, String) {
    let (user, org) = (unique("user"), unique("org"));
    connect_as(app, fake, provider, &user, &org, token).await;
    (user, org)
}

/// authorize → callback for `provider`, as `user` of `org`.
pub async fn connect_as(
    app: &App,
    fake: &wiremock::MockServer,
    provider: &str,
    user: &str,
    org: &str,
    token: &str,
) {
    let (_, url) = call(
        app,
        Function::Authorize,
        form(
            provider,
            Function::Authorize,
            &[("user_id", user), ("org_id", org)],
        ),
    )
    .await;
    let query = query_of(url.as_str().unwrap());
    let code = unique("code");
    let challenge = query.get("code_challenge").map(String::as_str);
    fakes::mount_exchange(fake, provider, &code, challenge, token).await;
    let response = app
        .handle(
            Function::OAuth2Callback,
            callback(provider, &[("code", &code), ("state", &query["state"])]),
        )
        .await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{}",
        body_text(response.body())
    );
}
