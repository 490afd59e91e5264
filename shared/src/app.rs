//! Every endpoint in one process, over one set of resources: what `local-api` serves and what
//! the tests call. A Lambda function links only its own [`Service`].

use std::collections::HashMap;

use lambda_http::Request;

use crate::access::Access;
use crate::handlers::{
    Authorize, ConnectSessions, Connection, Connections, Credentials, Disconnect, DynEndpoint, Endpoint,
    Handler, Items, Load, OAuth2Callback, Service, StartSync, SyncStatus, Token,
};
use crate::resources::{Resources, StartupError};
use crate::response::Response;
use crate::routes::Function;

pub struct App {
    /// One endpoint per function.
    endpoints: HashMap<Function, Box<DynEndpoint<'static>>>,
}

impl App {
    pub async fn build(resources: &Resources) -> Result<Self, StartupError> {
        // A process without a store for connections still routes their paths, to `Unkept`.
        let kept = resources.keeper().await?.is_some();
        let mut endpoints = HashMap::new();
        for function in Function::ALL {
            endpoints.insert(function, endpoint(function, kept, resources).await?);
        }
        if Access::new(&resources.config).is_open() {
            tracing::warn!("API_KEYS is not set: every endpoint but the callback is open to anyone");
        }
        Ok(App { endpoints })
    }

    /// Hands the request to its function's endpoint.
    pub async fn handle(&self, function: Function, request: Request) -> Response {
        self.endpoints[&function].handle(request).await
    }
}

/// The match is exhaustive, so every function is served.
async fn endpoint(
    function: Function,
    kept: bool,
    resources: &Resources,
) -> Result<Box<DynEndpoint<'static>>, StartupError> {
    async fn built<H: Handler>(resources: &Resources) -> Result<Box<DynEndpoint<'static>>, StartupError> {
        Ok(DynEndpoint::new_box(Service::<H>::build(resources).await?))
    }
    match function {
        Function::Authorize => built::<Authorize>(resources).await,
        Function::ConnectSessions => built::<ConnectSessions>(resources).await,
        Function::OAuth2Callback => built::<OAuth2Callback>(resources).await,
        Function::Credentials => built::<Credentials>(resources).await,
        Function::Load => built::<Load>(resources).await,
        Function::Connection if kept => built::<Connection>(resources).await,
        Function::Disconnect if kept => built::<Disconnect>(resources).await,
        Function::Token if kept => built::<Token>(resources).await,
        Function::Connections if kept => built::<Connections>(resources).await,
        Function::StartSync if kept => built::<StartSync>(resources).await,
        Function::SyncStatus if kept => built::<SyncStatus>(resources).await,
        Function::Items if kept => built::<Items>(resources).await,
        Function::Connection
        | Function::Disconnect
        | Function::Token
        | Function::Connections
        | Function::StartSync
        | Function::SyncStatus
        | Function::Items => Ok(DynEndpoint::new_box(Service::unkept(function, resources))),
    }
}
