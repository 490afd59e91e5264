//! The demo page at `/`: HTML, CSS and a little JavaScript, embedded, with no build step. It drives
//! the public API as any browser app would; only `/demo/providers` and `/demo/session` are its own.

use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Response, StatusCode};
use http_body_util::Full;
use integrations::providers::{Needs, Providers};
use integrations::response::{self, ErrorFormat};
use integrations::sessions::{self, SessionMinted};
use integrations::single_use::SingleUse;
use integrations::Error;
use serde_json::json;

/// The one user the demo page connects, in its one org: the ids `index.html` shows.
pub const DEMO_USER: &str = "demo-user";
pub const DEMO_ORG: &str = "demo-org";
/// How long a session `/demo/session` mints lasts: one click on Connect needs seconds.
pub const DEMO_SESSION: Duration = Duration::from_secs(600);
/// local-api's own route the demo page gets a connect session from.
pub const SESSION_PATH: &str = "/demo/session";

/// Scripts and styles from our own files only, calls to our own API only, never framed.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                      img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The demo's answer to `GET path`, if the path is one of its own.
pub fn serve(method: &Method, path: &str, providers: &Providers) -> Option<Response<Full<Bytes>>> {
    if method != Method::GET {
        return None;
    }
    let (content_type, body) = match path {
        "/" => ("text/html; charset=utf-8", include_str!("index.html").into()),
        "/demo.js" => ("text/javascript; charset=utf-8", include_str!("demo.js").into()),
        "/demo.css" => ("text/css; charset=utf-8", include_str!("demo.css").into()),
        "/demo/providers" => ("application/json", Bytes::from(states(providers).to_string())),
        _ => return None,
    };
    Some(crate::page_file(content_type, POLICY, body))
}

/// `POST /demo/session?provider=<name>`: a connect session for [`DEMO_USER`] in [`DEMO_ORG`] that
/// allows `provider` alone, for ten minutes, in the process's single-use store; 201 `{"token",
/// "expires_at"}` as `POST /connect/sessions` answers, 404 `{"detail"}` for an unknown provider
/// (422 without one, 405 for another method). The page sends the token as the bearer of its one
/// authorize call, so that it connects through a session even under `API_KEYS`, holding no key.
///
/// Safe only because it is local-api's, on a developer's machine: it mints without an API key,
/// for anyone who can reach the port, but only for one fixed demo user, never for an id the
/// caller names, and it sends no CORS headers, so no other origin's page can read the token
/// (DNS rebinding aside, which nothing in local-api defends against). It is no route of the integrations table: no Lambda serves it and a deployment has no such route;
/// there the app mints sessions for its own users with its key (`POST /connect/sessions`).
pub async fn session(
    method: &Method,
    query: Option<&str>,
    providers: &Providers,
    single_use: &SingleUse,
) -> Response<Full<Bytes>> {
    let minted = match mint(method, query, providers, single_use).await {
        Ok(minted) => minted,
        Err(error) => {
            let mut response = crate::into_hyper(response::error(&error, ErrorFormat::Json));
            if matches!(error, Error::MethodNotAllowed) {
                response
                    .headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("POST"));
            }
            return response;
        }
    };
    let mut response = crate::into_hyper(response::json_response(StatusCode::CREATED, &minted));
    // A credential, if a short-lived one: never kept by a cache.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn mint(
    method: &Method,
    query: Option<&str>,
    providers: &Providers,
    single_use: &SingleUse,
) -> Result<SessionMinted, Error> {
    if method != Method::POST {
        return Err(Error::MethodNotAllowed);
    }
    let name = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(name, _)| name == "provider")
        .map(|(_, value)| value.into_owned())
        .filter(|name| !name.is_empty())
        .ok_or(Error::MissingField("provider"))?;
    let provider = providers.get(&name, Needs::NOTHING)?;
    let allowed = Some(vec![provider.name().to_owned()]);
    sessions::mint(
        single_use,
        DEMO_ORG.to_owned(),
        DEMO_USER.to_owned(),
        allowed,
        DEMO_SESSION,
    )
    .await
}

/// Each provider, and whether it can connect someone now or which variables it still needs.
fn states(providers: &Providers) -> serde_json::Value {
    providers
        .iter()
        .map(|provider| {
            let missing = match providers.get(provider.name(), Needs::CODE_GRANT) {
                Err(Error::ProviderNotConfigured { missing, .. }) => missing,
                _ => Vec::new(),
            };
            json!({
                "name": provider.name(),
                "display_name": provider.spec.display_name,
                "ready": missing.is_empty(),
                "missing": missing,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_shows_the_user_and_org_the_sessions_are_for() {
        let html = include_str!("index.html");
        for (id, value) in [("user-id", DEMO_USER), ("org-id", DEMO_ORG)] {
            assert!(
                html.contains(&format!("id=\"{id}\" value=\"{value}\" readonly")),
                "#{id} is not {value}, fixed"
            );
        }
    }
}
