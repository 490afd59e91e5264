//! The four endpoints, as plain async functions over [`App`] and a `lambda_http::Request`.
//!
//! [`handle`] is what every entry point (a Lambda function, `local-api`, a test) calls: it checks
//! access, enforces the deadline, turns every [`Error`] into its response, and logs one line.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::Method;
use lambda_http::{Request, RequestExt};

use crate::access;
use crate::app::App;
use crate::config::{CREDENTIALS_TTL, STATE_TTL};
use crate::error::{Error, Result};
use crate::http::{callback_page, html_response, json_response, Fields, Response};
use crate::oauth::{self, StateRecord};
use crate::providers::Provider;
use crate::store::{credentials_key, state_key};
use crate::upstream::Api;

/// Time kept back from the Lambda deadline to send the 504 before the function is stopped.
const DEADLINE_MARGIN: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Authorize,
    OAuth2Callback,
    Credentials,
    Load,
}

impl Endpoint {
    pub const ALL: [Endpoint; 4] = [
        Endpoint::Authorize,
        Endpoint::OAuth2Callback,
        Endpoint::Credentials,
        Endpoint::Load,
    ];

    /// The last segment of `/integrations/{provider}/...`.
    pub fn path_segment(self) -> &'static str {
        match self {
            Endpoint::Authorize => "authorize",
            Endpoint::OAuth2Callback => "oauth2callback",
            Endpoint::Credentials => "credentials",
            Endpoint::Load => "load",
        }
    }

    pub fn method(self) -> Method {
        match self {
            Endpoint::OAuth2Callback => Method::GET,
            _ => Method::POST,
        }
    }
}

pub async fn handle(app: &App, endpoint: Endpoint, request: Request) -> Response {
    let started = Instant::now();
    let request_id = request_id(&request);
    let provider = request
        .path_parameters_ref()
        .and_then(|parameters| parameters.first("provider"))
        .unwrap_or_default()
        .to_owned();
    // Only the origin outlives the request (the response's CORS headers depend on it).
    let origin = request.headers().get(http::header::ORIGIN).cloned();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let mut failure = None;
    let mut response = if method == Method::OPTIONS {
        access::preflight(&app.config, origin.as_ref())
    } else {
        let deadline = deadline(&request);
        let work = serve(app, endpoint, &provider, request);
        let result = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline.into(), work)
                .await
                .unwrap_or(Err(Error::DeadlineExceeded)),
            None => work.await,
        };
        result.unwrap_or_else(|error| {
            failure = Some(error.to_string());
            match endpoint {
                Endpoint::OAuth2Callback => error.into_html_response(),
                _ => error.into_json_response(),
            }
        })
    };
    access::add_cors_headers(&app.config, origin.as_ref(), &mut response);
    let status = response.status().as_u16();
    let latency_ms = started.elapsed().as_millis() as u64;
    if response.status().is_server_error() {
        tracing::error!(request_id, %method, path, provider, status, latency_ms, error = failure, "request");
    } else {
        tracing::info!(request_id, %method, path, provider, status, latency_ms, error = failure, "request");
    }
    response
}

async fn serve(app: &App, endpoint: Endpoint, provider: &str, request: Request) -> Result<Response> {
    // The callback is reached by the user's browser from the provider: its guard is the single-use state.
    if endpoint != Endpoint::OAuth2Callback {
        access::check_api_key(&app.config, request.headers())?;
    }
    let provider = app
        .config
        .provider(provider)
        .ok_or_else(|| Error::UnknownProvider(provider.chars().take(64).collect()))?;
    let missing = provider.missing_settings(app.config.redirect_uri_required);
    if !missing.is_empty() {
        return Err(Error::ProviderNotConfigured {
            provider: provider.spec.display_name,
            missing,
        });
    }
    match endpoint {
        Endpoint::Authorize => authorize(app, provider, Fields::from_request(&request).await?).await,
        Endpoint::OAuth2Callback => {
            let query = Fields::from_query(request.uri().query().unwrap_or_default().as_bytes())
                .map_err(|_| Error::BadRequest("The callback query is not valid UTF-8".into()))?;
            oauth2callback(app, provider, query).await
        }
        Endpoint::Credentials => credentials(app, provider, Fields::from_request(&request).await?).await,
        Endpoint::Load => load(app, provider, Fields::from_request(&request).await?).await,
    }
}

