//! The function binaries as Lambda runs them: each polls a local emulation of the Lambda
//! Runtime API (`/2018-06-01/runtime/...`) and receives HTTP API payload 2.0 events.
//!
//! `cargo test` builds the four binaries first (`cargo build -p ...`, a no-op when fresh).
//! With `--nocapture` it prints each binary's cold start and peak RSS.

mod support;

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use support::*;
use tokio::sync::{mpsc, oneshot};
use wiremock::MockServer;

const FUNCTIONS: [&str; 4] = ["authorize", "oauth2callback", "credentials", "load"];

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
        for function in FUNCTIONS {
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

/// What a function answered to one invocation.
#[derive(Debug)]
enum Outcome {
    Response(Value),
    Error(Value),
}

struct Invocation {
    event: String,
    reply: oneshot::Sender<Outcome>,
}

#[derive(Default)]
struct Observed {
    first_poll: Option<Instant>,
    init_error: Option<(String, Value)>,
}

/// One emulated Runtime API, serving one function process.
struct RuntimeApi {
    address: String,
    invocations: mpsc::Sender<Invocation>,
    observed: Arc<Mutex<Observed>>,
}

impl RuntimeApi {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let (invocations, queue) = mpsc::channel::<Invocation>(8);
        let queue = Arc::new(tokio::sync::Mutex::new(queue));
        let pending: Arc<Mutex<HashMap<String, oneshot::Sender<Outcome>>>> = Arc::default();
        let observed: Arc<Mutex<Observed>> = Arc::default();
        let state = (queue, pending, observed.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let state = state.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(serve_runtime_api(state, request).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        RuntimeApi {
            address,
            invocations,
            observed,
        }
    }
}

type ApiState = (
    Arc<tokio::sync::Mutex<mpsc::Receiver<Invocation>>>,
    Arc<Mutex<HashMap<String, oneshot::Sender<Outcome>>>>,
    Arc<Mutex<Observed>>,
);

async fn serve_runtime_api(
    (queue, pending, observed): ApiState,
    request: hyper::Request<Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let error_type = request
        .headers()
        .get("lambda-runtime-function-error-type")
        .map(|value| value.to_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let json_body = serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null);
    let accepted = || {
        hyper::Response::builder()
            .status(202)
            .body(Full::new(Bytes::from("{}")))
            .unwrap()
    };
    let segments: Vec<&str> = path
        .trim_start_matches("/2018-06-01/runtime/")
        .split('/')
        .collect();
    match segments.as_slice() {
        ["invocation", "next"] => {
            observed
                .lock()
                .unwrap()
                .first_poll
                .get_or_insert_with(Instant::now);
            let Some(invocation) = queue.lock().await.recv().await else {
                return hyper::Response::builder()
                    .status(500)
                    .body(Full::default())
                    .unwrap();
            };
            let id = format!("{:032x}", rand::random::<u128>());
            pending.lock().unwrap().insert(id.clone(), invocation.reply);
            let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
            hyper::Response::builder()
                .header("lambda-runtime-aws-request-id", id)
                .header("lambda-runtime-deadline-ms", (now_ms + 28_000).to_string())
                .header(
                    "lambda-runtime-invoked-function-arn",
                    "arn:aws:lambda:eu-west-1:123456789012:function:test",
                )
                .header(
                    "lambda-runtime-trace-id",
                    "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
                )
                .body(Full::new(Bytes::from(invocation.event)))
                .unwrap()
        }
        ["invocation", id, kind @ ("response" | "error")] => {
            if let Some(reply) = pending.lock().unwrap().remove(*id) {
                let _ = reply.send(if *kind == "response" {
                    Outcome::Response(json_body)
                } else {
                    Outcome::Error(json_body)
                });
            }
            accepted()
        }
        ["init", "error"] => {
            observed.lock().unwrap().init_error = Some((error_type, json_body));
            accepted()
        }
        _ => hyper::Response::builder()
            .status(404)
            .body(Full::default())
            .unwrap(),
    }
}

/// A function binary running against its own Runtime API.
struct Function {
    name: &'static str,
    child: Child,
    api: RuntimeApi,
    spawned: Instant,
}

impl Function {
    async fn start(name: &'static str, env: &HashMap<String, String>) -> Self {
        let api = RuntimeApi::start().await;
        let child = Command::new(binary(name))
            .env_clear()
            .envs(env)
            .env("AWS_LAMBDA_RUNTIME_API", &api.address)
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/26/[$LATEST]test")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the function binary starts");
        Function {
            name,
            child,
            api,
            spawned: Instant::now(),
        }
    }

    async fn invoke(&self, event: String) -> Outcome {
        let (reply, answer) = oneshot::channel();
        self.api
            .invocations
            .send(Invocation { event, reply })
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_secs(10), answer)
            .await
            .unwrap_or_else(|_| panic!("{} did not answer within 10 s", self.name))
            .unwrap()
    }

    /// Invokes and returns (statusCode, headers, body as text), as API Gateway would read them.
    async fn http(&self, event: String) -> (u16, Value, String) {
        match self.invoke(event).await {
            Outcome::Response(response) => {
                let body = response["body"].as_str().unwrap_or_default();
                let body = if response["isBase64Encoded"] == true {
                    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(body).unwrap())
                        .unwrap()
                } else {
                    body.to_owned()
                };
                (
                    response["statusCode"].as_u64().unwrap() as u16,
                    response["headers"].clone(),
                    body,
                )
            }
            Outcome::Error(error) => panic!("{} reported an invocation error: {error}", self.name),
        }
    }

    async fn cold_start(&self) -> Duration {
        for _ in 0..500 {
            if let Some(first) = self.api.observed.lock().unwrap().first_poll {
                return first - self.spawned;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{} never polled for an invocation", self.name)
    }

    /// Peak resident set size so far (VmHWM), in KiB.
    fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    async fn exit(mut self) -> std::process::ExitStatus {
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{} did not exit", self.name)
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP API payload 2.0 event, as API Gateway sends it.
fn event(
    method: &str,
    provider: &str,
    endpoint: &str,
    query: &str,
    body: Option<(&str, &[u8], bool)>,
) -> String {
    let path = format!("/integrations/{provider}/{endpoint}");
    let mut headers =
        json!({ "host": "abc123.execute-api.eu-west-1.amazonaws.com", "user-agent": "runtime-api-test" });
    let mut event = json!({
        "version": "2.0",
        "routeKey": format!("{method} /integrations/{{provider}}/{endpoint}"),
        "rawPath": path,
        "rawQueryString": query,
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc123", "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
            "domainPrefix": "abc123", "requestId": format!("{:x}", rand::random::<u64>()),
            "routeKey": format!("{method} /integrations/{{provider}}/{endpoint}"), "stage": "$default",
            "time": "26/Nov/2026:20:00:00 +0000", "timeEpoch": 1795723200000u64,
            "http": { "method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7", "userAgent": "runtime-api-test" }
        },
        "pathParameters": { "provider": provider },
        "isBase64Encoded": false
    });
    if !query.is_empty() {
        let parameters: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        event["queryStringParameters"] = json!(parameters);
    }
    if let Some((content_type, bytes, base64)) = body {
        headers["content-type"] = json!(content_type);
        event["isBase64Encoded"] = json!(base64);
        event["body"] = if base64 {
            json!(base64::engine::general_purpose::STANDARD.encode(bytes))
        } else {
            json!(String::from_utf8(bytes.to_vec()).unwrap())
        };
    }
    event["headers"] = headers;
    event.to_string()
}

fn form_event(provider: &str, endpoint: &str, fields: &[(&str, &str)]) -> String {
    let body = serde_urlencoded::to_string(fields).unwrap();
    event(
        "POST",
        provider,
        endpoint,
        "",
        Some(("application/x-www-form-urlencoded", body.as_bytes(), false)),
    )
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
        provider,
        endpoint,
        "",
        Some((&content_type, body.as_bytes(), true)),
    )
}

async fn start_all(env: &HashMap<String, String>) -> HashMap<&'static str, Function> {
    let mut functions = HashMap::new();
    for name in FUNCTIONS {
        functions.insert(name, Function::start(name, env).await);
    }
    functions
}

