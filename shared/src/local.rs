//! `local-api`: the four endpoints on one port, through the same handlers as on Lambda.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use lambda_http::{Body, RequestExt};
use tokio::net::TcpListener;

use crate::app::App;
use crate::config::Config;
use crate::error::Error;
use crate::handlers::{handle, Endpoint};
use crate::http::{json_response, Response, MAX_BODY_BYTES};

/// Reads `.env`, builds the app (in-process store without `REDIS_URL`), serves until Ctrl-C.
pub async fn main() -> std::process::ExitCode {
    let dotenv = dotenvy::dotenv();
    crate::logging::init_text();
    if let Ok(path) = dotenv {
        tracing::info!("read {}", path.display());
    }
    let host = std::env::var("HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let port = std::env::var("PORT").unwrap_or_else(|_| "8000".into());
    let app = match App::for_local(Config::from_env()).await {
        Ok(app) => Arc::new(app),
        Err(error) => {
            tracing::error!("cannot start: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let listener = match TcpListener::bind(format!("{host}:{port}")).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!("cannot listen on {host}:{port}: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    if let Ok(address) = listener.local_addr() {
        tracing::info!("serving on http://{address}/integrations/{{notion,hubspot,airtable}}/...");
    }
    tokio::select! {
        () = serve(app, listener) => {}
        _ = tokio::signal::ctrl_c() => tracing::info!("stopping"),
    }
    std::process::ExitCode::SUCCESS
}

/// Accepts connections until the task is dropped.
pub async fn serve(app: Arc<App>, listener: TcpListener) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!("accept failed: {error}");
                continue;
            }
        };
        let app = app.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let app = app.clone();
                async move { Ok::<_, Infallible>(route(&app, peer, request).await) }
            });
            let connection =
                hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            if let Err(error) = connection.await {
                tracing::debug!("connection closed: {error}");
            }
        });
    }
}

/// Maps `/integrations/{provider}/{endpoint}` onto the handler, as API Gateway's routes do.
async fn route(
    app: &App,
    peer: SocketAddr,
    request: hyper::Request<Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let segments: Vec<&str> = parts.uri.path().trim_matches('/').split('/').collect();
    let routed = match segments.as_slice() {
        ["integrations", provider, last] => Endpoint::ALL
            .into_iter()
            .find(|endpoint| endpoint.path_segment() == *last)
            .map(|endpoint| (endpoint, provider.to_string())),
        _ => None,
    };
    let Some((endpoint, provider)) = routed else {
        return into_hyper(json_response(
            StatusCode::NOT_FOUND,
            &serde_json::json!({"detail": "Not Found"}),
        ));
    };
    if parts.method != endpoint.method() && parts.method != Method::OPTIONS {
        let detail = serde_json::json!({"detail": "Method Not Allowed"});
        return into_hyper(json_response(StatusCode::METHOD_NOT_ALLOWED, &detail));
    }
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return into_hyper(Error::PayloadTooLarge.into_json_response()),
    };
    let body = if body.is_empty() {
        Body::Empty
    } else {
        Body::Binary(body.to_vec())
    };
    let provider = percent_encoding::percent_decode_str(&provider)
        .decode_utf8_lossy()
        .into_owned();
    let request = lambda_http::Request::from_parts(parts, body)
        .with_path_parameters(HashMap::from([("provider".to_owned(), provider)]));
    tracing::trace!(%peer, "routed");
    into_hyper(handle(app, endpoint, request).await)
}

fn into_hyper(response: Response) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        Body::Text(text) => Bytes::from(text),
        Body::Binary(bytes) => Bytes::from(bytes),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}
