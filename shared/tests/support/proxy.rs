//! A fault-injecting proxy in front of moto: it holds chosen DynamoDB operations for a while,
//! and answers them `ProvisionedThroughputExceededException` instead of passing them on, as a
//! slow or throttled DynamoDB would. Everything else goes through unchanged.
//!
//! [`one_at_a_time`] puts moto itself behind such a proxy without faults, forwarding one request
//! at a time: moto serves requests on concurrent threads and does not lock its tables, so two
//! conditional writes to one item can both pass their condition, which DynamoDB never allows.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

/// What to do to the first `times` requests of `operation` whose JSON body contains `marker`.
#[derive(Debug, Clone)]
pub struct Fault {
    /// The `X-Amz-Target` operation, e.g. `UpdateItem`.
    pub operation: &'static str,
    /// Picks the requests among that operation's (e.g. `last_refreshed_at`: only commits).
    pub marker: &'static str,
    /// Held this long before the answer.
    pub delay: Duration,
    /// Answered throttled (not passed on) after the delay; passed on otherwise.
    pub throttle: bool,
    pub times: usize,
}

pub struct Proxy {
    pub url: String,
    /// Requests a fault was applied to.
    pub faulted: Arc<AtomicUsize>,
}

struct State {
    upstream: String,
    faults: Mutex<Vec<Fault>>,
    faulted: Arc<AtomicUsize>,
    client: reqwest::Client,
    /// Held across each forward, when requests go through one at a time.
    turn: Option<tokio::sync::Mutex<()>>,
}

/// Listens on a free loopback port and forwards to `upstream` (moto's URL).
pub async fn start(upstream: String, faults: Vec<Fault>) -> Proxy {
    serve(upstream, faults, None).await
}

/// A proxy in front of `upstream` that forwards one request at a time, on a thread of its own
/// so it outlives every test's runtime; its URL.
pub fn one_at_a_time(upstream: String) -> String {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let proxy = serve(upstream, Vec::new(), Some(tokio::sync::Mutex::new(()))).await;
            sender.send(proxy.url).unwrap();
            std::future::pending::<()>().await
        })
    });
    receiver.recv().expect("the proxy thread started")
}

async fn serve(upstream: String, faults: Vec<Fault>, turn: Option<tokio::sync::Mutex<()>>) -> Proxy {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let faulted = Arc::new(AtomicUsize::new(0));
    let state = Arc::new(State {
        upstream,
        faults: Mutex::new(faults),
        faulted: Arc::clone(&faulted),
        client: reqwest::Client::new(),
        turn,
    });
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let state = Arc::clone(&state);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| handle(Arc::clone(&state), request));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Proxy { url, faulted }
}

async fn handle(
    state: Arc<State>,
    request: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|body| body.to_bytes())
        .unwrap_or_default();
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let fault = {
        let text = String::from_utf8_lossy(&body);
        let mut faults = state.faults.lock().unwrap();
        faults
            .iter_mut()
            .find(|fault| fault.times > 0 && target.ends_with(fault.operation) && text.contains(fault.marker))
            .map(|fault| {
                fault.times -= 1;
                fault.clone()
            })
    };
    if let Some(fault) = fault {
        state.faulted.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(fault.delay).await;
        if fault.throttle {
            let body = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"The level of configured provisioned throughput for the table was exceeded."}"#;
            return Ok(hyper::Response::builder()
                .status(400)
                .header("content-type", "application/x-amz-json-1.0")
                .header("x-amzn-errortype", "ProvisionedThroughputExceededException")
                .body(Full::new(Bytes::from_static(body.as_bytes())))
                .unwrap());
        }
    }
    let mut forward = state
        .client
        .request(parts.method, format!("{}{}", state.upstream, parts.uri.path()))
        .body(body);
    for (name, value) in &parts.headers {
        if name != http::header::HOST && name != http::header::CONTENT_LENGTH {
            forward = forward.header(name, value);
        }
    }
    let _turn = match &state.turn {
        Some(turn) => Some(turn.lock().await),
        None => None,
    };
    let answer = match forward.send().await {
        Ok(answer) => answer,
        Err(error) => {
            return Ok(hyper::Response::builder()
                .status(502)
                .body(Full::new(Bytes::from(error.to_string())))
                .unwrap())
        }
    };
    let mut response = hyper::Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if name != http::header::CONTENT_LENGTH && name != http::header::TRANSFER_ENCODING {
            response = response.header(name, value);
        }
    }
    let bytes = answer.bytes().await.unwrap_or_default();
    Ok(response.body(Full::new(bytes)).unwrap())
}
