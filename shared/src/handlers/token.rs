//! `POST /integrations/{provider}/token`: a connection's access token, refreshed first when due.

use std::sync::Arc;

use http::StatusCode;
use lambda_http::Request;
use serde_json::json;

use super::{Context, Handler};
use crate::error::{Error, Result};
use crate::keeper::{self, rfc3339, Keeper};
use crate::providers::{Needs, Providers};
use crate::request::Fields;
use crate::resources::{Resources, StartupError};
use crate::response::{json_response, Response};
use crate::routes::Function;

pub struct Token {
    providers: Providers,
    keeper: Arc<Keeper>,
}

impl Handler for Token {
    const FUNCTION: Function = Function::Token;

    async fn build(resources: &Resources) -> Result<Self, StartupError> {
        Ok(Token {
            providers: resources.config.providers.clone(),
            keeper: resources.required_keeper().await?,
        })
    }

    async fn serve(&self, request: Request, context: &Context) -> Result<Response> {
        let provider = self.providers.get(&context.provider, Needs::CLIENT)?;
        let fields = Fields::from_request(&request).await?;
        let identity = fields.identity()?;
        let force = match fields.text("force_refresh").as_deref() {
            None | Some("" | "false" | "0") => false,
            Some("true" | "1") => true,
            Some(_) => return Err(Error::Unprocessable("force_refresh must be true or false".into())),
        };
        let id = keeper::id(provider, &identity.org_id, &identity.user_id)?;
        let tokens = self
            .keeper
            .tokens(provider, &id, force, context.deadline)
            .await?
            .tokens;
        Ok(json_response(
            StatusCode::OK,
            &json!({
                "access_token": tokens.access_token,
                "token_type": tokens.token_type,
                "expires_at": tokens.expires_at.and_then(rfc3339),
            }),
        ))
    }
}
