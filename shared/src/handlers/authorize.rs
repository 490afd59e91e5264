//! `POST /integrations/{provider}/authorize`: starts a consent.

use std::sync::Arc;

use http::StatusCode;
use lambda_http::Request;

use super::{Context, Handler, Serve};
use crate::config::STATE_TTL;
use crate::error::Result;
use crate::oauth::{self, StateRecord};
use crate::providers::{Needs, Providers};
use crate::request::Fields;
use crate::resources::{Resources, StartupError};
use crate::response::{json_response, Response};
use crate::routes::Function;
use crate::single_use::{state_key, SingleUse};

pub struct Authorize {
    providers: Providers,
    single_use: Arc<SingleUse>,
}

impl Handler for Authorize {
    const FUNCTION: Function = Function::Authorize;

    async fn build(resources: &Resources) -> Result<Self, StartupError> {
        Ok(Authorize {
            providers: resources.config.providers.clone(),
            single_use: resources.single_use().await?,
        })
    }
}

impl Serve for Authorize {
    /// A fresh single-use state bound to provider, user and org; 200 with the consent URL.
    async fn serve(&self, request: Request, context: &Context) -> Result<Response> {
        let provider = self.providers.get(&context.provider, Needs::CONSENT)?;
        let identity = Fields::from_request(&request).await?.identity()?;
        let authorization = oauth::authorize(provider)?;
        let record = StateRecord {
            provider: provider.name().to_owned(),
            user_id: identity.user_id,
            org_id: identity.org_id,
            code_verifier: authorization.code_verifier,
        };
        self.single_use
            .put(&state_key(&authorization.state), &record, STATE_TTL)
            .await?;
        Ok(json_response(StatusCode::OK, &authorization.url))
    }
}