/// authorize → (consent) → callback → credentials → load, for every provider, through the four
/// binaries on a real Redis; then every `events/*.json` through the binary it names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_provider_connects_and_loads_through_the_four_binaries() {
    let fake = MockServer::start().await;
    let env = vars(&fake.uri(), &[("REDIS_URL", &redis_url())]);
    let functions = start_all(&env).await;

    for provider in ["notion", "hubspot", "airtable"] {
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
            .http(event("GET", provider, "oauth2callback", &callback_query, None))
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
            match provider {
                "notion" => 3,
                _ => 5,
            },
            "{items}"
        );
    }

    mount_event_fakes(&fake).await;
    // The connections functions need a table; `connected.rs` runs them on one.
    for (name, expected, says) in EVENTS {
        let Some(function) = functions.get(event_function(name).name()) else {
            continue;
        };
        let event = std::fs::read_to_string(event_path(name)).unwrap();
        let (status, _, body) = function.http(event).await;
        assert_eq!(status, expected, "events/{name}.json: {body}");
        assert!(
            body.contains(says),
            "events/{name}.json: {body:?} should contain {says:?}"
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

/// `load` needs no store, no key and no client credentials: it starts and serves a load by
/// credentials with only the provider API settings.
#[tokio::test]
async fn load_starts_and_serves_with_only_the_provider_api_settings() {
    let fake = MockServer::start().await;
    mount_event_fakes(&fake).await;
    let env = HashMap::from([("NOTION_API_URL".to_owned(), fake.uri())]);
    let load = Function::start("load", &env).await;
    let event = std::fs::read_to_string(event_path("load")).unwrap();
    let (status, _, body) = load.http(event).await;
    assert_eq!(status, 200, "{body}");
    let items: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(items[0]["name"], "From an event", "{body}");
    assert!(load.api.observed.lock().unwrap().init_error.is_none());
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
        let function = Function::start("authorize", &env).await;
        let observed = function.api.observed.clone();
        let status = function.exit().await;
        assert!(!status.success(), "it exits");
        let (error_type, body) = observed
            .lock()
            .unwrap()
            .init_error
            .clone()
            .expect("an /init/error report");
        assert_eq!(error_type, "Runtime.InitError");
        assert!(body["errorMessage"].as_str().unwrap().contains(message), "{body}");
        assert!(
            observed.lock().unwrap().first_poll.is_none(),
            "it never polled for work"
        );
    }
}

/// A warm function whose Redis restarts between invocations: a quick 503 while it is gone,
/// success once it is back; never a hang until the Lambda timeout.
#[tokio::test]
async fn a_warm_function_survives_a_redis_restart() {
    let fake = MockServer::start().await;
    let mut server = RedisServer::start(&[]);
    let env = vars(&fake.uri(), &[("REDIS_URL", &server.url())]);
    let function = Function::start("authorize", &env).await;
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
