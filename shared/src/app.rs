//! Every endpoint in one process, over one set of resources: what `local-api` serves and what
//! the tests call. A Lambda function links only its own [`Service`].

use lambda_http::Request;

use crate::error::Error;
use crate::handlers::{
    Authorize, Connection, Connections, Credentials, Disconnect, Load, OAuth2Callback, Service, Token,
};
use crate::resources::{Resources, StartupError};
use crate::response::{self, ErrorFormat, Response};
use crate::routes::Function;

pub struct App {
    authorize: Service<Authorize>,
    oauth2callback: Service<OAuth2Callback>,
    credentials: Service<Credentials>,
    load: Service<Load>,
    /// Present when this process keeps connections (a table, or locally a redb file).
    kept: Option<Kept>,
}

struct Kept {
    connection: Service<Connection>,
    disconnect: Service<Disconnect>,
    token: Service<Token>,
    connections: Service<Connections>,
}

impl App {
    pub async fn build(resources: &Resources) -> Result<Self, StartupError> {
        let app = App {
            authorize: Service::build(resources).await?,
            oauth2callback: Service::build(resources).await?,
            credentials: Service::build(resources).await?,
            load: Service::build(resources).await?,
            kept: match resources.keeper().await? {
                Some(_) => Some(Kept {
                    connection: Service::build(resources).await?,
                    disconnect: Service::build(resources).await?,
                    token: Service::build(resources).await?,
                    connections: Service::build(resources).await?,
                }),
                None => None,
            },
        };
        if app.authorize.access().is_open() {
            tracing::warn!("API_KEYS is not set: every endpoint but the callback is open to anyone");
        }
        Ok(app)
    }

    /// Hands the request to its function; the match is exhaustive, so every function is served.
    pub async fn handle(&self, function: Function, request: Request) -> Response {
        match function {
            Function::Authorize => self.authorize.handle(request).await,
            Function::OAuth2Callback => self.oauth2callback.handle(request).await,
            Function::Credentials => self.credentials.handle(request).await,
            Function::Load => self.load.handle(request).await,
            Function::Connection | Function::Disconnect | Function::Token | Function::Connections => {
                let Some(kept) = &self.kept else {
                    return self.unkept(&request);
                };
                match function {
                    Function::Connection => kept.connection.handle(request).await,
                    Function::Disconnect => kept.disconnect.handle(request).await,
                    Function::Token => kept.token.handle(request).await,
                    _ => kept.connections.handle(request).await,
                }
            }
        }
    }

    /// A connections route in a process that keeps none: guarded and preflighted as where they
    /// are kept (a caller without a key learns nothing of the configuration), then 503.
    fn unkept(&self, request: &Request) -> Response {
        let access = self.authorize.access();
        let origin = request.headers().get(http::header::ORIGIN);
        let mut response = if request.method() == http::Method::OPTIONS {
            access.preflight(origin)
        } else {
            let error = access
                .check_api_key(request.headers())
                .err()
                .unwrap_or(Error::NoConnectionStore {
                    hint: "This deployment keeps no connections: set CONNECTIONS_TABLE",
                });
            response::error(&error, ErrorFormat::Json)
        };
        access.add_cors_headers(origin, &mut response);
        response
    }
}
