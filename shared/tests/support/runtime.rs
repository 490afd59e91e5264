//! The function binaries as Lambda runs them: each polls its own emulation of the Lambda Runtime
//! API (`/2018-06-01/runtime/...`) for HTTP API payload 2.0 events and posts its answers there.
//! tests/runtime_api.rs checks what they answer; benches/perf.rs times them.

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};

/// How long an invocation may take before the caller gives up on the function.
const INVOCATION_TIMEOUT: Duration = Duration::from_secs(30);

/// What a function answered to one invocation.
#[derive(Debug)]
pub enum Outcome {
    Response(Value),
    Error(Value),
}

type Reply = oneshot::Sender<(Outcome, Duration)>;

struct Invocation {
    event: String,
    reply: Reply,
}

/// What the Runtime API saw of its function.
#[derive(Default)]
struct Observed {
    first_poll: Option<Instant>,
    init_error: Option<(String, Value)>,
    /// Invocations handed out, with when they were delivered.
    pending: HashMap<String, (Instant, Reply)>,
}

type Queue = Arc<tokio::sync::Mutex<mpsc::Receiver<Invocation>>>;

/// A function binary running against its own Runtime API; killed when dropped.
pub struct Function {
    pub name: &'static str,
    child: Child,
    spawned: Instant,
    invocations: mpsc::Sender<Invocation>,
    observed: Arc<Mutex<Observed>>,
}

impl Function {
    /// Starts `binary` as Lambda would, with `env` as its whole environment besides Lambda's
    /// own variables (`RUST_LOG` is `warn` unless `env` sets it).
    pub async fn spawn(binary: &Path, name: &'static str, env: &HashMap<String, String>) -> Self {
        assert!(binary.is_file(), "{} is missing", binary.display());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let (invocations, queue) = mpsc::channel::<Invocation>(8);
        let queue: Queue = Arc::new(tokio::sync::Mutex::new(queue));
        let observed: Arc<Mutex<Observed>> = Arc::default();
        let state = (queue, observed.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = state.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(serve(state, request).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        let spawned = Instant::now();
        let child = Command::new(binary)
            .env_clear()
            .env("RUST_LOG", "warn")
            .envs(env)
            .env("AWS_LAMBDA_RUNTIME_API", &address)
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/26/[$LATEST]test")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the function binary starts");
        Function {
            name,
            child,
            spawned,
            invocations,
            observed,
        }
    }

    /// Delivers an event without waiting for the answer.
    pub async fn send(&self, event: String) {
        let (reply, _) = oneshot::channel();
        self.invocations.send(Invocation { event, reply }).await.unwrap();
    }

    /// The function's answer, and the time from delivering the event to receiving it.
    pub async fn invoke_timed(&self, event: String) -> (Outcome, Duration) {
        let (reply, answer) = oneshot::channel();
        self.invocations.send(Invocation { event, reply }).await.unwrap();
        tokio::time::timeout(INVOCATION_TIMEOUT, answer)
            .await
            .unwrap_or_else(|_| panic!("{} did not answer within {INVOCATION_TIMEOUT:?}", self.name))
            .unwrap()
    }

    pub async fn invoke(&self, event: String) -> Outcome {
        self.invoke_timed(event).await.0
    }

    /// Invokes and returns (statusCode, headers, body as text), as API Gateway would read them.
    pub async fn http(&self, event: String) -> (u16, Value, String) {
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

    /// From spawning the process to its first poll for an event.
    pub async fn cold_start(&self) -> Duration {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(5) {
            if let Some(first) = self.observed.lock().unwrap().first_poll {
                return first - self.spawned;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("{} never polled for an invocation", self.name)
    }

    pub fn polled(&self) -> bool {
        self.observed.lock().unwrap().first_poll.is_some()
    }

    /// The error type and body of the function's `/init/error` report, if it made one.
    pub fn init_error(&self) -> Option<(String, Value)> {
        self.observed.lock().unwrap().init_error.clone()
    }

    /// Peak resident set size so far (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    /// Waits up to 3 s for the process to exit on its own.
    pub async fn exited(&mut self) -> ExitStatus {
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

async fn serve(
    (queue, observed): (Queue, Arc<Mutex<Observed>>),
    request: hyper::Request<Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let error_type = request
        .headers()
        .get("lambda-runtime-function-error-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = request
        .into_body()
        .collect()
        .await
        .map(|body| body.to_bytes())
        .unwrap_or_default();
    let json_body = || serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null);
    let respond = |status: u16, body: &'static [u8]| {
        hyper::Response::builder()
            .status(status)
            .body(Full::new(Bytes::from_static(body)))
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
                return respond(500, b"");
            };
            let id = format!("{:032x}", rand::random::<u128>());
            let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
            let response = hyper::Response::builder()
                .header("lambda-runtime-aws-request-id", &id)
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
                .unwrap();
            observed
                .lock()
                .unwrap()
                .pending
                .insert(id, (Instant::now(), invocation.reply));
            response
        }
        ["invocation", id, kind @ ("response" | "error")] => {
            let received = Instant::now();
            if let Some((delivered, reply)) = observed.lock().unwrap().pending.remove(*id) {
                let outcome = if *kind == "response" {
                    Outcome::Response(json_body())
                } else {
                    Outcome::Error(json_body())
                };
                let _ = reply.send((outcome, received - delivered));
            }
            respond(202, b"{}")
        }
        ["init", "error"] => {
            observed.lock().unwrap().init_error = Some((error_type, json_body()));
            respond(202, b"{}")
        }
        _ => respond(404, b""),
    }
}

/// An HTTP API payload 2.0 event, as API Gateway sends it: `route` as the template declares it,
/// `body` as (content type, bytes, whether API Gateway base64-encoded them).
pub fn event(
    method: &str,
    route: &str,
    path: &str,
    query: &str,
    body: Option<(&str, &[u8], bool)>,
) -> String {
    let mut headers =
        json!({ "host": "abc123.execute-api.eu-west-1.amazonaws.com", "user-agent": "runtime-api-test" });
    let mut event = json!({
        "version": "2.0",
        "routeKey": format!("{method} {route}"),
        "rawPath": path,
        "rawQueryString": query,
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc123", "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
            "domainPrefix": "abc123", "requestId": format!("{:x}", rand::random::<u64>()),
            "routeKey": format!("{method} {route}"), "stage": "$default",
            "time": "26/Nov/2026:20:00:00 +0000", "timeEpoch": 1795723200000u64,
            "http": { "method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7", "userAgent": "runtime-api-test" }
        },
        "isBase64Encoded": false
    });
    if let Some(provider) = path
        .strip_prefix("/integrations/")
        .and_then(|rest| rest.split('/').next())
    {
        event["pathParameters"] = json!({ "provider": provider });
    }
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

/// An event for `/integrations/{provider}/{endpoint}` with a query string and no body.
pub fn query_event(method: &str, provider: &str, endpoint: &str, query: &str) -> String {
    event(
        method,
        &format!("/integrations/{{provider}}/{endpoint}"),
        &format!("/integrations/{provider}/{endpoint}"),
        query,
        None,
    )
}

/// A form POST to `/integrations/{provider}/{endpoint}`.
pub fn form_event(provider: &str, endpoint: &str, fields: &[(&str, &str)]) -> String {
    let body = serde_urlencoded::to_string(fields).unwrap();
    event(
        "POST",
        &format!("/integrations/{{provider}}/{endpoint}"),
        &format!("/integrations/{provider}/{endpoint}"),
        "",
        Some(("application/x-www-form-urlencoded", body.as_bytes(), false)),
    )
}