/// Starts a consent: a fresh single-use state bound to provider, user and org; 200 with the URL.
pub async fn authorize(app: &App, provider: &Provider, fields: Fields) -> Result<Response> {
    let identity = fields.identity()?;
    let authorization = oauth::authorize(provider)?;
    let record = StateRecord {
        provider: provider.name().to_owned(),
        user_id: identity.user_id,
        org_id: identity.org_id,
        code_verifier: authorization.code_verifier,
    };
    app.store
        .put(&state_key(&authorization.state), &record, STATE_TTL)
        .await?;
    Ok(json_response(http::StatusCode::OK, &authorization.url))
}

/// The provider's redirect: consumes the state, exchanges the code, keeps the tokens for pick-up.
pub async fn oauth2callback(app: &App, provider: &Provider, query: Fields) -> Result<Response> {
    let text = |name: &str| query.text(name).filter(|value| !value.is_empty());
    let state = text("state").ok_or_else(|| Error::BadRequest("Missing state".into()))?;
    // Taken first, whatever else the query says: a state is spent by its first use.
    let record: Option<StateRecord> = app.store.take(&state_key(&state)).await?;
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
        .ok_or_else(|| Error::BadRequest("Unknown, expired or already used state".into()))?;
    let code = text("code").ok_or_else(|| Error::BadRequest("Missing code".into()))?;
    let tokens = oauth::exchange_code(&app.http, provider, &code, record.code_verifier.as_deref()).await?;
    let key = credentials_key(provider.name(), &record.org_id, &record.user_id);
    app.store.put(&key, &tokens, CREDENTIALS_TTL).await?;
    Ok(html_response(http::StatusCode::OK, &callback_page(None)))
}

/// Hands the stored token response over once.
pub async fn credentials(app: &App, provider: &Provider, fields: Fields) -> Result<Response> {
    let identity = fields.identity()?;
    let key = credentials_key(provider.name(), &identity.org_id, &identity.user_id);
    let tokens: oauth::TokenResponse = app.store.take(&key).await?.ok_or_else(|| {
        Error::NotFound(
            "No credentials found: connect first (they are kept 10 minutes and handed out once)".into(),
        )
    })?;
    Ok(json_response(http::StatusCode::OK, &tokens))
}

/// Lists every item the credentials can see, in the common item shape.
pub async fn load(app: &App, provider: &Provider, fields: Fields) -> Result<Response> {
    let token = fields.access_token()?;
    let api = Api::new(&app.http, provider, &token);
    let items = (provider.spec.list)(&api).await?;
    Ok(json_response(http::StatusCode::OK, &items))
}

fn request_id(request: &Request) -> String {
    request
        .lambda_context_ref()
        .map(|context| context.request_id.clone())
        .filter(|id| !id.is_empty())
        .or_else(|| {
            request
                .headers()
                .get("x-request-id")
                .and_then(|value| value.to_str().ok())
                .map(|value| value.chars().take(64).collect())
        })
        .unwrap_or_else(|| format!("{:016x}", rand::random::<u64>()))
}

/// When the invocation must have answered: the Lambda deadline less a margin.
fn deadline(request: &Request) -> Option<Instant> {
    let deadline_ms = request.lambda_context_ref()?.deadline;
    if deadline_ms == 0 {
        return None;
    }
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_millis() as u64;
    let remaining = Duration::from_millis(deadline_ms.saturating_sub(now_ms)).saturating_sub(DEADLINE_MARGIN);
    Some(Instant::now() + remaining)
}
