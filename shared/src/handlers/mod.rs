//! The endpoints. Each is a [`Handler`]: it builds what it needs once per process, then serves
//! requests; [`Service`] wraps it with what every endpoint shares (access, deadline, errors, logs).

mod authorize;
mod connect_sessions;
mod connection;
mod connections;
mod credentials;
mod load;
mod oauth2callback;
mod sync;
mod token;
mod unkept;

use std::future::Future;
use std::time::{Duration, Instant};

use http::Method;
use lambda_http::{Request, RequestExt};
use tracing::Instrument;

pub use crate::sessions::SessionMinted;
pub use authorize::Authorize;
pub use connect_sessions::ConnectSessions;
pub use connection::{Connection, Disconnect, Disconnected};
pub use connections::{Connections, ConnectionsPage, DEFAULT_LIMIT};
pub use credentials::Credentials;
pub use load::{Load, LoadPage, DEFAULT_LOAD_LIMIT, MAX_LOAD_LIMIT};
pub use oauth2callback::OAuth2Callback;
pub use sync::{Items, StartSync, SyncStarted, SyncStatus};
pub use token::{AccessToken, Token};
pub use unkept::Unkept;

use crate::access::Access;
use crate::clock::deadline_before;
use crate::error::Result;
use crate::resources::{Resources, StartupError};
use crate::response::{self, Response};
use crate::routes::Function;

/// Time kept back from the Lambda deadline to send the 504 before the function is stopped.
const DEADLINE_MARGIN: Duration = Duration::from_millis(500);

/// What an endpoint does with a request the shared wrapper let through.
pub trait Serve: Send + Sync + 'static {
    fn serve(&self, request: Request, context: &Context) -> impl Future<Output = Result<Response>> + Send;
}

/// One endpoint, bound to its function at compile time.
pub trait Handler: Serve + Sized {
    const FUNCTION: Function;

    /// Builds what this endpoint needs, and nothing else, from the process's resources.
    fn build(resources: &Resources) -> impl Future<Output = Result<Self, StartupError>> + Send;
}

/// A function's endpoint, whichever handler serves it: what `local-api` and the tests route to.
#[dynosaur::dynosaur(pub DynEndpoint = dyn(box) Endpoint)]
pub trait Endpoint: Send + Sync {
    fn handle(&self, request: Request) -> impl Future<Output = Response> + Send;
}

/// What the shared wrapper learnt of a request before handing it over.
#[derive(Debug, Clone)]
pub struct Context {
    /// The `{provider}` path parameter; empty on routes without one.
    pub provider: String,
    /// When the invocation must have answered (the Lambda deadline less a margin).
    pub deadline: Option<Instant>,
    /// The connect session's token the caller sent in place of an API key, where the function
    /// takes one (the handler checks it).
    pub session: Option<String>,
}

/// A handler with access control, the deadline, error responses and a span per request.
pub struct Service<H> {
    function: Function,
    access: Access,
    handler: H,
}

impl<H: Handler> Service<H> {
    pub async fn build(resources: &Resources) -> Result<Self, StartupError> {
        Ok(Service {
            function: H::FUNCTION,
            access: Access::new(&resources.config),
            handler: H::build(resources).await?,
        })
    }
}

impl<H: Serve> Endpoint for Service<H> {
    async fn handle(&self, request: Request) -> Response {
        let context = Context {
            provider: request
                .path_parameters_ref()
                .and_then(|parameters| parameters.first("provider"))
                .unwrap_or_default()
                .chars()
                .take(64)
                .collect(),
            deadline: deadline(&request),
            session: self.access.session_token(self.function, request.headers()),
        };
        let span = tracing::info_span!(
            "request",
            request_id = request_id(&request),
            function = self.function.name(),
            provider = context.provider.as_str(),
        );
        self.respond(request, context).instrument(span).await
    }
}

impl<H: Serve> Service<H> {
    pub fn access(&self) -> &Access {
        &self.access
    }

    async fn respond(&self, request: Request, context: Context) -> Response {
        let started = Instant::now();
        // Only the origin outlives the request (the response's CORS headers depend on it).
        let origin = request.headers().get(http::header::ORIGIN).cloned();
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let mut failure = None;
        let mut response = if method == Method::OPTIONS {
            self.access.preflight(origin.as_ref())
        } else {
            let result = match context.deadline {
                Some(deadline) => tokio::time::timeout_at(deadline.into(), self.serve(request, &context))
                    .await
                    .unwrap_or(Err(crate::Error::DeadlineExceeded)),
                None => self.serve(request, &context).await,
            };
            result.unwrap_or_else(|error| {
                failure = Some(error.to_string());
                response::error(&error, self.function.error_format())
            })
        };
        self.access.add_cors_headers(origin.as_ref(), &mut response);
        let status = response.status().as_u16();
        let latency_ms = started.elapsed().as_millis() as u64;
        if response.status().is_server_error() {
            tracing::error!(%method, path, status, latency_ms, error = failure, "request");
        } else {
            tracing::info!(%method, path, status, latency_ms, error = failure, "request");
        }
        response
    }

    async fn serve(&self, request: Request, context: &Context) -> Result<Response> {
        if !self.function.is_browser_facing() && context.session.is_none() {
            self.access.check_api_key(request.headers())?;
        }
        self.handler.serve(request, context).await
    }
}

fn request_id(request: &Request) -> String {
    request
        .lambda_context_ref()
        .map(|context| context.request_id.clone())
        .filter(|id| !id.is_empty())
        .or_else(|| {
            request
                .headers()
                .get("x-request-id")
                .and_then(|value| value.to_str().ok())
                .map(|value| value.chars().take(64).collect())
        })
        .unwrap_or_else(|| format!("{:016x}", rand::random::<u64>()))
}

fn deadline(request: &Request) -> Option<Instant> {
    deadline_before(request.lambda_context_ref()?.deadline, DEADLINE_MARGIN)
}
