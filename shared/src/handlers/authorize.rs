//! `POST /integrations/{provider}/authorize`: starts a consent.

use std::sync::Arc;

use http::StatusCode;
use lambda_http::Request;

use super::{Context, Handler, Serve};
use crate::config::STATE_TTL;
use crate::error::{Error, Result};
use crate::oauth::{self, StateRecord};
use crate::providers::{Needs, Providers};
use crate::request::{Fields, Identity};
use crate::resources::{Resources, StartupError};
use crate::response::{json_response, Response};
use crate::routes::Function;
use crate::sessions;
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
    /// A fresh single-use state bound to provider, user and org (the connect session's, when one
    /// authorises the call); 200 with the consent URL.
    async fn serve(&self, request: Request, context: &Context) -> Result<Response> {
        let provider = self.providers.get(&context.provider, Needs::CONSENT)?;
        let (identity, session) = match &context.session {
            None => (Fields::from_request(&request).await?.identity()?, None),
            Some(token) => {
                let (session, key) = sessions::open(&self.single_use, token, provider.name()).await?;
                let fields = match request.body().is_empty() {
                    true => None,
                    false => Some(Fields::from_request(&request).await?),
                };
                for (name, own) in [("user_id", &session.user_id), ("org_id", &session.org_id)] {
                    if fields
                        .as_ref()
                        .and_then(|fields| fields.text(name))
                        .is_some_and(|sent| &sent != own)
                    {
                        return Err(Error::SessionForbidden("connects its own user only".into()));
                    }
                }
                let identity = Identity {
                    user_id: session.user_id,
                    org_id: session.org_id,
                };
                (identity, Some(key))
            }
        };
        let authorization = oauth::authorize(provider)?;
        let record = StateRecord {
            provider: provider.name().to_owned(),
            user_id: identity.user_id,
            org_id: identity.org_id,
            code_verifier: authorization.code_verifier,
            session,
        };
        self.single_use
            .put(&state_key(&authorization.state), &record, STATE_TTL)
            .await?;
        Ok(json_response(StatusCode::OK, &authorization.url))
    }
}
