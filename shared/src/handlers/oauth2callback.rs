//! `GET /integrations/{provider}/oauth2callback`: the provider's redirect back.

use std::sync::Arc;

use http::StatusCode;
use lambda_http::Request;

use super::{Context, Handler, Serve};
use crate::config::CREDENTIALS_TTL;
use crate::error::{Error, Result};
use crate::keeper::{self, Keeper};
use crate::oauth::{self, Grant, StateRecord};
use crate::providers::{Needs, Providers};
use crate::request::Fields;
use crate::resources::{Resources, StartupError};
use crate::response::{callback_page, html_response, Response};
use crate::routes::Function;
use crate::sessions;
use crate::single_use::{credentials_key, state_key, SingleUse};

pub struct OAuth2Callback {
    providers: Providers,
    single_use: Arc<SingleUse>,
    http: reqwest::Client,
    /// Where connections are kept for good, when this deployment has a store for them.
    keeper: Option<Arc<Keeper>>,
}

impl Handler for OAuth2Callback {
    const FUNCTION: Function = Function::OAuth2Callback;

    async fn build(resources: &Resources) -> Result<Self, StartupError> {
        Ok(OAuth2Callback {
            providers: resources.config.providers.clone(),
            single_use: resources.single_use().await?,
            http: resources.http()?,
            keeper: resources.keeper().await?,
        })
    }
}

impl Serve for OAuth2Callback {
    /// Consumes the state (and the connect session that started it), exchanges the code, keeps the tokens for the one-time pick-up and,
    /// where connections are kept, saves the connection.
    async fn serve(&self, request: Request, context: &Context) -> Result<Response> {
        let provider = self.providers.get(&context.provider, Needs::CODE_GRANT)?;
        let query = Fields::of_query(&request)
            .map_err(|_| Error::InvalidCallback("The callback query is not valid UTF-8"))?;
        let text = |name: &str| query.present(name);
        let state = text("state").ok_or(Error::InvalidCallback("Missing state"))?;
        // Taken first, whatever else the query says: a state is spent by its first use.
        let record: Option<StateRecord> = self.single_use.take(&state_key(&state)).await?;
        if let Some(error) = text("error") {
            let reason = match text("error_description") {
                Some(description) => format!("{error}: {description}"),
                None => error,
            };
            return Err(Error::ProviderRejected {
                provider: provider.spec.display_name,
                reason,
            });
        }
        let record = record
            .filter(|record| record.provider == provider.name())
            .ok_or(Error::InvalidCallback("Unknown, expired or already used state"))?;
        let code = text("code").ok_or(Error::InvalidCallback("Missing code"))?;
        // A connect session serves one completed connect: spent here, before the exchange, so
        // that two consents started with it cannot both complete.
        if let Some(session) = &record.session {
            if !sessions::consume(&self.single_use, session).await? {
                return Err(Error::SessionInvalid);
            }
        }
        let grant = Grant::AuthorizationCode {
            code: &code,
            code_verifier: record.code_verifier.as_deref(),
        };
        let tokens = oauth::request_tokens(&self.http, provider, grant).await?;
        if let Some(keeper) = &self.keeper {
            let id = keeper::connection_id(provider, &record.org_id, &record.user_id)?;
            keeper.save(provider, &id, &tokens).await?;
        }
        let key = credentials_key(provider.name(), &record.org_id, &record.user_id);
        self.single_use.put(&key, &tokens, CREDENTIALS_TTL).await?;
        Ok(html_response(StatusCode::OK, &callback_page(None)))
    }
}
