//! `POST /connect/sessions`: a connect session for one user, for the app to hand its browser.

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use lambda_http::Request;
use serde::Serialize;

use super::{Context, Handler, Serve};
use crate::clock;
use crate::clock::rfc3339;
use crate::error::{Error, Result};
use crate::providers::{Needs, Providers};
use crate::request::Fields;
use crate::resources::{Resources, StartupError};
use crate::response::{json_response, Response};
use crate::routes::Function;
use crate::sessions::{self, Session, DEFAULT_SESSION_SECS, MAX_SESSION_SECS};
use crate::single_use::SingleUse;

/// The session's token, shown once, and when it expires.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionMinted {
    pub token: String,
    pub expires_at: Option<String>,
}

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
        let seconds_rule = || format!("must be a number of seconds from 1 to {MAX_SESSION_SECS}");
        if fields.has("expires_in") && fields.text("expires_in").is_none() {
            return Err(invalid("expires_in", seconds_rule()));
        }
        let seconds = match fields.present("expires_in") {
            None => DEFAULT_SESSION_SECS,
            Some(text) => text
                .parse()
                .ok()
                .filter(|seconds| (1..=MAX_SESSION_SECS).contains(seconds))
                .ok_or_else(|| invalid("expires_in", seconds_rule()))?,
        };
        let expires_at = clock::now() + seconds as i64;
        let session = Session {
            org_id: identity.org_id,
            user_id: identity.user_id,
            providers,
            expires_at,
        };
        let token = sessions::mint(&self.single_use, &session, Duration::from_secs(seconds)).await?;
        let minted = SessionMinted {
            token,
            expires_at: rfc3339(expires_at),
        };
        Ok(json_response(StatusCode::CREATED, &minted))
    }
}
