//! `POST /integrations/{provider}/load`: every item a token can see, in the common item shape.

use std::sync::Arc;

use http::StatusCode;
use lambda_http::Request;

use super::{Context, Handler, Serve};
use crate::error::{Error, Result};
use crate::item::Item;
use crate::keeper::{self, Keeper};
use crate::providers::Provider;
use crate::providers::{Needs, Providers};
use crate::request::Fields;
use crate::resources::{Resources, StartupError};
use crate::response::{json_response, Response};
use crate::routes::Function;

/// A load by `credentials` needs only the providers' API settings and an HTTP client; a load by
/// `user_id` and `org_id` also needs the connections store.
pub struct Load {
    providers: Providers,
    http: reqwest::Client,
    keeper: Option<Arc<Keeper>>,
}

impl Handler for Load {
    const FUNCTION: Function = Function::Load;

    async fn build(resources: &Resources) -> Result<Self, StartupError> {
        Ok(Load {
            providers: resources.config.providers.clone(),
            http: resources.http()?,
            keeper: resources.keeper().await?,
        })
    }
}

impl Serve for Load {
    async fn serve(&self, request: Request, context: &Context) -> Result<Response> {
        let fields = Fields::from_request(&request).await?;
        if fields.has("credentials") {
            let provider = self.providers.get(&context.provider, Needs::API)?;
            let items = self.list(provider, &fields.access_token()?).await?;
            return Ok(json_response(StatusCode::OK, &items));
        }
        if !fields.has("user_id") && !fields.has("org_id") {
            return Err(Error::MissingField(
                "credentials (or user_id and org_id of a kept connection)",
            ));
        }
        // By connection: the stored tokens, refreshed when due; refreshed once more (and the
        // listing retried once) when the provider refuses a token this call did not just get.
        let provider = self.providers.get(&context.provider, Needs::CLIENT)?;
        let identity = fields.identity()?;
        let keeper = self.keeper.as_ref().ok_or(Error::NoConnectionStore {
            hint: "Loading by user_id and org_id needs the connections store: set CONNECTIONS_TABLE, \
                   or send the credentials",
        })?;
        let id = keeper::connection_id(provider, &identity.org_id, &identity.user_id)?;
        let mut fresh = keeper.tokens(provider, &id, false, context.deadline).await?;
        if !fresh.refreshed {
            match self.list(provider, &fresh.tokens.access_token).await {
                Err(Error::ProviderUnauthorized { .. }) => {
                    fresh = keeper.tokens(provider, &id, true, context.deadline).await?;
                }
                other => return Ok(json_response(StatusCode::OK, &other?)),
            }
        }
        // Tokens the provider has just issued: refused now, the grant itself is dead.
        let items = match self.list(provider, &fresh.tokens.access_token).await {
            Err(Error::ProviderUnauthorized { reason, .. }) => {
                keeper.refused_fresh_tokens(&id, fresh.version).await?;
                return Err(Error::NeedsReauthorization {
                    provider: provider.spec.display_name,
                    reason: Some(format!("the provider refused a fresh token ({reason})")),
                });
            }
            other => other?,
        };
        Ok(json_response(StatusCode::OK, &items))
    }
}

impl Load {
    async fn list(&self, provider: &Provider, token: &str) -> Result<Vec<Item>> {
        let api = provider.api(&self.http, token);
        (provider.spec.list)(&api, provider).await
    }
}
