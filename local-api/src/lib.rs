//! `local-api`: every endpoint on one port, routed by the same table the template's routes are
//! checked against, through the same handlers as on Lambda.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::StatusCode;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use integrations::config::Config;
use integrations::request::MAX_BODY_BYTES;
use integrations::resources::{Mode, Resources};
use integrations::response::{self, json_response, ErrorFormat, Response};
use integrations::routes::{Routed, Router};
use integrations::{App, Error};
use lambda_http::{Body, RequestExt};
use tokio::net::TcpListener;

/// The app and the compiled route table, shared by every connection.
pub struct Server {
    app: App,
    router: Router,
}

impl Server {
    pub fn new(app: App) -> Arc<Self> {
        Arc::new(Server {
            app,
            router: Router::default(),
        })
    }
}

/// Reads `.env`, builds the app (in-process store without `REDIS_URL`), serves until Ctrl-C.
pub async fn main() -> std::process::ExitCode {
    let dotenv = dotenvy::dotenv();
    integrations::logging::init_text();
    if let Ok(path) = dotenv {
        tracing::info!("read {}", path.display());
    }
    let host = std::env::var("HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let port = std::env::var("PORT").unwrap_or_else(|_| "8000".into());
    let resources = Resources::new(Config::from_env(), Mode::Local);
    let app = match App::build(&resources).await {
        Ok(app) => app,
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
        tracing::info!("serving on http://{address}/integrations/{{provider}}/...");
    }
    tokio::select! {
        () = serve(Server::new(app), listener) => {}
        _ = tokio::signal::ctrl_c() => tracing::info!("stopping"),
    }
    std::process::ExitCode::SUCCESS
}

/// Accepts connections until the task is dropped.
pub async fn serve(server: Arc<Server>, listener: TcpListener) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                tracing::warn!("accept failed: {error}");
                continue;
            }
        };
        let server = server.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let server = server.clone();
                async move { Ok::<_, Infallible>(server.route(request).await) }
            });
            let connection =
                hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            if let Err(error) = connection.await {
                tracing::debug!("connection closed: {error}");
            }
        });
    }
}

impl Server {
    /// Routes as API Gateway does: path parameters set, the body handed over whole.
    async fn route(&self, request: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
        let (parts, body) = request.into_parts();
        let (function, parameters) = match self.router.at(parts.method.as_str(), parts.uri.path()) {
            Routed::Found { function, parameters } => (function, parameters),
            Routed::MethodNotAllowed => {
                return not_routed(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
            }
            Routed::NotFound => return not_routed(StatusCode::NOT_FOUND, "Not Found"),
        };
        let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => {
                let error = Error::PayloadTooLarge(MAX_BODY_BYTES);
                return into_hyper(response::error(&error, ErrorFormat::Json));
            }
        };
        let body = if body.is_empty() {
            Body::Empty
        } else {
            Body::Binary(body.to_vec())
        };
        let request = lambda_http::Request::from_parts(parts, body)
            .with_path_parameters(parameters.into_iter().collect::<HashMap<_, _>>());
        into_hyper(self.app.handle(function, request).await)
    }
}

fn not_routed(status: StatusCode, detail: &str) -> hyper::Response<Full<Bytes>> {
    into_hyper(json_response(status, &serde_json::json!({ "detail": detail })))
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
