//! `POST /integrations/{provider}/token`: a connection's access token, refreshed first when due.

use std::sync::Arc;

use http::StatusCode;
use lambda_http::Request;
use serde::Serialize;

use super::{Context, Handler, Serve};
use crate::clock::rfc3339;
use crate::error::Result;
use crate::keeper::{self, Keeper};
use crate::providers::{Needs, Providers};
use crate::request::Fields;
use crate::resources::{Resources, StartupError};
use crate::response::{json_response, Response};
use crate::routes::Function;

pub struct Token {
    providers: Providers,
    keeper: Arc<Keeper>,
}

/// The answer: a token fit for use now, and until when.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccessToken {
    pub access_token: String,
    pub token_type: String,
    /// `null` when the provider's tokens do not expire on a schedule (Notion's).
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub expires_at: Option<String>,
}

impl Handler for Token {
    const FUNCTION: Function = Function::Token;

    async fn build(resources: &Resources) -> Result<Self, StartupError> {
        Ok(Token {
            providers: resources.config.providers.clone(),
            keeper: resources.required_keeper().await?,
        })
    }
}

impl Serve for Token {
    async fn serve(&self, request: Request, context: &Context) -> Result<Response> {
        let provider = self.providers.get(&context.provider, Needs::CLIENT)?;
        let fields = Fields::from_request(&request).await?;
        let identity = fields.identity()?;
        let force = fields.flag("force_refresh")?;
        let id = keeper::connection_id(provider, &identity.org_id, &identity.user_id)?;
        let tokens = self
            .keeper
            .tokens(provider, &id, force, context.deadline)
            .await?
            .tokens;
        Ok(json_response(
            StatusCode::OK,
            &AccessToken {
                access_token: tokens.access_token,
                token_type: tokens.token_type,
                expires_at: tokens.expires_at.and_then(rfc3339),
            },
        ))
    }
}
