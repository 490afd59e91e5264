//! `local-api`: every endpoint on one port, routed by the same table the template's routes are
//! checked against, through the same handlers as on Lambda; besides them, the sandbox provider
//! under `/sandbox/`, a demo page at `/`, and the OpenAPI document at `/openapi.json` with its
//! reference at `/docs`.

mod demo;
mod docs;
pub mod openapi;
pub mod sandbox;

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use integrations::providers::Providers;
use integrations::request::MAX_BODY_BYTES;
use integrations::resources::{Mode, Resources, StartupError};
use integrations::response::{self, ErrorFormat, Response};
use integrations::routes::{Routed, Router};
use integrations::single_use::SingleUse;
use integrations::{App, Error};
use lambda_http::{Body, RequestExt};
use tokio::net::TcpListener;

/// The app, the compiled route table, the sandbox, the providers the demo lists and the app's
/// single-use store, in which the demo mints its connect sessions.
pub struct Server {
    app: App,
    router: Router,
    sandbox: sandbox::Sandbox,
    providers: Providers,
    single_use: Arc<SingleUse>,
}

impl Server {
    /// Everything served at `address`, configured through `var`. The address is the bound one:
    /// the sandbox provider's URLs name its port.
    pub async fn build(
        address: SocketAddr,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Arc<Self>, StartupError> {
        let (config, sandbox) = sandbox::configure(address, var);
        let resources = Resources::new(config, Mode::Local);
        let app = App::build(&resources).await?;
        // Syncs run in this process, over the queue the syncer sends its steps to.
        if let (Some(syncer), Some(steps)) = (resources.syncer().await?, resources.take_local_sync()) {
            tokio::spawn(integrations::sync::local::run(syncer, steps, Default::default()));
        }
        // Webhooks too, from the embedded store's writes and the syncer's ends.
        if let Some(webhooks) = resources.take_local_webhooks().await? {
            tokio::spawn(integrations::webhooks::local::run(webhooks));
        }
        Ok(Arc::new(Server {
            app,
            router: Router::default(),
            sandbox,
            providers: resources.config.providers.clone(),
            // The app's own (built once per process): its authorize and callback open the
            // sessions minted in it.
            single_use: resources.single_use().await?,
        }))
    }
}

/// Reads `.env`, binds, builds the app (in-process store without `REDIS_URL`), serves until Ctrl-C.
pub async fn main() -> std::process::ExitCode {
    let dotenv = dotenvy::dotenv();
    integrations::logging::init_text();
    if let Ok(path) = dotenv {
        tracing::info!("read {}", path.display());
    }
    let host = std::env::var("HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let port = std::env::var("PORT").unwrap_or_else(|_| "8000".into());
    let listener = match TcpListener::bind(format!("{host}:{port}")).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!("cannot listen on {host}:{port}: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let address = match listener.local_addr() {
        Ok(address) => address,
        Err(error) => {
            tracing::error!("cannot read the bound address: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let server = match Server::build(address, |name| std::env::var(name).ok()).await {
        Ok(server) => server,
        Err(error) => {
            tracing::error!("cannot start: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    tracing::info!(
        "serving on http://{address}/: the demo page, the API under /integrations/{{provider}}/..., its reference at /docs, the sandbox under /sandbox/"
    );
    tokio::select! {
        () = serve(server, listener) => {}
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
    /// Routes as API Gateway does: path parameters set, the body handed over whole. The demo's
    /// files and session, the docs and the sandbox come first; none shares a path with the API.
    async fn route(&self, request: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
        let (parts, body) = request.into_parts();
        if parts.uri.path() == demo::SESSION_PATH {
            return demo::session(
                &parts.method,
                parts.uri.query(),
                &self.providers,
                &self.single_use,
            )
            .await;
        }
        if let Some(response) = demo::serve(&parts.method, parts.uri.path(), &self.providers)
            .or_else(|| docs::serve(&parts.method, parts.uri.path()))
        {
            return response;
        }
        if parts.uri.path().starts_with("/sandbox/") {
            let body = match read_body(body).await {
                Ok(body) => body,
                Err(too_large) => return too_large,
            };
            let response = self.sandbox.handle(http::Request::from_parts(parts, body)).await;
            return response.map(Full::new);
        }
        let (function, parameters) = match self.router.at(parts.method.as_str(), parts.uri.path()) {
            Routed::Found { function, parameters } => (function, parameters),
            Routed::MethodNotAllowed => {
                // RFC 9110 §15.5.6: a 405 says which methods the path has.
                let mut response = not_routed(&Error::MethodNotAllowed);
                let allowed = self.router.allowed(parts.uri.path()).join(", ");
                if let Ok(allowed) = http::HeaderValue::from_str(&allowed) {
                    response.headers_mut().insert(http::header::ALLOW, allowed);
                }
                return response;
            }
            Routed::NotFound => return not_routed(&Error::RouteNotFound),
        };
        let body = match read_body(body).await {
            Ok(body) => body,
            Err(too_large) => return too_large,
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

/// The whole body, or the 413 for one over the limit.
async fn read_body(body: Incoming) -> Result<Bytes, hyper::Response<Full<Bytes>>> {
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(_) => Err(not_routed(&Error::PayloadTooLarge(MAX_BODY_BYTES))),
    }
}

/// What local-api answers itself, before any function: `{"detail"}` as the functions do.
fn not_routed(error: &Error) -> hyper::Response<Full<Bytes>> {
    into_hyper(response::error(error, ErrorFormat::Json))
}

/// One of the demo's or the API reference's own files, under the page's content security policy.
fn page_file(content_type: &'static str, policy: &'static str, body: Bytes) -> hyper::Response<Full<Bytes>> {
    let mut response = hyper::Response::new(Full::new(body));
    response::harden(response.headers_mut(), content_type, policy, "no-cache");
    response
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
