//! `POST /integrations/{provider}/load`: every item a token can see, in the common item shape.

use http::StatusCode;
use lambda_http::Request;

use super::{Context, Handler};
use crate::error::Result;
use crate::providers::{Needs, Providers};
use crate::request::Fields;
use crate::resources::{Resources, StartupError};
use crate::response::{json_response, Response};
use crate::routes::Function;
use crate::upstream::Api;

/// Needs only the providers' API settings and an HTTP client: no store, no client secrets.
pub struct Load {
    providers: Providers,
    http: reqwest::Client,
}

impl Handler for Load {
    const FUNCTION: Function = Function::Load;

    async fn build(resources: &Resources) -> Result<Self, StartupError> {
        Ok(Load {
            providers: resources.config.providers.clone(),
            http: resources.http()?,
        })
    }

    async fn serve(&self, request: Request, context: &Context) -> Result<Response> {
        let provider = self.providers.get(&context.provider, Needs::NOTHING)?;
        let token = Fields::from_request(&request).await?.access_token()?;
        let api = Api::new(&self.http, &provider.api_url, provider.spec.display_name, &token);
        let items = (provider.spec.list)(&api, provider).await?;
        Ok(json_response(StatusCode::OK, &items))
    }
}
