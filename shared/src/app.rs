//! Every endpoint in one process, over one set of resources: what `local-api` serves and what
//! the tests call. A Lambda function links only its own [`Service`].

use lambda_http::Request;

use crate::handlers::{Authorize, Credentials, Load, OAuth2Callback, Service};
use crate::resources::{Resources, StartupError};
use crate::response::Response;
use crate::routes::Function;

pub struct App {
    authorize: Service<Authorize>,
    oauth2callback: Service<OAuth2Callback>,
    credentials: Service<Credentials>,
    load: Service<Load>,
}

impl App {
    pub async fn build(resources: &Resources) -> Result<Self, StartupError> {
        let app = App {
            authorize: Service::build(resources).await?,
            oauth2callback: Service::build(resources).await?,
            credentials: Service::build(resources).await?,
            load: Service::build(resources).await?,
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
        }
    }
}
