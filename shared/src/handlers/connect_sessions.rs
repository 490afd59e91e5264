//! `POST /connect/sessions`: a connect session for one user, for the app to hand its browser.

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use lambda_http::Request;

use super::{Context, Handler, Serve};
use crate::error::{Error, Result};
use crate::providers::{Needs, Providers};
use crate::request::{bounded, range_rule, Fields};
use crate::resources::{Resources, StartupError};
use crate::response::{json_response, Response};
use crate::routes::Function;
use crate::sessions::{self, DEFAULT_SESSION_SECS, MAX_SESSION_SECS};
use crate::single_use::SingleUse;

pub struct ConnectSessions {
    providers: Providers,
    single_use: Arc<SingleUse>,
}

impl Handler for ConnectSessions {
    const FUNCTION: Function = Function::ConnectSessions;

    async fn build(resources: &Resources) -> Result<Self, StartupError> {
        Ok(ConnectSessions {
            providers: resources.config.providers.clone(),
            single_use: resources.single_use().await?,
        })
    }
}

impl Serve for ConnectSessions {
    async fn serve(&self, request: Request, _: &Context) -> Result<Response> {
        let fields = Fields::from_request(&request).await?;
        let identity = fields.identity()?;
        let invalid = |name: &str, why: String| Error::InvalidField {
            name: name.into(),
            why,
        };
        let providers = fields.list("providers")?;
        for name in providers.iter().flatten() {
            self.providers
                .get(name, Needs::NOTHING)
                .map_err(|_| invalid("providers", format!("names an unknown provider '{name}'")))?;
        }
        let what = "a number of seconds";
        // Text or a number; anything else (an object, `null`) is no lifetime.
        if fields.has("expires_in") && fields.text("expires_in").is_none() {
            return Err(invalid("expires_in", range_rule(what, MAX_SESSION_SECS)));
        }
        let seconds = bounded(
            "expires_in",
            fields.present("expires_in").as_deref(),
            what,
            MAX_SESSION_SECS,
        )?
        .unwrap_or(DEFAULT_SESSION_SECS);
        let (org_id, user_id) = (identity.org_id, identity.user_id);
        let ttl = Duration::from_secs(seconds);
        let minted = sessions::mint(&self.single_use, org_id, user_id, providers, ttl).await?;
        Ok(json_response(StatusCode::CREATED, &minted))
    }
}
