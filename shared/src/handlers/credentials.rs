//! `POST /integrations/{provider}/credentials`: the one-time hand-off of a connection's tokens.

use std::sync::Arc;

use http::StatusCode;
use lambda_http::Request;

use super::{Context, Handler, Serve};
use crate::error::{Error, Result};
use crate::providers::{Needs, Providers};
use crate::request::Fields;
use crate::resources::{Resources, StartupError};
use crate::response::{json_response, Response};
use crate::routes::Function;
use crate::single_use::{credentials_key, SingleUse};
use crate::tokens::TokenSet;

pub struct Credentials {
    providers: Providers,
    single_use: Arc<SingleUse>,
}

impl Handler for Credentials {
    const FUNCTION: Function = Function::Credentials;

    async fn build(resources: &Resources) -> Result<Self, StartupError> {
        Ok(Credentials {
            providers: resources.config.providers.clone(),
            single_use: resources.single_use().await?,
        })
    }
}

impl Serve for Credentials {
    /// The token response exactly as the provider sent it, once.
    async fn serve(&self, request: Request, context: &Context) -> Result<Response> {
        let provider = self.providers.get(&context.provider, Needs::NOTHING)?;
        let identity = Fields::from_request(&request).await?.identity()?;
        let key = credentials_key(provider.name(), &identity.org_id, &identity.user_id);
        let tokens: TokenSet = self
            .single_use
            .take(&key)
            .await?
            .ok_or(Error::CredentialsNotFound)?;
        Ok(json_response(StatusCode::OK, &tokens.raw))
    }
}
